//! `balance source`: a hash of the client's IP address, mapped over the candidates by weight
//! (HAProxy's default map-based hashing: `hash % total weight` walks the weights). The same
//! client lands on the same server as long as the set of candidates and their weights do not
//! change; when they do, clients are reshuffled, as with HAProxy's `hash-type map-based`.
//! Clients without an IP address (unix sockets) are balanced round-robin, as in HAProxy.

use super::round_robin::SmoothWeighted;
use super::{current_weight, Candidates, PickContext, Select};
use std::net::IpAddr;

#[derive(Debug, Default)]
pub struct SourceHash {
    /// For clients without an IP address.
    fallback: SmoothWeighted,
}

impl Select for SourceHash {
    fn pick(&mut self, candidates: &Candidates<'_>, ctx: &PickContext<'_>) -> Option<usize> {
        let Some(ip) = ctx.client_ip else {
            return self.fallback.pick(candidates, ctx);
        };
        let total = candidates.total_weight(current_weight);
        if total == 0 {
            return None;
        }
        candidates.at_weight(hash_ip(ip) % total, current_weight)
    }
}

/// A well-mixed 64-bit hash of the address, so that `% total` is even for small totals and
/// neighbouring addresses (10.0.0.1, 10.0.0.2) land far apart.
pub(super) fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix(u64::from(u32::from(v4))),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            mix((bits >> 64) as u64 ^ mix(bits as u64))
        }
    }
}

/// splitmix64's finalizer: every input bit flips about half of the output bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
