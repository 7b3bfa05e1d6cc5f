//! `server` and `default-server` lines: the server name, its address, and its options.
//!
//! A `default-server` line changes the [`ServerSettings`] that every later `server` line of the
//! section starts from (`defaults` passes its own to every proxy), as in HAProxy.

use super::model::{CheckTuning, Location, Observe, OnError, ServerConfig};
use super::parser::Line;
use super::proxy::check_name;
use super::values::{parse_server_addr, parse_time, parse_u32};
use std::net::SocketAddr;
use std::time::Duration;

/// How a server line must look; shown when it does not.
const SERVER_USAGE: &str = "server <name> <addr>:<port> [options]";

/// The options a server line may set, with HAProxy's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ServerSettings {
    pub check: bool,
    pub backup: bool,
    pub weight: u32,
    pub disabled: bool,
    pub inter: Duration,
    pub rise: u32,
    pub fall: u32,
    pub maxconn: Option<u32>,
    pub cookie: Option<String>,
    pub tuning: CheckTuning,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
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
        }
    }
}

impl ServerConfig {
    /// A server with HAProxy's defaults, those of a `server` line without options (and no
    /// `default-server`): the one place they are written; `add server` starts from them too.
    pub fn with_defaults(name: &str, addr: SocketAddr) -> ServerConfig {
        ServerSettings::default().into_server(name, addr, Location::default())
    }
}

impl ServerSettings {
    fn into_server(self, name: &str, addr: SocketAddr, location: Location) -> ServerConfig {
        ServerConfig {
            name: name.to_string(),
            addr,
            check: self.check,
            backup: self.backup,
            weight: self.weight,
            disabled: self.disabled,
            inter: self.inter,
            rise: self.rise,
            fall: self.fall,
            maxconn: self.maxconn,
            cookie: self.cookie,
            tuning: self.tuning,
            location,
        }
    }
}

/// Sets one option without a value.
type SetFlag = fn(&mut ServerSettings);
/// Reads the value of one option into the settings.
type SetValue = fn(&mut ServerSettings, &str) -> Result<(), String>;

/// Options without a value, and what each sets. `no-check`, `no-backup` and `enabled` undo a
/// `default-server` setting for one server, as in HAProxy.
const FLAGS: &[(&str, SetFlag)] = &[
    ("check", |s| s.check = true),
    ("no-check", |s| s.check = false),
    ("backup", |s| s.backup = true),
    ("no-backup", |s| s.backup = false),
    ("disabled", |s| s.disabled = true),
    ("enabled", |s| s.disabled = false),
];

/// Options followed by a value.
const VALUED: &[(&str, SetValue)] = &[
    ("weight", set_weight),
    ("inter", set_inter),
    ("rise", |s, v| positive("rise", v).map(|n| s.rise = n)),
    ("fall", |s, v| positive("fall", v).map(|n| s.fall = n)),
    ("maxconn", |s, v| {
        parse_u32(v)
            .map(|n| s.maxconn = Some(n))
            .map_err(|m| format!("'maxconn': {m}"))
    }),
    ("cookie", |s, v| {
        s.cookie = Some(v.to_string());
        Ok(())
    }),
    ("fastinter", |s, v| {
        positive_time("fastinter", v).map(|t| s.tuning.fastinter = Some(t))
    }),
    ("downinter", |s, v| {
        positive_time("downinter", v).map(|t| s.tuning.downinter = Some(t))
    }),
    ("slowstart", |s, v| {
        let t = parse_time(v).map_err(|m| format!("'slowstart': {m}"))?;
        s.tuning.slowstart = (!t.is_zero()).then_some(t);
        Ok(())
    }),
    ("observe", set_observe),
    ("error-limit", |s, v| {
        positive("error-limit", v).map(|n| s.tuning.error_limit = n)
    }),
    ("on-error", set_on_error),
];

/// The check-tuning server keywords, each followed by a value.
pub const TUNING_KEYWORDS: &[&str] = &[
    "fastinter",
    "downinter",
    "slowstart",
    "observe",
    "error-limit",
    "on-error",
];

/// Applies one of [`TUNING_KEYWORDS`] with its value. Shared with the runtime API's
/// `add server`, so a server line and `add server` accept the same words with the same rules.
pub fn apply_tuning_keyword(
    tuning: &mut CheckTuning,
    keyword: &str,
    value: &str,
) -> Result<(), String> {
    let set = VALUED
        .iter()
        .find(|(name, _)| *name == keyword && TUNING_KEYWORDS.contains(name))
        .map(|(_, set)| set)
        .ok_or_else(|| format!("'{keyword}' is not a check tuning keyword"))?;
    let mut settings = ServerSettings {
        tuning: *tuning,
        ..ServerSettings::default()
    };
    set(&mut settings, value)?;
    *tuning = settings.tuning;
    Ok(())
}

/// Common HAProxy server keywords outside the subset: seen where the address should be, they
/// mean the address was forgotten (guide 000's `server nginx1 check backup`).
const OTHER_HAPROXY_OPTIONS: &[&str] = &[
    "ssl",
    "verify",
    "port",
    "addr",
    "send-proxy",
    "agent-check",
    "track",
    "id",
    "resolvers",
    "init-addr",
];

fn is_option_name(word: &str) -> bool {
    FLAGS.iter().any(|(name, _)| *name == word)
        || VALUED.iter().any(|(name, _)| *name == word)
        || OTHER_HAPROXY_OPTIONS.contains(&word)
}

/// Applies server options (`check weight 10 backup` …) to `settings`.
pub(super) fn apply_options(settings: &mut ServerSettings, args: &[String]) -> Result<(), String> {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if let Some((_, set)) = FLAGS.iter().find(|(name, _)| name == word) {
            set(settings);
        } else if let Some((_, set)) = VALUED.iter().find(|(name, _)| name == word) {
            let value = words
                .next()
                .ok_or_else(|| format!("'{word}' needs a value"))?;
            set(settings, value)?;
        } else {
            return Err(format!(
                "unknown server option '{word}' (supported: check, backup, weight, disabled, inter, rise, \
                 fall, maxconn, cookie, no-check, no-backup, enabled, fastinter, downinter, slowstart, \
                 observe, error-limit, on-error)"
            ));
        }
    }
    Ok(())
}

/// One `server NAME ADDR:PORT [options]` line of the section described by `owner`
/// (`backend 'bk_app'`), starting from that section's `default-server` settings.
pub(super) fn parse_server(
    owner: &str,
    defaults: &ServerSettings,
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
        Some(word) if is_option_name(word) => {
            return Err(no_address(name, owner, &format!("'{word}'")))
        }
        Some(word) => word,
    };
    let in_server = |message: String| format!("server '{name}' in {owner}: {message}");
    let addr = parse_server_addr(addr_text).map_err(in_server)?;
    let mut settings = defaults.clone();
    apply_options(&mut settings, &args[2..]).map_err(in_server)?;
    Ok(settings.into_server(name, addr, line.location.clone()))
}

fn no_address(name: &str, owner: &str, found: &str) -> String {
    format!("server '{name}' in {owner} has no address: expected '{SERVER_USAGE}', found {found}")
}

fn set_weight(settings: &mut ServerSettings, value: &str) -> Result<(), String> {
    let weight = parse_u32(value).map_err(|m| format!("'weight': {m}"))?;
    if weight > 256 {
        return Err(format!(
            "weight {weight} is out of range: expected 0 to 256"
        ));
    }
    settings.weight = weight;
    Ok(())
}

fn set_inter(settings: &mut ServerSettings, value: &str) -> Result<(), String> {
    let inter = parse_time(value).map_err(|m| format!("'inter': {m}"))?;
    if inter.is_zero() {
        return Err("'inter' must be greater than 0".into());
    }
    settings.inter = inter;
    Ok(())
}

fn positive_time(option: &str, value: &str) -> Result<Duration, String> {
    let time = parse_time(value).map_err(|m| format!("'{option}': {m}"))?;
    if time.is_zero() {
        return Err(format!("'{option}' must be greater than 0"));
    }
    Ok(time)
}

/// `observe layer4|layer7`.
fn set_observe(settings: &mut ServerSettings, value: &str) -> Result<(), String> {
    settings.tuning.observe = Some(match value {
        "layer4" => Observe::Layer4,
        "layer7" => Observe::Layer7,
        other => {
            return Err(format!(
                "'observe' expects 'layer4' or 'layer7', not '{other}'"
            ))
        }
    });
    Ok(())
}

/// `on-error fastinter|fail-check|sudden-death|mark-down`.
fn set_on_error(settings: &mut ServerSettings, value: &str) -> Result<(), String> {
    settings.tuning.on_error = match value {
        "fastinter" => OnError::Fastinter,
        "fail-check" => OnError::FailCheck,
        "sudden-death" => OnError::SuddenDeath,
        "mark-down" => OnError::MarkDown,
        other => {
            return Err(format!(
                "'on-error' expects 'fastinter', 'fail-check', 'sudden-death' or 'mark-down', not '{other}'"
            ))
        }
    };
    Ok(())
}

fn positive(option: &str, value: &str) -> Result<u32, String> {
    match parse_u32(value) {
        Ok(0) => Err(format!("'{option}' must be at least 1")),
        Ok(n) => Ok(n),
        Err(m) => Err(format!("'{option}': {m}")),
    }
}
