//! Active health checks, passive reports and slow start. Each server's checks run on exactly
//! one owner shard (its id plus its backend's index, modulo the number of shards), never N
//! times. A result goes to the coordinator, which turns it into a `Mutation::CheckResult` for
//! every shard only when it changes the state, so all shards switch together.
//!
//! - Checks: TCP connect, HTTP (`option httpchk` and its `http-check` connect/send/expect
//!   rule list, `disable-on-404`), or a tcp-check (`option tcp-check` rules, `smtpchk`,
//!   `redis-check`, `mysql-check`, `pgsql-check`, `ldap-check`), every `inter` when UP, `fastinter` in transition,
//!   `downinter` when DOWN ([`crate::state::Check::interval`]); `timeout check` as HAProxy applies it ([`timeouts`]).
//! - Passive (`observe`): the shard's [`Observer`](crate::proxy::observe::Observer) queues a
//!   server that reached `error-limit` consecutive errors on live traffic; it is reported as a
//!   `Hana` ("Health analyze") result, which the server's `on-error` turns into a state change.
//! - Slow start: on the coordinator's shard, a task steps the ramp of every server warming up
//!   (`Mutation::SetRamp`) so its effective weight grows over `slowstart`.
//!
//! All of it runs in its own task queue, so a flood of requests cannot delay a check into a
//! false timeout.
//!
//! Layout: [`schedule`] (which checks run, when), [`probe`] (a check's I/O), [`judge`] (the
//! verdict on an HTTP response), [`tcp_probe`] (a tcp-check's rules), [`timeouts`], [`passive`] (`observe`), [`slow_start`].

mod judge;
mod passive;
mod probe;
mod schedule;
mod slow_start;
mod tcp_probe;
mod timeouts;

pub use probe::{run_check, CheckKind};
pub use timeouts::{timeouts, CheckTimeouts};

use crate::proxy::Worker;
use crate::state::{CheckDetail, CheckStatus, Mutation, ServerRef};
use std::rc::Rc;
use std::time::Duration;

/// A check on the server's owner shard finished (or live traffic reached `error-limit`).
#[derive(Debug)]
pub struct CheckReport {
    pub server: ServerRef,
    pub status: CheckStatus,
    pub detail: CheckDetail,
}

/// Where this shard's health work hands what it found. Health owns the trait and `shard/`
/// implements it (the coordinator itself on shard 0, the report mesh to it elsewhere), so
/// health depends on no shard type. (Its futures are not `Send`: a shard's tasks never move.)
#[allow(async_fn_in_trait)]
pub trait HealthSink: 'static {
    /// Hands one result to the coordinator, which turns it into a mutation if it changes
    /// the server.
    async fn report(&self, report: CheckReport);
    /// Whether this sink sequences mutations itself (the coordinator's shard): slow start is
    /// stepped there, once for the whole process.
    fn sequences(&self) -> bool;
    /// Applies slow-start steps on every shard (called only where [`HealthSink::sequences`]).
    async fn step(&self, steps: Vec<Mutation>);
}

/// Starts the checks this shard owns (now and for servers added later), the forwarding of
/// passive reports, and on the coordinator's shard the slow-start steps.
pub fn start<S: HealthSink>(worker: Rc<Worker>, (shard, shards): (usize, usize), sink: Rc<S>) {
    let queue = glommio::executor().create_task_queue(
        glommio::Shares::Static(1000),
        glommio::Latency::Matters(Duration::from_millis(2)),
        "health",
    );
    let spawn = |task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>| {
        match glommio::spawn_local_into(task, queue) {
            Ok(task) => {
                task.detach();
            }
            Err(e) => log::error!("shard {shard}: cannot start health checks: {e}"),
        }
    };
    spawn(Box::pin(schedule::schedule_checks(
        worker.clone(),
        (shard, shards),
        sink.clone(),
        queue,
    )));
    spawn(Box::pin(passive::forward_passive_reports(
        worker.clone(),
        sink.clone(),
    )));
    if sink.sequences() {
        spawn(Box::pin(slow_start::drive_slow_starts(worker, sink)));
    }
}
