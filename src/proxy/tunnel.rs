//! Tunnels: what an HTTP exchange becomes once its server answered an upgrade request
//! (`Connection: upgrade` + `Upgrade: websocket`, `h2c`, any token) with 101. From then on
//! the client and server connections carry another protocol, relayed byte for byte in both
//! directions with half-close passed on, until both sides closed. The connection has left the
//! HTTP keep-alive loop and its server connection is never pooled.
//!
//! Timeouts, as HAProxy 2.6 has them: `timeout tunnel` replaces `timeout client` and
//! `timeout server` once the exchange is a tunnel, and ends a tunnel inactive in both
//! directions for that long (bytes flowing one way keep it open). Without it, the smaller of
//! `timeout client` and `timeout server` plays that part.
//!
//! A tunnel holds its place on its server (`scur`, the server's `maxconn`) while it lasts, as
//! HAProxy counts it. `disable`/`drain`/weight changes of any server never touch an established
//! tunnel; `shutdown sessions server B/S` ends the tunnels to that server: the coordinator shuts
//! down every socket connected to its address, which ends both directions at once.

use super::buffers::BufferPool;
use super::client_stream::ClientStream;
use super::record::Side;
use super::server_stream::ServerStream;
use super::tcp::Direction;
use super::worker::Worker;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

/// Bytes a side sent before the tunnel started that are already in a proxy buffer: the
/// server's first bytes read with its 101 head, the client's first bytes read with (or
/// after) its upgrade request.
pub(super) struct EarlyBytes<'b> {
    pub from_client: &'b [u8],
    pub from_server: &'b [u8],
}

/// How a tunnel ended and what it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Relayed {
    pub from_client: u64,
    pub to_client: u64,
    /// Both directions stayed silent for the tunnel's timeout.
    pub timed_out: bool,
}

/// The timeout of a tunnel between a client of `frontend` and a server of `backend` (see the
/// module's opening).
pub(super) fn idle_timeout(worker: &Worker, frontend: usize, backend: usize) -> Duration {
    let settings = &worker.backends[backend];
    settings.tunnel_timeout.unwrap_or_else(|| {
        worker.frontends[frontend]
            .client_timeout
            .min(settings.server_timeout)
    })
}

/// Relays `client` ⇄ `upstream` (after sending each side what the other sent early) until
/// both directions closed, or the tunnel was idle for `idle`.
pub(super) async fn relay(
    worker: &Worker,
    (client, upstream): (&mut ClientStream, &mut ServerStream),
    early: EarlyBytes<'_>,
    (idle, buffer_len): (Duration, usize),
) -> Relayed {
    let _ = client.set_read_timeout(None);
    let _ = upstream.set_read_timeout(None);
    // A side that does not read what it is sent holds its direction until the timeout.
    let _ = client.set_write_timeout(Some(idle));
    let _ = upstream.set_write_timeout(Some(idle));
    let mut relayed = Relayed {
        from_client: early.from_client.len() as u64,
        to_client: early.from_server.len() as u64,
        timed_out: false,
    };
    if !early.from_server.is_empty() && client.write_all(early.from_server).await.is_err() {
        return relayed;
    }
    if !early.from_client.is_empty() && upstream.write_all(early.from_client).await.is_err() {
        return relayed;
    }
    let copied = copy_until_idle(client, upstream, &worker.buffers, (idle, buffer_len)).await;
    relayed.from_client += copied.from_client;
    relayed.to_client += copied.to_client;
    relayed.timed_out = copied.timed_out;
    relayed
}

/// Copies both ways at once (one future polls both directions, as `mode tcp` does) until both
/// ended, or until no byte moved either way for `idle`.
async fn copy_until_idle(
    client: &mut ClientStream,
    upstream: &mut ServerStream,
    buffers: &Rc<BufferPool>,
    (idle, buffer_len): (Duration, usize),
) -> Relayed {
    let mut upward = Direction::new(buffers.released(buffer_len), Side::Client, Side::Server);
    let mut downward = Direction::new(buffers.released(buffer_len), Side::Server, Side::Client);
    let mut write_timeout = None;
    let mut timer = glommio::timer::Timer::new(idle);
    let mut moved = 0u64;
    futures_lite::future::poll_fn(|cx| {
        let up = upward.poll_copy(cx, client, upstream, &mut write_timeout);
        let down = downward.poll_copy(cx, upstream, client, &mut write_timeout);
        let mut relayed = Relayed {
            from_client: upward.total,
            to_client: downward.total,
            timed_out: false,
        };
        if up.is_ready() && down.is_ready() {
            return Poll::Ready(relayed);
        }
        if relayed.from_client + relayed.to_client != moved {
            moved = relayed.from_client + relayed.to_client;
            timer.reset(idle);
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            relayed.timed_out = true;
            return Poll::Ready(relayed);
        }
        Poll::Pending
    })
    .await
}
