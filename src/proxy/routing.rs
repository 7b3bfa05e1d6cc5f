//! The backend of a request: the frontend's `use_backend` rules, evaluated over the parsed
//! head in the client's buffer (nothing copied), then `default_backend`. The address the
//! client connected to is read from the socket only when a rule asks for it (`dst`), and
//! the shard's server states and counters only when a rule reads them (`nbsrv`, `be_conn`).

use super::client_stream::ClientStream;
use super::worker::Worker;
use crate::http::Request;
use crate::rules::{Maps, ProxyFacts, RequestView, TlsFacts};
use crate::state::{AdminState, OpState, State};
use crate::stats::StatsSnapshot;
use std::cell::RefCell;
use std::net::SocketAddr;

/// One request as the rules see it.
pub(super) struct HeadView<'a> {
    pub request: &'a Request,
    pub buf: &'a [u8],
    pub peer: SocketAddr,
    pub stream: &'a ClientStream,
    pub maps: &'a Maps,
    pub facts: ShardFacts<'a>,
}

/// What the proxy fetches read on this shard: its replica of the server states, and its own
/// counters (borrowed only when `be_conn` asks).
pub(super) struct ShardFacts<'a> {
    pub state: &'a State,
    pub counters: &'a RefCell<StatsSnapshot>,
}

impl<'a> ShardFacts<'a> {
    pub fn new(worker: &'a Worker, state: &'a State) -> ShardFacts<'a> {
        ShardFacts {
            state,
            counters: &worker.counters,
        }
    }
}

impl ProxyFacts for ShardFacts<'_> {
    fn usable_servers(&self, backend: &str) -> Option<usize> {
        let index = self.state.backend_index(backend)?;
        Some(self.state.backends[index].eligible().count())
    }

    fn server_is_up(&self, backend: &str, server: &str) -> Option<bool> {
        let index = self.state.backend_index(backend)?;
        let server = self.state.backends[index].server_by_name(server)?;
        Some(server.admin != AdminState::Maint && server.op != OpState::Down)
    }

    fn backend_connections(&self, backend: &str) -> Option<u64> {
        let index = self.state.backend_index(backend)?;
        let counters = self.counters.try_borrow().ok()?;
        Some(counters.backends.get(index)?.scur)
    }
}

impl RequestView for HeadView<'_> {
    fn method(&self) -> &[u8] {
        self.request.method_token(self.buf)
    }

    fn target(&self) -> &[u8] {
        self.request.target(self.buf)
    }

    fn version(&self) -> &'static [u8] {
        if self.request.minor_version() == 0 {
            b"1.0"
        } else {
            b"1.1"
        }
    }

    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.request.headers(self.buf)
    }

    fn src(&self) -> SocketAddr {
        self.peer
    }

    fn dst(&self) -> Option<SocketAddr> {
        self.stream.local_addr().ok()
    }

    fn maps(&self) -> &Maps {
        self.maps
    }

    fn tls(&self) -> Option<TlsFacts<'_>> {
        self.stream.tls().map(crate::tls::facts)
    }

    fn proxy(&self) -> Option<&dyn ProxyFacts> {
        Some(&self.facts)
    }
}

/// The backend index `request` goes to on `frontend`, if any.
pub(super) fn choose_backend(
    worker: &Worker,
    frontend: usize,
    request: &Request,
    buf: &[u8],
    (peer, stream): (SocketAddr, &ClientStream),
) -> Option<usize> {
    let switching = &worker.frontends[frontend].switching;
    let state = worker.state.borrow();
    if !switching.is_empty() {
        let view = HeadView {
            request,
            buf,
            peer,
            stream,
            maps: &state.maps,
            facts: ShardFacts::new(worker, &state),
        };
        if let Some(backend) = switching.choose(&view, |name| backend_named(&state, name)) {
            return Some(backend);
        }
    }
    state.frontends[frontend].default_backend
}

/// The backend a `use_backend %[…]` computed: an http backend of that name.
fn backend_named(state: &State, name: &[u8]) -> Option<usize> {
    let name = std::str::from_utf8(name).ok()?;
    state.backend_index(name)
}
