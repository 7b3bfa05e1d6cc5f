//! A frontend's `http-request` and `redirect` rules applied to one parsed request: the
//! rewritten head when rules rewrite it, and when a rule answers (`deny`, `return`,
//! `redirect`), the reply it renders for this request. The reply's bytes come from the plan
//! built at load; a redirect copies the request's path into its `Location`, in the caller's
//! reused scratch vector.

use super::client_stream::ClientStream;
use super::routing::HeadView;
use super::worker::Worker;
use crate::http::{Method, Request};
use crate::rules::{ConnectionField, EditedHead, Verdict};
use std::net::SocketAddr;

/// Runs the rules: rewrites go into `edited`; the reply of the first answering rule is
/// appended to `out` and its status returned; None when the request goes on to a backend.
pub(super) fn apply_rules(
    worker: &Worker,
    frontend: usize,
    (request, buf): (&Request, &[u8]),
    (peer, stream): (SocketAddr, &ClientStream),
    (connection, edited): (ConnectionField, &mut Option<EditedHead>),
    out: &mut Vec<u8>,
) -> Option<u16> {
    let settings = &worker.frontends[frontend];
    if settings.http_rules.is_empty() {
        return None;
    }
    let state = worker.state.borrow();
    let view = HeadView {
        request,
        buf,
        peer,
        stream,
        maps: &state.maps,
    };
    // `out` doubles as the scratch space of computed values until a reply is written.
    let verdict = settings
        .http_rules
        .apply(&settings.switching.acls, &view, edited, out);
    out.clear();
    match verdict {
        Verdict::Continue => None,
        Verdict::Reply(reply) => {
            reply.write(out, connection, request.method() == Method::Head);
            Some(reply.status())
        }
        Verdict::Redirect(redirect) => {
            match edited {
                Some(head) => redirect.write(head, out, connection),
                None => redirect.write(&view, out, connection),
            }
            Some(redirect.code())
        }
    }
}
