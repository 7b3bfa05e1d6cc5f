//! `canary server B/S steps … every T …` end to end: the real `pointsman` (two shards) in front
//! of real `pointsman-backend`s, under a constant load from the project's load tester, judged
//! by the proxy's own counters and histograms. A healthy canary is promoted with zero failed
//! requests and `show servers state` shows the weights of each step; a canary answering 503 on
//! 3 % of its requests is rolled back at its first step, failing no more requests than its
//! share and step length allow; a canary 4x slower is rolled back on p99; `abort canary`
//! restores the weights exactly; the refusals say why.
//!
//! Scenarios run one at a time (a lock): they measure the proxy, not a fight for two cores.

mod common;
mod loadtest_support;

use common::*;
use loadtest_support::load_options;
use pointsman::loadtest::outcome::ErrorClass;
use pointsman::loadtest::{run_with_output, Report};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Requests per second of every load run (keep-alive, over `CONNECTIONS` connections).
const RATE: f64 = 400.0;
const CONNECTIONS: &str = "8";
/// Longest any scenario waits for its canary to end.
const CANARY_LIMIT: Duration = Duration::from_secs(30);

/// `bk` with two old servers and the canary `v2`, roundrobin, two shards.
fn start_proxy(old: [&Backend; 2], canary: &Backend, weights: [u32; 3]) -> (Pointsman, u16) {
    let port = free_port();
    let lines = format!(
        "    balance roundrobin\n\
         \x20   server v1a 127.0.0.1:{} weight {}\n\
         \x20   server v1b 127.0.0.1:{} weight {}\n\
         \x20   server v2 127.0.0.1:{} weight {}\n",
        old[0].port(),
        weights[0],
        old[1].port(),
        weights[1],
        canary.port(),
        weights[2]
    );
    let p = pointsman(&proxy_config(port, &lines), 2, port);
    (p, port)
}

/// A load run of `seconds` in its own thread.
fn start_load(port: u16, seconds: f64) -> std::thread::JoinHandle<Report> {
    let url = format!("http://127.0.0.1:{port}/");
    let duration = format!("{}ms", (seconds * 1000.0) as u64);
    let rate = RATE.to_string();
    std::thread::spawn(move || {
        let args = [
            url.as_str(),
            "--rate",
            &rate,
            "-c",
            CONNECTIONS,
            "--keep-alive",
            "true",
            "-d",
            &duration,
            "--server-header",
            "X-Server",
            "--timeout",
            LOAD_REQUEST_TIMEOUT,
        ];
        run_with_output(&load_options(&args), Box::new(std::io::sink())).expect("load")
    })
}

/// One row of `show canary`.
#[derive(Debug, Clone)]
struct Row {
    status: String,
    step: String,
    real_share: f64,
    window_ms: u64,
    canary_req: u64,
    verdict: String,
}

fn canary_row(p: &Pointsman, name: &str) -> Option<Row> {
    row_at(&p.socket, name)
}

fn row_at(socket: &std::path::Path, name: &str) -> Option<Row> {
    let text = admin(socket, &format!("show canary {name}"));
    let line = text.lines().rev().find(|l| l.starts_with(name))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    Some(Row {
        status: f[1].into(),
        step: f[2].into(),
        real_share: f[4].parse().unwrap(),
        window_ms: f[5].parse().unwrap(),
        canary_req: f[6].parse().unwrap(),
        verdict: f[12..].join(" "),
    })
}

/// Waits until the canary on `name` is no longer running; its last row.
fn wait_end(p: &Pointsman, name: &str) -> Row {
    let deadline = Instant::now() + CANARY_LIMIT;
    loop {
        let row = canary_row(p, name).expect("show canary lists it");
        if row.status != "running" {
            return row;
        }
        assert!(Instant::now() < deadline, "canary still running: {row:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `show servers state bk`: server name → (user weight, admin state).
fn servers_state(p: &Pointsman) -> BTreeMap<String, (u32, u32)> {
    servers_state_at(&p.socket)
}

fn servers_state_at(socket: &std::path::Path) -> BTreeMap<String, (u32, u32)> {
    admin(socket, "show servers state bk")
        .lines()
        .filter(|l| !l.starts_with('#') && l.split_whitespace().count() > 8)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[3].to_string(),
                (f[7].parse().unwrap(), f[6].parse().unwrap()),
            )
        })
        .collect()
}

fn weights(p: &Pointsman) -> [u32; 3] {
    weights_at(&p.socket)
}

fn weights_at(socket: &std::path::Path) -> [u32; 3] {
    let s = servers_state_at(socket);
    [s["v1a"].0, s["v1b"].0, s["v2"].0]
}

fn failures(report: &Report) -> u64 {
    report.whole.error_count()
}

fn print_report(scenario: &str, report: &Report, row: &Row) {
    println!(
        "{scenario}: {} requests, {} ok, errors {:?}, servers {:?}; canary {row:?}",
        report.whole.requests, report.whole.ok, report.whole.errors, report.whole.servers
    );
}

#[test]
fn a_healthy_canary_is_promoted_through_every_step_with_zero_failed_requests() {
    let _serial = serial();
    let old = [backend("v1a", "old", &[]), backend("v1b", "old", &[])];
    let canary = backend("v2", "new", &[]);
    let (p, port) = start_proxy([&old[0], &old[1]], &canary, [10, 10, 0]);
    let load = start_load(port, 6.0);
    std::thread::sleep(Duration::from_millis(500));
    let reply = p.admin("canary server bk/v2 steps 10,50,100 every 1s min-requests 20 max-p99 10");
    assert!(reply.starts_with("Canary started on bk/v2"), "{reply}");
    // During the first step, `show servers state` shows the step's weights.
    std::thread::sleep(Duration::from_millis(300));
    let (expected, share) = pointsman::canary::step_weights(&[(1, 10), (2, 10), (3, 0)], 3, 10);
    let expected: Vec<u32> = expected.iter().map(|(_, w)| *w).collect();
    assert_eq!(
        weights(&p).to_vec(),
        expected,
        "step 1 weights (share {share:.2}%)"
    );
    let row = wait_end(&p, "bk/v2");
    let report = load.join().unwrap();
    print_report("healthy", &report, &row);
    assert_eq!(row.status, "promoted", "{row:?}");
    assert_eq!(row.step, "3/3");
    assert_eq!(failures(&report), 0, "{:?}", report.whole.errors);
    assert_eq!(
        weights(&p),
        [0, 0, 1],
        "promoted: the canary takes everything"
    );
    assert!(report.whole.servers.get("v2").copied().unwrap_or(0) > 100);
}

#[test]
fn a_canary_failing_3_percent_is_rolled_back_at_its_first_step() {
    let _serial = serial();
    let old = [backend("v1a", "old", &[]), backend("v1b", "old", &[])];
    let canary = backend("v2", "new", &["--error-percent", "3"]);
    let (p, port) = start_proxy([&old[0], &old[1]], &canary, [10, 10, 0]);
    let load = start_load(port, 5.0);
    std::thread::sleep(Duration::from_millis(500));
    let reply = p.admin(
        "canary server bk/v2 steps 25,50,100 every 2s max-errors 1% min-requests 100 max-p99 10",
    );
    assert!(reply.starts_with("Canary started"), "{reply}");
    let row = wait_end(&p, "bk/v2");
    let report = load.join().unwrap();
    print_report("3% of 503", &report, &row);
    assert_eq!(row.status, "rolled-back", "{row:?}");
    assert_eq!(row.step, "1/3", "rolled back at its first step");
    assert!(row.verdict.starts_with("errors: "), "{row:?}");
    // Weight 0 and DRAIN (admin state 8 in `show servers state`), the others as before.
    let state = servers_state(&p);
    assert_eq!(state["v2"], (0, 8), "{state:?}");
    assert_eq!((state["v1a"].0, state["v1b"].0), (10, 10));
    // The bound: the canary fails 3 % of what it gets, and it gets its share of the load for
    // one step (T = 2 s: 25 % of 400/s reaches min-requests 100 within T, so the step is not
    // extended), plus what arrives until the rollback is acknowledged everywhere (0.5 s allowed
    // for that and for the load's scheduling); +2 for rounding at both ends. Here:
    // 0.03 x 0.25 x 400 x 2.5 = 7.5, so at most 10 failed requests.
    let step_s = 2.0;
    let exposed = row.real_share / 100.0 * RATE * (step_s + 0.5);
    let bound = (0.03 * exposed).ceil() as u64 + 2;
    let failed = failures(&report);
    let only_503 = report
        .whole
        .errors
        .keys()
        .all(|e| *e == ErrorClass::Status(503));
    println!(
        "3% of 503: {failed} failed, bound {bound} (share {:.2}%, window {} ms)",
        row.real_share, row.window_ms
    );
    assert!(only_503, "{:?}", report.whole.errors);
    assert!(failed >= 1, "the canary was exposed");
    assert!(failed <= bound, "{failed} failed requests, bound {bound}");
}

#[test]
fn a_canary_4x_slower_is_rolled_back_on_p99() {
    let _serial = serial();
    let old = [
        backend("v1a", "old", &["--delay-ms", "5"]),
        backend("v1b", "old", &["--delay-ms", "5"]),
    ];
    let canary = backend("v2", "new", &["--delay-ms", "20"]);
    let (p, port) = start_proxy([&old[0], &old[1]], &canary, [10, 10, 0]);
    let load = start_load(port, 5.0);
    std::thread::sleep(Duration::from_millis(500));
    let reply = p.admin("canary server bk/v2 steps 25,100 every 1500ms max-p99 2 min-requests 50");
    assert!(reply.starts_with("Canary started"), "{reply}");
    let row = wait_end(&p, "bk/v2");
    let report = load.join().unwrap();
    print_report("4x latency", &report, &row);
    assert_eq!(row.status, "rolled-back", "{row:?}");
    assert_eq!(row.step, "1/2");
    assert!(row.verdict.starts_with("p99: "), "{row:?}");
    assert!(row.canary_req >= 50);
    assert_eq!(
        failures(&report),
        0,
        "slow is not failed: {:?}",
        report.whole.errors
    );
    assert_eq!(servers_state(&p)["v2"], (0, 8));
}

#[test]
fn abort_restores_the_weights_exactly_and_refusals_say_why() {
    let _serial = serial();
    let old = [backend("v1a", "old", &[]), backend("v1b", "old", &[])];
    let canary = backend("v2", "new", &[]);
    let (p, port) = start_proxy([&old[0], &old[1]], &canary, [7, 13, 3]);
    let load = start_load(port, 3.0);
    let reply = p.admin("canary server bk/v2 steps 10,100 every 30s");
    assert!(reply.starts_with("Canary started"), "{reply}");
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(
        weights(&p),
        [7, 13, 3],
        "the first step changed the weights"
    );
    let second = p.admin("canary server bk/v2 steps 100 every 1s");
    assert!(second.contains("already running on bk/v2"), "{second}");
    let aborted = p.admin("abort canary bk/v2");
    assert_eq!(aborted, "Canary aborted: weights restored.\n\n");
    assert_eq!(weights(&p), [7, 13, 3]);
    assert_eq!(canary_row(&p, "bk/v2").unwrap().status, "aborted");
    let report = load.join().unwrap();
    assert_eq!(failures(&report), 0, "{:?}", report.whole.errors);

    assert!(p
        .admin("abort canary bk/v2")
        .starts_with("No canary is running"));
    p.admin("disable server bk/v1a");
    let maint = p.admin("canary server bk/v1a steps 100 every 1s");
    assert!(
        maint.contains("bk/v1a is in maintenance (MAINT)"),
        "{maint}"
    );
    let unknown = p.admin("canary server bk/nope steps 100 every 1s");
    assert_eq!(unknown, "No such server.\n\n");
    let bad = p.admin("canary server bk/v2 steps 5,1,100 every 1s");
    assert!(bad.contains("increasing percentages"), "{bad}");
    let as_operator = p.admin("operator; canary server bk/v2 steps 100 every 1s");
    assert!(as_operator.contains("Permission denied"), "{as_operator}");
}

/// `pointsman ctl -s S canary server …` and its exit status.
fn ctl_canary(p: &Pointsman, args: &str) -> (Option<i32>, String) {
    let child = std::process::Command::new(POINTSMAN)
        .args(["ctl", "-s"])
        .arg(&p.socket)
        .args(args.split_whitespace())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pointsman ctl");
    let out = wait_output(child, CANARY_LIMIT);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn ctl_follows_the_canary_and_exits_0_on_promotion_1_on_rollback() {
    let _serial = serial();
    let old = [backend("v1a", "old", &[]), backend("v1b", "old", &[])];
    let good = backend("v2", "new", &[]);
    let bad = backend("v3", "new", &["--error-percent", "20"]);
    let port = free_port();
    let lines = format!(
        "    balance roundrobin\n{}\
         \x20   server v2 127.0.0.1:{} weight 0\n\
         \x20   server v3 127.0.0.1:{} weight 0\n",
        server_lines(&old, "weight 10"),
        good.port(),
        bad.port()
    );
    let p = pointsman(&proxy_config(port, &lines), 2, port);
    let load = start_load(port, 6.0);
    std::thread::sleep(Duration::from_millis(300));
    let (code, text) = ctl_canary(
        &p,
        "canary server bk/v3 steps 20,100 every 1s min-requests 20",
    );
    println!("{text}");
    assert_eq!(code, Some(1), "rolled back: exit 1\n{text}");
    assert!(text.starts_with("Canary started on bk/v3"), "{text}");
    assert!(text.contains("bk/v3 rolled-back 1/2"), "{text}");
    let (code, text) = ctl_canary(
        &p,
        "canary server bk/v2 steps 20,100 every 1s min-requests 20 max-p99 10",
    );
    println!("{text}");
    assert_eq!(code, Some(0), "promoted: exit 0\n{text}");
    assert!(
        text.contains("bk/v2 running 1/2"),
        "every step is printed\n{text}"
    );
    assert!(
        text.contains("bk/v2 running 2/2"),
        "every step is printed\n{text}"
    );
    assert!(text.contains("bk/v2 promoted 2/2"), "{text}");
    let report = load.join().unwrap();
    let failed = failures(&report);
    assert!(
        failed > 0
            && report
                .whole
                .errors
                .keys()
                .all(|e| *e == ErrorClass::Status(503))
    );
}

/// Waits until the canary on `name` holds step `step` (e.g. "2/3").
fn wait_step(p: &Pointsman, name: &str, step: &str) -> Row {
    let deadline = Instant::now() + CANARY_LIMIT;
    loop {
        let row = canary_row(p, name).expect("show canary lists it");
        if row.step == step || row.status != "running" {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "canary never reached {step}: {row:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_canary_continues_from_its_step_across_an_x_upgrade_and_is_promoted() {
    let _serial = serial();
    let old = [backend("v1a", "old", &[]), backend("v1b", "old", &[])];
    let canary = backend("v2", "new", &[]);
    let port = free_port();
    let lines = format!(
        "    balance roundrobin\n    server v1a 127.0.0.1:{} weight 10\n    \
         server v1b 127.0.0.1:{} weight 10\n    server v2 127.0.0.1:{} weight 0\n",
        old[0].port(),
        old[1].port(),
        canary.port()
    );
    let config = proxy_config(port, &lines).replace(
        "level admin\n",
        "level admin expose-fd listeners\n    hard-stop-after 20s\n",
    );
    let p = pointsman(&config, 2, port);
    let old_pid = wait_for_new_pid(&p.socket, None, Duration::from_secs(10));
    let load = start_load(port, 9.0);
    std::thread::sleep(Duration::from_millis(300));
    // What this test judges is the continuation, not latency: two processes share the two
    // cores during the upgrade, so p99 is allowed 10x (the other tests judge p99).
    let reply = p.admin("canary server bk/v2 steps 10,50,100 every 2s min-requests 20 max-p99 10");
    assert!(reply.starts_with("Canary started on bk/v2"), "{reply}");
    let before_upgrade = wait_step(&p, "bk/v2", "2/3");
    assert_eq!(before_upgrade.status, "running", "{before_upgrade:?}");
    let step2_weights = weights(&p);

    let socket = p.socket.to_str().unwrap().to_string();
    let config_path = p.config.to_str().unwrap().to_string();
    let pid = old_pid.to_string();
    let args = [
        "-f",
        &config_path,
        "--shards",
        "2",
        "-x",
        &socket,
        "-sf",
        &pid,
    ];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let mut next = spawn_pointsman(&args, None);
    let new_pid = wait_for_new_pid(&p.socket, Some(old_pid), Duration::from_secs(10));
    assert_eq!(new_pid, next.child.id());
    // The new process shows the canary at the step the old one held, with its weights.
    // It answers on the socket a moment before shard 0 resumes its canaries.
    let mut listed = None;
    wait_for(Duration::from_secs(5), || {
        listed = canary_row(&p, "bk/v2");
        listed.is_some()
    });
    let resumed = listed.expect("the new process lists the canary");
    assert_eq!(resumed.status, "running", "{resumed:?}");
    assert_eq!(resumed.step, "2/3", "{resumed:?}");
    assert_eq!(
        weights(&p),
        step2_weights,
        "step 2 weights in the new process"
    );

    let row = wait_end(&p, "bk/v2");
    let report = load.join().unwrap();
    print_report("across -x", &report, &row);
    assert_eq!(row.status, "promoted", "{row:?}");
    assert_eq!(row.step, "3/3");
    assert_eq!(failures(&report), 0, "{:?}", report.whole.errors);
    assert_eq!(weights(&p), [0, 0, 1], "promoted in the new process");
    next.signal(libc::SIGUSR1);
    assert_eq!(next.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn a_canary_continues_from_its_step_across_a_master_worker_reload() {
    let _serial = serial();
    let old = [backend("v1a", "old", &[]), backend("v1b", "old", &[])];
    let canary = backend("v2", "new", &[]);
    let port = free_port();
    let dir = temp_dir("canary-master");
    let socket = dir.join("admin.sock");
    let cfg = dir.join("pointsman.cfg");
    let lines = format!(
        "    balance roundrobin\n    server v1a 127.0.0.1:{} weight 10\n    \
         server v1b 127.0.0.1:{} weight 10\n    server v2 127.0.0.1:{} weight 0\n",
        old[0].port(),
        old[1].port(),
        canary.port()
    );
    let config = proxy_config(port, &lines)
        .replace("@SOCKET@", socket.to_str().unwrap())
        .replace("level admin\n", "level admin\n    hard-stop-after 20s\n");
    std::fs::write(&cfg, config).unwrap();
    let args = ["-W", "-f", cfg.to_str().unwrap(), "--shards", "2"];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let mut master = spawn_pointsman(&args, None);
    wait_for_port(port, Duration::from_secs(10));
    let worker = wait_for_new_pid(&socket, None, Duration::from_secs(10));
    let load = start_load(port, 9.0);
    std::thread::sleep(Duration::from_millis(300));
    // As across -x: the continuation is judged here, not latency (two workers share the cores).
    let reply = admin(
        &socket,
        "canary server bk/v2 steps 10,50,100 every 2s min-requests 20 max-p99 10",
    );
    assert!(reply.starts_with("Canary started on bk/v2"), "{reply}");
    let deadline = Instant::now() + CANARY_LIMIT;
    while row_at(&socket, "bk/v2").is_some_and(|r| r.step != "2/3" && r.status == "running") {
        assert!(Instant::now() < deadline, "never reached step 2/3");
        std::thread::sleep(Duration::from_millis(20));
    }
    let step2_weights = weights_at(&socket);
    master.signal(libc::SIGUSR2);
    wait_for_new_pid(&socket, Some(worker), Duration::from_secs(10));
    // The new worker answers on the socket a moment before shard 0 resumes its canaries.
    let mut listed = None;
    wait_for(Duration::from_secs(5), || {
        listed = row_at(&socket, "bk/v2");
        listed.is_some()
    });
    let resumed = listed.expect("the new worker lists the canary");
    assert_eq!(
        (resumed.status.as_str(), resumed.step.as_str()),
        ("running", "2/3")
    );
    assert_eq!(
        weights_at(&socket),
        step2_weights,
        "step 2 weights in the new worker"
    );
    let deadline = Instant::now() + CANARY_LIMIT;
    let row = loop {
        let row = row_at(&socket, "bk/v2").expect("listed");
        if row.status != "running" {
            break row;
        }
        assert!(Instant::now() < deadline, "still running: {row:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let report = load.join().unwrap();
    print_report("across a master-worker reload", &report, &row);
    assert_eq!(
        (row.status.as_str(), row.step.as_str()),
        ("promoted", "3/3"),
        "{row:?}"
    );
    assert_eq!(failures(&report), 0, "{:?}", report.whole.errors);
    master.signal(libc::SIGUSR1);
    assert_eq!(master.wait_exit(Duration::from_secs(15)), Some(0));
}
