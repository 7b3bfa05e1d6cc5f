//! Messages between the coordinator (shard 0) and the other shards over glommio's channel
//! meshes. Two meshes, one per direction (a single mesh for both deadlocked in a probe, see the
//! design notes), plus one for events the shards report (health check results, [`crate::health::CheckReport`]).

use crate::state::{Mutation, ServerRef};
use crate::stats::latency::LatencySnapshot;
use crate::stats::StatsSnapshot;

/// Coordinator ─▶ shard.
#[derive(Debug)]
pub enum ToShard {
    /// Apply mutation number `seq`, stamped with unix time `now`; answer [`FromShard::Applied`].
    Apply {
        seq: u64,
        now: u64,
        mutation: Mutation,
    },
    /// Send this shard's counters; answer [`FromShard::Stats`].
    Gather,
    /// Send this shard's latency histograms; answer [`FromShard::Latency`].
    GatherLatency,
    /// Abort the in-flight requests on this server; answer [`FromShard::Done`].
    ShutdownSessions(ServerRef),
    /// How many requests are in flight on this server; answer [`FromShard::InFlight`].
    InFlight(ServerRef),
}

/// Shard ─▶ coordinator, answers to [`ToShard`] in the order they were asked.
#[derive(Debug)]
pub enum FromShard {
    Applied { seq: u64 },
    Stats(Box<StatsSnapshot>),
    Latency(Box<LatencySnapshot>),
    Done,
    InFlight(u64),
}
