//! `enable|disable frontend`.

use super::{done, reply, Command};
use crate::admin::Action;
use crate::state::{Mutation, State};

/// `enable|disable frontend NAME`, the name looked up when resolved.
pub(super) fn set_frontend(name: &str, enabled: bool) -> Command {
    Command::SetFrontend {
        name: name.to_string(),
        enabled,
    }
}

/// HAProxy's replies for a missing, unknown or unchanged frontend, else one mutation.
pub(super) fn set_frontend_enabled(state: &State, name: &str, enabled: bool) -> Action {
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
