//! The typed, immutable configuration that the parser produces from `haproxy.cfg`.
//!
//! Every element that an error may point at carries its [`Location`] (file:line). Nothing here
//! knows about the runtime: `state` builds its replicas from these values.

pub use super::checks::{
    CheckConnect, CheckExpect, CheckRegex, HeaderPattern, HttpCheckRule, HttpCheckSend,
    HttpChkRequest, HttpMatch,
};
pub use super::tcp_checks::{
    CheckText, TcpCheck, TcpCheckProtocol, TcpCheckRule, TcpConnect, TcpExpect, TcpMatch,
};
use crate::rules::{HttpRules, ResponseRules, Switching};
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
    /// `stats maxconn`: concurrent connections per admin socket unless the socket sets its
    /// own `maxconn` (HAProxy's default: 10).
    pub stats_maxconn: Option<u32>,
    /// `tune.bufsize`: the largest request or response head, in bytes (HAProxy's default:
    /// 16384). Each connection buffers at most a few times this much.
    pub tune_bufsize: Option<usize>,
    /// `log` lines of the global section: where `log global` in a proxy sends its logs.
    pub logs: Vec<LogTarget>,
    /// `log-tag`: the program name in syslog headers (default `pointsman`).
    pub log_tag: Option<String>,
    /// `hard-stop-after T`: the longest a soft stop may wait for connections to finish.
    pub hard_stop_after: Option<Duration>,
    /// `server-state-file PATH`: the file `load-server-state-from-file global` reads.
    pub server_state_file: Option<PathBuf>,
    /// `server-state-base DIR`: where relative state file names are looked up.
    pub server_state_base: Option<PathBuf>,
    /// `pidfile PATH` (the command line's `-p` wins).
    pub pidfile: Option<PathBuf>,
    /// `crt-base DIR`: where a relative `bind … crt FILE` is.
    pub crt_base: Option<PathBuf>,
    /// `ca-base DIR`: where a relative `bind … ca-file F` / `crl-file F` is.
    pub ca_base: Option<PathBuf>,
    /// `ssl-default-bind-options`, `-ciphers`, `-ciphersuites`, `-curves`: what a TLS bind
    /// uses where it sets nothing itself.
    pub ssl_default_bind: TlsOptions,
    /// `ssl-default-server-options`, `-ciphers`, `-ciphersuites`: what a TLS server uses
    /// where it sets nothing itself.
    pub ssl_default_server: TlsOptions,
    /// `ssl-server-verify none|required`: a TLS server's `verify` when it sets none.
    pub ssl_server_verify: Option<Verify>,
    /// `tune.ssl.cachesize N`: TLS 1.2 sessions kept for resumption by session id.
    pub tune_ssl_cachesize: Option<usize>,
    /// `tune.ssl.maxrecord N`: the largest TLS record sent, in bytes of plaintext.
    pub tune_ssl_maxrecord: Option<usize>,
    /// `user NAME` / `uid N`: the user a serving process runs as once its sockets are bound.
    pub uid: Option<u32>,
    /// `group NAME` / `gid N`: the group a serving process runs as once its sockets are bound.
    pub gid: Option<u32>,
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

/// Where a `bind` or an admin socket listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SocketAddress {
    /// `unix@PATH` (or a path): a unix stream socket.
    Unix(PathBuf),
    /// `ADDR:PORT`, `ipv4@ADDR:PORT`, `ipv6@[ADDR]:PORT`.
    Tcp(SocketAddr),
    /// `fd@N`: a socket already listening, inherited from the parent process (systemd socket
    /// activation, a test harness), used as is.
    Fd(i32),
}

impl SocketAddress {
    /// The TCP address, for a `Tcp` socket.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            SocketAddress::Tcp(addr) => Some(*addr),
            _ => None,
        }
    }
}

impl fmt::Display for SocketAddress {
    /// The canonical spelling, also the key that names a listener handed to a new process.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketAddress::Unix(path) => write!(f, "unix@{}", path.display()),
            SocketAddress::Tcp(addr) => write!(f, "{addr}"),
            SocketAddress::Fd(fd) => write!(f, "fd@{fd}"),
        }
    }
}

/// `stats socket PATH|ipv4@ADDR:PORT|fd@N [mode M] [user U] [group G] [level L] [maxconn N]
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
    /// `timeout tunnel`: replaces client and server timeouts once a connection is a tunnel.
    pub tunnel: Option<Duration>,
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
    /// `option dontlognull`: a connection that sent no byte of a request is not logged
    /// (HAProxy's PR_O_NULLNOLOG); it is still counted.
    pub dontlognull: bool,
    /// `option http-ignore-probes`: a connection that sent no byte of a request before
    /// `timeout http-request` is closed silently: no 408, not counted, not logged.
    pub http_ignore_probes: bool,
}

/// `option httpchk [METHOD URI [VERSION]]` and its `http-check` rules, with HAProxy's
/// implicit ones added (see [`super::checks`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    /// What a `send` rule that names no method, URI or version uses (`option httpchk`'s
    /// request for the first send, HAProxy's `OPTIONS / HTTP/1.0` after it).
    pub request: HttpChkRequest,
    /// Connect, send and expect steps in order; the first is a connect.
    pub rules: Vec<HttpCheckRule>,
    /// `http-check disable-on-404`: a 404 from a server that is UP drains it (stopping).
    pub disable_on_404: bool,
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

/// `observe layer4|layer7`: a server is judged by its live traffic too, not only by checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observe {
    /// Connection failures, and connections that closed before any response byte.
    Layer4,
    /// The layer4 errors plus 5xx responses (except 501 and 505) and response timeouts.
    Layer7,
}

/// `on-error`: what `error-limit` consecutive observed errors do (HAProxy's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Only run the next check sooner, at `fastinter` (HAProxy's default).
    #[default]
    Fastinter,
    /// Count as one failed check.
    FailCheck,
    /// Leave the server one failed check away from DOWN.
    SuddenDeath,
    /// Mark the server DOWN at once; checks bring it back after `rise` successes.
    MarkDown,
}

/// The health options of a server line beyond `check inter rise fall`: check intervals while
/// in transition or DOWN, warm-up, and passive observation of live traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTuning {
    /// `fastinter`: interval while the server is between UP and DOWN (else `inter`).
    pub fastinter: Option<Duration>,
    /// `downinter`: interval while the server is fully DOWN (else `inter`).
    pub downinter: Option<Duration>,
    /// `slowstart`: a server coming back UP ramps its effective weight over this time.
    pub slowstart: Option<Duration>,
    pub observe: Option<Observe>,
    /// `error-limit` (HAProxy's default: 10).
    pub error_limit: u32,
    pub on_error: OnError,
}

impl Default for CheckTuning {
    fn default() -> Self {
        CheckTuning {
            fastinter: None,
            downinter: None,
            slowstart: None,
            observe: None,
            error_limit: 10,
            on_error: OnError::Fastinter,
        }
    }
}

/// `retry-on`: which failures of a request that sent nothing to the client yet are retried.
/// Whatever the list, a request is only sent again when that cannot run it twice (see
/// `proxy::retry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOn {
    /// The connection to the server could not be established.
    pub conn_failure: bool,
    /// The server closed (or reset) the connection without a byte of response.
    pub empty_response: bool,
    /// The server answered bytes that are not an HTTP response.
    pub junk_response: bool,
    /// `timeout server` expired before any byte of response.
    pub response_timeout: bool,
    /// Bit `i` set: a response with status `RETRYABLE_STATUSES[i]` is retried.
    pub statuses: u8,
}

/// The statuses `retry-on` may name, HAProxy's list.
pub const RETRYABLE_STATUSES: [u16; 8] = [404, 408, 425, 500, 501, 502, 503, 504];

impl RetryOn {
    /// `retry-on none`.
    pub const NONE: RetryOn = RetryOn {
        conn_failure: false,
        empty_response: false,
        junk_response: false,
        response_timeout: false,
        statuses: 0,
    };

    /// Whether a response with this status is to be retried.
    pub fn status(&self, status: u16) -> bool {
        RETRYABLE_STATUSES
            .iter()
            .position(|&s| s == status)
            .is_some_and(|i| self.statuses & (1 << i) != 0)
    }
}

impl Default for RetryOn {
    /// Without `retry-on`: `conn-failure empty-response`. HAProxy's default is `conn-failure`
    /// alone; pointsman also retries a request the server dropped without answering (a server
    /// killed mid-request), because that is the failure the zero-error promise is about, and
    /// the retry rules already refuse to send a non-idempotent request twice.
    fn default() -> Self {
        RetryOn {
            conn_failure: true,
            empty_response: true,
            ..RetryOn::NONE
        }
    }
}

/// The options of a server: what a `server` line, a `default-server` line and the runtime
/// API's `add server` set, one struct for the three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
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
    /// `fastinter`, `downinter`, `slowstart`, `observe`, `error-limit`, `on-error`.
    pub tuning: CheckTuning,
    /// `send-proxy` / `send-proxy-v2`: each new connection to the server starts with a PROXY
    /// protocol header carrying the client's address.
    pub send_proxy: Option<ProxyVersion>,
    /// `ssl`, `verify`, `ca-file`, `sni`, `alpn`, `crt`, `check-ssl` …: TLS to the server
    /// (boxed: most servers have none, and a `Mutation` carrying options stays small).
    pub ssl: Box<ServerSsl>,
}

/// A server's TLS options, as written (the `tls` module builds the client side from them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerSsl {
    /// `ssl` (`no-ssl` undoes a `default-server ssl`): traffic to the server is TLS.
    pub enabled: bool,
    /// `verify none|required`; unset: the global `ssl-server-verify` (HAProxy's default:
    /// required).
    pub verify: Option<Verify>,
    /// `ca-file F`: the CAs the server's certificate is verified against.
    pub ca_file: Option<PathBuf>,
    /// `crt F`: the client certificate (and key) shown to the server.
    pub crt: Option<PathBuf>,
    /// `sni EXPR`: a sample expression whose value is sent as the server name.
    pub sni: Option<String>,
    /// `alpn LIST`: the protocols offered, in order of preference.
    pub alpn: Vec<String>,
    /// `verifyhost NAME`: the name the certificate must hold (else the SNI's, else none).
    pub verifyhost: Option<String>,
    /// `check-ssl`: health checks speak TLS even without `ssl` (with `ssl` they always do).
    pub check_ssl: bool,
    /// `check-sni NAME`: the server name a TLS health check sends.
    pub check_sni: Option<String>,
    /// `no-ssl-reuse`: every connection makes a full handshake (no session resumption).
    pub no_reuse: bool,
    /// `ssl-min-ver`, `ssl-max-ver`, `ciphers`, `ciphersuites`, `no-tls-tickets`.
    pub tls: TlsOptions,
}

impl ServerSsl {
    /// Whether health checks of the server speak TLS.
    pub fn checks_over_tls(&self) -> bool {
        self.enabled || self.check_ssl
    }
}

/// A PROXY protocol version a server is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyVersion {
    V1,
    V2,
}

impl Default for ServerOptions {
    /// HAProxy's defaults, those of a `server` line without options (and no `default-server`):
    /// the one place they are written.
    fn default() -> Self {
        ServerOptions {
            check: false,
            backup: false,
            weight: 1,
            disabled: false,
            inter: Duration::from_secs(2),
            rise: 2,
            fall: 3,
            maxconn: None,
            cookie: None,
            tuning: CheckTuning::default(),
            send_proxy: None,
            ssl: Box::default(),
        }
    }
}

/// One `server` line (after `default-server` values were applied).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub name: String,
    pub addr: SocketAddr,
    pub options: ServerOptions,
    pub location: Location,
}

/// One address of a `bind` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    pub addr: SocketAddress,
    pub location: Location,
    /// `ssl crt …`: TLS is terminated on this address.
    pub ssl: Option<BindSsl>,
    /// `accept-proxy`: every connection starts with a PROXY protocol header (v1 or v2), read
    /// before anything else (TLS included); its source address becomes the client's.
    pub accept_proxy: bool,
}

/// A bind's TLS options (`bind ADDR ssl crt FILE [alpn LIST]`), as written: the certificates
/// are read by `tls`, not here.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BindSsl {
    /// Each `crt` argument in order: a PEM file with the chain and (or beside it, as
    /// `FILE.key`) the key. The first is the default certificate.
    pub crts: Vec<PathBuf>,
    /// `alpn h2,http/1.1`: the protocols offered in ALPN, in the order of preference.
    pub alpn: Vec<String>,
    /// `strict-sni`: a client whose server name matches no certificate is refused instead of
    /// getting the first one.
    pub strict_sni: bool,
    /// Versions, ciphers, curves, tickets (unset ones come from `ssl-default-bind-*`).
    pub tls: TlsOptions,
    /// `ca-file F`: the CAs a client certificate is verified against.
    pub ca_file: Option<PathBuf>,
    /// `verify none|optional|required` (HAProxy's default: `none`, no certificate asked).
    pub verify: Option<Verify>,
    /// `crl-file F`: revoked client certificates.
    pub crl_file: Option<PathBuf>,
    /// `tls-ticket-keys F`: the session ticket keys, one base64 key a line.
    pub ticket_keys: Option<PathBuf>,
}

/// `verify` on a bind: whether a client certificate is asked for and needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    None,
    Optional,
    Required,
}

/// A TLS protocol version as `ssl-min-ver` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

/// The TLS options a bind line and `ssl-default-bind-*` share, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
    /// `ciphers`: an OpenSSL cipher list for TLS 1.2.
    pub ciphers: Option<String>,
    /// `ciphersuites`: TLS 1.3 suite names, `:`-separated.
    pub ciphersuites: Option<String>,
    /// `curves`: key exchange groups in OpenSSL's names, `:`-separated.
    pub curves: Option<String>,
    pub no_tls_tickets: bool,
    /// `prefer-client-ciphers`: the client's order of ciphers wins (HAProxy's default is the
    /// server's).
    pub prefer_client_ciphers: bool,
}

impl TlsOptions {
    /// These options where set, else `defaults`' (flags: either).
    pub fn or(&self, defaults: &TlsOptions) -> TlsOptions {
        TlsOptions {
            min_version: self.min_version.or(defaults.min_version),
            max_version: self.max_version.or(defaults.max_version),
            ciphers: self.ciphers.clone().or_else(|| defaults.ciphers.clone()),
            ciphersuites: (self.ciphersuites.clone()).or_else(|| defaults.ciphersuites.clone()),
            curves: self.curves.clone().or_else(|| defaults.curves.clone()),
            no_tls_tickets: self.no_tls_tickets || defaults.no_tls_tickets,
            prefer_client_ciphers: self.prefer_client_ciphers || defaults.prefer_client_ciphers,
        }
    }
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
    /// `acl` and `use_backend` rules; each names a backend or listen that exists.
    pub switching: Switching<String>,
    /// `http-request` and `redirect` rules, over the ACLs of `switching`.
    pub http_rules: HttpRules,
    /// `http-response` rules, over the ACLs of `switching`.
    pub response_rules: ResponseRules,
}

/// The backend side of a proxy (`backend` or `listen`).
#[derive(Debug, Clone, Default)]
pub struct BackendSide {
    pub balance: Algorithm,
    pub servers: Vec<ServerConfig>,
    /// `retries N` (HAProxy's default: 3).
    pub retries: u32,
    pub httpchk: Option<HttpCheck>,
    /// `option tcp-check` and its rules, or a ready-made tcp check (`option smtpchk` …).
    pub tcpchk: Option<TcpCheck>,
    pub cookie: Option<CookieConfig>,
    /// `retry-on` (see [`RetryOn::default`] when not given).
    pub retry_on: RetryOn,
    /// `load-server-state-from-file` (HAProxy's default: `none`).
    pub load_state: LoadServerState,
    /// `server-state-file-name` for `load-server-state-from-file local`; `None` means the
    /// backend's name (`use-backend-name`, HAProxy's default).
    pub state_file_name: Option<String>,
}

/// `load-server-state-from-file global|local|none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadServerState {
    /// Read this backend's servers from the global `server-state-file`.
    Global,
    /// Read them from the backend's own file (`server-state-file-name`, in `server-state-base`).
    Local,
    #[default]
    None,
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
    /// `errorfile` replies, in place of HAProxy's pages for errors the proxy answers itself
    /// (the backend's first, then the frontend's, as in HAProxy).
    pub error_files: crate::rules::ErrorFiles,
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
