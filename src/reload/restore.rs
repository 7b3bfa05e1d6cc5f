//! Applying the previous process's runtime state to a new config: the rules, as mutations
//! through [`state::apply`] on the start-up state, before any shard starts.
//!
//! The rule for a hand-over from a pointsman process (`-x`, master-worker): **a value you
//! edited in the config wins; a value you did not edit keeps its runtime value.** For each
//! server of the new config, each of address, weight, admin state (`disabled`) and health
//! checks is compared between the old config and the new one; unchanged, the runtime value of
//! the old process carries over (a server in MAINT stays in MAINT, a `set weight` stays, a
//! `set server addr` stays). Health (UP/DOWN, check counters) carries over when the server's
//! address and `check` setting are the same. A server added with `add server` is added again
//! unless the new config declares a server of that name (then the config line is its new
//! definition, and its runtime values carry over where the line equals what `add server`
//! gave). A config server deleted with `del server` stays deleted while its config line is
//! unchanged. Frontends disabled at runtime stay disabled.
//!
//! From a HAProxy state file (`load-server-state-from-file`), HAProxy's own rules with one
//! exception: forced MAINT and DRAIN, health and `disable health` are applied; the runtime
//! weight is applied when the file's `srv_iweight` equals the config's weight; the address in
//! the file is never applied (HAProxy applies it and so overrides an address edited in the
//! config, a known trap), and servers missing from the config are not created.

use super::state_dump::{RuntimeServer, StateDump};
use super::state_file::FileServer;
use crate::config::Config;
use crate::state::{
    self, AdminState, CheckStatus, Mutation, OpState, Server, ServerRef, ServerSpec, State,
};
use std::collections::HashMap;

/// What happened, for the start-up log.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub applied: usize,
    pub notes: Vec<String>,
}

impl Outcome {
    fn apply(&mut self, state: &mut State, mutation: Mutation, now: u64) {
        match state::apply(state, &mutation, now) {
            Ok(_) => self.applied += 1,
            Err(e) => self
                .notes
                .push(format!("could not restore {mutation:?}: {e:?}")),
        }
    }
}

/// The server lines of `config`, by (backend, server).
fn config_specs(config: &Config) -> HashMap<(String, String), ServerSpec> {
    let mut specs = HashMap::new();
    for proxy in &config.proxies {
        for server in proxy.backend.iter().flat_map(|b| &b.servers) {
            specs.insert(
                (proxy.name.clone(), server.name.clone()),
                ServerSpec::from(server),
            );
        }
    }
    specs
}

/// Applies a pointsman state dump to `state` (built from `config`).
pub fn from_dump(state: &mut State, config: &Config, dump: &StateDump, now: u64) -> Outcome {
    let mut out = Outcome::default();
    // The generated ticket ring goes on (rotated once by the TLS layer at start).
    state.tls.generated = dump.ticket_keys.clone();
    for (name, enabled) in &dump.frontends {
        if let Some(frontend) = state.frontend_index(name) {
            if state.frontends[frontend].enabled != *enabled {
                out.apply(
                    state,
                    Mutation::SetFrontendEnabled {
                        frontend,
                        enabled: *enabled,
                    },
                    now,
                );
            }
        }
    }
    let runtime: HashMap<(&str, &str), &RuntimeServer> = dump
        .servers
        .iter()
        .map(|r| ((r.backend.as_str(), r.name.as_str()), r))
        .collect();
    for ((backend, name), new) in config_specs(config) {
        let Some(server) = state.find_server(&backend, &name) else {
            continue;
        };
        let runtime = runtime.get(&(backend.as_str(), name.as_str())).copied();
        let old = dump
            .configured
            .get(&(backend.clone(), name.clone()))
            .cloned()
            .or_else(|| runtime.filter(|r| r.dynamic).map(|r| r.spec.clone()));
        match (old, runtime) {
            (None, _) => {}
            (Some(old), None) if same_line(&old, &new) => {
                out.notes.push(format!(
                    "{backend}/{name} stays deleted (deleted at runtime)"
                ));
                out.apply(state, Mutation::RemoveServer { server }, now);
            }
            (Some(_), None) => out.notes.push(format!(
                "{backend}/{name} was deleted at runtime; its config line changed, so it is back"
            )),
            (Some(old), Some(r)) if r.deleting && same_line(&old, &new) => {
                out.apply(state, Mutation::RemoveServer { server }, now);
            }
            (Some(old), Some(r)) => carry(state, server, &old, &new, r, now, &mut out),
        }
    }
    for r in dump.servers.iter().filter(|r| r.dynamic && !r.deleting) {
        let Some(backend) = state.backend_index(&r.backend) else {
            out.notes.push(format!(
                "{}/{} not added again: no backend '{}'",
                r.backend, r.name, r.backend
            ));
            continue;
        };
        if state.backends[backend].server_by_name(&r.name).is_some() {
            continue; // declared by the new config: handled above
        }
        let mut spec = r.spec.clone();
        spec.options.disabled = false;
        out.apply(
            state,
            Mutation::AddServer {
                backend,
                spec: spec.clone(),
            },
            now,
        );
        if let Some(server) = state.find_server(&r.backend, &r.name) {
            carry(state, server, &spec, &spec, r, now, &mut out);
        }
    }
    out
}

/// A config line unchanged between two configs (all that `server` sets).
fn same_line(old: &ServerSpec, new: &ServerSpec) -> bool {
    old == new
}

/// Carries the runtime values of `r` onto `server` where the config did not change them.
fn carry(
    state: &mut State,
    server: ServerRef,
    old: &ServerSpec,
    new: &ServerSpec,
    r: &RuntimeServer,
    now: u64,
    out: &mut Outcome,
) {
    let Some(current) = state.server(server).cloned() else {
        return;
    };
    let mut addr = current.addr;
    if let Some(runtime_addr) = r
        .addr
        .filter(|a| old.addr == new.addr && *a != current.addr)
    {
        out.apply(
            state,
            Mutation::SetAddr {
                server,
                addr: runtime_addr,
            },
            now,
        );
        addr = runtime_addr;
    }
    let same_check = old.options.check == new.options.check;
    let restored = Restored {
        weight: (old.options.weight == new.options.weight).then_some(r.weight),
        checks_off: same_check && r.check_enabled == Some(false),
        health: (same_check && r.addr == Some(addr)).then_some((r.op, r.health, r.status)),
        admin: (old.options.disabled == new.options.disabled).then_some(r.admin),
    };
    restored.apply(state, server, &current, now, out);
}

/// The runtime values one server gets back, chosen by the rules of its source (a pointsman
/// dump or a HAProxy state file); `None` (or `false`) leaves the value the config gave.
struct Restored {
    weight: Option<u32>,
    /// `disable health` was in force.
    checks_off: bool,
    /// Operational state, health counter and last check status.
    health: Option<(OpState, u32, CheckStatus)>,
    admin: Option<AdminState>,
}

impl Restored {
    /// Applies each value that differs from `current`, weight first and admin state last.
    fn apply(
        self,
        state: &mut State,
        server: ServerRef,
        current: &Server,
        now: u64,
        out: &mut Outcome,
    ) {
        if let Some(weight) = self.weight.filter(|w| *w != current.weight) {
            out.apply(state, Mutation::SetWeight { server, weight }, now);
        }
        if self.checks_off && current.check.enabled {
            let enabled = false;
            out.apply(state, Mutation::SetCheckEnabled { server, enabled }, now);
        }
        if let Some((op, health, status)) = self.health {
            let health = Mutation::RestoreHealth {
                server,
                op,
                health,
                status,
            };
            out.apply(state, health, now);
        }
        if let Some(admin) = self.admin.filter(|a| *a != current.admin) {
            out.apply(
                state,
                Mutation::SetAdminState {
                    server,
                    state: admin,
                },
                now,
            );
        }
    }
}

/// Applies the entries of HAProxy state files to `state`.
pub fn from_file(state: &mut State, entries: &[FileServer], now: u64) -> Outcome {
    let mut out = Outcome::default();
    for e in entries {
        let Some(server) = state.find_server(&e.backend, &e.server) else {
            out.notes.push(format!(
                "server state file: {}/{} is not in the config; ignored",
                e.backend, e.server
            ));
            continue;
        };
        let Some(current) = state.server(server).cloned() else {
            continue;
        };
        let checked = current.check.configured && e.check_configured();
        let admin = if e.forced_maint() {
            AdminState::Maint
        } else if e.forced_drain() {
            AdminState::Drain
        } else {
            current.admin
        };
        let restored = Restored {
            weight: (e.iweight == current.initial_weight).then_some(e.uweight.min(256)),
            checks_off: checked && !e.check_enabled(),
            // A server in forced MAINT is written with op state 0 whatever its health.
            health: (checked && !e.forced_maint()).then_some((
                e.op(),
                e.check_health,
                e.check_status,
            )),
            admin: Some(admin),
        };
        restored.apply(state, server, &current, now, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{apply, OpState};

    fn config(servers: &str) -> Config {
        crate::config::parse_str(
            "t.cfg",
            &format!("frontend f\n mode http\n bind 127.0.0.1:1\n default_backend b\nbackend b\n mode http\n{servers}"),
        )
        .unwrap()
    }

    fn run(old: &str, mutations: &[Mutation], new: &str) -> (State, Outcome) {
        let old = config(old);
        let mut state = State::from_config(&old, 1);
        for m in mutations {
            apply(&mut state, m, 2).unwrap();
        }
        let dump = StateDump::parse(&StateDump::capture(&state, &old).render()).unwrap();
        let new = config(new);
        let mut fresh = State::from_config(&new, 3);
        let outcome = from_dump(&mut fresh, &new, &dump, 3);
        (fresh, outcome)
    }

    fn s(id: u32) -> ServerRef {
        ServerRef {
            backend: 0,
            server: id,
        }
    }

    fn spec(name: &str, addr: &str) -> ServerSpec {
        ServerSpec::new(name, addr.parse().unwrap())
    }

    const TWO: &str = " server a 127.0.0.1:81\n server b 127.0.0.1:82\n";

    #[test]
    fn runtime_values_survive_an_unchanged_config() {
        let (state, out) = run(
            TWO,
            &[
                Mutation::SetAdminState {
                    server: s(1),
                    state: AdminState::Maint,
                },
                Mutation::SetWeight {
                    server: s(2),
                    weight: 42,
                },
                Mutation::AddServer {
                    backend: 0,
                    spec: spec("c", "127.0.0.1:83"),
                },
                Mutation::SetWeight {
                    server: s(3),
                    weight: 9,
                },
                Mutation::SetAddr {
                    server: s(2),
                    addr: "127.0.0.1:92".parse().unwrap(),
                },
            ],
            TWO,
        );
        let b = &state.backends[0];
        assert_eq!(b.server_by_name("a").unwrap().admin, AdminState::Maint);
        assert_eq!(b.server_by_name("b").unwrap().weight, 42);
        assert_eq!(b.server_by_name("b").unwrap().addr.port(), 92);
        let c = b.server_by_name("c").unwrap();
        assert!(c.dynamic);
        assert_eq!((c.weight, c.initial_weight, c.addr.port()), (9, 1, 83));
        assert!(out.notes.is_empty(), "{:?}", out.notes);
    }

    #[test]
    fn values_edited_in_the_config_win() {
        let (state, _) = run(
            TWO,
            &[
                Mutation::SetWeight {
                    server: s(1),
                    weight: 42,
                },
                Mutation::SetAddr {
                    server: s(2),
                    addr: "127.0.0.1:92".parse().unwrap(),
                },
                Mutation::SetAdminState {
                    server: s(2),
                    state: AdminState::Maint,
                },
            ],
            " server a 127.0.0.1:81 weight 7\n server b 127.0.0.1:99 disabled\n",
        );
        let b = &state.backends[0];
        assert_eq!(b.server_by_name("a").unwrap().weight, 7);
        let srv_b = b.server_by_name("b").unwrap();
        assert_eq!(srv_b.addr.port(), 99);
        assert_eq!(srv_b.admin, AdminState::Maint, "from the new 'disabled'");
        let (state, _) = run(
            TWO,
            &[Mutation::SetAdminState {
                server: s(2),
                state: AdminState::Maint,
            }],
            " server a 127.0.0.1:81\n server b 127.0.0.1:82 disabled\n",
        );
        assert_eq!(
            state.backends[0].server_by_name("b").unwrap().admin,
            AdminState::Maint
        );
        let (state, _) = run(
            " server a 127.0.0.1:81\n server b 127.0.0.1:82 disabled\n",
            &[Mutation::SetAdminState {
                server: s(2),
                state: AdminState::Ready,
            }],
            " server a 127.0.0.1:81\n server b 127.0.0.1:82\n",
        );
        assert_eq!(
            state.backends[0].server_by_name("b").unwrap().admin,
            AdminState::Ready
        );
    }

    #[test]
    fn deletions_and_additions_follow_the_config() {
        // Deleted at runtime, line unchanged: stays deleted.
        let (state, _) = run(TWO, &[Mutation::RemoveServer { server: s(2) }], TWO);
        assert!(state.backends[0].server_by_name("b").is_none());
        // Deleted at runtime, line changed: back.
        let (state, _) = run(
            TWO,
            &[Mutation::RemoveServer { server: s(2) }],
            " server a 127.0.0.1:81\n server b 127.0.0.1:84\n",
        );
        assert!(state.backends[0].server_by_name("b").is_some());
        // Added at runtime, then written into the config with the same values: one server,
        // runtime values kept.
        let (state, _) = run(
            TWO,
            &[
                Mutation::AddServer {
                    backend: 0,
                    spec: spec("c", "127.0.0.1:83"),
                },
                Mutation::SetAdminState {
                    server: s(3),
                    state: AdminState::Drain,
                },
            ],
            " server a 127.0.0.1:81\n server b 127.0.0.1:82\n server c 127.0.0.1:83\n",
        );
        let c = state.backends[0].server_by_name("c").unwrap();
        assert!(!c.dynamic);
        assert_eq!(c.admin, AdminState::Drain);
        assert_eq!(state.backends[0].servers.len(), 3);
    }

    #[test]
    fn health_carries_over_only_for_the_same_address() {
        let checked = " server a 127.0.0.1:81 check\n server b 127.0.0.1:82 check\n";
        let down = [Mutation::SetHealth {
            server: s(1),
            op: OpState::Down,
        }];
        let (state, _) = run(checked, &down, checked);
        assert_eq!(
            state.backends[0].server_by_name("a").unwrap().op,
            OpState::Down
        );
        let moved = " server a 127.0.0.1:91 check\n server b 127.0.0.1:82 check\n";
        let (state, _) = run(checked, &down, moved);
        assert_eq!(
            state.backends[0].server_by_name("a").unwrap().op,
            OpState::Up
        );
    }

    #[test]
    fn a_haproxy_state_file_applies_maint_weight_and_health() {
        let cfg = config(
            " server nginx1 127.0.0.1:28081 check backup\n server nginx2 127.0.0.1:28082 check\n",
        );
        let mut state = State::from_config(&cfg, 1);
        let text = "1\n# header\n\
            3 b 1 nginx1 10.9.9.9 0 0 5 1 39 8 2 0 6 0 0 0 - 28081 - 0 0 - - 0\n\
            3 b 2 nginx2 127.0.0.1 0 1 1 1 0 6 3 0 14 0 0 0 - 28082 - 0 0 - - 0\n\
            3 b 3 gone 127.0.0.1 2 0 1 1 0 6 3 4 6 0 0 0 - 28083 - 0 0 - - 0\n";
        let (entries, _) = super::super::state_file::parse(text, "f").unwrap();
        let out = from_file(&mut state, &entries, 2);
        let b = &state.backends[0];
        let n1 = b.server_by_name("nginx1").unwrap();
        assert_eq!(
            (n1.weight, n1.op, n1.addr.port()),
            (5, OpState::Down, 28081)
        );
        assert_eq!(
            n1.addr.ip().to_string(),
            "127.0.0.1",
            "the file's address is not applied"
        );
        let n2 = b.server_by_name("nginx2").unwrap();
        assert_eq!((n2.admin, n2.op), (AdminState::Maint, OpState::Up));
        assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
    }
}
