//! Server selection. One [`Balancer`] per backend per shard holds the algorithm's per-shard
//! scratch (smooth weighted round-robin's current weights, a cursor, a random generator); the
//! servers, their states and weights come from `state` at each pick, so a mutation acts on the
//! very next pick. One small file per algorithm.
//!
//! # Shape
//! - [`Balancer::pick`] narrows the backend to its [`Candidates`] (the servers
//!   [`Backend::eligible`] allows: usable actives, else the first usable backup or all of them
//!   with `option allbackups`; minus the server to avoid when another one is left), then asks the
//!   backend's [`Select`] implementation to choose among them.
//! - Each algorithm is one file implementing [`Select`]: `round_robin` (smooth weighted
//!   round-robin, dynamic weights), `static_rr`, `least_conn`, `first`, `source`, `random`
//!   (power of two choices). Adding one means a new file and one arm in `selector_for`.
//! - [`by_cookie`] finds the server a persistence cookie names; it runs before any pick, and
//!   accepts DRAIN servers, which keep their cookie clients.
//!
//! # Costs
//! Picks run on the request path: no allocation (scratch is only resized when the server list
//! itself changes), no locks, a few passes over the server list at most. Algorithms read
//! weights and states from the [`Backend`] at each pick, and key any per-server scratch by
//! server id, so a `set weight`, a state change, `add server` or `del server` between two picks
//! is honoured by the second one.
//!
//! # For the caller
//! - Try [`by_cookie`] first when the request carries the backend's cookie; pick only when it
//!   gives nothing.
//! - `inflight` is asked by position at pick time, so a shard may keep its counters by server
//!   id and look the id up in `backend.servers[i]`.
//! - `maxconn` (for `first`) is compared with this shard's count: with N shards a server may
//!   see up to N × maxconn unless the caller passes a scaled count.

mod candidates;
mod cookie;
mod first;
mod least_conn;
mod random;
mod round_robin;
mod source;
mod static_rr;
#[cfg(test)]
mod tests;

pub use candidates::Candidates;
pub use cookie::by_cookie;

use crate::config::Algorithm;
use crate::state::{Backend, Server};
use std::fmt;
use std::net::IpAddr;

/// What a pick may know about the request and the shard's traffic.
pub struct PickContext<'a> {
    /// The client's address, hashed by `source`. `None` (a unix socket client) makes `source`
    /// fall back to round-robin, as HAProxy does.
    pub client_ip: Option<IpAddr>,
    /// Requests in flight on this shard to the server at position `i` of `backend.servers`
    /// (leastconn, random, first).
    pub inflight: &'a dyn Fn(usize) -> u64,
    /// Server id to avoid (redispatch after a failure on it), honoured when another server is
    /// usable at the same level (active, or backup when no active is usable).
    pub avoid: Option<u32>,
}

impl<'a> PickContext<'a> {
    /// A context with only the in-flight counts, no client address, nothing to avoid.
    pub fn new(inflight: &'a dyn Fn(usize) -> u64) -> PickContext<'a> {
        PickContext {
            client_ip: None,
            inflight,
            avoid: None,
        }
    }

    /// A context for callers that do not track in-flight requests (every count is 0).
    pub fn idle() -> PickContext<'static> {
        PickContext::new(&no_inflight)
    }
}

fn no_inflight(_position: usize) -> u64 {
    0
}

/// One selection algorithm: chooses a position among the candidates. Implementations keep
/// their scratch in `self` and must not allocate except when the server list changes.
pub trait Select {
    /// A position admitted by `candidates`, or `None` when there is none.
    fn pick(&mut self, candidates: &Candidates<'_>, ctx: &PickContext<'_>) -> Option<usize>;
}

/// The per-shard, per-backend selection state.
pub struct Balancer {
    algorithm: Algorithm,
    selector: Box<dyn Select>,
}

impl Balancer {
    /// A balancer whose random choices are seeded from the process's random hasher keys, so
    /// two shards do not make the same draws.
    pub fn new(algorithm: Algorithm) -> Balancer {
        Balancer::with_seed(algorithm, random_seed())
    }

    /// A balancer with a fixed seed for its random choices (tests, benchmarks).
    pub fn with_seed(algorithm: Algorithm, seed: u64) -> Balancer {
        Balancer {
            algorithm,
            selector: selector_for(algorithm, seed),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Picks a server position in `backend.servers` for a new request (one without a
    /// persistence cookie that [`by_cookie`] honoured), or `None` when no server is usable.
    pub fn pick(&mut self, backend: &Backend, ctx: &PickContext<'_>) -> Option<usize> {
        let candidates = Candidates::new(backend, ctx.avoid)?;
        let picked = self.selector.pick(&candidates, ctx);
        debug_assert!(picked.is_none_or(|p| candidates.admits(p)));
        picked
    }
}

impl fmt::Debug for Balancer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Balancer")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The one place that maps an algorithm to its implementation.
fn selector_for(algorithm: Algorithm, seed: u64) -> Box<dyn Select> {
    match algorithm {
        Algorithm::RoundRobin => Box::new(round_robin::SmoothWeighted::default()),
        Algorithm::StaticRr => Box::new(static_rr::StaticRoundRobin::default()),
        Algorithm::LeastConn => Box::new(least_conn::LeastConn::default()),
        Algorithm::First => Box::new(first::First),
        Algorithm::Source => Box::new(source::SourceHash::default()),
        Algorithm::Random => Box::new(random::PowerOfTwo::new(seed)),
    }
}

/// A fresh random u64 without I/O on the request path: std seeds its hasher keys from the OS
/// once per thread and varies them per `RandomState`.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// The weight `roundrobin`, `leastconn`, `source` and `random` use: the current one, so a
/// `set weight` acts on the next pick, scaled down while the server slow-starts.
fn current_weight(server: &Server) -> u64 {
    u64::from(server.effective_weight())
}

/// True when `a` is less loaded than `b` for its weight: HAProxy's leastconn key,
/// `(inflight + 1) / weight`, compared by cross-multiplying to stay in integers. The `+ 1`
/// makes weights count even when every server is idle. In u128 a product is one `mul` and
/// cannot overflow.
fn less_loaded(a: (u64, u64), b: (u64, u64)) -> bool {
    let ((a_inflight, a_weight), (b_inflight, b_weight)) = (a, b);
    (u128::from(a_inflight) + 1) * u128::from(b_weight)
        < (u128::from(b_inflight) + 1) * u128::from(a_weight)
}
