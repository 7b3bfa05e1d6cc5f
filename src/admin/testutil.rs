//! Test fixtures for the admin module: the runtime state of the capture setup
//! (`haproxy-2.6-captures/setup/haproxy.cfg`), built by hand, and an in-memory
//! [`AdminBackend`] that applies mutations with [`state::apply`].

use super::{AdminBackend, Deletion, ProcessInfo, Removal};
use crate::config::{Algorithm, Mode};
use crate::state::{
    self, AdminState, ApplyError, Backend, CheckDetail, CheckStatus, Frontend, Mutation, ServerRef,
    ServerSpec, State,
};
use crate::stats::{Counters, StatsSnapshot};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

/// Unix time the fixture process started.
pub const START: u64 = 1_795_574_540;

pub fn spec(name: &str, port: u16, backup: bool) -> ServerSpec {
    let mut spec = ServerSpec::new(name, format!("127.0.0.1:{port}").parse().unwrap());
    spec.options.check = true;
    spec.options.backup = backup;
    spec
}

fn backend(name: &str, id: u32, servers: Vec<ServerSpec>) -> Backend {
    Backend {
        name: name.to_string(),
        id,
        mode: Mode::Http,
        algorithm: Algorithm::RoundRobin,
        allbackups: false,
        redispatch: false,
        retries: 3,
        cookie: None,
        httpchk: None,
        tcpchk: None,
        next_server_id: servers.len() as u32 + 1,
        servers: servers
            .iter()
            .enumerate()
            .map(|(i, s)| state::Server::new(i as u32 + 1, s, false, START))
            .collect(),
    }
}

fn frontend(name: &str, id: u32, default_backend: usize) -> Frontend {
    Frontend {
        name: name.to_string(),
        id,
        mode: Mode::Http,
        default_backend: Some(default_backend),
        enabled: true,
    }
}

/// `frontend app` (2), `backend bk_app` (3) with backup nginx1 and nginx2, `listen stats`
/// (4), every server checked and its first check passed (`UP`, health 4, L4OK).
pub fn capture_state() -> State {
    let mut state = State {
        frontends: vec![frontend("app", 2, 0), frontend("stats", 4, 1)],
        backends: vec![
            backend(
                "bk_app",
                3,
                vec![spec("nginx1", 28081, true), spec("nginx2", 28082, false)],
            ),
            backend("stats", 4, vec![]),
        ],
        maps: Default::default(),
        tls: Default::default(),
        version: 0,
    };
    for id in [1, 2] {
        let server = ServerRef {
            backend: 0,
            server: id,
        };
        for _ in 0..2 {
            let check = Mutation::CheckResult {
                server,
                status: CheckStatus::L4Ok,
                detail: CheckDetail::default(),
            };
            state::apply(&mut state, &check, START).unwrap();
        }
    }
    state
}

/// Runs admin commands on the capture state (mutations applied at `now`).
pub fn after(commands: &[&str], now: u64) -> State {
    let mut state = capture_state();
    for line in commands {
        match super::command::plan(line, &state, crate::config::Level::Admin) {
            super::Action::Mutate { mutations, .. } => {
                for m in &mutations {
                    state::apply(&mut state, m, now).unwrap();
                }
            }
            super::Action::Reply(r) => assert_eq!(r, "", "{line}"),
            other => panic!("{line}: {other:?}"),
        }
    }
    state
}

/// Counters equal to those of the capture's first `show stat` (one request to nginx2).
pub fn capture_counters() -> StatsSnapshot {
    let request = Counters {
        smax: 1,
        stot: 1,
        bin: 82,
        bout: 136,
        lbtot: 1,
        hrsp: [0, 1, 0, 0, 0, 0],
        req_tot: 1,
        connect: 1,
        ..Counters::default()
    };
    let mut nginx2 = request;
    nginx2.idle_conns = 1;
    StatsSnapshot {
        frontends: vec![request, Counters::default()],
        backends: vec![request, Counters::default()],
        servers: vec![BTreeMap::from([(2, nginx2)]), BTreeMap::new()],
        cum_conns: 10,
        cum_req: 3,
        curr_conns: 0,
        busy_ns: 0,
    }
}

pub fn nginx2() -> ServerRef {
    ServerRef {
        backend: 0,
        server: 2,
    }
}

pub fn process_info() -> ProcessInfo {
    ProcessInfo {
        pid: 6720,
        start_time: START,
        nbthread: 2,
        maxconn: 9984,
        ulimit_n: 19999,
        node: "vm".to_string(),
        listeners: 3,
        idle_pct: 100,
    }
}

/// What the coordinator does for `del server` in these tests: HAProxy's rule (only a server
/// in maintenance is removed; it has no traffic here).
pub fn delete_server(state: &mut State, server: ServerRef, now: u64) -> Deletion {
    match state.server(server) {
        None => Deletion::NoSuchServer,
        Some(s) if s.admin != AdminState::Maint => Deletion::NotInMaintenance,
        Some(_) => {
            state::apply(state, &Mutation::RemoveServer { server }, now).unwrap();
            Deletion::Deleted
        }
    }
}

/// An in-memory backend: one replica, mutations applied at once.
pub struct FakeBackend {
    pub state: RefCell<State>,
    pub stats: StatsSnapshot,
    pub latency: crate::stats::latency::LatencySnapshot,
    pub now: u64,
}

impl FakeBackend {
    pub fn new(state: State) -> FakeBackend {
        FakeBackend {
            state: RefCell::new(state),
            stats: StatsSnapshot::default(),
            latency: Default::default(),
            now: START + 7,
        }
    }
}

impl AdminBackend for FakeBackend {
    fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.borrow())
    }

    async fn mutate(&self, mutations: Vec<Mutation>) -> Result<(), ApplyError> {
        let mut state = self.state.borrow_mut();
        for m in &mutations {
            state::apply(&mut state, m, self.now)?;
        }
        Ok(())
    }

    async fn gather(&self) -> StatsSnapshot {
        self.stats.clone()
    }

    async fn gather_latency(&self) -> crate::stats::latency::LatencySnapshot {
        self.latency.clone()
    }

    async fn gather_per_shard(&self) -> Vec<StatsSnapshot> {
        vec![self.stats.clone()]
    }

    async fn delete_server(&self, server: ServerRef) -> Deletion {
        delete_server(&mut self.state.borrow_mut(), server, self.now)
    }

    async fn wait_removable(&self, _server: ServerRef, _timeout: Duration) -> Removal {
        Removal::Done
    }

    async fn shutdown_sessions(&self, _server: ServerRef) {}

    fn process_info(&self) -> ProcessInfo {
        process_info()
    }

    fn now(&self) -> u64 {
        self.now
    }
}

/// A capture file from `tests/fixtures/haproxy-2.6/`.
pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/haproxy-2.6/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
