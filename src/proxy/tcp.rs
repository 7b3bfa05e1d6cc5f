//! TCP mode: one server pick per client connection, then a bidirectional copy with half-close
//! passed through (a client's FIN becomes a FIN to the server and the other way round). The
//! copy holds a buffer from the shard's pool only while bytes are in transit, so an idle
//! session costs no buffer.

use super::buffers::{buffer_len, Buffer, BufferPool, Source};
use super::client_stream::ClientStream;
use super::observe::Observed;
use super::record::{Side, TcpSession};
use super::server_stream::ServerStream;
use super::upstream;
use super::worker::Worker;
use crate::state::ServerRef;
use crate::stats::trace::micros;
use futures_lite::{ready, AsyncWrite};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Serves one client connection of a `mode tcp` frontend.
pub async fn serve(worker: Rc<Worker>, frontend: usize, client: ClientStream, peer: SocketAddr) {
    let accepted = Instant::now();
    let Some(backend) = worker.state.borrow().frontends[frontend].default_backend else {
        return;
    };
    let Some((server, mut upstream)) = connect_with_retries(&worker, backend, peer).await else {
        worker.with_backend_counters(backend, |c| c.econ += 1);
        let session = TcpSession {
            client: peer,
            accepted,
            server: None,
            connect_us: None,
            bytes_in: 0,
            bytes_out: 0,
            retries: 0,
            timed_out: None,
        };
        worker.finish_tcp(frontend, &session);
        return;
    };
    let connect_us = micros(accepted, Instant::now());
    if let (Some(version), ServerStream::Plain(tcp)) =
        (upstream::sends_proxy(&worker, server), &mut upstream)
    {
        let mut header = Vec::new();
        upstream::push_proxy_header(version, peer, client.local_addr().ok(), &mut header);
        let _ = futures_lite::io::AsyncWriteExt::write_all(tcp, &header).await;
    }
    worker.count_session_started(server, false);
    set_inactivity_timeouts(&worker, frontend, backend, &client, &upstream);
    let len = buffer_len(&worker.frontends[frontend].limits);
    let copied = copy_both_ways(client, upstream, &worker.buffers, len).await;
    let (bytes_in, bytes_out) = (copied.from_client, copied.to_client);
    worker.count_session_ended(server);
    worker.count_on_server_and_backend(server, |c| {
        c.bin += bytes_in;
        c.bout += bytes_out;
    });
    let session = TcpSession {
        client: peer,
        accepted,
        server: Some(server),
        connect_us: Some(connect_us),
        bytes_in,
        bytes_out,
        retries: 0,
        timed_out: copied.first_timeout,
    };
    worker.finish_tcp(frontend, &session);
}

/// `timeout client` on the client side and `timeout server` on the server side (`timeout
/// tunnel` on both when set), for reads and writes. As in HAProxy (a channel's read timeout shuts that side for reading), a side
/// that sends nothing for its timeout ends its direction like an EOF: the half-close passes
/// on, and the session ends when the other direction ends too.
fn set_inactivity_timeouts(
    worker: &Worker,
    frontend: usize,
    backend: usize,
    client: &ClientStream,
    server: &ServerStream,
) {
    // `timeout tunnel` supersedes both once the session is relayed, as in HAProxy's TCP mode.
    let tunnel = worker.backends[backend].tunnel_timeout;
    let client_timeout = tunnel.unwrap_or(worker.frontends[frontend].client_timeout);
    let server_timeout = tunnel.unwrap_or(worker.backends[backend].server_timeout);
    let _ = client.set_read_timeout(Some(client_timeout));
    let _ = client.set_write_timeout(Some(client_timeout));
    let _ = server.set_read_timeout(Some(server_timeout));
    let _ = server.set_write_timeout(Some(server_timeout));
}

/// Picks a server and connects, `retries` more times on failure (another server with
/// `option redispatch`). A connect failure is always safe to retry: nothing was sent. Each
/// outcome goes to passive health (`observe layer4`).
async fn connect_with_retries(
    worker: &Worker,
    backend: usize,
    peer: SocketAddr,
) -> Option<(ServerRef, ServerStream)> {
    let retries = worker.state.borrow().backends[backend].retries;
    let redispatch = worker.state.borrow().backends[backend].redispatch;
    let timeout = worker.backends[backend].connect_timeout;
    let mut avoid = None;
    for attempt in 0..=retries {
        let (id, addr) = worker.pick(backend, peer.ip(), avoid)?;
        let server = ServerRef {
            backend,
            server: id,
        };
        worker.count_on_server_and_backend(server, |c| c.lbtot += 1);
        let tls = tls_target(worker, server, peer);
        match upstream::connect(addr, timeout, tls.as_ref()).await {
            Ok(stream) => {
                worker.observe(server, Observed::Success);
                return Some((server, stream));
            }
            Err(_) => {
                worker.observe(server, Observed::ConnectFailed);
                if attempt == retries {
                    // As HAProxy counts it: `econ` for the attempt that gives up (the backend's
                    // is counted by the caller); a retried one is a retry or a redispatch.
                    worker.with_server_counters(server, |c| c.econ += 1);
                    break;
                }
                // HAProxy counts a retry that goes to another server as a redispatch.
                if redispatch {
                    avoid = Some(id);
                    worker.count_redispatch(server);
                } else {
                    worker.count_retry(server);
                }
            }
        }
    }
    None
}

/// How a session to a TLS server starts: no SNI (a TCP session has no request to take a
/// name from, unless `sni` names a constant) and its PROXY header before the handshake.
fn tls_target(worker: &Worker, server: ServerRef, peer: SocketAddr) -> Option<upstream::TlsTarget> {
    let connector = upstream::connector(worker, server)?;
    let mut proxy_header = Vec::new();
    if let Some(version) = upstream::sends_proxy(worker, server) {
        upstream::push_proxy_header(version, peer, None, &mut proxy_header);
    }
    Some(upstream::TlsTarget {
        connector,
        sni: None,
        proxy_header,
    })
}

/// Copies client ─▶ server and server ─▶ client until both sides closed; returns the bytes
/// received from the client and sent to it, and which side's timeout struck first. One future polls both directions over both
/// streams (no split halves, so no lock between them), and each direction holds a buffer from
/// the shard's pool only while bytes are in transit: an idle session holds none (it waits
/// with glommio's `poll_received`, patch 8), as an idle HTTP keep-alive connection does.
async fn copy_both_ways(
    mut client: ClientStream,
    mut server: ServerStream,
    buffers: &Rc<BufferPool>,
    buffer_len: usize,
) -> Copied {
    let mut upward = Direction::new(buffers.released(buffer_len), Side::Client, Side::Server);
    let mut downward = Direction::new(buffers.released(buffer_len), Side::Server, Side::Client);
    let mut first_timeout = None;
    futures_lite::future::poll_fn(|cx| {
        let up = upward.poll_copy(cx, &mut client, &mut server, &mut first_timeout);
        let down = downward.poll_copy(cx, &mut server, &mut client, &mut first_timeout);
        if up.is_ready() && down.is_ready() {
            Poll::Ready(Copied {
                from_client: upward.total,
                to_client: downward.total,
                first_timeout,
            })
        } else {
            Poll::Pending
        }
    })
    .await
}

/// What a relay did.
struct Copied {
    from_client: u64,
    to_client: u64,
    /// The side whose `timeout client` / `timeout server` ended the first direction, if a
    /// timeout did: the log's termination state (`cD`, `sD`), as HAProxy reports the first
    /// event.
    first_timeout: Option<Side>,
}

/// Where one direction of a relay is.
enum Stage {
    /// Waiting for bytes (holding no buffer while none came).
    Reading,
    /// Writing `buffer[written..filled]` to the other side.
    Writing {
        written: usize,
    },
    /// Sending what the other side's stream still holds of them (TLS encrypts into a buffer
    /// of its own; plain TCP holds nothing).
    Flushing,
    /// The reading side ended (EOF or error): pass the half-close on.
    Closing,
    Done,
}

/// One direction of a relay: bytes read from one stream, written to the other (the tunnels
/// of upgraded HTTP exchanges use it too).
pub(super) struct Direction {
    buffer: Buffer,
    stage: Stage,
    pub(super) total: u64,
    /// Which side each stream is, to name a timeout.
    from: Side,
    to: Side,
}

impl Direction {
    pub(super) fn new(buffer: Buffer, from: Side, to: Side) -> Direction {
        Direction {
            buffer,
            stage: Stage::Reading,
            total: 0,
            from,
            to,
        }
    }

    /// Copies until `from` ends, then shuts down `to`'s writing side; `Ready` once done. A
    /// read or write that timed out names its side in `first_timeout`, unless one already did.
    pub(super) fn poll_copy<F: Source, T: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        from: &mut F,
        to: &mut T,
        first_timeout: &mut Option<Side>,
    ) -> Poll<()> {
        loop {
            match self.stage {
                Stage::Done => return Poll::Ready(()),
                Stage::Reading => match ready!(self.poll_read(cx, from)) {
                    Ok(Some(_)) => self.stage = Stage::Writing { written: 0 },
                    Ok(None) => self.stage = Stage::Closing,
                    Err(e) => {
                        if e.kind() == std::io::ErrorKind::TimedOut {
                            first_timeout.get_or_insert(self.from);
                        }
                        self.stage = Stage::Closing;
                    }
                },
                Stage::Writing { written } => {
                    let data = &self.buffer.data()[written..];
                    match ready!(Pin::new(&mut *to).poll_write(cx, data)) {
                        Ok(n) if n > 0 && n < data.len() => {
                            self.stage = Stage::Writing {
                                written: written + n,
                            }
                        }
                        Ok(n) if n > 0 => {
                            self.total += self.buffer.filled as u64;
                            self.buffer.filled = 0;
                            self.buffer.release_while_empty();
                            self.stage = Stage::Flushing;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            first_timeout.get_or_insert(self.to);
                            self.stage = Stage::Closing;
                        }
                        // The other side is gone: stop reading this one too.
                        _ => self.stage = Stage::Closing,
                    }
                }
                Stage::Flushing => match ready!(Pin::new(&mut *to).poll_flush(cx)) {
                    Ok(()) => self.stage = Stage::Reading,
                    Err(e) => {
                        if e.kind() == std::io::ErrorKind::TimedOut {
                            first_timeout.get_or_insert(self.to);
                        }
                        self.stage = Stage::Closing;
                    }
                },
                Stage::Closing => {
                    let _ = ready!(Pin::new(&mut *to).poll_close(cx));
                    self.buffer.filled = 0;
                    self.buffer.release_while_empty();
                    self.stage = Stage::Done;
                }
            }
        }
    }

    /// Reads the next bytes into the buffer, taking it from the pool only once bytes are
    /// there; `None` at EOF.
    fn poll_read<F: Source>(
        &mut self,
        cx: &mut Context<'_>,
        from: &mut F,
    ) -> Poll<std::io::Result<Option<usize>>> {
        if self.buffer.is_released() {
            ready!(from.poll_received(cx, self.buffer.size()))?;
        }
        let n = ready!(Pin::new(&mut *from).poll_read(cx, self.buffer.spare()))?;
        self.buffer.filled = n;
        Poll::Ready(Ok((n > 0).then_some(n)))
    }
}
