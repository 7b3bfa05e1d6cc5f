//! Runtime state: backends, their servers, admin and operational states, weights, checks.

use crate::config::{
    Algorithm, CheckTuning, Config, CookieConfig, HttpCheck, Mode, ServerConfig, ServerOptions,
    TcpCheck,
};
use crate::rules::Maps;
use std::net::SocketAddr;
use std::time::Duration;

/// Operator-chosen state (`set server … state ready|drain|maint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminState {
    Ready,
    Drain,
    Maint,
}

/// Operational state, from health checks or `set server … health up|stopping|down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    Up,
    /// HAProxy's NOLB: alive but takes no new traffic.
    Stopping,
    Down,
}

/// Result class of the last health check, as HAProxy names them in `check_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// Not checked yet.
    Init,
    L4Ok,
    L4Con,
    L4Tout,
    /// A check over TLS (`check-ssl`) whose handshake passed (no HTTP check after it).
    L6Ok,
    /// The TLS handshake of a check did not end in time.
    L6Tout,
    /// The TLS handshake of a check failed (a certificate that does not verify …).
    L6Rsp,
    L7Ok,
    /// `http-check disable-on-404`: a 404 passes but drains the server (stopping).
    L7OkC,
    L7Sts,
    L7Rsp,
    L7Tout,
    /// `observe`: `error-limit` consecutive errors on live traffic (HAProxy's "Health
    /// analyze"); what it does depends on the server's `on-error`.
    Hana,
    /// The connection failed once established (a reset while a check waits for a reply).
    SockErr,
}

impl CheckStatus {
    /// `check_status` column text.
    pub fn code(self) -> &'static str {
        match self {
            CheckStatus::Init => "INI",
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Con => "L4CON",
            CheckStatus::L4Tout => "L4TOUT",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Tout => "L6TOUT",
            CheckStatus::L6Rsp => "L6RSP",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7OkC => "L7OKC",
            CheckStatus::L7Sts => "L7STS",
            CheckStatus::L7Rsp => "L7RSP",
            CheckStatus::L7Tout => "L7TOUT",
            CheckStatus::Hana => "HANA",
            CheckStatus::SockErr => "SOCKERR",
        }
    }

    /// `check_desc` column text.
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::Init => "Initializing",
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Con => "Layer4 connection problem",
            CheckStatus::L4Tout => "Layer4 timeout",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Tout => "Layer6 timeout",
            CheckStatus::L6Rsp => "Layer6 invalid response",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7OkC => "Layer7 check conditionally passed",
            CheckStatus::L7Sts => "Layer7 wrong status",
            CheckStatus::L7Rsp => "Layer7 invalid response",
            CheckStatus::L7Tout => "Layer7 timeout",
            CheckStatus::Hana => "Health analyze",
            CheckStatus::SockErr => "Socket error",
        }
    }

    pub fn is_ok(self) -> bool {
        matches!(
            self,
            CheckStatus::L4Ok | CheckStatus::L6Ok | CheckStatus::L7Ok | CheckStatus::L7OkC
        )
    }
}

/// What a check found besides its [`CheckStatus`]: HAProxy's `check_code` and
/// `check_duration` columns and the `info` of its state-change log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckDetail {
    /// The HTTP status of an HTTP check's response.
    pub code: Option<u16>,
    /// Why the check failed, in the words of its error (`Connection refused`).
    pub info: Option<String>,
    /// From the start of the connect to the verdict, in ms.
    pub duration_ms: u64,
}

/// Health check settings and progress of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The server has `check` (from the config or `add server`).
    pub configured: bool,
    /// Not turned off by `disable health`.
    pub enabled: bool,
    pub inter: Duration,
    pub rise: u32,
    pub fall: u32,
    /// 0 ..= rise + fall - 1, HAProxy's `check_health`.
    pub health: u32,
    pub status: CheckStatus,
    /// Failed checks, cumulative (`chkfail`).
    pub failures: u64,
    /// Transitions to DOWN or MAINT (`chkdown`).
    pub downs: u64,
    /// The HTTP status of the last HTTP check that was applied (`check_code`).
    pub code: Option<u16>,
    /// How long the last applied check took, in ms (`check_duration`).
    pub duration_ms: Option<u64>,
}

impl Check {
    pub fn max_health(&self) -> u32 {
        self.rise + self.fall - 1
    }

    /// HAProxy's `srv_getinter`: `inter` when fully UP, `downinter` when fully DOWN,
    /// `fastinter` in between (each falling back to `inter` when not set).
    pub fn interval(&self, op: OpState, tuning: &CheckTuning) -> Duration {
        if self.health == self.max_health() {
            self.inter
        } else if op == OpState::Down && self.health == 0 {
            tuning.downinter.unwrap_or(self.inter)
        } else {
            tuning.fastinter.unwrap_or(self.inter)
        }
    }

    /// Checks run only when configured, enabled (not `disable health`).
    pub fn active(&self) -> bool {
        self.configured && self.enabled
    }
}

/// Everything needed to create a server, from a `server` line or `add server`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub name: String,
    pub addr: SocketAddr,
    pub options: ServerOptions,
}

impl ServerSpec {
    /// A server with HAProxy's defaults ([`ServerOptions::default`]: no check, not a backup,
    /// weight 1, `inter 2s rise 2 fall 3`).
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> Self {
        ServerSpec {
            name: name.into(),
            addr,
            options: ServerOptions::default(),
        }
    }
}

impl From<&ServerConfig> for ServerSpec {
    fn from(c: &ServerConfig) -> Self {
        ServerSpec {
            name: c.name.clone(),
            addr: c.addr,
            options: c.options.clone(),
        }
    }
}

/// One server of a backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Server id inside its backend (`sid`), never reused.
    pub id: u32,
    pub name: String,
    pub addr: SocketAddr,
    pub backup: bool,
    pub cookie: Option<String>,
    pub maxconn: Option<u32>,
    pub admin: AdminState,
    pub op: OpState,
    pub check: Check,
    /// Current user weight (`set weight`), 0..=256.
    pub weight: u32,
    /// Slow start: percent of `weight` in effect (100 except while warming up after coming
    /// back UP, see [`Server::effective_weight`]).
    pub ramp: u32,
    /// Check timing, warm-up and passive observation options.
    pub tuning: CheckTuning,
    /// Weight from the config (`initial` in `get weight`).
    pub initial_weight: u32,
    /// Added at runtime with `add server`.
    pub dynamic: bool,
    /// `del server` was asked while it still had requests: no new traffic, removed when idle.
    pub deleting: bool,
    /// Unix seconds of the last state change (`lastchg`).
    pub last_change: u64,
    /// Seconds spent DOWN before the current stretch (`downtime`).
    pub downtime: u64,
    /// `send-proxy[-v2]`: new connections to it start with a PROXY header.
    pub send_proxy: Option<crate::config::ProxyVersion>,
}

impl Server {
    /// May take new requests (without a persistence cookie).
    pub fn takes_new_traffic(&self) -> bool {
        self.admin == AdminState::Ready
            && self.op == OpState::Up
            && self.weight > 0
            && !self.deleting
    }

    /// May take requests that carry its persistence cookie (READY or DRAIN, alive).
    pub fn takes_persistent_traffic(&self) -> bool {
        self.admin != AdminState::Maint && self.op != OpState::Down && !self.deleting
    }

    /// The weight balancers use: the user weight, scaled by the slow-start ramp while the
    /// server warms up (at least 1, so a warming server is never skipped altogether).
    pub fn effective_weight(&self) -> u32 {
        if self.ramp >= RAMP_FULL || self.weight == 0 {
            return self.weight;
        }
        (self.weight * self.ramp).div_ceil(RAMP_FULL).max(1)
    }

    /// Up and out of maintenance: a server becoming live starts its slow-start ramp.
    pub fn is_live(&self) -> bool {
        self.op == OpState::Up && self.admin != AdminState::Maint
    }
}

/// [`Server::ramp`] of a server not warming up.
pub const RAMP_FULL: u32 = 100;
/// [`Server::ramp`] a server with `slowstart` starts from when it comes back UP.
pub const RAMP_START: u32 = 1;

/// A backend (or the backend side of a `listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub name: String,
    /// Proxy id (`iid`).
    pub id: u32,
    pub mode: Mode,
    pub algorithm: Algorithm,
    pub allbackups: bool,
    pub redispatch: bool,
    pub retries: u32,
    pub cookie: Option<CookieConfig>,
    pub httpchk: Option<HttpCheck>,
    /// `option tcp-check` rules or a ready-made tcp check; `None` with `httpchk` or plain.
    pub tcpchk: Option<TcpCheck>,
    pub servers: Vec<Server>,
    /// Next `sid` for `add server`.
    pub next_server_id: u32,
}

impl Backend {
    /// Position of the server with this id.
    pub fn position(&self, id: u32) -> Option<usize> {
        self.servers.iter().position(|s| s.id == id)
    }

    pub fn server(&self, id: u32) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }

    pub fn server_by_name(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// Servers that new traffic may go to: the usable active ones; if none, the first usable
    /// backup (all usable backups with `option allbackups`).
    pub fn eligible(&self) -> impl Iterator<Item = (usize, &Server)> {
        let any_active = self
            .servers
            .iter()
            .any(|s| !s.backup && s.takes_new_traffic());
        let first_backup = if any_active {
            None
        } else {
            self.servers
                .iter()
                .position(|s| s.backup && s.takes_new_traffic())
        };
        let allbackups = self.allbackups;
        self.servers.iter().enumerate().filter(move |(i, s)| {
            s.takes_new_traffic()
                && if any_active {
                    !s.backup
                } else if allbackups {
                    s.backup
                } else {
                    Some(*i) == first_backup
                }
        })
    }
}

/// A frontend (or the frontend side of a `listen`).
#[derive(Debug, Clone, PartialEq)]
pub struct Frontend {
    pub name: String,
    pub id: u32,
    pub mode: Mode,
    /// Index into [`State::backends`] of its `default_backend`.
    pub default_backend: Option<usize>,
    /// False after `disable frontend` (PAUSED).
    pub enabled: bool,
}

/// The whole runtime state one shard routes by.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    pub frontends: Vec<Frontend>,
    pub backends: Vec<Backend>,
    /// The maps the rules' `map*` converters read (`add|set|del|clear map` change them).
    pub maps: Maps,
    /// Session ticket keys (`set ssl tls-key` changes them).
    pub tls: super::TlsState,
    /// Sequence number of the last applied mutation.
    pub version: u64,
}

/// A server named by backend index and server id: stable across additions and deletions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerRef {
    pub backend: usize,
    pub server: u32,
}

impl Server {
    /// A server as it starts, from the config at start-up or from `add server`.
    pub fn new(id: u32, spec: &ServerSpec, dynamic: bool, now: u64) -> Server {
        let options = &spec.options;
        Server {
            id,
            name: spec.name.clone(),
            addr: spec.addr,
            backup: options.backup,
            cookie: options.cookie.clone(),
            maxconn: options.maxconn,
            send_proxy: options.send_proxy,
            admin: if options.disabled {
                AdminState::Maint
            } else {
                AdminState::Ready
            },
            op: OpState::Up,
            check: Check {
                configured: options.check,
                enabled: true,
                inter: options.inter,
                rise: options.rise,
                fall: options.fall,
                // HAProxy starts a checked server "UP 1/3": health = rise, first check at once.
                health: if options.check {
                    options.rise
                } else {
                    options.rise + options.fall - 1
                },
                status: CheckStatus::Init,
                failures: 0,
                downs: 0,
                code: None,
                duration_ms: None,
            },
            weight: options.weight,
            initial_weight: options.weight,
            // HAProxy does not slow-start servers at start-up.
            ramp: RAMP_FULL,
            tuning: options.tuning,
            dynamic,
            deleting: false,
            last_change: now,
            downtime: 0,
        }
    }
}

/// The maps of every frontend's rules, numbered among the ACLs' pattern references as
/// HAProxy numbers them.
fn maps_of(config: &Config) -> Maps {
    let sides = || config.proxies.iter().filter_map(|p| p.frontend.as_ref());
    crate::rules::build_maps(
        sides().flat_map(|f| f.switching.acls.pattern_refs()),
        sides().flat_map(|f| {
            f.switching
                .map_uses()
                .chain(f.http_rules.map_uses())
                .chain(f.response_rules.map_uses())
        }),
    )
}

impl State {
    /// The start-up state of a configuration.
    pub fn from_config(config: &Config, now: u64) -> State {
        let mut state = State::default();
        for proxy in &config.proxies {
            if let Some(side) = &proxy.backend {
                let servers: Vec<Server> = side
                    .servers
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Server::new(i as u32 + 1, &ServerSpec::from(c), false, now))
                    .collect();
                state.backends.push(Backend {
                    name: proxy.name.clone(),
                    id: proxy.id,
                    mode: proxy.mode,
                    algorithm: side.balance,
                    allbackups: proxy.options.allbackups,
                    redispatch: proxy.options.redispatch,
                    retries: side.retries,
                    cookie: side.cookie.clone(),
                    httpchk: side.httpchk.clone(),
                    tcpchk: side.tcpchk.clone(),
                    next_server_id: servers.len() as u32 + 1,
                    servers,
                });
            }
        }
        for proxy in &config.proxies {
            if let Some(side) = &proxy.frontend {
                let target = side
                    .default_backend
                    .as_deref()
                    .or(proxy.backend.as_ref().map(|_| proxy.name.as_str()));
                state.frontends.push(Frontend {
                    name: proxy.name.clone(),
                    id: proxy.id,
                    mode: proxy.mode,
                    default_backend: target.and_then(|name| state.backend_index(name)),
                    enabled: true,
                });
            }
        }
        state.maps = maps_of(config);
        state
    }

    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.backends.iter().position(|b| b.name == name)
    }

    pub fn frontend_index(&self, name: &str) -> Option<usize> {
        self.frontends.iter().position(|f| f.name == name)
    }

    /// Find `backend/server` by names.
    pub fn find_server(&self, backend: &str, server: &str) -> Option<ServerRef> {
        let b = self.backend_index(backend)?;
        let s = self.backends[b].server_by_name(server)?;
        Some(ServerRef {
            backend: b,
            server: s.id,
        })
    }

    pub fn server(&self, r: ServerRef) -> Option<&Server> {
        self.backends.get(r.backend)?.server(r.server)
    }

    pub fn server_mut(&mut self, r: ServerRef) -> Option<&mut Server> {
        self.backends
            .get_mut(r.backend)?
            .servers
            .iter_mut()
            .find(|s| s.id == r.server)
    }
}
