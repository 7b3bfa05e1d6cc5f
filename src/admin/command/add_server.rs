//! `add server` and `del server`: a server's keywords read by the config's keyword parser
//! ([`crate::config::apply_options`], as HAProxy has one parser for both), HAProxy's texts for
//! what it refuses, and the checks of both commands in HAProxy's order.

use super::lookup::{find_backend, find_server};
use super::weight::is_static;
use super::words::ServerName;
use super::{reply, NO_SUCH_BACKEND};
use crate::admin::{help, Action};
use crate::config::{apply_options, Numbers, OptionError, HAPROXY_SERVER_KEYWORDS};
use crate::state::{Mutation, ServerSpec, State};
use std::net::SocketAddr;

/// `add server B/S ADDR[:PORT] [keywords]`: the keywords as far as they parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AddServer {
    pub server: Option<ServerName>,
    /// The spec, or HAProxy's error for the address or the first bad keyword.
    pub spec: Result<ServerSpec, String>,
}

/// `add server B/S ADDR:PORT [keywords]` (`rest` starts at `B/S`).
pub(super) fn parse_add_server(rest: &[String]) -> AddServer {
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

/// `add server`: HAProxy's checks in its order, then one `AddServer` mutation.
pub(super) fn add_server(state: &State, add: AddServer) -> Action {
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
pub(super) fn del_server(state: &State, name: Option<ServerName>) -> Action {
    let Some(name) = name else {
        return reply("Require 'backend/server'.");
    };
    match find_server(state, &name) {
        Ok(server) => Action::DeleteServer(server),
        Err(NO_SUCH_BACKEND) => reply("No such backend."),
        Err(_) => reply("No such server."),
    }
}
