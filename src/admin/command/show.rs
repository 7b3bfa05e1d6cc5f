//! `show stat`, `show info`, `show servers state|conn` and `show latency`: their arguments, and
//! the proxy, backend or server they name.

use super::lookup::{find_backend, find_server};
use super::words::ServerName;
use super::{reply, REQUIRE_SERVER};
use crate::admin::format::{InfoFormat, StatFilter, StatFormat, StatRequest};
use crate::admin::Action;
use crate::config::atoi;
use crate::state::State;
use crate::stats::latency_report::Scope;

/// `show stat [<iid|pxname> <type> <sid>] [options]` before the proxy name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatQuery {
    /// Proxy (name or id as typed), type mask, server id.
    pub filter: Option<(String, i64, i64)>,
    pub format: StatFormat,
    pub hide_down: bool,
    pub hide_maint: bool,
}

pub(super) fn parse_info_format(options: &[String]) -> InfoFormat {
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
pub(super) fn parse_stat_query(rest: &[String]) -> StatQuery {
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

/// `show stat`: resolves the proxy filter as `cli_parse_show_stat` (a name, else a number;
/// 0 is "No such proxy").
pub(super) fn show_stat(query: StatQuery, state: &State) -> Action {
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

/// `show latency`'s argument: nothing, a backend, or `backend/server`.
pub(super) fn latency_scope(state: &State, target: Option<String>) -> Result<Scope, &'static str> {
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
