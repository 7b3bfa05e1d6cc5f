//! pointsman against HAProxy, side by side on one machine (issue 10). Not criterion: a custom
//! harness that starts the real proxies, pins them, drives them with `wrk` and `pointsman load`,
//! and reads their CPU time and memory from /proc. `scripts/bench-vs-haproxy.sh` checks the
//! tools, builds, and runs it; run it directly with
//!
//! ```text
//! cargo bench --bench vs_haproxy -- [--quick|--full] [--rounds N] [--only PARTS] ...
//! cargo bench --bench vs_haproxy -- --help    # every flag (args.rs)
//! ```
//!
//! Method (see docs/performance.md): both proxies read the *same* haproxy.cfg (same backend,
//! timeouts, keep-alive on both sides, `nbthread` = `--shards`); each measurement starts a
//! fresh proxy pinned to `--proxy-cpus` (every thread re-pinned with `taskset -a -p`, because a
//! glommio `Placement::Fixed` shard would otherwise pin itself outside the taskset), with the
//! load generator, the backend and this harness on `--load-cpus`. Every measurement runs
//! HAProxy then pointsman, round after round (A B A B), and reports the median and the range
//! over rounds; a ratio is the median of the per-round ratios pointsman / HAProxy.
//!
//! Under `cargo test --all-targets` (no `--bench` argument) it does nothing: it needs haproxy
//! and wrk and takes minutes.

mod args;
#[path = "../../tests/common/mod.rs"]
mod common;
mod report;
mod setup;

use args::{parse_args, Args};
use common::{cpu_time, free_port, raise_nofile, rss_kib, wait_for_port, Proc, PromptSession};
use hdrhistogram::Histogram;
use report::{table, Results, ROWS};
use setup::{start_backend, start_proxy, Setup};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Body of the small HTTP responses (both backends send exactly this).
const BODY: &str = "hello from the backend\n";
/// Size of one TCP-mode transfer.
const BIG: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proxy {
    HAProxy,
    Pointsman,
}

const PROXIES: [Proxy; 2] = [Proxy::HAProxy, Proxy::Pointsman];

impl Proxy {
    fn name(self) -> &'static str {
        match self {
            Proxy::HAProxy => "HAProxy",
            Proxy::Pointsman => "pointsman",
        }
    }
}

/// What `wrk` reported.
struct WrkResult {
    requests: u64,
    seconds: f64,
    errors: u64,
}

fn wrk(
    args: &Args,
    port: u16,
    path: &str,
    connections: usize,
    seconds: u64,
    close: bool,
) -> WrkResult {
    let mut cmd = Command::new("taskset");
    cmd.arg("-c").arg(&args.load_cpus).arg(&args.wrk).args([
        "-t",
        "1",
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{seconds}s"),
    ]);
    if close {
        cmd.args(["-H", "Connection: close"]);
    }
    let output = cmd
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut result = WrkResult {
        requests: 0,
        seconds: seconds as f64,
        errors: 0,
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some((n, rest)) = line.split_once(" requests in ") {
            result.requests = n.trim().parse().unwrap_or(0);
            let secs = rest.split(',').next().unwrap_or("");
            result.seconds = parse_wrk_duration(secs).unwrap_or(result.seconds);
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            result.errors += rest
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            result.errors += rest.trim().parse::<u64>().unwrap_or(0);
        }
    }
    if result.requests == 0 {
        eprintln!(
            "wrk: no result: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    result
}

fn parse_wrk_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Some(v) = text.strip_suffix("ms") {
        return v.parse::<f64>().ok().map(|v| v / 1000.0);
    }
    if let Some(v) = text.strip_suffix("us") {
        return v.parse::<f64>().ok().map(|v| v / 1e6);
    }
    if let Some(v) = text.strip_suffix('m') {
        return v.parse::<f64>().ok().map(|v| v * 60.0);
    }
    text.strip_suffix('s')?.parse().ok()
}

/// `/proc/PID/status` field in KiB (VmHWM, VmRSS).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| {
            v.trim_start_matches(':')
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// What `pointsman load --json` reported.
struct LoadResult {
    p50: f64,
    p99: f64,
    p999: f64,
    /// p99 of the time from sending a request to its last response byte: the latency without
    /// the requests' wait for a free connection in the generator (its queueing).
    service_p99: f64,
    requests: u64,
    errors: u64,
    invalid: Option<String>,
    switch_failures: u64,
    /// With [`Flips::AlternateSeconds`]: p99 latency of the requests due in the seconds with
    /// flips, and of those due in the seconds without (second 0 in neither).
    halves: Option<(f64, f64)>,
}

/// When a load run flips `bk/s2` (`disable` / `enable server` through the admin socket).
#[derive(Clone, Copy, PartialEq)]
enum Flips {
    None,
    /// Every 100 ms for the whole run.
    Continuous,
    /// Every 100 ms in odd seconds (ten flips, ending enabled), none in even seconds: the two
    /// halves of one run share whatever else the machine did meanwhile. Second 0 (connections
    /// opening, the generator starting) belongs to neither half.
    AlternateSeconds,
}

impl Flips {
    /// `--at` times (ms) and commands of a run of `seconds`.
    fn schedule(self, seconds: u64) -> Vec<(u64, &'static str)> {
        let at = |step: u64, ms: u64| {
            let verb = if step.is_multiple_of(2) {
                "disable server bk/s2"
            } else {
                "enable server bk/s2"
            };
            (ms, verb)
        };
        match self {
            Flips::None => Vec::new(),
            // As before: the first flip 100 ms in, disable first.
            Flips::Continuous => (1..seconds * 10).map(|s| at(s - 1, s * 100)).collect(),
            Flips::AlternateSeconds => (1..seconds)
                .step_by(2)
                .flat_map(|second| (0..10).map(move |s| at(s, second * 1000 + s * 100)))
                .collect(),
        }
    }
}

fn load(args: &Args, setup: &Setup, rate: u64, flips: Flips, tag: &str) -> LoadResult {
    let json = setup.dir.join(format!("load-{tag}.json"));
    let mut cmd = Command::new("taskset");
    cmd.arg("-c")
        .arg(&args.load_cpus)
        .arg(common::POINTSMAN)
        .args([
            "load".to_string(),
            format!("http://127.0.0.1:{}/", setup.http_port),
            "--rate".into(),
            rate.to_string(),
            "-c".into(),
            args.load_connections.to_string(),
            "-d".into(),
            format!("{}s", args.duration),
            "--json".into(),
            json.display().to_string(),
        ]);
    let schedule = flips.schedule(args.duration);
    if !schedule.is_empty() {
        cmd.arg("--socket").arg(&setup.socket);
        for (ms, command) in schedule {
            cmd.arg("--at").arg(format!("{ms}ms")).arg(command);
        }
    }
    let samples = setup.dir.join(format!("load-{tag}.csv"));
    if flips == Flips::AlternateSeconds {
        cmd.arg("--samples").arg(&samples);
    }
    let _ = std::fs::remove_file(&json);
    let output = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run pointsman load");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|_| {
        panic!(
            "pointsman load wrote no JSON: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let v: serde_json::Value = serde_json::from_str(&text).expect("load JSON");
    let latency = &v["whole"]["latency"];
    let us = |key: &str| latency[key].as_f64().unwrap_or(f64::NAN);
    let switch_failures = v["switches"].as_array().map_or(0, |a| {
        a.iter()
            .filter(|s| {
                s.get("error").is_some() || s["reply"].as_str().is_some_and(|r| !r.is_empty())
            })
            .count() as u64
    });
    LoadResult {
        p50: us("p50_us"),
        p99: us("p99_us"),
        p999: us("p99_9_us"),
        service_p99: v["whole"]["service"]["p99_us"].as_f64().unwrap_or(f64::NAN),
        requests: v["whole"]["requests"].as_u64().unwrap_or(0),
        errors: v["whole"]["error_count"].as_u64().unwrap_or(0),
        invalid: v["schedule"]["invalid"].as_str().map(str::to_string),
        switch_failures,
        halves: (flips == Flips::AlternateSeconds).then(|| p99_by_second_parity(&samples)),
    }
}

/// p99 latency (µs, from the intended send time) of the requests due in odd seconds (with
/// flips) and of those due in even seconds from the second on, from `pointsman load --samples`.
fn p99_by_second_parity(csv: &Path) -> (f64, f64) {
    let text = std::fs::read_to_string(csv).unwrap_or_default();
    let mut halves = [Vec::new(), Vec::new()];
    for line in text.lines().skip(1) {
        let mut fields = line.split(',').skip(1).map(|f| f.parse::<u64>().ok());
        if let (Some(Some(intended)), Some(_), Some(Some(done))) =
            (fields.next(), fields.next(), fields.next())
        {
            let second = intended / 1_000_000;
            if second > 0 {
                halves[(second % 2) as usize].push(done.saturating_sub(intended));
            }
        }
    }
    let p99 = |v: &mut Vec<u64>| {
        v.sort_unstable();
        match v.len() {
            0 => f64::NAN,
            n => v[(n * 99).div_ceil(100) - 1] as f64,
        }
    };
    let [quiet, flipping] = &mut halves;
    (p99(flipping), p99(quiet))
}

/// The highest rate `pointsman load` sustains against HAProxy (schedule valid, no error),
/// stepping down from wrk's closed-loop figure by 15 % at a time: on a machine where the load
/// generator shares a core with the backend, this, not wrk's figure, is the capacity the
/// fixed-rate runs can be a fraction of.
/// When no step was sustained, the last rate tried is returned and a note says so.
fn open_loop_capacity(args: &Args, setup: &Setup, closed: f64, results: &mut Results) -> f64 {
    let p = start_proxy(args, setup, Proxy::HAProxy);
    let probe = Args {
        duration: 3,
        ..args.clone()
    };
    let mut rate = closed;
    for step in 0..12 {
        let r = load(
            &probe,
            setup,
            rate as u64,
            Flips::None,
            &format!("calibrate-{step}"),
        );
        let ok = r.invalid.is_none() && r.errors == 0;
        println!(
            "  calibrate: {rate:.0} req/s: {} (p99 {:.0} µs)",
            if ok { "sustained" } else { "not sustained" },
            r.p99
        );
        if ok {
            drop(p);
            return rate;
        }
        if step < 11 {
            rate *= 0.85;
        }
    }
    drop(p);
    results.notes.push(format!(
        "the open-loop generator kept its schedule at no rate down to {rate:.0} req/s: \
         the fixed rates are fractions of that, and their latencies include its queueing"
    ));
    rate
}

/// Raises RLIMIT_NOFILE (soft and hard) to `want` for this process and the proxies it starts;
/// without the privilege for the hard limit, the soft one goes up to the hard one. Returns the
/// soft limit in force.
fn raise_nofile_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        let wanted = libc::rlimit {
            rlim_cur: want.max(limit.rlim_cur),
            rlim_max: want.max(limit.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
            return wanted.rlim_cur;
        }
        raise_nofile();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}

/// Runs this harness and everything it starts (proxies, backend, load generators) at `nice`:
/// on a machine shared with builds, a negative value keeps them from being preempted by
/// compilers, which would otherwise dominate every latency figure. Needs CAP_SYS_NICE for
/// values below 0; without it the run goes on at the current priority.
fn set_nice(nice: i32) {
    // SAFETY: setpriority on this process, no pointers.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc != 0 {
        eprintln!(
            "vs_haproxy: cannot set nice {nice} ({}), running at the current priority",
            std::io::Error::last_os_error()
        );
    }
}

/// Pins this harness (its connections for the idle and mutation parts) to the load CPUs.
fn pin_self(cpus: &str) {
    // SAFETY: a zeroed cpu_set_t filled with CPU_SET, passed with its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for part in cpus.split(',') {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<usize>(), hi.trim().parse::<usize>()) {
                for cpu in lo..=hi {
                    libc::CPU_SET(cpu, &mut set);
                }
            }
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn cpu_us(pid: u32) -> f64 {
    cpu_time(pid).as_secs_f64() * 1e6
}

/// Closed-loop wrk run: proxy CPU per request, requests/s, peak RSS.
fn throughput(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy, close: bool) {
    let p = start_proxy(args, setup, kind);
    let before = cpu_us(p.pid());
    let r = wrk(
        args,
        setup.http_port,
        "/",
        args.connections,
        args.duration,
        close,
    );
    let cpu = cpu_us(p.pid()) - before;
    let tag = if close { "close" } else { "keepalive" };
    results.push(
        &format!("{tag}.cpu_us"),
        kind,
        cpu / r.requests.max(1) as f64,
    );
    results.push(&format!("{tag}.rps"), kind, r.requests as f64 / r.seconds);
    results.push(
        &format!("{tag}.proxy_cpu_share"),
        kind,
        cpu / 1e6 / r.seconds * 100.0,
    );
    results.push(&format!("{tag}.errors"), kind, r.errors as f64);
    results.push(
        &format!("{tag}.hwm_mib"),
        kind,
        status_kib(p.pid(), "VmHWM") as f64 / 1024.0,
    );
}

fn fixed_rate(
    args: &Args,
    setup: &Setup,
    results: &mut Results,
    kind: Proxy,
    rate: u64,
    percent: u32,
    round: usize,
) {
    let p = start_proxy(args, setup, kind);
    let before = cpu_us(p.pid());
    let r = load(
        args,
        setup,
        rate,
        Flips::None,
        &format!("{}-{percent}-{round}", kind.name()),
    );
    let cpu = cpu_us(p.pid()) - before;
    let key = format!("rate{percent}");
    results.push(&format!("{key}.p50"), kind, r.p50);
    results.push(&format!("{key}.p99"), kind, r.p99);
    results.push(&format!("{key}.p999"), kind, r.p999);
    results.push(&format!("{key}.errors"), kind, r.errors as f64);
    results.push(
        &format!("{key}.cpu_us"),
        kind,
        cpu / r.requests.max(1) as f64,
    );
    if let Some(why) = r.invalid {
        results.notes.push(format!(
            "{} {percent}% round {round}: load generator: {why}",
            kind.name()
        ));
    }
}

fn flips(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy, rate: u64, round: usize) {
    let p = start_proxy(args, setup, kind);
    let steady = load(
        args,
        setup,
        rate,
        Flips::None,
        &format!("{}-steady-{round}", kind.name()),
    );
    let flipping = load(
        args,
        setup,
        rate,
        Flips::Continuous,
        &format!("{}-flips-{round}", kind.name()),
    );
    let alternating = load(
        args,
        setup,
        rate,
        Flips::AlternateSeconds,
        &format!("{}-alternate-{round}", kind.name()),
    );
    drop(p);
    results.push("flips.steady_p99", kind, steady.p99);
    results.push("flips.p99", kind, flipping.p99);
    results.push("flips.p99_vs_steady", kind, flipping.p99 / steady.p99);
    results.push(
        "flips.service_p99_vs_steady",
        kind,
        flipping.service_p99 / steady.service_p99,
    );
    if let Some((flipping_seconds, quiet_seconds)) = alternating.halves {
        results.push(
            "flips.alternate_p99_ratio",
            kind,
            flipping_seconds / quiet_seconds,
        );
    }
    results.push(
        "flips.errors",
        kind,
        (flipping.errors
            + flipping.switch_failures
            + alternating.errors
            + alternating.switch_failures) as f64,
    );
    for (r, what) in [
        (steady, "steady"),
        (flipping, "flips"),
        (alternating, "alternating flips"),
    ] {
        if let Some(why) = r.invalid {
            results.notes.push(format!(
                "{} {what} round {round}: load generator: {why}",
                kind.name()
            ));
        }
    }
}

/// `set weight` round trips on one prompt-mode session, idle and under the 50% load.
fn mutation(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy, rate: u64) {
    let p = start_proxy(args, setup, kind);
    let measure = |n: usize| {
        let mut session = PromptSession::open(&setup.socket);
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
        for i in 0..n {
            let started = Instant::now();
            let reply = session.send(&format!("set weight bk/s2 {}", 1 + i % 2));
            h.saturating_record((started.elapsed().as_nanos() as u64 / 1000).max(1));
            assert!(
                reply.ends_with("\n> "),
                "{}: set weight: {reply:?}",
                kind.name()
            );
        }
        h
    };
    let idle = measure(args.mutations);
    results.push(
        "mutation.idle_p50",
        kind,
        idle.value_at_quantile(0.5) as f64,
    );
    results.push(
        "mutation.idle_p99",
        kind,
        idle.value_at_quantile(0.99) as f64,
    );
    let load = Command::new("taskset")
        .arg("-c")
        .arg(&args.load_cpus)
        .arg(common::POINTSMAN)
        .args([
            "load",
            &format!("http://127.0.0.1:{}/", setup.http_port),
            "--rate",
            &rate.to_string(),
            "-c",
            &args.load_connections.to_string(),
        ])
        .args(["-d", &format!("{}s", args.duration + 60)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pointsman load");
    let mut load = Proc {
        child: load,
        name: "load".into(),
    };
    std::thread::sleep(Duration::from_millis(500));
    let busy = measure(args.mutations);
    load.signal(libc::SIGINT);
    let _ = load.wait_exit(Duration::from_secs(5));
    results.push(
        "mutation.load_p50",
        kind,
        busy.value_at_quantile(0.5) as f64,
    );
    results.push(
        "mutation.load_p99",
        kind,
        busy.value_at_quantile(0.99) as f64,
    );
    drop(p);
}

/// Opens `n` client connections, each sends one request and reads its answer, then stays
/// open and idle; returns the proxy's RSS growth per connection (bytes) and its peak RSS.
fn idle(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy) {
    let p = start_proxy(args, setup, kind);
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(p.pid());
    let request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    let mut conns = Vec::with_capacity(args.idle_conns);
    let mut failed = 0u64;
    for _ in 0..args.idle_conns {
        match TcpStream::connect(("127.0.0.1", setup.http_port)) {
            Ok(mut s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                if s.write_all(request).is_err() || !read_one_response(&mut s) {
                    failed += 1;
                }
                conns.push(s);
            }
            Err(_) => failed += 1,
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(p.pid());
    let per_conn = (after.saturating_sub(before)) as f64 * 1024.0 / args.idle_conns.max(1) as f64;
    results.push("idle.bytes_per_conn", kind, per_conn);
    results.push("idle.rss_mib", kind, after as f64 / 1024.0);
    results.push("idle.failed", kind, failed as f64);
    drop(conns);
    drop(p);
}

/// Reads one small response (head + Content-Length body).
fn read_one_response(s: &mut TcpStream) -> bool {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return true;
            }
        }
    }
}

/// The floor under the keep-alive rows: the same wrk load through `fe_relay`, a TCP-mode
/// frontend to the same two HTTP servers. Each client connection gets one server connection and
/// the proxy relays bytes: the two reads and two sends per request of the HTTP rows, and no
/// parsing, no pick per request, no HTTP logging or counters.
fn relay(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy) {
    let p = start_proxy(args, setup, kind);
    let before = cpu_us(p.pid());
    let r = wrk(
        args,
        setup.relay_port,
        "/",
        args.connections,
        args.duration,
        false,
    );
    let cpu = cpu_us(p.pid()) - before;
    results.push("relay.cpu_us", kind, cpu / r.requests.max(1) as f64);
    results.push("relay.rps", kind, r.requests as f64 / r.seconds);
    results.push("relay.errors", kind, r.errors as f64);
}

/// HAProxy's keep-alive requests/s under wrk, for the capacity search when the keep-alive part
/// did not run.
fn haproxy_closed_loop_rps(args: &Args, setup: &Setup) -> f64 {
    let p = start_proxy(args, setup, Proxy::HAProxy);
    let r = wrk(
        args,
        setup.http_port,
        "/",
        args.connections,
        args.duration,
        false,
    );
    drop(p);
    r.requests as f64 / r.seconds
}

/// Each proxy's relay CPU per request over HAProxy's HTTP keep-alive CPU per request, round by
/// round: how far below HAProxy's HTTP cost a proxy that does no HTTP work at all gets here.
fn relay_floor(results: &mut Results) {
    let Some(http) = results
        .series
        .get("keepalive.cpu_us")
        .and_then(|s| s.values.get(Proxy::HAProxy.name()))
        .cloned()
    else {
        return;
    };
    for kind in PROXIES {
        let Some(relay) = results
            .series
            .get("relay.cpu_us")
            .and_then(|s| s.values.get(kind.name()))
            .cloned()
        else {
            continue;
        };
        for (r, h) in relay.iter().zip(&http) {
            results.push("relay.vs_haproxy_http", kind, r / h);
        }
    }
}

/// TCP mode: 1 MiB responses relayed byte for byte, 4 keep-alive wrk connections.
fn tcp(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy) {
    let p = start_proxy(args, setup, kind);
    let before = cpu_us(p.pid());
    let r = wrk(args, setup.tcp_port, "/big", 4, args.duration, false);
    let cpu = cpu_us(p.pid()) - before;
    let mib = r.requests as f64 * BIG as f64 / (1 << 20) as f64;
    results.push("tcp.mib_per_s", kind, mib / r.seconds);
    results.push("tcp.cpu_us_per_mib", kind, cpu / mib.max(1.0));
    results.push("tcp.errors", kind, r.errors as f64);
}

fn uptime_load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let Some(args) = parse_args() else {
        println!(
            "vs_haproxy: run with `cargo bench --bench vs_haproxy` or scripts/bench-vs-haproxy.sh"
        );
        return;
    };
    let limit = raise_nofile_limit(65_536);
    // A proxy needs about two descriptors per client connection plus its listeners (HAProxy
    // refuses to start when `maxconn` cannot be backed by enough of them).
    let most = (limit as usize / 2).saturating_sub(1100);
    let mut args = args;
    if args.idle_conns > most {
        eprintln!("vs_haproxy: open-file limit {limit}: idle connections lowered to {most}");
        args.idle_conns = most;
    }
    pin_self(&args.load_cpus);
    set_nice(args.nice);
    let setup = Setup::new(&args);
    let _backend = start_backend(&args, &setup);
    let started = Instant::now();
    let load_before = uptime_load();
    let mut results = Results::default();
    for (key, label, target) in ROWS {
        results.define(key, label, target);
    }
    println!(
        "pointsman {} vs HAProxy {}: {} round(s) of {} s, {} shard(s)/nbthread, proxy on CPU {}, load + {} on CPU {}",
        args.pointsman.display(),
        args.haproxy.display(),
        args.rounds,
        args.duration,
        args.shards,
        args.proxy_cpus,
        args.backend,
        args.load_cpus
    );
    let each =
        |results: &mut Results, part: &str, f: &mut dyn FnMut(&mut Results, Proxy, usize)| {
            if !args.wants(part) {
                return;
            }
            for round in 0..args.rounds {
                println!("== {part}, round {}/{}", round + 1, args.rounds);
                for kind in PROXIES {
                    f(results, kind, round);
                }
            }
        };
    each(&mut results, "keepalive", &mut |r, k, _| {
        throughput(&args, &setup, r, k, false)
    });
    each(&mut results, "close", &mut |r, k, _| {
        throughput(&args, &setup, r, k, true)
    });
    each(&mut results, "relay", &mut |r, k, _| {
        relay(&args, &setup, r, k)
    });
    relay_floor(&mut results);
    // HAProxy's capacity: its keep-alive requests/s under wrk (measured above, or now if
    // skipped), then the highest rate the open-loop generator sustains against it. Only the
    // fixed-rate parts need it.
    let needs_rate = ["rate", "flips", "mutation"].iter().any(|p| args.wants(p));
    let (closed, capacity) = if needs_rate {
        let closed = results
            .median_of("keepalive.rps", Proxy::HAProxy)
            .unwrap_or_else(|| haproxy_closed_loop_rps(&args, &setup));
        let capacity = args
            .capacity
            .unwrap_or_else(|| open_loop_capacity(&args, &setup, closed, &mut results));
        (closed, capacity)
    } else {
        let closed = results
            .median_of("keepalive.rps", Proxy::HAProxy)
            .unwrap_or(f64::NAN);
        (closed, f64::NAN)
    };
    let rate = |percent: f64| ((capacity * percent / 100.0) as u64).max(1);
    if needs_rate {
        println!(
            "HAProxy capacity: {closed:.0} req/s closed loop (wrk), {capacity:.0} req/s open loop; 50% = {}, 80% = {}",
            rate(50.0),
            rate(80.0)
        );
    }
    each(&mut results, "rate", &mut |r, k, round| {
        fixed_rate(&args, &setup, r, k, rate(50.0), 50, round);
        fixed_rate(&args, &setup, r, k, rate(80.0), 80, round);
    });
    each(&mut results, "flips", &mut |r, k, round| {
        flips(&args, &setup, r, k, rate(50.0), round)
    });
    each(&mut results, "mutation", &mut |r, k, _| {
        mutation(&args, &setup, r, k, rate(50.0))
    });
    each(&mut results, "idle", &mut |r, k, _| {
        idle(&args, &setup, r, k)
    });
    each(&mut results, "tcp", &mut |r, k, _| tcp(&args, &setup, r, k));
    let rates = if needs_rate {
        format!(
            "HAProxy capacity {capacity:.0} req/s open loop, {closed:.0} closed loop, fixed rates {} and {} req/s",
            rate(50.0),
            rate(80.0)
        )
    } else {
        "no fixed-rate parts".to_string()
    };
    let meta = format!(
        "Measured {} with `scripts/bench-vs-haproxy.sh` ({} rounds × {} s, nice {}, {} shard(s) = nbthread, \
         proxy on CPU {}, wrk / `pointsman load` / {} on CPU {}; {rates}; load average {} at the start, {} at the end; {:.0} s).",
        utc_now(),
        args.rounds,
        args.duration,
        args.nice,
        args.shards,
        args.proxy_cpus,
        args.backend,
        args.load_cpus,
        load_before,
        uptime_load(),
        started.elapsed().as_secs_f64()
    );
    let md = table(&args, &results, &meta);
    println!("\n{md}");
    if let Some(parent) = args.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&args.out, &md).unwrap_or_else(|e| panic!("write {}: {e}", args.out.display()));
    println!("written to {}", args.out.display());
    let _ = std::fs::remove_dir_all(&setup.dir);
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
