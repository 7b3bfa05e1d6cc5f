//! Shared by the `backend_*` and `loadtest_*` integration tests: start `pointsman-backend` on a
//! port the kernel picks (`--listen 127.0.0.1:0`, read back from its `listening on` line), kill
//! it when the guard drops, and parse load options exactly as the CLI will.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use pointsman::loadtest::LoadOptions;

/// Longest a backend may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `pointsman-backend`, killed on drop.
pub struct Backend {
    child: Child,
    pub addr: SocketAddr,
}

impl Backend {
    /// Starts a backend on a free 127.0.0.1 port with the extra `args`.
    pub fn start(args: &[&str]) -> Backend {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pointsman-backend"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pointsman-backend");
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, received) = mpsc::channel();
        // Keep draining stdout for the child's whole life so it never writes into a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut backend = Backend {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        let line = received
            .recv_timeout(START_TIMEOUT)
            .expect("backend printed no 'listening on' line");
        backend.addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        backend
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Requests the backend has served (its `/count` endpoint).
    pub fn count(&self) -> u64 {
        let reply = exchange(
            self.addr,
            b"GET /count HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        let (head, mut body) = split(&reply);
        if head.contains("Transfer-Encoding: chunked") {
            body = dechunk(&body);
        }
        let text = String::from_utf8(body).expect("count is text");
        text.trim().parse().expect("count is a number")
    }

    /// Kills the backend now (SIGKILL), as a crash would: its sockets close under the clients.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit on its own and returns whether it exited with status 0.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<bool> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `request` on a fresh connection and reads until the server closes it.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).expect("write request");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read reply");
    reply
}

/// Splits a reply into (head, body) at the first blank line.
pub fn split(reply: &[u8]) -> (String, Vec<u8>) {
    let at = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&reply[..at]).into_owned();
    (head, reply[at + 4..].to_vec())
}

/// Decodes a complete chunked body (no trailers), checking every CRLF on the way.
pub fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk line");
        let size_text = std::str::from_utf8(&rest[..line_end]).expect("chunk size text");
        let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            assert_eq!(rest, b"\r\n", "no trailers, one final CRLF");
            return body;
        }
        body.extend_from_slice(&rest[..size]);
        assert_eq!(&rest[size..size + 2], b"\r\n", "CRLF after chunk data");
        rest = &rest[size + 2..];
    }
}

/// A port nothing listens on: bound by the kernel's choice, then released.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadOptions,
}

/// Parses `pointsman load ARGS` the way main.rs will (through `#[command(flatten)]`).
pub fn load_options(args: &[&str]) -> LoadOptions {
    Cli::try_parse_from(std::iter::once("load").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("bad test arguments {args:?}: {e}"))
        .load
}

/// A `Write` whose bytes a test can read back while the run goes on.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
