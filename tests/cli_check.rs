//! `pointsman -c` and start-up errors: the guides' configs are accepted, the broken ones are
//! refused with file:line and exit 1, a port in use is a clear error, and so is a process that
//! cannot set up io_uring (no locked memory).

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

fn check(path: &str) -> (i32, String) {
    check_config_file(std::path::Path::new(path))
}

#[test]
fn bundled_configs_are_valid() {
    for cfg in [
        "configs/hatop-guide.cfg",
        "configs/runtime-api-guide.cfg",
        "configs/restart-guide.cfg",
        "configs/quickstart.cfg",
    ] {
        let (code, text) = check(cfg);
        assert_eq!(code, 0, "{cfg}: {text}");
        assert!(
            text.contains("Configuration file is valid"),
            "{cfg}: {text}"
        );
    }
}

/// Debian's default haproxy.cfg, as its package ships it (tests/fixtures/debian), loads in
/// pointsman as it does in haproxy: its `ssl-default-bind-*`, `errorfile`, `user haproxy`
/// (the user the haproxy package creates) and ignored process keywords included.
#[test]
fn debians_default_haproxy_cfg_loads() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debian");
    let text = std::fs::read_to_string(fixture.join("haproxy.cfg"))
        .unwrap()
        .replace(
            "/etc/haproxy/errors",
            &fixture.join("errors").display().to_string(),
        );
    let (code, output) = check_config(&text);
    assert_eq!(code, 0, "{output}");
    for ignored in ["'chroot' is ignored", "'daemon' is ignored"] {
        assert!(output.contains(ignored), "{ignored}: {output}");
    }
    assert!(
        common::haproxy::haproxy_accepts(&text),
        "haproxy refuses it"
    );
}

#[test]
fn guide_000_without_addresses_is_refused_with_its_line() {
    let (code, text) = check("tests/fixtures/config/guide-000-noaddr.cfg");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("guide-000-noaddr.cfg:2:"), "{text}");
    assert!(text.contains("nginx1"), "{text}");
}

#[test]
fn unknown_keyword_is_refused_with_file_and_line() {
    let dir = temp_dir("check");
    let path = dir.join("bad.cfg");
    std::fs::write(
        &path,
        "frontend f\n    bind 127.0.0.1:1\n    frobnicate yes\n",
    )
    .unwrap();
    let (code, text) = check(path.to_str().unwrap());
    assert_eq!(code, 1);
    assert!(text.contains("bad.cfg:3:"), "{text}");
    assert!(text.contains("frobnicate"), "{text}");
}

#[test]
fn a_port_in_use_is_a_clear_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = temp_dir("inuse");
    let path = dir.join("inuse.cfg");
    std::fs::write(&path, format!("frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\nbackend b\n    server s 127.0.0.1:9\n")).unwrap();
    let out = Command::new(POINTSMAN)
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("inuse.cfg:2:"), "{text}");
    assert!(text.to_lowercase().contains("in use"), "{text}");
}

/// A one-frontend config on `port` (its server is never reached).
fn minimal_config(tag: &str, port: u16, server_port: u16) -> std::path::PathBuf {
    let path = temp_dir(tag).join("minimal.cfg");
    std::fs::write(
        &path,
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\n\
             backend b\n    server s 127.0.0.1:{server_port}\n"
        ),
    )
    .unwrap();
    path
}

/// io_uring cannot be set up without locked memory: pointsman exits 1 with one line that names
/// the cause and the fix, and leaves nothing listening. A hard limit of 0, because pointsman
/// raises its soft limit to the hard one at start (src/sys.rs, `raise_limits`).
#[test]
fn io_uring_set_up_failure_is_one_line_with_the_fix() {
    let port = free_port();
    let path = minimal_config("memlock0", port, 9);
    let child = Command::new("prlimit")
        .arg("--memlock=0:0")
        .arg(POINTSMAN)
        .arg("-f")
        .arg(&path)
        .args(["--shards", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux)");
    let out = wait_output(child, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("[ALERT] ("), "{line}");
    assert!(line.contains("cannot set up io_uring"), "{line}");
    assert!(line.contains("MemLockLimit"), "the cause: {line}");
    assert!(line.contains("`ulimit -l unlimited`"), "the fix: {line}");
    assert!(
        line.contains("LimitMEMLOCK=infinity"),
        "the fix under systemd: {line}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens after the failure"
    );
}

/// The soft and hard `Max locked memory` of a process, as /proc shows them.
fn memlock_limits(pid: &str) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .unwrap();
    let values: Vec<&str> = line.split_whitespace().collect();
    (values[3].to_string(), values[4].to_string())
}

/// A soft locked-memory limit of 0 under the (unchanged, non-zero) hard one is no problem:
/// pointsman raises it to the hard one and serves.
#[test]
fn a_soft_locked_memory_limit_is_raised_to_the_hard_one() {
    let (_, hard) = memlock_limits("self");
    assert_ne!(hard, "0", "this test needs a non-zero hard RLIMIT_MEMLOCK");
    let s = backend("s", "served", &[]);
    let port = free_port();
    let text = proxy_config(port, &server_lines([&s], ""));
    // `0:` sets the soft limit only (raising a hard limit needs CAP_SYS_RESOURCE).
    let p = pointsman_wrapped(&text, 2, port, &["prlimit", "--memlock=0:"]);
    assert_eq!(get(port, "/").unwrap().text(), "served");
    let pid = p.proc.child.id().to_string();
    assert_eq!(memlock_limits(&pid), (hard.clone(), hard));
}

/// Every `tune.*` keyword of HAProxy 2.6 that pointsman has no knob for, with a value haproxy
/// 2.6.12 takes (this list is the test's own, not read from the code).
const TUNE_KEYWORDS: &[(&str, &str)] = &[
    ("tune.buffers.limit", "1024"),
    ("tune.buffers.reserve", "2"),
    ("tune.comp.maxlevel", "8"),
    ("tune.fail-alloc", "0"),
    ("tune.h2.header-table-size", "4096"),
    ("tune.h2.initial-window-size", "65535"),
    ("tune.h2.max-concurrent-streams", "100"),
    ("tune.h2.max-frame-size", "16384"),
    ("tune.http.cookielen", "63"),
    ("tune.http.logurilen", "1024"),
    ("tune.http.maxhdr", "101"),
    ("tune.idle-pool.shared", "on"),
    ("tune.idletimer", "1000"),
    ("tune.listener.multi-queue", "on"),
    ("tune.lua.forced-yield", "10000"),
    ("tune.lua.maxmem", "64"),
    ("tune.lua.service-timeout", "4s"),
    ("tune.lua.session-timeout", "4s"),
    ("tune.lua.task-timeout", "4s"),
    ("tune.maxaccept", "64"),
    ("tune.maxpollevents", "200"),
    ("tune.maxrewrite", "1024"),
    ("tune.pattern.cache-size", "10000"),
    ("tune.peers.max-updates-at-once", "200"),
    ("tune.pipesize", "65536"),
    ("tune.pool-high-fd-ratio", "25"),
    ("tune.pool-low-fd-ratio", "20"),
    ("tune.rcvbuf.client", "65536"),
    ("tune.rcvbuf.server", "65536"),
    ("tune.recv_enough", "10000"),
    ("tune.runqueue-depth", "200"),
    ("tune.sched.low-latency", "on"),
    ("tune.sndbuf.client", "65536"),
    ("tune.sndbuf.server", "65536"),
    ("tune.ssl.capture-buffer-size", "128"),
    ("tune.ssl.capture-cipherlist-size", "128"),
    ("tune.ssl.default-dh-param", "2048"),
    ("tune.ssl.force-private-cache", ""),
    ("tune.ssl.hard-maxrecord", "16384"),
    ("tune.ssl.keylog", "on"),
    ("tune.ssl.lifetime", "300s"),
    ("tune.ssl.ssl-ctx-cache-size", "1000"),
    ("tune.vars.check-max-size", "1024"),
    ("tune.vars.global-max-size", "1024"),
    ("tune.vars.proc-max-size", "1024"),
    ("tune.vars.reqres-max-size", "1024"),
    ("tune.vars.sess-max-size", "1024"),
    ("tune.vars.txn-max-size", "1024"),
];

fn with_global_line(line: &str) -> String {
    format!(
        "global\n    {line}\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
         frontend fe\n    bind 127.0.0.1:19555\n    default_backend bk\nbackend bk\n    server s 127.0.0.1:19556\n"
    )
}

/// A production config's `tune.*` lines load, each with a one-line warning naming it (no
/// knob behind it), as the real haproxy loads them; a `tune.*` word HAProxy does not know is
/// an error in both.
#[test]
fn haproxy_tune_keywords_load_with_a_warning_naming_each() {
    let mut wrong = Vec::new();
    for (keyword, value) in TUNE_KEYWORDS {
        let text = with_global_line(&format!("{keyword} {value}"));
        let (code, out) = check_config(&text);
        let warned = out.lines().any(|l| {
            l.contains("WARNING")
                && l.contains(&format!("'{keyword}' is accepted and has no effect"))
        });
        if code != 0 || !warned || !common::haproxy::haproxy_accepts(&text) {
            wrong.push(format!(
                "{keyword}: pointsman exit {code}, warned {warned}: {out}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let unknown = with_global_line("tune.nope 1");
    let (code, out) = check_config(&unknown);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("t.cfg:2") && out.contains("tune.nope"),
        "{out}"
    );
    assert!(!common::haproxy::haproxy_accepts(&unknown));
}
