//! The runtime API: HAProxy's admin socket protocol.
//!
//! - `session`: byte framing of one admin connection (lines, `;`, `\;`, prompt mode, long lines).
//! - `command`: one command line ─▶ typed `Command` ─▶ [`Action`] (privilege checked, names
//!   resolved against the state, errors as HAProxy's exact texts): [`command::plan`].
//! - `format`: `show stat` (CSV, typed, JSON) from the typed rows of `stats::rows`, `show
//!   info`, `show servers state|conn`, `show backend`.
//! - `help`: HAProxy's keyword table, `help`, and the "unknown command" closest-match lists.
//! - `server`: the glommio accept loop and per-connection loop, driving an [`AdminBackend`]:
//!   [`server::serve`].
//!
//! This module never imports `proxy` or `shard`: the coordinator implements [`AdminBackend`],
//! and answers `del server` and `wait … srv-removable` with typed outcomes ([`Deletion`],
//! [`Removal`]) that this module words.

use crate::config::Level;
use crate::state::{Mutation, ServerRef, State};
use crate::stats::StatsSnapshot;
use std::time::Duration;

pub mod client;
pub mod command;
pub mod format;
pub mod help;
pub mod server;
pub mod session;
#[cfg(test)]
pub(crate) mod testutil;

/// What the admin session must do for one command. Reply texts are the command's output
/// *without* the post-command terminator (`"\n"`, or `"\n> "` in prompt mode) that the session
/// appends: HAProxy's `"No such server.\n\n"` is `Reply("No such server.\n")`, and its
/// `"Server deleted.\n"` is `Reply("Server deleted.")`.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Reply now.
    Reply(String),
    /// Apply these mutations through the coordinator (all shards acknowledge), then reply.
    Mutate {
        mutations: Vec<Mutation>,
        reply: String,
    },
    /// `show stat …`: gather counters from every shard, then render.
    ShowStat(format::StatRequest),
    /// `show info [typed|json]`.
    ShowInfo(format::InfoFormat),
    /// `show servers state [backend]` (backend index): rendered with the clock.
    ShowServersState(Option<usize>),
    /// `show servers conn [backend]` (backend index).
    ShowServersConn(Option<usize>),
    /// `show latency [backend[/server]]` (pointsman's own): gather histograms, then render.
    ShowLatency(crate::stats::latency_report::Scope),
    /// `del server B/S`: the coordinator decides (MAINT and idle: removed at once; otherwise
    /// graceful removal once its last request finishes).
    DeleteServer(ServerRef),
    /// `wait DELAY srv-removable B/S`.
    WaitRemovable {
        server: ServerRef,
        timeout: Duration,
    },
    /// `wait DELAY` without a condition: pause, then reply "Done.\n".
    Wait(Duration),
    /// `canary server B/S …`: checked against the state; the coordinator starts it (or refuses
    /// a second one on the server).
    StartCanary {
        server: ServerRef,
        /// `backend/server`, for `show canary` and the log.
        name: String,
        plan: crate::canary::Plan,
    },
    /// `show canary [B/S]`.
    ShowCanary(Option<ServerRef>),
    /// `abort canary B/S`: the weights from before the canary, acknowledged, then the reply.
    AbortCanary(ServerRef),
    /// `shutdown sessions server B/S`: abort its in-flight requests on every shard.
    ShutdownSessions(ServerRef),
    /// `set timeout cli N`.
    SetTimeout(Duration),
    /// `operator` / `user`: lower this session's privilege level.
    SetLevel(Level),
    /// `prompt`: toggle interactive mode.
    TogglePrompt,
    /// `quit`: close at once, no output.
    Quit,
}

/// Facts `show info` prints that are not in the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Unix seconds at start.
    pub start_time: u64,
    pub nbthread: usize,
    pub maxconn: u32,
    pub ulimit_n: u64,
    /// Host name (`node`).
    pub node: String,
    /// Listening sockets.
    pub listeners: usize,
    /// Share of the last one to two seconds the shards spent idle, as of the last stats
    /// gathering (`Idle_pct`).
    pub idle_pct: u32,
}

/// What the admin server needs from the coordinator. Implemented in `shard`.
#[allow(async_fn_in_trait)]
pub trait AdminBackend {
    /// The coordinator's replica of the state (the one admin commands are validated against).
    fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R;
    /// Applies mutations in order on every shard; returns once all shards acknowledged.
    async fn mutate(&self, mutations: Vec<Mutation>) -> Result<(), crate::state::ApplyError>;
    /// Counters summed over all shards.
    async fn gather(&self) -> StatsSnapshot;
    /// Latency histograms merged over all shards (`show latency`).
    async fn gather_latency(&self) -> crate::stats::latency::LatencySnapshot;
    /// Each shard's own counters, shard 0 first (`show servers conn`'s per-thread columns).
    async fn gather_per_shard(&self) -> Vec<StatsSnapshot>;
    /// `del server`: removes the server at once when it is in MAINT and idle, otherwise
    /// pointsman's graceful removal (no new request, removed when its last one ends).
    async fn delete_server(&self, server: ServerRef) -> Deletion;
    /// `wait DELAY srv-removable B/S`: done once the server is removable (in MAINT with no
    /// request in flight, or, for a server that `del server` is draining, once it is gone),
    /// expired when `timeout` passes first, failed at once for a server that is neither.
    async fn wait_removable(&self, server: ServerRef, timeout: Duration) -> Removal;
    /// `shutdown sessions server`.
    async fn shutdown_sessions(&self, server: ServerRef);
    /// `canary server`: starts the runner; the reply says it started or why not.
    async fn start_canary(
        &self,
        server: ServerRef,
        name: String,
        plan: crate::canary::Plan,
    ) -> String {
        let _ = (server, name, plan);
        command::NOT_SUPPORTED.to_string()
    }
    /// `show canary [B/S]`.
    fn show_canary(&self, server: Option<ServerRef>) -> String {
        let _ = server;
        crate::canary::show(&[])
    }
    /// `abort canary B/S`: returns once the weights from before it are acknowledged.
    async fn abort_canary(&self, server: ServerRef) -> String {
        let _ = server;
        command::NOT_SUPPORTED.to_string()
    }
    fn process_info(&self) -> ProcessInfo;
    /// Unix seconds now.
    fn now(&self) -> u64;
}

/// What `del server` did; [`Deletion::reply`] words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    NoSuchServer,
    /// In MAINT with nothing in flight: removed now.
    Deleted,
    /// pointsman's graceful removal: it takes no new request and is removed when its last one
    /// ends; `in_maint` when it was already in maintenance.
    Draining {
        in_maint: bool,
    },
    /// HAProxy's refusal of a server not in maintenance. pointsman's coordinator drains such
    /// a server instead; the test coordinator follows HAProxy's rule to replay its captures.
    NotInMaintenance,
}

impl Deletion {
    /// The reply, without its terminator: HAProxy's words where HAProxy has them.
    pub fn reply(self) -> &'static str {
        match self {
            Deletion::NoSuchServer => "No such server.",
            Deletion::Deleted => "Server deleted.",
            Deletion::Draining { in_maint: true } => {
                "Server deleted once its last connection finishes (draining)."
            }
            Deletion::Draining { in_maint: false } => {
                "Server draining: it takes no new requests and is deleted when its last request finishes."
            }
            Deletion::NotInMaintenance => "Only servers in maintenance mode can be deleted.",
        }
    }
}

/// How `wait … srv-removable` ended; [`Removal::reply`] words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Done,
    Expired,
    Failed,
}

impl Removal {
    /// HAProxy 2.7's replies (`cli_release_wait`).
    pub fn reply(self) -> &'static str {
        match self {
            Removal::Done => "Done.\n",
            Removal::Expired => "Wait delay expired.\n",
            Removal::Failed => "Failed.\n",
        }
    }
}

/// Privilege level of the socket a command came in on (from `stats socket … level`).
pub type SocketLevel = Level;
