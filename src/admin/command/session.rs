//! Commands about the session itself: `set timeout cli` and the names of privilege levels
//! (`show cli level`).

use super::Command;
use crate::config::{parse_time_in, Level, TimeUnit};
use std::time::Duration;

/// `set timeout cli <delay>`: seconds by default, HAProxy's time units accepted.
pub(super) fn parse_set_timeout(what: &str, value: &str) -> Command {
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

/// The name `show cli level` prints.
pub(super) fn level_name(level: Level) -> &'static str {
    match level {
        Level::User => "user",
        Level::Operator => "operator",
        Level::Admin => "admin",
    }
}
