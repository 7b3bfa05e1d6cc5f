//! `canary server B/S steps … every T …`, `show canary [B/S]` and `abort canary B/S`:
//! pointsman's own commands (not in HAProxy), parsed here and carried out by the coordinator's
//! canary runner (see `crate::canary`).

use super::lookup::with_server;
use super::words::ServerName;
use super::{reply, Command};
use crate::admin::Action;
use crate::canary::{parse_plan, refusal, Plan};
use crate::state::{ServerRef, State};

/// `canary …`, `show canary …`, `abort canary …`, or `None` for any other line.
pub(super) fn parse_canary_command(args: &[String]) -> Option<Command> {
    let word = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    match (word(0), word(1)) {
        ("canary", "server") => Some(Command::Canary {
            server: ServerName::parse(word(2)),
            plan: parse_plan(args.get(3..).unwrap_or(&[])),
        }),
        ("canary", _) => Some(Command::Canary {
            server: None,
            plan: Err(crate::canary::USAGE.to_string()),
        }),
        ("show", "canary") => Some(Command::ShowCanary(ServerName::parse(word(2)))),
        ("abort", "canary") => Some(Command::AbortCanary(ServerName::parse(word(2)))),
        _ => None,
    }
}

/// `canary server`: the server's name is checked first, then the plan, then whether this
/// server may run one.
pub(super) fn start_canary(
    state: &State,
    server: Option<ServerName>,
    plan: Result<Plan, String>,
) -> Action {
    with_server(state, server, |r| {
        let plan = match plan {
            Ok(plan) => plan,
            Err(text) => return reply(&text),
        };
        let name = display_name(state, r);
        match refusal(state, r, &name) {
            Some(text) => reply(&text),
            None => Action::StartCanary {
                server: r,
                name,
                plan,
            },
        }
    })
}

pub(super) fn show_canary(state: &State, server: Option<ServerName>) -> Action {
    match server {
        None => Action::ShowCanary(None),
        name => with_server(state, name, |r| Action::ShowCanary(Some(r))),
    }
}

pub(super) fn abort_canary(state: &State, server: Option<ServerName>) -> Action {
    with_server(state, server, Action::AbortCanary)
}

fn display_name(state: &State, r: ServerRef) -> String {
    let backend = &state.backends[r.backend];
    let server = backend.server(r.server).map_or("?", |s| s.name.as_str());
    format!("{}/{server}", backend.name)
}
