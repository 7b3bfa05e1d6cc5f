//! Server `maxconn` and the backend queue, per shard.
//!
//! A server with `maxconn N` takes at most N requests at once on this shard (per shard, like
//! the rest of the shard's counters: with S shards a server may see up to S × N; the docs say
//! so). When the balancer's choice is full, the request goes to the least loaded eligible server
//! that still has room; when every eligible server is full, it waits in the backend's queue
//! until a request on that backend ends (or at most [`RECHECK`], so that a state change such as
//! `enable server` or `set maxconn` is seen too), then picks again. After `timeout queue` it
//! gets 503, as in HAProxy.
//!
//! Waiting costs nothing on the normal path: the queue is only touched when a server is full,
//! and a finished request wakes one waiter (`slot_freed`).

use super::worker::Worker;
use crate::state::Server;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A queued request looks again at least this often, whether or not it was woken.
const RECHECK: Duration = Duration::from_millis(100);

/// The requests of one backend waiting for a server slot on this shard, oldest first.
#[derive(Default)]
pub struct Queue {
    waiting: RefCell<VecDeque<Rc<Waiter>>>,
}

#[derive(Default)]
struct Waiter {
    woken: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Queue {
    /// A request on this backend ended: wake the oldest waiter that is still waiting.
    pub fn slot_freed(&self) {
        loop {
            let Some(waiter) = self.waiting.borrow_mut().pop_front() else {
                return;
            };
            // Only the queue holds a waiter whose request gave up (timed out, client gone).
            if Rc::strong_count(&waiter) == 1 {
                continue;
            }
            waiter.woken.set(true);
            if let Some(waker) = waiter.waker.take() {
                waker.wake();
            }
            return;
        }
    }

    /// Number of requests waiting (including ones that gave up and were not swept yet).
    pub fn len(&self) -> usize {
        self.waiting.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until woken or `max` elapsed.
    async fn wait(&self, max: Duration) {
        let waiter = Rc::new(Waiter::default());
        self.waiting.borrow_mut().push_back(waiter.clone());
        let woken = Woken(waiter);
        futures_lite::future::or(woken, glommio::timer::sleep(max)).await;
    }
}

/// Resolves once its waiter was woken.
struct Woken(Rc<Waiter>);

impl Future for Woken {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.woken.get() {
            return Poll::Ready(());
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// What one look at the backend found.
enum Look {
    Server(u32, SocketAddr),
    NoServer,
    AllFull,
}

/// Picks a server of `backend` with room under its `maxconn`, queueing up to `timeout` when
/// every eligible server is full. `None`: no server is usable, or the queue timed out (503).
///
/// The caller must count the request on the server before its next await (as
/// `begin_on_server` does), so that two requests cannot both take the last slot.
pub async fn pick(
    worker: &Worker,
    backend: usize,
    client: IpAddr,
    avoid: Option<u32>,
    timeout: Duration,
) -> Option<(u32, SocketAddr)> {
    let deadline = Instant::now() + timeout;
    let mut in_queue: Option<InQueue> = None;
    loop {
        match look(worker, backend, client, avoid) {
            Look::Server(id, addr) => return Some((id, addr)),
            Look::NoServer => return None,
            Look::AllFull => {}
        }
        in_queue.get_or_insert_with(|| InQueue::join(worker, backend));
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            log::debug!("backend {backend}: queue timeout, every server is at its maxconn");
            return None;
        }
        worker.queue(backend)?.wait(left.min(RECHECK)).await;
    }
}

/// One request counted in its backend's `qcur` while it waits, however the wait ends.
struct InQueue<'a> {
    worker: &'a Worker,
    backend: usize,
}

impl<'a> InQueue<'a> {
    fn join(worker: &'a Worker, backend: usize) -> Self {
        worker.with_backend_counters(backend, |c| c.queued());
        InQueue { worker, backend }
    }
}

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.worker
            .with_backend_counters(self.backend, |c| c.dequeued());
    }
}

/// The balancer's choice if it has room, else the least loaded eligible server with room.
fn look(worker: &Worker, backend: usize, client: IpAddr, avoid: Option<u32>) -> Look {
    let Some((id, addr)) = worker.pick(backend, client, avoid) else {
        return Look::NoServer;
    };
    let state = worker.state.borrow();
    let Some(servers) = state.backends.get(backend).map(|b| b.eligible()) else {
        return Look::NoServer;
    };
    let inflight = |server: &Server| worker.server_inflight(backend, server.id);
    let picked_has_room = state
        .backends
        .get(backend)
        .and_then(|b| b.servers.iter().find(|s| s.id == id))
        .is_none_or(|s| has_room(inflight(s), s.maxconn));
    if picked_has_room {
        return Look::Server(id, addr);
    }
    let roomiest = servers
        .map(|(_, s)| s)
        .filter(|s| Some(s.id) != avoid && has_room(inflight(s), s.maxconn))
        .min_by_key(|s| load_per_mille(inflight(s), s.maxconn));
    match roomiest {
        Some(server) => Look::Server(server.id, server.addr),
        None => Look::AllFull,
    }
}

/// `maxconn 0` or none means no limit, as in HAProxy.
fn has_room(inflight: u64, maxconn: Option<u32>) -> bool {
    maxconn.is_none_or(|max| max == 0 || inflight < u64::from(max))
}

/// How full a server is, in thousandths of its `maxconn`; a server without a limit counts its
/// in-flight requests, which is enough to order it among the others.
fn load_per_mille(inflight: u64, maxconn: Option<u32>) -> u64 {
    match maxconn {
        Some(max) if max > 0 => inflight * 1000 / u64::from(max),
        _ => inflight,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_follows_haproxy_rules() {
        assert!(has_room(5, None));
        assert!(has_room(5, Some(0)));
        assert!(has_room(1, Some(2)));
        assert!(!has_room(2, Some(2)));
    }

    #[test]
    fn load_prefers_the_emptier_server() {
        assert!(load_per_mille(1, Some(10)) < load_per_mille(1, Some(2)));
        assert_eq!(load_per_mille(3, None), 3);
    }

    #[test]
    fn slot_freed_skips_waiters_that_gave_up() {
        let queue = Queue::default();
        let gone = Rc::new(Waiter::default());
        let waiting = Rc::new(Waiter::default());
        queue.waiting.borrow_mut().push_back(gone.clone());
        queue.waiting.borrow_mut().push_back(waiting.clone());
        drop(gone);
        queue.slot_freed();
        assert!(waiting.woken.get());
        assert!(queue.is_empty());
    }
}
