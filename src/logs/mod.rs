//! Access logs and event logs, HAProxy's formats and destinations, without slowing requests.
//!
//! - `line`: the `httplog` / `tcplog` / connect line formats.
//! - `clock`: local-time date texts, once per second.
//! - `event`: server state-change lines in HAProxy's words.
//! - `writer`: the process's log writer thread, which owns the sockets.
//! - [`ShardLog`]: one per shard. A request appends its line to the shard's buffer for each
//!   target (no lock, no syscall, no allocation once the buffer has grown); a timer task hands
//!   the buffers to the writer every [`FLUSH_EVERY`].
//!
//! Which lines go where: a frontend's traffic goes to its proxy's `log` targets (`log global`
//! expanded), in the format of its `option httplog|tcplog`; a server's state changes go to its
//! backend's targets. Traffic is logged at `info`, a server going down at `alert`, other
//! state changes at `notice`.

pub mod clock;
pub mod event;
pub mod line;
pub mod writer;

use crate::config::{Config, LogFormat, LogTarget, Mode};
use crate::state::State;
use clock::{Clock, Stamp};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;
use writer::Batch;

/// How often a shard hands its buffered lines to the writer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// A shard's buffer for one target stops growing here (lines are dropped and counted until
/// the next flush): a stuck writer must not eat the memory.
const BUFFER_CAP: usize = 4 << 20;

/// Syslog severities pointsman uses.
pub const ALERT: u8 = 1;
pub const NOTICE: u8 = 5;
pub const INFO: u8 = 6;

/// What a frontend writes for each request or connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    Http,
    Tcp,
    /// No `option httplog|tcplog`: one `Connect from` line per accepted connection.
    Connect,
}

/// The distinct log targets of a config, in a fixed order (the writer and every shard agree
/// on the numbers).
pub fn targets_of(config: &Config) -> Vec<LogTarget> {
    let mut targets: Vec<LogTarget> = Vec::new();
    for target in config.proxies.iter().flat_map(|p| &p.logs) {
        if !targets.iter().any(|t| same_target(t, target)) {
            targets.push(target.clone());
        }
    }
    targets
}

fn same_target(a: &LogTarget, b: &LogTarget) -> bool {
    a.destination == b.destination
        && a.format == b.format
        && a.facility == b.facility
        && a.max_level == b.max_level
        && a.min_level == b.min_level
        && a.max_len == b.max_len
}

fn indices_of(all: &[LogTarget], mine: &[LogTarget]) -> Vec<usize> {
    let mut out: Vec<usize> = mine
        .iter()
        .filter_map(|t| all.iter().position(|a| same_target(a, t)))
        .collect();
    out.dedup();
    out
}

/// The logging of one frontend.
#[derive(Debug, Clone)]
pub struct FrontendLog {
    pub targets: Vec<usize>,
    pub format: LineFormat,
}

/// One shard's log buffers.
pub struct ShardLog {
    targets: Vec<LogTarget>,
    /// By frontend index (`State::frontends`).
    frontends: Vec<FrontendLog>,
    /// By backend index: where its servers' state changes go.
    backends: Vec<Vec<usize>>,
    buffers: RefCell<Vec<Vec<u8>>>,
    /// The line being formatted (formatted once, copied to each target).
    scratch: RefCell<Vec<u8>>,
    clock: RefCell<Clock>,
    sender: RefCell<Option<SyncSender<Batch>>>,
    tag: String,
    pid: u32,
    /// Lines lost because the writer fell behind.
    pub dropped: Cell<u64>,
}

impl ShardLog {
    pub fn new(config: &Config, state: &State) -> ShardLog {
        let targets = targets_of(config);
        let frontends = state
            .frontends
            .iter()
            .map(|f| {
                let proxy = config.proxy_with_frontend(&f.name);
                let mine = proxy.map(|p| p.logs.as_slice()).unwrap_or_default();
                let options = proxy.map(|p| p.options).unwrap_or_default();
                let format = match (options.httplog, options.tcplog, f.mode) {
                    (true, _, Mode::Http) => LineFormat::Http,
                    (_, true, _) | (true, _, Mode::Tcp) => LineFormat::Tcp,
                    _ => LineFormat::Connect,
                };
                FrontendLog {
                    targets: indices_of(&targets, mine),
                    format,
                }
            })
            .collect();
        let backends = state
            .backends
            .iter()
            .map(|b| {
                let mine = config
                    .proxy_with_backend(&b.name)
                    .map(|p| p.logs.as_slice())
                    .unwrap_or_default();
                indices_of(&targets, mine)
            })
            .collect();
        ShardLog {
            buffers: RefCell::new(vec![Vec::new(); targets.len()]),
            targets,
            frontends,
            backends,
            scratch: RefCell::new(Vec::with_capacity(512)),
            clock: RefCell::new(Clock::default()),
            sender: RefCell::new(None),
            tag: config
                .global
                .log_tag
                .clone()
                .unwrap_or_else(|| "pointsman".into()),
            pid: std::process::id(),
            dropped: Cell::new(0),
        }
    }

    /// Starts handing lines to the writer (before that, and without targets, nothing is kept).
    pub fn connect(&self, sender: SyncSender<Batch>) {
        *self.sender.borrow_mut() = Some(sender);
    }

    /// How `frontend` logs, if it logs at all.
    pub fn frontend(&self, frontend: usize) -> Option<&FrontendLog> {
        self.frontends
            .get(frontend)
            .filter(|f| !f.targets.is_empty() && self.sender.borrow().is_some())
    }

    /// Formats a traffic line of `frontend` with `write` and queues it at `info`.
    pub fn traffic(&self, frontend: usize, write: impl FnOnce(&mut Vec<u8>, &mut Clock)) {
        let Some(log) = self.frontend(frontend) else {
            return;
        };
        let mut scratch = self.scratch.borrow_mut();
        scratch.clear();
        write(&mut scratch, &mut self.clock.borrow_mut());
        self.queue(&log.targets, INFO, &scratch);
    }

    /// Queues an event of `backend` (a server's state change) at `level`.
    pub fn backend_event(&self, backend: usize, level: u8, message: &str) {
        if self.sender.borrow().is_none() {
            return;
        }
        if let Some(targets) = self.backends.get(backend) {
            self.queue(targets, level, message.as_bytes());
        }
    }

    /// Appends `message` with each target's syslog header to its buffer.
    fn queue(&self, targets: &[usize], level: u8, message: &[u8]) {
        let mut buffers = self.buffers.borrow_mut();
        let now = Stamp::now();
        for &index in targets {
            let (Some(target), Some(buffer)) = (self.targets.get(index), buffers.get_mut(index))
            else {
                continue;
            };
            if level > target.max_level {
                continue;
            }
            if buffer.len() >= BUFFER_CAP {
                self.dropped.set(self.dropped.get() + 1);
                continue;
            }
            let start = buffer.len();
            let severity = level.max(target.min_level);
            self.header(buffer, target, severity, now);
            buffer.extend_from_slice(message);
            buffer.truncate(start + target.max_len.min(buffer.len() - start));
            buffer.push(b'\n');
        }
    }

    fn header(&self, out: &mut Vec<u8>, target: &LogTarget, severity: u8, now: Stamp) {
        let pri = target.facility as u32 * 8 + severity as u32;
        match target.format {
            LogFormat::Raw => {}
            LogFormat::Short => {
                let _ = write!(out, "<{pri}>");
            }
            LogFormat::Rfc3164 => {
                let _ = write!(out, "<{pri}>");
                self.clock.borrow_mut().syslog_date(now, out);
                let _ = write!(out, " {}[{}]: ", self.tag, self.pid);
            }
        }
    }

    /// Hands every non-empty buffer to the writer.
    pub fn flush(&self) {
        let sender = self.sender.borrow();
        let Some(sender) = sender.as_ref() else {
            return;
        };
        let mut buffers = self.buffers.borrow_mut();
        for (target, buffer) in buffers.iter_mut().enumerate() {
            if buffer.is_empty() {
                continue;
            }
            let lines = std::mem::take(buffer);
            match sender.try_send(Batch { target, lines }) {
                Ok(()) => {}
                Err(TrySendError::Full(batch)) | Err(TrySendError::Disconnected(batch)) => {
                    let lost = batch.lines.iter().filter(|&&b| b == b'\n').count();
                    self.dropped.set(self.dropped.get() + lost as u64);
                }
            }
        }
    }

    pub fn has_targets(&self) -> bool {
        !self.targets.is_empty()
    }
}

/// The shard's flush loop, for the shard's life (the shard flushes once more as it stops).
pub async fn flush_loop(log: Rc<ShardLog>) {
    loop {
        glommio::timer::sleep(FLUSH_EVERY).await;
        log.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn config(text: &str) -> Config {
        parse_str("t.cfg", text).unwrap()
    }

    #[test]
    fn lines_get_each_targets_header_level_and_length() {
        let c = config(
            "global\n log stdout format raw local0\n log 127.0.0.1:9 len 80 local1 notice err\n\
             defaults\n mode http\n log global\n option httplog\n\
             frontend fe\n bind 127.0.0.1:1\n default_backend bk\n\
             backend bk\n server s 127.0.0.1:2\n",
        );
        let state = State::from_config(&c, 0);
        let log = ShardLog::new(&c, &state);
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        log.connect(tx);
        assert_eq!(log.frontend(0).unwrap().format, LineFormat::Http);
        log.traffic(0, |out, _| out.extend_from_slice(&[b'x'; 100]));
        log.backend_event(0, ALERT, "Server bk/s is DOWN");
        log.flush();
        let mut got: Vec<Batch> = rx.try_iter().collect();
        got.sort_by_key(|b| b.target);
        assert_eq!(got.len(), 2);
        let raw = String::from_utf8(got[0].lines.clone()).unwrap();
        assert_eq!(raw, format!("{}\nServer bk/s is DOWN\n", "x".repeat(100)));
        // info is above `notice`: only the alert, capped to `err` (17*8+3), cut at 80 bytes.
        let syslog = String::from_utf8(got[1].lines.clone()).unwrap();
        assert!(syslog.starts_with("<139>"), "{syslog}");
        assert!(
            syslog.ends_with(&format!(
                "pointsman[{}]: Server bk/s is DOWN\n",
                std::process::id()
            )),
            "{syslog}"
        );
        assert_eq!(syslog.lines().count(), 1);
    }

    #[test]
    fn no_targets_no_work() {
        let c = config("frontend fe\n mode http\n bind 127.0.0.1:1\n stats enable\n");
        let state = State::from_config(&c, 0);
        let log = ShardLog::new(&c, &state);
        assert!(!log.has_targets());
        assert!(log.frontend(0).is_none());
    }
}
