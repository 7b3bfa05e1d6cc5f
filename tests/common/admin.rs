//! Admin socket clients: one-shot commands, raw bytes, a prompt-mode session, the real `socat`,
//! `show stat` rows, and the pid a socket's process reports (to follow a reload).

use super::{wait_for, wait_output};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// The rows of a `show stat` reply, each as column name → value.
pub fn stat_rows(csv: &str) -> Vec<HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .expect("show stat header")
        .split(',')
        .collect();
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            header
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
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
