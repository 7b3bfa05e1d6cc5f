//! Header fields shared by requests and responses: the offset table built from httparse's
//! output, what the framing and connection fields say (Content-Length, Transfer-Encoding,
//! Connection, Host, Expect), and the copy of the end-to-end fields into a forwarded head.

use super::MAX_HEADERS;

/// A byte range of the buffer a head was parsed from. `u32` keeps the field table small;
/// heads are bounded by [`super::Limits::max_head_len`], far below 4 GiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// The span of `part`, a sub-slice of `base` as httparse hands out, except that an empty
    /// `part` may live anywhere (httparse returns a static `""` for a missing reason phrase).
    pub(crate) fn of(base: &[u8], part: &[u8]) -> Span {
        if part.is_empty() {
            return Span::default();
        }
        let start = part.as_ptr() as usize - base.as_ptr() as usize;
        debug_assert!(start + part.len() <= base.len());
        Span {
            start: start as u32,
            len: part.len() as u32,
        }
    }

    pub(crate) fn get(self, buf: &[u8]) -> &[u8] {
        &buf[self.start as usize..(self.start + self.len) as usize]
    }
}

/// What a field means to the proxy; decided once while indexing so that forwarding does not
/// compare names again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// End-to-end field, forwarded as received.
    Other,
    Host,
    Expect,
    ContentLength,
    TransferEncoding,
    Connection,
    /// Hop-by-hop field (RFC 9110 §7.6.1 and the ones a Connection field lists): not forwarded.
    HopByHop,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    name: Span,
    value: Span,
    kind: FieldKind,
}

impl Field {
    /// The field's whole line in `buf` (name to CRLF included), when it can be copied as is:
    /// the value is not empty and is followed directly by CRLF.
    fn raw_line(&self, buf: &[u8]) -> Option<(usize, usize)> {
        let value_end = (self.value.start + self.value.len) as usize;
        let crlf_follows = buf.get(value_end..value_end + 2) == Some(b"\r\n");
        (self.value.len > 0 && crlf_follows).then_some((self.name.start as usize, value_end + 2))
    }
}

/// A run of adjacent raw field lines waiting to be copied in one piece.
#[derive(Default)]
struct RawRun {
    start: usize,
    end: usize,
}

impl RawRun {
    fn extend(&mut self, start: usize, end: usize, buf: &[u8], out: &mut Vec<u8>) {
        if start != self.end || self.start == self.end {
            self.flush(buf, out);
            self.start = start;
        }
        self.end = end;
    }

    fn flush(&mut self, buf: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&buf[self.start..self.end]);
        self.start = self.end;
    }
}

const EMPTY_FIELD: Field = Field {
    name: Span { start: 0, len: 0 },
    value: Span { start: 0, len: 0 },
    kind: FieldKind::Other,
};

/// The header fields of one head, as offsets, in order of appearance.
#[derive(Clone)]
pub(crate) struct Fields {
    list: [Field; MAX_HEADERS],
    len: usize,
}

/// What the framing and connection fields of a head say, before request/response rules apply.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FieldSummary {
    /// The (merged) Content-Length value, if any field carried one.
    pub content_length: Option<u64>,
    /// A Transfer-Encoding field is present (and valid: its last coding is chunked).
    pub chunked: bool,
    /// The Connection field lists `close`.
    pub close: bool,
    /// The Connection field lists `keep-alive`.
    pub keep_alive: bool,
    pub host: Option<Span>,
    pub host_count: usize,
    /// `Expect: 100-continue` is present.
    pub expect_continue: bool,
    /// The Connection field lists `upgrade` and an Upgrade field is present: the head asks
    /// to switch protocols (RFC 9110 §7.8), so Upgrade and the fields Connection lists are
    /// forwarded, as HAProxy forwards them.
    pub upgrade: bool,
}

/// A framing or routing field that is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// A Content-Length element is not 1*DIGIT, or overflows u64.
    InvalidContentLength,
    /// Content-Length elements that differ.
    ConflictingContentLength,
    /// Transfer-Encoding whose last coding is not `chunked`, lists it twice, or is empty.
    ChunkedNotLast,
    /// Transfer-Encoding with a coding we do not know.
    UnknownTransferCoding,
}

impl Fields {
    pub(crate) const fn new() -> Fields {
        Fields {
            list: [EMPTY_FIELD; MAX_HEADERS],
            len: 0,
        }
    }

    /// Indexes httparse's fields (slices of `buf`) and reads the framing and connection fields.
    pub(crate) fn index(
        &mut self,
        buf: &[u8],
        headers: &[httparse::Header<'_>],
    ) -> Result<FieldSummary, FieldError> {
        let mut summary = FieldSummary::default();
        let mut connection_lists_others = false;
        let mut connection_lists_upgrade = false;
        let mut upgrade_present = false;
        self.len = headers.len();
        for (slot, header) in self.list.iter_mut().zip(headers) {
            let kind = classify(header.name.as_bytes());
            let value = header.value;
            match kind {
                FieldKind::ContentLength => merge_content_length(&mut summary, value)?,
                FieldKind::TransferEncoding => summary.chunked = true,
                FieldKind::Connection => {
                    connection_lists_others |= read_connection(&mut summary, value);
                    connection_lists_upgrade |= lists_token(value, b"upgrade");
                }
                FieldKind::Host => {
                    summary.host_count += 1;
                    summary.host = Some(Span::of(buf, value));
                }
                FieldKind::Expect => {
                    summary.expect_continue |= value.eq_ignore_ascii_case(b"100-continue")
                }
                FieldKind::HopByHop => upgrade_present |= is_upgrade_name(header.name.as_bytes()),
                FieldKind::Other => {}
            }
            *slot = Field {
                name: Span::of(buf, header.name.as_bytes()),
                value: Span::of(buf, value),
                kind,
            };
        }
        if summary.chunked {
            self.check_transfer_encoding(buf)?;
        }
        summary.upgrade = connection_lists_upgrade && upgrade_present;
        if summary.upgrade {
            self.keep_upgrade_fields(buf);
        } else if connection_lists_others {
            self.mark_connection_listed(buf);
        }
        Ok(summary)
    }

    /// All fields as (name, value), in order of appearance.
    pub(crate) fn iter<'a, 'b: 'a>(
        &'a self,
        buf: &'b [u8],
    ) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 'a {
        self.list[..self.len]
            .iter()
            .map(move |f| (f.name.get(buf), f.value.get(buf)))
    }

    /// The fields [`Fields::write_forwarded`] sends, as (name, value): hop-by-hop ones left
    /// out, at most one Content-Length (none when chunked or without a length, as a 204's),
    /// its value as received.
    pub(crate) fn forwarded<'a, 'b: 'a>(
        &'a self,
        buf: &'b [u8],
        summary: &'a FieldSummary,
    ) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 'a {
        let mut length_seen = summary.chunked || summary.content_length.is_none();
        self.list[..self.len]
            .iter()
            .filter(move |f| match f.kind {
                FieldKind::Connection | FieldKind::HopByHop => false,
                FieldKind::ContentLength => !std::mem::replace(&mut length_seen, true),
                _ => true,
            })
            .map(move |f| (f.name.get(buf), f.value.get(buf)))
    }

    /// The value of the first field named `name` (case-insensitive).
    pub(crate) fn get<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.iter(buf)
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Appends the end-to-end fields to `out`, with exactly one framing field: the
    /// Transfer-Encoding fields as received when chunked, else one normalized Content-Length.
    ///
    /// Consecutive kept fields whose lines end in CRLF are copied from `buf` in one piece (most
    /// heads are one or two such runs); other fields are rewritten as `name: value` CRLF, which
    /// also turns a bare-LF line into CRLF and drops trailing whitespace.
    pub(crate) fn write_forwarded(&self, buf: &[u8], summary: &FieldSummary, out: &mut Vec<u8>) {
        let mut run = RawRun::default();
        let mut length_written = false;
        for field in &self.list[..self.len] {
            match field.kind {
                FieldKind::Connection | FieldKind::HopByHop => {}
                FieldKind::ContentLength => {
                    if summary.chunked || length_written {
                        continue;
                    }
                    if let Some(length) = summary.content_length {
                        run.flush(buf, out);
                        push_content_length(out, length);
                        length_written = true;
                    }
                }
                _ => match field.raw_line(buf) {
                    Some((start, end)) => run.extend(start, end, buf, out),
                    None => {
                        run.flush(buf, out);
                        push_field(out, field.name.get(buf), field.value.get(buf));
                    }
                },
            }
        }
        run.flush(buf, out);
    }

    /// RFC 9112 §6.3: the last coding must be chunked, and chunked may appear only once.
    /// Several Transfer-Encoding fields form one list, in order.
    fn check_transfer_encoding(&self, buf: &[u8]) -> Result<(), FieldError> {
        let mut codings = self.list[..self.len]
            .iter()
            .filter(|f| f.kind == FieldKind::TransferEncoding)
            .flat_map(|f| list_elements(f.value.get(buf)))
            .filter(|element| !element.is_empty())
            .map(coding_name);
        let mut last_is_chunked = false;
        let mut unknown = false;
        for coding in &mut codings {
            if last_is_chunked {
                // Something follows chunked: chunked twice or not last.
                return Err(FieldError::ChunkedNotLast);
            }
            last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            unknown |= !last_is_chunked && !is_known_coding(coding);
        }
        match (last_is_chunked, unknown) {
            (false, _) => Err(FieldError::ChunkedNotLast),
            (true, true) => Err(FieldError::UnknownTransferCoding),
            (true, false) => Ok(()),
        }
    }

    /// An upgrade head forwards its Upgrade field (and, the fields Connection lists staying
    /// end-to-end, HTTP2-Settings and the like), as HAProxy 2.6 does.
    fn keep_upgrade_fields(&mut self, buf: &[u8]) {
        for field in &mut self.list[..self.len] {
            if field.kind == FieldKind::HopByHop && is_upgrade_name(field.name.get(buf)) {
                field.kind = FieldKind::Other;
            }
        }
    }

    /// Appends the Connection field of a forwarded upgrade head: the tokens the received
    /// Connection fields list, but `close` and `keep-alive` (which speak of this hop only), as
    /// HAProxy writes it (`Connection: Upgrade, HTTP2-Settings`).
    pub(crate) fn push_upgrade_connection(&self, buf: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(b"Connection: ");
        let mut first = true;
        let tokens = self.list[..self.len]
            .iter()
            .filter(|f| f.kind == FieldKind::Connection)
            .flat_map(|f| list_elements(f.value.get(buf)))
            .filter(|t| {
                !t.is_empty()
                    && !t.eq_ignore_ascii_case(b"close")
                    && !t.eq_ignore_ascii_case(b"keep-alive")
            });
        for token in tokens {
            if !first {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(token);
            first = false;
        }
        if first {
            // A 101 whose server listed nothing still switches: say so to the client.
            out.extend_from_slice(b"upgrade");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Fields named in a Connection field are hop-by-hop (RFC 9110 §7.6.1). Only plain
    /// end-to-end fields can be dropped that way: Host and the framing fields stay under our
    /// own rules, so `Connection: content-length` cannot change how a body is delimited.
    fn mark_connection_listed(&mut self, buf: &[u8]) {
        for i in 0..self.len {
            if self.list[i].kind != FieldKind::Other {
                continue;
            }
            let name = self.list[i].name.get(buf);
            let listed = self.list[..self.len]
                .iter()
                .filter(|f| f.kind == FieldKind::Connection)
                .flat_map(|f| list_elements(f.value.get(buf)))
                .any(|token| token.eq_ignore_ascii_case(name));
            if listed {
                self.list[i].kind = FieldKind::HopByHop;
            }
        }
    }
}

/// Classifies a field name; lengths first so that most names cost one comparison at most.
fn classify(name: &[u8]) -> FieldKind {
    let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
    match name.len() {
        2 if is(b"te") => FieldKind::HopByHop,
        4 if is(b"host") => FieldKind::Host,
        6 if is(b"expect") => FieldKind::Expect,
        7 if is(b"trailer") || is(b"upgrade") => FieldKind::HopByHop,
        10 if is(b"connection") => FieldKind::Connection,
        10 if is(b"keep-alive") => FieldKind::HopByHop,
        14 if is(b"content-length") => FieldKind::ContentLength,
        16 if is(b"proxy-connection") => FieldKind::HopByHop,
        17 if is(b"transfer-encoding") => FieldKind::TransferEncoding,
        _ => FieldKind::Other,
    }
}

/// Merges one Content-Length field into the summary: every element must be 1*DIGIT and all
/// elements of all fields must be equal (RFC 9112 §6.3 allows merging identical values).
fn merge_content_length(summary: &mut FieldSummary, value: &[u8]) -> Result<(), FieldError> {
    for element in list_elements(value) {
        let length = parse_decimal(element).ok_or(FieldError::InvalidContentLength)?;
        match summary.content_length {
            Some(previous) if previous != length => {
                return Err(FieldError::ConflictingContentLength)
            }
            _ => summary.content_length = Some(length),
        }
    }
    Ok(())
}

/// Reads the Connection options; returns whether it names other fields (to drop them).
fn read_connection(summary: &mut FieldSummary, value: &[u8]) -> bool {
    let mut lists_others = false;
    for token in list_elements(value).filter(|t| !t.is_empty()) {
        if token.eq_ignore_ascii_case(b"close") {
            summary.close = true;
        } else if token.eq_ignore_ascii_case(b"keep-alive") {
            summary.keep_alive = true;
        } else {
            lists_others = true;
        }
    }
    lists_others
}

/// Whether the comma-separated list `value` holds `token` (case-insensitive).
fn lists_token(value: &[u8], token: &[u8]) -> bool {
    list_elements(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn is_upgrade_name(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"upgrade")
}

/// The elements of a comma-separated list, each trimmed of optional whitespace; empty
/// elements are yielded (Content-Length treats them as errors, other lists skip them).
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// A transfer coding without its parameters (`gzip;q=1` → `gzip`).
fn coding_name(element: &[u8]) -> &[u8] {
    let end = element
        .iter()
        .position(|&b| b == b';')
        .unwrap_or(element.len());
    trim_ows(&element[..end])
}

fn is_known_coding(coding: &[u8]) -> bool {
    ["gzip", "x-gzip", "deflate", "compress", "x-compress"]
        .iter()
        .any(|known| coding.eq_ignore_ascii_case(known.as_bytes()))
}

/// 1*DIGIT as u64; `None` for anything else (sign, hex, inner spaces, empty, overflow).
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

pub(crate) fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_content_length(out: &mut Vec<u8>, length: u64) {
    out.extend_from_slice(b"Content-Length: ");
    push_decimal(out, length);
    out.extend_from_slice(b"\r\n");
}

/// Writes `n` in decimal without going through `fmt` (no allocation, no formatter state).
pub(crate) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_accepts_only_plain_digits() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"0040"), Some(40));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"+4",
            b"-1",
            b"0x28",
            b"4 0",
            b"18446744073709551616",
            b"4.0",
        ] {
            assert_eq!(parse_decimal(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn decimal_writer_round_trips() {
        for n in [0, 7, 10, 4096, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn list_elements_trim_whitespace() {
        let elements: Vec<&[u8]> = list_elements(b" gzip ,\tchunked,").collect();
        assert_eq!(elements, [&b"gzip"[..], b"chunked", b""]);
    }

    #[test]
    fn classify_is_case_insensitive() {
        assert_eq!(classify(b"CONTENT-length"), FieldKind::ContentLength);
        assert_eq!(classify(b"Transfer-Encoding"), FieldKind::TransferEncoding);
        assert_eq!(classify(b"TE"), FieldKind::HopByHop);
        assert_eq!(classify(b"Keep-Alive"), FieldKind::HopByHop);
        assert_eq!(classify(b"X-Custom"), FieldKind::Other);
    }
}
