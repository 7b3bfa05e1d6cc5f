//! Per-proxy settings the request path reads (timeouts, options), resolved once from the
//! config with HAProxy's defaults, indexed like `State::frontends` / `State::backends`.

use crate::config::{Config, CookieConfig, Mode, RetryOn};
use crate::http::Limits;
use crate::rules::{ErrorFiles, HttpRules, ResponseRules, Switching};
use crate::state::State;
use std::time::Duration;

/// Used when the config sets no `timeout connect` (HAProxy warns and waits forever; we don't).
const DEFAULT_CONNECT: Duration = Duration::from_secs(5);
/// Used when the config sets no `timeout client` / `timeout server`.
const DEFAULT_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct FrontendSettings {
    pub mode: Mode,
    pub client_timeout: Duration,
    /// Time to receive a complete request head (`timeout http-request`, else client).
    pub http_request_timeout: Duration,
    /// Time to wait for the next request on a keep-alive connection.
    pub keep_alive_timeout: Duration,
    pub forwardfor: bool,
    pub httpclose: bool,
    /// `option dontlognull`: a connection that sent nothing is not logged (still counted).
    pub dontlognull: bool,
    /// `option http-ignore-probes`: a connection that sent nothing before `timeout
    /// http-request` is closed without a 408, uncounted and unlogged.
    pub ignore_probes: bool,
    /// Head size limit (`tune.bufsize`), for requests and for the responses relayed back.
    pub limits: Limits,
    /// `use_backend` rules, their backends as indices into the state's backends.
    pub switching: Switching<usize>,
    /// `http-request` and `redirect` rules, over the ACLs of `switching`.
    pub http_rules: HttpRules,
    /// Per bind address of the frontend (in config order), its TLS config on a TLS bind.
    /// Empty until the shard fills it from the process's [`crate::tls::Contexts`].
    pub tls: Vec<Option<crate::tls::ServerConfig>>,
    /// `http-response` rules, over the ACLs of `switching`.
    pub response_rules: ResponseRules,
    /// `errorfile` replies for errors answered before a backend is chosen (and after, when
    /// the backend has none for the status).
    pub error_files: ErrorFiles,
    /// Per bind address of the frontend (in config order): `accept-proxy`.
    pub accept_proxy: Vec<bool>,
}

#[derive(Debug, Clone)]
pub struct BackendSettings {
    pub connect_timeout: Duration,
    /// How long a request may wait for a server under its `maxconn` (`timeout queue`, else
    /// `timeout connect`, as HAProxy does) before it gets 503.
    pub queue_timeout: Duration,
    pub server_timeout: Duration,
    /// `timeout tunnel`: once an upgrade made the exchange a tunnel (or a `mode tcp` session
    /// is relayed), the inactivity timeout of both sides in place of client and server ones.
    pub tunnel_timeout: Option<Duration>,
    /// `timeout check`: with it, a check connects within min(`timeout connect`, `inter`) and
    /// then waits this long for the response; without it, the whole check gets `inter`
    /// (HAProxy's rule).
    pub check_timeout: Option<Duration>,
    pub forwardfor: bool,
    pub httpclose: bool,
    /// `retry-on`: which failures are retried (within the safety rules of `retry`).
    pub retry_on: RetryOn,
    /// `cookie NAME insert|rewrite|prefix [indirect] [nocache]` (http backends only).
    pub cookie: Option<CookieConfig>,
    /// `errorfile` replies for errors answered once the request is routed here.
    pub error_files: ErrorFiles,
    /// Its TLS servers' client sides, by server name. Empty until the shard fills it from
    /// the process's [`crate::tls::Contexts`].
    pub tls: std::collections::HashMap<String, crate::tls::upstream::ServerTls>,
}

impl FrontendSettings {
    pub fn from_config(config: &Config, state: &State) -> Vec<FrontendSettings> {
        state
            .frontends
            .iter()
            .map(|f| {
                let p = config.proxy_with_frontend(&f.name);
                let t = p.map(|p| p.timeouts).unwrap_or_default();
                let client = t.client.unwrap_or(DEFAULT_IDLE);
                let http_request = t.http_request.unwrap_or(client);
                FrontendSettings {
                    mode: f.mode,
                    client_timeout: client,
                    http_request_timeout: http_request,
                    keep_alive_timeout: t.http_keep_alive.unwrap_or(http_request),
                    forwardfor: p.is_some_and(|p| p.options.forwardfor),
                    httpclose: p.is_some_and(|p| p.options.httpclose),
                    dontlognull: p.is_some_and(|p| p.options.dontlognull),
                    ignore_probes: p.is_some_and(|p| p.options.http_ignore_probes),
                    limits: limits_of(config),
                    switching: switching_of(p, state),
                    http_rules: http_rules_of(p, state),
                    tls: Vec::new(),
                    response_rules: response_rules_of(p, state),
                    error_files: p.map(|p| p.error_files.clone()).unwrap_or_default(),
                    accept_proxy: p
                        .and_then(|p| p.frontend.as_ref())
                        .map(|f| f.binds.iter().map(|b| b.accept_proxy).collect())
                        .unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// A frontend's `http-request` and `redirect` rules, their map converters pointed at the
/// state's maps.
fn http_rules_of(proxy: Option<&crate::config::Proxy>, state: &State) -> HttpRules {
    let mut rules = proxy
        .and_then(|p| p.frontend.as_ref())
        .map(|f| f.http_rules.clone())
        .unwrap_or_default();
    rules.bind_maps(&state.maps);
    rules
}

/// A frontend's `http-response` rules, their map converters pointed at the state's maps.
fn response_rules_of(proxy: Option<&crate::config::Proxy>, state: &State) -> ResponseRules {
    let mut rules = proxy
        .and_then(|p| p.frontend.as_ref())
        .map(|f| f.response_rules.clone())
        .unwrap_or_default();
    rules.bind_maps(&state.maps);
    rules
}

/// A frontend's `use_backend` rules with their backends resolved. Config validation made
/// sure each name is a backend, and the state holds one per backend section.
fn switching_of(proxy: Option<&crate::config::Proxy>, state: &State) -> Switching<usize> {
    let Some(side) = proxy.and_then(|p| p.frontend.as_ref()) else {
        return Switching::default();
    };
    let mut switching = side
        .switching
        .resolve(|name| {
            state
                .backends
                .iter()
                .position(|b| b.name == *name)
                .ok_or_else(|| format!("use_backend {name}: no such backend"))
        })
        .unwrap_or_else(|e| {
            log::error!("{e}: the frontend's rules are dropped");
            Switching::default()
        });
    switching.bind_maps(&state.maps);
    switching
}

/// The codec's limits from the global section (`tune.bufsize`).
pub fn limits_of(config: &Config) -> Limits {
    let mut limits = Limits::default();
    if let Some(size) = config.global.tune_bufsize {
        limits.max_head_len = size;
    }
    limits
}

impl BackendSettings {
    pub fn from_config(config: &Config, state: &State) -> Vec<BackendSettings> {
        state
            .backends
            .iter()
            .map(|b| {
                let p = config.proxy_with_backend(&b.name);
                let t = p.map(|p| p.timeouts).unwrap_or_default();
                let side = p.and_then(|p| p.backend.as_ref());
                BackendSettings {
                    connect_timeout: t.connect.unwrap_or(DEFAULT_CONNECT),
                    queue_timeout: t.queue.or(t.connect).unwrap_or(DEFAULT_CONNECT),
                    check_timeout: t.check,
                    server_timeout: t.server.unwrap_or(DEFAULT_IDLE),
                    tunnel_timeout: t.tunnel,
                    forwardfor: p.is_some_and(|p| p.options.forwardfor),
                    httpclose: p.is_some_and(|p| p.options.httpclose),
                    retry_on: side.map(|s| s.retry_on).unwrap_or_default(),
                    cookie: side.and_then(|s| s.cookie.clone()),
                    error_files: p.map(|p| p.error_files.clone()).unwrap_or_default(),
                    tls: Default::default(),
                }
            })
            .collect()
    }
}
