//! Scheduled runtime API commands (`--at 5s 'disable server bk_app/nginx2'`): a thread that
//! sends each command at its time over the admin unix socket and records what came back, so
//! the report can put the switch on the timeline next to the requests around it.
//!
//! Framing is HAProxy's non-interactive mode: connect, write the line plus `"\n"`, read the
//! reply until the server closes. A successful `disable server` replies `"\n"`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::options::ScheduledCommand;
use super::output::Output;

/// Longest a command may take before it is reported as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// A command as it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchEvent {
    /// When it was sent, from the start of the run.
    pub sent: Duration,
    /// When its reply was complete.
    pub replied: Duration,
    pub command: String,
    /// The reply with its trailing newlines removed, or why the command failed.
    pub reply: Result<String, String>,
}

impl SwitchEvent {
    /// The timeline line, e.g. `>>> disable server bk_app/nginx2  (reply: "")`.
    pub fn line(&self) -> String {
        match &self.reply {
            Ok(reply) => format!(">>> {}  (reply: {:?})", self.command, reply),
            Err(err) => format!(">>> {}  (FAILED: {err})", self.command),
        }
    }
}

/// Sends one command in non-interactive mode and returns the reply without trailing newlines.
pub fn send_command(socket: &Path, command: &str) -> Result<String, String> {
    let mut stream =
        UnixStream::connect(socket).map_err(|e| format!("connect {}: {e}", socket.display()))?;
    stream
        .set_read_timeout(Some(COMMAND_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(COMMAND_TIMEOUT)))
        .map_err(|e| format!("socket options: {e}"))?;
    stream
        .write_all(format!("{command}\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .map_err(|e| format!("read reply: {e}"))?;
    let reply = String::from_utf8_lossy(&reply);
    Ok(reply.trim_end_matches(['\n', '\r']).to_string())
}

/// Sends every command at its time after `start`, printing each as it completes. Stops early
/// (skipping the commands not yet due) when `stop` is set.
pub fn run_schedule(
    socket: &Path,
    commands: &[ScheduledCommand],
    start: Instant,
    stop: &AtomicBool,
    output: &Output,
) -> Vec<SwitchEvent> {
    let mut events = Vec::new();
    for scheduled in commands {
        if !sleep_until(start + scheduled.at, stop) {
            break;
        }
        let sent = start.elapsed();
        let reply = send_command(socket, &scheduled.command);
        let event = SwitchEvent {
            sent,
            replied: start.elapsed(),
            command: scheduled.command.clone(),
            reply,
        };
        output.line(&format!("{} {}", output.wall_clock(), event.line()));
        events.push(event);
    }
    events
}

/// Sleeps in short steps so a stop request is honoured quickly; false if stopped.
fn sleep_until(when: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = when.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}
