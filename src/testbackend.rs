//! The test backend: a small HTTP/1.1 origin server for tests, the demo and benchmarks, so
//! nothing outside the Rust toolchain (no nginx) is needed to exercise the proxy. Run as the
//! `pointsman-backend` binary, or in-process by `pointsman demo` through [`start`].
//!
//! Design: one accept thread per `--listen` address and one thread per connection, blocking
//! std I/O, keep-alive by default. That is plenty for thousands of requests per second on
//! keep-alive and keeps the server obviously correct, which matters more for a test witness.
//!
//! Paths:
//! - `/` (and anything not below): the fixed `--body`, or `--size` bytes streamed.
//! - `/echo`: the body is the request head exactly as received.
//! - `/status/NNN`: answers status NNN with the normal body.
//! - `--error-percent P`: P % of the requests to `/` answer 503 (evenly spread).
//! - `/close`: closes the connection with a TCP reset, without answering.
//! - `/truncate`: announces the full body length, sends half of it, then closes.
//! - `/health`: `200 ok`.
//! - `/count`: the number of requests served so far (requests to `/count` not included).
//!
//! Every response carries `X-Server: NAME` and `X-Received-Bytes: N` (request body length).
//! Prints `listening on ADDR` once per bound address; exits with status 0 on SIGTERM/SIGINT.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Largest request head accepted; beyond it the connection gets a 431 and is closed.
const MAX_HEAD: usize = 64 * 1024;
/// Unit of body streaming and of reads while discarding request bodies.
const CHUNK: usize = 64 * 1024;

/// The backend's options (the `pointsman-backend` command line).
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// Address to listen on (repeatable); port 0 picks a free port, printed on stdout.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: Vec<SocketAddr>,
    /// Fixed response body.
    #[arg(long, default_value = "pointsman-backend")]
    pub body: String,
    /// Sent as the `X-Server` response header.
    #[arg(long, default_value = "backend")]
    pub name: String,
    /// Delay before answering each request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Random extra delay, uniform in [-J, +J] milliseconds around --delay-ms.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Answer a body of this many bytes (streamed) instead of --body.
    #[arg(long)]
    pub size: Option<u64>,
    /// Send the response body with chunked transfer encoding.
    #[arg(long)]
    pub chunked: bool,
    /// Answer 503 on this percentage of the requests to `/`, spread evenly (a canary's
    /// faulty version): exactly P of every 100 consecutive requests.
    #[arg(long, default_value_t = 0)]
    pub error_percent: u64,
}

/// What every connection thread shares.
struct Shared {
    opts: Options,
    /// Requests served, excluding `/count` itself, for tests to compare with the client's count.
    served: AtomicU64,
    /// Requests to `/` so far, for `--error-percent`.
    main: AtomicU64,
}

/// Binds every `--listen` address and serves each on background threads; returns the bound
/// addresses (port 0 resolved). The threads run until the process exits.
pub fn start(opts: Options) -> io::Result<Vec<SocketAddr>> {
    let listeners = opts
        .listen
        .iter()
        .map(|addr| {
            TcpListener::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let shared = Arc::new(Shared {
        opts,
        served: AtomicU64::new(0),
        main: AtomicU64::new(0),
    });
    let mut bound = Vec::new();
    for listener in listeners {
        bound.push(listener.local_addr()?);
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || accept_loop(listener, shared));
    }
    Ok(bound)
}

/// SIGTERM/SIGINT end the process at once with status 0: there is no state worth flushing, and
/// `_exit` is async-signal-safe, unlike anything that would wake the blocking accept threads.
pub fn exit_on_termination_signals() {
    extern "C" fn on_signal(_: libc::c_int) {
        // SAFETY: _exit is async-signal-safe and takes no pointers.
        unsafe { libc::_exit(0) };
    }
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that only calls an async-signal-safe function.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                let spawned = std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || serve_connection(stream, &shared));
                if let Err(err) = spawned {
                    eprintln!("pointsman-backend: cannot spawn connection thread: {err}");
                }
            }
            // EMFILE and friends: back off instead of spinning.
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A parsed request head: only what the responder needs.
struct RequestHead {
    method: String,
    path: String,
    /// The head exactly as received, for `/echo`.
    raw: Vec<u8>,
    keep_alive: bool,
    body: BodyFraming,
    expect_continue: bool,
}

enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

fn serve_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut inbox = Inbox::new();
    while let Ok(true) = serve_one(&mut stream, &mut inbox, shared) {}
}

/// Serves one request; `Ok(true)` means the connection stays open for the next one.
fn serve_one(stream: &mut TcpStream, inbox: &mut Inbox, shared: &Shared) -> io::Result<bool> {
    let head = match read_head(stream, inbox)? {
        Some(head) => head,
        None => return Ok(false),
    };
    if head.expect_continue {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let received = discard_body(stream, inbox, &head.body)?;
    let path = head.path.split('?').next().unwrap_or("").to_string();
    if path != "/count" {
        shared.served.fetch_add(1, Ordering::Relaxed);
    }
    wait_configured_delay(&shared.opts);
    match path.as_str() {
        "/close" => {
            reset_connection(stream);
            Ok(false)
        }
        "/truncate" => {
            send_truncated(stream, &head, received, &shared.opts)?;
            Ok(false)
        }
        "/echo" => respond_fixed(stream, &head, received, 200, &head.raw, &shared.opts),
        "/health" => respond_fixed(stream, &head, received, 200, b"ok\n", &shared.opts),
        "/count" => {
            let count = format!("{}\n", shared.served.load(Ordering::Relaxed));
            respond_fixed(stream, &head, received, 200, count.as_bytes(), &shared.opts)
        }
        _ => {
            let status = status_from_path(&path).unwrap_or_else(|| main_status(shared));
            respond_main_body(stream, &head, received, status, &shared.opts)
        }
    }
}

/// Reads until a whole head is buffered and parses it; `None` on a clean EOF between requests.
/// Bytes after the head (body, pipelined requests) stay in the inbox.
fn read_head(stream: &mut TcpStream, inbox: &mut Inbox) -> io::Result<Option<RequestHead>> {
    loop {
        if let Some(head) = parse_head(inbox)? {
            return Ok(Some(head));
        }
        if inbox.data().len() > MAX_HEAD {
            let _ = stream.write_all(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return Ok(None);
        }
        if inbox.fill(stream)? == 0 {
            return Ok(None);
        }
    }
}

/// Bytes received and not yet consumed. Allocated and zeroed once per connection: reads go
/// straight into its free tail, so nothing is cleared or shifted per request.
struct Inbox {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
}

impl Inbox {
    fn new() -> Inbox {
        Inbox {
            bytes: vec![0; CHUNK],
            start: 0,
            end: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads what the socket has; returns the number of bytes read (0 at EOF).
    fn fill(&mut self, stream: &mut TcpStream) -> io::Result<usize> {
        if self.end == self.bytes.len() {
            // Full: slide the unconsumed bytes to the front, or grow for a long head.
            if self.start > 0 {
                self.bytes.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.bytes.resize(self.bytes.len() * 2, 0);
            }
        }
        let read = stream.read(&mut self.bytes[self.end..])?;
        self.end += read;
        Ok(read)
    }
}

fn parse_head(inbox: &mut Inbox) -> io::Result<Option<RequestHead>> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(inbox.data()) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(err) => return Err(io::Error::new(io::ErrorKind::InvalidData, err)),
    };
    let version_1_1 = request.version == Some(1);
    let mut keep_alive = version_1_1;
    let mut body = BodyFraming::None;
    let mut expect_continue = false;
    for header in request.headers.iter() {
        let value = String::from_utf8_lossy(header.value).to_ascii_lowercase();
        if header.name.eq_ignore_ascii_case("connection") {
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
        {
            body = BodyFraming::Chunked;
        } else if header.name.eq_ignore_ascii_case("content-length")
            && !matches!(body, BodyFraming::Chunked)
        {
            let length = value
                .trim()
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
            body = BodyFraming::Length(length);
        } else if header.name.eq_ignore_ascii_case("expect") && value.contains("100-continue") {
            expect_continue = true;
        }
    }
    let head = RequestHead {
        method: request.method.unwrap_or("GET").to_string(),
        path: request.path.unwrap_or("/").to_string(),
        raw: inbox.data()[..head_len].to_vec(),
        keep_alive,
        body,
        expect_continue,
    };
    inbox.consume(head_len);
    Ok(Some(head))
}

/// Reads and drops the request body; returns its length (decoded length when chunked).
fn discard_body(
    stream: &mut TcpStream,
    inbox: &mut Inbox,
    framing: &BodyFraming,
) -> io::Result<u64> {
    match framing {
        BodyFraming::None => Ok(0),
        BodyFraming::Length(length) => {
            discard_exact(stream, inbox, *length)?;
            Ok(*length)
        }
        BodyFraming::Chunked => discard_chunked(stream, inbox),
    }
}

fn discard_exact(stream: &mut TcpStream, inbox: &mut Inbox, mut remaining: u64) -> io::Result<()> {
    loop {
        let take = remaining.min(inbox.data().len() as u64) as usize;
        inbox.consume(take);
        remaining -= take as u64;
        if remaining == 0 {
            return Ok(());
        }
        if inbox.fill(stream)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Takes one CRLF-terminated line out of the inbox, reading more as needed.
fn take_line(stream: &mut TcpStream, inbox: &mut Inbox) -> io::Result<Vec<u8>> {
    loop {
        if let Some(pos) = inbox.data().windows(2).position(|w| w == b"\r\n") {
            let line = inbox.data()[..pos].to_vec();
            inbox.consume(pos + 2);
            return Ok(line);
        }
        if inbox.data().len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk line too long",
            ));
        }
        if inbox.fill(stream)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

fn discard_chunked(stream: &mut TcpStream, inbox: &mut Inbox) -> io::Result<u64> {
    let mut total = 0;
    loop {
        let line = take_line(stream, inbox)?;
        let size_text = String::from_utf8_lossy(&line);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            while !take_line(stream, inbox)?.is_empty() {}
            return Ok(total);
        }
        discard_exact(stream, inbox, size)?;
        if !take_line(stream, inbox)?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk without CRLF",
            ));
        }
        total += size;
    }
}

fn wait_configured_delay(opts: &Options) {
    let delay = jittered(opts.delay_ms, opts.jitter_ms);
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
}

/// `delay ± jitter` milliseconds, uniform; a tiny xorshift is plenty for test jitter.
fn jittered(delay_ms: u64, jitter_ms: u64) -> u64 {
    if jitter_ms == 0 {
        return delay_ms;
    }
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(seed());
    }
    let random = STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    });
    let offset = random % (2 * jitter_ms + 1);
    (delay_ms + offset).saturating_sub(jitter_ms)
}

/// A distinct odd seed per thread: the time mixed with a process-wide counter.
fn seed() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let unique = NEXT.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    (nanos ^ unique) | 1
}

/// 200, or 503 for the `--error-percent` share: request n fails when n·P/100 crosses an
/// integer, so any 100 consecutive requests hold exactly P failures.
fn main_status(shared: &Shared) -> u16 {
    let percent = shared.opts.error_percent.min(100);
    if percent == 0 {
        return 200;
    }
    let n = shared.main.fetch_add(1, Ordering::Relaxed) + 1;
    if n * percent / 100 > (n - 1) * percent / 100 {
        503
    } else {
        200
    }
}

fn status_from_path(path: &str) -> Option<u16> {
    let code = path.strip_prefix("/status/")?;
    code.parse().ok().filter(|code| (100..=999).contains(code))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Statuses that never carry a body, whatever the headers say (RFC 9112 §6.3).
fn bodiless(head: &RequestHead, status: u16) -> bool {
    head.method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status)
}

fn response_head(
    head: &RequestHead,
    status: u16,
    received: u64,
    length: Option<u64>,
    opts: &Options,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nServer: pointsman-backend\r\nX-Server: {}\r\nX-Received-Bytes: {received}\r\n",
        reason(status),
        opts.name
    );
    match length {
        Some(length) => out.push_str(&format!("Content-Length: {length}\r\n")),
        None => out.push_str("Transfer-Encoding: chunked\r\n"),
    }
    if !head.keep_alive {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Answers a body held in memory, in one write when it is small.
fn respond_fixed(
    stream: &mut TcpStream,
    head: &RequestHead,
    received: u64,
    status: u16,
    body: &[u8],
    opts: &Options,
) -> io::Result<bool> {
    let send_body = !bodiless(head, status);
    let chunked = opts.chunked && send_body && status != 204 && status != 304;
    let length = (!chunked).then_some(body.len() as u64);
    let mut out = response_head(head, status, received, length, opts);
    if send_body {
        if chunked {
            if !body.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        } else {
            out.extend_from_slice(body);
        }
    }
    stream.write_all(&out)?;
    Ok(head.keep_alive)
}

/// Answers `--size` bytes (streamed) or the fixed `--body`.
fn respond_main_body(
    stream: &mut TcpStream,
    head: &RequestHead,
    received: u64,
    status: u16,
    opts: &Options,
) -> io::Result<bool> {
    let size = match opts.size {
        Some(size) => size,
        None => return respond_fixed(stream, head, received, status, opts.body.as_bytes(), opts),
    };
    let send_body = !bodiless(head, status);
    let chunked = opts.chunked && send_body;
    let length = (!chunked).then_some(size);
    stream.write_all(&response_head(head, status, received, length, opts))?;
    if send_body {
        stream_pattern(stream, size, chunked)?;
    }
    Ok(head.keep_alive)
}

/// Streams `size` bytes of a repeating printable pattern, optionally as chunks.
fn stream_pattern(stream: &mut TcpStream, size: u64, chunked: bool) -> io::Result<()> {
    let pattern: Vec<u8> = (0..CHUNK).map(|i| b'a' + (i % 26) as u8).collect();
    let mut remaining = size;
    while remaining > 0 {
        let take = remaining.min(CHUNK as u64) as usize;
        if chunked {
            stream.write_all(format!("{take:x}\r\n").as_bytes())?;
            stream.write_all(&pattern[..take])?;
            stream.write_all(b"\r\n")?;
        } else {
            stream.write_all(&pattern[..take])?;
        }
        remaining -= take as u64;
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n")?;
    }
    Ok(())
}

/// `/truncate`: promise the whole body, deliver half, close — a body cut short mid-way.
fn send_truncated(
    stream: &mut TcpStream,
    head: &RequestHead,
    received: u64,
    opts: &Options,
) -> io::Result<()> {
    let full = opts.size.unwrap_or(opts.body.len() as u64).max(2);
    let mut out = response_head(head, 200, received, Some(full), opts);
    out.extend(std::iter::repeat_n(b'x', (full / 2) as usize));
    stream.write_all(&out)?;
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// `/close`: abort with SO_LINGER 0 so the client sees a real TCP reset, not a polite FIN.
fn reset_connection(stream: &mut TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
