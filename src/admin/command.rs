//! One command line ─▶ [`Action`]: the words are split as HAProxy splits them, parsed into a
//! typed [`Command`] (never fails: a malformed command is a value that carries HAProxy's error
//! text), checked against the socket's privilege [`Level`], then resolved against the state
//! (names looked up, mutations built, replies rendered).
//!
//! The checks run in HAProxy's order, because the order decides which error an operator sees:
//! privilege first, then `backend/server` syntax, then the backend and server lookups, then the
//! command's own arguments (`set weight bk/nope abc` says "No such server.", not a weight error).
//!
//! Privileges (pointsman's rule, set by the project; HAProxy 2.6 itself asks `admin` for
//! every command that changes a server):
//! - `user`: `show …`, `get weight`, `help`, `prompt`, `quit`, `set timeout cli`;
//! - `operator`: also `enable|disable server`, `set server … state|weight|health`,
//!   `set weight`, `enable|disable health|agent`, `shutdown sessions server`;
//! - `admin`: everything, including `add|del server`, `set server … addr`, frontends, `wait`.
//!
//! Reply texts exclude the session's terminator (see [`Action`]).

use super::format::{InfoFormat, StatFilter, StatFormat, StatRequest};
use super::{help, Action};
use crate::config::{
    apply_options, atoi, parse_time_in, strtol, Algorithm, Level, Numbers, OptionError, TimeUnit,
    HAPROXY_SERVER_KEYWORDS,
};
use crate::state::{AdminState, Mutation, OpState, ServerRef, ServerSpec, State};
use crate::stats::latency_report::Scope;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// HAProxy splits a line into at most this many words; the rest is ignored.
const MAX_ARGS: usize = 64;

/// `cli_permission_denied_msg`.
pub const PERMISSION_DENIED: &str = "Permission denied\n";
const REQUIRE_SERVER: &str = "Require 'backend/server'.\n";
const NO_SUCH_BACKEND: &str = "No such backend.\n";
const NO_SUCH_SERVER: &str = "No such server.\n";
const NOT_SUPPORTED: &str = "This command is not supported by pointsman.\n";
const SET_SERVER_USAGE: &str = "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n";
const STATE_USAGE: &str = "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n";
const HEALTH_USAGE: &str = "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n";
const ADDR_UPDATER: &str = " by 'stats socket command'\n";

/// The version `show version` prints (HAProxy prints its own, e.g. `2.6.12-1+deb12u4`).
pub const VERSION: &str = concat!("pointsman-", env!("CARGO_PKG_VERSION"));

/// `backend/server` as typed by the operator (`#id` forms allowed for either part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName {
    pub backend: String,
    pub server: String,
}

impl ServerName {
    /// Splits `backend/server` at the first `/`; `None` when either part is empty.
    fn parse(word: &str) -> Option<ServerName> {
        let (backend, server) = word.split_once('/')?;
        if backend.is_empty() || server.is_empty() {
            return None;
        }
        Some(ServerName {
            backend: backend.to_string(),
            server: server.to_string(),
        })
    }
}

/// A weight as `set weight` reads it: absolute, or a percentage of the initial weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Absolute(u32),
    /// Percent, clamped at 25600 as HAProxy does.
    Relative(u32),
}

/// What `set server B/S …` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerChange {
    Weight(Result<Weight, &'static str>),
    State(Option<AdminState>),
    Health(Option<OpState>),
    Addr {
        addr: Option<String>,
        port: Option<String>,
    },
    /// A `set server` option pointsman has no equivalent for (agent, check-addr, fqdn, ssl).
    Unsupported(String),
    /// No option, or an unknown one.
    Usage,
}

/// `add server B/S ADDR[:PORT] [keywords]`: the keywords as far as they parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AddServer {
    pub server: Option<ServerName>,
    /// The spec, or HAProxy's error for the address or the first bad keyword.
    pub spec: Result<ServerSpec, String>,
}

/// One admin command, typed. Arguments that HAProxy validates only after finding the server
/// stay `Result`/`Option` values, so that errors come out in HAProxy's order.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `help [words]` (all the words, `help` included).
    Help(Vec<String>),
    /// Not a command: HAProxy's usage message for these words.
    Unknown(Vec<String>),
    Prompt,
    Quit,
    /// `set timeout cli N`, or HAProxy's error.
    SetTimeout(Result<Duration, &'static str>),
    /// `operator` / `user`: lower the session's level.
    SetLevel(Level),
    ShowInfo(InfoFormat),
    ShowStat(StatQuery),
    ShowServersState(Option<String>),
    ShowServersConn(Option<String>),
    /// `show latency [backend[/server]]`: pointsman's own, not in HAProxy.
    ShowLatency(Option<String>),
    ShowBackend,
    ShowVersion,
    ShowCliLevel,
    /// `disable|enable server`, `set server … state`.
    SetAdmin {
        server: Option<ServerName>,
        state: AdminState,
    },
    /// `set server B/S …` (except the state forms above, which are `SetAdmin`).
    SetServer {
        server: Option<ServerName>,
        change: ServerChange,
    },
    /// `set weight B/S W|W%`.
    SetWeight {
        server: Option<ServerName>,
        weight: Result<Weight, &'static str>,
    },
    GetWeight(Option<ServerName>),
    /// `enable|disable health`.
    SetCheck {
        server: Option<ServerName>,
        enabled: bool,
    },
    /// `enable|disable agent`: pointsman has no agent checks.
    SetAgent {
        server: Option<ServerName>,
        enabled: bool,
    },
    AddServer(AddServer),
    DelServer(Option<ServerName>),
    /// `wait DELAY [srv-removable B/S]`.
    Wait {
        delay: Result<Duration, &'static str>,
        server: Option<Result<ServerName, &'static str>>,
    },
    ShutdownSessions(Option<ServerName>),
    SetFrontend {
        name: String,
        enabled: bool,
    },
    /// A HAProxy command pointsman does not implement.
    Unsupported,
}

/// `show stat [<iid|pxname> <type> <sid>] [options]` before the proxy name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatQuery {
    /// Proxy (name or id as typed), type mask, server id.
    pub filter: Option<(String, i64, i64)>,
    pub format: StatFormat,
    pub hide_down: bool,
    pub hide_maint: bool,
}

/// Plans one command line received on a socket of privilege `level`.
pub fn plan(line: &str, state: &State, level: Level) -> Action {
    let args = split_args(line);
    let command = Command::parse(&args);
    if level < command.required_level() {
        return Action::Reply(PERMISSION_DENIED.to_string());
    }
    resolve(command, state, level)
}

/// Splits a command line into words as `cli_parse_request`: spaces and tabs separate words,
/// a backslash escapes the next character (`\;` ─▶ `;`, `\\` ─▶ `\`), at most 64 words.
pub fn split_args(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    while args.len() < MAX_ARGS {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
            if c == '\\' {
                if let Some(escaped) = chars.next() {
                    word.push(escaped);
                }
            } else {
                word.push(c);
            }
        }
        args.push(word);
    }
    args
}

impl Command {
    /// Parses the words of one command line.
    pub fn parse(args: &[String]) -> Command {
        // `wait` (HAProxy 2.7+) is accepted but not in 2.6's keyword table.
        if args.first().is_some_and(|w| w == "wait") {
            return parse_wait(&args[1..]);
        }
        // `show latency` is pointsman's own: it is not in HAProxy's keyword table.
        if let [show, latency, rest @ ..] = args {
            if show == "show" && latency == "latency" {
                let target = rest.first().map(String::as_str).unwrap_or("");
                return Command::ShowLatency(non_empty(target));
            }
        }
        let Some(keyword) = help::find(args) else {
            return Command::Unknown(args.to_vec());
        };
        let rest = &args[keyword.words.len()..];
        let arg = |i: usize| rest.get(i).map(String::as_str).unwrap_or("");
        let server = || ServerName::parse(arg(0));
        match keyword.words {
            ["help"] => Command::Help(args.to_vec()),
            ["prompt"] => Command::Prompt,
            ["quit"] => Command::Quit,
            ["operator"] => Command::SetLevel(Level::Operator),
            ["user"] => Command::SetLevel(Level::User),
            ["set", "timeout"] => parse_set_timeout(arg(0), arg(1)),
            ["show", "info"] => Command::ShowInfo(parse_info_format(rest)),
            ["show", "stat"] => Command::ShowStat(parse_stat_query(rest)),
            ["show", "servers", "state"] => Command::ShowServersState(non_empty(arg(0))),
            ["show", "servers", "conn"] => Command::ShowServersConn(non_empty(arg(0))),
            ["show", "backend"] => Command::ShowBackend,
            ["show", "version"] => Command::ShowVersion,
            ["show", "cli", "level"] => Command::ShowCliLevel,
            ["disable", "server"] => set_admin(server(), AdminState::Maint),
            ["enable", "server"] => set_admin(server(), AdminState::Ready),
            ["set", "server"] => parse_set_server(server(), &rest[rest.len().min(1)..]),
            ["set", "weight"] => Command::SetWeight {
                server: server(),
                weight: parse_weight(arg(1)),
            },
            ["get", "weight"] => Command::GetWeight(server()),
            ["enable", "health"] => set_check(server(), true),
            ["disable", "health"] => set_check(server(), false),
            ["enable", "agent"] => set_agent(server(), true),
            ["disable", "agent"] => set_agent(server(), false),
            ["add", "server"] => Command::AddServer(parse_add_server(rest)),
            ["del", "server"] => Command::DelServer(server()),
            ["shutdown", "sessions", "server"] => Command::ShutdownSessions(server()),
            ["enable", "frontend"] => set_frontend(arg(0), true),
            ["disable", "frontend"] => set_frontend(arg(0), false),
            _ => Command::Unsupported,
        }
    }

    /// The least privilege the command needs.
    pub fn required_level(&self) -> Level {
        match self {
            Command::SetLevel(level) => *level,
            Command::SetAdmin { .. }
            | Command::SetWeight { .. }
            | Command::SetCheck { .. }
            | Command::SetAgent { .. }
            | Command::ShutdownSessions(_) => Level::Operator,
            Command::SetServer { change, .. } => match change {
                ServerChange::Weight(_)
                | ServerChange::State(_)
                | ServerChange::Health(_)
                | ServerChange::Usage => Level::Operator,
                ServerChange::Addr { .. } | ServerChange::Unsupported(_) => Level::Admin,
            },
            Command::AddServer(_)
            | Command::DelServer(_)
            | Command::Wait { .. }
            | Command::SetFrontend { .. } => Level::Admin,
            _ => Level::User,
        }
    }
}

fn non_empty(word: &str) -> Option<String> {
    (!word.is_empty()).then(|| word.to_string())
}

fn set_admin(server: Option<ServerName>, state: AdminState) -> Command {
    Command::SetAdmin { server, state }
}

fn set_check(server: Option<ServerName>, enabled: bool) -> Command {
    Command::SetCheck { server, enabled }
}

fn set_agent(server: Option<ServerName>, enabled: bool) -> Command {
    Command::SetAgent { server, enabled }
}

fn set_frontend(name: &str, enabled: bool) -> Command {
    Command::SetFrontend {
        name: name.to_string(),
        enabled,
    }
}

/// `set timeout cli <delay>`: seconds by default, HAProxy's time units accepted.
fn parse_set_timeout(what: &str, value: &str) -> Command {
    if what != "cli" {
        return Command::SetTimeout(Err("'set timeout' only supports 'cli'.\n"));
    }
    if value.is_empty() {
        return Command::SetTimeout(Err("Expects an integer value.\n"));
    }
    let seconds = parse_time_in(value, TimeUnit::Seconds).map(|d| d.as_secs());
    Command::SetTimeout(match seconds {
        Ok(s) if s >= 1 => Ok(Duration::from_secs(s)),
        _ => Err("Invalid timeout value.\n"),
    })
}

fn parse_info_format(options: &[String]) -> InfoFormat {
    let mut format = InfoFormat::Plain;
    for option in options {
        match option.as_str() {
            "typed" => format = InfoFormat::Typed,
            "json" => format = InfoFormat::Json,
            _ => {}
        }
    }
    format
}

/// `show stat`: a filter only when three words follow; options after it, unknown ones ignored.
fn parse_stat_query(rest: &[String]) -> StatQuery {
    let has_filter = rest.len() >= 3 && rest[..3].iter().all(|w| !w.is_empty());
    let filter = has_filter.then(|| (rest[0].clone(), atoi(&rest[1]), atoi(&rest[2])));
    let mut query = StatQuery {
        filter,
        format: StatFormat::Csv,
        hide_down: false,
        hide_maint: false,
    };
    for option in &rest[if has_filter { 3 } else { 0 }..] {
        match option.as_str() {
            "typed" => query.format = StatFormat::Typed,
            "json" => query.format = StatFormat::Json,
            "up" => query.hide_down = true,
            "no-maint" => query.hide_maint = true,
            _ => {}
        }
    }
    query
}

/// `set server B/S <option> …` (`rest` starts at the option).
fn parse_set_server(server: Option<ServerName>, rest: &[String]) -> Command {
    let arg = |i: usize| rest.get(i).map(String::as_str).unwrap_or("");
    let change = match arg(0) {
        "weight" => ServerChange::Weight(parse_weight(arg(1))),
        "state" => {
            let state = match arg(1) {
                "ready" => Some(AdminState::Ready),
                "drain" => Some(AdminState::Drain),
                "maint" => Some(AdminState::Maint),
                _ => None,
            };
            if let Some(state) = state {
                return Command::SetAdmin { server, state };
            }
            ServerChange::State(None)
        }
        "health" => ServerChange::Health(match arg(1) {
            "up" => Some(OpState::Up),
            "stopping" => Some(OpState::Stopping),
            "down" => Some(OpState::Down),
            _ => None,
        }),
        "addr" => ServerChange::Addr {
            addr: non_empty(arg(1)),
            port: (arg(2) == "port").then(|| arg(3).to_string()),
        },
        option @ ("agent" | "agent-addr" | "agent-port" | "agent-send" | "check-addr"
        | "check-port" | "fqdn" | "ssl") => ServerChange::Unsupported(option.to_string()),
        _ => ServerChange::Usage,
    };
    Command::SetServer { server, change }
}

/// HAProxy's `server_parse_weight_change_request`, up to the part that needs the server.
fn parse_weight(word: &str) -> Result<Weight, &'static str> {
    if word.is_empty() {
        return Err("Require <weight> or <weight%>.\n");
    }
    let (value, rest) = strtol(word).ok_or("Empty weight string empty or preceded by garbage")?;
    if rest == "%" {
        if value < 0 {
            return Err("Relative weight must be positive.\n");
        }
        return Ok(Weight::Relative(value.min(25600) as u32));
    }
    if !(0..=256).contains(&value) {
        return Err("Absolute weight can only be between 0 and 256 inclusive.\n");
    }
    if !rest.is_empty() {
        return Err("Trailing garbage in weight string");
    }
    Ok(Weight::Absolute(value as u32))
}

/// `add server B/S ADDR:PORT [keywords]` (`rest` starts at `B/S`).
fn parse_add_server(rest: &[String]) -> AddServer {
    let server = ServerName::parse(rest.first().map(String::as_str).unwrap_or(""));
    let name = server.as_ref().map(|s| s.server.as_str()).unwrap_or("");
    AddServer {
        spec: parse_server_spec(name, rest.get(1..).unwrap_or(&[])),
        server,
    }
}

/// The `server` line keywords `add server` accepts, with HAProxy's defaults, read by the
/// config's keyword parser as HAProxy reads them (`atoi`). pointsman starts a new server READY
/// (serving at once) unless `disabled` is given; HAProxy starts every dynamic server in
/// maintenance.
fn parse_server_spec(name: &str, words: &[String]) -> Result<ServerSpec, String> {
    let Some(addr_word) = words.first() else {
        return Err("'server' expects <name> and <addr>[:<port>] as arguments.\n".to_string());
    };
    let addr = parse_socket_addr(addr_word).ok_or_else(|| {
        format!("Invalid address '{addr_word}': pointsman needs a numeric IP and a port.\n")
    })?;
    let mut spec = ServerSpec::new(name, addr);
    apply_options(&mut spec.options, &words[1..], Numbers::Atoi)
        .map_err(|error| haproxy_text(&error, name))?;
    Ok(spec)
}

/// HAProxy's reply to a refused `add server` keyword. Where HAProxy's words are known they are
/// used; the check-tuning keywords get the config's words, as a sentence.
fn haproxy_text(error: &OptionError, server: &str) -> String {
    match error {
        OptionError::MissingValue(keyword @ ("weight" | "maxconn" | "rise" | "fall")) => {
            format!("'{keyword}' expects an integer argument.\n")
        }
        OptionError::MissingValue("inter")
        | OptionError::BadTime {
            keyword: "inter", ..
        }
        | OptionError::ZeroTime("inter") => {
            "'inter' expects a positive delay in milliseconds.\n".to_string()
        }
        OptionError::MissingValue(keyword) => format!("'{keyword}' expects <value> as argument.\n"),
        OptionError::WeightOutOfRange(weight) => {
            format!("weight of server {server} is not within 0 and 256 ({weight})..\n")
        }
        OptionError::NotPositive(keyword @ ("rise" | "fall")) => {
            format!("'{keyword}' has to be > 0.\n")
        }
        OptionError::Unknown(keyword) if HAPROXY_SERVER_KEYWORDS.contains(&keyword.as_str()) => {
            format!("'{keyword}' is not supported by pointsman's 'add server'.\n")
        }
        OptionError::Unknown(keyword) => unknown_server_keyword(keyword),
        other => format!("{other}.\n"),
    }
}

/// `ADDR:PORT` with a numeric IPv4 or IPv6 (`[::1]:80` or `::1:80`) address.
fn parse_socket_addr(word: &str) -> Option<SocketAddr> {
    if let Ok(addr) = word.parse::<SocketAddr>() {
        return Some(addr);
    }
    let (ip, port) = word.rsplit_once(':')?;
    Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?))
}

/// HAProxy's `unknown keyword 'x'; did you mean 'y' maybe ?`, with its word fingerprint
/// distance (`srv_find_best_kw`).
fn unknown_server_keyword(word: &str) -> String {
    let mut word_sig = [0u8; 1024];
    help::update_fingerprint(&mut word_sig, word);
    let mut best: Option<(&str, usize)> = None;
    for candidate in HAPROXY_SERVER_KEYWORDS {
        let mut sig = [0u8; 1024];
        help::update_fingerprint(&mut sig, candidate);
        let dist = help::fingerprint_distance(&word_sig, &sig);
        if best.is_none_or(|(_, d)| dist < d) {
            best = Some((candidate, dist));
        }
    }
    match best {
        Some((kw, dist)) if dist <= 2 * word.len() && dist <= 2 * kw.len() => {
            format!("unknown keyword '{word}'; did you mean '{kw}' maybe ?\n")
        }
        _ => format!("unknown keyword '{word}'.\n"),
    }
}

/// Turns a parsed, permitted command into what the session must do.
fn resolve(command: Command, state: &State, level: Level) -> Action {
    match command {
        Command::Help(words) | Command::Unknown(words) => {
            Action::Reply(help::usage_message(&words))
        }
        Command::Prompt => Action::TogglePrompt,
        Command::Quit => Action::Quit,
        Command::SetTimeout(timeout) => match timeout {
            Ok(duration) => Action::SetTimeout(duration),
            Err(text) => reply(text),
        },
        Command::SetLevel(level) => Action::SetLevel(level),
        Command::ShowInfo(format) => Action::ShowInfo(format),
        Command::ShowStat(query) => show_stat(query, state),
        Command::ShowServersState(name) => match find_backend_arg(state, name) {
            Ok(backend) => Action::ShowServersState(backend),
            Err(text) => reply(text),
        },
        Command::ShowServersConn(name) => match find_backend_arg(state, name) {
            Ok(backend) => Action::ShowServersConn(backend),
            Err(text) => reply(text),
        },
        Command::ShowLatency(target) => match latency_scope(state, target) {
            Ok(scope) => Action::ShowLatency(scope),
            Err(text) => reply(text),
        },
        Command::ShowBackend => Action::Reply(super::format::show_backend(state)),
        Command::ShowVersion => Action::Reply(format!("{VERSION}\n")),
        Command::ShowCliLevel => Action::Reply(format!("{}\n", level_name(level))),
        Command::SetAdmin {
            server,
            state: admin,
        } => with_server(state, server, |r| set_admin_state(state, r, admin)),
        Command::SetServer { server, change } => {
            with_server(state, server, |r| set_server(state, r, change))
        }
        Command::SetWeight { server, weight } => {
            with_server(state, server, |r| set_weight(state, r, weight))
        }
        Command::GetWeight(server) => with_server(state, server, |r| get_weight(state, r)),
        Command::SetCheck { server, enabled } => {
            with_server(state, server, |r| set_check_enabled(state, r, enabled))
        }
        Command::SetAgent { server, enabled } => {
            with_server(state, server, |_| set_agent_enabled(enabled))
        }
        Command::AddServer(add) => add_server(state, add),
        Command::DelServer(server) => del_server(state, server),
        Command::Wait { delay, server } => wait(state, delay, server),
        Command::ShutdownSessions(server) => with_server(state, server, Action::ShutdownSessions),
        Command::SetFrontend { name, enabled } => set_frontend_enabled(state, &name, enabled),
        Command::Unsupported => reply(NOT_SUPPORTED),
    }
}

fn reply(text: &str) -> Action {
    Action::Reply(text.to_string())
}

fn done(mutations: Vec<Mutation>) -> Action {
    if mutations.is_empty() {
        return Action::Reply(String::new());
    }
    Action::Mutate {
        mutations,
        reply: String::new(),
    }
}

pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::User => "user",
        Level::Operator => "operator",
        Level::Admin => "admin",
    }
}

/// A backend by name or `#id` (HAProxy's `proxy_be_by_name`).
pub fn find_backend(state: &State, name: &str) -> Option<usize> {
    if let Some(id) = name.strip_prefix('#') {
        let id = atoi(id);
        return state.backends.iter().position(|b| i64::from(b.id) == id);
    }
    state.backend_index(name)
}

/// HAProxy's `get_backend_server`: backend by name or `#id`, server by name or `#sid`.
fn find_server(state: &State, name: &ServerName) -> Result<ServerRef, &'static str> {
    let backend = find_backend(state, &name.backend).ok_or(NO_SUCH_BACKEND)?;
    let servers = &state.backends[backend].servers;
    let server = match name.server.strip_prefix('#') {
        Some(id) => servers.iter().find(|s| i64::from(s.id) == atoi(id)),
        None => servers.iter().find(|s| s.name == name.server),
    }
    .ok_or(NO_SUCH_SERVER)?;
    Ok(ServerRef {
        backend,
        server: server.id,
    })
}

/// HAProxy's `cli_find_server`, then `action` on the server found.
fn with_server(
    state: &State,
    name: Option<ServerName>,
    action: impl FnOnce(ServerRef) -> Action,
) -> Action {
    let Some(name) = name else {
        return reply(REQUIRE_SERVER);
    };
    match find_server(state, &name) {
        Ok(server) => action(server),
        Err(text) => reply(text),
    }
}

/// `show servers state|conn [backend]`.
/// `show latency`'s argument: nothing, a backend, or `backend/server`.
fn latency_scope(state: &State, target: Option<String>) -> Result<Scope, &'static str> {
    let Some(target) = target else {
        return Ok(Scope::All);
    };
    if !target.contains('/') {
        return find_backend(state, &target)
            .map(Scope::Backend)
            .ok_or("Can't find backend.\n");
    }
    let name = ServerName::parse(&target).ok_or(REQUIRE_SERVER)?;
    find_server(state, &name).map(Scope::Server)
}

fn find_backend_arg(state: &State, name: Option<String>) -> Result<Option<usize>, &'static str> {
    match name {
        None => Ok(None),
        Some(name) => find_backend(state, &name)
            .map(Some)
            .ok_or("Can't find backend.\n"),
    }
}

/// `show stat`: resolves the proxy filter as `cli_parse_show_stat` (a name, else a number;
/// 0 is "No such proxy").
fn show_stat(query: StatQuery, state: &State) -> Action {
    let filter = match query.filter {
        None => None,
        Some((proxy, types, sid)) => {
            let iid = proxy_id_by_name(state, &proxy).unwrap_or_else(|| atoi(&proxy));
            if iid == 0 {
                return reply("No such proxy.\n");
            }
            Some(StatFilter { iid, types, sid })
        }
    };
    Action::ShowStat(StatRequest {
        filter,
        format: query.format,
        hide_down: query.hide_down,
        hide_maint: query.hide_maint,
    })
}

fn proxy_id_by_name(state: &State, name: &str) -> Option<i64> {
    let frontends = state.frontends.iter().map(|f| (&f.name, f.id));
    let backends = state.backends.iter().map(|b| (&b.name, b.id));
    frontends
        .chain(backends)
        .find(|(n, _)| n.as_str() == name)
        .map(|(_, id)| i64::from(id))
}

fn set_admin_state(state: &State, server: ServerRef, admin: AdminState) -> Action {
    let unchanged = state.server(server).is_some_and(|s| s.admin == admin);
    if unchanged {
        return done(vec![]);
    }
    done(vec![Mutation::SetAdminState {
        server,
        state: admin,
    }])
}

fn set_server(state: &State, server: ServerRef, change: ServerChange) -> Action {
    match change {
        ServerChange::Weight(weight) => set_weight(state, server, weight),
        ServerChange::State(_) => reply(STATE_USAGE),
        ServerChange::Health(None) => reply(HEALTH_USAGE),
        ServerChange::Health(Some(op)) => done(vec![Mutation::SetHealth { server, op }]),
        ServerChange::Addr { addr: None, .. } => {
            reply("set server <b>/<s> addr requires an address and optionally a port.\n")
        }
        ServerChange::Addr {
            addr: Some(addr),
            port,
        } => set_addr(state, server, &addr, port.as_deref()),
        ServerChange::Unsupported(option) => unsupported_server_option(state, server, &option),
        ServerChange::Usage => reply(SET_SERVER_USAGE),
    }
}

fn unsupported_server_option(state: &State, server: ServerRef, option: &str) -> Action {
    if option.starts_with("agent") {
        return reply("agent checks are not enabled on this server.\n");
    }
    let checked = state.server(server).is_some_and(|s| s.check.configured);
    if option.starts_with("check") && !checked {
        return reply("health checks are not enabled on this server.\n");
    }
    Action::Reply(format!(
        "'set server <srv> {option}' is not supported by pointsman.\n"
    ))
}

/// `set weight` and `set server … weight`: the rest of `server_parse_weight_change_request`.
fn set_weight(state: &State, server: ServerRef, weight: Result<Weight, &'static str>) -> Action {
    let weight = match weight {
        Ok(weight) => weight,
        Err(text) => return reply(text),
    };
    let (Some(srv), Some(backend)) = (state.server(server), state.backends.get(server.backend))
    else {
        return reply(NO_SUCH_SERVER);
    };
    let new = match weight {
        Weight::Absolute(w) => w,
        Weight::Relative(pct) => (srv.initial_weight * pct / 100).min(256),
    };
    if is_static(backend.algorithm) && new != 0 && new != srv.initial_weight {
        return reply(
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n",
        );
    }
    if new == srv.weight {
        return done(vec![]);
    }
    done(vec![Mutation::SetWeight {
        server,
        weight: new,
    }])
}

fn get_weight(state: &State, server: ServerRef) -> Action {
    match state.server(server) {
        Some(s) => Action::Reply(format!("{} (initial {})\n", s.weight, s.initial_weight)),
        None => reply(NO_SUCH_SERVER),
    }
}

fn set_check_enabled(state: &State, server: ServerRef, enabled: bool) -> Action {
    let configured = state.server(server).is_some_and(|s| s.check.configured);
    if enabled && !configured {
        return reply("Health checks are not configured on this server, cannot enable.\n");
    }
    done(vec![Mutation::SetCheckEnabled { server, enabled }])
}

/// pointsman has no agent checks: `disable agent` has nothing to do (HAProxy replies "\n"),
/// `enable agent` gets HAProxy's reply for a server without an agent.
fn set_agent_enabled(enabled: bool) -> Action {
    if enabled {
        return reply("Agent was not configured on this server, cannot enable.\n");
    }
    done(vec![])
}

/// `set server B/S addr A [port P]`: HAProxy's `srv_update_addr_port` and its report.
fn set_addr(state: &State, server: ServerRef, addr: &str, port: Option<&str>) -> Action {
    let Some(current) = state.server(server).map(|s| s.addr) else {
        return reply(NO_SUCH_SERVER);
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return Action::Reply(format!("Invalid addr '{addr}'{ADDR_UPDATER}"));
    };
    let mut report = if ip == current.ip() {
        String::from("no need to change the addr")
    } else {
        format!("IP changed from '{}' to '{addr}'", current.ip())
    };
    let mut new = SocketAddr::new(ip, current.port());
    if let Some(port) = port {
        report.push_str(", ");
        match port_change(current.port(), port) {
            Ok(Some(p)) => {
                report.push_str(&format!("port changed from '{}' to '{p}'", current.port()));
                new.set_port(p);
            }
            Ok(None) => report.push_str("no need to change the port"),
            Err(text) => report.push_str(&text),
        }
    }
    report.push_str(ADDR_UPDATER);
    let mutations = if new == current {
        vec![]
    } else {
        vec![Mutation::SetAddr { server, addr: new }]
    };
    Action::Mutate {
        mutations,
        reply: report,
    }
    .without_empty_mutation()
}

/// The new port, `None` when unchanged, or HAProxy's error text.
fn port_change(current: u16, word: &str) -> Result<Option<u16>, String> {
    let Some((value, _)) = strtol(word) else {
        return Err(format!("problem converting port '{word}' to an int"));
    };
    if word.starts_with('+') || word.starts_with('-') {
        // Port mapping needs a dedicated check port, which pointsman servers never have.
        return Err("can't change <port> to port map because it is incompatible with current health check port configuration (use 'port' statement from the 'server' directive.".to_string());
    }
    // HAProxy stores strtol's result in a uint16_t.
    let port = value as u16;
    Ok((port != current).then_some(port))
}

/// HAProxy's algorithms without dynamic weights (no `BE_LB_PROP_DYN`): `static-rr`, and
/// `source` with its default map-based hash (pointsman's config has no `hash-type`).
fn is_static(algorithm: Algorithm) -> bool {
    matches!(algorithm, Algorithm::StaticRr | Algorithm::Source)
}

/// `add server`: HAProxy's checks in its order, then one `AddServer` mutation.
fn add_server(state: &State, add: AddServer) -> Action {
    let Some(name) = add.server else {
        return reply("Require 'backend/server'.");
    };
    let Some(backend) = find_backend(state, &name.backend) else {
        return reply("No such backend.");
    };
    let b = &state.backends[backend];
    if is_static(b.algorithm) {
        return reply("Backend must use a dynamic load balancing to support dynamic servers.");
    }
    let spec = match add.spec {
        Ok(spec) => spec,
        Err(text) => return Action::Reply(text),
    };
    if b.server_by_name(&spec.name).is_some() {
        return reply("Already exists a server with the same name in backend.\n");
    }
    Action::Mutate {
        mutations: vec![Mutation::AddServer { backend, spec }],
        reply: "New server registered.\n".to_string(),
    }
}

/// `del server`: names checked here, the removal itself decided by the coordinator.
fn del_server(state: &State, name: Option<ServerName>) -> Action {
    let Some(name) = name else {
        return reply("Require 'backend/server'.");
    };
    match find_server(state, &name) {
        Ok(server) => Action::DeleteServer(server),
        Err(NO_SUCH_BACKEND) => reply("No such backend."),
        Err(_) => reply("No such server."),
    }
}

const WAIT_USAGE: &str = "Usage: wait {-h|<duration>} [condition [args...]]\n  - '-h' displays this help\n  - <duration> is the maximum wait time, optionally suffixed by the unit among\n    'us', 'ms', 's', 'm', 'h', and 'd'. ; the default unit is milliseconds.\n  - <condition> indicates what to wait for. By default, no events aborts the\n    operation, which makes it reliably pause for the specified duration.\n    Supported conditions:\n    - srv-removable <proxy>/<server> : wait for the specified server to be\n      removable (i.e. be in maintenance and no longer have any connection on it).\n      Some conditions will never be accepted (e.g. not in maintenance) and will\n      cause the report of a specific error message indicating what condition is\n      not met. The server might even have been removed in between, which will\n      be reported as well.\n";

fn wait(
    state: &State,
    delay: Result<Duration, &'static str>,
    server: Option<Result<ServerName, &'static str>>,
) -> Action {
    let delay = match delay {
        Ok(delay) => delay,
        Err(text) => return reply(text),
    };
    match server {
        None => Action::Wait(delay),
        Some(Err(text)) => reply(text),
        Some(Ok(name)) => match find_server(state, &name) {
            Ok(server) => Action::WaitRemovable {
                server,
                timeout: delay,
            },
            Err(text) => reply(text),
        },
    }
}

/// `wait …` (`rest` after `wait`), HAProxy 2.7's `cli_parse_wait`.
fn parse_wait(rest: &[String]) -> Command {
    let arg = |i: usize| rest.get(i).map(String::as_str).unwrap_or("");
    let delay = match arg(0) {
        "" => Err("Expects a duration in milliseconds.\n"),
        "-h" => Err(WAIT_USAGE),
        word => parse_time_in(word, TimeUnit::Milliseconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or("Invalid duration.\n"),
    };
    let server = match arg(1) {
        "" => None,
        "srv-removable" if arg(2).is_empty() => {
            Some(Err("Missing server name (<backend>/<server>).\n"))
        }
        "srv-removable" => Some(ServerName::parse(arg(2)).ok_or(REQUIRE_SERVER)),
        _ => Some(Err(WAIT_USAGE)),
    };
    Command::Wait { delay, server }
}

fn set_frontend_enabled(state: &State, name: &str, enabled: bool) -> Action {
    if name.is_empty() {
        return reply("A frontend name is expected.\n");
    }
    let Some(frontend) = state.frontend_index(name) else {
        return reply("No such frontend.\n");
    };
    if state.frontends[frontend].enabled == enabled {
        return reply(if enabled {
            "All sockets are already enabled.\n"
        } else {
            "All sockets are already disabled.\n"
        });
    }
    done(vec![Mutation::SetFrontendEnabled { frontend, enabled }])
}

impl Action {
    /// A `Mutate` with nothing to change is a plain reply.
    fn without_empty_mutation(self) -> Action {
        match self {
            Action::Mutate { mutations, reply } if mutations.is_empty() => Action::Reply(reply),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::testutil::{self, capture_state, fixture, nginx2};
    use crate::state::apply;

    const NOW: u64 = testutil::START + 7;

    /// Carries out an action the way the server does, with the test coordinator.
    fn run(state: &mut State, line: &str, level: Level) -> String {
        match plan(line, state, level) {
            Action::Reply(text) => text,
            Action::Mutate { mutations, reply } => {
                for m in &mutations {
                    apply(state, m, NOW).unwrap();
                }
                reply
            }
            Action::DeleteServer(server) => testutil::delete_server(state, server, NOW),
            Action::ShutdownSessions(_)
            | Action::SetTimeout(_)
            | Action::SetLevel(_)
            | Action::Wait(_)
            | Action::WaitRemovable { .. }
            | Action::TogglePrompt => String::new(),
            other => panic!("{line}: {other:?} needs the backend"),
        }
    }

    fn admin(state: &mut State, line: &str) -> String {
        run(state, line, Level::Admin)
    }

    /// `replies_table.json`: `[{"cmd": "...", "reply": "..."}, ...]`.
    fn replies_table() -> Vec<(String, String)> {
        let text = fixture("replies_table.json");
        let mut rows = Vec::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("\"cmd\": ") {
            let (cmd, after) = json_string(&rest[at + 7..]);
            let at = after.find("\"reply\": ").unwrap();
            let (reply, after) = json_string(&after[at + 9..]);
            rows.push((cmd, reply));
            rest = after;
        }
        rows
    }

    /// A JSON string literal at the start of `s`, and what follows it.
    fn json_string(s: &str) -> (String, &str) {
        let mut out = String::new();
        let mut chars = s.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return (out, &s[i + 1..]),
                '\\' => match chars.next().unwrap().1 {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'u' => {
                        let hex: String = (0..4).map(|_| chars.next().unwrap().1).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        panic!("unterminated JSON string");
    }

    /// Every reply of the catalogue, replayed in order on one state, byte for byte (the
    /// capture is the reply plus the "\n" terminator).
    #[test]
    fn replies_table_byte_for_byte() {
        let rows = replies_table();
        assert_eq!(rows.len(), 99);
        let mut state = capture_state();
        for (i, (cmd, expected)) in rows.iter().enumerate() {
            let row = i + 1;
            let reply = admin(&mut state, cmd);
            match row {
                // pointsman's own version string.
                1 => assert_eq!(reply, format!("{VERSION}\n")),
                // pointsman starts an added server READY, so `del server` right after `add
                // server` refuses (HAProxy's server is in MAINT and goes), and the next
                // `add server` finds it still there.
                37 => assert_eq!(reply, "Only servers in maintenance mode can be deleted."),
                38 => assert_eq!(
                    reply,
                    "Already exists a server with the same name in backend.\n"
                ),
                _ => assert_eq!(reply + "\n", *expected, "row {row}: {cmd}"),
            }
        }
    }

    #[test]
    fn prompt_and_quit_and_timeout_are_session_actions() {
        let state = capture_state();
        assert_eq!(plan("prompt", &state, Level::User), Action::TogglePrompt);
        assert_eq!(plan("quit", &state, Level::User), Action::Quit);
        assert_eq!(
            plan("set timeout cli 60", &state, Level::User),
            Action::SetTimeout(Duration::from_secs(60))
        );
        assert_eq!(
            plan("set timeout cli 2m", &state, Level::User),
            Action::SetTimeout(Duration::from_secs(120))
        );
        assert_eq!(
            plan("set timeout cli", &state, Level::User),
            Action::Reply("Expects an integer value.\n".into())
        );
    }

    #[test]
    fn user_level_may_only_read() {
        let mut state = capture_state();
        for line in [
            "disable server bk_app/nginx2",
            "set weight bk_app/nginx2 10",
            "set server bk_app/nginx2 state drain",
            "enable health bk_app/nginx2",
            "shutdown sessions server bk_app/nginx2",
            "add server bk_app/x 127.0.0.1:1",
            "disable frontend app",
            // The level check comes before HAProxy's argument checks.
            "set weight",
            "disable server",
        ] {
            assert_eq!(
                run(&mut state, line, Level::User),
                PERMISSION_DENIED,
                "{line}"
            );
        }
        assert_eq!(
            run(&mut state, "get weight bk_app/nginx2", Level::User),
            "1 (initial 1)\n"
        );
        assert_eq!(run(&mut state, "show cli level", Level::User), "user\n");
        assert!(matches!(
            plan("show stat", &state, Level::User),
            Action::ShowStat(_)
        ));
        assert!(matches!(
            plan("show info", &state, Level::User),
            Action::ShowInfo(_)
        ));
    }

    #[test]
    fn operator_changes_states_and_weights_but_not_the_topology() {
        let mut state = capture_state();
        let op = Level::Operator;
        assert_eq!(run(&mut state, "disable server bk_app/nginx2", op), "");
        assert_eq!(state.server(nginx2()).unwrap().admin, AdminState::Maint);
        assert_eq!(run(&mut state, "set server bk_app/nginx2 weight 7", op), "");
        assert_eq!(
            run(&mut state, "set server bk_app/nginx2 health down", op),
            ""
        );
        assert_eq!(run(&mut state, "disable health bk_app/nginx2", op), "");
        for line in [
            "add server bk_app/x 127.0.0.1:1",
            "del server bk_app/nginx2",
            "set server bk_app/nginx2 addr 127.0.0.2",
            "enable frontend app",
            "wait 10 srv-removable bk_app/nginx2",
        ] {
            assert_eq!(run(&mut state, line, op), PERMISSION_DENIED, "{line}");
        }
    }

    #[test]
    fn operator_and_user_commands_lower_the_level() {
        let state = capture_state();
        assert_eq!(
            plan("user", &state, Level::Admin),
            Action::SetLevel(Level::User)
        );
        assert_eq!(
            plan("operator", &state, Level::User),
            Action::Reply(PERMISSION_DENIED.into())
        );
    }

    #[test]
    fn percent_weights_are_relative_to_the_initial_weight_rounded_down() {
        let mut state = capture_state();
        let server = nginx2();
        state.server_mut(server).unwrap().initial_weight = 3;
        for (line, expected) in [
            ("set weight bk_app/nginx2 50%", 1),
            ("set weight bk_app/nginx2 200%", 6),
        ] {
            admin(&mut state, line);
            assert_eq!(state.server(server).unwrap().weight, expected, "{line}");
        }
        admin(&mut state, "set weight bk_app/nginx2 100000%");
        assert_eq!(state.server(server).unwrap().weight, 256);
    }

    #[test]
    fn weight_errors_in_haproxy_order() {
        let mut state = capture_state();
        let cases = [
            ("set weight bk_app/nope abc", "No such server.\n"),
            ("set weight nope/nginx2 abc", "No such backend.\n"),
            ("set weight bk_app 1", "Require 'backend/server'.\n"),
            (
                "set weight bk_app/nginx2 300abc",
                "Absolute weight can only be between 0 and 256 inclusive.\n",
            ),
            ("set weight bk_app/nginx2 +5", ""),
            (
                "set weight bk_app/nginx2 0x10",
                "Trailing garbage in weight string",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(admin(&mut state, line), expected, "{line}");
        }
    }

    #[test]
    fn static_algorithms_refuse_dynamic_weights_and_servers() {
        let mut state = capture_state();
        state.backends[0].algorithm = Algorithm::StaticRr;
        assert_eq!(
            admin(&mut state, "set weight bk_app/nginx2 5"),
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
        );
        assert_eq!(admin(&mut state, "set weight bk_app/nginx2 0%"), "");
        assert_eq!(admin(&mut state, "set weight bk_app/nginx2 100%"), "");
        assert_eq!(
            admin(&mut state, "add server bk_app/nginx3 127.0.0.1:28083"),
            testutil::fixture("add_server_static_rr.txt").trim_end_matches('\n')
        );
    }

    #[test]
    fn add_server_starts_ready_unless_disabled() {
        let mut state = capture_state();
        let reply = admin(&mut state, "add server bk_app/nginx3 127.0.0.1:28083 weight 5 backup cookie c3 maxconn 10 inter 3s rise 1 fall 2 check");
        assert_eq!(reply, "New server registered.\n");
        let s = state.backends[0].server_by_name("nginx3").unwrap();
        assert_eq!(
            (s.admin, s.weight, s.backup, s.dynamic),
            (AdminState::Ready, 5, true, true)
        );
        assert_eq!((s.cookie.as_deref(), s.maxconn), (Some("c3"), Some(10)));
        assert_eq!(
            (s.check.inter, s.check.rise, s.check.fall),
            (Duration::from_secs(3), 1, 2)
        );
        admin(&mut state, "add server bk_app/nginx4 [::1]:28084 disabled");
        let s = state.backends[0].server_by_name("nginx4").unwrap();
        assert_eq!(s.admin, AdminState::Maint);
        assert_eq!(s.addr, "[::1]:28084".parse().unwrap());
    }

    #[test]
    fn add_server_takes_the_check_tuning_keywords_of_a_server_line() {
        let mut state = capture_state();
        let reply = admin(
            &mut state,
            "add server bk_app/n5 127.0.0.1:28085 check fastinter 500ms downinter 5s slowstart 10s error-limit 4",
        );
        assert_eq!(reply, "New server registered.\n");
        let s = state.backends[0].server_by_name("n5").unwrap();
        assert_eq!(
            (s.tuning.fastinter, s.tuning.downinter, s.tuning.slowstart),
            (
                Some(Duration::from_millis(500)),
                Some(Duration::from_secs(5)),
                Some(Duration::from_secs(10))
            )
        );
        assert_eq!(s.tuning.error_limit, 4);
        let reply = admin(&mut state, "add server bk_app/n6 127.0.0.1:1 fastinter");
        assert_eq!(reply, "'fastinter' expects <value> as argument.\n");
        let reply = admin(&mut state, "add server bk_app/n6 127.0.0.1:1 error-limit 0");
        assert!(reply.contains("error-limit"), "{reply}");
        assert!(state.backends[0].server_by_name("n6").is_none());
    }

    #[test]
    fn add_server_keyword_errors() {
        let mut state = capture_state();
        let cases = [
            (
                "add server bk_app/n 127.0.0.1:1 foo",
                "unknown keyword 'foo'; did you mean 'tfo' maybe ?\n",
            ),
            (
                "add server bk_app/n 127.0.0.1:1 weight",
                "'weight' expects an integer argument.\n",
            ),
            (
                "add server bk_app/n 127.0.0.1:1 rise 0",
                "'rise' has to be > 0.\n",
            ),
            (
                "add server bk_app/n 127.0.0.1:1 ssl",
                "'ssl' is not supported by pointsman's 'add server'.\n",
            ),
            (
                "add server bk_app/n notanaddr:80",
                "Invalid address 'notanaddr:80': pointsman needs a numeric IP and a port.\n",
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(admin(&mut state, line), expected, "{line}");
        }
    }

    #[test]
    fn set_addr_reports_like_haproxy() {
        let mut state = capture_state();
        let cases = [
            (
                "set server bk_app/nginx2 addr 127.0.0.2",
                "set_addr_noport_change.txt",
            ),
            (
                "set server bk_app/nginx2 addr 127.0.0.1 port 28082",
                "set_addr_back2.txt",
            ),
            (
                "set server bk_app/nginx2 addr 127.0.0.1 port +1",
                "set_addr_port_plus.txt",
            ),
            (
                "set server bk_app/nginx2 port 28083",
                "set_addr_port_only.txt",
            ),
        ];
        for (line, capture) in cases {
            let expected = fixture(capture);
            let reply = admin(&mut state, line);
            // set_addr_noport_change.txt moved 127.0.0.1 to 127.0.0.2; we start at .1.
            assert_eq!(reply + "\n", expected, "{line}");
            if capture == "set_addr_noport_change.txt" {
                admin(&mut state, "set server bk_app/nginx2 addr 127.0.0.1");
            }
        }
        admin(
            &mut state,
            "set server bk_app/nginx2 addr 127.0.0.2 port 28083",
        );
        assert_eq!(
            state.server(nginx2()).unwrap().addr,
            "127.0.0.2:28083".parse().unwrap()
        );
        assert_eq!(
            admin(
                &mut state,
                "set server bk_app/nginx2 addr 127.0.0.1 port 28082"
            ) + "\n",
            fixture("set_addr_back.txt")
        );
    }

    #[test]
    fn servers_and_backends_by_id() {
        let mut state = capture_state();
        assert_eq!(admin(&mut state, "get weight #3/#2"), "1 (initial 1)\n");
        assert_eq!(admin(&mut state, "get weight #3/#9"), "No such server.\n");
        assert_eq!(
            plan("show servers state #3", &state, Level::User),
            Action::ShowServersState(Some(0))
        );
    }

    #[test]
    fn show_stat_filters() {
        let state = capture_state();
        let filter = |line: &str| match plan(line, &state, Level::User) {
            Action::ShowStat(req) => (req.filter.map(|f| (f.iid, f.types, f.sid)), req.format),
            other => panic!("{other:?}"),
        };
        assert_eq!(filter("show stat"), (None, StatFormat::Csv));
        assert_eq!(
            filter("show stat bk_app -1 -1"),
            (Some((3, -1, -1)), StatFormat::Csv)
        );
        assert_eq!(
            filter("show stat 3 4 2 typed"),
            (Some((3, 4, 2)), StatFormat::Typed)
        );
        assert_eq!(
            filter("show stat -1 4 -1 json"),
            (Some((-1, 4, -1)), StatFormat::Json)
        );
        assert_eq!(filter("show stat foo"), (None, StatFormat::Csv));
        assert_eq!(
            filter("show stat 99 -1 -1"),
            (Some((99, -1, -1)), StatFormat::Csv)
        );
        assert_eq!(
            plan("show stat typed 3 4 2", &state, Level::User),
            Action::Reply("No such proxy.\n".into())
        );
    }

    #[test]
    fn health_agent_and_frontend_replies() {
        let mut state = capture_state();
        state.server_mut(nginx2()).unwrap().check.configured = false;
        let cases = [
            (
                "enable health bk_app/nginx2",
                "Health checks are not configured on this server, cannot enable.\n",
            ),
            (
                "enable agent bk_app/nginx2",
                "Agent was not configured on this server, cannot enable.\n",
            ),
            ("disable agent bk_app/nginx2", ""),
            (
                "set server bk_app/nginx2 agent up",
                "agent checks are not enabled on this server.\n",
            ),
            ("disable frontend", "A frontend name is expected.\n"),
            ("disable frontend app", ""),
            (
                "disable frontend app",
                "All sockets are already disabled.\n",
            ),
            ("enable frontend app", ""),
            ("enable frontend app", "All sockets are already enabled.\n"),
            ("show sess", NOT_SUPPORTED),
        ];
        for (line, expected) in cases {
            assert_eq!(admin(&mut state, line), expected, "{line}");
        }
    }

    #[test]
    fn wait_commands() {
        let state = capture_state();
        let p = |line: &str| plan(line, &state, Level::Admin);
        assert_eq!(p("wait 100"), Action::Wait(Duration::from_millis(100)));
        assert_eq!(
            p("wait 2s srv-removable bk_app/nginx2"),
            Action::WaitRemovable {
                server: nginx2(),
                timeout: Duration::from_secs(2)
            }
        );
        assert_eq!(
            p("wait"),
            Action::Reply("Expects a duration in milliseconds.\n".into())
        );
        assert_eq!(p("wait abc"), Action::Reply("Invalid duration.\n".into()));
        assert_eq!(
            p("wait 10 srv-removable"),
            Action::Reply("Missing server name (<backend>/<server>).\n".into())
        );
        assert_eq!(
            p("wait 10 srv-removable bk_app/nope"),
            Action::Reply("No such server.\n".into())
        );
    }

    #[test]
    fn words_split_like_haproxy() {
        assert_eq!(split_args("  show\t stat  "), ["show", "stat"]);
        assert_eq!(split_args("show version\\;x"), ["show", "version;x"]);
        assert_eq!(split_args("a\\ b c\\\\d"), ["a b", "c\\d"]);
        let many = "show version ".to_string() + &"a ".repeat(100);
        assert_eq!(split_args(&many).len(), MAX_ARGS);
        let state = capture_state();
        assert_eq!(
            plan(&many, &state, Level::User),
            Action::Reply(format!("{VERSION}\n"))
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        let mut state = capture_state();
        let odd = [
            "set weight bk_app/nginx2 99999999999999999999999%",
            "set weight bk_app/nginx2 -99999999999999999999999",
            "set server bk_app/nginx2 addr ::1 port 99999999999999",
            "set server / state ready",
            "add server / 1",
            "add server bk_app/x 127.0.0.1:1 inter 99999999999999999999d",
            "show stat -99999999999999999999 4 -1",
            "wait 99999999999999999999d",
            "set timeout cli 99999999999999999999d",
            "\u{1F600} \\",
            "help \u{e9}\u{e8}",
        ];
        for line in odd {
            let _ = plan(line, &state, Level::Admin);
        }
        admin(
            &mut state,
            "add server bk_app/x 127.0.0.1:1 inter 99999999999999999999d",
        );
    }
}
