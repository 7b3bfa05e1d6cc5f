//! `wait DELAY [srv-removable B/S]`: HAProxy 2.7's `cli_parse_wait`, accepted by pointsman.

use super::lookup::find_server;
use super::words::ServerName;
use super::{reply, Command, REQUIRE_SERVER};
use crate::admin::Action;
use crate::config::{parse_time_in, TimeUnit};
use crate::state::State;
use std::time::Duration;

const WAIT_USAGE: &str = "Usage: wait {-h|<duration>} [condition [args...]]\n  - '-h' displays this help\n  - <duration> is the maximum wait time, optionally suffixed by the unit among\n    'us', 'ms', 's', 'm', 'h', and 'd'. ; the default unit is milliseconds.\n  - <condition> indicates what to wait for. By default, no events aborts the\n    operation, which makes it reliably pause for the specified duration.\n    Supported conditions:\n    - srv-removable <proxy>/<server> : wait for the specified server to be\n      removable (i.e. be in maintenance and no longer have any connection on it).\n      Some conditions will never be accepted (e.g. not in maintenance) and will\n      cause the report of a specific error message indicating what condition is\n      not met. The server might even have been removed in between, which will\n      be reported as well.\n";

pub(super) fn wait(
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
pub(super) fn parse_wait(rest: &[String]) -> Command {
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
