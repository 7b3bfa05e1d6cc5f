//! Soak: constant load through the real `pointsman` (the project's own `pointsman load`, an
//! independent witness) while the runtime state changes every second (`set weight`) and a
//! backend is restarted every minute (put in MAINT, killed, started again on the same port,
//! set READY). Asserts zero failed requests, resident memory flat after the warm-up, and no
//! descriptor growth.
//!
//! `SOAK_SECONDS` sets the length (default 180, the CI run); `scripts/soak.sh` runs it for 30
//! minutes. Measured numbers are printed (`--nocapture` to see them).

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Load: requests per second over a few keep-alive connections.
const RATE: u32 = 200;
/// A backend is restarted this often.
const RESTART_EVERY: Duration = Duration::from_secs(60);
/// Memory and descriptors are sampled this often.
const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// RSS may differ from its level after the warm-up by at most this much.
const RSS_SLACK_KIB: u64 = 8 * 1024;
/// Descriptors may differ by this many (idle pooled server connections come and go).
const FD_SLACK: usize = 32;

fn soak_seconds() -> u64 {
    std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180)
}

/// The number after `"key":` in a JSON text (first occurrence).
fn json_number(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: usize,
}

#[test]
fn soak_under_load_with_mutations_and_backend_restarts() {
    let seconds = soak_seconds();
    let duration = Duration::from_secs(seconds);
    let warm_up = Duration::from_secs((seconds / 6).clamp(10, 60));
    let ports = [free_port(), free_port()];
    let mut servers: Vec<Backend> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| backend_on(&format!("127.0.0.1:{p}"), &format!("s{}", i + 1), "", &[]))
        .collect();
    let port = free_port();
    let config = format!(
        "global\n    stats socket @SOCKET@ level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    retries 3\n    option redispatch\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{}\n    server s2 127.0.0.1:{}\n",
        ports[0], ports[1]
    );
    let p = pointsman(&config, 2, port);
    let pid = p.proc.child.id();
    let report = p.dir.join("soak.json");
    let mut load = Proc {
        child: Command::new(POINTSMAN)
            .args(["load", &format!("http://127.0.0.1:{port}/")])
            .args(["--rate", &RATE.to_string(), "-c", "8"])
            .args(["-d", &format!("{seconds}s"), "--server-header", "x-server"])
            .args(["--timeout", LOAD_REQUEST_TIMEOUT])
            .arg("--json")
            .arg(&report)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pointsman load"),
        name: "load".into(),
    };

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut next_restart = RESTART_EVERY;
    let mut mutations = 0u64;
    let mut restarts = 0u64;
    let mut tick = 0u64;
    while started.elapsed() < duration {
        let now = started.elapsed();
        if now >= next_sample {
            samples.push(Sample {
                at: now,
                rss_kib: rss_kib(pid),
                fds: fd_count(pid),
            });
            next_sample += SAMPLE_EVERY;
        }
        if now >= next_restart && now + Duration::from_secs(5) < duration {
            let which = (restarts % 2) as usize;
            restart(&p, &mut servers, which, ports[which]);
            restarts += 1;
            next_restart += RESTART_EVERY;
        }
        // A runtime mutation every second: weights move between 1 and 10 (never 0, so one
        // server always takes traffic while the other restarts).
        let server = tick % 2 + 1;
        let weight = tick % 10 + 1;
        assert_eq!(p.admin(&format!("set weight bk/s{server} {weight}")), "\n");
        mutations += 1;
        tick += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    let status = load.wait_exit(Duration::from_secs(60));
    let json = std::fs::read_to_string(&report).unwrap_or_default();
    let planned = json_number(&json, "planned").unwrap_or(0);
    let requests = json_number(&json, "requests").unwrap_or(0);
    let errors = json_number(&json, "error_count");
    let max_latency_ms = json_number(&json, "max_us").unwrap_or(0) / 1000;

    let after: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm_up).collect();
    let base = after
        .first()
        .copied()
        .copied()
        .expect("samples after the warm-up");
    let last = after.last().copied().copied().unwrap();
    let max_rss = after.iter().map(|s| s.rss_kib).max().unwrap();
    let max_fds = after.iter().map(|s| s.fds).max().unwrap();
    println!(
        "soak {seconds}s: exit {status:?}, {planned} planned, {requests} requests at {RATE}/s, \
         {} errors, {mutations} mutations, \
         {restarts} backend restarts, slowest request {max_latency_ms} ms; RSS after warm-up \
         {} KiB -> {} KiB (max {max_rss}), fds {} -> {} (max {max_fds})",
        errors.map_or("?".to_string(), |e| e.to_string()),
        base.rss_kib,
        last.rss_kib,
        base.fds,
        last.fds
    );
    assert!(status.is_some(), "pointsman load did not finish");
    assert_eq!(errors, Some(0), "failed requests: {json}");
    assert_eq!(
        requests, planned,
        "not every planned request was sent: {json}"
    );
    // Exit 1 also means the sender fell behind its schedule for a second or more: with eight
    // connections of one request each, that is what a stall of pointsman does to it.
    assert_eq!(status, Some(0), "pointsman load failed: {json}");
    assert!(
        max_rss <= base.rss_kib + RSS_SLACK_KIB,
        "RSS grew from {} KiB to {max_rss} KiB",
        base.rss_kib
    );
    assert!(
        last.fds <= base.fds + FD_SLACK && max_fds <= base.fds + 2 * FD_SLACK,
        "descriptors grew from {} to {} (max {max_fds})",
        base.fds,
        last.fds
    );
    if seconds >= 120 {
        assert!(restarts >= 1, "no backend was restarted");
    }
}

/// Restarts backend `which` the way an operator does it without failing a request: MAINT,
/// let the requests in flight finish, stop it, start it again on the same port, READY.
fn restart(p: &Pointsman, servers: &mut [Backend], which: usize, port: u16) {
    let name = format!("s{}", which + 1);
    assert_eq!(p.admin(&format!("set server bk/{name} state maint")), "\n");
    std::thread::sleep(Duration::from_millis(300));
    // Stop the old process before the new one binds the port.
    let old = &mut servers[which].proc.child;
    let _ = old.kill();
    let _ = old.wait();
    servers[which] = backend_on(&format!("127.0.0.1:{port}"), &name, "", &[]);
    assert_eq!(p.admin(&format!("set server bk/{name} state ready")), "\n");
}
