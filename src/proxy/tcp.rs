//! TCP mode: one server pick per client connection, then a bidirectional copy with half-close
//! passed through (a client's FIN becomes a FIN to the server and the other way round).

use super::observe::Observed;
use super::record::TcpSession;
use super::upstream;
use super::worker::Worker;
use crate::state::ServerRef;
use crate::stats::trace::micros;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use futures_lite::{AsyncRead, AsyncWrite};
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

const COPY_BUFFER: usize = 16 * 1024;

/// Serves one client connection of a `mode tcp` frontend.
pub async fn serve(worker: Rc<Worker>, frontend: usize, client: TcpStream, peer: SocketAddr) {
    let accepted = Instant::now();
    let Some(backend) = worker.state.borrow().frontends[frontend].default_backend else {
        return;
    };
    let Some((server, upstream)) = connect_with_retries(&worker, backend, peer).await else {
        worker.with_backend_counters(backend, |c| c.econ += 1);
        let session = TcpSession {
            client: peer,
            accepted,
            server: None,
            connect_us: None,
            bytes_in: 0,
            bytes_out: 0,
            retries: 0,
        };
        worker.finish_tcp(frontend, &session);
        return;
    };
    let connect_us = micros(accepted, Instant::now());
    worker.with_server_counters(server, |c| c.session_started());
    worker.with_backend_counters(backend, |c| c.session_started());
    let (bytes_in, bytes_out) = copy_both_ways(client, upstream).await;
    worker.with_server_counters(server, |c| {
        c.session_ended();
        c.bin += bytes_in;
        c.bout += bytes_out;
    });
    worker.with_backend_counters(backend, |c| {
        c.session_ended();
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
    };
    worker.finish_tcp(frontend, &session);
}

/// Picks a server and connects, `retries` more times on failure (another server with
/// `option redispatch`). A connect failure is always safe to retry: nothing was sent. Each
/// outcome goes to passive health (`observe layer4`).
async fn connect_with_retries(
    worker: &Worker,
    backend: usize,
    peer: SocketAddr,
) -> Option<(ServerRef, TcpStream)> {
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
        worker.with_server_counters(server, |c| c.lbtot += 1);
        match upstream::connect(addr, timeout).await {
            Ok(stream) => {
                worker.observe(server, Observed::Success);
                return Some((server, stream));
            }
            Err(_) => {
                worker.observe(server, Observed::ConnectFailed);
                worker.with_server_counters(server, |c| c.econ += 1);
                if attempt == retries {
                    break;
                }
                // HAProxy counts a retry that goes to another server as a redispatch.
                if redispatch {
                    avoid = Some(id);
                    worker.with_server_counters(server, |c| c.wredis += 1);
                    worker.with_backend_counters(backend, |c| c.wredis += 1);
                } else {
                    worker.with_server_counters(server, |c| c.wretr += 1);
                    worker.with_backend_counters(backend, |c| c.wretr += 1);
                }
            }
        }
    }
    None
}

/// Copies client ─▶ server and server ─▶ client until both sides closed; returns the bytes
/// received from the client and sent to it.
async fn copy_both_ways(client: TcpStream, server: TcpStream) -> (u64, u64) {
    let (client_read, client_write) = futures_lite::io::split(client);
    let (server_read, server_write) = futures_lite::io::split(server);
    futures_lite::future::zip(
        copy_half(client_read, server_write),
        copy_half(server_read, client_write),
    )
    .await
}

/// Copies until EOF or an error, then shuts down the writing side (passing the half-close on).
async fn copy_half(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin) -> u64 {
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
                total += n as u64;
            }
        }
    }
    let _ = to.close().await;
    total
}
