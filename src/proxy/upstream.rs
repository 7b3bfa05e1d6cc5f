//! Getting a connection to a server: from the shard's idle pool, or a fresh connect bounded by
//! `timeout connect` (with a TLS server, the TCP connect and then the handshake, each within
//! it: HAProxy's connection is established once the handshake is done).

use super::proxy_protocol;
use super::server_stream::ServerStream;
use super::worker::Worker;
use crate::config::ProxyVersion;
use crate::state::ServerRef;
use crate::tls::upstream::Connector;
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A connection to a server, and whether it came from the pool (a pooled connection may have
/// been closed by the server meanwhile: a failure on it before any response byte is retried on
/// a fresh connection, never reported).
pub struct Upstream {
    pub stream: ServerStream,
    pub reused: bool,
}

/// How a new connection to a TLS server starts: its client side, the server name sent,
/// and the PROXY header that goes before the handshake (`send-proxy` precedes TLS).
pub struct TlsTarget {
    pub connector: Arc<Connector>,
    pub sni: Option<String>,
    pub proxy_header: Vec<u8>,
}

/// The client side of `server` if it is a TLS server (`server … ssl`).
pub fn connector(worker: &Worker, server: ServerRef) -> Option<Arc<Connector>> {
    let tls = &worker.backends[server.backend].tls;
    if tls.is_empty() {
        return None;
    }
    let state = worker.state.borrow();
    tls.get(&state.server(server)?.name)?.traffic.clone()
}

/// The client side of `server`'s health checks if they speak TLS (`check-ssl`, `ssl`).
pub fn check_connector(worker: &Worker, server: ServerRef) -> Option<Arc<Connector>> {
    let tls = &worker.backends[server.backend].tls;
    if tls.is_empty() {
        return None;
    }
    let state = worker.state.borrow();
    tls.get(&state.server(server)?.name)?.check.clone()
}

/// Connects to `addr` within `timeout` over TCP.
pub async fn connect_tcp(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(addr, timeout)
        .await
        .map_err(std::io::Error::from)?;
    // Heads and small bodies go out in one write each: do not let Nagle hold them back.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Connects to `addr` within `timeout`, and with `tls`, sends its PROXY header and makes
/// the handshake, each within `timeout` too. A failed handshake (a certificate that does
/// not verify, no common version) is a failed connect.
pub async fn connect(
    addr: SocketAddr,
    timeout: Duration,
    tls: Option<&TlsTarget>,
) -> std::io::Result<ServerStream> {
    let mut tcp = connect_tcp(addr, timeout).await?;
    let Some(tls) = tls else {
        return Ok(ServerStream::Plain(tcp));
    };
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    if !tls.proxy_header.is_empty() {
        futures_lite::io::AsyncWriteExt::write_all(&mut tcp, &tls.proxy_header).await?;
    }
    let sni = tls.sni.as_deref();
    let stream = crate::tls::upstream::handshake(&tls.connector, tcp, addr, sni).await?;
    Ok(ServerStream::Tls(Box::new(stream), tls.sni.clone()))
}

/// A pooled connection if one is idle (to a TLS server: one made with the same server
/// name), else a fresh one.
pub async fn acquire(
    worker: &Worker,
    server: ServerRef,
    addr: SocketAddr,
    timeout: Duration,
    tls: Option<&TlsTarget>,
) -> std::io::Result<Upstream> {
    let sni = tls.and_then(|t| t.sni.as_deref());
    let pooled = worker.pool.borrow_mut().take(server, addr, sni);
    if let Some(stream) = pooled {
        worker.with_server_counters(server, |c| c.reuse += 1);
        return Ok(Upstream {
            stream,
            reused: true,
        });
    }
    let stream = connect(addr, timeout, tls).await?;
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
