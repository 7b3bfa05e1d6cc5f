//! Server keywords: the one parser of a server's options, for `server` and `default-server`
//! lines and for the runtime API's `add server` (HAProxy too has one keyword table for both).
//!
//! A `default-server` line changes the [`ServerOptions`] that every later `server` line of the
//! section starts from (`defaults` passes its own to every proxy), as in HAProxy. A failed
//! keyword is a typed [`OptionError`]: its `Display` is the config's wording, and the runtime
//! API renders HAProxy's own from the same value.

use super::model::{Observe, OnError, ProxyVersion, ServerConfig, ServerOptions, Verify};
use super::parser::Line;
use super::proxy::check_name;
use super::values::{atoi, parse_server_addr, parse_time, parse_u32};
use std::fmt;
use std::time::Duration;

/// How a server line must look; shown when it does not.
const SERVER_USAGE: &str = "server <name> <addr>:<port> [options]";

/// How the numbers of server keywords are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbers {
    /// Plain decimal digits: a config line refuses `weight 10x`, which HAProxy's `atol` would
    /// silently read as 10.
    Strict,
    /// HAProxy's `atoi`, as the runtime API's `add server` reads them: leading digits, the rest
    /// ignored, no digit at all is 0.
    Atoi,
}

/// Why a server keyword was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// The keyword is the last word: its value is missing.
    MissingValue(&'static str),
    /// The value is not a plain number (only with [`Numbers::Strict`]).
    BadNumber {
        keyword: &'static str,
        message: String,
    },
    /// The value is not a time.
    BadTime {
        keyword: &'static str,
        message: String,
    },
    /// `weight` outside 0..=256.
    WeightOutOfRange(i64),
    /// A count that must be at least 1 (`rise`, `fall`, `error-limit`) is not.
    NotPositive(&'static str),
    /// An interval that must be longer than 0 (`inter`, `fastinter`, `downinter`) is 0.
    ZeroTime(&'static str),
    /// `observe` or `on-error` with a word it does not know.
    BadChoice {
        keyword: &'static str,
        expected: &'static str,
        value: String,
    },
    /// Not one of pointsman's server keywords.
    Unknown(String),
}

impl fmt::Display for OptionError {
    /// The config's wording (the caller adds which server and where).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::MissingValue(keyword) => write!(f, "'{keyword}' needs a value"),
            OptionError::BadNumber { keyword, message }
            | OptionError::BadTime { keyword, message } => write!(f, "'{keyword}': {message}"),
            OptionError::WeightOutOfRange(weight) => {
                write!(f, "weight {weight} is out of range: expected 0 to 256")
            }
            OptionError::NotPositive(keyword) => write!(f, "'{keyword}' must be at least 1"),
            OptionError::ZeroTime(keyword) => write!(f, "'{keyword}' must be greater than 0"),
            OptionError::BadChoice {
                keyword,
                expected,
                value,
            } => write!(f, "'{keyword}' expects {expected}, not '{value}'"),
            OptionError::Unknown(word) => {
                let supported: Vec<&str> = (KEYWORDS.iter().chain(TLS_KEYWORDS))
                    .map(|(name, _)| *name)
                    .collect();
                write!(
                    f,
                    "unknown server option '{word}' (supported: {})",
                    supported.join(", ")
                )
            }
        }
    }
}

/// What a keyword does with the words after it.
enum Takes {
    /// A flag: sets something, reads no value.
    Nothing(fn(&mut ServerOptions)),
    /// Reads the next word.
    Value(fn(&mut ServerOptions, &str, Numbers) -> Result<(), OptionError>),
}

/// pointsman's server keywords, in the order the config's error lists them. `no-check`,
/// `no-backup` and `enabled` undo a `default-server` setting for one server, as in HAProxy.
const KEYWORDS: &[(&str, Takes)] = &[
    ("check", Takes::Nothing(|o| o.check = true)),
    ("backup", Takes::Nothing(|o| o.backup = true)),
    ("weight", Takes::Value(set_weight)),
    ("disabled", Takes::Nothing(|o| o.disabled = true)),
    (
        "inter",
        Takes::Value(|o, v, _| positive_time("inter", v).map(|t| o.inter = t)),
    ),
    (
        "rise",
        Takes::Value(|o, v, n| check_count("rise", v, n).map(|c| o.rise = c)),
    ),
    (
        "fall",
        Takes::Value(|o, v, n| check_count("fall", v, n).map(|c| o.fall = c)),
    ),
    (
        "maxconn",
        // A negative number (read by `atoi`) is 0.
        Takes::Value(|o, v, n| {
            let maxconn = number("maxconn", v, n)?;
            o.maxconn = Some(maxconn.clamp(0, u32::MAX.into()) as u32);
            Ok(())
        }),
    ),
    (
        "cookie",
        Takes::Value(|o, v, _| {
            o.cookie = Some(v.to_string());
            Ok(())
        }),
    ),
    ("no-check", Takes::Nothing(|o| o.check = false)),
    ("no-backup", Takes::Nothing(|o| o.backup = false)),
    ("enabled", Takes::Nothing(|o| o.disabled = false)),
    (
        "fastinter",
        Takes::Value(|o, v, _| positive_time("fastinter", v).map(|t| o.tuning.fastinter = Some(t))),
    ),
    (
        "downinter",
        Takes::Value(|o, v, _| positive_time("downinter", v).map(|t| o.tuning.downinter = Some(t))),
    ),
    ("slowstart", Takes::Value(set_slowstart)),
    ("observe", Takes::Value(set_observe)),
    (
        "error-limit",
        Takes::Value(|o, v, n| positive("error-limit", v, n).map(|c| o.tuning.error_limit = c)),
    ),
    ("on-error", Takes::Value(set_on_error)),
    (
        "send-proxy",
        Takes::Nothing(|o| o.send_proxy = Some(ProxyVersion::V1)),
    ),
    (
        "send-proxy-v2",
        Takes::Nothing(|o| o.send_proxy = Some(ProxyVersion::V2)),
    ),
    ("no-send-proxy", Takes::Nothing(|o| o.send_proxy = None)),
    ("no-send-proxy-v2", Takes::Nothing(|o| o.send_proxy = None)),
];

/// The TLS keywords of a server (`ssl verify required ca-file F sni EXPR alpn LIST …`). Only
/// config lines take them: a server added at runtime has no TLS client built for it, so
/// `add server` refuses them as keywords it does not support.
const TLS_KEYWORDS: &[(&str, Takes)] = &[
    ("ssl", Takes::Nothing(|o| o.ssl.enabled = true)),
    ("no-ssl", Takes::Nothing(|o| o.ssl.enabled = false)),
    ("verify", Takes::Value(set_verify)),
    (
        "ca-file",
        Takes::Value(|o, v, _| {
            o.ssl.ca_file = Some(v.into());
            Ok(())
        }),
    ),
    (
        "crt",
        Takes::Value(|o, v, _| {
            o.ssl.crt = Some(v.into());
            Ok(())
        }),
    ),
    (
        "sni",
        Takes::Value(|o, v, _| {
            o.ssl.sni = Some(v.to_string());
            Ok(())
        }),
    ),
    (
        "alpn",
        Takes::Value(|o, v, _| {
            o.ssl.alpn = v.split(',').map(str::to_string).collect();
            Ok(())
        }),
    ),
    (
        "verifyhost",
        Takes::Value(|o, v, _| {
            o.ssl.verifyhost = Some(v.to_string());
            Ok(())
        }),
    ),
    ("no-verifyhost", Takes::Nothing(|o| o.ssl.verifyhost = None)),
    ("check-ssl", Takes::Nothing(|o| o.ssl.check_ssl = true)),
    ("no-check-ssl", Takes::Nothing(|o| o.ssl.check_ssl = false)),
    (
        "check-sni",
        Takes::Value(|o, v, _| {
            o.ssl.check_sni = Some(v.to_string());
            Ok(())
        }),
    ),
    ("no-ssl-reuse", Takes::Nothing(|o| o.ssl.no_reuse = true)),
    ("ssl-reuse", Takes::Nothing(|o| o.ssl.no_reuse = false)),
    (
        "no-tls-tickets",
        Takes::Nothing(|o| o.ssl.tls.no_tls_tickets = true),
    ),
    (
        "tls-tickets",
        Takes::Nothing(|o| o.ssl.tls.no_tls_tickets = false),
    ),
    (
        "ssl-min-ver",
        Takes::Value(|o, v, _| tls_option(o, "ssl-min-ver", v)),
    ),
    (
        "ssl-max-ver",
        Takes::Value(|o, v, _| tls_option(o, "ssl-max-ver", v)),
    ),
    (
        "ciphers",
        Takes::Value(|o, v, _| tls_option(o, "ciphers", v)),
    ),
    (
        "ciphersuites",
        Takes::Value(|o, v, _| tls_option(o, "ciphersuites", v)),
    ),
];

/// Applies server keywords (`check weight 10 backup` …) to `options`, in order; the first
/// keyword that fails stops the rest. The TLS keywords are taken from config lines only
/// ([`Numbers::Strict`]).
pub fn apply_options(
    options: &mut ServerOptions,
    words: &[String],
    numbers: Numbers,
) -> Result<(), OptionError> {
    let tls: &[(&str, Takes)] = match numbers {
        Numbers::Strict => TLS_KEYWORDS,
        Numbers::Atoi => &[],
    };
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let Some((keyword, takes)) = (KEYWORDS.iter().chain(tls)).find(|(name, _)| name == word)
        else {
            return Err(OptionError::Unknown(word.clone()));
        };
        match takes {
            Takes::Nothing(set) => set(options),
            Takes::Value(set) => {
                let value = words.next().ok_or(OptionError::MissingValue(keyword))?;
                set(options, value, numbers)?;
            }
        }
    }
    Ok(())
}

/// The server keywords HAProxy 2.6 knows, pointsman's and the others.
pub const HAPROXY_SERVER_KEYWORDS: &[&str] = &[
    "addr",
    "agent-addr",
    "agent-check",
    "agent-inter",
    "agent-port",
    "agent-send",
    "allow-0rtt",
    "alpn",
    "backup",
    "ca-file",
    "check",
    "check-alpn",
    "check-proto",
    "check-send-proxy",
    "check-sni",
    "check-ssl",
    "check-via-socks4",
    "ciphers",
    "ciphersuites",
    "cookie",
    "crl-file",
    "crt",
    "disabled",
    "downinter",
    "enabled",
    "error-limit",
    "fall",
    "fastinter",
    "id",
    "init-addr",
    "inter",
    "maxconn",
    "maxqueue",
    "minconn",
    "namespace",
    "no-agent-check",
    "no-backup",
    "no-check",
    "no-check-ssl",
    "no-send-proxy",
    "no-send-proxy-v2",
    "no-ssl",
    "no-ssl-reuse",
    "no-tfo",
    "no-tls-tickets",
    "no-verifyhost",
    "npn",
    "observe",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "pool-low-conn",
    "pool-max-conn",
    "pool-purge-delay",
    "port",
    "proto",
    "proxy-v2-options",
    "redir",
    "resolve-net",
    "resolve-opts",
    "resolve-prefer",
    "resolvers",
    "rise",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "slowstart",
    "sni",
    "socks4",
    "source",
    "ssl",
    "ssl-max-ver",
    "ssl-min-ver",
    "ssl-reuse",
    "stick",
    "tcp-ut",
    "tfo",
    "tls-tickets",
    "track",
    "verify",
    "verifyhost",
    "weight",
    "ws",
];

/// One `server NAME ADDR:PORT [options]` line of the section described by `owner`
/// (`backend 'bk_app'`), starting from that section's `default-server` options.
pub(super) fn parse_server(
    owner: &str,
    defaults: &ServerOptions,
    line: &Line,
    args: &[String],
) -> Result<ServerConfig, String> {
    let Some(name) = args.first() else {
        return Err(format!(
            "'server' in {owner} needs a name and an address: expected '{SERVER_USAGE}'"
        ));
    };
    check_name(name, "server")?;
    let addr_text = match args.get(1) {
        None => return Err(no_address(name, owner, "nothing")),
        // A keyword where the address should be means the address was forgotten (guide
        // 000's `server nginx1 check backup`).
        Some(word) if HAPROXY_SERVER_KEYWORDS.contains(&word.as_str()) => {
            return Err(no_address(name, owner, &format!("'{word}'")))
        }
        Some(word) => word,
    };
    let in_server = |message: String| format!("server '{name}' in {owner}: {message}");
    let addr = parse_server_addr(addr_text).map_err(in_server)?;
    let mut options = defaults.clone();
    apply_options(&mut options, &args[2..], Numbers::Strict)
        .map_err(|error| in_server(error.to_string()))?;
    Ok(ServerConfig {
        name: name.clone(),
        addr,
        options,
        location: line.location.clone(),
    })
}

fn no_address(name: &str, owner: &str, found: &str) -> String {
    format!("server '{name}' in {owner} has no address: expected '{SERVER_USAGE}', found {found}")
}

/// A number as `numbers` reads it.
fn number(keyword: &'static str, value: &str, numbers: Numbers) -> Result<i64, OptionError> {
    match numbers {
        Numbers::Atoi => Ok(atoi(value)),
        Numbers::Strict => parse_u32(value)
            .map(i64::from)
            .map_err(|message| OptionError::BadNumber { keyword, message }),
    }
}

fn set_weight(
    options: &mut ServerOptions,
    value: &str,
    numbers: Numbers,
) -> Result<(), OptionError> {
    let weight = number("weight", value, numbers)?;
    if !(0..=256).contains(&weight) {
        return Err(OptionError::WeightOutOfRange(weight));
    }
    options.weight = weight as u32;
    Ok(())
}

/// A count of at least 1.
fn positive(keyword: &'static str, value: &str, numbers: Numbers) -> Result<u32, OptionError> {
    match number(keyword, value, numbers)? {
        n if n <= 0 => Err(OptionError::NotPositive(keyword)),
        n => Ok(n.min(u32::MAX.into()) as u32),
    }
}

/// `rise` or `fall`: at most half of `u32::MAX`, so that `rise + fall` cannot overflow.
fn check_count(keyword: &'static str, value: &str, numbers: Numbers) -> Result<u32, OptionError> {
    positive(keyword, value, numbers).map(|n| n.min(u32::MAX / 2))
}

fn time(keyword: &'static str, value: &str) -> Result<Duration, OptionError> {
    parse_time(value).map_err(|message| OptionError::BadTime { keyword, message })
}

fn positive_time(keyword: &'static str, value: &str) -> Result<Duration, OptionError> {
    match time(keyword, value)? {
        t if t.is_zero() => Err(OptionError::ZeroTime(keyword)),
        t => Ok(t),
    }
}

/// `slowstart 0` is no slow start.
fn set_slowstart(options: &mut ServerOptions, value: &str, _: Numbers) -> Result<(), OptionError> {
    let slowstart = time("slowstart", value)?;
    options.tuning.slowstart = (!slowstart.is_zero()).then_some(slowstart);
    Ok(())
}

/// `observe layer4|layer7`.
fn set_observe(options: &mut ServerOptions, value: &str, _: Numbers) -> Result<(), OptionError> {
    options.tuning.observe = Some(match value {
        "layer4" => Observe::Layer4,
        "layer7" => Observe::Layer7,
        other => {
            return Err(OptionError::BadChoice {
                keyword: "observe",
                expected: "'layer4' or 'layer7'",
                value: other.to_string(),
            })
        }
    });
    Ok(())
}

/// `verify none|required` (a server has no `optional`).
fn set_verify(options: &mut ServerOptions, value: &str, _: Numbers) -> Result<(), OptionError> {
    options.ssl.verify = Some(match value {
        "none" => Verify::None,
        "required" => Verify::Required,
        other => {
            return Err(OptionError::BadChoice {
                keyword: "verify",
                expected: "'none' or 'required'",
                value: other.to_string(),
            })
        }
    });
    Ok(())
}

/// A TLS option a server shares with a bind (`ssl-min-ver TLSv1.3`, `ciphers …`).
fn tls_option(
    options: &mut ServerOptions,
    keyword: &'static str,
    value: &str,
) -> Result<(), OptionError> {
    super::tls_options::apply_tls_option(&mut options.ssl.tls, keyword, &mut || Ok(value.into()))
        .map(|_| ())
        .map_err(|message| OptionError::BadNumber { keyword, message })
}

/// `on-error fastinter|fail-check|sudden-death|mark-down`.
fn set_on_error(options: &mut ServerOptions, value: &str, _: Numbers) -> Result<(), OptionError> {
    options.tuning.on_error = match value {
        "fastinter" => OnError::Fastinter,
        "fail-check" => OnError::FailCheck,
        "sudden-death" => OnError::SuddenDeath,
        "mark-down" => OnError::MarkDown,
        other => {
            return Err(OptionError::BadChoice {
                keyword: "on-error",
                expected: "'fastinter', 'fail-check', 'sudden-death' or 'mark-down'",
                value: other.to_string(),
            })
        }
    };
    Ok(())
}
