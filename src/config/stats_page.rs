//! The stats page and Prometheus keywords of `defaults`, `frontend` and `listen` sections:
//! `stats enable|uri|refresh|auth|realm|admin|hide-version`, pointsman's own
//! `stats prometheus [PATH]`, and HAProxy's `http-request use-service prometheus-exporter
//! if { path PATH }`. Any `stats` keyword turns the page on, as in HAProxy.

use super::model::{StatsAdmin, StatsPage};
use super::parser::Line;
use super::proxy::{Located, ProxySection};
use super::values::parse_time;

/// HAProxy's default `stats uri` and `stats realm`.
const DEFAULT_URI: &str = "/haproxy?stats";
const DEFAULT_REALM: &str = "HAProxy Statistics";
/// Where `stats prometheus` serves metrics when no path is given.
const DEFAULT_METRICS_PATH: &str = "/metrics";

const PROMETHEUS_USAGE: &str = "http-request use-service prometheus-exporter if { path <path> }";

fn page(section: &mut ProxySection) -> &mut StatsPage {
    section.settings.stats.get_or_insert_with(|| StatsPage {
        uri: DEFAULT_URI.to_string(),
        refresh: None,
        auth: Vec::new(),
        realm: DEFAULT_REALM.to_string(),
        admin: StatsAdmin::Never,
        hide_version: false,
    })
}

fn one<'a>(key: &str, args: &'a [String], usage: &str) -> Result<&'a str, String> {
    match args {
        [value] => Ok(value),
        [] => Err(format!("'{key}' needs a value: expected '{usage}'")),
        [_, extra, ..] => Err(format!(
            "'{key}' takes one value, found extra '{extra}': expected '{usage}'"
        )),
    }
}

fn none(key: &str, args: &[String]) -> Result<(), String> {
    match args.first() {
        Some(extra) => Err(format!("'{key}' takes no argument, found '{extra}'")),
        None => Ok(()),
    }
}

pub(super) fn parse_enable(s: &mut ProxySection, _: &Line, args: &[String]) -> Result<(), String> {
    none("stats enable", args)?;
    page(s);
    Ok(())
}

pub(super) fn parse_uri(s: &mut ProxySection, _: &Line, args: &[String]) -> Result<(), String> {
    let uri = one("stats uri", args, "stats uri <prefix>")?;
    if !uri.starts_with('/') {
        return Err(format!("'stats uri': '{uri}' must start with '/'"));
    }
    page(s).uri = uri.to_string();
    Ok(())
}

pub(super) fn parse_refresh(s: &mut ProxySection, _: &Line, args: &[String]) -> Result<(), String> {
    let value = one("stats refresh", args, "stats refresh <time>")?;
    let time = parse_time(value).map_err(|m| format!("'stats refresh': {m}"))?;
    if time.as_secs() == 0 {
        return Err("'stats refresh' must be at least 1s".into());
    }
    page(s).refresh = Some(time);
    Ok(())
}

pub(super) fn parse_auth(s: &mut ProxySection, _: &Line, args: &[String]) -> Result<(), String> {
    let value = one("stats auth", args, "stats auth <user>:<password>")?;
    let Some((user, password)) = value.split_once(':') else {
        return Err(format!(
            "'stats auth': '{value}' has no ':': expected 'stats auth <user>:<password>'"
        ));
    };
    if user.is_empty() {
        return Err("'stats auth': the user name is empty".into());
    }
    page(s).auth.push((user.to_string(), password.to_string()));
    Ok(())
}

pub(super) fn parse_realm(s: &mut ProxySection, _: &Line, args: &[String]) -> Result<(), String> {
    let realm = one("stats realm", args, "stats realm <realm>")?;
    if realm.contains('"') || realm.chars().any(char::is_control) {
        return Err("'stats realm' may not contain '\"' or control characters".into());
    }
    page(s).realm = realm.to_string();
    Ok(())
}

pub(super) fn parse_hide_version(
    s: &mut ProxySection,
    _: &Line,
    args: &[String],
) -> Result<(), String> {
    none("stats hide-version", args)?;
    page(s).hide_version = true;
    Ok(())
}

/// `stats admin if TRUE` or `stats admin if LOCALHOST`: HAProxy's predefined ACLs.
pub(super) fn parse_admin(s: &mut ProxySection, _: &Line, args: &[String]) -> Result<(), String> {
    const USAGE: &str = "stats admin if TRUE|LOCALHOST";
    let admin = match args {
        [kw, cond] if kw == "if" && cond == "TRUE" => StatsAdmin::Always,
        [kw, cond] if kw == "if" && cond == "LOCALHOST" => StatsAdmin::Localhost,
        [kw, cond] if kw == "unless" && cond == "FALSE" => StatsAdmin::Always,
        [] => return Err(format!("'stats admin' needs a condition: expected '{USAGE}'")),
        _ => {
            return Err(format!(
                "'stats admin {}': only the predefined conditions TRUE and LOCALHOST are supported: expected '{USAGE}'",
                args.join(" ")
            ))
        }
    };
    page(s).admin = admin;
    Ok(())
}

/// pointsman's own short form: `stats prometheus [PATH]` serves metrics on this frontend.
pub(super) fn parse_stats_prometheus(
    s: &mut ProxySection,
    line: &Line,
    args: &[String],
) -> Result<(), String> {
    let path = match args {
        [] => DEFAULT_METRICS_PATH,
        [path] => path.as_str(),
        [_, extra, ..] => {
            return Err(format!(
                "'stats prometheus' takes at most a path, found extra '{extra}'"
            ))
        }
    };
    set_prometheus(s, line, path)
}

/// HAProxy's form: `http-request use-service prometheus-exporter if { path /metrics }`. Other
/// `http-request` rules are outside the subset.
pub(super) fn parse_http_request(
    s: &mut ProxySection,
    line: &Line,
    args: &[String],
) -> Result<(), String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["use-service", "prometheus-exporter", "if", "{", "path", path, "}"] => {
            set_prometheus(s, line, path)
        }
        ["use-service", "prometheus-exporter", ..] => Err(format!(
            "'http-request use-service prometheus-exporter' needs the condition '{{ path <path> }}': expected '{PROMETHEUS_USAGE}'"
        )),
        ["use-service", service, ..] => Err(format!(
            "'http-request use-service {service}' is not supported: the only service is prometheus-exporter"
        )),
        [action, ..] => Err(format!(
            "'http-request {action}' is not supported: the only http-request rule is '{PROMETHEUS_USAGE}'"
        )),
        [] => Err(format!("'http-request' needs an action: expected '{PROMETHEUS_USAGE}'")),
    }
}

fn set_prometheus(s: &mut ProxySection, line: &Line, path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("the metrics path '{path}' must start with '/'"));
    }
    s.settings.prometheus = Some(Located {
        value: path.to_string(),
        location: line.location.clone(),
    });
    Ok(())
}
