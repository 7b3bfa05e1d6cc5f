//! HTTP/1.1 responses for the load generator: a [`ResponseReader`] that parses one response
//! from bytes as they arrive (httparse heads; bodies framed by Content-Length, chunked encoding
//! or connection close; interim 1xx heads skipped), the [`ReadBuffer`] both engines read into,
//! and the blocking [`Connection`] of the thread engine (`std::net::TcpStream`, one deadline per
//! request). The event engine (`events`) drives the same reader and buffer from a glommio
//! socket, so both engines frame and classify responses identically.
//!
//! It shares no code with the proxy (`crate::http`, `crate::proxy`) on purpose: the load
//! tester is the independent witness of the zero-error promise, so a framing bug in the proxy
//! must not be mirrored by the same bug here.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::outcome::ErrorClass;

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Bytes of body kept to tell which server answered; the rest is read and dropped.
const BODY_PREFIX: usize = 256;
/// Initial read buffer; it doubles only for heads or chunk lines longer than this.
const READ_CHUNK: usize = 16 * 1024;

/// What the caller needs from a response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Value of the `--server-header` header, or the first bytes of the body without one.
    pub identity: Vec<u8>,
    /// Decoded body length.
    pub body_len: u64,
    /// Whether the connection may carry the next request.
    pub reusable: bool,
}

/// How to read responses on a connection.
#[derive(Debug, Clone, Copy)]
pub struct ReadRules<'a> {
    /// Take the server's identity from this header instead of the body.
    pub server_header: Option<&'a str>,
    /// The request was HEAD: responses have no body whatever their headers say.
    pub head_request: bool,
}

/// A connection's input bytes: `start..end` are read but not yet consumed by a response
/// (bytes after one response stay for the next).
pub struct ReadBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for ReadBuffer {
    fn default() -> ReadBuffer {
        ReadBuffer {
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        }
    }
}

impl ReadBuffer {
    /// Read but not yet consumed.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Room to read into: consumed bytes are dropped first, and the buffer doubles only when
    /// unconsumed bytes fill it (a head or chunk line longer than the buffer).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`ReadBuffer::spare`].
    pub fn filled(&mut self, n: usize) {
        self.end += n;
    }

    /// Feeds the unread bytes to `reader`; `Some` when its response is complete.
    pub fn feed(
        &mut self,
        reader: &mut ResponseReader<'_>,
    ) -> Result<Option<Response>, ErrorClass> {
        let (used, done) = reader.advance(self.unread())?;
        self.consume(used);
        Ok(done)
    }
}

/// One client connection with its read buffer (bytes after a response stay for the next one).
pub struct Connection {
    stream: TcpStream,
    input: ReadBuffer,
    deadline: Instant,
}

impl Connection {
    pub fn connect(addr: SocketAddr, deadline: Instant) -> Result<Connection, ErrorClass> {
        let budget = deadline.saturating_duration_since(Instant::now());
        if budget.is_zero() {
            return Err(ErrorClass::ConnectTimeout);
        }
        let stream =
            TcpStream::connect_timeout(&addr, budget).map_err(|e| ErrorClass::from_connect(&e))?;
        // Requests are written in one piece; Nagle would only add delay.
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            input: ReadBuffer::default(),
            deadline,
        })
    }

    /// Sends `request` and reads the whole response before `deadline`.
    pub fn exchange(
        &mut self,
        request: &[u8],
        rules: ReadRules<'_>,
        deadline: Instant,
    ) -> Result<Response, ErrorClass> {
        self.deadline = deadline;
        self.write_request(request)
            .map_err(|e| ErrorClass::from_io(&e))?;
        let mut reader = ResponseReader::new(rules);
        loop {
            if let Some(response) = self.input.feed(&mut reader)? {
                return Ok(response);
            }
            match self.fill() {
                Ok(0) => return reader.end_of_stream(self.input.unread().len()),
                Ok(_) => {}
                Err(e) => return Err(ErrorClass::from_io(&e)),
            }
        }
    }

    fn write_request(&mut self, request: &[u8]) -> io::Result<()> {
        self.stream.set_write_timeout(Some(self.remaining()?))?;
        self.stream.write_all(request)
    }

    /// Time left before the deadline; an expired deadline is a timeout.
    fn remaining(&self) -> io::Result<std::time::Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }

    /// Reads more bytes into the buffer; Ok(0) at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.remaining()?))?;
        loop {
            match self.stream.read(self.input.spare()) {
                Ok(n) => {
                    self.input.filled(n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Parses one response from bytes as they arrive. [`ResponseReader::advance`] takes the unread
/// bytes and says how many it consumed and whether the response is complete;
/// [`ResponseReader::end_of_stream`] says what the peer closing the connection means.
pub struct ResponseReader<'a> {
    rules: ReadRules<'a>,
    step: Step,
    /// No interim (1xx) head came before: a close with nothing read is `Closed`.
    first_head: bool,
    response: Response,
    sink: BodySink,
}

/// Where the reader is inside the response.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Head,
    /// Content-Length body bytes still to come.
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer fields after the last chunk, up to an empty line.
    Trailers,
    UntilClose,
}

impl<'a> ResponseReader<'a> {
    pub fn new(rules: ReadRules<'a>) -> ResponseReader<'a> {
        ResponseReader {
            rules,
            step: Step::Head,
            first_head: true,
            response: Response {
                status: 0,
                identity: Vec::new(),
                body_len: 0,
                reusable: false,
            },
            sink: BodySink::new(rules.server_header.is_none()),
        }
    }

    /// Consumes what it can of `bytes`: (bytes consumed, the response once complete).
    pub fn advance(&mut self, bytes: &[u8]) -> Result<(usize, Option<Response>), ErrorClass> {
        let mut used = 0;
        loop {
            let rest = &bytes[used..];
            let (n, done) = self.step_once(rest)?;
            used += n;
            if done {
                return Ok((used, Some(self.finish())));
            }
            if n == 0 {
                return Ok((used, None));
            }
        }
    }

    /// The peer closed the connection with `unread` bytes left unconsumed in the buffer.
    pub fn end_of_stream(mut self, unread: usize) -> Result<Response, ErrorClass> {
        match self.step {
            Step::Head if self.first_head && unread == 0 => Err(ErrorClass::Closed),
            Step::UntilClose => {
                self.response.reusable = false;
                Ok(self.finish())
            }
            _ => Err(ErrorClass::Truncated),
        }
    }

    /// One step on `bytes`: (consumed, response complete). Consumes 0 only when it needs more.
    fn step_once(&mut self, bytes: &[u8]) -> Result<(usize, bool), ErrorClass> {
        match self.step {
            Step::Head => {
                let Some((head, len)) = parse_head(bytes, self.rules)? else {
                    return too_long(bytes).map(|()| (0, false));
                };
                if (100..200).contains(&head.status) && head.status != 101 {
                    self.first_head = false;
                    return Ok((len, false));
                }
                self.response.status = head.status;
                self.response.identity = head.identity;
                self.response.reusable = head.keep_alive;
                self.step = match head.framing {
                    Framing::None => return Ok((len, true)),
                    Framing::Length(0) => return Ok((len, true)),
                    Framing::Length(length) => Step::Body(length),
                    Framing::Chunked => Step::ChunkSize,
                    Framing::UntilClose => Step::UntilClose,
                };
                Ok((len, false))
            }
            Step::Body(remaining) | Step::ChunkData(remaining) => {
                let take = bytes
                    .len()
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                self.sink.push(&bytes[..take]);
                let left = remaining - take as u64;
                let body_done = left == 0;
                self.step = match (self.step, body_done) {
                    (Step::Body(_), true) => return Ok((take, true)),
                    (Step::Body(_), false) => Step::Body(left),
                    (_, true) => Step::ChunkEnd,
                    (_, false) => Step::ChunkData(left),
                };
                Ok((take, false))
            }
            Step::UntilClose => {
                self.sink.push(bytes);
                Ok((bytes.len(), false))
            }
            Step::ChunkSize | Step::ChunkEnd | Step::Trailers => {
                let Some((line, len)) = split_line(bytes) else {
                    return too_long(bytes).map(|()| (0, false));
                };
                match self.step {
                    Step::ChunkSize => match parse_chunk_size(line)? {
                        0 => self.step = Step::Trailers,
                        size => self.step = Step::ChunkData(size),
                    },
                    Step::ChunkEnd if line.is_empty() => self.step = Step::ChunkSize,
                    Step::ChunkEnd => return Err(ErrorClass::BadResponse),
                    _ if line.is_empty() => return Ok((len, true)),
                    _ => {}
                }
                Ok((len, false))
            }
        }
    }

    fn finish(&mut self) -> Response {
        let mut response = Response {
            identity: std::mem::take(&mut self.response.identity),
            ..self.response.clone()
        };
        response.body_len = self.sink.len;
        if self.rules.server_header.is_none() {
            response.identity = std::mem::take(&mut self.sink.prefix);
        }
        response
    }
}

/// An incomplete head or line longer than this is not HTTP.
fn too_long(pending: &[u8]) -> Result<(), ErrorClass> {
    if pending.len() > MAX_HEAD {
        return Err(ErrorClass::BadResponse);
    }
    Ok(())
}

/// The first CRLF-terminated line of `bytes` (without the CRLF) and its length with it.
fn split_line(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let pos = bytes.windows(2).position(|w| w == b"\r\n")?;
    Some((&bytes[..pos], pos + 2))
}

/// Body framing of a response (RFC 9112 §6.3, in that order of precedence).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
    identity: Vec<u8>,
}

/// Parses a complete head at the start of `bytes`; `Ok(None)` when more bytes are needed.
fn parse_head(bytes: &[u8], rules: ReadRules<'_>) -> Result<Option<(Head, usize)>, ErrorClass> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(ErrorClass::BadResponse),
    };
    let status = response.code.ok_or(ErrorClass::BadResponse)?;
    let mut keep_alive = response.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    let mut identity = Vec::new();
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("connection") {
            let value = header.value.to_ascii_lowercase();
            if contains(&value, b"close") {
                keep_alive = false;
            } else if contains(&value, b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = contains(&header.value.to_ascii_lowercase(), b"chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(header.value).map_err(|_| ErrorClass::BadResponse)?;
            length = Some(text.trim().parse().map_err(|_| ErrorClass::BadResponse)?);
        }
        if rules
            .server_header
            .is_some_and(|h| name.eq_ignore_ascii_case(h))
        {
            identity = header.value.to_vec();
        }
    }
    let framing = if rules.head_request || status == 204 || status == 304 || status < 200 {
        Framing::None
    } else if chunked {
        Framing::Chunked
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    let head = Head {
        status,
        framing,
        keep_alive,
        identity,
    };
    Ok(Some((head, len)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, ErrorClass> {
    let text = std::str::from_utf8(line).map_err(|_| ErrorClass::BadResponse)?;
    let size = text.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(size, 16).map_err(|_| ErrorClass::BadResponse)
}

/// Counts body bytes and keeps the first few when they identify the server.
struct BodySink {
    len: u64,
    prefix: Vec<u8>,
    keep_prefix: bool,
}

impl BodySink {
    fn new(keep_prefix: bool) -> BodySink {
        BodySink {
            len: 0,
            prefix: Vec::new(),
            keep_prefix,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if self.keep_prefix && self.prefix.len() < BODY_PREFIX {
            let room = BODY_PREFIX - self.prefix.len();
            self.prefix
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY_RULES: ReadRules<'static> = ReadRules {
        server_header: None,
        head_request: false,
    };

    #[test]
    fn head_framing_follows_precedence() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        let (head, len) = parse_head(raw, BODY_RULES).unwrap().unwrap();
        assert_eq!(len, raw.len());
        assert_eq!(head.framing, Framing::Chunked);
        let raw = b"HTTP/1.0 200 OK\r\n\r\n";
        let (head, _) = parse_head(raw, BODY_RULES).unwrap().unwrap();
        assert_eq!(head.framing, Framing::UntilClose);
        assert!(!head.keep_alive);
        let raw = b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n";
        let (head, _) = parse_head(raw, BODY_RULES).unwrap().unwrap();
        assert_eq!(head.framing, Framing::None);
    }

    #[test]
    fn head_takes_identity_from_the_named_header() {
        let raw = b"HTTP/1.1 200 OK\r\nx-server: nginx2\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let rules = ReadRules {
            server_header: Some("X-Server"),
            head_request: false,
        };
        let (head, _) = parse_head(raw, rules).unwrap().unwrap();
        assert_eq!(head.identity, b"nginx2");
        assert!(!head.keep_alive);
    }

    #[test]
    fn partial_and_garbage_heads() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-", BODY_RULES)
            .unwrap()
            .is_none());
        assert_eq!(
            parse_head(b"SSH-2.0-OpenSSH\r\n\r\n", BODY_RULES).unwrap_err(),
            ErrorClass::BadResponse
        );
    }

    /// Feeds `raw` in pieces of `step` bytes, as reads would deliver them.
    fn read_in_pieces(raw: &[u8], step: usize) -> Result<Response, ErrorClass> {
        let mut reader = ResponseReader::new(BODY_RULES);
        let mut pending: Vec<u8> = Vec::new();
        for piece in raw.chunks(step) {
            pending.extend_from_slice(piece);
            let (used, done) = reader.advance(&pending)?;
            pending.drain(..used);
            if let Some(response) = done {
                return Ok(response);
            }
        }
        reader.end_of_stream(pending.len())
    }

    #[test]
    fn reader_gives_the_same_response_whatever_the_read_sizes() {
        let raw =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5;x=y\r\nnginx\r\n6\r\n 1.2.3\r\n0\r\nTrailer: t\r\n\r\n";
        for step in [1, 2, 7, raw.len()] {
            let response = read_in_pieces(raw, step).unwrap();
            assert_eq!(response.status, 200);
            assert_eq!(response.body_len, 11);
            assert_eq!(response.identity, b"nginx 1.2.3");
            assert!(response.reusable);
        }
    }

    #[test]
    fn reader_classifies_the_end_of_the_stream() {
        assert_eq!(read_in_pieces(b"", 1).unwrap_err(), ErrorClass::Closed);
        assert_eq!(
            read_in_pieces(b"HTTP/1.1 200 OK\r\nContent-Len", 4).unwrap_err(),
            ErrorClass::Truncated
        );
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf";
        assert_eq!(read_in_pieces(short, 3).unwrap_err(), ErrorClass::Truncated);
        let until_close = read_in_pieces(b"HTTP/1.0 200 OK\r\n\r\nbody", 5).unwrap();
        assert_eq!((until_close.body_len, until_close.reusable), (4, false));
        let bad_chunk_end = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n";
        assert_eq!(
            read_in_pieces(bad_chunk_end, 64).unwrap_err(),
            ErrorClass::BadResponse
        );
    }

    #[test]
    fn reader_leaves_the_next_response_unread() {
        let two = b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n";
        let mut reader = ResponseReader::new(BODY_RULES);
        let (used, done) = reader.advance(two).unwrap();
        assert_eq!(done.unwrap().status, 204);
        assert_eq!(&two[used..], b"HTTP/1.1 200 OK\r\n");
    }

    #[test]
    fn chunk_sizes_allow_extensions() {
        assert_eq!(parse_chunk_size(b"1a;name=value"), Ok(26));
        assert_eq!(parse_chunk_size(b"zz"), Err(ErrorClass::BadResponse));
    }
}
