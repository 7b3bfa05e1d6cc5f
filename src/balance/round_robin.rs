//! `balance roundrobin`: nginx's smooth weighted round-robin with dynamic weights. Each pick adds
//! every candidate's current weight to its running score, takes the highest score and takes the
//! total back from it. Weights 1:3 give B A B B rather than A B B B, and a `set weight` acts on
//! the very next pick because weights are read from the state each time.

use super::{current_weight, Candidates, PickContext, Select};
use crate::state::Server;

/// Running score of one server, tied to its id so scores survive `add server` / `del server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Score {
    id: u32,
    current: i64,
}

/// Scores aligned by position with `backend.servers`.
#[derive(Debug, Default)]
pub struct SmoothWeighted {
    scores: Vec<Score>,
}

impl SmoothWeighted {
    /// Re-aligns scores with the server list when servers were added or removed since the last
    /// pick; a server keeps its score, a new one starts at 0. Allocates only on such a change.
    fn align(&mut self, servers: &[Server]) {
        let aligned = self.scores.len() == servers.len()
            && self.scores.iter().zip(servers).all(|(sc, s)| sc.id == s.id);
        if aligned {
            return;
        }
        let mut old = std::mem::take(&mut self.scores);
        old.sort_unstable_by_key(|sc| sc.id);
        self.scores = servers
            .iter()
            .map(|s| Score {
                id: s.id,
                current: old
                    .binary_search_by_key(&s.id, |sc| sc.id)
                    .map_or(0, |i| old[i].current),
            })
            .collect();
    }
}

impl Select for SmoothWeighted {
    fn pick(&mut self, candidates: &Candidates<'_>, _ctx: &PickContext<'_>) -> Option<usize> {
        self.align(candidates.servers());
        let mut total = 0i64;
        let mut best: Option<(usize, i64)> = None;
        for (position, server) in candidates.iter() {
            let weight = current_weight(server) as i64;
            let score = &mut self.scores[position].current;
            *score += weight;
            total += weight;
            if best.is_none_or(|(_, highest)| *score > highest) {
                best = Some((position, *score));
            }
        }
        let (best, _) = best?;
        self.scores[best].current -= total;
        Some(best)
    }
}
