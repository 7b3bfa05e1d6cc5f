//! [`Mutation`]: every way the runtime state can change, and [`apply`], the one function that
//! applies one to a replica. Each arm delegates to a small function that says what failed.

use super::model::*;
use super::CertFile;
use crate::config::OnError;
use std::net::SocketAddr;

/// One change to the runtime state. The coordinator numbers them; every shard applies the
/// same sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// `disable|enable server`, `set server … state ready|drain|maint`.
    SetAdminState {
        server: ServerRef,
        state: AdminState,
    },
    /// `set weight`, `set server … weight` (absolute value, already validated 0..=256).
    SetWeight { server: ServerRef, weight: u32 },
    /// `set server … addr A [port P]`.
    SetAddr { server: ServerRef, addr: SocketAddr },
    /// `set server … health up|stopping|down`.
    SetHealth { server: ServerRef, op: OpState },
    /// `enable|disable health`.
    SetCheckEnabled { server: ServerRef, enabled: bool },
    /// One health check finished on the server's owner shard.
    CheckResult {
        server: ServerRef,
        status: CheckStatus,
        detail: CheckDetail,
    },
    /// `add server`.
    AddServer { backend: usize, spec: ServerSpec },
    /// `del server` on a server that still has requests: it takes no new ones.
    MarkDeleting { server: ServerRef },
    /// The server is gone (idle and in MAINT, or marked deleting and drained).
    RemoveServer { server: ServerRef },
    /// `disable|enable frontend`.
    SetFrontendEnabled { frontend: usize, enabled: bool },
    /// A reload carries a server's health over from the previous process (or a state file):
    /// operational state, check health counter and last check result.
    RestoreHealth {
        server: ServerRef,
        op: OpState,
        health: u32,
        status: CheckStatus,
    },
    /// Slow start: the server's warm-up reached `percent` of its weight (stepped by the
    /// health module on the coordinator's shard while the server warms up).
    SetRamp { server: ServerRef, percent: u32 },
    /// `add map MAP KEY VALUE` (map index into [`State::maps`]).
    AddMapEntry {
        map: usize,
        key: String,
        value: String,
    },
    /// `set map MAP KEY|#REF VALUE`: every entry of the key, or the one entry.
    SetMapEntry {
        map: usize,
        entry: MapEntryRef,
        value: String,
    },
    /// `del map MAP KEY|#REF`.
    DelMapEntry { map: usize, entry: MapEntryRef },
    /// `clear map MAP`.
    ClearMap { map: usize },
    /// `add acl ACL PATTERN` (list index into [`State::maps`]' ACL lists).
    AddAclEntry { list: usize, pattern: String },
    /// `del acl ACL PATTERN|#REF`: every entry equal to the pattern, or the one entry.
    DelAclEntry { list: usize, entry: MapEntryRef },
    /// `clear acl ACL`.
    ClearAcl { list: usize },
    /// `set ssl tls-key`: the whole new ring of a `tls-ticket-keys` file (index into
    /// [`TlsState::ticket_files`]), so applying it twice changes nothing.
    SetTicketKeys {
        file: usize,
        ring: crate::tls::tickets::TicketRing,
    },
    /// `set ssl cert FILE <<` (Some) or `abort ssl cert FILE` (None): the pending contents.
    SetCertTransaction(Option<(String, CertFile)>),
    /// `commit ssl cert FILE`: the file now holds `contents`, the transaction ends.
    CommitCert { file: String, contents: CertFile },
    /// A canary's step, its end or its rollback: several servers' weights (by server id) at
    /// once, so no core ever routes by half a step; `drain` puts one of them in DRAIN in the
    /// same mutation (a rollback). Servers that are gone are skipped.
    SetWeights {
        backend: usize,
        weights: Vec<(u32, u32)>,
        drain: Option<u32>,
    },
}

/// The entries a map command names: every entry with a key, or one entry by its slot
/// (`#<ref>`, as `show map` prints it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapEntryRef {
    Key(String),
    Slot(usize),
}

/// Why a mutation could not be applied. The coordinator validates before broadcasting, so a
/// shard never sees these for a mutation that the coordinator accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    NoSuchBackend,
    NoSuchServer,
    NoSuchFrontend,
    DuplicateServer,
    NoSuchMap,
    /// The key or `#<ref>` names no entry (another session removed it first).
    NoSuchMapEntry,
    /// A key `map_reg` cannot compile.
    BadMapKey,
    /// No `tls-ticket-keys` file or certificate by that index.
    NoSuchTlsFile,
}

/// What a mutation changed, for the log line the coordinator prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Nothing,
    /// The server's usability for new traffic changed (went up or down).
    Transition {
        server: ServerRef,
        now_usable: bool,
    },
    Changed,
    Added(ServerRef),
    Removed,
}

/// Applies one mutation to a replica at unix time `now` (seconds).
pub fn apply(state: &mut State, mutation: &Mutation, now: u64) -> Result<Applied, ApplyError> {
    let result = match mutation {
        Mutation::SetAdminState {
            server,
            state: admin,
        } => with_transition(state, *server, now, |s| set_admin_state(s, *admin)),
        Mutation::SetWeight { server, weight } => {
            with_transition(state, *server, now, |s| s.weight = *weight)
        }
        Mutation::SetAddr { server, addr } => {
            server_mut(state, *server)?.addr = *addr;
            Ok(Applied::Changed)
        }
        Mutation::SetHealth { server, op } => {
            with_transition(state, *server, now, |s| set_health(s, *op))
        }
        Mutation::SetCheckEnabled { server, enabled } => {
            with_transition(state, *server, now, |s| s.check.enabled = *enabled)
        }
        Mutation::CheckResult {
            server,
            status,
            detail,
        } => with_transition(state, *server, now, |s| record_check(s, *status, detail)),
        Mutation::AddServer { backend, spec } => add_server(state, *backend, spec, now),
        Mutation::MarkDeleting { server } => {
            with_transition(state, *server, now, |s| s.deleting = true)
        }
        Mutation::RemoveServer { server } => remove_server(state, *server),
        Mutation::RestoreHealth {
            server,
            op,
            health,
            status,
        } => with_transition(state, *server, now, |s| {
            restore_health(s, *op, *health, *status)
        }),
        Mutation::SetRamp { server, percent } => {
            let s = server_mut(state, *server)?;
            s.ramp = (*percent).clamp(RAMP_START, RAMP_FULL);
            Ok(Applied::Changed)
        }
        Mutation::AddMapEntry { map, key, value } => map_mut(state, *map)?
            .add(key, value)
            .map(|()| Applied::Changed)
            .map_err(|_| ApplyError::BadMapKey),
        Mutation::SetMapEntry { map, entry, value } => {
            let map = map_mut(state, *map)?;
            let found = match entry {
                MapEntryRef::Key(key) => map.set(key, value),
                MapEntryRef::Slot(slot) => map.set_slot(*slot, value),
            };
            found
                .then_some(Applied::Changed)
                .ok_or(ApplyError::NoSuchMapEntry)
        }
        Mutation::DelMapEntry { map, entry } => {
            let map = map_mut(state, *map)?;
            let found = match entry {
                MapEntryRef::Key(key) => map.delete(key),
                MapEntryRef::Slot(slot) => map.delete_slot(*slot),
            };
            found
                .then_some(Applied::Changed)
                .ok_or(ApplyError::NoSuchMapEntry)
        }
        Mutation::ClearMap { map } => {
            map_mut(state, *map)?.clear();
            Ok(Applied::Changed)
        }
        Mutation::AddAclEntry { list, pattern } => acl_mut(state, *list)?
            .add(pattern)
            .map(|()| Applied::Changed)
            .map_err(|_| ApplyError::BadMapKey),
        Mutation::DelAclEntry { list, entry } => {
            let list = acl_mut(state, *list)?;
            let found = match entry {
                MapEntryRef::Key(pattern) => list.delete(pattern),
                MapEntryRef::Slot(slot) => list.delete_slot(*slot),
            };
            found
                .then_some(Applied::Changed)
                .ok_or(ApplyError::NoSuchMapEntry)
        }
        Mutation::ClearAcl { list } => {
            acl_mut(state, *list)?.clear();
            Ok(Applied::Changed)
        }
        Mutation::SetTicketKeys { file, ring } => {
            let file = (state.tls.ticket_files.get_mut(*file)).ok_or(ApplyError::NoSuchTlsFile)?;
            file.ring = ring.clone();
            Ok(Applied::Changed)
        }
        Mutation::SetCertTransaction(pending) => {
            state.tls.cert_transaction = pending.clone();
            Ok(Applied::Changed)
        }
        Mutation::CommitCert { file, contents } => {
            let slot = state
                .tls
                .certs
                .get_mut(file)
                .ok_or(ApplyError::NoSuchTlsFile)?;
            *slot = contents.clone();
            state.tls.cert_transaction = None;
            Ok(Applied::Changed)
        }
        Mutation::SetWeights {
            backend,
            weights,
            drain,
        } => set_weights(state, *backend, weights, *drain, now),
        Mutation::SetFrontendEnabled { frontend, enabled } => {
            let f = state
                .frontends
                .get_mut(*frontend)
                .ok_or(ApplyError::NoSuchFrontend)?;
            f.enabled = *enabled;
            Ok(Applied::Changed)
        }
    };
    if result.is_ok() {
        state.version += 1;
    }
    result
}

/// [`Mutation::SetWeights`]: reports the drained server's transition (a rollback), if any.
fn set_weights(
    state: &mut State,
    backend: usize,
    weights: &[(u32, u32)],
    drain: Option<u32>,
    now: u64,
) -> Result<Applied, ApplyError> {
    let b = backend_mut(state, backend)?;
    let mut applied = Applied::Changed;
    for server in b.servers.iter_mut() {
        let weight = weights.iter().find(|(id, _)| *id == server.id).map(|w| w.1);
        let drained = drain == Some(server.id);
        let changed = change_server(server, now, |s| {
            if let Some(weight) = weight {
                s.weight = weight;
            }
            if drained {
                set_admin_state(s, AdminState::Drain);
            }
        });
        if drained && changed {
            applied = Applied::Transition {
                server: ServerRef {
                    backend,
                    server: server.id,
                },
                now_usable: server.takes_new_traffic(),
            };
        }
    }
    Ok(applied)
}

fn map_mut(state: &mut State, map: usize) -> Result<&mut crate::rules::Map, ApplyError> {
    state.maps.get_mut(map).ok_or(ApplyError::NoSuchMap)
}

fn acl_mut(state: &mut State, list: usize) -> Result<&mut crate::rules::PatternList, ApplyError> {
    state.maps.acl_list_mut(list).ok_or(ApplyError::NoSuchMap)
}

fn backend_mut(state: &mut State, backend: usize) -> Result<&mut Backend, ApplyError> {
    state
        .backends
        .get_mut(backend)
        .ok_or(ApplyError::NoSuchBackend)
}

fn server_mut(state: &mut State, r: ServerRef) -> Result<&mut Server, ApplyError> {
    let backend = backend_mut(state, r.backend)?;
    backend
        .servers
        .iter_mut()
        .find(|s| s.id == r.server)
        .ok_or(ApplyError::NoSuchServer)
}

/// Runs `change` on one server and reports whether it started or stopped taking new traffic;
/// `lastchg` restarts and `downtime` accumulates when its displayed state changes.
fn with_transition(
    state: &mut State,
    r: ServerRef,
    now: u64,
    change: impl FnOnce(&mut Server),
) -> Result<Applied, ApplyError> {
    let server = server_mut(state, r)?;
    if change_server(server, now, change) {
        Ok(Applied::Transition {
            server: r,
            now_usable: server.takes_new_traffic(),
        })
    } else {
        Ok(Applied::Changed)
    }
}

/// Applies `change` to one server with what follows from it (slow start restarts, `lastchg`
/// and `downtime` move when a state moved); true when its usability for new traffic changed.
fn change_server(server: &mut Server, now: u64, change: impl FnOnce(&mut Server)) -> bool {
    let before = (server.takes_new_traffic(), server.admin, server.op);
    let was_live = server.is_live();
    change(server);
    let after = (server.takes_new_traffic(), server.admin, server.op);
    if !was_live && server.is_live() && server.tuning.slowstart.is_some() {
        server.ramp = RAMP_START;
    }
    if before.1 != after.1 || before.2 != after.2 {
        if before.2 == OpState::Down {
            server.downtime += now.saturating_sub(server.last_change);
        }
        server.last_change = now;
    }
    before.0 != after.0
}

/// Whether a check result would change `server` beyond the check's timing: the coordinator
/// broadcasts only such results, so a steady "still UP" check every `inter` costs no
/// cross-core message. Tried on a copy of the one server, at its own `lastchg` (so neither
/// `lastchg` nor `downtime` moves), with the check's duration left out.
pub fn check_changes(server: &Server, status: CheckStatus, detail: &CheckDetail) -> bool {
    let mut after = server.clone();
    change_server(&mut after, server.last_change, |s| {
        record_check(s, status, detail)
    });
    after.check.duration_ms = server.check.duration_ms;
    after != *server
}

fn set_admin_state(server: &mut Server, admin: AdminState) {
    if server.admin == admin {
        return;
    }
    if admin == AdminState::Maint {
        // HAProxy counts entering maintenance as a "down" transition (chkdown + 1).
        server.check.downs += 1;
    } else if server.admin == AdminState::Maint && server.check.active() {
        // Leaving maintenance with checks: usable at once, shown "UP 1/3" until the next check.
        server.op = OpState::Up;
        server.check.health = server.check.rise;
    }
    server.admin = admin;
}

fn set_health(server: &mut Server, op: OpState) {
    if op == OpState::Down && server.op != OpState::Down {
        server.check.downs += 1;
    }
    server.op = op;
    server.check.health = match op {
        OpState::Down => 0,
        OpState::Up | OpState::Stopping => server.check.max_health(),
    };
}

/// HAProxy's rise/fall arithmetic: health runs 0 ..= rise+fall-1; reaching `rise` jumps to the
/// top (UP); falling below `rise` goes DOWN at 0. A `Hana` result (errors seen on live traffic
/// by `observe`) first moves health as the server's `on-error` says, then counts as a failure,
/// like HAProxy's `check_notify_failure`.
fn record_check(server: &mut Server, status: CheckStatus, detail: &CheckDetail) {
    if status != CheckStatus::Hana {
        // A live-traffic verdict is not a check: the last check's figures stay.
        server.check.code = detail.code;
        server.check.duration_ms = Some(detail.duration_ms);
    }
    if status == CheckStatus::Hana {
        let check = &mut server.check;
        match server.tuning.on_error {
            // Only the check rhythm changes; the state does not.
            OnError::Fastinter => return,
            OnError::FailCheck => {}
            OnError::SuddenDeath => check.health = check.health.min(check.rise + 1),
            OnError::MarkDown => check.health = check.health.min(check.rise),
        }
    }
    let check = &mut server.check;
    let drained_by_404 = check.status == CheckStatus::L7OkC;
    check.status = status;
    if status.is_ok() {
        if check.health < check.max_health() {
            check.health += 1;
        }
        if check.health >= check.rise {
            check.health = check.max_health();
            server.op = match (server.op, status) {
                // `disable-on-404`: a 404 keeps the server UP but out of new traffic, and the
                // next check that passes outright (not a `stopping` set from the CLI) ends it.
                (OpState::Down | OpState::Up, CheckStatus::L7OkC) => OpState::Stopping,
                (OpState::Stopping, _) if drained_by_404 && status != CheckStatus::L7OkC => {
                    OpState::Up
                }
                (OpState::Down, _) => OpState::Up,
                (op, _) => op,
            };
        }
    } else {
        check.failures += 1;
        check.health = check.health.saturating_sub(1);
        if check.health < check.rise && server.op != OpState::Down {
            check.health = 0;
            check.downs += 1;
            server.op = OpState::Down;
        } else if server.op == OpState::Down {
            check.health = 0;
        }
    }
}

/// Health as another process left it, clamped to this server's rise/fall.
fn restore_health(server: &mut Server, op: OpState, health: u32, status: CheckStatus) {
    server.op = op;
    server.check.status = status;
    server.check.health = match op {
        OpState::Down => 0,
        _ => health.clamp(server.check.rise, server.check.max_health()),
    };
}

fn add_server(
    state: &mut State,
    backend: usize,
    spec: &ServerSpec,
    now: u64,
) -> Result<Applied, ApplyError> {
    let b = backend_mut(state, backend)?;
    if b.server_by_name(&spec.name).is_some() {
        return Err(ApplyError::DuplicateServer);
    }
    let id = b.next_server_id;
    b.next_server_id += 1;
    b.servers.push(Server::new(id, spec, true, now));
    Ok(Applied::Added(ServerRef {
        backend,
        server: id,
    }))
}

fn remove_server(state: &mut State, r: ServerRef) -> Result<Applied, ApplyError> {
    let b = backend_mut(state, r.backend)?;
    let pos = b.position(r.server).ok_or(ApplyError::NoSuchServer)?;
    b.servers.remove(pos);
    Ok(Applied::Removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CheckTuning, Observe, ServerOptions};
    use std::time::Duration;

    fn state_with(tuning: CheckTuning) -> (State, ServerRef) {
        let mut spec = ServerSpec::new("s1", "127.0.0.1:1".parse().unwrap());
        spec.options = ServerOptions {
            check: true,
            weight: 10,
            tuning,
            ..ServerOptions::default()
        };
        let state = State {
            backends: vec![Backend {
                name: "bk".into(),
                id: 2,
                mode: Default::default(),
                algorithm: Default::default(),
                allbackups: false,
                redispatch: true,
                retries: 3,
                cookie: None,
                httpchk: None,
                tcpchk: None,
                servers: vec![Server::new(1, &spec, false, 0)],
                next_server_id: 2,
            }],
            ..State::default()
        };
        (
            state,
            ServerRef {
                backend: 0,
                server: 1,
            },
        )
    }

    fn check(state: &mut State, server: ServerRef, status: CheckStatus) -> Applied {
        apply(
            state,
            &Mutation::CheckResult {
                server,
                status,
                detail: CheckDetail::default(),
            },
            0,
        )
        .unwrap()
    }

    fn server(state: &State, r: ServerRef) -> &Server {
        state.server(r).unwrap()
    }

    #[test]
    fn a_dead_server_at_start_goes_down_after_one_failed_check() {
        let (mut state, r) = state_with(CheckTuning::default());
        let applied = check(&mut state, r, CheckStatus::L4Con);
        assert_eq!(
            applied,
            Applied::Transition {
                server: r,
                now_usable: false
            }
        );
        let s = server(&state, r);
        assert_eq!((s.op, s.check.health, s.check.downs), (OpState::Down, 0, 1));
        // Back after `rise` successes.
        assert_eq!(check(&mut state, r, CheckStatus::L4Ok), Applied::Changed);
        assert!(matches!(
            check(&mut state, r, CheckStatus::L4Ok),
            Applied::Transition {
                now_usable: true,
                ..
            }
        ));
        assert_eq!(server(&state, r).check.health, 4);
    }

    #[test]
    fn health_analyze_follows_on_error() {
        let tuning = |on_error| CheckTuning {
            observe: Some(Observe::Layer4),
            on_error,
            ..CheckTuning::default()
        };
        let (mut state, r) = state_with(tuning(OnError::MarkDown));
        check(&mut state, r, CheckStatus::L4Ok); // fully UP: health 4
        check(&mut state, r, CheckStatus::Hana);
        let s = server(&state, r);
        assert_eq!((s.op, s.check.status.code()), (OpState::Down, "HANA"));

        let (mut state, r) = state_with(tuning(OnError::FailCheck));
        check(&mut state, r, CheckStatus::L4Ok);
        check(&mut state, r, CheckStatus::Hana);
        assert_eq!(
            (server(&state, r).op, server(&state, r).check.health),
            (OpState::Up, 3)
        );

        let (mut state, r) = state_with(tuning(OnError::SuddenDeath));
        check(&mut state, r, CheckStatus::L4Ok);
        check(&mut state, r, CheckStatus::Hana);
        assert_eq!(server(&state, r).check.health, 2, "one failure from DOWN");
        check(&mut state, r, CheckStatus::L4Con);
        assert_eq!(server(&state, r).op, OpState::Down);

        let (mut state, r) = state_with(tuning(OnError::Fastinter));
        check(&mut state, r, CheckStatus::L4Ok);
        let before = server(&state, r).clone();
        check(&mut state, r, CheckStatus::Hana);
        assert_eq!(server(&state, r), &before);
    }

    #[test]
    fn slowstart_ramps_a_server_coming_back_up() {
        let (mut state, r) = state_with(CheckTuning {
            slowstart: Some(Duration::from_secs(10)),
            ..CheckTuning::default()
        });
        assert_eq!(server(&state, r).ramp, RAMP_FULL, "no warm-up at start");
        let maint = Mutation::SetAdminState {
            server: r,
            state: AdminState::Maint,
        };
        apply(&mut state, &maint, 0).unwrap();
        let ready = Mutation::SetAdminState {
            server: r,
            state: AdminState::Ready,
        };
        apply(&mut state, &ready, 0).unwrap();
        assert_eq!(server(&state, r).ramp, RAMP_START);
        assert_eq!(server(&state, r).effective_weight(), 1);
        let step = Mutation::SetRamp {
            server: r,
            percent: 50,
        };
        apply(&mut state, &step, 0).unwrap();
        assert_eq!(server(&state, r).effective_weight(), 5);
        // A weight change is not a return from DOWN: no new warm-up.
        let weight = Mutation::SetWeight {
            server: r,
            weight: 20,
        };
        apply(&mut state, &weight, 0).unwrap();
        assert_eq!(server(&state, r).effective_weight(), 10);
    }

    #[test]
    fn check_intervals_follow_the_state() {
        let (mut state, r) = state_with(CheckTuning {
            fastinter: Some(Duration::from_millis(500)),
            downinter: Some(Duration::from_secs(5)),
            ..CheckTuning::default()
        });
        let interval = |state: &State| {
            let s = server(state, r);
            s.check.interval(s.op, &s.tuning)
        };
        // "UP 1/3" at start: in transition.
        assert_eq!(interval(&state), Duration::from_millis(500));
        check(&mut state, r, CheckStatus::L4Ok);
        assert_eq!(interval(&state), Duration::from_secs(2));
        for _ in 0..3 {
            check(&mut state, r, CheckStatus::L4Con);
        }
        assert_eq!(interval(&state), Duration::from_secs(5));
        check(&mut state, r, CheckStatus::L4Ok);
        assert_eq!(interval(&state), Duration::from_millis(500));
    }

    /// `check_changes` says yes exactly when applying the result changes more than the
    /// check's timing: a steady check of a healthy server is not worth a broadcast; every
    /// failure (its health counter drops, `chkfail` counts it) and a recovery are.
    #[test]
    fn only_a_check_that_changes_the_server_is_worth_a_broadcast() {
        let (mut state, r) = state_with(CheckTuning::default());
        for _ in 0..3 {
            check(&mut state, r, CheckStatus::L4Ok);
        }
        let timed = CheckDetail {
            duration_ms: 7,
            ..CheckDetail::default()
        };
        let up = server(&state, r).clone();
        assert_eq!(up.op, OpState::Up);
        assert!(!check_changes(&up, CheckStatus::L4Ok, &timed));
        assert!(check_changes(&up, CheckStatus::L4Con, &timed));
        while server(&state, r).op == OpState::Up {
            assert!(check_changes(server(&state, r), CheckStatus::L4Con, &timed));
            check(&mut state, r, CheckStatus::L4Con);
        }
        let down = server(&state, r).clone();
        // Every failed check counts (`chkfail`), so even a dead server's next failure is one.
        assert!(check_changes(&down, CheckStatus::L4Con, &timed));
        assert!(check_changes(&down, CheckStatus::L4Ok, &timed));
    }
}
