//! `balance first`: the candidate with the lowest id that still has room under its `maxconn`
//! (in-flight requests on this shard); a server without `maxconn` always has room, so the first
//! usable one takes everything. This packs traffic onto as few servers as possible.
//!
//! When every candidate is full HAProxy would queue; there is no queue here, so the request
//! goes to the candidate with the most room for its size (least loaded by `maxconn`) rather
//! than piling onto the first one.

use super::{less_loaded, Candidates, PickContext, Select};

#[derive(Debug, Default)]
pub struct First;

impl First {
    /// `maxconn 0` means no limit, as in HAProxy.
    fn has_room(inflight: u64, maxconn: Option<u32>) -> bool {
        maxconn.is_none_or(|max| max == 0 || inflight < u64::from(max))
    }
}

impl Select for First {
    fn pick(&mut self, candidates: &Candidates<'_>, ctx: &PickContext<'_>) -> Option<usize> {
        let mut lowest_with_room: Option<(usize, u32)> = None;
        let mut least_full: Option<(usize, (u64, u64))> = None;
        for (position, server) in candidates.iter() {
            let inflight = (ctx.inflight)(position);
            if Self::has_room(inflight, server.maxconn) {
                if lowest_with_room.is_none_or(|(_, id)| server.id < id) {
                    lowest_with_room = Some((position, server.id));
                }
            } else if lowest_with_room.is_none() {
                // Full, so it has a maxconn of at least 1.
                let load = (inflight, u64::from(server.maxconn.unwrap_or(1)));
                if least_full.is_none_or(|(_, l)| less_loaded(load, l)) {
                    least_full = Some((position, load));
                }
            }
        }
        lowest_with_room
            .map(|(position, _)| position)
            .or(least_full.map(|(position, _)| position))
    }
}
