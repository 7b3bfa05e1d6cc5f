//! Restarting, reloading and upgrading pointsman without losing a connection, with the
//! runtime state carried over.
//!
//! - `sockets`: the process's listening sockets, opened before the shards start: fresh binds,
//!   inherited `fd@N` sockets, sockets received from the previous process; keyed by address.
//! - `fdpass`: frames of text and file descriptors (SCM_RIGHTS) on a unix socket.
//! - `handover`: `_getsocks` / `_getstate` between an old process and a new one (`-x`).
//! - `state_dump`: the runtime state in pointsman's own format (what `_getstate` sends).
//! - `state_file`: HAProxy's server state file (`show servers state` format, version 1).
//! - `restore`: the rules that apply old runtime state to a new config, as `Mutation`s.
//! - `start`: what a process gathers before its shards start (hand-over, state, sockets).
//! - `process`: daemon mode, pid file, systemd notification, signalling `-sf`/`-st` pids.
//! - `master`: master-worker mode (`-W`, `-Ws`): reload on SIGUSR2 with a new worker.
//!
//! The listeners a process may hand over are kept in one process-wide place ([`expose`]) until
//! its soft stop begins ([`withdraw`]); then the new process holds the only copies.

pub mod fdpass;
pub mod handover;
pub mod master;
pub mod process;
pub mod restore;
pub mod sockets;
pub mod start;
pub mod state_dump;
pub mod state_file;

use sockets::Listeners;
use std::sync::Mutex;

static EXPOSED: Mutex<Option<Listeners>> = Mutex::new(None);

/// Keeps `listeners` available for `_getsocks` until [`withdraw`].
pub fn expose(listeners: Listeners) {
    *EXPOSED.lock().unwrap_or_else(|e| e.into_inner()) = Some(listeners);
}

/// Closes this process's copies of its listeners: from now on only a process that took them
/// over holds them (a stop without a successor closes them for good).
pub fn withdraw() {
    EXPOSED.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// Runs `f` on the exposed listeners, if the process still has them.
pub fn with_exposed<R>(f: impl FnOnce(&Listeners) -> R) -> Option<R> {
    EXPOSED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(f)
}
