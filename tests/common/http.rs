//! A minimal HTTP/1.1 client over std sockets, and [`peer_state`]: what a peer did with a
//! connection within a wait (closed, silent, or sent bytes).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How long a [`Client`] read waits before it fails.
const CLIENT_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// A minimal HTTP/1.1 client on one keep-alive connection.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(CLIENT_READ_TIMEOUT)).unwrap();
        let writer = stream.try_clone().unwrap();
        Client {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, raw: &[u8]) {
        self.writer.write_all(raw).unwrap();
    }

    pub fn get(&mut self, path: &str) -> std::io::Result<Response> {
        self.request("GET", path, &[], b"")
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        self.writer.write_all(head.as_bytes())?;
        self.writer.write_all(body)?;
        self.read_response(method == "HEAD")
    }

    /// Reads one response (Content-Length, chunked, or until close).
    pub fn read_response(&mut self, head_request: bool) -> std::io::Result<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before a response",
            ));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&line))?;
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            self.reader.read_line(&mut l)?;
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').ok_or_else(|| bad(l))?;
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        let mut r = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
            return Ok(r);
        }
        if let Some(len) = r.header("content-length") {
            let len: usize = len.parse().map_err(|_| bad(len))?;
            r.body.resize(len, 0);
            self.reader.read_exact(&mut r.body)?;
        } else if r
            .header("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            r.body = self.read_chunked()?;
        } else {
            self.reader.read_to_end(&mut r.body)?;
        }
        Ok(r)
    }

    fn read_chunked(&mut self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            self.reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(&size_line))?;
            if size == 0 {
                loop {
                    let mut t = String::new();
                    self.reader.read_line(&mut t)?;
                    if t.trim_end().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            self.reader.read_exact(&mut crlf)?;
        }
    }

    /// What the server does with this connection within `wait`: closes it, leaves it open and
    /// silent, or sends bytes (those already buffered after the last response count).
    pub fn state(&mut self, wait: Duration) -> PeerState {
        if !self.reader.buffer().is_empty() {
            return PeerState::Data(self.reader.buffer().to_vec());
        }
        let state = peer_state(self.reader.get_mut(), wait);
        self.writer
            .set_read_timeout(Some(CLIENT_READ_TIMEOUT))
            .unwrap();
        state
    }

    /// Asserts the server closes the connection (EOF or reset) within `wait`, without a byte.
    #[track_caller]
    pub fn assert_closed(&mut self, wait: Duration) {
        let state = self.state(wait);
        assert_eq!(state, PeerState::Closed, "expected a close within {wait:?}");
    }

    /// Asserts the connection stays open and silent for `wait`.
    #[track_caller]
    pub fn assert_still_open(&mut self, wait: Duration) {
        let state = self.state(wait);
        assert_eq!(state, PeerState::StillOpen, "expected silence for {wait:?}");
    }
}

/// What a peer did with a connection within a wait. A read timeout is `StillOpen`, never
/// `Closed`: a connection left open and silent must not pass for a closed one.
#[derive(Clone, PartialEq, Eq)]
pub enum PeerState {
    /// EOF, or a reset (the peer closed with bytes of ours unread).
    Closed,
    /// Nothing came within the wait.
    StillOpen,
    /// Bytes came (the first read's worth).
    Data(Vec<u8>),
}

impl std::fmt::Debug for PeerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerState::Closed => write!(f, "Closed"),
            PeerState::StillOpen => write!(f, "StillOpen"),
            PeerState::Data(bytes) => write!(f, "Data({:?})", String::from_utf8_lossy(bytes)),
        }
    }
}

/// A socket whose reads can be bounded in time (TCP or unix), for [`peer_state`].
pub trait TimedRead: Read {
    fn bound_reads(&self, wait: Duration);
}

impl TimedRead for TcpStream {
    fn bound_reads(&self, wait: Duration) {
        self.set_read_timeout(Some(wait)).unwrap();
    }
}

impl TimedRead for UnixStream {
    fn bound_reads(&self, wait: Duration) {
        self.set_read_timeout(Some(wait)).unwrap();
    }
}

/// Reads once from `stream` (waiting at most `wait`) and says what the peer did.
pub fn peer_state(stream: &mut impl TimedRead, wait: Duration) -> PeerState {
    stream.bound_reads(wait);
    let mut buf = [0u8; 4096];
    match stream.read(&mut buf) {
        Ok(0) => PeerState::Closed,
        Ok(n) => PeerState::Data(buf[..n].to_vec()),
        Err(e) => match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => PeerState::StillOpen,
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                PeerState::Closed
            }
            _ => panic!("reading the connection's state: {e}"),
        },
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("bad response: {what:?}"),
    )
}

/// GET on a fresh connection.
pub fn get(port: u16, path: &str) -> std::io::Result<Response> {
    Client::connect(port).get(path)
}
