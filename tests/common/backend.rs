//! Backends for the proxy to forward to: the real `pointsman-backend` binary ([`backend`]), the
//! `server` lines that name them, and [`CountingBackend`], an in-process witness of connections.

use super::{Client, Proc};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const BACKEND: &str = env!("CARGO_BIN_EXE_pointsman-backend");

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
