//! Test harness: start the real `pointsman` and `pointsman-backend` binaries on loopback ports,
//! talk to them with plain std sockets, and stop every process a test started (Drop).
#![allow(dead_code)]

pub mod browser;
pub mod haproxy;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const POINTSMAN: &str = env!("CARGO_BIN_EXE_pointsman");
pub const BACKEND: &str = env!("CARGO_BIN_EXE_pointsman-backend");

/// The request timeout of every load run of the tests (`pointsman load --timeout`): a request
/// not answered in full within it fails the run. One value for all, so no test is laxer.
pub const LOAD_REQUEST_TIMEOUT: &str = "5s";

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Sends a signal (e.g. libc::SIGTERM).
    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// SIGKILL, then waits (up to 5 s) until it is gone.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(5));
    }

    /// Waits for the process to exit within `timeout`; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A fresh directory for one test's files.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pointsman-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port nobody listens on right now, never one handed out before in this process,
/// and (where the kernel's ephemeral range allows) not an ephemeral one: see
/// [`ports_below_ephemeral`].
pub fn free_port() -> u16 {
    let Some((first, count)) = ports_below_ephemeral() else {
        return TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
    };
    // Test processes may run side by side: each starts at its own place in the range.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = std::process::id() as usize * 7919 % count;
    loop {
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(i < count, "free_port: every test port was handed out");
        let port = (first + (start + i) % count) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The ports `free_port` hands out: from 10000 up to the start of the kernel's ephemeral range
/// (`ip_local_port_range`, 32768 by default). A port from `bind(":0")` is an ephemeral one, and
/// between the moment it is released and the moment the test's listener binds it, an outgoing
/// connection (a client of this test or another) can take it as its local port, or a client
/// dialling it can connect to itself; both were seen. `None` if the range starts too low.
fn ports_below_ephemeral() -> Option<(usize, usize)> {
    const FIRST: usize = 10_000;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let ephemeral_start: usize = range.split_whitespace().next()?.parse().ok()?;
    let count = ephemeral_start.checked_sub(FIRST)?;
    (count >= 1_000).then_some((FIRST, count))
}

/// A running test backend.
pub struct Backend {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl Backend {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests it has served (its `/count` endpoint, which does not count itself).
    pub fn count(&self) -> u64 {
        let reply = Client::connect(self.port())
            .request("GET", "/count", &[("Connection", "close")], b"")
            .expect("/count answers");
        reply.text().trim().parse().expect("/count is a number")
    }
}

/// Starts `pointsman-backend` with a body and name on a free port; waits until it listens.
pub fn backend(name: &str, body: &str, extra: &[&str]) -> Backend {
    backend_on("127.0.0.1:0", name, body, extra)
}

pub fn backend_on(listen: &str, name: &str, body: &str, extra: &[&str]) -> Backend {
    let mut child = Command::new(BACKEND)
        .args(["--listen", listen, "--name", name, "--body", body])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pointsman-backend");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .expect("backend prints 'listening on ADDR'");
    Backend {
        proc: Proc {
            child,
            name: name.into(),
        },
        addr,
    }
}

/// Starts one `pointsman-backend` per name, in order, each answering its own name (as body
/// and `X-Server`).
pub fn backends<const N: usize>(names: [&str; N]) -> [Backend; N] {
    names.map(|name| backend(name, name, &[]))
}

/// One backend `server` line, indented: `    server NAME 127.0.0.1:PORT OPTIONS` (`options` may
/// be empty).
pub fn server_line(name: &str, port: u16, options: &str) -> String {
    let space = if options.is_empty() { "" } else { " " };
    format!("    server {name} 127.0.0.1:{port}{space}{options}\n")
}

/// A [`server_line`] per backend, named as the backend was started, each with `options`.
pub fn server_lines<'a>(backends: impl IntoIterator<Item = &'a Backend>, options: &str) -> String {
    backends
        .into_iter()
        .map(|b| server_line(&b.proc.name, b.port(), options))
        .collect()
}

/// The config most end-to-end tests run: an admin `stats socket`, HTTP with short timeouts,
/// `frontend fe` on 127.0.0.1:`port` sending everything to `backend bk`, whose lines (indented,
/// each ending in a newline) are `backend_lines`.
pub fn proxy_config(port: u16, backend_lines: &str) -> String {
    format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n{backend_lines}"
    )
}

/// A running pointsman.
pub struct Pointsman {
    pub proc: Proc,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub config: PathBuf,
}

/// Writes `config` (where `@SOCKET@` is replaced by a socket path in the test's directory, and
/// `@DIR@` by that directory) and
/// starts pointsman on it with `shards` shards; waits until `wait_port` accepts connections and
/// the admin socket answers.
pub fn pointsman(config: &str, shards: usize, wait_port: u16) -> Pointsman {
    start_pointsman(config, shards, wait_port, false, Stdio::inherit(), &[])
}

/// [`pointsman`] with its standard output sent to `stdout` (e.g. `Stdio::piped()` to read the
/// access log of `log stdout`).
pub fn pointsman_with_stdout(
    config: &str,
    shards: usize,
    wait_port: u16,
    stdout: Stdio,
) -> Pointsman {
    start_pointsman(config, shards, wait_port, false, stdout, &[])
}

/// [`pointsman`] with its log (stderr) written to a file that [`Pointsman::log`] reads.
pub fn pointsman_logged(config: &str, shards: usize, wait_port: u16) -> Pointsman {
    start_pointsman(config, shards, wait_port, true, Stdio::inherit(), &[])
}

/// Like [`pointsman`], started through `wrapper` (e.g. `["prlimit", "--nofile=256"]`), which
/// must exec pointsman in its own process so that the pid is pointsman's.
pub fn pointsman_wrapped(
    config: &str,
    shards: usize,
    wait_port: u16,
    wrapper: &[&str],
) -> Pointsman {
    start_pointsman(config, shards, wait_port, false, Stdio::inherit(), wrapper)
}

fn start_pointsman(
    config: &str,
    shards: usize,
    wait_port: u16,
    log_to_file: bool,
    stdout: Stdio,
    wrapper: &[&str],
) -> Pointsman {
    let dir = temp_dir("run");
    let stderr = if log_to_file {
        Stdio::from(std::fs::File::create(dir.join("pointsman.log")).unwrap())
    } else {
        Stdio::inherit()
    };
    let socket = dir.join("admin.sock");
    let config_path = dir.join("pointsman.cfg");
    std::fs::write(
        &config_path,
        config
            .replace("@SOCKET@", socket.to_str().unwrap())
            .replace("@DIR@", dir.to_str().unwrap()),
    )
    .unwrap();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(POINTSMAN);
            c
        }
        None => Command::new(POINTSMAN),
    };
    let child = command
        .arg("-f")
        .arg(&config_path)
        .args(["--shards", &shards.to_string()])
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start pointsman");
    let p = Pointsman {
        proc: Proc {
            child,
            name: "pointsman".into(),
        },
        dir,
        socket,
        config: config_path,
    };
    wait_for_port(wait_port, Duration::from_secs(10));
    if config.contains("@SOCKET@") {
        wait_for(Duration::from_secs(10), || {
            UnixStream::connect(&p.socket).is_ok()
        });
    }
    p
}

impl Pointsman {
    /// One-shot admin command (like `echo CMD | socat stdio SOCKET`): the raw reply.
    pub fn admin(&self, command: &str) -> String {
        admin(&self.socket, command)
    }

    /// The log written so far (only with [`pointsman_logged`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pointsman.log")).unwrap_or_default()
    }

    /// One row of `show stat` (`backend`, and `server` or `BACKEND`) as column → value.
    pub fn stat(&self, backend: &str, server: &str) -> HashMap<String, String> {
        let csv = self.admin("show stat");
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .and_then(|h| h.strip_prefix("# "))
            .expect("show stat header")
            .split(',')
            .collect();
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .find(|row| row.first() == Some(&backend) && row.get(1) == Some(&server))
            .map(|row| {
                header
                    .iter()
                    .zip(row)
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_else(|| panic!("no show stat row {backend}/{server} in:\n{csv}"))
    }

    /// A numeric `show stat` column (0 when empty).
    pub fn stat_number(&self, backend: &str, server: &str, column: &str) -> u64 {
        self.stat(backend, server)
            .get(column)
            .map_or(0, |v| v.parse().unwrap_or(0))
    }

    /// The `status` column of a server (`UP`, `DOWN`, `MAINT`, `UP 1/3` ...).
    pub fn status(&self, backend: &str, server: &str) -> String {
        self.stat(backend, server)["status"].clone()
    }
}

pub fn admin(socket: &Path, command: &str) -> String {
    let mut stream = UnixStream::connect(socket).expect("connect admin socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(format!("{command}\n").as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

pub fn wait_for(timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out after {timeout:?}");
}

pub fn wait_for_port(port: u16, timeout: Duration) {
    wait_for(timeout, || TcpStream::connect(("127.0.0.1", port)).is_ok());
}

/// Resident memory of a process, in KiB (`VmRSS` in /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The peak resident memory of a process from now on: [`PeakRss::start`] resets the kernel's
/// high-water mark (`VmHWM`) to the current RSS, [`PeakRss::kib`] reads it. The kernel raises
/// the mark before it unmaps or discards pages (munmap, madvise), so a spike that is freed
/// again, even between two samples, still shows.
pub struct PeakRss {
    pid: u32,
    /// RSS when the watch started, in KiB.
    pub start_kib: u64,
}

impl PeakRss {
    pub fn start(pid: u32) -> PeakRss {
        // `5` resets the peak RSS (proc(5), clear_refs).
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
            .expect("reset the peak RSS (/proc/PID/clear_refs)");
        PeakRss {
            pid,
            start_kib: status_kib(pid, "VmHWM:"),
        }
    }

    /// The highest RSS since [`PeakRss::start`], in KiB.
    pub fn kib(&self) -> u64 {
        status_kib(self.pid, "VmHWM:")
    }
}

/// A `kB` field of /proc/PID/status (`VmRSS:`, `VmHWM:`); panics when absent.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for pid {pid}"))
}

/// Open file descriptors of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// CPU time (user + system) a process has used so far.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (tests that open many
/// sockets); returns the soft limit it leaves.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}

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

/// Starts `pointsman` with `args` (its stdout and stderr to `log` when given).
pub fn spawn_pointsman(args: &[&std::ffi::OsStr], log: Option<&Path>) -> Proc {
    let mut command = Command::new(POINTSMAN);
    command.args(args);
    if let Some(log) = log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        command.stdout(file.try_clone().unwrap()).stderr(file);
    }
    Proc {
        child: command.spawn().expect("start pointsman"),
        name: "pointsman".into(),
    }
}

/// The pid `show info` reports on the admin socket, if it answers.
pub fn admin_pid(socket: &Path) -> Option<u32> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"show info\n").ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    reply
        .lines()
        .find_map(|l| l.strip_prefix("Pid: "))
        .and_then(|p| p.trim().parse().ok())
}

/// Waits until the process answering `socket` is not `old` (a new process took over); returns
/// its pid.
pub fn wait_for_new_pid(socket: &Path, old: Option<u32>, timeout: Duration) -> u32 {
    let mut new = None;
    wait_for(timeout, || {
        new = admin_pid(socket).filter(|p| Some(*p) != old);
        new.is_some()
    });
    new.unwrap()
}

// ---- Admin socket clients ------------------------------------------------------------------

/// Sends raw bytes on a fresh admin connection and returns every byte the server wrote until
/// it closed (bounded by `timeout`; a server that keeps the connection open fails the test).
pub fn admin_raw(socket: &Path, input: &[u8], timeout: Duration) -> Vec<u8> {
    let mut stream = UnixStream::connect(socket).expect("connect admin socket");
    stream.set_read_timeout(Some(timeout)).unwrap();
    // The server may close before reading everything (over-long lines): ignore EPIPE.
    let _ = stream.write_all(input);
    let mut out = Vec::new();
    match stream.read_to_end(&mut out) {
        Ok(_) => out,
        // ECONNRESET: closed with unread input; what was written before still counts.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
        Err(e) => panic!(
            "admin socket still open after {timeout:?} ({e}); got {:?}",
            String::from_utf8_lossy(&out)
        ),
    }
}

/// An admin connection in prompt (interactive) mode, as hatop and `pointsman ctl` use it.
pub struct PromptSession {
    stream: UnixStream,
}

impl PromptSession {
    /// Connects, enters prompt mode and raises the idle timeout to 60 s.
    pub fn open(socket: &Path) -> PromptSession {
        let stream = UnixStream::connect(socket).expect("connect admin socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut session = PromptSession { stream };
        assert_eq!(session.send_raw(b"prompt\n", 1), "\n> ");
        assert_eq!(session.send_raw(b"set timeout cli 60\n", 1), "\n> ");
        session
    }

    /// Sends one command line; returns its reply, prompt included.
    pub fn send(&mut self, command: &str) -> String {
        self.send_raw(format!("{command}\n").as_bytes(), 1)
    }

    /// Sends raw bytes and reads until `prompts` prompts (`"> "` ending a read) came back.
    pub fn send_raw(&mut self, input: &[u8], prompts: usize) -> String {
        self.stream.write_all(input).unwrap();
        self.read_prompts(prompts)
    }

    /// Reads until the reply ends with the `n`-th prompt.
    pub fn read_prompts(&mut self, n: usize) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&out);
            if text.ends_with("> ")
                && text.matches("\n> ").count() + text.starts_with("> ") as usize >= n
            {
                return text.into_owned();
            }
            let read = self.stream.read(&mut buf).unwrap_or_else(|e| {
                panic!("no prompt ({e}) after {:?}", String::from_utf8_lossy(&out))
            });
            assert!(read > 0, "EOF after {:?}", String::from_utf8_lossy(&out));
            out.extend_from_slice(&buf[..read]);
        }
    }

    /// Sends bytes and reads until the server closes (EOF or reset); returns what came back.
    /// A session still open when the read timeout (10 s) passes fails the test.
    #[track_caller]
    pub fn send_until_close(mut self, input: &[u8]) -> Vec<u8> {
        self.stream.write_all(input).unwrap();
        let mut out = Vec::new();
        match self.stream.read_to_end(&mut out) {
            Ok(_) => out,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
            Err(e) => panic!(
                "admin session not closed ({e}); got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }

    pub fn stream(&mut self) -> &mut UnixStream {
        &mut self.stream
    }
}

/// Runs the real `socat` one-shot: `echo INPUT | socat stdio ADDRESS`; returns its stdout.
pub fn socat(address: &str, input: &str) -> String {
    let mut child = Command::new("socat")
        .args(["stdio", address])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("socat is installed (scripts/install-test-deps.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = wait_output(child, Duration::from_secs(10));
    assert!(out.status.success(), "socat: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Waits for a child's output, killing it after `timeout`.
pub fn wait_output(mut child: Child, timeout: Duration) -> std::process::Output {
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

// ---- Traffic ---------------------------------------------------------------------------------

/// One request of a [`Traffic`] run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which client connection sent it.
    pub client: usize,
    /// Before the request's first byte was written.
    pub sent: Instant,
    /// When the response (or the error) came back.
    pub done: Instant,
    /// HTTP status, 0 for a transport error.
    pub status: u16,
    /// `X-Server` of the response ("" when absent or on error).
    pub server: String,
}

/// Keep-alive clients, one thread each, sending GETs back to back until stopped. Every
/// request is recorded. Bounded: each thread stops by itself after `limit`.
pub struct Traffic {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<Sample>>>,
}

impl Traffic {
    /// Starts one thread per already connected client.
    pub fn start(clients: Vec<Client>, limit: Duration) -> Traffic {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = clients
            .into_iter()
            .enumerate()
            .map(|(index, mut client)| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let deadline = Instant::now() + limit;
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let sent = Instant::now();
                        let (status, server) = match client.get("/") {
                            Ok(r) => (r.status, r.header("x-server").unwrap_or("").to_string()),
                            Err(e) => (0, e.to_string()),
                        };
                        samples.push(Sample {
                            client: index,
                            sent,
                            done: Instant::now(),
                            status,
                            server,
                        });
                        if status == 0 {
                            break;
                        }
                    }
                    samples
                })
            })
            .collect();
        Traffic { stop, threads }
    }

    /// Stops every client and returns all samples.
    pub fn stop(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for thread in self.threads.drain(..) {
            all.extend(thread.join().expect("traffic thread"));
        }
        all
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Counts samples by `X-Server`.
pub fn count_servers<'a>(
    samples: impl IntoIterator<Item = &'a Sample>,
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for s in samples {
        *counts.entry(s.server.clone()).or_insert(0) += 1;
    }
    counts
}

// ---- tmux --------------------------------------------------------------------------------------

/// A private tmux server (`tmux -L NAME`) running one session; killed on drop.
pub struct Tmux {
    name: String,
}

impl Tmux {
    /// Starts `command` in a detached session of `width`x`height`.
    pub fn start(command: &str, width: u16, height: u16) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "pointsman-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let tmux = Tmux { name };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let child = Command::new("tmux")
            .args(["-L", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tmux is installed (scripts/install-test-deps.sh)");
        let out = wait_output(child, Duration::from_secs(10));
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether the session still runs (its command has not exited).
    pub fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.name, "has-session", "-t", "t"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn send_keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "t", keys]);
    }

    /// The visible screen, plain text.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// The visible screen with escape sequences (`capture-pane -e`).
    pub fn screen_with_escapes(&self) -> String {
        self.run(&["capture-pane", "-p", "-e", "-t", "t"])
    }

    /// Waits until the screen satisfies `ready`; returns that screen.
    pub fn wait_screen(&self, timeout: Duration, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "screen not as expected after {timeout:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.name, "kill-server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A TCP port forward on 127.0.0.1 (what the restart guide does with iptables): connections to
/// its port are relayed to `to`. [`Forwarder::close_port`] removes "the rule": new connections
/// are refused while established ones carry on, as conntrack keeps them.
pub struct Forwarder {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
    relayed: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Forwarder {
    pub fn start(to: SocketAddr) -> Forwarder {
        use std::sync::{atomic::AtomicBool, Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let relayed: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accept = {
            let (stop, relayed) = (stop.clone(), relayed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((client, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    };
                    let _ = client.set_nonblocking(false);
                    let Ok(server) = TcpStream::connect(to) else {
                        continue;
                    };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    let mut kept = relayed.lock().unwrap();
                    kept.push(client.try_clone().unwrap());
                    kept.push(server.try_clone().unwrap());
                    relay(client.try_clone().unwrap(), server.try_clone().unwrap());
                    relay(server, client);
                }
                // Dropping the listener closes the port.
            })
        };
        Forwarder {
            port,
            stop,
            accept: Some(accept),
            relayed,
        }
    }

    /// Stops accepting (the port refuses connections); relayed connections carry on.
    pub fn close_port(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.accept.take() {
            let _ = thread.join();
        }
    }
}

/// Copies `from` to `to` on a thread until EOF, then passes the half-close on.
fn relay(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.close_port();
        for stream in self.relayed.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A running private nginx. Dropping it stops it the way its workers stop too (SIGTERM to the
/// master, which then stops them; a SIGKILL would leave the worker holding the port).
pub struct Nginx {
    pub proc: Proc,
    pub port: u16,
}

impl Nginx {
    /// SIGKILL to the master and its workers (killing the master alone would leave its
    /// worker serving the port). The master is stopped first: a master that sees its worker
    /// die forks a new one at once, which would outlive it and keep the port answering.
    pub fn kill_all(&mut self) {
        let master = self.proc.child.id();
        self.proc.signal(libc::SIGSTOP);
        wait_stopped(master);
        for worker in children_of(master) {
            // SAFETY: signalling a process this test started (nginx's worker).
            unsafe {
                libc::kill(worker as i32, libc::SIGKILL);
            }
        }
        self.proc.kill();
    }

    /// Graceful stop (SIGQUIT): the port closes, requests in flight finish, idle keep-alive
    /// connections close. Waits until the master exited.
    pub fn quit(&mut self) {
        self.proc.signal(libc::SIGQUIT);
        assert!(
            self.proc.wait_exit(Duration::from_secs(10)).is_some(),
            "nginx did not quit"
        );
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(None) = self.proc.child.try_wait() {
            self.proc.signal(libc::SIGTERM);
            let _ = self.proc.wait_exit(Duration::from_secs(5));
        }
    }
}

/// A private nginx (`daemon off`, one worker, its own prefix under a temp dir) answering
/// `200 {body}` with `X-Server: {name}` on 127.0.0.1:`port`; waits until it listens.
pub fn nginx(name: &str, body: &str, port: u16) -> Nginx {
    nginx_with(
        name,
        port,
        "",
        &format!("add_header X-Server {name}; return 200 \"{body}\";"),
    )
}

/// A private nginx with `http_extra` directives in its `http` block and `location` as the
/// body of its `location /`.
pub fn nginx_with(name: &str, port: u16, http_extra: &str, location: &str) -> Nginx {
    let prefix = temp_dir(&format!("nginx-{name}"));
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = prefix.join("nginx.conf");
    let text = format!(
        "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
           fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
           {http_extra}\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{ {location} }}\n  }}\n}}\n",
        p = prefix.display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx (installed by scripts/install-test-deps.sh)");
    let nginx = Nginx {
        proc: Proc {
            child,
            name: format!("nginx {name}"),
        },
        port,
    };
    wait_for_port(port, Duration::from_secs(10));
    nginx
}

/// Pids whose parent is `parent` (from /proc/*/stat).
/// Waits (up to 2 s) until process `pid` is in the stopped state (`T` in /proc/PID/stat).
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3));
        if matches!(state, Some("T") | None) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// An HTTP/1.1 server in the test process that counts the TCP connections it accepts: an
/// independent witness of how many connections the proxy opened to it. Answers every request
/// head with a 2-byte keep-alive response; ignores request bodies (use it for GET only).
pub struct CountingBackend {
    port: u16,
    accepted: std::sync::Arc<AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl CountingBackend {
    pub fn start() -> CountingBackend {
        use std::sync::{atomic::AtomicBool, Arc};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind counting backend");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, done) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let done = done.clone();
                        std::thread::spawn(move || Self::serve(stream, &done));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CountingBackend {
            port,
            accepted,
            stop,
        }
    }

    fn serve(mut stream: TcpStream, done: &std::sync::atomic::AtomicBool) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        while !done.load(Ordering::Relaxed) {
            match stream.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => return,
            }
            while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                pending.drain(..end + 4);
                let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                if stream.write_all(reply).is_err() {
                    return;
                }
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for CountingBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
