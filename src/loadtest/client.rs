//! A minimal blocking HTTP/1.1 client over `std::net::TcpStream`: write a request, parse the
//! response head with httparse, read the body framed by Content-Length, chunked encoding or
//! connection close, all under one deadline per request.
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

/// One client connection with its read buffer (bytes after a response stay for the next one).
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
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
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
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
        let head = self.read_final_head(rules)?;
        let mut response = Response {
            status: head.status,
            identity: head.identity,
            body_len: 0,
            reusable: head.keep_alive,
        };
        let want_body_identity = rules.server_header.is_none();
        let mut sink = BodySink::new(want_body_identity);
        match head.framing {
            Framing::None => {}
            Framing::Length(length) => self.read_exact_body(length, &mut sink)?,
            Framing::Chunked => self.read_chunked_body(&mut sink)?,
            Framing::UntilClose => {
                self.read_body_until_close(&mut sink)?;
                response.reusable = false;
            }
        }
        response.body_len = sink.len;
        if want_body_identity {
            response.identity = sink.prefix;
        }
        Ok(response)
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
        self.stream.set_read_timeout(Some(self.remaining()?))?;
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads heads until one is not an interim 1xx response.
    fn read_final_head(&mut self, rules: ReadRules<'_>) -> Result<Head, ErrorClass> {
        let mut first = true;
        loop {
            let head = self.read_head(rules, first)?;
            first = false;
            if !(100..200).contains(&head.status) || head.status == 101 {
                return Ok(head);
            }
        }
    }

    fn read_head(&mut self, rules: ReadRules<'_>, first: bool) -> Result<Head, ErrorClass> {
        loop {
            if let Some((head, len)) = parse_head(self.buffered(), rules)? {
                self.start += len;
                return Ok(head);
            }
            if self.end - self.start > MAX_HEAD {
                return Err(ErrorClass::BadResponse);
            }
            let nothing_yet = first && self.start == self.end;
            match self.fill() {
                Ok(0) if nothing_yet => return Err(ErrorClass::Closed),
                Ok(0) => return Err(ErrorClass::Truncated),
                Ok(_) => {}
                Err(e) => return Err(ErrorClass::from_io(&e)),
            }
        }
    }

    /// Consumes up to `max` buffered body bytes, reading when the buffer is empty.
    fn take_body(&mut self, max: u64, sink: &mut BodySink) -> Result<u64, ErrorClass> {
        if self.start == self.end {
            match self.fill() {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(e) => return Err(ErrorClass::from_io(&e)),
            }
        }
        let take = (self.end - self.start).min(usize::try_from(max).unwrap_or(usize::MAX));
        sink.push(&self.buf[self.start..self.start + take]);
        self.start += take;
        Ok(take as u64)
    }

    fn read_exact_body(
        &mut self,
        mut remaining: u64,
        sink: &mut BodySink,
    ) -> Result<(), ErrorClass> {
        while remaining > 0 {
            match self.take_body(remaining, sink)? {
                0 => return Err(ErrorClass::Truncated),
                n => remaining -= n,
            }
        }
        Ok(())
    }

    fn read_body_until_close(&mut self, sink: &mut BodySink) -> Result<(), ErrorClass> {
        while self.take_body(u64::MAX, sink)? > 0 {}
        Ok(())
    }

    fn read_chunked_body(&mut self, sink: &mut BodySink) -> Result<(), ErrorClass> {
        loop {
            let line = self.read_line()?;
            let size = parse_chunk_size(&line)?;
            if size == 0 {
                // Trailer fields, if any, end with an empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(());
            }
            self.read_exact_body(size, sink)?;
            if !self.read_line()?.is_empty() {
                return Err(ErrorClass::BadResponse);
            }
        }
    }

    /// One CRLF-terminated line (without the CRLF).
    fn read_line(&mut self) -> Result<Vec<u8>, ErrorClass> {
        loop {
            if let Some(pos) = self.buffered().windows(2).position(|w| w == b"\r\n") {
                let line = self.buffered()[..pos].to_vec();
                self.start += pos + 2;
                return Ok(line);
            }
            if self.end - self.start > MAX_HEAD {
                return Err(ErrorClass::BadResponse);
            }
            match self.fill() {
                Ok(0) => return Err(ErrorClass::Truncated),
                Ok(_) => {}
                Err(e) => return Err(ErrorClass::from_io(&e)),
            }
        }
    }
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

    #[test]
    fn chunk_sizes_allow_extensions() {
        assert_eq!(parse_chunk_size(b"1a;name=value"), Ok(26));
        assert_eq!(parse_chunk_size(b"zz"), Err(ErrorClass::BadResponse));
    }
}
