//! `enable|disable server`, `set server B/S state|health|addr|…`, `enable|disable
//! health|agent`: the commands that change one server's state or address.

use super::weight::{parse_weight, set_weight, Weight};
use super::words::{non_empty, ServerName};
use super::{done, reply, Command, NO_SUCH_SERVER};
use crate::admin::Action;
use crate::config::strtol;
use crate::state::{AdminState, Mutation, OpState, ServerRef, State};
use std::net::{IpAddr, SocketAddr};

const SET_SERVER_USAGE: &str = "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n";

const STATE_USAGE: &str = "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n";

const HEALTH_USAGE: &str = "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n";

const ADDR_UPDATER: &str = " by 'stats socket command'\n";

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

pub(super) fn set_admin(server: Option<ServerName>, state: AdminState) -> Command {
    Command::SetAdmin { server, state }
}

pub(super) fn set_check(server: Option<ServerName>, enabled: bool) -> Command {
    Command::SetCheck { server, enabled }
}

pub(super) fn set_agent(server: Option<ServerName>, enabled: bool) -> Command {
    Command::SetAgent { server, enabled }
}

/// `set server B/S <option> …` (`rest` starts at the option).
pub(super) fn parse_set_server(server: Option<ServerName>, rest: &[String]) -> Command {
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

pub(super) fn set_admin_state(state: &State, server: ServerRef, admin: AdminState) -> Action {
    let unchanged = state.server(server).is_some_and(|s| s.admin == admin);
    if unchanged {
        return done(vec![]);
    }
    done(vec![Mutation::SetAdminState {
        server,
        state: admin,
    }])
}

pub(super) fn set_server(state: &State, server: ServerRef, change: ServerChange) -> Action {
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

pub(super) fn set_check_enabled(state: &State, server: ServerRef, enabled: bool) -> Action {
    let configured = state.server(server).is_some_and(|s| s.check.configured);
    if enabled && !configured {
        return reply("Health checks are not configured on this server, cannot enable.\n");
    }
    done(vec![Mutation::SetCheckEnabled { server, enabled }])
}

/// pointsman has no agent checks: `disable agent` has nothing to do (HAProxy replies "\n"),
/// `enable agent` gets HAProxy's reply for a server without an agent.
pub(super) fn set_agent_enabled(enabled: bool) -> Action {
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
