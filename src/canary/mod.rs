//! Progressive switching as one command: `canary server B/S steps … every T …` moves a share
//! of a backend's traffic to one server step by step, judges each step on the proxy's own
//! per-server counters and latency histograms against the backend's other servers in the same
//! window, and rolls the server back by itself at the first failing step.
//!
//! - `plan`: the command's words ─▶ [`Plan`]; the weights of a step. Pure.
//! - `judge`: two gatherings ─▶ a window's figures ─▶ a [`Verdict`]. Pure.
//! - `resume`: running canaries ─▶ records of the reload's state hand-over ─▶ canaries again.
//! - `runner`: the task on the coordinator's shard that applies the steps as mutations, and
//!   the [`Book`] of running and finished canaries.
//!
//! It reads `state`, `stats` and the hand-over's record type, and never imports `admin` or `shard`: the coordinator
//! implements [`CanaryHost`] for it.

mod judge;
mod plan;
mod resume;
mod runner;

pub use judge::{verdict, window, Figures, Gathered, Verdict, Window};
pub use plan::{parse_plan, step_weights, Plan, USAGE};
pub use resume::{canary_from, records};
pub use runner::{new_canary, refusal, run, show, Book, Canary, CanaryHost, Status};
