//! The coordinator, on shard 0: the one place where mutations are ordered. It validates each on
//! its own replica, applies it to shard 0's data plane, broadcasts it to every other shard and
//! waits for every acknowledgement before the admin client gets its reply — so "the reply came
//! back" means "every core routes by the new state". It implements [`AdminBackend`].

use super::mesh::{Receivers, Senders};
use super::messages::{FromShard, ToShard};
use crate::admin::{AdminBackend, Deletion, ProcessInfo, Removal};
use crate::canary;
use crate::health::{CheckReport, HealthSink};
use crate::logs;
use crate::logs::event::{transition_change, Change, Usable};
use crate::proxy::Worker;
use crate::state::{self, AdminState, Applied, ApplyError, Mutation, ServerRef, State};
use crate::stats::idle::IdleMeter;
use crate::stats::latency::{LatencySnapshot, Series};
use crate::stats::StatsSnapshot;
use crate::sys::unix_now;
use glommio::sync::Semaphore;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often a draining `del server` checks whether its last request finished.
const REMOVAL_POLL: Duration = Duration::from_millis(50);

/// How many times `abort canary` looks (every 10 ms) for its runner to have restored the
/// weights before it replies anyway (5 s).
const ABORT_POLLS: u32 = 500;

/// How long shard 0 watches the channel for each acknowledgement before it lets its executor
/// sleep (see [`Watched`]): an idle shard's acknowledgement comes within this. Bounded, so a
/// shard stuck behind a long task costs shard 0 at most this much per mutation.
const ACK_SPIN: Duration = Duration::from_micros(200);
/// Spin-loop hints between two looks at the channel while watching (about a microsecond).
const WATCH_PAUSE_SPINS: u32 = 256;

pub struct Coordinator {
    /// Shard 0's data plane: mutations are validated on its replica and applied to it
    /// directly, not through a channel; admin commands are answered from the same replica.
    local: Rc<Worker>,
    to_shards: Senders<ToShard>,
    from_shards: Receivers<FromShard>,
    /// One request to the shards at a time, so answers come back in order on every channel.
    exclusive: Semaphore,
    seq: Cell<u64>,
    /// Per mutation, from its broadcast to the last shard's acknowledgement (`show latency`).
    broadcast_latency: RefCell<Series>,
    info: ProcessInfo,
    /// The shards' busy time turned into `Idle_pct`, updated at every gathering.
    idle: RefCell<IdleMeter>,
    /// Itself, for the background tasks it spawns (graceful `del server`, canaries).
    me: std::rc::Weak<Coordinator>,
    /// Running and finished canaries (`canary server`, `show canary`).
    canaries: Rc<canary::Book>,
}

impl Coordinator {
    pub fn new(
        local: Rc<Worker>,
        to_shards: Senders<ToShard>,
        from_shards: Receivers<FromShard>,
        info: ProcessInfo,
    ) -> Rc<Coordinator> {
        let idle = IdleMeter::new(info.nbthread, Instant::now());
        Rc::new_cyclic(|me| Coordinator {
            me: me.clone(),
            local,
            to_shards,
            from_shards,
            exclusive: Semaphore::new(1),
            seq: Cell::new(0),
            broadcast_latency: RefCell::new(Series::default()),
            info,
            idle: RefCell::new(idle),
            canaries: Rc::new(canary::Book::default()),
        })
    }

    fn other_shards(&self) -> impl Iterator<Item = usize> + '_ {
        let me = self.to_shards.peer_id();
        (0..self.to_shards.nr_consumers()).filter(move |&i| i != me)
    }

    /// Sends `make()` to every other shard and collects one answer from each.
    async fn ask_all(&self, make: impl Fn() -> ToShard) -> Vec<FromShard> {
        let mut answers = Vec::new();
        for shard in self.other_shards() {
            if self.to_shards.send_to(shard, make()).await.is_err() {
                log::error!("shard {shard} is gone: its replica no longer follows");
            }
        }
        for shard in self.other_shards() {
            match self.from_shards.recv_from(shard).await {
                Ok(Some(answer)) => answers.push(answer),
                _ => log::error!("shard {shard} did not answer"),
            }
        }
        answers
    }

    /// Validates and applies one mutation on shard 0, broadcasts it and waits for every
    /// shard. A mutation shard 0 refuses goes nowhere.
    async fn mutate_one(&self, mutation: Mutation) -> Result<(), ApplyError> {
        let now = unix_now();
        let before = self.admin_state_before(&mutation);
        let applied = self.local.apply(&mutation, now)?;
        self.log_transition(&applied, &mutation, before);
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        self.broadcast(seq, now, &mutation).await;
        Ok(())
    }

    /// Sends mutation `seq` to every other shard and waits for each one's acknowledgement:
    /// the round trip `show latency` reports (no answer is collected, nothing is allocated
    /// beyond the copies of the mutation itself).
    async fn broadcast(&self, seq: u64, now: u64, mutation: &Mutation) {
        let started = Instant::now();
        let mut asked = false;
        for shard in self.other_shards() {
            let message = ToShard::Apply {
                seq,
                now,
                mutation: mutation.clone(),
            };
            if self.to_shards.send_to(shard, message).await.is_err() {
                log::error!("shard {shard} is gone: its replica no longer follows");
            }
            asked = true;
        }
        for shard in self.other_shards() {
            let ack = std::pin::pin!(self.from_shards.recv_from(shard));
            match Watched::until(ack, Instant::now() + ACK_SPIN).await {
                Ok(Some(FromShard::Applied { seq: acked })) if acked == seq => {}
                Ok(Some(other)) => {
                    log::error!("shard {shard} answered mutation {seq} with {other:?}")
                }
                _ => log::error!("shard {shard} did not acknowledge mutation {seq}"),
            }
        }
        if asked {
            let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.broadcast_latency.borrow_mut().record(us);
        }
    }

    /// Applies mutations in order on every shard, one request to the shards at a time.
    pub async fn mutate(&self, mutations: Vec<Mutation>) -> Result<(), ApplyError> {
        let _permit = self.exclusive.acquire_permit(1).await;
        for mutation in mutations {
            self.mutate_one(mutation).await?;
        }
        Ok(())
    }

    /// Counters summed over every shard.
    pub async fn gather(&self) -> StatsSnapshot {
        let _permit = self.exclusive.acquire_permit(1).await;
        self.gather_unlocked().await
    }

    async fn gather_unlocked(&self) -> StatsSnapshot {
        let mut shards = self.gather_per_shard_unlocked().await.into_iter();
        let mut total = shards.next().unwrap_or_default();
        for shard in shards {
            total.add(&shard);
        }
        self.idle
            .borrow_mut()
            .observe(Instant::now(), total.busy_ns);
        total
    }

    /// Latency histograms merged over every shard (`/metrics`, `show latency`).
    pub async fn gather_latency(&self) -> LatencySnapshot {
        let _permit = self.exclusive.acquire_permit(1).await;
        let mut total = self.local.latency.borrow().clone();
        for answer in self.ask_all(|| ToShard::GatherLatency).await {
            if let FromShard::Latency(l) = answer {
                total.add(&l);
            }
        }
        total.mutation = self.broadcast_latency.borrow().clone();
        total
    }

    /// Each shard's counters, shard 0 first, then the others in shard order.
    pub async fn gather_per_shard(&self) -> Vec<StatsSnapshot> {
        let _permit = self.exclusive.acquire_permit(1).await;
        self.gather_per_shard_unlocked().await
    }

    async fn gather_per_shard_unlocked(&self) -> Vec<StatsSnapshot> {
        let mut shards = vec![self.local.snapshot()];
        for answer in self.ask_all(|| ToShard::Gather).await {
            if let FromShard::Stats(s) = answer {
                shards.push(*s);
            }
        }
        shards
    }

    /// In-flight requests on a server, over all shards. Asks each shard for that one count
    /// (a draining `del server` asks every 50 ms; a whole `gather` copied every counter of
    /// every server of every shard each time).
    async fn busy(&self, server: ServerRef) -> u64 {
        let _permit = self.exclusive.acquire_permit(1).await;
        let mut total = self.local.server_inflight(server.backend, server.server);
        for answer in self.ask_all(|| ToShard::InFlight(server)).await {
            if let FromShard::InFlight(n) = answer {
                total += n;
            }
        }
        total
    }

    /// A health check result from the server's owner shard: broadcast only if it changes the
    /// state (a steady "still UP" check costs no cross-core message).
    pub async fn on_check_report(&self, report: CheckReport) {
        let changes = self.check_changes_server(&report);
        let mutation = Mutation::CheckResult {
            server: report.server,
            status: report.status,
            detail: report.detail,
        };
        if changes {
            let _ = self.mutate(vec![mutation]).await;
        }
    }

    /// Whether a check result changes its server beyond the check's timing (judged on shard
    /// 0's replica by [`state::check_changes`]).
    fn check_changes_server(&self, report: &CheckReport) -> bool {
        self.local
            .state
            .borrow()
            .server(report.server)
            .is_some_and(|s| state::check_changes(s, report.status, &report.detail))
    }

    /// The administrative state a `SetAdminState` finds its server in (for the log line).
    fn admin_state_before(&self, mutation: &Mutation) -> Option<AdminState> {
        let Mutation::SetAdminState { server, .. } = mutation else {
            return None;
        };
        self.local.state.borrow().server(*server).map(|s| s.admin)
    }

    /// Logs a server that started or stopped taking traffic, in HAProxy's words. A line for a
    /// server leaving the traffic counts its requests still in flight, which needs every
    /// shard: it is written by a task once this mutation has been acknowledged everywhere,
    /// so the reply never waits for a log line.
    fn log_transition(&self, applied: &Applied, mutation: &Mutation, before: Option<AdminState>) {
        let Applied::Transition { server, now_usable } = applied else {
            return;
        };
        let state = self.local.state.borrow();
        let Some(s) = state.server(*server) else {
            return;
        };
        let backend = &state.backends[server.backend];
        let usable = Usable {
            active: backend
                .servers
                .iter()
                .filter(|s| !s.backup && s.takes_new_traffic())
                .count(),
            backup: backend
                .servers
                .iter()
                .filter(|s| s.backup && s.takes_new_traffic())
                .count(),
        };
        let change = transition_change(mutation, before, *now_usable);
        let nothing_left = usable.active == 0 && usable.backup == 0;
        let line = LogLine {
            backend_index: server.backend,
            backend: backend.name.clone(),
            server: s.name.clone(),
            is_backup: s.backup,
            change,
            usable,
            level: if *now_usable {
                logs::NOTICE
            } else {
                logs::ALERT
            },
            nothing_left,
        };
        drop(state);
        match (&line.change, self.me.upgrade()) {
            (Change::Down(_), Some(me)) => {
                let server = *server;
                glommio::spawn_local(async move {
                    let sessions = me.busy(server).await;
                    me.write_transition(&line, sessions);
                })
                .detach();
            }
            _ => self.write_transition(&line, 0),
        }
    }

    fn write_transition(&self, line: &LogLine, sessions: u64) {
        let message = logs::event::server_change(
            &line.backend,
            &line.server,
            line.is_backup,
            &line.change,
            line.usable,
            sessions,
        );
        log::warn!("{message}");
        self.local
            .log
            .backend_event(line.backend_index, line.level, &message);
        if line.nothing_left {
            let message = format!("backend {} has no server available!", line.backend);
            log::warn!("{message}");
            self.local
                .log
                .backend_event(line.backend_index, logs::ALERT, &message);
        }
    }

    /// Removes a server marked deleting once its last request finished (background task).
    async fn remove_when_idle(self: Rc<Self>, server: ServerRef) {
        loop {
            if self.local.state.borrow().server(server).is_none() {
                return;
            }
            if self.busy(server).await == 0 {
                let _ = self.mutate(vec![Mutation::RemoveServer { server }]).await;
                return;
            }
            glommio::timer::sleep(REMOVAL_POLL).await;
        }
    }
}

/// The canary runner gathers and mutates through the coordinator, like an admin command.
impl canary::CanaryHost for Coordinator {
    fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.local.state.borrow())
    }

    async fn mutate(&self, mutations: Vec<Mutation>) -> Result<(), ApplyError> {
        Coordinator::mutate(self, mutations).await
    }

    async fn gather_window(&self) -> canary::Gathered {
        canary::Gathered {
            stats: self.gather().await,
            latency: self.gather_latency().await,
        }
    }
}

impl Coordinator {
    /// The canary book, for the state hand-over of a reload.
    pub fn canary_book(&self) -> Rc<canary::Book> {
        self.canaries.clone()
    }

    /// Starts again the canaries the previous process was running, each at its step.
    pub fn resume_canaries(&self, records: &[crate::reload::state_dump::CanaryRecord]) {
        for record in records {
            let name = format!("{}/{}", record.backend, record.server);
            let resumed = self.with_state(|state| canary::canary_from(record, state));
            let Some(canary) = resumed else {
                log::warn!("canary {name}: not resumed, its server is not in this process");
                continue;
            };
            let server = canary.server;
            if self.canaries.open(canary).is_ok() {
                log::warn!(
                    "canary {name}: resumed at step {}/{}",
                    record.step + 1,
                    record.steps.len()
                );
                self.spawn_canary(server);
            }
        }
    }

    /// Starts the runner of a canary registered in the book.
    fn spawn_canary(&self, server: ServerRef) {
        if let Some(me) = self.me.upgrade() {
            glommio::spawn_local(canary::run(me, self.canaries.clone(), server)).detach();
        }
    }
}

/// A state-change line waiting for its session count.
struct LogLine {
    backend_index: usize,
    backend: String,
    server: String,
    is_backup: bool,
    change: Change,
    usable: Usable,
    level: u8,
    nothing_left: bool,
}

/// Shard 0's health work reports to the coordinator directly, and steps slow starts through it.
impl HealthSink for Coordinator {
    async fn report(&self, report: CheckReport) {
        self.on_check_report(report).await;
    }

    fn sequences(&self) -> bool {
        true
    }

    async fn step(&self, steps: Vec<Mutation>) {
        let _ = self.mutate(steps).await;
    }
}

impl AdminBackend for Coordinator {
    fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.local.state.borrow())
    }

    async fn mutate(&self, mutations: Vec<Mutation>) -> Result<(), ApplyError> {
        Coordinator::mutate(self, mutations).await
    }

    async fn gather(&self) -> StatsSnapshot {
        Coordinator::gather(self).await
    }

    async fn gather_latency(&self) -> LatencySnapshot {
        Coordinator::gather_latency(self).await
    }

    async fn gather_per_shard(&self) -> Vec<StatsSnapshot> {
        Coordinator::gather_per_shard(self).await
    }

    async fn delete_server(&self, server: ServerRef) -> Deletion {
        let Some(in_maint) = self
            .local
            .state
            .borrow()
            .server(server)
            .map(|s| s.admin == AdminState::Maint)
        else {
            return Deletion::NoSuchServer;
        };
        // First no new request anywhere, then count the ones still running.
        if self
            .mutate(vec![Mutation::MarkDeleting { server }])
            .await
            .is_err()
        {
            return Deletion::NoSuchServer;
        }
        if self.busy(server).await == 0 {
            let _ = self.mutate(vec![Mutation::RemoveServer { server }]).await;
            return Deletion::Deleted;
        }
        if let Some(me) = self.me.upgrade() {
            glommio::spawn_local(me.remove_when_idle(server)).detach();
        }
        Deletion::Draining { in_maint }
    }

    async fn wait_removable(&self, server: ServerRef, timeout: Duration) -> Removal {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            // A server being deleted (pointsman's graceful `del server`) counts as removable
            // once it is gone, so that `del server X; wait 5s srv-removable X` returns when
            // X no longer exists; one in MAINT once no request uses it (HAProxy's rule); any
            // other server never becomes removable by itself: HAProxy fails at once.
            let in_maint = match self.local.state.borrow().server(server) {
                None => return Removal::Done,
                Some(s) if s.deleting => false,
                Some(s) if s.admin == AdminState::Maint => true,
                Some(_) => return Removal::Failed,
            };
            if in_maint && self.busy(server).await == 0 {
                return Removal::Done;
            }
            if std::time::Instant::now() >= deadline {
                return Removal::Expired;
            }
            glommio::timer::sleep(REMOVAL_POLL).await;
        }
    }

    async fn shutdown_sessions(&self, server: ServerRef) {
        let _permit = self.exclusive.acquire_permit(1).await;
        // First every shard marks the server's requests as killed and drops its idle
        // connections; then the connections of the requests still waiting on the server are
        // shut down, which wakes them: they answer 502 and are not retried.
        self.local.shutdown_sessions(server);
        self.ask_all(|| ToShard::ShutdownSessions(server)).await;
        let addr = self.local.state.borrow().server(server).map(|s| s.addr);
        if let Some(addr) = addr {
            let cut = crate::sys::shutdown_sockets_connected_to(addr);
            log::info!("shutdown sessions server: {cut} connection(s) to {addr} cut");
        }
    }

    async fn start_canary(&self, server: ServerRef, name: String, plan: canary::Plan) -> String {
        let canary = self.with_state(|state| canary::new_canary(state, server, name, plan));
        let reply = format!(
            "Canary started on {}: steps {:?} every {:?}.\n",
            canary.name, canary.plan.steps, canary.plan.every
        );
        if let Err(refused) = self.canaries.open(canary) {
            return refused;
        }
        self.spawn_canary(server);
        reply
    }

    fn show_canary(&self, server: Option<ServerRef>) -> String {
        let canaries: Vec<canary::Canary> = self
            .canaries
            .all()
            .into_iter()
            .filter(|c| server.is_none_or(|s| s == c.server))
            .collect();
        canary::show(&canaries)
    }

    async fn abort_canary(&self, server: ServerRef) -> String {
        if !self.canaries.request_abort(server) {
            return "No canary is running on this server.\n".into();
        }
        // The runner restores the weights at its next look (every 10 ms, or once its
        // gathering or mutation in progress ends).
        for _ in 0..ABORT_POLLS {
            if self.canaries.running_on(server).is_none() {
                return "Canary aborted: weights restored.\n".into();
            }
            glommio::timer::sleep(REMOVAL_POLL / 5).await;
        }
        "Canary abort asked; the runner has not finished yet.\n".into()
    }

    fn process_info(&self) -> ProcessInfo {
        ProcessInfo {
            idle_pct: self.idle.borrow().idle_pct(),
            ..self.info.clone()
        }
    }

    fn now(&self) -> u64 {
        unix_now()
    }
}

/// The follower side on every other shard: apply what the coordinator sends, answer in order.
pub async fn follow(worker: Rc<Worker>, commands: Receivers<ToShard>, answers: Senders<FromShard>) {
    let coordinator = 0;
    while let Ok(Some(message)) = commands.recv_from(coordinator).await {
        let answer = match message {
            ToShard::Apply { seq, now, mutation } => {
                if let Err(e) = worker.apply(&mutation, now) {
                    // Shard 0 applied it to the same sequence of states: the replicas
                    // diverged. Loud, but do not take the shard down.
                    log::error!(
                        "shard {}: mutation {mutation:?} failed: {e:?}",
                        worker.shard
                    );
                }
                FromShard::Applied { seq }
            }
            ToShard::Gather => FromShard::Stats(Box::new(worker.snapshot())),
            ToShard::GatherLatency => FromShard::Latency(Box::new(worker.latency.borrow().clone())),
            ToShard::ShutdownSessions(server) => {
                worker.shutdown_sessions(server);
                FromShard::Done
            }
            ToShard::InFlight(server) => {
                FromShard::InFlight(worker.server_inflight(server.backend, server.server))
            }
        };
        if answers.send_to(coordinator, answer).await.is_err() {
            break;
        }
    }
}

/// Waits for an acknowledgement, first by watching the channel for up to `deadline` on this
/// thread, then by sleeping until woken. A sleeping executor is woken by the other shard
/// writing its eventfd and the kernel scheduling the thread again: on an idle shard that costs
/// more than the whole rest of the round trip. The watch re-polls the channel with a no-op
/// waker (glommio's receiver keeps every waker it is polled with until the reactor next runs,
/// so the task's own is registered once, by the first poll) and pauses between polls. It is
/// the targeted form of glommio's `spin_before_park`, which would spin after every request too
/// and costs CPU per request (design notes); this spins only while a mutation is in flight.
struct Watched<F> {
    inner: F,
    deadline: Instant,
}

impl<F: std::future::Future + Unpin> Watched<F> {
    fn until(inner: F, deadline: Instant) -> Self {
        Watched { inner, deadline }
    }
}

impl<F: std::future::Future + Unpin> std::future::Future for Watched<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let polled = std::pin::Pin::new(&mut self.inner).poll(cx);
        if polled.is_ready() {
            return polled;
        }
        let mut quiet = std::task::Context::from_waker(std::task::Waker::noop());
        while Instant::now() < self.deadline {
            for _ in 0..WATCH_PAUSE_SPINS {
                std::hint::spin_loop();
            }
            let polled = std::pin::Pin::new(&mut self.inner).poll(&mut quiet);
            if polled.is_ready() {
                return polled;
            }
        }
        std::task::Poll::Pending
    }
}
