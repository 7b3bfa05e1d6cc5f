//! Counters: each shard owns its own (no atomics on the hot path); `show stat` gathers a
//! [`StatsSnapshot`] from every shard and adds them up.
//!
//! - `latency`: HDR histograms per backend and server (connect, response, total time).
//! - `idle`: the shards' busy time and the `Idle_pct` of `show info` made from it.
//! - `trace`: what the request path notes about one request, for histograms and access logs.
//! - `service`: the requests a frontend answers itself (stats page, metrics) and how the
//!   proxy hands them to whoever renders them.
//! - `rows`: the `show stat` rows, typed (HAProxy's 128 columns), built from the state and
//!   a snapshot; the admin socket prints them, the stats page and `/metrics` read them.
//! - `html`, `prometheus`, `latency_report`: the stats page, the `/metrics` text and the
//!   `show latency` table.

pub mod html;
pub mod idle;
pub mod latency;
pub mod latency_report;
pub mod prometheus;
pub mod rows;
pub mod service;
pub mod trace;

use std::collections::BTreeMap;

/// Traffic counters of one FRONTEND, BACKEND or server row, HAProxy's column names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Current sessions (in-flight requests for a server, open connections for a frontend).
    pub scur: u64,
    pub smax: u64,
    pub stot: u64,
    pub bin: u64,
    pub bout: u64,
    pub dreq: u64,
    pub dresp: u64,
    /// Requests the proxy answered itself (`return`, `redirect`, `monitor-uri`, the stats
    /// page): HAProxy's `intercepted`, FRONTEND rows only.
    pub intercepted: u64,
    /// Request errors (malformed requests, client timeouts).
    pub ereq: u64,
    /// Connection errors to the server.
    pub econ: u64,
    /// Response errors (invalid response, server closed early, server timeout).
    pub eresp: u64,
    /// Retries.
    pub wretr: u64,
    /// Redispatches.
    pub wredis: u64,
    /// Times the server was picked by the balancer.
    pub lbtot: u64,
    /// Responses by class: 1xx, 2xx, 3xx, 4xx, 5xx, other.
    pub hrsp: [u64; 6],
    pub req_tot: u64,
    pub cli_abrt: u64,
    pub srv_abrt: u64,
    /// Connections opened to the server (`connect`) and reused from the pool (`reuse`).
    pub connect: u64,
    pub reuse: u64,
    /// Sum of total request times in ms, for the `ttime` average.
    pub ttime_sum_ms: u64,
    pub ttime_max_ms: u64,
    /// Idle pooled connections to the server right now (`idle_conn_cur`).
    pub idle_conns: u64,
    /// Requests waiting in the backend's queue for a server under its `maxconn` (BACKEND
    /// rows), and the most seen at once.
    pub qcur: u64,
    pub qmax: u64,
}

impl Counters {
    /// Adds another shard's counters to these.
    pub fn add(&mut self, o: &Counters) {
        self.scur += o.scur;
        self.smax += o.smax;
        self.stot += o.stot;
        self.bin += o.bin;
        self.bout += o.bout;
        self.dreq += o.dreq;
        self.dresp += o.dresp;
        self.intercepted += o.intercepted;
        self.ereq += o.ereq;
        self.econ += o.econ;
        self.eresp += o.eresp;
        self.wretr += o.wretr;
        self.wredis += o.wredis;
        self.lbtot += o.lbtot;
        for (a, b) in self.hrsp.iter_mut().zip(o.hrsp.iter()) {
            *a += b;
        }
        self.req_tot += o.req_tot;
        self.cli_abrt += o.cli_abrt;
        self.srv_abrt += o.srv_abrt;
        self.connect += o.connect;
        self.reuse += o.reuse;
        self.ttime_sum_ms += o.ttime_sum_ms;
        self.ttime_max_ms = self.ttime_max_ms.max(o.ttime_max_ms);
        self.idle_conns += o.idle_conns;
        self.qcur += o.qcur;
        self.qmax += o.qmax;
    }

    /// A request joined the queue: `qcur`, `qmax`.
    pub fn queued(&mut self) {
        self.qcur += 1;
        self.qmax = self.qmax.max(self.qcur);
    }

    /// A request left the queue (it got a server, or gave up).
    pub fn dequeued(&mut self) {
        self.qcur = self.qcur.saturating_sub(1);
    }

    /// A session started: `scur`, `smax`, `stot`.
    pub fn session_started(&mut self) {
        self.scur += 1;
        self.stot += 1;
        self.smax = self.smax.max(self.scur);
    }

    pub fn session_ended(&mut self) {
        self.scur = self.scur.saturating_sub(1);
    }

    /// Counts a response status in `hrsp_*`.
    pub fn count_status(&mut self, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        self.hrsp[class] += 1;
    }
}

/// Counters of one shard, or the sum over all shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// By frontend index (the order of `State::frontends`).
    pub frontends: Vec<Counters>,
    /// By backend index (the order of `State::backends`).
    pub backends: Vec<Counters>,
    /// By backend index, then server id.
    pub servers: Vec<BTreeMap<u32, Counters>>,
    /// Client connections accepted (`CumConns`), requests (`CumReq`), current connections.
    pub cum_conns: u64,
    pub cum_req: u64,
    pub curr_conns: u64,
    /// CPU time the shards' threads have used since they started, in nanoseconds
    /// ([`idle::thread_busy_ns`]), for `Idle_pct`.
    pub busy_ns: u64,
}

impl StatsSnapshot {
    /// Adds another shard's snapshot to this one.
    pub fn add(&mut self, o: &StatsSnapshot) {
        merge_vec(&mut self.frontends, &o.frontends);
        merge_vec(&mut self.backends, &o.backends);
        if self.servers.len() < o.servers.len() {
            self.servers.resize_with(o.servers.len(), BTreeMap::new);
        }
        for (mine, theirs) in self.servers.iter_mut().zip(o.servers.iter()) {
            for (id, c) in theirs {
                mine.entry(*id).or_default().add(c);
            }
        }
        self.cum_conns += o.cum_conns;
        self.cum_req += o.cum_req;
        self.curr_conns += o.curr_conns;
        self.busy_ns += o.busy_ns;
    }

    /// The counters of one server (zero when it has none yet).
    pub fn server(&self, backend: usize, id: u32) -> Counters {
        self.servers
            .get(backend)
            .and_then(|m| m.get(&id))
            .copied()
            .unwrap_or_default()
    }

    pub fn frontend(&self, index: usize) -> Counters {
        self.frontends.get(index).copied().unwrap_or_default()
    }

    pub fn backend(&self, index: usize) -> Counters {
        self.backends.get(index).copied().unwrap_or_default()
    }
}

fn merge_vec(mine: &mut Vec<Counters>, theirs: &[Counters]) {
    if mine.len() < theirs.len() {
        mine.resize(theirs.len(), Counters::default());
    }
    for (a, b) in mine.iter_mut().zip(theirs) {
        a.add(b);
    }
}
