//! The measurements, one function each (keep-alive and close throughput, fixed rates, flips,
//! mutations, idle connections, the TCP relay floor, TCP mode): each runs one proxy once and
//! pushes its figures into the [`Results`].

use super::loadgen::{load, status_kib, wrk, Flips};
use super::*;

pub fn cpu_us(pid: u32) -> f64 {
    cpu_time(pid).as_secs_f64() * 1e6
}

/// Closed-loop wrk run: proxy CPU per request, requests/s, peak RSS.
pub fn throughput(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy, close: bool) {
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

pub fn fixed_rate(
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

pub fn flips(
    args: &Args,
    setup: &Setup,
    results: &mut Results,
    kind: Proxy,
    rate: u64,
    round: usize,
) {
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
pub fn mutation(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy, rate: u64) {
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
pub fn idle(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy) {
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
pub fn read_one_response(s: &mut TcpStream) -> bool {
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
pub fn relay(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy) {
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
pub fn haproxy_closed_loop_rps(args: &Args, setup: &Setup) -> f64 {
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
pub fn relay_floor(results: &mut Results) {
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
pub fn tcp(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy) {
    let p = start_proxy(args, setup, kind);
    let before = cpu_us(p.pid());
    let r = wrk(args, setup.tcp_port, "/big", 4, args.duration, false);
    let cpu = cpu_us(p.pid()) - before;
    let mib = r.requests as f64 * BIG as f64 / (1 << 20) as f64;
    results.push("tcp.mib_per_s", kind, mib / r.seconds);
    results.push("tcp.cpu_us_per_mib", kind, cpu / mib.max(1.0));
    results.push("tcp.errors", kind, r.errors as f64);
}

/// The cost of rules (issue 24): one proxy process serves the bare frontend and then `fe_rules`
/// (20 ACLs, 10 `use_backend` rules, a 10,000-entry map, 5 header rewrites) to the same
/// keep-alive load, so the ratio of the two CPU costs per request compares like with like.
/// The map's choice is checked afterwards: `bk_mapped` must have served the rules run's
/// requests, or the figure would be the cost of a fallback.
pub fn rules(args: &Args, setup: &Setup, results: &mut Results, kind: Proxy) {
    let p = start_proxy(args, setup, kind);
    let cpu_per_request = |port: u16| {
        let before = cpu_us(p.pid());
        let r = wrk(args, port, "/", args.connections, args.duration, false);
        let cpu = cpu_us(p.pid()) - before;
        (cpu / r.requests.max(1) as f64, r)
    };
    let (bare, _) = cpu_per_request(setup.http_port);
    let (ruled, r) = cpu_per_request(setup.rules_port);
    let mapped = backend_sessions(&setup.socket, "bk_mapped");
    assert!(
        mapped >= r.requests,
        "{}: bk_mapped served {mapped} of the rules run's {} requests: the map did not route",
        kind.name(),
        r.requests
    );
    results.push("rules.bare_cpu_us", kind, bare);
    results.push("rules.cpu_us", kind, ruled);
    results.push("rules.cost_pct", kind, (ruled / bare - 1.0) * 100.0);
    results.push("rules.errors", kind, r.errors as f64);
}

/// A backend's cumulative sessions (`stot`) from `show stat`.
fn backend_sessions(socket: &Path, backend: &str) -> u64 {
    common::stat_rows(&common::admin(socket, "show stat"))
        .into_iter()
        .find(|row| row["pxname"] == backend && row["svname"] == "BACKEND")
        .and_then(|row| row["stot"].parse().ok())
        .unwrap_or(0)
}
