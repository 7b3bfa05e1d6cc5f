//! `balance random`: HAProxy's `random(2)`, the power of two choices. Two candidates are drawn
//! at random in proportion to their weights and the less loaded of the two wins: in-flight
//! requests on this shard per unit of weight, compared as HAProxy does (`served * weight`, with
//! no `+ 1`), the first drawn on a tie. Idle servers therefore tie and the weighted draw alone
//! decides (with the leastconn key, `inflight + 1`, an idle 1:3 pair split 6:94 instead). It
//! steers away from a slow server without the herd effect of picking the global minimum from
//! every shard.

use super::{current_weight, Candidates, PickContext, Select};

#[derive(Debug)]
pub struct PowerOfTwo {
    rng: WyRand,
}

impl PowerOfTwo {
    pub fn new(seed: u64) -> PowerOfTwo {
        PowerOfTwo { rng: WyRand(seed) }
    }

    /// Two candidates drawn in proportion to their weights (possibly the same one), found in a
    /// single walk over the weights; `total` is the candidates' total weight.
    fn draw_two(&mut self, candidates: &Candidates<'_>, total: u64) -> Option<(usize, usize)> {
        let tickets = [self.rng.below(total), self.rng.below(total)];
        let mut drawn = [None, None];
        let mut passed = 0;
        for (position, server) in candidates.iter() {
            passed += current_weight(server);
            for (ticket, slot) in tickets.iter().zip(&mut drawn) {
                if slot.is_none() && *ticket < passed {
                    *slot = Some(position);
                }
            }
            if drawn[1].is_some() && drawn[0].is_some() {
                break;
            }
        }
        Some((drawn[0]?, drawn[1]?))
    }
}

impl Select for PowerOfTwo {
    fn pick(&mut self, candidates: &Candidates<'_>, ctx: &PickContext<'_>) -> Option<usize> {
        let total = candidates.total_weight(current_weight);
        if total == 0 {
            return None;
        }
        let (first, second) = self.draw_two(candidates, total)?;
        let servers = candidates.servers();
        // inflight(second) / w(second) < inflight(first) / w(first), cross-multiplied.
        let cross = |a: usize, b: usize| {
            u128::from((ctx.inflight)(a)) * u128::from(current_weight(&servers[b]))
        };
        if cross(second, first) < cross(first, second) {
            Some(second)
        } else {
            Some(first)
        }
    }
}

/// wyrand: a tiny, fast generator with good statistical quality; not for secrets.
#[derive(Debug, Clone)]
struct WyRand(u64);

impl WyRand {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A number in `0..bound` (bound > 0) by Lemire's multiply-shift; the bias is at most
    /// bound / 2^64, far below anything a load balancer could notice.
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}
