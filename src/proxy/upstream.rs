//! Getting a connection to a server: from the shard's idle pool, or a fresh connect bounded by
//! `timeout connect`.

use super::proxy_protocol;
use super::worker::Worker;
use crate::config::ProxyVersion;
use crate::state::ServerRef;
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::time::Duration;

/// A connection to a server, and whether it came from the pool (a pooled connection may have
/// been closed by the server meanwhile: a failure on it before any response byte is retried on
/// a fresh connection, never reported).
pub struct Upstream {
    pub stream: TcpStream,
    pub reused: bool,
}

/// Connects to `addr` within `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(addr, timeout)
        .await
        .map_err(std::io::Error::from)?;
    // Heads and small bodies go out in one write each: do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// A pooled connection if one is idle, else a fresh one.
pub async fn acquire(
    worker: &Worker,
    server: ServerRef,
    addr: SocketAddr,
    timeout: Duration,
) -> std::io::Result<Upstream> {
    let pooled = worker.pool.borrow_mut().take(server, addr);
    if let Some(stream) = pooled {
        worker.with_server_counters(server, |c| c.reuse += 1);
        return Ok(Upstream {
            stream,
            reused: true,
        });
    }
    let stream = connect(addr, timeout).await?;
    worker.with_server_counters(server, |c| c.connect += 1);
    Ok(Upstream {
        stream,
        reused: false,
    })
}

/// `send-proxy[-v2]` of `server`, if it has it: each new connection to it starts with a PROXY
/// header, and (the header naming one client) is never pooled for another.
pub fn sends_proxy(worker: &Worker, server: ServerRef) -> Option<ProxyVersion> {
    worker
        .state
        .borrow()
        .server(server)
        .and_then(|s| s.send_proxy)
}

/// Appends the PROXY header of `version` for a client at `client` that reached us at `local`
/// (unknown local address: the header says `UNKNOWN` in v1, as HAProxy writes it, and the
/// unspecified address in v2).
pub fn push_proxy_header(
    version: ProxyVersion,
    client: SocketAddr,
    local: Option<SocketAddr>,
    out: &mut Vec<u8>,
) {
    let unspecified = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0);
    match (version, local) {
        (ProxyVersion::V1, None) => out.extend_from_slice(b"PROXY UNKNOWN\r\n"),
        (ProxyVersion::V1, Some(local)) => proxy_protocol::encode_v1(client, local, out),
        (ProxyVersion::V2, local) => {
            proxy_protocol::encode_v2(client, local.unwrap_or(unspecified), out)
        }
    }
}
