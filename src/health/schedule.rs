//! Which checks this shard runs and when: a loop per checked server it owns (its id plus its
//! backend's index, modulo the shards), started again for servers added later, paused while
//! checks are disabled or the server is in maintenance, and spaced by `inter`, `fastinter` or
//! `downinter` ([`crate::state::Check::interval`]).

use super::probe::{run_check, CheckKind};
use super::timeouts::{timeouts, CheckTimeouts};
use super::{CheckReport, HealthSink};
use crate::proxy::Worker;
use crate::state::{AdminState, OpState, ServerRef};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// How often the owner shard looks for servers whose checks it must start (added at runtime,
/// or re-enabled).
const RESCAN: Duration = Duration::from_millis(200);

/// Starts a check loop for every checked server this shard owns, and again for servers that
/// appear later.
pub(super) async fn schedule_checks<S: HealthSink>(
    worker: Rc<Worker>,
    (shard, shards): (usize, usize),
    sink: Rc<S>,
    queue: glommio::TaskQueueHandle,
) {
    let mut running: HashSet<ServerRef> = HashSet::new();
    loop {
        for server in owned_checked_servers(&worker, shard, shards) {
            if running.insert(server) {
                let task = check_loop(worker.clone(), server, sink.clone());
                if let Ok(task) = glommio::spawn_local_into(task, queue) {
                    task.detach();
                }
            }
        }
        running.retain(|r| worker.state.borrow().server(*r).is_some());
        glommio::timer::sleep(RESCAN).await;
    }
}

/// Servers with `check` whose owner is this shard.
fn owned_checked_servers(worker: &Worker, shard: usize, shards: usize) -> Vec<ServerRef> {
    let state = worker.state.borrow();
    let mut owned = Vec::new();
    for (b, backend) in state.backends.iter().enumerate() {
        for server in &backend.servers {
            let owner = (server.id as usize + b) % shards;
            if server.check.configured && owner == shard {
                owned.push(ServerRef {
                    backend: b,
                    server: server.id,
                });
            }
        }
    }
    owned
}

/// What one check needs, read from the shard's replica before it starts.
struct Target {
    addr: SocketAddr,
    /// Time to the next check once this one is done (`inter`, `fastinter` or `downinter`).
    interval: Duration,
    /// Checks enabled and the server not in maintenance (HAProxy pauses them then).
    active: bool,
    httpchk: Option<crate::config::HttpCheck>,
    tcpchk: Option<crate::config::TcpCheck>,
    timeouts: CheckTimeouts,
    /// DOWN by its checks (a 404 then does not drain it: `disable-on-404`).
    down: bool,
    /// `check-ssl` (or `ssl`): the check's client side over TLS.
    tls: Option<std::sync::Arc<crate::tls::upstream::Connector>>,
}

/// Checks one server while it exists; paused while checks are disabled or the server is in
/// maintenance.
async fn check_loop<S: HealthSink>(worker: Rc<Worker>, server: ServerRef, sink: Rc<S>) {
    loop {
        let Some(target) = check_target(&worker, server) else {
            return;
        };
        if target.active {
            let kind = match (&target.httpchk, &target.tcpchk) {
                (Some(http), _) => CheckKind::Http(http),
                (None, Some(tcp)) => CheckKind::Tcp(tcp),
                (None, None) => CheckKind::Connect,
            };
            let (status, detail) = run_check(
                (target.addr, target.tls.as_deref()),
                kind,
                target.timeouts,
                target.down,
            )
            .await;
            sink.report(CheckReport {
                server,
                status,
                detail,
            })
            .await;
        }
        // The interval after the result was applied (on this shard it may still be on its
        // way; the next check then corrects it).
        let interval = check_target(&worker, server).map_or(target.interval, |t| t.interval);
        glommio::timer::sleep(interval).await;
    }
}

fn check_target(worker: &Worker, server: ServerRef) -> Option<Target> {
    let state = worker.state.borrow();
    let s = state.server(server)?;
    let backend = &state.backends[server.backend];
    let settings = &worker.backends[server.backend];
    Some(Target {
        addr: s.addr,
        interval: s.check.interval(s.op, &s.tuning),
        active: s.check.active() && s.admin != AdminState::Maint,
        httpchk: backend.httpchk.clone(),
        tcpchk: backend.tcpchk.clone(),
        down: s.op == OpState::Down,
        tls: crate::proxy::check_connector(worker, server),
        timeouts: timeouts(
            s.check.inter,
            settings.connect_timeout,
            settings.check_timeout,
        ),
    })
}
