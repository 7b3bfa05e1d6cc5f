//! The keywords of the `global` section: `nbthread`, `maxconn`, `stats socket`, `stats timeout`,
//! `stats maxconn`, `tune.bufsize`, `log`, `log-tag`, `hard-stop-after`, `server-state-file`,
//! `server-state-base`, `pidfile`, `crt-base`, `ca-base`, `ssl-default-bind-*`,
//! `tune.ssl.cachesize`, `tune.ssl.maxrecord`, `user`, `group`, `uid`, `gid`, and the
//! accepted-but-ignored ones (`daemon` …).

use super::ignored::{find_ignored, TUNE_WITHOUT_EFFECT};
use super::logs::{parse_log, parse_log_tag, LogLine};
use super::model::{Global, Level, StatsSocket, Verify};
use super::parser::{ConfigError, Line};
use super::proxy::is_proxy_keyword;
use super::tls_options::{parse_default_bind_options, parse_default_server_options};
use super::values::{parse_octal_mode, parse_socket_address, parse_time, parse_u32};

const STATS_SOCKET_USAGE: &str =
    "stats socket <path>|ipv4@<addr>:<port>|fd@<n> [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>] [level user|operator|admin] [maxconn <n>] [expose-fd listeners]";

/// Smallest `tune.bufsize`: a request line and a Host field must fit.
const MIN_BUFSIZE: usize = 1024;
/// Largest `tune.bufsize`: heads are indexed with 32-bit offsets, and every connection holds
/// a few buffers of this size.
const MAX_BUFSIZE: usize = 16 << 20;

/// Parses one line of a `global` section.
pub(super) fn parse_line(
    global: &mut Global,
    line: &Line,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let (key, key_words) = global_key(&line.words);
    let args = &line.words[key_words..];
    let result = match key.as_str() {
        "nbthread" => parse_nbthread(global, args),
        "maxconn" => single_value("maxconn", args, "maxconn <number>")
            .and_then(|v| parse_u32(v).map_err(|m| format!("'maxconn': {m}")))
            .map(|n| global.maxconn = Some(n)),
        "stats socket" => {
            parse_stats_socket(line, args).map(|socket| global.stats_sockets.push(socket))
        }
        "stats timeout" => parse_stats_timeout(global, args),
        "stats maxconn" => single_value("stats maxconn", args, "stats maxconn <number>")
            .and_then(|v| parse_positive("stats maxconn", v))
            .map(|n| global.stats_maxconn = Some(n)),
        "tune.bufsize" => parse_bufsize(global, args),
        "log" => parse_global_log(global, line, args),
        "log-tag" => parse_log_tag(args).map(|tag| global.log_tag = Some(tag)),
        "hard-stop-after" => single_value("hard-stop-after", args, "hard-stop-after <time>")
            .and_then(|v| parse_time(v).map_err(|m| format!("'hard-stop-after': {m}")))
            .map(|t| global.hard_stop_after = Some(t)),
        "server-state-file" => single_value("server-state-file", args, "server-state-file <path>")
            .map(|v| global.server_state_file = Some(v.into())),
        "server-state-base" => single_value("server-state-base", args, "server-state-base <dir>")
            .map(|v| global.server_state_base = Some(v.into())),
        "pidfile" => {
            single_value("pidfile", args, "pidfile <path>").map(|v| global.pidfile = Some(v.into()))
        }
        "crt-base" => single_value("crt-base", args, "crt-base <dir>")
            .map(|v| global.crt_base = Some(v.into())),
        "ca-base" => {
            single_value("ca-base", args, "ca-base <dir>").map(|v| global.ca_base = Some(v.into()))
        }
        "ssl-default-bind-options" => {
            parse_default_bind_options(&mut global.ssl_default_bind, args)
        }
        "ssl-default-bind-ciphers" => single_value(&key, args, "ssl-default-bind-ciphers <list>")
            .map(|v| global.ssl_default_bind.ciphers = Some(v.into())),
        "ssl-default-bind-ciphersuites" => {
            single_value(&key, args, "ssl-default-bind-ciphersuites <list>")
                .map(|v| global.ssl_default_bind.ciphersuites = Some(v.into()))
        }
        "ssl-default-bind-curves" => single_value(&key, args, "ssl-default-bind-curves <list>")
            .map(|v| global.ssl_default_bind.curves = Some(v.into())),
        "ssl-default-server-options" => {
            parse_default_server_options(&mut global.ssl_default_server, args)
        }
        "ssl-default-server-ciphers" => {
            single_value(&key, args, "ssl-default-server-ciphers <list>")
                .map(|v| global.ssl_default_server.ciphers = Some(v.into()))
        }
        "ssl-default-server-ciphersuites" => {
            single_value(&key, args, "ssl-default-server-ciphersuites <list>")
                .map(|v| global.ssl_default_server.ciphersuites = Some(v.into()))
        }
        "ssl-server-verify" => single_value(&key, args, "ssl-server-verify none|required")
            .and_then(parse_server_verify)
            .map(|v| global.ssl_server_verify = Some(v)),
        "tune.ssl.cachesize" => single_value(&key, args, "tune.ssl.cachesize <number>")
            .and_then(|v| parse_u32(v).map_err(|m| format!("'{key}': {m}")))
            .map(|n| global.tune_ssl_cachesize = Some(n as usize)),
        "tune.ssl.maxrecord" => parse_maxrecord(global, args),
        "user" => single_value("user", args, "user <name>")
            .and_then(lookup_user)
            .map(|uid| global.uid = Some(uid)),
        "group" => single_value("group", args, "group <name>")
            .and_then(lookup_group)
            .map(|gid| global.gid = Some(gid)),
        "uid" => single_value("uid", args, "uid <number>")
            .and_then(|v| parse_u32(v).map_err(|m| format!("'uid': {m}")))
            .map(|uid| global.uid = Some(uid)),
        "gid" => single_value("gid", args, "gid <number>")
            .and_then(|v| parse_u32(v).map_err(|m| format!("'gid': {m}")))
            .map(|gid| global.gid = Some(gid)),
        _ => return accept_ignored_or_refuse(line, &key, warnings),
    };
    result.map_err(|message| line.error(message))
}

/// `stats socket` and `stats timeout` are two-word keywords; `option …`, `timeout …` and
/// `http-check …` too, so that a proxy keyword written here gets a precise message.
/// Returns the key and how many words it took (counted, not re-split: a quoted word may hold
/// spaces).
fn global_key(words: &[String]) -> (String, usize) {
    match (words[0].as_str(), words.get(1)) {
        (first @ ("stats" | "option" | "timeout" | "http-check"), Some(second)) => {
            (format!("{first} {second}"), 2)
        }
        (first, _) => (first.to_string(), 1),
    }
}

fn accept_ignored_or_refuse(
    line: &Line,
    key: &str,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match find_ignored(key) {
        // Every ignored keyword that is not global-only is also taken in global (`description`).
        Some(ignored) => {
            warnings.push(line.warning(format_args!("'{key}' is ignored: {}", ignored.reason)));
            Ok(())
        }
        _ if TUNE_WITHOUT_EFFECT.contains(&key) => {
            warnings.push(line.warning(format_args!(
                "'{key}' is accepted and has no effect: pointsman has no such tuning knob"
            )));
            Ok(())
        }
        _ if is_proxy_keyword(key) => Err(line.error(format!(
            "'{key}' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"
        ))),
        _ => Err(line.error(format!("unknown keyword '{key}' in global section"))),
    }
}

fn single_value<'a>(key: &str, args: &'a [String], usage: &str) -> Result<&'a str, String> {
    match args {
        [value] => Ok(value),
        [] => Err(format!("'{key}' needs a value: expected '{usage}'")),
        [_, extra, ..] => Err(format!(
            "'{key}' takes one value, found extra '{extra}': expected '{usage}'"
        )),
    }
}

fn parse_global_log(global: &mut Global, line: &Line, args: &[String]) -> Result<(), String> {
    match parse_log(args, &line.location, false)? {
        LogLine::Target(target) => {
            global.logs.push(target);
            Ok(())
        }
        LogLine::Global => Err("'log global' is not valid in the global section".into()),
    }
}

/// `ssl-server-verify none|required`.
fn parse_server_verify(value: &str) -> Result<Verify, String> {
    match value {
        "none" => Ok(Verify::None),
        "required" => Ok(Verify::Required),
        other => Err(format!(
            "'ssl-server-verify' expects 'none' or 'required', not '{other}'"
        )),
    }
}

/// `tune.ssl.maxrecord N`: 0 is HAProxy's "no limit"; rustls takes record sizes from 32
/// bytes of plaintext up (its fragment size counts the 5-byte header).
fn parse_maxrecord(global: &mut Global, args: &[String]) -> Result<(), String> {
    let value = single_value("tune.ssl.maxrecord", args, "tune.ssl.maxrecord <number>")?;
    let size = parse_u32(value).map_err(|m| format!("'tune.ssl.maxrecord': {m}"))? as usize;
    if size != 0 && !(32..=16384).contains(&size) {
        return Err(format!(
            "'tune.ssl.maxrecord' : {size} is out of range: pointsman takes 0 (no limit) or 32 to 16384"
        ));
    }
    global.tune_ssl_maxrecord = (size != 0).then_some(size);
    Ok(())
}

fn parse_nbthread(global: &mut Global, args: &[String]) -> Result<(), String> {
    let value = single_value("nbthread", args, "nbthread <number>")?;
    match parse_u32(value) {
        Ok(0) => Err("'nbthread' must be at least 1".into()),
        Ok(n) => {
            global.nbthread = Some(n as usize);
            Ok(())
        }
        Err(m) => Err(format!("'nbthread': {m}")),
    }
}

/// A number of at least 1 (a limit of 0 would refuse everything).
fn parse_positive(key: &str, value: &str) -> Result<u32, String> {
    match parse_u32(value) {
        Ok(0) => Err(format!("'{key}' must be at least 1")),
        Ok(n) => Ok(n),
        Err(m) => Err(format!("'{key}': {m}")),
    }
}

fn parse_bufsize(global: &mut Global, args: &[String]) -> Result<(), String> {
    let value = single_value("tune.bufsize", args, "tune.bufsize <bytes>")?;
    let size = parse_u32(value).map_err(|m| format!("'tune.bufsize': {m}"))? as usize;
    if !(MIN_BUFSIZE..=MAX_BUFSIZE).contains(&size) {
        return Err(format!(
            "'tune.bufsize' must be between {MIN_BUFSIZE} and {MAX_BUFSIZE} bytes, found {size}"
        ));
    }
    global.tune_bufsize = Some(size);
    Ok(())
}

fn parse_stats_timeout(global: &mut Global, args: &[String]) -> Result<(), String> {
    let value = single_value("stats timeout", args, "stats timeout <time>")?;
    let timeout = parse_time(value).map_err(|m| format!("'stats timeout': {m}"))?;
    if timeout.is_zero() {
        return Err("'stats timeout' must be greater than 0".into());
    }
    global.stats_timeout = Some(timeout);
    Ok(())
}

/// `stats socket ADDR [options]`. Without `level`, HAProxy gives the socket `operator`.
fn parse_stats_socket(line: &Line, args: &[String]) -> Result<StatsSocket, String> {
    let Some((address, options)) = args.split_first() else {
        return Err(format!(
            "'stats socket' needs an address: expected '{STATS_SOCKET_USAGE}'"
        ));
    };
    let address = parse_socket_address(address).map_err(|m| format!("'stats socket': {m}"))?;
    let mut socket = StatsSocket {
        address,
        mode: None,
        uid: None,
        gid: None,
        maxconn: None,
        level: Level::Operator,
        expose_fd_listeners: false,
        location: line.location.clone(),
    };
    let mut words = options.iter();
    while let Some(option) = words.next() {
        let mut value = || {
            words.next().ok_or_else(|| {
                format!("'stats socket': '{option}' needs a value: expected '{STATS_SOCKET_USAGE}'")
            })
        };
        match option.as_str() {
            "mode" => socket.mode = Some(parse_octal_mode(value()?).map_err(|m| format!("'stats socket' mode: {m}"))?),
            "level" => socket.level = parse_level(value()?)?,
            "user" => socket.uid = Some(resolve_user(value()?)?),
            "group" => socket.gid = Some(resolve_group(value()?)?),
            "uid" => socket.uid = Some(parse_u32(value()?).map_err(|m| format!("'stats socket' uid: {m}"))?),
            "gid" => socket.gid = Some(parse_u32(value()?).map_err(|m| format!("'stats socket' gid: {m}"))?),
            "maxconn" => socket.maxconn = Some(parse_positive("maxconn", value()?).map_err(|m| format!("'stats socket' {m}"))?),
            "expose-fd" => match value()?.as_str() {
                "listeners" => socket.expose_fd_listeners = true,
                other => return Err(format!("'stats socket': 'expose-fd {other}' is not supported: expected 'expose-fd listeners'")),
            },
            other => {
                return Err(format!(
                    "unsupported stats socket option '{other}': expected '{STATS_SOCKET_USAGE}'"
                ))
            }
        }
    }
    Ok(socket)
}

/// `user NAME`: looked up when the config is read, so `-c` refuses a user this machine lacks
/// (HAProxy's words).
fn lookup_user(name: &str) -> Result<u32, String> {
    crate::sys::user_id(name).ok_or_else(|| format!("cannot find user id for '{name}'"))
}

fn lookup_group(name: &str) -> Result<u32, String> {
    crate::sys::group_id(name).ok_or_else(|| format!("cannot find group id for '{name}'"))
}

/// A user name from the system's user database, as HAProxy resolves it when reading the config.
fn resolve_user(name: &str) -> Result<u32, String> {
    crate::sys::user_id(name).ok_or_else(|| format!("'stats socket': unknown user '{name}'"))
}

fn resolve_group(name: &str) -> Result<u32, String> {
    crate::sys::group_id(name).ok_or_else(|| format!("'stats socket': unknown group '{name}'"))
}

fn parse_level(text: &str) -> Result<Level, String> {
    match text {
        "user" => Ok(Level::User),
        "operator" => Ok(Level::Operator),
        "admin" => Ok(Level::Admin),
        other => Err(format!(
            "'stats socket': unknown level '{other}': expected user, operator or admin"
        )),
    }
}
