//! Test harness: start the real `pointsman` and `pointsman-backend` binaries on loopback ports,
//! talk to them with plain std sockets, and stop every process a test started (Drop).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const POINTSMAN: &str = env!("CARGO_BIN_EXE_pointsman");
pub const BACKEND: &str = env!("CARGO_BIN_EXE_pointsman-backend");

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

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// A running pointsman.
pub struct Pointsman {
    pub proc: Proc,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub config: PathBuf,
}

/// Writes `config` (where `@SOCKET@` is replaced by a socket path in the test's directory) and
/// starts pointsman on it with `shards` shards; waits until `wait_port` accepts connections and
/// the admin socket answers.
pub fn pointsman(config: &str, shards: usize, wait_port: u16) -> Pointsman {
    pointsman_wrapped(config, shards, wait_port, &[])
}

/// Like [`pointsman`], started through `wrapper` (e.g. `["prlimit", "--nofile=256"]`), which
/// must exec pointsman in its own process so that the pid is pointsman's.
pub fn pointsman_wrapped(
    config: &str,
    shards: usize,
    wait_port: u16,
    wrapper: &[&str],
) -> Pointsman {
    let dir = temp_dir("run");
    let socket = dir.join("admin.sock");
    let config_path = dir.join("pointsman.cfg");
    std::fs::write(
        &config_path,
        config.replace("@SOCKET@", socket.to_str().unwrap()),
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
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
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
/// sockets).
pub fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
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

/// A minimal HTTP/1.1 client on one keep-alive connection.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
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

    /// True when the server closed the connection (reads EOF within `timeout`).
    pub fn is_closed(&mut self, timeout: Duration) -> bool {
        self.writer.set_read_timeout(Some(timeout)).unwrap();
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
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
