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
//! - `user`: `show …`, `get weight`, `get map`, `help`, `prompt`, `quit`, `set timeout cli`;
//! - `operator`: also `enable|disable server`, `set server … state|weight|health`,
//!   `set weight`, `enable|disable health|agent`, `shutdown sessions server`,
//!   `add|set|del|clear map`, `add|del|clear acl` (HAProxy 2.6 lets any level change them);
//! - `admin`: everything, including `add|del server`, `set server … addr`, frontends, `wait`,
//!   `show tls-keys ID|*` and `set ssl tls-key` (ticket keys are secrets).
//!   `canary server` and `abort canary` (`show canary` is `user`).
//!
//! Reply texts exclude the session's terminator (see [`Action`]).
//!
//! One file per command family: `words` splits the line, `lookup` finds what the names name,
//! and `server`, `weight`, `add_server`, `show`, `session`, `frontend`, `map`, `acl`, `ssl`, `wait`
//! and `canary` parse
//! and resolve their commands. The [`Command`] enum, its privilege levels and the single `resolve`
//! stay here, because the order of HAProxy's errors is decided in one place.

mod acl;
mod add_server;
mod canary;
mod frontend;
mod lookup;
mod map;
mod server;
mod session;
mod show;
mod ssl;
mod wait;
mod weight;
mod words;

use crate::admin::format::InfoFormat;
use crate::admin::{help, Action};
use crate::config::Level;
use crate::state::{AdminState, Mutation, State};
pub use acl::AclCommand;
use acl::{parse_acl_command, resolve_acl};
pub use add_server::AddServer;
use add_server::{add_server, del_server, parse_add_server};
use canary::{abort_canary, parse_canary_command, show_canary, start_canary};
use frontend::{set_frontend, set_frontend_enabled};
use lookup::{find_backend_arg, with_server};
pub use map::MapCommand;
use map::{parse_map_command, resolve_map};
pub use server::ServerChange;
use server::{
    parse_set_server, set_admin, set_admin_state, set_agent, set_agent_enabled, set_check,
    set_check_enabled, set_server,
};
use session::{level_name, parse_set_timeout};
pub use show::StatQuery;
use show::{latency_scope, parse_info_format, parse_stat_query, show_stat};
pub use ssl::SslCommand;
use ssl::{parse_cert_command, parse_set_tls_key, parse_show_tls_keys, resolve_ssl};
use std::time::Duration;
use wait::{parse_wait, wait};
pub use weight::Weight;
use weight::{get_weight, parse_weight, set_weight};
use words::non_empty;
pub use words::{split_args, ServerName};

/// `cli_permission_denied_msg`.
pub const PERMISSION_DENIED: &str = "Permission denied\n";
const REQUIRE_SERVER: &str = "Require 'backend/server'.\n";
const NO_SUCH_BACKEND: &str = "No such backend.\n";
const NO_SUCH_SERVER: &str = "No such server.\n";
pub(crate) const NOT_SUPPORTED: &str = "This command is not supported by pointsman.\n";

/// The version `show version` prints (HAProxy prints its own, e.g. `2.6.12-1+deb12u4`).
pub const VERSION: &str = concat!("pointsman-", env!("CARGO_PKG_VERSION"));

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
    /// `show|get|add|set|del|clear map …`.
    Map(MapCommand),
    /// `show|get|add|del|clear acl …`.
    Acl(AclCommand),
    /// `show tls-keys`, `set ssl tls-key`.
    Ssl(SslCommand),
    /// `canary server B/S steps … every T …` (pointsman's own).
    Canary {
        server: Option<ServerName>,
        plan: Result<crate::canary::Plan, String>,
    },
    /// `show canary [B/S]`.
    ShowCanary(Option<ServerName>),
    /// `abort canary B/S`.
    AbortCanary(Option<ServerName>),
    /// A HAProxy command pointsman does not implement.
    Unsupported,
}

/// Plans one command line received on a socket of privilege `level`.
pub fn plan(line: &str, state: &State, level: Level) -> Action {
    // A payload follows its command line after the first `\n` (see `session`).
    let (line, payload) = match line.split_once('\n') {
        Some((line, payload)) => (line, Some(payload)),
        None => (line, None),
    };
    let args = split_args(line);
    let command = match payload {
        Some(payload) => Command::parse_with_payload(&args, payload),
        None => Command::parse(&args),
    };
    if level < command.required_level() {
        return Action::Reply(PERMISSION_DENIED.to_string());
    }
    resolve(command, state, level)
}

impl Command {
    /// Parses a command line that came with a payload: `add map MAP <<` takes its entries
    /// from it (even with a key and value on the line, as HAProxy 2.6 does); every other
    /// command ignores it.
    pub fn parse_with_payload(args: &[String], payload: &str) -> Command {
        match args {
            [add, map, name, ..] if add == "add" && map == "map" && !name.is_empty() => {
                Command::Map(MapCommand::AddPayload {
                    map: name.clone(),
                    payload: payload.to_string(),
                })
            }
            [set, ssl, cert, rest @ ..] if set == "set" && ssl == "ssl" && cert == "cert" => {
                parse_cert_command("set", rest, Some(payload))
            }
            _ => Command::parse(args),
        }
    }

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
        // The canary commands are pointsman's own too.
        if let Some(command) = parse_canary_command(args) {
            return command;
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
            [verb @ ("show" | "get" | "add" | "set" | "del" | "clear"), "map"] => {
                Command::Map(parse_map_command(verb, rest))
            }
            [verb @ ("show" | "get" | "add" | "del" | "clear"), "acl"] => {
                Command::Acl(parse_acl_command(verb, rest))
            }
            ["show", "tls-keys"] => parse_show_tls_keys(rest),
            [verb @ ("show" | "commit" | "abort"), "ssl", "cert"] => {
                parse_cert_command(verb, rest, None)
            }
            ["set", "ssl", "cert"] => parse_cert_command("set", rest, None),
            ["set", "ssl", "tls-key"] => parse_set_tls_key(rest),
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
            // HAProxy 2.6 lets any level change a map; pointsman asks what a server change asks.
            Command::Map(map) if map.changes() => Level::Operator,
            Command::Acl(acl) if acl.changes() => Level::Operator,
            Command::Ssl(ssl) if ssl.touches_secrets() => Level::Admin,
            Command::AddServer(_)
            | Command::DelServer(_)
            | Command::Wait { .. }
            | Command::SetFrontend { .. }
            | Command::Canary { .. }
            | Command::AbortCanary(_) => Level::Admin,
            _ => Level::User,
        }
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
        Command::Map(map) => resolve_map(map, state),
        Command::Acl(acl) => resolve_acl(acl, state),
        Command::Ssl(ssl) => resolve_ssl(ssl, state),
        Command::Canary { server, plan } => start_canary(state, server, plan),
        Command::ShowCanary(server) => show_canary(state, server),
        Command::AbortCanary(server) => abort_canary(state, server),
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
mod tests;
