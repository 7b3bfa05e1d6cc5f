//! The accept loop of one listening socket on one shard.
//!
//! It never leaves an `accept` in flight: it waits until the socket is readable (a poll, which
//! takes nothing from the queue: `TcpListener::readable`, patch 4 of the vendored glommio),
//! then accepts with non-blocking `accept4` until the queue is empty.
//! Stopping (dropping the task) therefore cancels only a poll, and a connection is
//! either accepted and served here or left in the queue for whoever else holds the socket —
//! the next process after a hand-over. (A cancelled io_uring accept may already have taken a
//! connection that its dropped future then leaks: a reset for that client.) The poll is armed
//! on an epoll instance that watches the socket (patch 12), not on the socket itself: no
//! io_uring request holds the socket, so after `kill -9` it closes with the process instead of
//! listening on until the kernel tears the ring down (`tests/crash.rs`,
//! `scripts/kill9-window.sh`).
//!
//! The sockets themselves are opened by [`crate::reload::sockets`] before the shards start.
//!
//! Connection limits: `maxconn` in `global` (else derived from RLIMIT_NOFILE, as HAProxy does)
//! and per frontend. Each shard gets its share of a limit (rounded up), so no count is shared
//! between cores. The loop takes a connection slot *before* each accept: a shard at its limit
//! stops accepting, and new clients wait in the kernel's accept queue (never refused) until
//! one of its connections ends. An accept error (EMFILE, ENFILE, ENOBUFS) pauses the loop for
//! [`ACCEPT_ERROR_BACKOFF`]: the shard keeps serving the connections it has and retries,
//! without spinning, logging one line per streak of failures.

use super::signals;
use crate::proxy::Worker;
use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use glommio::sync::{Semaphore, StaticPermit};

/// Pause after an accept error (EMFILE, ENFILE, ENOBUFS) so the loop does not spin at 100%.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(20);
/// How often a paused listener (SIGTTOU) looks whether it may accept again.
const PAUSE_POLL: Duration = Duration::from_millis(50);
/// Wake-ups in a row that found nothing to accept (another shard or process took it) before
/// the loop yields a little, in case readiness keeps being reported without a connection.
const EMPTY_WAKEUPS_BEFORE_NAP: u32 = 64;

/// Open client connections on this shard: a soft stop waits for 0.
#[derive(Default)]
pub struct OpenConnections(Cell<usize>);

impl OpenConnections {
    pub fn get(&self) -> usize {
        self.0.get()
    }

    fn opened(self: &Rc<Self>) -> ConnectionGuard {
        self.0.set(self.0.get() + 1);
        ConnectionGuard(self.clone())
    }
}

/// Counts one connection until dropped (also when its task is dropped at a hard stop).
struct ConnectionGuard(Rc<OpenConnections>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0 .0.set(self.0 .0.get() - 1);
    }
}

/// This shard's share of a connection limit of the whole process (`shards` shards).
pub fn shard_share(limit: u64, shards: usize) -> u64 {
    limit.div_ceil(shards.max(1) as u64).max(1)
}

/// The connection slots of one frontend's accept loops on this shard: the shard's share of the
/// global `maxconn` (shared by all its frontends) and of the frontend's own.
#[derive(Clone)]
pub struct Slots {
    global: Rc<Semaphore>,
    frontend: Option<Rc<Semaphore>>,
}

impl Slots {
    /// One `Slots` per frontend of `worker`'s state, in order.
    pub fn for_frontends(
        config: &crate::config::Config,
        worker: &Worker,
        shards: usize,
    ) -> Vec<Slots> {
        let global_limit = config
            .global
            .maxconn
            .filter(|&n| n > 0)
            .map_or_else(crate::sys::default_maxconn, u64::from);
        let global = Rc::new(Semaphore::new(shard_share(global_limit, shards)));
        let state = worker.state.borrow();
        state
            .frontends
            .iter()
            .map(|f| Slots {
                global: global.clone(),
                frontend: config
                    .proxy_with_frontend(&f.name)
                    .and_then(|p| p.frontend.as_ref())
                    .and_then(|side| side.maxconn)
                    .filter(|&n| n > 0)
                    .map(|n| Rc::new(Semaphore::new(shard_share(u64::from(n), shards)))),
            })
            .collect()
    }

    /// Waits for a free slot in both limits. `None` if a semaphore was closed.
    async fn take(&self) -> Option<(StaticPermit, Option<StaticPermit>)> {
        let frontend = match &self.frontend {
            Some(limit) => Some(limit.clone().acquire_static_permit(1).await.ok()?),
            None => None,
        };
        let global = self.global.clone().acquire_static_permit(1).await.ok()?;
        Some((global, frontend))
    }
}

/// Accepts connections on `socket` (the frontend's `bind`th address) for `frontend` and
/// serves each in its own task, holding one of `slots` while it lives. A paused frontend (`disable frontend`) holds new connections
/// unserved until it is enabled again, as HAProxy does.
pub async fn accept_loop(
    worker: Rc<Worker>,
    (frontend, bind): (usize, usize),
    socket: OwnedFd,
    open: Rc<OpenConnections>,
    slots: Slots,
) {
    let raw = socket.as_raw_fd();
    // SAFETY: a listening socket we own; the listener closes it when the loop is dropped.
    let listener = unsafe { glommio::net::TcpListener::from_raw_fd(socket.into_raw_fd()) };
    let mut empty = 0;
    let mut failures = 0u64;
    loop {
        if signals::paused() {
            glommio::timer::sleep(PAUSE_POLL).await;
            continue;
        }
        if let Err(e) = listener.readable().await {
            // One line per streak of failures, not one per retry (50 a second on EMFILE).
            if failures == 0 {
                log::warn!("listener poll failed: {e}; backing off until it succeeds");
            }
            failures += 1;
            glommio::timer::sleep(ACCEPT_ERROR_BACKOFF).await;
            continue;
        }
        if signals::paused() {
            // SIGTTOU arrived while this loop waited: leave the connection in the queue.
            continue;
        }
        let mut accepted = 0;
        loop {
            let Some(permits) = slots.take().await else {
                return;
            };
            match accept_now(raw) {
                Ok(Some(stream)) => {
                    if failures > 0 {
                        log::warn!("accept works again after {failures} failed attempts");
                        failures = 0;
                    }
                    accepted += 1;
                    let held = (open.opened(), permits);
                    crate::proxy::spawn_connection(worker.clone(), frontend, bind, stream, held);
                }
                Ok(None) => break,
                Err(e) => {
                    if failures == 0 {
                        log::warn!("accept failed: {e}; backing off until it succeeds");
                    }
                    failures += 1;
                    glommio::timer::sleep(ACCEPT_ERROR_BACKOFF).await;
                    break;
                }
            }
        }
        empty = if accepted == 0 { empty + 1 } else { 0 };
        if empty >= EMPTY_WAKEUPS_BEFORE_NAP {
            empty = 0;
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// One non-blocking `accept4`: `Ok(None)` when the queue is empty.
fn accept_now(socket: RawFd) -> io::Result<Option<glommio::net::TcpStream>> {
    loop {
        // SAFETY: accept4 on a listening socket; no address wanted.
        let fd = unsafe {
            libc::accept4(
                socket,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: a connected socket the kernel just gave us.
            return Ok(Some(unsafe { glommio::net::TcpStream::from_raw_fd(fd) }));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) => return Ok(None),
            // The client gave up before we accepted, or a signal: try the next one.
            Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO) => continue,
            _ => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shard_share;

    #[test]
    fn each_shard_gets_its_share_rounded_up() {
        assert_eq!(shard_share(10, 1), 10);
        assert_eq!(shard_share(10, 2), 5);
        assert_eq!(shard_share(10, 3), 4);
        // Never 0: a shard with no slot would never accept.
        assert_eq!(shard_share(1, 4), 1);
        assert_eq!(shard_share(0, 2), 1);
    }
}
