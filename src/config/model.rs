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
    /// Warnings about accepted keywords that change nothing (e.g. `daemon`, `user`).
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
    /// `log` lines of the global section: where `log global` in a proxy sends its logs.
    pub logs: Vec<LogTarget>,
    /// `log-tag`: the program name in syslog headers (default `pointsman`).
    pub log_tag: Option<String>,
}

/// Where a `log` line sends its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDestination {
    /// `stdout` / `fd@1`.
    Stdout,
    /// `stderr` / `fd@2`.
    Stderr,
    /// A syslog server over UDP (`127.0.0.1:514`, `udp@…`, `ipv4@…`); port 514 when not given.
    Udp(SocketAddr),
    /// A local syslog socket (`/dev/log`, `unix@…`), datagrams.
    Unix(PathBuf),
}

/// `format …` of a `log` line: the header put before each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `<PRI>Mmm dd hh:mm:ss TAG[PID]: ` (HAProxy's default).
    #[default]
    Rfc3164,
    /// `<PRI>` only.
    Short,
    /// No header at all.
    Raw,
}

/// One `log <target> [len N] [format F] <facility> [<max level> [<min level>]]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub destination: LogDestination,
    pub format: LogFormat,
    /// Syslog facility number (`local0` = 16).
    pub facility: u8,
    /// Messages above this severity number (less severe) are not sent; `debug` (7) by default.
    pub max_level: u8,
    /// Messages more severe than this (a lower number) are sent with this severity instead
    /// (HAProxy's `minlevel` caps, it does not filter); `emerg` (0) by default.
    pub min_level: u8,
    /// `len N`: longer messages are cut (HAProxy's default: 1024).
    pub max_len: usize,
    pub location: Location,
}

/// Who may use the admin buttons of the stats page (`stats admin if COND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsAdmin {
    /// No `stats admin` line: the page is read-only.
    #[default]
    Never,
    /// `stats admin if TRUE`.
    Always,
    /// `stats admin if LOCALHOST`: clients from 127.0.0.0/8 or ::1.
    Localhost,
}

/// The stats page of a frontend or listen (`stats enable`, `stats uri` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsPage {
    /// `stats uri`: a request whose path starts with it gets the page (HAProxy's default:
    /// `/haproxy?stats`).
    pub uri: String,
    /// `stats refresh`: the page reloads itself this often.
    pub refresh: Option<Duration>,
    /// `stats auth user:password` lines; empty: no authentication.
    pub auth: Vec<(String, String)>,
    /// `stats realm` (HAProxy's default: `HAProxy Statistics`).
    pub realm: String,
    pub admin: StatsAdmin,
    /// `stats hide-version`: the page does not print pointsman's version.
    pub hide_version: bool,
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

/// `stats socket PATH|ipv4@ADDR:PORT [mode M] [level L] [expose-fd listeners]`.
#[derive(Debug, Clone)]
pub struct StatsSocket {
    pub address: SocketAddress,
    /// File mode of a unix socket, parsed from octal (`mode 660`).
    pub mode: Option<u32>,
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
    /// `stats enable` & co: this frontend serves the stats page under its `uri`.
    pub stats: Option<StatsPage>,
    /// The path Prometheus metrics are served on: `http-request use-service
    /// prometheus-exporter if { path /metrics }`, or pointsman's `stats prometheus [PATH]`.
    pub prometheus: Option<String>,
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
    /// Where its traffic logs and its servers' state changes go (`log global` expanded).
    pub logs: Vec<LogTarget>,
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
