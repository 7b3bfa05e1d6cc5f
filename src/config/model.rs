//! The typed, immutable configuration that the parser produces from `haproxy.cfg`.
//!
//! Every element that an error may point at carries its [`Location`] (file:line). Nothing here
//! knows about the runtime: `state` builds its replicas from these values.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where a config element was written: file and 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The whole parsed configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub global: Global,
    /// Proxies in config order. A `frontend` has only `frontend`, a `backend` only `backend`,
    /// a `listen` both. Proxy ids (`iid` in `show stat`) are numbered from 2 in this order,
    /// as HAProxy does (id 1 is its internal proxy).
    pub proxies: Vec<Proxy>,
    /// Warnings about accepted keywords that change nothing (e.g. `log`, `daemon`).
    pub warnings: Vec<String>,
}

/// `global` section.
#[derive(Debug, Clone, Default)]
pub struct Global {
    pub nbthread: Option<usize>,
    pub maxconn: Option<u32>,
    pub stats_sockets: Vec<StatsSocket>,
    /// `stats timeout`: idle timeout of admin sessions (HAProxy's default: 10 s).
    pub stats_timeout: Option<Duration>,
    /// `stats maxconn`: concurrent connections per admin socket unless the socket sets its
    /// own `maxconn` (HAProxy's default: 10).
    pub stats_maxconn: Option<u32>,
    /// `tune.bufsize`: the largest request or response head, in bytes (HAProxy's default:
    /// 16384). Each connection buffers at most a few times this much.
    pub tune_bufsize: Option<usize>,
}

/// Privilege level of a stats socket, in increasing order of power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    User,
    Operator,
    #[default]
    Admin,
}

/// Where an admin socket listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAddress {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

/// `stats socket PATH|ipv4@ADDR:PORT [mode M] [user U] [group G] [level L] [maxconn N]
/// [expose-fd listeners]`.
#[derive(Debug, Clone)]
pub struct StatsSocket {
    pub address: SocketAddress,
    /// File mode of a unix socket, parsed from octal (`mode 660`).
    pub mode: Option<u32>,
    /// Owner of a unix socket (`user NAME` or `uid N`, resolved when the config is read).
    pub uid: Option<u32>,
    /// Group of a unix socket (`group NAME` or `gid N`).
    pub gid: Option<u32>,
    /// Concurrent connections on this socket (`maxconn N`); else `stats maxconn`, else 10.
    pub maxconn: Option<u32>,
    /// The parser sets HAProxy's default, `operator`, when no `level` is given
    /// (`Level::default()` is `Admin` and is not what HAProxy does).
    pub level: Level,
    /// `expose-fd listeners`: the socket may hand the listening sockets to a new process
    /// (HAProxy's seamless reload).
    pub expose_fd_listeners: bool,
    pub location: Location,
}

/// `mode http|tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Http,
    Tcp,
}

/// `balance ALGO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    #[default]
    RoundRobin,
    StaticRr,
    LeastConn,
    First,
    Source,
    Random,
}

impl Algorithm {
    /// The name HAProxy prints in the `algo` column of `show stat`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RoundRobin => "roundrobin",
            Algorithm::StaticRr => "static-rr",
            Algorithm::LeastConn => "leastconn",
            Algorithm::First => "first",
            Algorithm::Source => "source",
            Algorithm::Random => "random",
        }
    }
}

/// `timeout ...` values. `None` means not set (the runtime applies its own default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub client: Option<Duration>,
    pub server: Option<Duration>,
    pub http_request: Option<Duration>,
    pub http_keep_alive: Option<Duration>,
    pub queue: Option<Duration>,
    pub check: Option<Duration>,
}

/// `option ...` flags (the `no option X` form clears one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub allbackups: bool,
    pub redispatch: bool,
    /// `option httpclose`: close both sides after each response.
    pub httpclose: bool,
    /// `option http-keep-alive`: HAProxy's default HTTP mode; setting it clears `httpclose`
    /// and setting `httpclose` clears it (the last one wins, as in HAProxy).
    pub http_keep_alive: bool,
    pub forwardfor: bool,
    pub httplog: bool,
    pub tcplog: bool,
}

/// `option httpchk [METHOD URI]` and `http-check expect status N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub method: String,
    pub uri: String,
    pub expect_status: Option<u16>,
}

/// `cookie NAME insert|rewrite|prefix [indirect] [nocache]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieMode {
    Insert,
    Rewrite,
    Prefix,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    pub name: String,
    pub mode: CookieMode,
    pub indirect: bool,
    pub nocache: bool,
}

/// One `server` line (after `default-server` values were applied).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub name: String,
    pub addr: SocketAddr,
    pub check: bool,
    pub backup: bool,
    /// 0..=256, default 1.
    pub weight: u32,
    /// `disabled`: starts in maintenance.
    pub disabled: bool,
    /// Health check interval (default 2 s).
    pub inter: Duration,
    /// Consecutive successes to go UP (default 2).
    pub rise: u32,
    /// Consecutive failures to go DOWN (default 3).
    pub fall: u32,
    pub maxconn: Option<u32>,
    pub cookie: Option<String>,
    pub location: Location,
}

/// One `bind` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    pub addr: SocketAddr,
    pub location: Location,
}

/// The frontend side of a proxy (`frontend` or `listen`).
#[derive(Debug, Clone, Default)]
pub struct FrontendSide {
    pub binds: Vec<Bind>,
    /// The backend proxy requests go to. For `listen`, its own name when not given.
    pub default_backend: Option<String>,
    pub maxconn: Option<u32>,
}

/// The backend side of a proxy (`backend` or `listen`).
#[derive(Debug, Clone, Default)]
pub struct BackendSide {
    pub balance: Algorithm,
    pub servers: Vec<ServerConfig>,
    /// `retries N` (HAProxy's default: 3).
    pub retries: u32,
    pub httpchk: Option<HttpCheck>,
    pub cookie: Option<CookieConfig>,
}

/// A `frontend`, `backend` or `listen` section.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub name: String,
    /// HAProxy's proxy id (`iid`): 2, 3, 4 ... in config order.
    pub id: u32,
    pub mode: Mode,
    pub timeouts: Timeouts,
    pub options: Options,
    pub frontend: Option<FrontendSide>,
    pub backend: Option<BackendSide>,
    pub location: Location,
}

impl Config {
    /// The proxy with this name, if any.
    pub fn proxy(&self, name: &str) -> Option<&Proxy> {
        self.proxies.iter().find(|p| p.name == name)
    }

    /// The `frontend` or `listen` with this name.
    pub fn proxy_with_frontend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.frontend.is_some())
    }

    /// The `backend` or `listen` with this name.
    pub fn proxy_with_backend(&self, name: &str) -> Option<&Proxy> {
        self.proxies
            .iter()
            .find(|p| p.name == name && p.backend.is_some())
    }
}
