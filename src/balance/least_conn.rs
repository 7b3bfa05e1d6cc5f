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
        let count = candidates.servers().len();
        // Distance from the cursor, wrapping: the tie-break order.
        let turn = |position: usize| (position + count - self.cursor % count) % count;
        let mut best: Option<(usize, (u64, u64))> = None;
        for (position, server) in candidates.iter() {
            let load = ((ctx.inflight)(position), current_weight(server));
            let better = match best {
                None => true,
                Some((b, best_load)) => {
                    less_loaded(load, best_load)
                        || (!less_loaded(best_load, load) && turn(position) < turn(b))
                }
            };
            if better {
                best = Some((position, load));
            }
        }
        let (best, _) = best?;
        self.cursor = best + 1;
        Some(best)
    }
}
