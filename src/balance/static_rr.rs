//! `balance static-rr`: interleaved weighted round-robin. A cursor sweeps the servers by
//! position; in round `r` (0-based) a sweep takes every candidate whose weight exceeds `r`, and
//! rounds restart after the highest weight. Weights 1:3 give A B B B. No per-server scratch, so
//! added or removed servers simply join or leave the sweep.
//!
//! HAProxy calls this algorithm static because it refuses weight changes other than 0% and
//! 100% on it (the admin side's concern); the balancer reads whatever weight the state holds,
//! which keeps weight 0 and restores working like every other algorithm.

use super::{current_weight, Candidates, PickContext, Select};

#[derive(Debug, Default)]
pub struct StaticRoundRobin {
    /// Position the sweep looks at next.
    cursor: usize,
    /// Current round: servers with weight > round take a turn in this sweep.
    round: u64,
}

impl StaticRoundRobin {
    /// The round after the current one, back to 0 once no candidate's weight reaches it.
    fn next_round(&self, candidates: &Candidates<'_>) -> u64 {
        let highest = candidates
            .iter()
            .map(|(_, s)| current_weight(s))
            .max()
            .unwrap_or(0);
        if self.round + 1 < highest {
            self.round + 1
        } else {
            0
        }
    }
}

impl Select for StaticRoundRobin {
    fn pick(&mut self, candidates: &Candidates<'_>, _ctx: &PickContext<'_>) -> Option<usize> {
        let servers = candidates.servers();
        // The rest of this sweep, then one whole sweep of a round some candidate reaches.
        for _ in 0..=2 * servers.len() {
            if self.cursor >= servers.len() {
                self.cursor = 0;
                self.round = self.next_round(candidates);
            }
            let position = self.cursor;
            self.cursor += 1;
            if candidates.admits(position) && current_weight(&servers[position]) > self.round {
                return Some(position);
            }
        }
        None
    }
}
