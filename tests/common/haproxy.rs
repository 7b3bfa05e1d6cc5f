//! The real HAProxy 2.6 (Debian's package, installed by scripts/install-test-deps.sh) run on
//! the same config as pointsman, for differential tests: what a client sees must be the same,
//! and what one refuses ([`haproxy_accepts`]) the other refuses too.

use super::{temp_dir, wait_for_port, Proc};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Whether `haproxy -c` accepts `text` (written to `t.cfg` in a fresh test directory).
pub fn haproxy_accepts(text: &str) -> bool {
    let path = temp_dir("haproxy-check").join("t.cfg");
    std::fs::write(&path, text).unwrap();
    Command::new("haproxy")
        .args(["-c", "-q", "-f"])
        .arg(&path)
        .output()
        .expect("haproxy is installed (scripts/install-test-deps.sh)")
        .status
        .success()
}

/// Asserts that `pointsman -c` and `haproxy -c` both refuse `text`, pointsman at `at`
/// (`t.cfg:8`) with `message` in its words.
pub fn assert_refused_by_both(text: &str, at: &str, message: &str) {
    let (code, output) = super::check_config(text);
    assert_eq!(code, 1, "pointsman accepted:\n{text}");
    assert!(output.contains(message), "{message}: {output}");
    assert!(output.contains(at), "{message}: not at {at}: {output}");
    assert!(!haproxy_accepts(text), "haproxy accepted:\n{text}");
}

/// `t.cfg` with a frontend `fe` whose own lines are `lines` (the first is line 8), sending
/// to backend `bk`: the config the rule tests refuse lines in.
pub fn frontend_with(lines: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:1\n{lines}    default_backend bk\nbackend bk\n    server s 127.0.0.1:2\n"
    )
}

/// Each `(lines, message)`: [`frontend_with`] those lines is refused by both at `t.cfg:8`,
/// pointsman in `message`'s words.
pub fn assert_frontend_lines_refused_by_both(cases: &[(&str, &str)]) {
    for (lines, message) in cases {
        assert_refused_by_both(&frontend_with(lines), "t.cfg:8", message);
    }
}

/// A running haproxy, stopped when dropped.
pub struct Haproxy {
    pub proc: Proc,
}

/// Writes `config` and starts `haproxy -db` (foreground) on it; waits until `wait_port`
/// accepts connections. Its warnings go to the test's output.
pub fn haproxy(config: &str, wait_port: u16) -> Haproxy {
    let dir = temp_dir("haproxy");
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let check = Command::new("haproxy")
        .args(["-c", "-q", "-f"])
        .arg(&path)
        .output()
        .expect("haproxy is installed (scripts/install-test-deps.sh)");
    assert!(
        check.status.success(),
        "haproxy refuses the config: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start haproxy");
    let h = Haproxy {
        proc: Proc {
            child,
            name: "haproxy".into(),
        },
    };
    wait_for_port(wait_port, Duration::from_secs(10));
    h
}
