//! The HTTP/1.1 codec of the proxy's connection loop: pure (no I/O, no glommio), no allocation
//! per message.
//!
//! # How the proxy uses it
//! 1. Read bytes into a buffer; call [`parse_request`] until it returns `Ok(Some(req))`
//!    (`Ok(None)` means the head is not complete yet). On `Err(e)`, send
//!    [`RequestError::page`] (HAProxy's error page for [`RequestError::status`]) and close.
//! 2. Route; then [`write_request_head`] serializes the head to forward to the server into a
//!    reused `Vec<u8>`.
//! 3. Stream the body raw (pass-through, never re-encoded): a [`BodyTracker`] built from
//!    [`Request::framing`] says how many bytes of each read belong to this message and when
//!    it is complete. Bytes past the end belong to the next (pipelined) request.
//! 4. Same for the response: [`parse_response`] (say whether the request was `HEAD`),
//!    [`write_response_head`], then a [`BodyTracker`] from [`Response::framing`]. A 1xx
//!    ([`Response::is_interim`]) is forwarded and is followed by another head. Whether the
//!    client connection may stay open is [`client_keep_alive`].
//!
//! # API at a glance
//! - `parse_request(buf, &Limits) -> Result<Option<Request>, RequestError>`; `Request` gives
//!   method, target, version, head length, headers, [`Framing`], keep-alive, Expect,
//!   Host, conflicting framing, idempotence and [`Request::is_safe_to_retry`] (GET, HEAD,
//!   OPTIONS only). `RequestError::status()` / `page()`: what to answer.
//!   `Request::empty()` + `request.parse_into(buf, &Limits) -> Result<bool, _>` does the
//!   same into a slot the caller reuses (the proxy's keep-alive loop: no field table moved per
//!   request); `Response::empty()` / `parse_into` likewise.
//! - `write_request_head(&Request, buf, &mut Vec<u8>, &RequestForward { x_forwarded_for,
//!   close_server })`: appends the forwarded head; `out` is reused across requests.
//! - `parse_response(buf, request_was_head, &Limits) -> Result<Option<Response>,
//!   ResponseError>`; `Response` gives status, reason, version, head length, headers,
//!   framing, `server_keep_alive`, `is_interim`. Every `ResponseError` means 502.
//! - `write_response_head(&Response, buf, &mut Vec<u8>, &ResponseForward { client_keep_alive,
//!   client_minor_version })` and `client_keep_alive(&Request, &Response) -> bool`.
//! - `BodyTracker::new(Framing)`, `advance(&[u8]) -> Result<Progress { consumed, complete },
//!   BodyError>`, `known_remaining()`: where a pass-through body ends.
//! - [`errors`]: HAProxy's error responses as `&'static [u8]`, `errors::page(status)`.
//!
//! `Request` and `Response` hold offsets into the buffer they were parsed from (no copies,
//! no lifetimes to carry across awaits); their accessors take that buffer back, and it must
//! still hold the head at the same place (do not shift the buffer before the head is written).
//!
//! # Decisions (HAProxy 2.6 behaviour, stricter where RFC 9112 says MUST)
//! - Malformed request line or header field (bad method token, control characters, spaces,
//!   `#` or non-ASCII bytes in the target, whitespace before the colon, obs-fold, NUL or a
//!   bare CR in a value, too many fields) → 400. A bare LF is accepted as a line terminator
//!   (RFC 9112 §2.2 allows it) because heads are re-serialized with CRLF, so the server sees
//!   exactly the fields we saw.
//! - HTTP major version other than 1 (or a minor version other than 0 and 1) → 505.
//! - Head larger than [`Limits::max_head_len`] (default 16 KiB, HAProxy's `tune.bufsize`)
//!   → 400, like HAProxy, also when one field alone is too large (no 431).
//! - Content-Length: 1*DIGIT only; repeated identical values (in several fields or as a list
//!   in one) are merged and forwarded as one field; differing values → 400.
//! - Transfer-Encoding: the last coding must be `chunked` and `chunked` must appear once,
//!   else 400 (RFC 9112 §6.3); a coding we do not know (`gzip`, `deflate`, `compress` and
//!   their `x-` forms are known) → 501 (RFC 9112 §6.1). Transfer-Encoding in an HTTP/1.0
//!   request → 400 (we refuse rather than guess the framing of a 1.0 body).
//! - Content-Length together with Transfer-Encoding: accepted, chunked wins, Content-Length is
//!   not forwarded, and the message is flagged so that the connection closes after the
//!   response ([`Request::has_conflicting_framing`], `keep_alive` false), per RFC 9112 §6.1.
//! - HTTP/1.1 request without Host, or any request with several Host fields → 400.
//! - `CONNECT` → 501: this proxy does not tunnel.
//! - A response gets the same checks; any error there means 502 for the client. A 101
//!   is an error too, unless the request asked to switch protocols ([`Request::is_upgrade`]:
//!   `Connection: upgrade` and an Upgrade field, on HTTP/1.1; [`Response::answering`]): then
//!   Upgrade is forwarded both ways and, after the 101, the proxy relays the connection as a
//!   tunnel (`proxy::tunnel`).
//! - Forwarding keeps the request's HTTP version as received (like HAProxy): a server then
//!   never sends chunked to an HTTP/1.0 client, which cannot read it and which we do not
//!   re-encode for. See [`write_request_head`] for the `Connection` header it adds.

mod body;
pub mod errors;
mod fields;
mod head;
mod request;
mod response;

pub use body::{BodyError, BodyTracker, Progress, MAX_CHUNK_LINE_LEN, MAX_TRAILERS_LEN};
pub use head::Head;
pub use request::{
    parse_request, write_request_head, Limits, Method, Request, RequestError, RequestForward,
};
pub use response::{
    client_keep_alive, parse_response, write_edited_response_head, write_response_head, Response,
    ResponseError, ResponseForward,
};

/// Maximum number of header fields in one head (HAProxy's `tune.http.maxhdr` default).
pub const MAX_HEADERS: usize = 101;

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a request without Content-Length or Transfer-Encoding; a response to HEAD,
    /// a 1xx, 204 or 304.
    NoBody,
    /// Exactly this many bytes follow the head.
    ContentLength(u64),
    /// Chunked transfer coding: the body ends with the last chunk and the trailer section.
    Chunked,
    /// Response only: the body ends when the server closes the connection.
    CloseDelimited,
}
