//! A frontend's `http-request` and `redirect` rules applied to one parsed request: when a
//! rule answers (`deny`, `return`, `redirect`), the reply it renders for this request. The
//! reply's bytes come from the plan built at load; a redirect copies the request's path into
//! its `Location`, in the caller's reused scratch vector.

use super::routing::HeadView;
use super::worker::Worker;
use crate::http::{Method, Request};
use crate::rules::{ConnectionField, Verdict};
use glommio::net::TcpStream;
use std::net::SocketAddr;

/// Appends the reply of the first answering rule to `out` and returns its status; None when
/// the request goes on to a backend.
pub(super) fn render_reply(
    worker: &Worker,
    frontend: usize,
    (request, buf): (&Request, &[u8]),
    (peer, stream): (SocketAddr, &TcpStream),
    connection: ConnectionField,
    out: &mut Vec<u8>,
) -> Option<u16> {
    let settings = &worker.frontends[frontend];
    if settings.http_rules.is_empty() {
        return None;
    }
    let view = HeadView {
        request,
        buf,
        peer,
        stream,
    };
    match settings.http_rules.verdict(&settings.switching.acls, &view) {
        Verdict::Continue => None,
        Verdict::Reply(reply) => {
            reply.write(out, connection, request.method() == Method::Head);
            Some(reply.status())
        }
        Verdict::Redirect(redirect) => {
            redirect.write(&view, out, connection);
            Some(redirect.code())
        }
    }
}
