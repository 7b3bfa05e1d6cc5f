//! Checks that need the whole config, then the final [`Config`].
//!
//! - every frontend and listen has a `bind`; one that serves the stats page or metrics is
//!   `mode http` (and needs no `default_backend`);
//! - `use_backend` names a backend or listen (HAProxy's "unable to find required use_backend"),
//!   with the same mode rule as `default_backend`, and is refused in a `mode tcp` frontend
//!   (not supported yet there, rather than ignored);
//! - `default_backend` names a backend or listen (error at the `default_backend` line), is not
//!   the listen itself, and an `http` frontend does not use a `tcp` backend (HAProxy refuses
//!   that; the other way round, a `tcp` frontend upgrading to an `http` backend, it allows);
//! - `nbsrv`, `be_conn` and `srv_is_up` name a backend (the proxy they are written in when
//!   they name none, which must then have servers) and a server of it, in HAProxy's words
//!   otherwise;
//! - settings that need `mode http` are dropped with a warning in `tcp` proxies, as HAProxy
//!   does (`cookie`, `option httplog` falls back to `tcplog`, `forwardfor`, `httpclose`,
//!   `http-keep-alive`, `http-ignore-probes`).

use super::logs;
use super::model::{
    BackendSide, Config, FrontendSide, Global, HttpCheck, Location, Mode, Options, Proxy,
};
use super::parser::{error_at, ConfigError};
use super::proxy::{Located, ProxyKind, ProxySection};
use crate::rules::{ProxyRef, Switching};

/// Validates the proxies read and assembles the config.
pub(super) fn build_config(
    global: Global,
    mut sections: Vec<ProxySection>,
    mut warnings: Vec<String>,
) -> Result<Config, ConfigError> {
    resolve_proxy_refs(&mut sections)?;
    let mut proxies = Vec::with_capacity(sections.len());
    for section in &sections {
        check_has_bind(section)?;
        check_http_services(section)?;
        let default_backend = resolve_default_backend(section, &sections, &mut warnings)?;
        let switching = resolve_switching(section, &sections)?;
        let mut proxy = build_proxy(section, default_backend, switching, &mut warnings);
        proxy.logs = logs::resolve(&section.settings.logs, &global.logs);
        proxies.push(proxy);
    }
    Ok(Config {
        global,
        proxies,
        warnings,
    })
}

/// The backends and their servers, as the proxy fetches may name them.
struct Directory {
    backends: Vec<(String, Vec<String>)>,
}

impl Directory {
    fn servers_of(&self, backend: &str) -> Option<&[String]> {
        (self.backends.iter())
            .find(|(name, _)| name == backend)
            .map(|(_, servers)| servers.as_slice())
    }
}

/// Fills in and checks the backend and server every `nbsrv`, `be_conn` and `srv_is_up`
/// names, with HAProxy 2.6's argument resolution errors.
fn resolve_proxy_refs(sections: &mut [ProxySection]) -> Result<(), ConfigError> {
    let directory = Directory {
        backends: (sections.iter())
            .filter(|s| s.kind.has_backend() && s.kind != ProxyKind::Defaults)
            .map(|s| {
                (
                    s.name.clone(),
                    s.servers.iter().map(|v| v.name.clone()).collect(),
                )
            })
            .collect(),
    };
    for section in sections.iter_mut() {
        let proxy = section.name.clone();
        for sample in super::rules::section_samples(section) {
            if let Some(reference) = sample.fetch.proxy_ref_mut() {
                resolve_proxy_ref(reference, &proxy, &directory)?;
            }
        }
    }
    Ok(())
}

fn resolve_proxy_ref(
    reference: &mut ProxyRef,
    proxy: &str,
    directory: &Directory,
) -> Result<(), ConfigError> {
    let (file, line, place) = reference.at.clone().unwrap_or_default();
    let fail = |message: String| {
        Err(error_at(
            &Location {
                file: file.clone(),
                line,
            },
            message,
        ))
    };
    let backend = reference
        .backend
        .get_or_insert_with(|| proxy.to_string())
        .clone();
    let Some(servers) = directory.servers_of(&backend) else {
        return match (&reference.server, backend == proxy) {
            (Some(server), true) => fail(format!(
                "unable to find server '{server}' in proxy '{proxy}', referenced in arg 1 of {place} in proxy '{proxy}'."
            )),
            (None, true) => fail(format!(
                "proxy '{proxy}', referenced in arg 1 of {place} in proxy '{proxy}', has not backend capability."
            )),
            _ => fail(format!(
                "unable to find backend '{backend}' referenced in arg 1 of {place} in proxy '{proxy}'."
            )),
        };
    };
    match &reference.server {
        Some(server) if !servers.contains(server) => fail(format!(
            "unable to find server '{server}' in proxy '{backend}', referenced in arg 1 of {place} in proxy '{proxy}'."
        )),
        _ => Ok(()),
    }
}

/// HAProxy only warns about a frontend without `bind`; such a frontend can never receive
/// anything, so pointsman treats it as the mistake it is.
fn check_has_bind(section: &ProxySection) -> Result<(), ConfigError> {
    if section.kind.has_frontend() && section.binds.is_empty() {
        return Err(error_at(
            &section.location,
            format!(
                "{} has no 'bind' line, so it would never receive a connection \
                 (write 'bind <addr>:<port>', or make it a backend)",
                section.describe()
            ),
        ));
    }
    Ok(())
}

/// The stats page and the metrics are HTTP services: a `tcp` frontend cannot serve them.
fn check_http_services(section: &ProxySection) -> Result<(), ConfigError> {
    let settings = &section.settings;
    if !section.kind.has_frontend() || settings.mode == Mode::Http {
        return Ok(());
    }
    let what = if settings.stats.is_some() {
        "the stats page ('stats …')"
    } else if settings.prometheus.is_some() {
        "the Prometheus exporter"
    } else {
        return Ok(());
    };
    Err(error_at(
        &section.location,
        format!(
            "{} serves {what}, which needs 'mode http'",
            section.describe()
        ),
    ))
}

/// Whether the frontend answers some requests itself (stats page, metrics).
fn serves_locally(section: &ProxySection) -> bool {
    section.settings.stats.is_some() || section.settings.prometheus.is_some()
}

/// The backend a frontend side sends requests to. A listen without `default_backend` uses
/// its own servers.
fn resolve_default_backend(
    section: &ProxySection,
    sections: &[ProxySection],
    warnings: &mut Vec<String>,
) -> Result<Option<String>, ConfigError> {
    if !section.kind.has_frontend() {
        return Ok(None);
    }
    let Some(wanted) = &section.settings.default_backend else {
        if section.kind == ProxyKind::Listen {
            return Ok(Some(section.name.clone()));
        }
        if serves_locally(section) || !section.switching.is_empty() {
            return Ok(None);
        }
        warnings.push(format!(
            "{}: {} has no 'default_backend': it has nowhere to send traffic",
            section.location,
            section.describe()
        ));
        return Ok(None);
    };
    let target = find_backend(section, sections, wanted)?;
    check_modes(section, target, wanted, "its default_backend")?;
    if section.kind == ProxyKind::Listen && !section.servers.is_empty() {
        warnings.push(format!(
            "{}: in {}, 'default_backend' takes precedence over the servers, which will never be used",
            wanted.location,
            section.describe()
        ));
    }
    Ok(Some(target.name.clone()))
}

fn find_backend<'a>(
    section: &ProxySection,
    sections: &'a [ProxySection],
    wanted: &Located<String>,
) -> Result<&'a ProxySection, ConfigError> {
    let name = &wanted.value;
    let target = sections
        .iter()
        .find(|s| s.kind.has_backend() && s.name == *name);
    let fail = |message: String| Err(error_at(&wanted.location, message));
    match target {
        Some(target) if target.kind == section.kind && target.name == section.name => fail(format!(
            "{} names itself as 'default_backend': a listen section uses its own servers, remove this line",
            section.describe()
        )),
        Some(target) => Ok(target),
        None if sections.iter().any(|s| s.name == *name) => fail(format!(
            "'default_backend {name}' in {}: '{name}' is a frontend, not a backend",
            section.describe()
        )),
        None => fail(format!(
            "'default_backend {name}' in {}: there is no backend or listen section named '{name}'",
            section.describe()
        )),
    }
}

/// `use_backend` rules name backends or listens (HAProxy's error text otherwise), with the
/// same mode rule as `default_backend`.
fn resolve_switching(
    section: &ProxySection,
    sections: &[ProxySection],
) -> Result<Switching<String>, ConfigError> {
    // TCP sessions go to `default_backend` only: rules there would be ignored, so refuse them.
    if let (Mode::Tcp, Some(rule)) = (section.settings.mode, section.switching.rules.first()) {
        return Err(error_at(
            rule.backend
                .as_static()
                .map_or(&section.location, |b| &b.location),
            format!(
                "'use_backend' in mode tcp {} is not supported yet: TCP sessions go to its default_backend",
                section.describe()
            ),
        ));
    }
    let http_only = section.http_rules.is_empty() && section.response_rules.is_empty();
    if let (Mode::Tcp, false) = (section.settings.mode, http_only) {
        return Err(error_at(
            &section.location,
            format!(
                "{} has 'http-request', 'http-response' or 'redirect' rules, which need 'mode http'",
                section.describe()
            ),
        ));
    }
    section.switching.resolve(|wanted| {
        let name = &wanted.value;
        let target = sections
            .iter()
            .find(|s| s.kind.has_backend() && s.name == *name)
            .ok_or_else(|| {
                error_at(
                    &wanted.location,
                    format!(
                        "Proxy '{}': unable to find required use_backend: '{name}'.",
                        section.name
                    ),
                )
            })?;
        check_modes(section, target, wanted, "a 'use_backend' target")?;
        Ok(target.name.clone())
    })
}

fn check_modes(
    section: &ProxySection,
    target: &ProxySection,
    wanted: &Located<String>,
    role: &str,
) -> Result<(), ConfigError> {
    if section.settings.mode == Mode::Http && target.settings.mode == Mode::Tcp {
        return Err(error_at(
            &wanted.location,
            format!(
                "http {} ({}) cannot use tcp {} ({}) as {role}: both need the same 'mode'",
                section.describe(),
                section.location,
                target.describe(),
                target.location
            ),
        ));
    }
    Ok(())
}

fn build_proxy(
    section: &ProxySection,
    default_backend: Option<String>,
    switching: Switching<String>,
    warnings: &mut Vec<String>,
) -> Proxy {
    let settings = &section.settings;
    let mut options = settings.options;
    if settings.mode == Mode::Tcp {
        drop_http_only_options(section, &mut options, warnings);
    }
    Proxy {
        name: section.name.clone(),
        id: section.id,
        mode: settings.mode,
        timeouts: settings.timeouts,
        options,
        frontend: section.kind.has_frontend().then(|| FrontendSide {
            binds: section.binds.clone(),
            default_backend,
            maxconn: settings.maxconn,
            stats: settings.stats.clone(),
            prometheus: settings.prometheus.as_ref().map(|p| p.value.clone()),
            switching,
            http_rules: {
                let mut rules = section.http_rules.clone();
                rules.use_error_files(&settings.error_files);
                rules
            },
            response_rules: {
                let mut rules = section.response_rules.clone();
                rules.use_error_files(&settings.error_files);
                rules
            },
        }),
        backend: section
            .kind
            .has_backend()
            .then(|| build_backend_side(section, warnings)),
        logs: Vec::new(),
        error_files: settings.error_files.clone(),
        location: section.location.clone(),
    }
}

fn build_backend_side(section: &ProxySection, warnings: &mut Vec<String>) -> BackendSide {
    let settings = &section.settings;
    let mut cookie = settings.cookie.clone();
    if let (Some(located), Mode::Tcp) = (&cookie, settings.mode) {
        warnings.push(format!(
            "{}: 'cookie' is ignored for tcp {}: it needs 'mode http'",
            located.location,
            section.describe()
        ));
        cookie = None;
    }
    BackendSide {
        balance: settings.balance,
        servers: section.servers.clone(),
        retries: settings.retries,
        retry_on: settings.retry_on,
        httpchk: build_http_check(section, warnings),
        tcpchk: settings
            .tcpchk
            .as_ref()
            .map(|option| option.build(&settings.tcp_checks)),
        cookie: cookie.map(|c| c.value),
        load_state: settings.load_state,
        state_file_name: settings.state_file_name.clone(),
    }
}

fn build_http_check(section: &ProxySection, warnings: &mut Vec<String>) -> Option<HttpCheck> {
    let settings = &section.settings;
    let lines = &settings.http_checks;
    match (&settings.httpchk, lines.rules.first()) {
        (Some(request), _) => Some(super::checks::build_http_check(request, lines)),
        (None, Some(first)) => {
            warnings.push(format!(
                "{}: 'http-check {}' is ignored for {}: it needs 'option httpchk'",
                first.location,
                first.value.keyword(),
                section.describe()
            ));
            None
        }
        (None, None) => None,
    }
}

/// HAProxy warns and ignores these in a tcp proxy; `httplog` falls back to `tcplog`.
fn drop_http_only_options(
    section: &ProxySection,
    options: &mut Options,
    warnings: &mut Vec<String>,
) {
    let mut warn = |what: &str, consequence: &str| {
        warnings.push(format!(
            "{}: '{what}' {consequence} for tcp {}: it needs 'mode http'",
            section.location,
            section.describe()
        ));
    };
    if options.httplog {
        warn("option httplog", "falls back to 'option tcplog'");
        options.httplog = false;
        options.tcplog = true;
    }
    for (name, flag) in [
        ("option forwardfor", &mut options.forwardfor),
        ("option httpclose", &mut options.httpclose),
        ("option http-keep-alive", &mut options.http_keep_alive),
    ] {
        if *flag {
            warn(name, "is ignored");
            *flag = false;
        }
    }
    // A frontend's option: a backend inherits it from `defaults` without a word, as in HAProxy.
    if options.http_ignore_probes {
        if section.kind.has_frontend() {
            warn("option http-ignore-probes", "is ignored");
        }
        options.http_ignore_probes = false;
    }
}
