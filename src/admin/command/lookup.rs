//! Names typed by the operator ─▶ state indexes: backends and servers by name or `#id`, as
//! HAProxy's `get_backend_server` and `cli_find_server` look them up, with their error texts.

use super::words::ServerName;
use super::{reply, NO_SUCH_BACKEND, NO_SUCH_SERVER, REQUIRE_SERVER};
use crate::admin::Action;
use crate::config::atoi;
use crate::state::{ServerRef, State};

/// A backend by name or `#id` (HAProxy's `proxy_be_by_name`).
pub(super) fn find_backend(state: &State, name: &str) -> Option<usize> {
    if let Some(id) = name.strip_prefix('#') {
        let id = atoi(id);
        return state.backends.iter().position(|b| i64::from(b.id) == id);
    }
    state.backend_index(name)
}

/// HAProxy's `get_backend_server`: backend by name or `#id`, server by name or `#sid`.
pub(super) fn find_server(state: &State, name: &ServerName) -> Result<ServerRef, &'static str> {
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
pub(super) fn with_server(
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

/// The backend of `show servers state|conn [backend]`: all of them when none is named.
pub(super) fn find_backend_arg(
    state: &State,
    name: Option<String>,
) -> Result<Option<usize>, &'static str> {
    match name {
        None => Ok(None),
        Some(name) => find_backend(state, &name)
            .map(Some)
            .ok_or("Can't find backend.\n"),
    }
}
