//! [`Worker`]: one shard's data plane — its replica of the runtime state, its counters, its
//! balancers and its idle connection pool. Everything here is owned by one core: `RefCell`s,
//! no locks, no atomics. The shard's control loop calls [`Worker::apply`] for every mutation.

use super::buffers::BufferPool;
use super::observe::{Observed, Observer};
use super::pool::Pool;
use super::queue::Queue;
use super::settings::{BackendSettings, FrontendSettings};
use crate::balance::{Balancer, PickContext};
use crate::config::Config;
use crate::logs::ShardLog;
use crate::state::{
    self, AdminState, Applied, ApplyError, Backend, Mutation, OpState, ServerRef, State,
};
use crate::stats::latency::LatencySnapshot;
use crate::stats::service::{LocalService, Routes};
use crate::stats::{Counters, StatsSnapshot};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

pub struct Worker {
    pub shard: usize,
    pub state: RefCell<State>,
    pub counters: RefCell<StatsSnapshot>,
    pub pool: RefCell<Pool>,
    /// Free lists of I/O buffers and scratch vectors: the request path allocates nothing.
    pub buffers: Rc<BufferPool>,
    balancers: RefCell<Vec<Balancer>>,
    pub frontends: Vec<FrontendSettings>,
    pub backends: Vec<BackendSettings>,
    /// Bumped by `shutdown sessions server`: a request to that server started under an older
    /// generation is aborted.
    kill_generation: RefCell<HashMap<ServerRef, u64>>,
    /// Requests in flight on this shard (graceful stop waits for 0).
    pub in_flight: Cell<u64>,
    /// Set at soft stop: keep-alive connections close after their current response.
    pub stopping: Cell<bool>,
    /// Per backend: requests waiting for a server under its `maxconn`.
    queues: Vec<Queue>,
    /// Passive health: consecutive errors of live traffic per observed server.
    pub observer: Observer,
    /// This shard's latency histograms, one set per backend and server.
    pub latency: RefCell<LatencySnapshot>,
    /// This shard's access and event log buffers.
    pub log: Rc<ShardLog>,
    /// Which requests a frontend answers itself (stats page, metrics) …
    pub routes: Routes,
    /// … and who renders them (installed by the shard layer at start).
    pub services: RefCell<Option<Rc<dyn LocalService>>>,
    /// The process's TLS contexts, where a TLS mutation takes effect (set by the shard).
    pub tls: crate::tls::Contexts,
}

impl Worker {
    pub fn new(shard: usize, config: &Config, state: State) -> Worker {
        let balancers = state
            .backends
            .iter()
            .map(|b| Balancer::new(b.algorithm))
            .collect();
        let counters = StatsSnapshot {
            frontends: vec![Counters::default(); state.frontends.len()],
            backends: vec![Counters::default(); state.backends.len()],
            servers: vec![Default::default(); state.backends.len()],
            ..Default::default()
        };
        let backend_count = state.backends.len();
        Worker {
            shard,
            frontends: FrontendSettings::from_config(config, &state),
            backends: BackendSettings::from_config(config, &state),
            log: Rc::new(ShardLog::new(config, &state)),
            routes: Routes::from_config(config, &state),
            latency: RefCell::new(LatencySnapshot::default()),
            services: RefCell::new(None),
            state: RefCell::new(state),
            counters: RefCell::new(counters),
            pool: RefCell::new(Pool::default()),
            buffers: Rc::new(BufferPool::default()),
            balancers: RefCell::new(balancers),
            kill_generation: RefCell::new(HashMap::new()),
            in_flight: Cell::new(0),
            stopping: Cell::new(false),
            queues: (0..backend_count).map(|_| Queue::default()).collect(),
            observer: Observer::default(),
            tls: crate::tls::Contexts::default(),
        }
    }

    /// Applies one mutation to this shard's replica and drops what it makes stale. A
    /// mutation the replica refuses changes nothing.
    pub fn apply(&self, mutation: &Mutation, now: u64) -> Result<Applied, ApplyError> {
        let applied = state::apply(&mut self.state.borrow_mut(), mutation, now)?;
        match mutation {
            Mutation::SetAdminState {
                server,
                state: AdminState::Maint,
            }
            | Mutation::SetAddr { server, .. }
            | Mutation::MarkDeleting { server }
            | Mutation::RemoveServer { server } => self.pool.borrow_mut().drop_server(*server),
            // A server found dead: its idle connections are most likely dead too.
            Mutation::CheckResult { server, .. } | Mutation::SetHealth { server, .. }
                if self
                    .state
                    .borrow()
                    .server(*server)
                    .is_some_and(|s| s.op == OpState::Down) =>
            {
                self.pool.borrow_mut().drop_server(*server)
            }
            _ => {}
        }
        if let Mutation::RemoveServer { server } = mutation {
            self.forget_server(*server);
        }
        match mutation {
            Mutation::SetTicketKeys { .. } => self.tls.sync(&self.state.borrow()),
            Mutation::CommitCert { file, .. } => {
                self.tls.sync_certificate(&self.state.borrow(), file)
            }
            _ => {}
        }
        Ok(applied)
    }

    /// Drops what this shard kept about a removed server: its counters, latency histograms,
    /// kill generation and passive-health count (ids are never reused, so nothing would ever
    /// read them again; without this each `add server`/`del server` cycle left them behind).
    fn forget_server(&self, server: ServerRef) {
        self.latency.borrow_mut().forget(server);
        if let Some(servers) = self.counters.borrow_mut().servers.get_mut(server.backend) {
            servers.remove(&server.server);
        }
        self.kill_generation.borrow_mut().remove(&server);
        self.observer.forget(server);
    }

    /// Tells passive health (`observe`) how an exchange with `server` ended.
    pub fn observe(&self, server: ServerRef, outcome: Observed) {
        self.observer.record(&self.state.borrow(), server, outcome);
    }

    /// Picks a server of `backend` for a new request: `(server id, address)`.
    pub fn pick(
        &self,
        backend: usize,
        client: IpAddr,
        avoid: Option<u32>,
    ) -> Option<(u32, std::net::SocketAddr)> {
        let state = self.state.borrow();
        let b = state.backends.get(backend)?;
        let counters = self.counters.borrow();
        let servers = counters.servers.get(backend);
        let inflight = |pos: usize| {
            let id = b.servers[pos].id;
            servers.and_then(|m| m.get(&id)).map_or(0, |c| c.scur)
        };
        let ctx = PickContext {
            client_ip: Some(client),
            inflight: &inflight,
            avoid,
        };
        let mut pos = self
            .balancers
            .borrow_mut()
            .get_mut(backend)?
            .pick(b, &ctx)?;
        if let Some(failed) = avoid.filter(|&id| b.servers[pos].id == id) {
            pos = redispatch_target(b, failed).unwrap_or(pos);
        }
        let server = &b.servers[pos];
        Some((server.id, server.addr))
    }

    /// The queue of requests waiting for a server of `backend` (see `queue`).
    pub fn queue(&self, backend: usize) -> Option<&Queue> {
        self.queues.get(backend)
    }

    /// Requests in flight to a server on this shard (what its `maxconn` bounds).
    pub fn server_inflight(&self, backend: usize, server: u32) -> u64 {
        let counters = self.counters.borrow();
        counters
            .servers
            .get(backend)
            .and_then(|m| m.get(&server))
            .map_or(0, |c| c.scur)
    }

    /// Bytes of one request (`bin`, from the client) or response (`bout`, to the client),
    /// counted on the server, its BACKEND row and the frontend, as HAProxy's columns do.
    pub fn count_bytes(&self, frontend: usize, server: ServerRef, bin: u64, bout: u64) {
        let add = |c: &mut Counters| {
            c.bin += bin;
            c.bout += bout;
        };
        self.count_on_server_and_backend(server, add);
        self.with_frontend_counters(frontend, add);
    }

    /// One event counted on a server and on its BACKEND row, as HAProxy's columns count it.
    pub fn count_on_server_and_backend(&self, server: ServerRef, count: impl Fn(&mut Counters)) {
        self.with_server_counters(server, &count);
        self.with_backend_counters(server.backend, count);
    }

    /// A failed attempt tried again on the same server (`wretr`).
    pub fn count_retry(&self, server: ServerRef) {
        self.count_on_server_and_backend(server, |c| c.wretr += 1);
    }

    /// A failed attempt tried again on another server (`wredis`, `option redispatch`).
    pub fn count_redispatch(&self, server: ServerRef) {
        self.count_on_server_and_backend(server, |c| c.wredis += 1);
    }

    /// A connection to the server that failed (`econ`).
    pub fn count_connect_error(&self, server: ServerRef) {
        self.count_on_server_and_backend(server, |c| c.econ += 1);
    }

    /// A response that failed: empty, junk, timed out or cut (`eresp`).
    pub fn count_response_error(&self, server: ServerRef) {
        self.count_on_server_and_backend(server, |c| c.eresp += 1);
    }

    /// A TCP session starting on the server: on the server (`picked` counts it in `lbtot`
    /// too) and on its backend.
    pub fn count_session_started(&self, server: ServerRef, picked: bool) {
        self.count_attempt_started(server, picked);
        self.with_backend_counters(server.backend, |c| c.session_started());
    }

    /// A TCP session on the server ended.
    pub fn count_session_ended(&self, server: ServerRef) {
        self.count_on_server_and_backend(server, |c| c.session_ended());
    }

    /// One attempt of an HTTP request on the server (a retry is another): the server's
    /// sessions, as HAProxy counts a connection attempt in its `stot`.
    pub fn count_attempt_started(&self, server: ServerRef, picked: bool) {
        self.with_server_counters(server, |c| {
            if picked {
                c.lbtot += 1;
            }
            c.session_started();
        });
        if picked {
            self.with_backend_counters(server.backend, |c| c.lbtot += 1);
        }
    }

    pub fn count_attempt_ended(&self, server: ServerRef) {
        self.with_server_counters(server, |c| c.session_ended());
    }

    /// An HTTP request routed to the backend: counted once in its `req_tot` and sessions,
    /// however many attempts it takes (HAProxy's BACKEND row).
    pub fn count_request_on_backend(&self, backend: usize) {
        self.with_backend_counters(backend, |c| {
            c.req_tot += 1;
            c.session_started();
        });
    }

    pub fn count_request_left_backend(&self, backend: usize) {
        self.with_backend_counters(backend, |c| c.session_ended());
    }

    /// A response head received from the server: its status and `req_tot` on the server
    /// row, whatever the client is sent in the end (an `http-response deny` replaces it).
    pub fn count_server_response(&self, server: ServerRef, status: u16) {
        self.with_server_counters(server, |c| {
            c.req_tot += 1;
            c.count_status(status);
        });
    }

    /// A response with `status` sent to the client: on the frontend, and on the backend the
    /// request was routed to (a reply the proxy wrote itself, an error page, counts too).
    pub fn count_reply(&self, frontend: usize, backend: Option<usize>, status: u16) {
        self.with_frontend_counters(frontend, |c| c.count_status(status));
        if let Some(backend) = backend {
            self.with_backend_counters(backend, |c| c.count_status(status));
        }
    }

    /// The server's counters on this shard (created on first use).
    pub fn with_server_counters<R>(&self, r: ServerRef, f: impl FnOnce(&mut Counters) -> R) -> R {
        let mut counters = self.counters.borrow_mut();
        if counters.servers.len() <= r.backend {
            counters
                .servers
                .resize_with(r.backend + 1, Default::default);
        }
        f(counters.servers[r.backend].entry(r.server).or_default())
    }

    pub fn with_frontend_counters<R>(
        &self,
        frontend: usize,
        f: impl FnOnce(&mut Counters) -> R,
    ) -> R {
        f(&mut self.counters.borrow_mut().frontends[frontend])
    }

    pub fn with_backend_counters<R>(
        &self,
        backend: usize,
        f: impl FnOnce(&mut Counters) -> R,
    ) -> R {
        f(&mut self.counters.borrow_mut().backends[backend])
    }

    /// This shard's counters, with its idle pool sizes and its busy time filled in (called
    /// on the shard's own thread).
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut snapshot = self.counters.borrow().clone();
        snapshot.busy_ns = crate::stats::idle::thread_busy_ns();
        let pool = self.pool.borrow();
        for (backend, servers) in snapshot.servers.iter_mut().enumerate() {
            for (id, c) in servers.iter_mut() {
                c.idle_conns = pool.idle_count(ServerRef {
                    backend,
                    server: *id,
                }) as u64;
            }
        }
        snapshot
    }

    pub fn kill_generation(&self, server: ServerRef) -> u64 {
        self.kill_generation
            .borrow()
            .get(&server)
            .copied()
            .unwrap_or(0)
    }

    /// `shutdown sessions server`: requests to it started before now are aborted.
    pub fn shutdown_sessions(&self, server: ServerRef) {
        *self.kill_generation.borrow_mut().entry(server).or_insert(0) += 1;
        self.pool.borrow_mut().drop_server(server);
    }
}

/// When the balancer could only offer the server a request just failed on (the only usable one
/// of its level: the single active server, or the first backup), a redispatch goes one level
/// on instead: the first other server that takes new traffic, typically a backup. Without it,
/// a lone active server that died would fail every request until its checks took it out.
fn redispatch_target(backend: &Backend, failed: u32) -> Option<usize> {
    backend
        .servers
        .iter()
        .position(|s| s.id != failed && s.takes_new_traffic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    #[test]
    fn a_removed_server_leaves_nothing_behind_on_the_shard() {
        let config = parse_str(
            "t.cfg",
            "backend b\n server s1 127.0.0.1:1\n server s2 127.0.0.1:2\n",
        )
        .unwrap();
        let worker = Worker::new(0, &config, State::from_config(&config, 0));
        let s1 = ServerRef {
            backend: 0,
            server: 1,
        };
        worker.with_server_counters(s1, |c| c.session_started());
        worker.with_server_counters(s1, |c| c.session_ended());
        worker.shutdown_sessions(s1);
        assert_eq!(worker.kill_generation(s1), 1);
        worker
            .apply(&Mutation::MarkDeleting { server: s1 }, 0)
            .unwrap();
        worker
            .apply(&Mutation::RemoveServer { server: s1 }, 0)
            .unwrap();
        assert!(worker.state.borrow().server(s1).is_none());
        assert!(!worker.counters.borrow().servers[0].contains_key(&1));
        assert_eq!(worker.kill_generation(s1), 0);
    }
}
