//! Scheduled runtime API commands (`--at 5s 'disable server bk_app/nginx2'`): a thread that
//! sends each command at its time over the admin unix socket, records what came back and how
//! long it took, and judges whether the proxy did what it was asked (see [`refusal`]), so the
//! report can put the switch on the timeline next to the requests around it and count a
//! refused switch as a failure.
//!
//! Framing is HAProxy's non-interactive mode: connect, write the line plus `"\n"`, read the
//! reply until the server closes. A successful `disable server` replies `"\n"`.
//!
//! The error texts below are HAProxy 2.6's own (the runtime API speaks them byte for byte),
//! held here rather than taken from `src/admin`: the load tester shares no code with the proxy
//! it judges.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::options::ScheduledCommand;
use super::output::Output;
use super::sender::format_ms;

/// Longest a command may take before it is reported as failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// A command as it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchEvent {
    /// When it was sent, from the start of the run.
    pub sent: Duration,
    /// When its reply was complete (or the attempt failed).
    pub replied: Duration,
    pub command: String,
    /// The reply with its trailing newlines removed when the proxy did what it was asked;
    /// otherwise why the command counts as failed.
    pub reply: Result<String, SwitchError>,
}

/// Why a switch command failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SwitchError {
    /// The proxy answered, and its answer says it did not do it (`No such server.`); the
    /// reply text, trailing newlines removed.
    Refused(String),
    /// No complete reply: the socket could not be reached, or did not answer in time.
    NoReply(String),
}

impl SwitchError {
    /// The reply text the proxy sent, if it sent one.
    pub fn reply_text(&self) -> Option<&str> {
        match self {
            SwitchError::Refused(text) => Some(text),
            SwitchError::NoReply(_) => None,
        }
    }

    /// [`Display`](fmt::Display) cut to the reply's first line: HAProxy's `Unknown command`
    /// reply goes on with a dozen lines of commands, too long for a verdict line.
    pub fn summary(&self) -> String {
        match self {
            SwitchError::Refused(text) => match text.split_once('\n') {
                Some((first, _)) => format!("refused by the proxy: {:?}", format!("{first} …")),
                None => self.to_string(),
            },
            SwitchError::NoReply(_) => self.to_string(),
        }
    }

    /// Stable key used in JSON and the errors table.
    pub fn key(&self) -> &'static str {
        match self {
            SwitchError::Refused(_) => "switch_refused",
            SwitchError::NoReply(_) => "switch_no_reply",
        }
    }
}

impl fmt::Display for SwitchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SwitchError::Refused(text) => write!(f, "refused by the proxy: {text:?}"),
            SwitchError::NoReply(why) => write!(f, "no reply: {why}"),
        }
    }
}

impl SwitchEvent {
    /// From sending the command to the end of its reply.
    pub fn round_trip(&self) -> Duration {
        self.replied.saturating_sub(self.sent)
    }

    /// The reply text the proxy sent, whether it counts as a success or a refusal.
    pub fn reply_text(&self) -> Option<&str> {
        match &self.reply {
            Ok(text) => Some(text),
            Err(err) => err.reply_text(),
        }
    }

    /// The timeline line, e.g. `>>> disable server bk_app/nginx2  (reply: "", 0.41 ms)`, or
    /// `>>> disable server bk_app/nope  (FAILED: refused by the proxy: "No such server.", 0.38 ms)`.
    pub fn line(&self) -> String {
        let took = format_ms(self.round_trip().as_nanos() as u64);
        match &self.reply {
            Ok(reply) => format!(">>> {}  (reply: {reply:?}, {took})", self.command),
            Err(err) => format!(">>> {}  (FAILED: {err}, {took})", self.command),
        }
    }
}

/// Sends one command and judges its reply: `Ok` with the reply (trailing newlines removed)
/// when the proxy did it, [`SwitchError::Refused`] when its reply says it did not.
pub fn send_command(socket: &Path, command: &str) -> Result<String, SwitchError> {
    let reply = exchange(socket, command).map_err(SwitchError::NoReply)?;
    match refusal(command, &reply) {
        true => Err(SwitchError::Refused(reply)),
        false => Ok(reply),
    }
}

/// Sends one command in non-interactive mode and returns the reply without trailing newlines.
fn exchange(socket: &Path, command: &str) -> Result<String, String> {
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

/// Commands HAProxy 2.6 answers with an empty reply when it does them, by their leading
/// words. It writes text for them only to say why it did not.
const SILENT_ON_SUCCESS: &[&[&str]] = &[
    &["enable", "server"],
    &["disable", "server"],
    &["enable", "health"],
    &["disable", "health"],
    &["enable", "agent"],
    &["disable", "agent"],
    &["enable", "frontend"],
    &["disable", "frontend"],
    &["set", "weight"],
    &["set", "timeout"],
    &["shutdown", "sessions"],
    &["add", "map"],
    &["set", "map"],
    &["del", "map"],
    &["clear", "map"],
    &["operator"],
    &["user"],
];

/// `set server B/S OPTION …` options that succeed silently (`addr` replies with a text).
const SILENT_SET_SERVER_OPTIONS: &[&str] = &["state", "weight", "health"];

/// Commands whose success has its own text, and the texts a success starts with.
const SUCCESS_TEXTS: &[(&[&str], &[&str])] = &[
    (&["add", "server"], &["New server registered."]),
    (&["del", "server"], &["Server deleted.", "Server draining"]),
    (&["wait"], &["Done."]),
];

/// `set server B/S addr …` success texts.
const ADDR_SUCCESS_TEXTS: &[&str] = &["IP changed from", "no need to change the addr"];

/// How HAProxy's refusals begin, for commands whose success output is free text (`show …`,
/// `get weight`, `help`): unknown command, privilege, name lookups and argument errors.
const REFUSAL_STARTS: &[&str] = &[
    "Unknown command",
    "Permission denied",
    "No such ",
    "Can't find ",
    "Require ",
    "Invalid ",
    "Missing ",
    "Expects ",
    "usage: ",
    "Usage: ",
    "This command is not supported",
];

/// Whether `reply` says the proxy refused `command`. HAProxy's runtime API has no status in
/// non-interactive mode: the reply text alone tells, so the rule goes by the command:
///
/// 1. A command that succeeds silently ([`SILENT_ON_SUCCESS`], `set server B/S
///    state|weight|health`) is refused when it gets any text at all. This needs no list of
///    error texts, so it also catches the ones written after this file.
/// 2. A command with a success text ([`SUCCESS_TEXTS`], `set server B/S addr`) is refused
///    unless its reply starts with one of them.
/// 3. Any other command (`show …`, `get weight`, `help`) prints free text on success; it is
///    refused when its reply starts with one of HAProxy's refusals ([`REFUSAL_STARTS`]).
///
/// A line holding several commands (`a; b`) is judged by rule 1 when every part is silent
/// (the whole reply must be empty), and otherwise by rule 3 on every line of the reply.
pub fn refusal(command: &str, reply: &str) -> bool {
    let parts = split_commands(command);
    if parts.len() > 1 {
        return if parts.iter().all(|words| is_silent(words)) {
            !reply.trim().is_empty()
        } else {
            reply.lines().any(starts_like_a_refusal)
        };
    }
    let words = parts.into_iter().next().unwrap_or_default();
    if is_silent(&words) {
        return !reply.trim().is_empty();
    }
    if let Some(texts) = success_texts(&words) {
        return !texts.iter().any(|text| reply.starts_with(text));
    }
    starts_like_a_refusal(reply)
}

fn starts_like_a_refusal(reply: &str) -> bool {
    REFUSAL_STARTS.iter().any(|start| reply.starts_with(start))
}

/// `set server B/S OPTION` has its option third; the other commands are named by their
/// leading words.
fn is_silent(words: &[String]) -> bool {
    let verb: Vec<&str> = words.iter().map(String::as_str).collect();
    match verb.as_slice() {
        ["set", "server", _, option, ..] => SILENT_SET_SERVER_OPTIONS.contains(option),
        _ => SILENT_ON_SUCCESS
            .iter()
            .any(|prefix| verb.starts_with(prefix)),
    }
}

fn success_texts(words: &[String]) -> Option<&'static [&'static str]> {
    let verb: Vec<&str> = words.iter().map(String::as_str).collect();
    if let ["set", "server", _, "addr", ..] = verb.as_slice() {
        return Some(ADDR_SUCCESS_TEXTS);
    }
    SUCCESS_TEXTS
        .iter()
        .find(|(prefix, _)| verb.starts_with(prefix))
        .map(|(_, texts)| *texts)
}

/// Splits a line as HAProxy's CLI does into commands (at unescaped `;`) and words (at spaces
/// and tabs); empty commands are dropped.
fn split_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            // `\;` keeps the `;` in the word; any other backslash is an ordinary character.
            '\\' if chars.as_str().starts_with(';') => word.extend(chars.next()),
            ';' | ' ' | '\t' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                if c == ';' && !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// Sends every command at its time after `start`, printing each as it completes. Every
/// command is sent, even one due after the last response (the plan keeps them within the
/// run); `abort` (the sender failed, the run has no report) skips the ones not yet due.
pub fn run_schedule(
    socket: &Path,
    commands: &[ScheduledCommand],
    start: Instant,
    abort: &AtomicBool,
    output: &Output,
) -> Vec<SwitchEvent> {
    let mut events = Vec::new();
    for scheduled in commands {
        if !sleep_until(start + scheduled.at, abort) {
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

/// Sleeps in short steps so an abort is honoured quickly; false if aborted.
fn sleep_until(when: Instant, abort: &AtomicBool) -> bool {
    loop {
        if abort.load(Ordering::Relaxed) {
            return false;
        }
        let left = when.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_command_is_refused_by_any_text() {
        assert!(!refusal("disable server bk_app/nginx2", ""));
        assert!(refusal("disable server bk_app/nope", "No such server."));
        assert!(refusal("disable server nope/x", "No such backend."));
        assert!(refusal("enable server bk_app/nginx2", "Permission denied"));
        assert!(refusal(
            "set server bk/s state up",
            "'set server <srv> state' expects 'ready', 'drain' and 'maint'."
        ));
        assert!(refusal(
            "set weight bk/s 999",
            "Absolute weight can only be between 0 and 256 inclusive."
        ));
        // A text this file does not know is a refusal all the same.
        assert!(refusal("disable server bk/s", "Some future error."));
        assert!(!refusal("set server bk/s weight 50", ""));
    }

    #[test]
    fn a_command_with_a_success_text_must_get_it() {
        assert!(!refusal(
            "add server bk/s3 127.0.0.1:80",
            "New server registered."
        ));
        assert!(refusal(
            "add server bk/s3 127.0.0.1:80",
            "Already exists a server with the same name in backend."
        ));
        assert!(!refusal("del server bk/s3", "Server deleted."));
        assert!(!refusal("del server bk/s3", "Server draining: it takes no new requests and is deleted when its last request finishes."));
        assert!(refusal("del server bk/s3", "No such server."));
        assert!(!refusal("wait 1s srv-removable bk/s3", "Done."));
        assert!(refusal(
            "wait 1s srv-removable bk/s3",
            "Wait delay expired."
        ));
        assert!(!refusal(
            "set server bk/s addr 127.0.0.2",
            "IP changed from '127.0.0.1' to '127.0.0.2' by 'stats socket command'"
        ));
        assert!(refusal(
            "set server bk/s addr x",
            "Invalid addr 'x' by 'stats socket command'"
        ));
    }

    #[test]
    fn free_text_commands_are_refused_by_haproxys_error_texts() {
        assert!(!refusal("show info", "Name: pointsman\nVersion: 0.1.0"));
        assert!(!refusal("get weight bk/s", "1 (initial 1)"));
        assert!(refusal("get weight bk/nope", "No such server."));
        assert!(refusal("show servers state nope", "Can't find backend."));
        assert!(refusal("show stat nope -1 -1", "No such proxy."));
        assert!(refusal(
            "disabel server bk/s",
            "Unknown command, but maybe one of the following ones is a better match:"
        ));
    }

    #[test]
    fn several_commands_on_a_line_are_judged_together() {
        assert!(!refusal("disable server bk/a; enable server bk/b", ""));
        assert!(refusal(
            "disable server bk/a; enable server bk/nope",
            "No such server."
        ));
        assert!(refusal(
            "show info; get weight bk/nope",
            "Name: x\n\nNo such server."
        ));
        assert_eq!(
            split_commands("set server a\\;b/c state maint;;show info"),
            [
                vec!["set", "server", "a;b/c", "state", "maint"],
                vec!["show", "info"]
            ]
        );
    }

    #[test]
    fn the_line_shows_reply_or_failure_and_round_trip() {
        let event = SwitchEvent {
            sent: Duration::from_millis(500),
            replied: Duration::from_micros(500_410),
            command: "disable server bk/nope".into(),
            reply: Err(SwitchError::Refused("No such server.".into())),
        };
        assert_eq!(event.round_trip(), Duration::from_micros(410));
        assert_eq!(
            event.line(),
            ">>> disable server bk/nope  (FAILED: refused by the proxy: \"No such server.\", 0.41 ms)"
        );
        assert_eq!(event.reply_text(), Some("No such server."));
        let unknown = SwitchError::Refused("Unknown command, but maybe:\n  help".into());
        assert_eq!(
            unknown.summary(),
            "refused by the proxy: \"Unknown command, but maybe: …\""
        );
    }
}
