//! Latency histograms: per shard, one set per backend and per server, recorded on the request
//! path (an HDR record is a few integer operations, no allocation once the server's set
//! exists) and merged when `/metrics` or `show latency` asks for them.
//!
//! Values are microseconds, 1 µs to 1 h, two significant digits (1 % resolution), so a set
//! of three histograms costs about 80 KiB per server per shard.

use crate::state::ServerRef;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// The largest value kept (1 h); longer ones count as 1 h.
const HIGHEST_US: u64 = 3_600_000_000;
const SIGNIFICANT_DIGITS: u8 = 2;

/// What one finished request measured, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// Time to open a new connection to the server (`Tc`); None when a pooled one was reused
    /// or no connection was made.
    pub connect_us: Option<u64>,
    /// From the connection to the server being ready to its response head (`Tr`).
    pub response_us: Option<u64>,
    /// The whole request, first byte in to last byte out (`Ta`); None for TCP sessions.
    pub total_us: Option<u64>,
}

/// One histogram and the exact sum of what it recorded (HDR keeps no sum; Prometheus wants it).
#[derive(Debug, Clone)]
pub struct Series {
    pub histogram: Histogram<u64>,
    pub sum_us: u64,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            histogram: Histogram::new_with_bounds(1, HIGHEST_US, SIGNIFICANT_DIGITS)
                .expect("constant histogram bounds are valid"),
            sum_us: 0,
        }
    }
}

impl Series {
    pub fn record(&mut self, us: u64) {
        self.histogram.saturating_record(us.max(1));
        self.sum_us = self.sum_us.saturating_add(us);
    }

    fn add(&mut self, other: &Series) {
        // Same bounds everywhere, so adding cannot fail; a failure would only lose samples.
        let _ = self.histogram.add(&other.histogram);
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Samples at or below `us` (HDR bucket edges: within 1 % of `us`).
    pub fn count_at_most(&self, us: u64) -> u64 {
        if self.count() == 0 {
            return 0;
        }
        self.histogram.count_between(0, us.min(HIGHEST_US))
    }

    /// The value at `quantile` (0..=1), in microseconds.
    pub fn quantile_us(&self, quantile: f64) -> u64 {
        self.histogram.value_at_quantile(quantile)
    }

    pub fn max_us(&self) -> u64 {
        self.histogram.max()
    }
}

/// The three histograms of one backend or server.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub connect: Series,
    pub response: Series,
    pub total: Series,
}

impl Latency {
    pub fn record(&mut self, timing: &Timing) {
        if let Some(us) = timing.connect_us {
            self.connect.record(us);
        }
        if let Some(us) = timing.response_us {
            self.response.record(us);
        }
        if let Some(us) = timing.total_us {
            self.total.record(us);
        }
    }

    pub fn add(&mut self, other: &Latency) {
        self.connect.add(&other.connect);
        self.response.add(&other.response);
        self.total.add(&other.total);
    }
}

/// The histograms of one shard, or merged over all shards.
#[derive(Debug, Clone, Default)]
pub struct LatencySnapshot {
    /// By backend index (the order of `State::backends`).
    pub backends: Vec<Latency>,
    /// By backend index, then server id.
    pub servers: Vec<BTreeMap<u32, Latency>>,
    /// pointsman's own: per mutation, from the coordinator's broadcast to the last shard's
    /// acknowledgement (recorded on shard 0 only; empty on the other shards and with one shard).
    pub mutation: Series,
}

impl LatencySnapshot {
    /// Records one request on `server` and its backend. A server's set is created on its
    /// first request (the only allocation).
    pub fn record(&mut self, server: ServerRef, timing: &Timing) {
        if self.backends.len() <= server.backend {
            self.backends
                .resize_with(server.backend + 1, Latency::default);
            self.servers.resize_with(server.backend + 1, BTreeMap::new);
        }
        self.backends[server.backend].record(timing);
        self.servers[server.backend]
            .entry(server.server)
            .or_default()
            .record(timing);
    }

    /// Adds another shard's histograms to these.
    pub fn add(&mut self, other: &LatencySnapshot) {
        if self.backends.len() < other.backends.len() {
            self.backends
                .resize_with(other.backends.len(), Latency::default);
        }
        if self.servers.len() < other.servers.len() {
            self.servers.resize_with(other.servers.len(), BTreeMap::new);
        }
        for (mine, theirs) in self.backends.iter_mut().zip(&other.backends) {
            mine.add(theirs);
        }
        for (mine, theirs) in self.servers.iter_mut().zip(&other.servers) {
            for (id, latency) in theirs {
                mine.entry(*id).or_default().add(latency);
            }
        }
        self.mutation.add(&other.mutation);
    }

    pub fn backend(&self, index: usize) -> Option<&Latency> {
        self.backends.get(index)
    }

    pub fn server(&self, server: ServerRef) -> Option<&Latency> {
        self.servers.get(server.backend)?.get(&server.server)
    }

    /// Forgets a removed server (its samples stay in the backend's histograms).
    pub fn forget(&mut self, server: ServerRef) {
        if let Some(servers) = self.servers.get_mut(server.backend) {
            servers.remove(&server.server);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(backend: usize, server: u32) -> ServerRef {
        ServerRef { backend, server }
    }

    #[test]
    fn merged_shards_count_every_request_once() {
        let mut a = LatencySnapshot::default();
        let mut b = LatencySnapshot::default();
        let timing = |c, r| Timing {
            connect_us: c,
            response_us: Some(r),
            total_us: Some(r + 10),
        };
        a.record(server(0, 1), &timing(Some(100), 1_000));
        a.record(server(0, 2), &timing(None, 20_000));
        b.record(server(0, 1), &timing(Some(300), 3_000));
        b.record(server(1, 1), &timing(None, 500));
        let mut total = LatencySnapshot::default();
        total.add(&a);
        total.add(&b);
        let backend = total.backend(0).unwrap();
        assert_eq!(backend.response.count(), 3);
        assert_eq!(backend.connect.count(), 2);
        assert_eq!(backend.response.sum_us, 24_000);
        assert_eq!(total.server(server(0, 1)).unwrap().response.count(), 2);
        assert_eq!(total.server(server(1, 1)).unwrap().response.count(), 1);
        assert_eq!(backend.response.count_at_most(5_000), 2);
        assert_eq!(backend.response.count_at_most(60_000_000), 3);
        assert_eq!(backend.response.count_at_most(HIGHEST_US), 3);
        let p50 = backend.response.quantile_us(0.5);
        assert!((2_900..=3_100).contains(&p50), "{p50}");
    }

    #[test]
    fn huge_and_zero_values_saturate() {
        let mut l = Latency::default();
        l.record(&Timing {
            connect_us: Some(0),
            response_us: Some(u64::MAX / 2),
            total_us: None,
        });
        assert_eq!(l.connect.count(), 1);
        assert_eq!(l.response.count(), 1);
        assert!(l.response.max_us() >= HIGHEST_US / 2);
        assert_eq!(l.total.count(), 0);
    }
}
