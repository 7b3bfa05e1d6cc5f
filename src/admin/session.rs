//! Framing of one admin connection, exactly as HAProxy 2.6's CLI applet (`cli_io_handler`):
//! which bytes form a command, when a reply ends, when the connection closes. Pure: bytes in,
//! command lines and replies out; the I/O lives in `server`.
//!
//! - A command ends at the first unescaped `\n` or `;` (`\;` stays part of the word; the
//!   words are split later, in `command`). A trailing `\r` is dropped. `a;;b` runs an empty
//!   command between `a` and `b`.
//! - After each command the session writes the command's output and the post-command
//!   terminator: `"\n"`, or `"\n> "` in prompt (interactive) mode.
//! - Non-interactive mode closes once a command ran and no byte is left in the input buffer,
//!   so commands pipelined in one write all run.
//! - A command of 16384 bytes or more with its delimiter (16383 characters and `\n`) closes
//!   the connection without output; 16382 characters and `\n` are fine.
//! - A partial line at EOF is never run; `quit` closes at once with no output.
//! - A command line ending with `<<` opens a payload: the lines after it, up to an empty
//!   line, are the payload (`;` delimits nothing there). The command runs as one string:
//!   its line (`<<` dropped), `\n`, then the payload lines joined by `\n`.

/// What ends a command line and opens a payload (HAProxy's `PAYLOAD_PATTERN`).
pub const PAYLOAD_PATTERN: &str = "<<";

/// Longest command HAProxy accepts, delimiter included: its 16384-byte buffer (`tune.bufsize`)
/// less the byte kept for a trailing NUL.
pub const MAX_COMMAND_BYTES: usize = 16383;

/// What the connection must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run this command line (delimiter and `\r` removed; may be empty).
    Run(String),
    /// No complete command yet: read more bytes.
    Wait,
    /// Close without writing anything more.
    Close,
}

/// The framing state of one admin connection.
#[derive(Debug, Default)]
pub struct Session {
    /// Received bytes not consumed by a command yet.
    input: Vec<u8>,
    interactive: bool,
    /// The client sent EOF: a partial line can never complete.
    eof: bool,
    /// A command line that opened a payload, and the payload's lines so far.
    payload: Option<(String, Vec<String>)>,
}

impl Session {
    pub fn new() -> Session {
        Session::default()
    }

    /// Appends bytes read from the client.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// The client closed its side.
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// The next command to run, or whether to wait or close.
    pub fn next_step(&mut self) -> Step {
        loop {
            let delimiter = match self.payload.is_some() {
                true => self.input.iter().position(|&b| b == b'\n'),
                false => find_delimiter(&self.input),
            };
            let line = match delimiter {
                Some(end) if end < MAX_COMMAND_BYTES => self.take_line(end),
                Some(_) => return Step::Close,
                None if self.input.len() >= MAX_COMMAND_BYTES => return Step::Close,
                None if self.eof => return Step::Close,
                None => return Step::Wait,
            };
            match (self.payload.take(), line.strip_suffix(PAYLOAD_PATTERN)) {
                (Some((command, lines)), _) if line.is_empty() => {
                    return Step::Run(format!("{command}\n{}", lines.join("\n")))
                }
                (Some((command, mut lines)), _) => {
                    lines.push(line);
                    self.payload = Some((command, lines));
                }
                (None, Some(command)) if !command.is_empty() => {
                    self.payload = Some((command.to_string(), Vec::new()));
                }
                (None, _) => return Step::Run(line),
            }
        }
    }

    /// Removes the command ending at `end` (the delimiter's index) from the input.
    fn take_line(&mut self, end: usize) -> String {
        let mut line: Vec<u8> = self.input.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        // HAProxy handles the line as a C string: a NUL byte ends it.
        if let Some(nul) = line.iter().position(|&b| b == 0) {
            line.truncate(nul);
        }
        String::from_utf8_lossy(&line).into_owned()
    }

    /// The post-command terminator the session appends to every command's output.
    pub fn terminator(&self) -> &'static str {
        if self.interactive {
            "\n> "
        } else {
            "\n"
        }
    }

    /// `prompt`: toggles interactive mode (the terminator of `prompt` itself follows the new
    /// mode: `"\n> "` on entering, `"\n"` on leaving).
    pub fn toggle_prompt(&mut self) {
        self.interactive = !self.interactive;
    }

    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Checked after each command's reply: non-interactive sessions end once nothing is left
    /// to read (HAProxy: `!APPCTX_CLI_ST1_PROMPT && !co_data(req)`); any session ends at EOF
    /// once its complete commands ran.
    pub fn closes_after_command(&self) -> bool {
        (!self.interactive && self.input.is_empty()) || (self.eof && self.input.is_empty())
    }

    /// The reply bytes for one command's output.
    pub fn frame(&self, output: &str) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(output.len() + 3);
        bytes.extend_from_slice(output.as_bytes());
        bytes.extend_from_slice(self.terminator().as_bytes());
        bytes
    }
}

/// Index of the first `\n` or `;` not escaped by a backslash (`co_getdelim(…, "\n;", '\\')`).
fn find_delimiter(input: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\\' => i += 2,
            b'\n' | b';' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a test command does to the session.
    enum Reply {
        Text(&'static str),
        TogglePrompt,
        Quit,
    }

    /// A tiny CLI: a few commands with fixed replies, enough to exercise the framing.
    fn respond(line: &str) -> Reply {
        match line.trim() {
            "show version" => Reply::Text("2.6.12-1+deb12u4\n"),
            "show cli level" => Reply::Text("admin\n"),
            "get weight bk_app/nginx2" => Reply::Text("1 (initial 1)\n"),
            "set weight bk_app/nginx2 abc" => {
                Reply::Text("Empty weight string empty or preceded by garbage")
            }
            "disable server bk_app/nginx2" => Reply::Text(""),
            "prompt" => Reply::TogglePrompt,
            "quit" => Reply::Quit,
            "" => Reply::Text("EMPTY\n"),
            _ => Reply::Text("UNKNOWN\n"),
        }
    }

    /// Feeds each write in turn (then EOF if `eof`) and returns the bytes written back and
    /// whether the connection was closed.
    fn converse(session: &mut Session, writes: &[&[u8]], eof: bool) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            session.receive(w);
            if eof && i == writes.len() - 1 {
                session.receive_eof();
            }
            if run(session, &mut out) {
                return (out, true);
            }
        }
        if eof && writes.is_empty() {
            session.receive_eof();
            let closed = run(session, &mut out);
            return (out, closed);
        }
        (out, false)
    }

    /// Runs every complete command; true when the connection closes.
    fn run(session: &mut Session, out: &mut Vec<u8>) -> bool {
        loop {
            match session.next_step() {
                Step::Wait => return false,
                Step::Close => return true,
                Step::Run(line) => {
                    match respond(&line) {
                        Reply::Quit => return true,
                        Reply::TogglePrompt => {
                            session.toggle_prompt();
                            out.extend(session.frame(""));
                        }
                        Reply::Text(t) => out.extend(session.frame(t)),
                    }
                    if session.closes_after_command() {
                        return true;
                    }
                }
            }
        }
    }

    fn one_shot(input: &[u8]) -> (Vec<u8>, bool) {
        converse(&mut Session::new(), &[input], false)
    }

    #[test]
    fn one_command_then_close() {
        assert_eq!(
            one_shot(b"show version\n"),
            (b"2.6.12-1+deb12u4\n\n".to_vec(), true)
        );
    }

    #[test]
    fn pipelined_commands_all_run() {
        let (out, closed) = one_shot(b"show version\nshow cli level\n");
        assert_eq!(out, b"2.6.12-1+deb12u4\n\nadmin\n\n");
        assert!(closed);
    }

    #[test]
    fn semicolons_separate_commands() {
        let (out, closed) = one_shot(b"show version;show cli level;get weight bk_app/nginx2\n");
        assert_eq!(out, b"2.6.12-1+deb12u4\n\nadmin\n\n1 (initial 1)\n\n");
        assert!(closed);
    }

    #[test]
    fn escaped_semicolon_stays_in_the_line() {
        let mut s = Session::new();
        s.receive(b"show version\\;x\n");
        assert_eq!(s.next_step(), Step::Run("show version\\;x".into()));
    }

    #[test]
    fn spaces_around_semicolons_and_empty_commands() {
        let mut s = Session::new();
        s.toggle_prompt();
        let (out, _) = converse(&mut s, &[b"show version ; show version\n"], false);
        assert_eq!(out, b"2.6.12-1+deb12u4\n\n> 2.6.12-1+deb12u4\n\n> ");
        let (out, _) = converse(&mut s, &[b"show version;;show version\n"], false);
        assert_eq!(
            out,
            b"2.6.12-1+deb12u4\n\n> EMPTY\n\n> 2.6.12-1+deb12u4\n\n> ".to_vec()
        );
    }

    #[test]
    fn crlf_is_accepted() {
        assert_eq!(one_shot(b"show version\r\n").0, b"2.6.12-1+deb12u4\n\n");
    }

    #[test]
    fn partial_line_waits_for_the_rest() {
        let mut s = Session::new();
        s.toggle_prompt();
        let (out, closed) = converse(&mut s, &[b"show ver"], false);
        assert_eq!((out.as_slice(), closed), (&b""[..], false));
        let (out, _) = converse(&mut s, &[b"sion\n"], false);
        assert_eq!(out, b"2.6.12-1+deb12u4\n\n> ");
    }

    #[test]
    fn partial_line_at_eof_is_not_run() {
        let (out, closed) = converse(&mut Session::new(), &[b"show version"], true);
        assert!(out.is_empty());
        assert!(closed);
    }

    #[test]
    fn non_interactive_waits_while_a_partial_line_is_buffered() {
        // HAProxy only closes when the input buffer is empty after a command.
        let (out, closed) = converse(&mut Session::new(), &[b"show version\nshow cli"], false);
        assert_eq!(out, b"2.6.12-1+deb12u4\n\n");
        assert!(!closed);
    }

    #[test]
    fn prompt_mode_exact_bytes() {
        let mut s = Session::new();
        let steps: &[(&[u8], &[u8])] = &[
            (b"prompt\n", b"\n> "),
            (b"show version\n", b"2.6.12-1+deb12u4\n\n> "),
            (
                b"show cli level;get weight bk_app/nginx2\n",
                b"admin\n\n> 1 (initial 1)\n\n> ",
            ),
            (
                b"set weight bk_app/nginx2 abc\n",
                b"Empty weight string empty or preceded by garbage\n> ",
            ),
            (b"disable server bk_app/nginx2\n", b"\n> "),
            (
                b"show version\nshow cli level\n",
                b"2.6.12-1+deb12u4\n\n> admin\n\n> ",
            ),
        ];
        for (input, expected) in steps {
            let (out, closed) = converse(&mut s, &[input], false);
            assert_eq!(out, *expected, "{}", String::from_utf8_lossy(input));
            assert!(!closed);
        }
        // Leaving prompt mode: "\n", then the empty buffer closes the connection.
        assert_eq!(
            converse(&mut s, &[b"prompt\n"], false),
            (b"\n".to_vec(), true)
        );
    }

    #[test]
    fn quit_closes_at_once_in_both_modes() {
        assert_eq!(one_shot(b"quit\n"), (vec![], true));
        let mut s = Session::new();
        converse(&mut s, &[b"prompt\n"], false);
        assert_eq!(
            converse(&mut s, &[b"quit\nshow version\n"], false),
            (vec![], true)
        );
    }

    #[test]
    fn lines_up_to_16382_chars_are_accepted() {
        let mut line = vec![b'x'; 16382];
        line.push(b'\n');
        assert_eq!(one_shot(&line), (b"UNKNOWN\n\n".to_vec(), true));
    }

    #[test]
    fn a_line_of_16383_chars_closes_without_output() {
        let mut line = vec![b'x'; 16383];
        line.push(b'\n');
        assert_eq!(one_shot(&line), (vec![], true));
        // Also when the newline has not arrived yet.
        assert_eq!(one_shot(&vec![b'x'; 20000]), (vec![], true));
        let mut s = Session::new();
        s.toggle_prompt();
        assert_eq!(
            converse(&mut s, &[&vec![b'x'; 100_000]], false),
            (vec![], true)
        );
    }

    #[test]
    fn eof_after_complete_commands_runs_them_then_closes() {
        let mut s = Session::new();
        s.toggle_prompt();
        let (out, closed) = converse(&mut s, &[b"show version\n"], true);
        assert_eq!(out, b"2.6.12-1+deb12u4\n\n> ");
        assert!(closed);
    }

    #[test]
    fn nothing_is_written_before_the_first_command() {
        assert_eq!(converse(&mut Session::new(), &[], false), (vec![], false));
    }

    #[test]
    fn a_payload_runs_with_its_command_once_an_empty_line_ends_it() {
        let mut session = Session::new();
        session.receive(b"add map #1 <<\nk1 v1;x\n");
        assert_eq!(session.next_step(), Step::Wait);
        session.receive(b"k2 v2\n\nshow map\n");
        assert_eq!(
            session.next_step(),
            Step::Run("add map #1 \nk1 v1;x\nk2 v2".into())
        );
        assert_eq!(session.next_step(), Step::Run("show map".into()));
    }

    #[test]
    fn a_nul_byte_ends_the_line() {
        let mut s = Session::new();
        s.receive(b"show version\0garbage\n");
        assert_eq!(s.next_step(), Step::Run("show version".into()));
    }
}
