//! `balance leastconn`: the candidate with the fewest requests in flight on this shard for its
//! weight (HAProxy's `(inflight + 1) / weight`). Ties go round-robin: the scan prefers the first
//! tied server at or after the one following the last pick, so idle servers share evenly.

use super::{current_weight, less_loaded, Candidates, PickContext, Select};

#[derive(Debug, Default)]
pub struct LeastConn {
    /// Position after the last pick: where tie-breaking starts.
    cursor: usize,
}

impl Select for LeastConn {
    fn pick(&mut self, candidates: &Candidates<'_>, ctx: &PickContext<'_>) -> Option<usize> {
        let mut best: Option<(usize, (u64, u64))> = None;
        // Scanning from the cursor, the first of several tied servers wins.
        let count = candidates.servers().len();
        for range in [self.cursor..count, 0..self.cursor] {
            for (position, server) in candidates.in_range(range) {
                let load = ((ctx.inflight)(position), current_weight(server));
                if best.is_none_or(|(_, best_load)| less_loaded(load, best_load)) {
                    best = Some((position, load));
                }
            }
        }
        let (best, _) = best?;
        self.cursor = best + 1;
        Some(best)
    }
}
