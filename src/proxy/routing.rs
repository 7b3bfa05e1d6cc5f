//! The backend of a request: the frontend's `use_backend` rules, evaluated over the parsed
//! head in the client's buffer (nothing copied), then `default_backend`. The address the
//! client connected to is read from the socket only when a rule asks for it (`dst`).

use super::client_stream::ClientStream;
use super::worker::Worker;
use crate::http::Request;
use crate::rules::{RequestView, TlsFacts};
use std::net::SocketAddr;

/// One request as the rules see it.
struct HeadView<'a> {
    request: &'a Request,
    buf: &'a [u8],
    peer: SocketAddr,
    stream: &'a ClientStream,
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
    if !switching.is_empty() {
        let view = HeadView {
            request,
            buf,
            peer,
            stream,
        };
        if let Some(backend) = switching.choose(&view) {
            return Some(backend);
        }
    }
    worker.state.borrow().frontends[frontend].default_backend
}
