//! Response heads: parse in place with httparse, decide the body framing (RFC 9112 §6.3) and
//! whether the server connection persists, and serialize the head forwarded to the client.

use std::fmt;
use std::mem::MaybeUninit;

use super::fields::{push_decimal, push_field, FieldError, FieldSummary, Span};
use super::head::Head;
use super::request::{Limits, Request};
use super::{Framing, MAX_HEADERS};

/// Why a response head was refused. The client gets 502 ([`super::errors::BAD_GATEWAY`]) and
/// the server connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseError {
    /// Syntax error in the status line or a header field.
    Malformed,
    TooManyHeaders,
    HeadTooLarge,
    /// A status code outside 100..=599.
    InvalidStatus,
    /// 101 to a request that did not ask to switch protocols.
    SwitchingProtocols,
    InvalidContentLength,
    ConflictingContentLength,
    ChunkedNotLast,
    UnknownTransferCoding,
    TransferEncodingInHttp10,
}

impl ResponseError {
    /// The status the client gets: always 502.
    pub fn status(self) -> u16 {
        502
    }

    /// HAProxy's 502 page.
    pub fn page(self) -> &'static [u8] {
        super::errors::BAD_GATEWAY
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid response from server ({self:?})")
    }
}

impl std::error::Error for ResponseError {}

impl From<FieldError> for ResponseError {
    fn from(error: FieldError) -> Self {
        match error {
            FieldError::InvalidContentLength => ResponseError::InvalidContentLength,
            FieldError::ConflictingContentLength => ResponseError::ConflictingContentLength,
            FieldError::ChunkedNotLast => ResponseError::ChunkedNotLast,
            FieldError::UnknownTransferCoding => ResponseError::UnknownTransferCoding,
        }
    }
}

/// A parsed response head: the status line and a [`Head`] (version, length, framing,
/// fields), whose accessors it derefs to; accessors that return bytes take the buffer it was
/// parsed from.
#[derive(Clone)]
pub struct Response {
    status: u16,
    reason: Span,
    head: Head,
    /// The request asked to switch protocols: a 101 is its answer, not an error.
    upgrade_requested: bool,
}

impl std::ops::Deref for Response {
    type Target = Head;

    fn deref(&self) -> &Head {
        &self.head
    }
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    pub fn reason<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.reason.get(buf)
    }

    /// Whether the server connection can be reused after this response's body: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`, never for a
    /// close-delimited body or a response with both Content-Length and Transfer-Encoding.
    pub fn server_keep_alive(&self) -> bool {
        self.head.keep_alive
    }

    /// A 1xx (other than 101): forward it, then parse the final response head that follows.
    pub fn is_interim(&self) -> bool {
        self.status < 200 && self.status != 101
    }

    /// 101 Switching Protocols to an upgrade request: after this head the connection is a
    /// tunnel.
    pub fn is_switching(&self) -> bool {
        self.status == 101
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// Parses a response head at the start of `buf`. `request_was_head`: the request was HEAD,
/// so the response has no body whatever its fields say. `Ok(None)`: not complete yet.
pub fn parse_response(
    buf: &[u8],
    request_was_head: bool,
    limits: &Limits,
) -> Result<Option<Response>, ResponseError> {
    let mut response = Response::empty();
    Ok(response
        .parse_into(buf, request_was_head, limits)?
        .then_some(response))
}

impl Response {
    /// A slot for [`Response::parse_into`]: the proxy parses every response of an exchange
    /// into one value instead of moving a fresh (field table sized) one out of each call.
    pub fn empty() -> Response {
        Response {
            status: 0,
            reason: Span::default(),
            head: Head::new(),
            upgrade_requested: false,
        }
    }

    /// [`Response::empty`] for the answer to `request`: a 101 is accepted when the request
    /// asked to switch protocols ([`super::Request::is_upgrade`]).
    pub fn answering(request: &Request) -> Response {
        Response {
            upgrade_requested: request.is_upgrade(),
            ..Response::empty()
        }
    }

    /// [`parse_response`] in place: `Ok(true)` when a complete head was parsed into `self`,
    /// `Ok(false)` when more bytes are needed (then `self` is unchanged).
    pub fn parse_into(
        &mut self,
        buf: &[u8],
        request_was_head: bool,
        limits: &Limits,
    ) -> Result<bool, ResponseError> {
        let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        let config = httparse::ParserConfig::default();
        let head_len =
            match config.parse_response_with_uninit_headers(&mut parsed, buf, &mut headers) {
                Ok(httparse::Status::Complete(head_len)) => head_len,
                Ok(httparse::Status::Partial) if buf.len() >= limits.max_head_len => {
                    return Err(ResponseError::HeadTooLarge)
                }
                Ok(httparse::Status::Partial) => return Ok(false),
                Err(httparse::Error::TooManyHeaders) => return Err(ResponseError::TooManyHeaders),
                Err(_) => return Err(ResponseError::Malformed),
            };
        if head_len > limits.max_head_len {
            return Err(ResponseError::HeadTooLarge);
        }
        let (Some(minor_version), Some(status), Some(reason)) =
            (parsed.version, parsed.code, parsed.reason)
        else {
            return Err(ResponseError::Malformed);
        };
        match status {
            101 if !self.upgrade_requested => return Err(ResponseError::SwitchingProtocols),
            100..=599 => {}
            _ => return Err(ResponseError::InvalidStatus),
        }
        self.status = status;
        self.reason = Span::of(buf, reason.as_bytes());
        let summary = self
            .head
            .index(buf, minor_version, head_len, parsed.headers)?;
        self.apply_field_rules(summary, request_was_head)?;
        Ok(true)
    }
}

impl Response {
    /// RFC 9112 §6.3 (message body length) and §9.3 (persistence).
    fn apply_field_rules(
        &mut self,
        summary: FieldSummary,
        request_was_head: bool,
    ) -> Result<(), ResponseError> {
        if summary.chunked && !self.head.is_http11() {
            // §6.1: a 1.0 message with Transfer-Encoding has faulty framing.
            return Err(ResponseError::TransferEncodingInHttp10);
        }
        let no_body = request_was_head || self.status < 200 || matches!(self.status, 204 | 304);
        let framing = match (no_body, summary.chunked, summary.content_length) {
            (true, _, _) => Framing::NoBody,
            (false, true, _) => Framing::Chunked,
            (false, false, Some(length)) => Framing::ContentLength(length),
            (false, false, None) => Framing::CloseDelimited,
        };
        self.head.settle(summary, framing);
        // The body ends with the server's close: nothing can follow it on that connection.
        self.head.keep_alive &= framing != Framing::CloseDelimited;
        Ok(())
    }
}

/// Whether the client connection can stay open after this response: the request allowed it
/// and the response body does not end with the server's close (a close-delimited body can only
/// be delimited for the client by closing its connection too).
pub fn client_keep_alive(request: &Request, response: &Response) -> bool {
    request.keep_alive() && response.framing() != Framing::CloseDelimited
}

/// How to forward a response head to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseForward {
    /// The client connection stays open after this response (see [`client_keep_alive`]).
    pub client_keep_alive: bool,
    /// The client's HTTP minor version (0 for HTTP/1.0), which decides whether persistence
    /// must be announced.
    pub client_minor_version: u8,
}

/// Appends to `out` the head to send to the client: the status line as received (version
/// kept, as HAProxy does), the end-to-end fields with exactly one framing field (same rules
/// as requests; a HEAD or 304 response keeps its Content-Length, which describes the
/// representation), then `Connection: close` when the client connection will close, or
/// `Connection: keep-alive` to an HTTP/1.0 client that stays. Interim (1xx) heads get no
/// Connection field.
pub fn write_response_head(
    response: &Response,
    buf: &[u8],
    out: &mut Vec<u8>,
    options: &ResponseForward,
) {
    out.reserve(response.head_len() + 32);
    out.extend_from_slice(response.version());
    out.push(b' ');
    push_decimal(out, u64::from(response.status));
    out.push(b' ');
    out.extend_from_slice(response.reason.get(buf));
    out.extend_from_slice(b"\r\n");
    response.head.write_fields(buf, out);
    if response.is_switching() {
        response.head.push_upgrade_connection(buf, out);
    } else if !response.is_interim() {
        push_connection(out, options);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the head of a response that `http-response` rules rewrote: the received version,
/// the rules' status, reason and fields, then the Connection field as
/// [`write_response_head`] adds it (never called for interim heads: rules skip those).
pub fn write_edited_response_head<'f>(
    minor_version: u8,
    (status, reason): (u16, &[u8]),
    fields: impl Iterator<Item = (&'f [u8], &'f [u8])>,
    out: &mut Vec<u8>,
    options: &ResponseForward,
) {
    out.extend_from_slice(if minor_version == 1 {
        b"HTTP/1.1 "
    } else {
        b"HTTP/1.0 "
    });
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
    for (name, value) in fields {
        push_field(out, name, value);
    }
    push_connection(out, options);
    out.extend_from_slice(b"\r\n");
}

fn push_connection(out: &mut Vec<u8>, options: &ResponseForward) {
    if !options.client_keep_alive {
        push_field(out, b"Connection", b"close");
    } else if options.client_minor_version == 0 {
        push_field(out, b"Connection", b"keep-alive");
    }
}
