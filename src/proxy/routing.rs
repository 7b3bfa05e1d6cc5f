//! The backend of a request: the frontend's `use_backend` rules, evaluated over the parsed
//! head in the client's buffer (nothing copied), then `default_backend`. The address the
//! client connected to is read from the socket only when a rule asks for it (`dst`).

use super::client_stream::ClientStream;
use super::worker::Worker;
use crate::http::Request;
use crate::rules::{Maps, RequestView, TlsFacts};
use crate::state::State;
use std::net::SocketAddr;

/// One request as the rules see it.
pub(super) struct HeadView<'a> {
    pub request: &'a Request,
    pub buf: &'a [u8],
    pub peer: SocketAddr,
    pub stream: &'a ClientStream,
    pub maps: &'a Maps,
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
