//! A frontend's `http-request` and `redirect` rules applied to one parsed request: the
//! rewritten head when rules rewrite it, and when a rule answers (`deny`, `return`,
//! `redirect`), the reply it renders for this request. The reply's bytes come from the plan
//! built at load; a redirect copies the request's path into its `Location`, in the caller's
//! reused scratch vector. Also its `http-response` rules applied to a server's response head
//! ([`apply_response_rules`]).

use super::client_stream::ClientStream;
use super::routing::{HeadView, ShardFacts};
use super::worker::Worker;
use crate::http::{Method, Request, Response};
use crate::rules::{
    ConnectionField, EditedHead, EditedResponse, EditedView, Reply, ResponseView, Verdict,
};
use std::net::SocketAddr;

/// A reply the rules sent instead of forwarding: its status, and whether a `deny` sent it
/// (HAProxy counts those in `dreq`, the others in `intercepted`).
pub(super) struct Answered {
    pub status: u16,
    pub denied: bool,
    /// The reply's end is known (false for an `errorfile` without a length): the connection
    /// may stay open after it.
    pub keeps_connection: bool,
}

/// Runs the rules: rewrites go into `edited`; the reply of the first answering rule is
/// appended to `out`; None when the request goes on to a backend.
pub(super) fn apply_rules(
    worker: &Worker,
    frontend: usize,
    (request, buf): (&Request, &[u8]),
    (peer, stream): (SocketAddr, &ClientStream),
    (connection, edited): (ConnectionField, &mut Option<EditedHead>),
    out: &mut Vec<u8>,
) -> Option<Answered> {
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
        facts: ShardFacts::new(worker, &state),
    };
    // `out` doubles as the scratch space of computed values until a reply is written.
    let verdict = settings
        .http_rules
        .apply(&settings.switching.acls, &view, edited, out);
    out.clear();
    match verdict {
        Verdict::Continue => None,
        Verdict::Deny(reply) | Verdict::Reply(reply) => {
            reply.write(out, connection, request.method() == Method::Head);
            Some(Answered {
                status: reply.status(),
                denied: matches!(verdict, Verdict::Deny(_)),
                keeps_connection: reply.keeps_connection(),
            })
        }
        Verdict::Redirect(redirect) => {
            match edited {
                Some(head) => {
                    let edited = EditedView {
                        head,
                        received: &view,
                    };
                    redirect.write(&edited, out, connection)
                }
                None => redirect.write(&view, out, connection),
            }
            Some(Answered {
                status: redirect.code(),
                denied: false,
                keeps_connection: true,
            })
        }
    }
}

/// A server's response head as `http-response` rules read it: its end-to-end fields, as they
/// are forwarded.
struct ReceivedResponse<'a> {
    response: &'a Response,
    buf: &'a [u8],
}

impl ResponseView for ReceivedResponse<'_> {
    fn status(&self) -> u16 {
        self.response.status()
    }

    fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.response.forwarded_headers(self.buf)
    }
}

/// Runs the frontend's `http-response` rules on `response` (parsed from `response_buf`) to
/// `request` (as forwarded, from `request_buf`): edits go into `edited` (left None when no
/// rule applies); a `deny` that applies is returned, its reply to send instead.
pub(super) fn apply_response_rules<'w>(
    worker: &'w Worker,
    frontend: usize,
    (request, request_buf): (&Request, &[u8]),
    (peer, stream): (SocketAddr, &ClientStream),
    (response, response_buf): (&Response, &[u8]),
    edited: &mut Option<EditedResponse>,
) -> Option<&'w Reply> {
    let settings = &worker.frontends[frontend];
    if settings.response_rules.is_empty() {
        return None;
    }
    let state = worker.state.borrow();
    let view = HeadView {
        request,
        buf: request_buf,
        peer,
        stream,
        maps: &state.maps,
        facts: ShardFacts::new(worker, &state),
    };
    let received = ReceivedResponse {
        response,
        buf: response_buf,
    };
    let reason = response.reason(response_buf);
    let mut scratch = Vec::new();
    settings.response_rules.apply(
        &settings.switching.acls,
        (&view, &received, reason),
        edited,
        &mut scratch,
    )
}
