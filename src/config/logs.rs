//! `log` lines: `log global`, `log stdout format raw local0`, `log 127.0.0.1:514 local0 info`,
//! `log /dev/log local1 notice err`, `no log`; and `log-tag` in the global section.

use super::model::{Location, LogDestination, LogFormat, LogTarget};
use super::values::parse_server_addr;
use std::path::PathBuf;

const USAGE: &str =
    "log <target> [len <length>] [format raw|short|rfc3164] <facility> [<level> [<minlevel>]] \
     (target: stdout, stderr, <ip>[:<port>], udp@<ip>[:<port>], /dev/log)";

/// Syslog facilities in number order, HAProxy's names.
const FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Syslog severities in number order.
pub const LEVELS: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// HAProxy's default maximum message length.
const DEFAULT_LEN: usize = 1024;

/// A `log` line of a proxy section, before `log global` is replaced by the global targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LogLine {
    Global,
    Target(LogTarget),
}

/// Parses the arguments of a `log` line (`log global` only where `allow_global`).
pub(super) fn parse_log(
    args: &[String],
    location: &Location,
    allow_global: bool,
) -> Result<LogLine, String> {
    let Some((target, rest)) = args.split_first() else {
        return Err(format!("'log' needs a target: expected '{USAGE}'"));
    };
    if target == "global" {
        if !allow_global {
            return Err(
                "'log global' is only valid in defaults, frontend, backend and listen sections"
                    .into(),
            );
        }
        if let Some(extra) = rest.first() {
            return Err(format!("'log global' takes no argument, found '{extra}'"));
        }
        return Ok(LogLine::Global);
    }
    let destination = parse_destination(target)?;
    let mut words = rest.iter().map(String::as_str).peekable();
    let mut format = LogFormat::default();
    let mut max_len = DEFAULT_LEN;
    while let Some(&option) = words.peek() {
        match option {
            "len" | "format" | "sample" => {
                words.next();
                let value = words.next().ok_or_else(|| {
                    format!("'log': '{option}' needs a value: expected '{USAGE}'")
                })?;
                match option {
                    "len" => max_len = parse_len(value)?,
                    "format" => format = parse_format(value)?,
                    _ => {
                        return Err(
                            "'log … sample' is not supported: pointsman logs every request".into(),
                        )
                    }
                }
            }
            _ => break,
        }
    }
    let Some(facility) = words.next() else {
        return Err(format!(
            "'log {target}' needs a facility (e.g. local0): expected '{USAGE}'"
        ));
    };
    let facility = FACILITIES
        .iter()
        .position(|f| *f == facility)
        .ok_or_else(|| {
            format!(
                "'log': unknown facility '{facility}': expected one of {}",
                FACILITIES.join(", ")
            )
        })? as u8;
    let max_level = words.next().map(parse_level).transpose()?.unwrap_or(7);
    let min_level = words.next().map(parse_level).transpose()?.unwrap_or(0);
    if let Some(extra) = words.next() {
        return Err(format!("'log': unexpected '{extra}': expected '{USAGE}'"));
    }
    if min_level > max_level {
        return Err(format!(
            "'log': the minimum level '{}' is more verbose than the level '{}'",
            LEVELS[min_level as usize], LEVELS[max_level as usize]
        ));
    }
    Ok(LogLine::Target(LogTarget {
        destination,
        format,
        facility,
        max_level,
        min_level,
        max_len,
        location: location.clone(),
    }))
}

fn parse_destination(text: &str) -> Result<LogDestination, String> {
    match text {
        "stdout" | "fd@1" => return Ok(LogDestination::Stdout),
        "stderr" | "fd@2" => return Ok(LogDestination::Stderr),
        _ => {}
    }
    if let Some(path) = text.strip_prefix("unix@") {
        return Ok(LogDestination::Unix(PathBuf::from(path)));
    }
    if text.starts_with('/') {
        return Ok(LogDestination::Unix(PathBuf::from(text)));
    }
    if let Some((prefix, _)) = text.split_once('@') {
        if !matches!(prefix, "udp" | "udp4" | "udp6" | "ipv4" | "ipv6") {
            return Err(format!(
                "'log': target '{text}' is not supported: use stdout, stderr, a UDP syslog address or a unix socket path"
            ));
        }
    }
    let address = match text.split_once('@') {
        Some(("udp" | "udp4", rest)) => format!("ipv4@{rest}"),
        Some(("udp6", rest)) => format!("ipv6@{rest}"),
        _ => text.to_string(),
    };
    let parsed = parse_server_addr(&address).or_else(|first| {
        // Syslog's port when none is given.
        if first.contains("has no port") {
            parse_server_addr(&format!("{address}:514"))
        } else {
            Err(first)
        }
    });
    parsed
        .map(LogDestination::Udp)
        .map_err(|m| format!("'log': {m}"))
}

fn parse_len(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (80..=65535).contains(&n) => Ok(n),
        _ => Err(format!(
            "'log': 'len {text}' must be a number from 80 to 65535"
        )),
    }
}

fn parse_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "rfc3164" | "legacy" => Ok(LogFormat::Rfc3164),
        "short" => Ok(LogFormat::Short),
        "raw" => Ok(LogFormat::Raw),
        other => Err(format!(
            "'log': format '{other}' is not supported: expected raw, short or rfc3164"
        )),
    }
}

fn parse_level(text: &str) -> Result<u8, String> {
    LEVELS
        .iter()
        .position(|l| *l == text)
        .map(|n| n as u8)
        .ok_or_else(|| {
            format!(
                "'log': unknown level '{text}': expected one of {}",
                LEVELS.join(", ")
            )
        })
}

/// `log-tag NAME` (global).
pub(super) fn parse_log_tag(args: &[String]) -> Result<String, String> {
    match args {
        [tag] if !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_graphic()) => Ok(tag.clone()),
        [tag] => Err(format!(
            "'log-tag': '{tag}' must be printable and without spaces"
        )),
        _ => Err("'log-tag' takes one value: expected 'log-tag <name>'".into()),
    }
}

/// The targets of a proxy: its lines, `log global` replaced by the global ones.
pub(super) fn resolve(lines: &[LogLine], global: &[LogTarget]) -> Vec<LogTarget> {
    let mut targets = Vec::new();
    for line in lines {
        match line {
            LogLine::Global => targets.extend(global.iter().cloned()),
            LogLine::Target(t) => targets.push(t.clone()),
        }
    }
    targets
}
