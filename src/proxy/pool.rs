//! Per-shard pool of idle keep-alive connections to servers, so a request takes an open
//! connection instead of paying a connect (essential for `Connection: close` clients).
//!
//! Keyed by server (backend index, server id) and address: a `set server … addr` or a server
//! going into maintenance drops its idle connections.

use crate::state::ServerRef;
use glommio::net::TcpStream;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// At most this many idle connections are kept per server per shard.
const MAX_IDLE_PER_SERVER: usize = 64;
/// An idle connection older than this is not reused (servers commonly close after 60-75 s).
const MAX_IDLE_AGE: Duration = Duration::from_secs(20);

struct Idle {
    stream: TcpStream,
    addr: SocketAddr,
    since: Instant,
}

#[derive(Default)]
pub struct Pool {
    idle: HashMap<ServerRef, Vec<Idle>>,
}

impl Pool {
    /// The most recently used idle connection to this server at this address, if any.
    pub fn take(&mut self, server: ServerRef, addr: SocketAddr) -> Option<TcpStream> {
        let list = self.idle.get_mut(&server)?;
        while let Some(idle) = list.pop() {
            if idle.addr == addr && idle.since.elapsed() < MAX_IDLE_AGE {
                return Some(idle.stream);
            }
        }
        None
    }

    /// Keeps a connection whose last response completed cleanly.
    pub fn put(&mut self, server: ServerRef, addr: SocketAddr, stream: TcpStream) {
        let list = self.idle.entry(server).or_default();
        if list.len() >= MAX_IDLE_PER_SERVER {
            list.remove(0);
        }
        list.push(Idle {
            stream,
            addr,
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
