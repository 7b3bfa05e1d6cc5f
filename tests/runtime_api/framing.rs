//! Framing over the real unix socket, as HAProxy 2.6's CLI frames it
//! (`haproxy-2.6-captures/prompt_mode_raw.txt`, reference §1): one-shot and pipelined
//! commands, `;` and `\;`, prompt mode's exact bytes, CRLF, split lines, the 16 KiB line
//! limit, `quit`, the idle timeout (`stats timeout`) and `set timeout cli`.

use super::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// The idle timeout of these tests' sockets (`stats timeout 1s`).
const IDLE: Duration = Duration::from_secs(1);

fn setup() -> Setup {
    Setup::start(Options {
        global: "    stats timeout 1s\n".into(),
        ..Options::default()
    })
}

fn raw(s: &Setup, input: &[u8]) -> Vec<u8> {
    admin_raw(&s.p.socket, input, Duration::from_secs(10))
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn one_shot_pipelined_and_semicolons() {
    let s = setup();
    let v = version();
    // One command, its output, the "\n" terminator, then EOF.
    assert_eq!(text(raw(&s, b"show cli level\n")), "admin\n\n");
    // Pipelined in one write: all run, then EOF.
    assert_eq!(
        text(raw(&s, b"show version\nshow cli level\n")),
        format!("{v}\n\nadmin\n\n")
    );
    // `;` separates commands, each with its own terminator.
    assert_eq!(
        text(raw(
            &s,
            b"show version;show cli level;get weight bk_app/nginx2\n"
        )),
        format!("{v}\n\nadmin\n\n1 (initial 1)\n\n")
    );
    // Spaces around `;` are fine; `a;;b` runs an empty command in between.
    let out = text(raw(&s, b"show cli level ; show cli level\n"));
    assert_eq!(out, "admin\n\nadmin\n\n");
    let out = text(raw(&s, b"show cli level;;show cli level\n"));
    assert!(out.starts_with("admin\n\nUnknown command. Please enter one of"));
    assert!(out.ends_with("disconnect\n\nadmin\n\n"));
    // `\;` stays part of the word.
    let out = text(raw(&s, b"show version\\;x\n"));
    assert!(
        out.starts_with(
            "Unknown command, but maybe one of the following ones is a better match:\n"
        ),
        "{out}"
    );
    // CRLF is accepted.
    assert_eq!(text(raw(&s, b"show cli level\r\n")), "admin\n\n");
    // A mutation in a pipeline is applied before the next command runs.
    assert_eq!(
        text(raw(
            &s,
            b"set weight bk_app/nginx2 7;get weight bk_app/nginx2\n"
        )),
        "\n7 (initial 1)\n\n"
    );
}

#[test]
fn prompt_mode_exact_bytes() {
    let s = setup();
    let v = version();
    let mut stream = UnixStream::connect(&s.p.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Nothing is written before the first command.
    assert_eq!(
        peer_state(&mut stream, Duration::from_millis(200)),
        PeerState::StillOpen,
        "no greeting"
    );
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let empty = fixture("empty_line.txt");
    let steps: Vec<(&[u8], String)> = vec![
        (b"prompt\n", "\n> ".into()),
        (b"set timeout cli 60\n", "\n> ".into()),
        (b"show version\n", format!("{v}\n\n> ")),
        (
            b"show cli level;get weight bk_app/nginx2\n",
            "admin\n\n> 1 (initial 1)\n\n> ".into(),
        ),
        // The empty line's usage text; in prompt mode its terminator is "\n> ".
        (b"\n", format!("{}\n> ", &empty[..empty.len() - 1])),
        (
            b"set weight bk_app/nginx2 abc\n",
            "Empty weight string empty or preceded by garbage\n> ".into(),
        ),
        (
            b"set weight bk_app/nginx2 300\n",
            "Absolute weight can only be between 0 and 256 inclusive.\n\n> ".into(),
        ),
        (b"disable server bk_app/nginx2\n", "\n> ".into()),
        (b"enable server bk_app/nginx2\n", "\n> ".into()),
        (
            b"show version\nshow cli level\n",
            format!("{v}\n\n> admin\n\n> "),
        ),
        (b"show version\r\n", format!("{v}\n\n> ")),
        (b"del server bk_app/nope\n", "No such server.\n> ".into()),
    ];
    for (input, expected) in &steps {
        stream.write_all(input).unwrap();
        let got = read_exactly(&mut stream, expected.len());
        assert_eq!(got, *expected, "{}", String::from_utf8_lossy(input));
    }
    // A line split over two writes runs once it is complete.
    stream.write_all(b"show ver").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(b"sion\n").unwrap();
    assert_eq!(read_exactly(&mut stream, v.len() + 4), format!("{v}\n\n> "));
    // Leaving prompt mode: "\n", then the empty input buffer closes the connection.
    stream.write_all(b"prompt\n").unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"\n");
}

/// Reads exactly `n` bytes (then nothing more may be pending for a while).
fn read_exactly(stream: &mut UnixStream, n: usize) -> String {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn quit_long_lines_and_partial_lines() {
    let s = setup();
    // quit closes at once with no output, in both modes.
    assert_eq!(raw(&s, b"quit\n"), b"");
    let session = PromptSession::open(&s.p.socket);
    assert_eq!(session.send_until_close(b"quit\nshow version\n"), b"");
    // 16382 characters and a newline are a command; 16383 close with no output at all.
    let mut line = vec![b'x'; 16382];
    line.push(b'\n');
    let out = text(raw(&s, &line));
    assert!(out.starts_with("Unknown command, but maybe"), "{out:.80}");
    let mut line = vec![b'x'; 16383];
    line.push(b'\n');
    assert_eq!(raw(&s, &line), b"");
    assert_eq!(raw(&s, &vec![b'y'; 100_000]), b"");
    // A partial line is not run when the client half-closes.
    let mut stream = UnixStream::connect(&s.p.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"disable server bk_app/nginx2").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"");
    assert_eq!(s.admin("get weight bk_app/nginx2"), "1 (initial 1)\n\n");
    assert_eq!(s.served_by(), "nginx2");
    // The socket still serves after all that.
    assert_eq!(s.admin("show cli level"), "admin\n\n");
}

/// Time until the server closes an idle connection (bounded at 10 s).
fn time_to_close(stream: &mut UnixStream) -> Duration {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("closed by the server");
    assert_eq!(out, b"", "nothing written when an idle session closes");
    started.elapsed()
}

#[test]
fn idle_timeout_and_set_timeout_cli() {
    let s = setup();
    // `stats timeout 1s`: a connection that sends nothing is closed after about a second.
    let mut idle = UnixStream::connect(&s.p.socket).unwrap();
    let waited = time_to_close(&mut idle);
    assert!(waited >= IDLE - Duration::from_millis(200), "{waited:?}");
    // The timer restarts with each command in prompt mode.
    let mut session = PromptSession::open(&s.p.socket);
    assert_eq!(session.send("set timeout cli 2"), "\n> ");
    let waited = time_to_close(session.stream());
    assert!(waited >= Duration::from_millis(1800), "{waited:?}");
    // Bad values: HAProxy's texts, the session keeps its timeout.
    assert_eq!(s.admin("set timeout cli 0"), "Invalid timeout value.\n\n");
    assert_eq!(s.admin("set timeout cli abc"), "Invalid timeout value.\n\n");
    assert_eq!(
        s.admin("set timeout foo 1"),
        "'set timeout' only supports 'cli'.\n\n"
    );
    assert_eq!(s.admin("set timeout cli 30"), "\n");
}

#[test]
fn a_client_that_stops_reading_is_dropped_after_the_idle_timeout() {
    let s = setup();
    let mut stream = UnixStream::connect(&s.p.socket).unwrap();
    // 400 `help` replies (9 KB each) in prompt mode, far more than the socket buffers hold,
    // and nothing read for 3 idle timeouts.
    let mut input = b"prompt\n".to_vec();
    for _ in 0..400 {
        input.extend_from_slice(b"help\n");
    }
    stream.write_all(&input).unwrap();
    std::thread::sleep(3 * IDLE);
    // What was written before the server gave up is still there, then EOF (a server still
    // waiting to write would send all 400 replies and keep the connection open).
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    stream
        .read_to_end(&mut out)
        .expect("EOF: the server closed");
    let replies = String::from_utf8_lossy(&out).matches("  quit   ").count();
    assert!(replies < 400, "{replies} replies");
    // The socket still serves.
    assert_eq!(s.admin("show cli level"), "admin\n\n");
}
