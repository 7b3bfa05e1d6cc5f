//! What a request head and a response head share: the HTTP version, the head's length, the
//! framing of the body that follows, persistence, and the indexed header fields. [`Request`]
//! and [`Response`] hold one beside their start line and reach its accessors through `Deref`,
//! so each accessor and each rule both messages follow (RFC 9112 §6.1, §9.3) is written once.
//!
//! [`Request`]: super::Request
//! [`Response`]: super::Response

use std::fmt;

use super::fields::{FieldError, FieldSummary, Fields};
use super::Framing;

/// A parsed head's fields and what they decide; accessors that return bytes take the buffer
/// it was parsed from.
#[derive(Clone)]
pub struct Head {
    minor_version: u8,
    head_len: usize,
    framing: Framing,
    pub(super) keep_alive: bool,
    conflicting_framing: bool,
    pub(super) summary: FieldSummary,
    fields: Fields,
}

impl Head {
    pub(super) fn new() -> Head {
        Head {
            minor_version: 1,
            head_len: 0,
            framing: Framing::NoBody,
            keep_alive: false,
            conflicting_framing: false,
            summary: FieldSummary::default(),
            fields: Fields::new(),
        }
    }

    /// Starts a new head: indexes its fields and returns what they say, for the message's
    /// own rules to judge before [`Head::settle`] records it.
    pub(super) fn index(
        &mut self,
        buf: &[u8],
        minor_version: u8,
        head_len: usize,
        headers: &[httparse::Header<'_>],
    ) -> Result<FieldSummary, FieldError> {
        self.minor_version = minor_version;
        self.head_len = head_len;
        self.framing = Framing::NoBody;
        self.keep_alive = false;
        self.conflicting_framing = false;
        self.summary = FieldSummary::default();
        self.fields.index(buf, headers)
    }

    /// Records the framing the message chose and persistence (§9.3): HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`, never after both
    /// Content-Length and Transfer-Encoding (§6.1: chunked wins, the connection closes).
    pub(super) fn settle(&mut self, summary: FieldSummary, framing: Framing) {
        self.framing = framing;
        self.conflicting_framing = summary.chunked && summary.content_length.is_some();
        let persistent = if self.is_http11() {
            !summary.close
        } else {
            summary.keep_alive && !summary.close
        };
        self.keep_alive = persistent && !self.conflicting_framing;
        self.summary = summary;
    }

    pub(super) fn is_http11(&self) -> bool {
        self.minor_version == 1
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }

    /// The version as written on the start line, kept as received (HAProxy does too).
    pub fn version(&self) -> &'static [u8] {
        if self.is_http11() {
            b"HTTP/1.1"
        } else {
            b"HTTP/1.0"
        }
    }

    /// Bytes of the head, final empty line included: the body (or the next message) starts
    /// at `buf[head_len..]`.
    pub fn head_len(&self) -> usize {
        self.head_len
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Content-Length and Transfer-Encoding were both present: chunked framing is used,
    /// Content-Length is not forwarded, and the connection closes after this exchange (RFC
    /// 9112 §6.1); the server connection closes too, it may disagree on the framing.
    pub fn has_conflicting_framing(&self) -> bool {
        self.conflicting_framing
    }

    /// The head asks to switch protocols: its Connection field lists `upgrade` and it has an
    /// Upgrade field (only HTTP/1.1 heads: RFC 9110 §7.8 has 1.0 ones ignore it).
    pub fn is_upgrade(&self) -> bool {
        self.summary.upgrade && self.is_http11()
    }

    /// Appends the Connection field of an upgrade head as forwarded (see [`Head::is_upgrade`]).
    pub(super) fn push_upgrade_connection(&self, buf: &[u8], out: &mut Vec<u8>) {
        self.fields.push_upgrade_connection(buf, out);
    }

    /// All header fields as (name, value), in order, hop-by-hop ones included.
    pub fn headers<'a, 'b: 'a>(
        &'a self,
        buf: &'b [u8],
    ) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 'a {
        self.fields.iter(buf)
    }

    /// The value of the first field named `name` (case-insensitive).
    pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.fields.get(buf, name)
    }

    /// The end-to-end fields as [`Head::write_fields`] forwards them (what response rules
    /// edit).
    pub fn forwarded_headers<'a, 'b: 'a>(
        &'a self,
        buf: &'b [u8],
    ) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 'a {
        self.fields.forwarded(buf, &self.summary)
    }

    /// Appends the end-to-end fields, with exactly one framing field.
    pub(super) fn write_fields(&self, buf: &[u8], out: &mut Vec<u8>) {
        self.fields.write_forwarded(buf, &self.summary, out);
    }
}

impl fmt::Debug for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Head")
            .field("minor_version", &self.minor_version)
            .field("head_len", &self.head_len)
            .field("framing", &self.framing)
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}
