//! Request heads: parse in place with httparse (keeping offsets, not copies), apply HAProxy
//! 2.6's and RFC 9112's rules, and serialize the head forwarded to the server.

use std::fmt;
use std::io::Write as _;
use std::mem::MaybeUninit;
use std::net::IpAddr;

use super::errors;
use super::fields::{push_field, FieldError, FieldSummary, Span};
use super::head::Head;
use super::{Framing, MAX_HEADERS};

/// Bounds on what a head may cost us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head accepted, request line and final empty line included (HAProxy's
    /// `tune.bufsize`, 16 KiB by default). Larger heads are refused with 400.
    pub max_head_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_len: 16 * 1024,
        }
    }
}

/// The request method. `CONNECT` is refused at parse time (501): we do not tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Patch,
    /// Any other token (WebDAV methods and the like), forwarded as received.
    Other,
}

impl Method {
    fn from_token(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }

    /// Idempotent per RFC 9110 §9.2.2.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Method::Get
                | Method::Head
                | Method::Options
                | Method::Put
                | Method::Delete
                | Method::Trace
        )
    }

    /// Whether the proxy may replay the request on another server after a failure: only the
    /// safe methods GET, HEAD and OPTIONS (a PUT or DELETE replayed could race another client).
    pub fn is_safe_to_retry(self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Options)
    }
}

/// Why a request head was refused; [`RequestError::status`] is the status to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Syntax error in the request line or a header field (httparse's verdict, plus
    /// obs-fold, whitespace before the colon, control characters).
    Malformed,
    /// More than [`MAX_HEADERS`] fields.
    TooManyHeaders,
    /// The head is longer than [`Limits::max_head_len`].
    HeadTooLarge,
    /// A version other than HTTP/1.0 and HTTP/1.1 (e.g. `HTTP/2.0`, `HTTP/1.2`).
    UnsupportedVersion,
    /// A target that is not origin-form, absolute-form, or `*` for OPTIONS; or that holds a
    /// fragment (`#`) or non-ASCII bytes.
    InvalidTarget,
    /// `CONNECT`: we do not tunnel.
    ConnectNotSupported,
    InvalidContentLength,
    ConflictingContentLength,
    /// Transfer-Encoding whose last coding is not `chunked` (or that lists it twice).
    ChunkedNotLast,
    /// Transfer-Encoding with a coding we do not know.
    UnknownTransferCoding,
    /// Transfer-Encoding in an HTTP/1.0 request.
    TransferEncodingInHttp10,
    /// HTTP/1.1 request without Host.
    MissingHost,
    /// Several Host fields.
    MultipleHosts,
    /// A Host value with a comma or whitespace.
    InvalidHost,
}

impl RequestError {
    /// The status to answer with.
    pub fn status(self) -> u16 {
        match self {
            RequestError::UnsupportedVersion => 505,
            RequestError::ConnectNotSupported | RequestError::UnknownTransferCoding => 501,
            _ => 400,
        }
    }

    /// HAProxy's complete error response for [`RequestError::status`] (closes the connection).
    pub fn page(self) -> &'static [u8] {
        errors::page(self.status())
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid request ({:?}), answered {}",
            self,
            self.status()
        )
    }
}

impl std::error::Error for RequestError {}

impl From<FieldError> for RequestError {
    fn from(error: FieldError) -> Self {
        match error {
            FieldError::InvalidContentLength => RequestError::InvalidContentLength,
            FieldError::ConflictingContentLength => RequestError::ConflictingContentLength,
            FieldError::ChunkedNotLast => RequestError::ChunkedNotLast,
            FieldError::UnknownTransferCoding => RequestError::UnknownTransferCoding,
        }
    }
}

/// A parsed request head: the request line and a [`Head`] (version, length, framing, fields),
/// whose accessors it derefs to. It holds offsets: accessors that return bytes take the buffer
/// the head was parsed from.
#[derive(Clone)]
pub struct Request {
    method: Method,
    method_token: Span,
    target: Span,
    expect_continue: bool,
    head: Head,
}

impl std::ops::Deref for Request {
    type Target = Head;

    fn deref(&self) -> &Head {
        &self.head
    }
}

impl Request {
    pub fn method(&self) -> Method {
        self.method
    }

    /// The method token as received (useful for [`Method::Other`] and logs).
    pub fn method_token<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.method_token.get(buf)
    }

    /// The request target as received.
    pub fn target<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.target.get(buf)
    }

    /// Whether the client connection may carry another request after this one's response:
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`;
    /// never after a request with both Content-Length and Transfer-Encoding.
    pub fn keep_alive(&self) -> bool {
        self.head.keep_alive
    }

    /// `Expect: 100-continue` on an HTTP/1.1 request (ignored on 1.0, RFC 9110 §10.1.1).
    pub fn expect_continue(&self) -> bool {
        self.expect_continue
    }

    /// The Host value, if present (always present on HTTP/1.1).
    pub fn host<'b>(&self, buf: &'b [u8]) -> Option<&'b [u8]> {
        self.head.summary.host.map(|span| span.get(buf))
    }

    pub fn is_idempotent(&self) -> bool {
        self.method.is_idempotent()
    }

    /// See [`Method::is_safe_to_retry`].
    pub fn is_safe_to_retry(&self) -> bool {
        self.method.is_safe_to_retry()
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// Parses a request head at the start of `buf`.
///
/// `Ok(None)`: the head is not complete yet; read more and call again with the grown buffer.
/// `Err(e)`: answer `e.page()` and close the connection.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<Request>, RequestError> {
    let mut request = Request::empty();
    Ok(request.parse_into(buf, limits)?.then_some(request))
}

impl Request {
    /// A slot for [`Request::parse_into`]: the proxy parses every request of a connection
    /// into one value instead of moving a fresh (field table sized) one out of each call.
    pub fn empty() -> Request {
        Request {
            method: Method::Get,
            method_token: Span::default(),
            target: Span::default(),
            expect_continue: false,
            head: Head::new(),
        }
    }

    /// [`parse_request`] in place: `Ok(true)` when a complete head was parsed into `self`,
    /// `Ok(false)` when more bytes are needed (then `self` is unchanged).
    pub fn parse_into(&mut self, buf: &[u8], limits: &Limits) -> Result<bool, RequestError> {
        let mut headers = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut []);
        let head_len = match parsed.parse_with_uninit_headers(buf, &mut headers) {
            Ok(httparse::Status::Complete(head_len)) => head_len,
            Ok(httparse::Status::Partial) if buf.len() >= limits.max_head_len => {
                return Err(RequestError::HeadTooLarge)
            }
            Ok(httparse::Status::Partial) => return Ok(false),
            Err(httparse::Error::Version) => return Err(version_error(buf)),
            Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
            Err(_) => return Err(RequestError::Malformed),
        };
        if head_len > limits.max_head_len {
            return Err(RequestError::HeadTooLarge);
        }
        // httparse fills every field of a complete request.
        let (Some(method), Some(target), Some(minor_version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return Err(RequestError::Malformed);
        };
        let method_token = method.as_bytes();
        if method_token == b"CONNECT" {
            return Err(RequestError::ConnectNotSupported);
        }
        let method = Method::from_token(method_token);
        check_target(method, target.as_bytes())?;

        self.method = method;
        self.method_token = Span::of(buf, method_token);
        self.target = Span::of(buf, target.as_bytes());
        self.expect_continue = false;
        let summary = self
            .head
            .index(buf, minor_version, head_len, parsed.headers)?;
        self.apply_field_rules(buf, summary)?;
        Ok(true)
    }
}

impl Request {
    /// Host, framing and persistence rules (RFC 9112 §3.2, §6, §9.3).
    fn apply_field_rules(&mut self, buf: &[u8], summary: FieldSummary) -> Result<(), RequestError> {
        let http11 = self.head.is_http11();
        match summary.host_count {
            0 if http11 => return Err(RequestError::MissingHost),
            0 | 1 => {}
            _ => return Err(RequestError::MultipleHosts),
        }
        // One host[:port]: a list or whitespace means two values were merged somewhere.
        let host = summary.host.map_or(&b""[..], |span| span.get(buf));
        if host.iter().any(|&b| b == b',' || b == b' ' || b == b'\t') {
            return Err(RequestError::InvalidHost);
        }
        if summary.chunked && !http11 {
            return Err(RequestError::TransferEncodingInHttp10);
        }
        let framing = match (summary.chunked, summary.content_length) {
            (true, _) => Framing::Chunked,
            (false, Some(length)) => Framing::ContentLength(length),
            (false, None) => Framing::NoBody,
        };
        self.expect_continue = http11 && summary.expect_continue;
        self.head.settle(summary, framing);
        Ok(())
    }
}

/// RFC 9112 §3.2: origin-form (`/path?query`), absolute-form (`http://host/path`), or `*`
/// for OPTIONS (authority-form is CONNECT's, refused earlier). httparse already refused
/// spaces and control characters; a fragment or raw non-ASCII bytes are refused here.
fn check_target(method: Method, target: &[u8]) -> Result<(), RequestError> {
    let form_ok = match target {
        [b'/', ..] => true,
        b"*" => method == Method::Options,
        [first, ..] if first.is_ascii_alphabetic() => target.windows(3).any(|w| w == b"://"),
        _ => false,
    };
    let bytes_ok = target.iter().all(|&b| b != b'#' && b.is_ascii());
    if form_ok && bytes_ok {
        Ok(())
    } else {
        Err(RequestError::InvalidTarget)
    }
}

/// httparse reports any version it does not know as a version error, and also a request line
/// with a space too many (`GET /a b HTTP/1.1`). Only a well-formed line whose version is
/// `HTTP/x.y` other than 1.0 and 1.1 gets 505; everything else is malformed (400).
fn version_error(buf: &[u8]) -> RequestError {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    let line = &line[..line
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(line.len())];
    let mut parts = line.split(|&b| b == b' ');
    let (Some(_method), Some(_target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return RequestError::Malformed;
    };
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, rest @ ..]
            if major.is_ascii_digit() && matches!(rest, [] | [b'.'] | [b'.', b'0'..=b'9']) =>
        {
            RequestError::UnsupportedVersion
        }
        _ => RequestError::Malformed,
    }
}

/// How to forward a request head to the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestForward {
    /// Add `X-Forwarded-For: <ip>` as a new last field (HAProxy's `option forwardfor`; an
    /// existing X-Forwarded-For is kept as received, before ours).
    pub x_forwarded_for: Option<IpAddr>,
    /// Ask the server to close after its response (`Connection: close`); otherwise the server
    /// connection stays reusable.
    pub close_server: bool,
}

/// Appends to `out` the head to send to the server: the request line as received (the HTTP
/// version is kept, as HAProxy does), the end-to-end fields in order with exactly one framing
/// field (Transfer-Encoding when chunked, else one normalized Content-Length), the optional
/// X-Forwarded-For, then the Connection field: `close` when `close_server`, else
/// `keep-alive` for an HTTP/1.0 request (1.0 closes by default), else none (1.1 persists).
///
/// Hop-by-hop fields are dropped: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
/// Upgrade, and every field the Connection field lists. An upgrade request
/// ([`Request::is_upgrade`]) keeps Upgrade and the listed fields, and its Connection field
/// lists what the client's did, less `close` and `keep-alive` (as HAProxy forwards it).
pub fn write_request_head(
    request: &Request,
    buf: &[u8],
    out: &mut Vec<u8>,
    options: &RequestForward,
) {
    out.reserve(request.head_len() + 64);
    out.extend_from_slice(request.method_token.get(buf));
    out.push(b' ');
    out.extend_from_slice(request.target.get(buf));
    out.push(b' ');
    out.extend_from_slice(request.version());
    out.extend_from_slice(b"\r\n");
    request.head.write_fields(buf, out);
    if let Some(ip) = options.x_forwarded_for {
        push_x_forwarded_for(out, ip);
    }
    if request.is_upgrade() {
        request.head.push_upgrade_connection(buf, out);
    } else if options.close_server {
        push_field(out, b"Connection", b"close");
    } else if request.minor_version() == 0 {
        push_field(out, b"Connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
}

/// `X-Forwarded-For: <ip>` CRLF. IPv4 is written by hand: `fmt` costs about a third of the
/// whole head serialization. IPv6 goes through `Display` (no allocation either).
fn push_x_forwarded_for(out: &mut Vec<u8>, ip: IpAddr) {
    out.extend_from_slice(b"X-Forwarded-For: ");
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            push_octet(out, a);
            for octet in [b, c, d] {
                out.push(b'.');
                push_octet(out, octet);
            }
        }
        IpAddr::V6(v6) => {
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn push_octet(out: &mut Vec<u8>, octet: u8) {
    if octet >= 100 {
        out.push(b'0' + octet / 100);
    }
    if octet >= 10 {
        out.push(b'0' + octet / 10 % 10);
    }
    out.push(b'0' + octet % 10);
}
