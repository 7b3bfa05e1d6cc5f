//! Listening sockets: one SO_REUSEPORT socket per shard per `bind`, made with socket2 so we
//! choose the options (glommio's own `bind` always joins an existing SO_REUSEPORT group, which
//! would silently split traffic with another process), and the accept loop.
//!
//! Connection limits: `maxconn` in `global` (else derived from RLIMIT_NOFILE, as HAProxy does)
//! and per frontend. Each shard gets its share of a limit (rounded up), so no count is shared
//! between cores. A shard at its limit stops accepting: new clients wait in the kernel's accept
//! queue (never refused) until one of its connections ends. An accept error (EMFILE, ENFILE,
//! ENOBUFS) pauses the loop for [`ACCEPT_ERROR_BACKOFF`]: the shard keeps serving the
//! connections it has and retries, without spinning.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::time::Duration;

use glommio::sync::{Semaphore, StaticPermit};

/// Accept queue length per shard socket.
const BACKLOG: i32 = 4096;
/// Pause after an accept error (EMFILE, ENFILE, ENOBUFS) so the loop does not spin at 100%.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(20);

/// Fails if another process listens on `addr`: a plain bind without SO_REUSEPORT refuses an
/// address that has a listener, where a SO_REUSEPORT bind would join it.
pub fn probe(addr: SocketAddr) -> std::io::Result<()> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    Ok(())
}

/// A listening socket for one shard (SO_REUSEPORT: the kernel spreads connections over the
/// shards' sockets).
pub fn shard_socket(addr: SocketAddr) -> std::io::Result<glommio::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    // SAFETY: the fd is a bound, listening TCP socket that we own and hand over.
    Ok(unsafe { glommio::net::TcpListener::from_raw_fd(socket.into_raw_fd()) })
}

/// This shard's share of a connection limit of the whole process (`shards` shards).
pub fn shard_share(limit: u64, shards: usize) -> u64 {
    limit.div_ceil(shards.max(1) as u64).max(1)
}

/// The connection slots of one accept loop: the shard's global share and its frontend's.
#[derive(Clone)]
struct Slots {
    global: Rc<Semaphore>,
    frontend: Option<Rc<Semaphore>>,
}

impl Slots {
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

/// Opens this shard's socket for every `bind` of every frontend and starts its accept loop.
/// Dropping the returned tasks stops accepting and closes the sockets.
pub fn open_all(
    config: &crate::config::Config,
    worker: &std::rc::Rc<crate::proxy::Worker>,
    shards: usize,
) -> Result<Vec<glommio::Task<()>>, String> {
    let global_limit = config
        .global
        .maxconn
        .filter(|&n| n > 0)
        .map_or_else(crate::sys::default_maxconn, u64::from);
    let global = Rc::new(Semaphore::new(shard_share(global_limit, shards)));
    let mut tasks = Vec::new();
    let frontends: Vec<String> = worker
        .state
        .borrow()
        .frontends
        .iter()
        .map(|f| f.name.clone())
        .collect();
    for (index, name) in frontends.iter().enumerate() {
        let Some(proxy) = config.proxy_with_frontend(name) else {
            continue;
        };
        let slots = Slots {
            global: global.clone(),
            frontend: proxy
                .frontend
                .as_ref()
                .and_then(|f| f.maxconn)
                .filter(|&n| n > 0)
                .map(|n| Rc::new(Semaphore::new(shard_share(u64::from(n), shards)))),
        };
        for bind in proxy.frontend.iter().flat_map(|f| &f.binds) {
            let listener = shard_socket(bind.addr).map_err(|e| {
                format!(
                    "{}: cannot bind {} for frontend '{name}': {e}",
                    bind.location, bind.addr
                )
            })?;
            let task =
                glommio::spawn_local(accept_loop(worker.clone(), index, listener, slots.clone()));
            tasks.push(task);
        }
    }
    Ok(tasks)
}

/// Accepts connections and gives each its own task, once a connection slot is free. A paused
/// frontend (`disable frontend`) holds new connections unserved until it is enabled again, as
/// HAProxy does.
async fn accept_loop(
    worker: std::rc::Rc<crate::proxy::Worker>,
    frontend: usize,
    listener: glommio::net::TcpListener,
    slots: Slots,
) {
    let mut failures = 0u64;
    loop {
        let Some(permits) = slots.take().await else {
            return;
        };
        match listener.accept().await {
            Ok(stream) => {
                if failures > 0 {
                    log::warn!("accept works again after {failures} failed attempts");
                    failures = 0;
                }
                let worker = worker.clone();
                glommio::spawn_local(async move {
                    while !worker.state.borrow().frontends[frontend].enabled {
                        glommio::timer::sleep(Duration::from_millis(50)).await;
                    }
                    crate::proxy::serve_connection(worker, frontend, stream).await;
                    drop(permits);
                })
                .detach();
            }
            Err(e) => {
                // One line per streak of failures, not one per retry (50 a second on EMFILE).
                if failures == 0 {
                    log::warn!("accept failed: {e}; backing off until it succeeds");
                }
                failures += 1;
                glommio::timer::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
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
