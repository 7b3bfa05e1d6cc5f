//! The canary's runner: one task on the coordinator's shard (never on the request path) that
//! applies each step as one acknowledged mutation, judges the step's window from two
//! gatherings of the shards' counters and histograms, extends a thin step up to 3T, and ends
//! promoted, rolled back (weight 0 and drain in one mutation) or aborted (the weights from
//! before the canary, exactly). [`Book`] keeps every running and finished canary for
//! `show canary`, `abort canary` and the state hand-over of a reload.

use super::judge::{verdict, window, Figures, Gathered, Verdict, Window};
use super::plan::{step_weights, Plan};
use crate::state::{AdminState, ApplyError, Mutation, ServerRef, State};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often a running canary looks for an abort while it waits.
const TICK: Duration = Duration::from_millis(10);
/// How many times T a step may last while the canary has too few requests.
const LONGEST_STEP: u32 = 3;
/// Finished canaries kept for `show canary`.
const KEPT_FINISHED: usize = 32;

/// What the runner needs from the coordinator.
#[allow(async_fn_in_trait)]
pub trait CanaryHost {
    fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R;
    /// Applies on every shard; returns once all acknowledged.
    async fn mutate(&self, mutations: Vec<Mutation>) -> Result<(), ApplyError>;
    /// Counters and latency histograms of every shard, summed.
    async fn gather_window(&self) -> Gathered;
}

/// Where a canary stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Running,
    Promoted,
    /// Rolled back; the text names the figures that decided it.
    RolledBack(String),
    Aborted,
    /// Its server went away (deleted) while it ran.
    Ended(String),
}

impl Status {
    pub fn word(&self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Promoted => "promoted",
            Status::RolledBack(_) => "rolled-back",
            Status::Aborted => "aborted",
            Status::Ended(_) => "ended",
        }
    }
}

/// One canary, running or finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub server: ServerRef,
    /// `backend/server`, as typed names (kept for a finished canary whose server is gone).
    pub name: String,
    pub plan: Plan,
    /// Every active server's weight before the canary, by server id (what `abort` restores).
    pub before: Vec<(u32, u32)>,
    /// Index of the current (or last) step in `plan.steps`.
    pub step: usize,
    /// The share the current step's integer weights really give, in percent.
    pub real_share: f64,
    /// The last judged window (or the one being extended).
    pub window: Window,
    pub window_ms: u64,
    /// The others' figures of the last window where they had requests (the 100 % step's
    /// yardstick).
    pub reference: Option<Figures>,
    pub status: Status,
    /// What the last window decided, in words.
    pub verdict: String,
    pub abort_requested: bool,
}

/// Every canary of this process, oldest first.
#[derive(Debug, Default)]
pub struct Book {
    canaries: RefCell<Vec<Canary>>,
}

impl Book {
    /// The running canary on `server`, if any.
    pub fn running_on(&self, server: ServerRef) -> Option<Canary> {
        self.canaries
            .borrow()
            .iter()
            .find(|c| c.server == server && c.status == Status::Running)
            .cloned()
    }

    pub fn all(&self) -> Vec<Canary> {
        self.canaries.borrow().clone()
    }

    /// Registers a new canary, refusing a second one on the same server.
    pub fn open(&self, canary: Canary) -> Result<(), String> {
        if let Some(running) = self.running_on(canary.server) {
            return Err(format!(
                "A canary is already running on {} (step {}/{}): one canary per server at a time.\n",
                running.name,
                running.step + 1,
                running.plan.steps.len()
            ));
        }
        let mut canaries = self.canaries.borrow_mut();
        canaries.push(canary);
        while canaries.len() > KEPT_FINISHED {
            let Some(oldest) = canaries.iter().position(|c| c.status != Status::Running) else {
                break;
            };
            canaries.remove(oldest);
        }
        Ok(())
    }

    /// Asks the running canary on `server` to stop; false when none runs there.
    pub fn request_abort(&self, server: ServerRef) -> bool {
        let mut canaries = self.canaries.borrow_mut();
        match canaries
            .iter_mut()
            .find(|c| c.server == server && c.status == Status::Running)
        {
            Some(c) => {
                c.abort_requested = true;
                true
            }
            None => false,
        }
    }

    fn update(&self, server: ServerRef, change: impl FnOnce(&mut Canary)) {
        if let Some(c) = self
            .canaries
            .borrow_mut()
            .iter_mut()
            .rev()
            .find(|c| c.server == server)
        {
            change(c);
        }
    }

    fn get(&self, server: ServerRef) -> Option<Canary> {
        self.canaries
            .borrow()
            .iter()
            .rev()
            .find(|c| c.server == server)
            .cloned()
    }
}

/// A new canary on `server`, at its first step, with the weights it finds.
pub fn new_canary(state: &State, server: ServerRef, name: String, plan: Plan) -> Canary {
    let before = state.backends[server.backend]
        .servers
        .iter()
        .filter(|s| !s.backup && !s.deleting)
        .map(|s| (s.id, s.weight))
        .collect();
    Canary {
        server,
        name,
        plan,
        before,
        step: 0,
        real_share: 0.0,
        window: Window::default(),
        window_ms: 0,
        reference: None,
        status: Status::Running,
        verdict: "starting".into(),
        abort_requested: false,
    }
}

/// Why a canary cannot start on `server` (it exists), in words for the operator.
pub fn refusal(state: &State, server: ServerRef, name: &str) -> Option<String> {
    let backend = &state.backends[server.backend];
    let s = backend.server(server.server)?;
    let why = if s.deleting {
        "is being deleted"
    } else if s.admin == AdminState::Maint {
        "is in maintenance (MAINT): set it ready first"
    } else if s.admin == AdminState::Drain {
        "is draining (DRAIN): set it ready first"
    } else if s.backup {
        "is a backup server: a canary shares the active servers' traffic"
    } else if matches!(
        backend.algorithm,
        crate::config::Algorithm::StaticRr | crate::config::Algorithm::Source
    ) {
        "is in a backend with a static balance algorithm: a canary needs dynamic weights"
    } else {
        return None;
    };
    Some(format!("Canary refused: server {name} {why}.\n"))
}

/// Runs the canary on `server` from its current step to its end.
pub async fn run<H: CanaryHost>(host: Rc<H>, book: Rc<Book>, server: ServerRef) {
    let Some(canary) = book.get(server) else {
        return;
    };
    let plan = canary.plan.clone();
    for step in canary.step..plan.steps.len() {
        if host.with_state(|s| s.server(server).is_none()) {
            return finish(&book, server, Status::Ended("its server is gone".into()));
        }
        let share = plan.steps[step];
        let (weights, real) = step_weights(&canary.before, server.server, share);
        let mutation = Mutation::SetWeights {
            backend: server.backend,
            weights,
            drain: None,
        };
        if host.mutate(vec![mutation]).await.is_err() {
            return finish(&book, server, Status::Ended("its server is gone".into()));
        }
        book.update(server, |c| {
            c.step = step;
            c.real_share = real;
            c.verdict = "judging".into();
        });
        log::warn!(
            "canary {}: step {}/{} at {share}% ({real:.2}% by the weights)",
            canary.name,
            step + 1,
            plan.steps.len()
        );
        match judge_step(&*host, &book, server, &plan).await {
            StepEnd::Passed => {}
            StepEnd::Failed(why) => return roll_back(&*host, &book, server, why).await,
            StepEnd::Aborted => return abort(&*host, &book, server).await,
        }
    }
    log::warn!("canary {}: promoted", canary.name);
    finish(&book, server, Status::Promoted);
}

enum StepEnd {
    Passed,
    Failed(String),
    Aborted,
}

/// Holds one step for T, then judges it; a step with too few canary requests goes on, and
/// is judged again every T/4, until 3T.
async fn judge_step<H: CanaryHost>(
    host: &H,
    book: &Book,
    server: ServerRef,
    plan: &Plan,
) -> StepEnd {
    let started = Instant::now();
    let start = host.gather_window().await;
    let mut wait_until = started + plan.every;
    loop {
        if !sleep_unless_aborted(book, server, wait_until).await {
            return StepEnd::Aborted;
        }
        let end = host.gather_window().await;
        let w = window(&start, &end, server);
        let elapsed = started.elapsed();
        let extendable = elapsed < plan.every * LONGEST_STEP;
        let reference = book.get(server).and_then(|c| c.reference);
        let decided = verdict(plan, &w, reference.as_ref(), extendable);
        book.update(server, |c| {
            c.window = w;
            c.window_ms = elapsed.as_millis() as u64;
            if w.others.requests > 0 {
                c.reference = Some(w.others);
            }
            c.verdict = match &decided {
                Verdict::Pass => "passed".into(),
                Verdict::Extend => "extended (too few requests)".into(),
                Verdict::Fail(why) => why.clone(),
            };
        });
        match decided {
            Verdict::Pass => return StepEnd::Passed,
            Verdict::Fail(why) => return StepEnd::Failed(why),
            Verdict::Extend => wait_until = Instant::now() + plan.every / 4,
        }
    }
}

/// Sleeps until `until`; false as soon as an abort is asked for.
async fn sleep_unless_aborted(book: &Book, server: ServerRef, until: Instant) -> bool {
    loop {
        if book.get(server).is_none_or(|c| c.abort_requested) {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        glommio::timer::sleep(TICK.min(until - now)).await;
    }
}

/// Weight 0 and DRAIN for the canary, the others back to their weights, in one mutation.
async fn roll_back<H: CanaryHost>(host: &H, book: &Book, server: ServerRef, why: String) {
    let Some(canary) = book.get(server) else {
        return;
    };
    let mut weights: Vec<(u32, u32)> = canary
        .before
        .iter()
        .copied()
        .filter(|(id, _)| *id != server.server)
        .collect();
    weights.push((server.server, 0));
    // A server an operator put in MAINT meanwhile stays there: DRAIN would let it out.
    let ready = host.with_state(|s| {
        s.server(server)
            .is_some_and(|s| s.admin == AdminState::Ready)
    });
    let mutation = Mutation::SetWeights {
        backend: server.backend,
        weights,
        drain: ready.then_some(server.server),
    };
    let _ = host.mutate(vec![mutation]).await;
    log::warn!(
        "canary {}: rolled back at step {}/{}: {why}",
        canary.name,
        canary.step + 1,
        canary.plan.steps.len()
    );
    finish(book, server, Status::RolledBack(why));
}

/// Every server back to its weight from before the canary.
async fn abort<H: CanaryHost>(host: &H, book: &Book, server: ServerRef) {
    let Some(canary) = book.get(server) else {
        return;
    };
    let mutation = Mutation::SetWeights {
        backend: server.backend,
        weights: canary.before.clone(),
        drain: None,
    };
    let _ = host.mutate(vec![mutation]).await;
    log::warn!("canary {}: aborted, weights restored", canary.name);
    finish(book, server, Status::Aborted);
}

fn finish(book: &Book, server: ServerRef, status: Status) {
    book.update(server, |c| {
        if let Status::RolledBack(why) | Status::Ended(why) = &status {
            c.verdict = why.clone();
        }
        c.status = status;
    });
}

/// `show canary`: a header, then one line per canary, oldest first.
pub fn show(canaries: &[Canary]) -> String {
    let mut out = String::from("# name status step share real_share window_ms canary_req canary_bad canary_p99_us others_req others_bad others_p99_us verdict\n");
    for c in canaries {
        let w = &c.window;
        out.push_str(&format!(
            "{} {} {}/{} {} {:.2} {} {} {} {} {} {} {} {}\n",
            c.name,
            c.status.word(),
            c.step + 1,
            c.plan.steps.len(),
            c.plan.steps[c.step],
            c.real_share,
            c.window_ms,
            w.canary.requests,
            w.canary.bad,
            w.canary.p99_us,
            w.others.requests,
            w.others.bad,
            w.others.p99_us,
            c.verdict
        ));
    }
    out
}
