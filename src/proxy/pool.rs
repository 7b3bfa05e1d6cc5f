//! Per-shard pool of idle keep-alive connections to servers, so a request takes an open
//! connection instead of paying a connect (essential for `Connection: close` clients).
//!
//! Keyed by server (backend index, server id) and address: a `set server … addr` or a server
//! going into maintenance drops its idle connections. A TLS connection also carries the
//! server name it was made with (`sni EXPR`): it serves only requests that send the same,
//! as HAProxy keys its idle connections by SNI.

use super::server_stream::ServerStream;
use crate::state::ServerRef;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// At most this many idle connections are kept per server per shard.
const MAX_IDLE_PER_SERVER: usize = 64;
/// An idle connection older than this is not reused (servers commonly close after 60-75 s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(20);

struct Idle {
    stream: ServerStream,
    addr: SocketAddr,
    sni: Option<String>,
    since: Instant,
}

#[derive(Default)]
pub struct Pool {
    idle: HashMap<ServerRef, Vec<Idle>>,
}

impl Pool {
    /// The most recently used idle connection to this server at this address (made with
    /// server name `sni`), if any. Stale ones met on the way are closed.
    pub fn take(
        &mut self,
        server: ServerRef,
        addr: SocketAddr,
        sni: Option<&str>,
    ) -> Option<ServerStream> {
        let list = self.idle.get_mut(&server)?;
        list.retain(|idle| idle.addr == addr && idle.since.elapsed() < MAX_IDLE_AGE);
        let at = list.iter().rposition(|idle| idle.sni.as_deref() == sni)?;
        Some(list.remove(at).stream)
    }

    /// Keeps a connection whose last response completed cleanly.
    pub fn put(&mut self, server: ServerRef, addr: SocketAddr, stream: ServerStream) {
        let sni = stream.sni().map(str::to_string);
        let list = self.idle.entry(server).or_default();
        if list.len() >= MAX_IDLE_PER_SERVER {
            list.remove(0);
        }
        list.push(Idle {
            stream,
            addr,
            sni,
            since: Instant::now(),
        });
    }

    /// Closes every idle connection to this server (maintenance, deletion, new address).
    pub fn drop_server(&mut self, server: ServerRef) {
        self.idle.remove(&server);
    }

    /// Idle connections per server, for `show servers conn` and `show stat`.
    pub fn idle_count(&self, server: ServerRef) -> usize {
        self.idle.get(&server).map_or(0, Vec::len)
    }
}
