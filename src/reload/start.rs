//! What a serving process gathers before its shards start: the hand-over from the previous
//! process (from the master, or `-x SOCKET`), the start-up state with the old runtime state
//! applied (or the server state files), and every listening socket.

use super::handover::{self, HandOver};
use super::restore;
use super::sockets::{Listeners, Taken};
use super::state_file;
use crate::config::Config;
use crate::state::State;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// Where the previous process is, if any.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// A worker started by the master: its end of their socket pair.
    pub master_fd: Option<i32>,
    /// `-x SOCKET`.
    pub take_over: Option<PathBuf>,
    /// `-sf`/`-st` without `-x`: bind next to the old process (SO_REUSEPORT) instead of
    /// refusing a taken port.
    pub join_taken_ports: bool,
}

/// Everything ready for `shard::run`.
pub struct Start {
    pub state: State,
    pub listeners: Listeners,
    pub master_channel: Option<OwnedFd>,
    /// Tells the master that this worker serves.
    pub master_ready: Option<Box<dyn FnOnce() + Send>>,
    /// The previous process's running canaries, continued by the coordinator.
    pub canaries: Vec<super::state_dump::CanaryRecord>,
}

/// Gathers the hand-over, state and sockets for `shards` shards.
pub fn prepare(config: &Config, shards: usize, source: Source) -> Result<Start, String> {
    let (mut handover, master_channel) = receive(&source)?;
    let now = crate::sys::unix_now();
    let mut state = State::from_config(config, now);
    restore_state(&mut state, config, &handover, now);
    let frontends: Vec<String> = state.frontends.iter().map(|f| f.name.clone()).collect();
    let taken = if source.join_taken_ports {
        Taken::Join
    } else {
        Taken::Refuse
    };
    let listeners = Listeners::open(config, &frontends, shards, &mut handover.sockets, taken)?;
    for key in handover.sockets.keys() {
        log::info!("{key}: not in the new config; the socket received for it is closed");
    }
    let master_ready = match &master_channel {
        Some(channel) => {
            let copy = super::fdpass::dup(channel)
                .map_err(|e| format!("cannot use the master's socket: {e}"))?;
            let tell: Box<dyn FnOnce() + Send> = Box::new(move || {
                let mut stream = UnixStream::from(copy);
                if let Err(e) = stream.write_all(b"READY\n") {
                    log::error!("cannot tell the master that this worker serves: {e}");
                }
            });
            Some(tell)
        }
        None => None,
    };
    let canaries = handover
        .state
        .as_ref()
        .map_or_else(Vec::new, |dump| dump.canaries.clone());
    Ok(Start {
        state,
        listeners,
        master_channel,
        master_ready,
        canaries,
    })
}

fn receive(source: &Source) -> Result<(HandOver, Option<OwnedFd>), String> {
    if let Some(fd) = source.master_fd {
        // SAFETY: the master passed this descriptor to us alone, for this purpose.
        let channel = unsafe { super::process::take_fd(fd) };
        // SAFETY: FD_CLOEXEC on our own descriptor: no later child inherits it.
        unsafe { libc::fcntl(channel.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        let copy = super::fdpass::dup(&channel)
            .map_err(|e| format!("cannot use the master's socket: {e}"))?;
        let handover = handover::fetch(&UnixStream::from(copy))
            .map_err(|e| format!("cannot receive the listeners from the master: {e}"))?;
        return Ok((handover, Some(channel)));
    }
    if let Some(path) = &source.take_over {
        let handover = handover::fetch_from(path)?;
        log::info!(
            "took {} listener(s) over from {}",
            handover.sockets.len(),
            path.display()
        );
        return Ok((handover, None));
    }
    Ok((HandOver::default(), None))
}

/// The previous process's runtime state when there is one, else the server state files.
fn restore_state(state: &mut State, config: &Config, handover: &HandOver, now: u64) {
    let outcome = match &handover.state {
        Some(dump) => {
            let outcome = restore::from_dump(state, config, dump, now);
            log::info!(
                "runtime state of the previous process applied ({} change(s))",
                outcome.applied
            );
            outcome
        }
        None => {
            let (entries, warnings) = state_file::load(config);
            for warning in warnings {
                log::warn!("{warning}");
            }
            if entries.is_empty() {
                return;
            }
            let outcome = restore::from_file(state, &entries, now);
            log::info!("server state file applied ({} change(s))", outcome.applied);
            outcome
        }
    };
    for note in outcome.notes {
        log::info!("{note}");
    }
}
