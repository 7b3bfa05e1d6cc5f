//! `set weight`, `set server … weight` and `get weight`: HAProxy's
//! `server_parse_weight_change_request`, split into what parses without the server and what
//! needs it.

use super::{done, reply, NO_SUCH_SERVER};
use crate::admin::Action;
use crate::config::{strtol, Algorithm};
use crate::state::{Mutation, ServerRef, State};

/// A weight as `set weight` reads it: absolute, or a percentage of the initial weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Absolute(u32),
    /// Percent, clamped at 25600 as HAProxy does.
    Relative(u32),
}

/// HAProxy's `server_parse_weight_change_request`, up to the part that needs the server.
pub(super) fn parse_weight(word: &str) -> Result<Weight, &'static str> {
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

/// `set weight` and `set server … weight`: the rest of `server_parse_weight_change_request`.
pub(super) fn set_weight(
    state: &State,
    server: ServerRef,
    weight: Result<Weight, &'static str>,
) -> Action {
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

pub(super) fn get_weight(state: &State, server: ServerRef) -> Action {
    match state.server(server) {
        Some(s) => Action::Reply(format!("{} (initial {})\n", s.weight, s.initial_weight)),
        None => reply(NO_SUCH_SERVER),
    }
}

/// HAProxy's algorithms without dynamic weights (no `BE_LB_PROP_DYN`): `static-rr`, and
/// `source` with its default map-based hash (pointsman's config has no `hash-type`).
pub(super) fn is_static(algorithm: Algorithm) -> bool {
    matches!(algorithm, Algorithm::StaticRr | Algorithm::Source)
}
