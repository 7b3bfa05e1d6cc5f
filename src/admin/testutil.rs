//! Test fixtures for the admin module: the runtime state of the capture setup
//! (`haproxy-2.6-captures/setup/haproxy.cfg`), built by hand, and an in-memory
//! [`AdminBackend`] that applies mutations with [`state::apply`].

use super::{AdminBackend, ProcessInfo};
use crate::config::{Algorithm, Mode};
use crate::state::{
    self, AdminState, ApplyError, Backend, CheckDetail, CheckStatus, Frontend, Mutation, ServerRef,
    ServerSpec, State,
};
use crate::stats::StatsSnapshot;
use std::cell::RefCell;
use std::time::Duration;

/// Unix time the fixture process started.
pub const START: u64 = 1_795_574_540;

pub fn spec(name: &str, port: u16, backup: bool) -> ServerSpec {
    ServerSpec {
        check: true,
        backup,
        ..ServerSpec::new(name, format!("127.0.0.1:{port}").parse().unwrap())
    }
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
pub fn delete_server(state: &mut State, server: ServerRef, now: u64) -> String {
    match state.server(server) {
        None => "No such server.".to_string(),
        Some(s) if s.admin != AdminState::Maint => {
            "Only servers in maintenance mode can be deleted.".to_string()
        }
        Some(_) => {
            state::apply(state, &Mutation::RemoveServer { server }, now).unwrap();
            "Server deleted.".to_string()
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

    async fn delete_server(&self, server: ServerRef) -> String {
        delete_server(&mut self.state.borrow_mut(), server, self.now)
    }

    async fn wait_removable(&self, _server: ServerRef, _timeout: Duration) -> String {
        "Done.\n".to_string()
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
