//! A/B harness for the patches carried in `vendor/glommio` (see `vendor/VENDORED.md`).
//!
//! It runs a minimal HTTP/1.1 responder on one glommio executor pinned to a CPU (1 by
//! default) in a child process, drives it from blocking client threads pinned to another
//! CPU (0), and reports the server's cost per request from /proc: on-CPU time
//! (schedstat, ns), user+system ticks, context switches, and the rescheduling (RES) and
//! function-call (CAL) interrupts received by the server's CPU. Stock and patched
//! glommio are the same binary: each patch has an environment switch read once per
//! process (`GLOMMIO_STOCK_RING_FLAGS=1`, `GLOMMIO_STOCK_ACCEPT=1`,
//! `GLOMMIO_STOCK_PREEMPT_TIMER=1`, `GLOMMIO_STOCK_SOCKET_IO=1`, `GLOMMIO_SOCKET_PBUF=0`,
//! `GLOMMIO_STOCK_PARK=1`, `GLOMMIO_STOCK_THROUGHPUT_FLARE=1`), so the variants run
//! side by side in one session, A B A B, and the ratios come from the same conditions.
//!
//! ```text
//! cargo bench --bench glommio_echo -- ab [--rounds 4] [--requests 40000] [--conns 4]
//!                                        [--close] [--variants stock,rings,rings+accept,all]
//! cargo bench --bench glommio_echo -- smoke      # behaviour checks, current env
//! cargo bench --bench glommio_echo -- server     # just the responder (prints READY <port>)
//! cargo bench --bench glommio_echo -- client --port P [--requests N] [--conns C] [--close]
//! ```
//! Variants: `stock` (every switch on), `all` (no switch: every patch), or a `+`-joined
//! list of patches (`rings`, `accept`, `timers`, `sockio`, `pbuf`, `park`, `flare`), optionally with a patch 5
//! read strategy (`all+read=uring`, `read=syscall`, `read=hint`: the
//! `GLOMMIO_SOCKET_READ_FIRST` knob) or `pollfirst=0` (RECVs without
//! `IORING_RECVSEND_POLL_FIRST`). `--close` opens one connection per request
//! (accept path). The first variant is the base of the ratios.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, TcpStream as StdTcpStream},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::{
    channels::channel_mesh::MeshBuilder,
    net::{TcpListener, TcpStream},
    LocalExecutorBuilder, Placement,
};

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const REQ_KEEPALIVE: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
const REQ_CLOSE: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";

/// Environment switches that restore stock glommio behaviour, one per patch.
const SWITCHES: &[&str] = &[
    "GLOMMIO_STOCK_RING_FLAGS",
    "GLOMMIO_STOCK_ACCEPT",
    "GLOMMIO_STOCK_PREEMPT_TIMER",
    "GLOMMIO_STOCK_SOCKET_IO",
    "GLOMMIO_SOCKET_PBUF",
    "GLOMMIO_STOCK_PARK",
    "GLOMMIO_STOCK_THROUGHPUT_FLARE",
    "GLOMMIO_STOCK_LISTENER_POLL",
];

/// The value of a switch that turns its patch off (patch 7's switch is `..._PBUF=0`).
fn stock_value(switch: &str) -> &'static str {
    if switch == "GLOMMIO_SOCKET_PBUF" {
        "0"
    } else {
        "1"
    }
}

/// Patch 5's measurement knob (not a stock switch): when a read tries `recv` first.
const READ_FIRST: &str = "GLOMMIO_SOCKET_READ_FIRST";
/// Patch 5's other knob: `0` submits stream RECVs without `IORING_RECVSEND_POLL_FIRST`.
const POLL_FIRST: &str = "GLOMMIO_SOCKET_RECV_POLL_FIRST";

const PATCHES: &[&str] = &[
    "rings", "accept", "timers", "sockio", "pbuf", "park", "flare", "listener",
];

/// A variant is `stock`, `all`, or a `+`-joined list of the patches to enable
/// (`rings`, `accept`, `timers`, `sockio`, `pbuf`, `park` (patch 6), `flare` (patch 10),
/// `listener` (patch 12; the echo server accepts with `accept`, so it only matters to
/// `smoke`), or `all`), plus optionally
/// `read=STRATEGY`; every other patch gets its stock switch. (`pbuf`, patch 7, needs
/// `sockio`, patch 5: it changes where patch 5's RECVs receive.)
fn variant_env(name: &str) -> Vec<(&'static str, String)> {
    let patch_of = |switch: &str| match switch {
        "GLOMMIO_STOCK_RING_FLAGS" => "rings",
        "GLOMMIO_STOCK_ACCEPT" => "accept",
        "GLOMMIO_STOCK_PREEMPT_TIMER" => "timers",
        "GLOMMIO_SOCKET_PBUF" => "pbuf",
        "GLOMMIO_STOCK_PARK" => "park",
        "GLOMMIO_STOCK_THROUGHPUT_FLARE" => "flare",
        "GLOMMIO_STOCK_LISTENER_POLL" => "listener",
        _ => "sockio",
    };
    let mut enabled: Vec<&str> = Vec::new();
    let mut env = Vec::new();
    for part in name.split('+') {
        match part {
            "stock" => {}
            "all" => enabled.extend_from_slice(PATCHES),
            p if PATCHES.contains(&p) => enabled.push(p),
            p if p.starts_with("pollfirst=") => {
                env.push((POLL_FIRST, p["pollfirst=".len()..].to_string()))
            }
            p => match p.strip_prefix("read=") {
                Some(s @ ("hint" | "syscall" | "uring")) => env.push((READ_FIRST, s.to_string())),
                _ => panic!(
                    "unknown part {p} of variant {name} ({PATCHES:?}, read=hint|syscall|uring)"
                ),
            },
        }
    }
    env.extend(
        SWITCHES
            .iter()
            .filter(|s| !enabled.contains(&patch_of(s)))
            .map(|s| (*s, stock_value(s).to_string())),
    );
    env
}

struct Opts {
    rounds: usize,
    requests: i64,
    conns: usize,
    close: bool,
    variants: Vec<String>,
    server_cpu: usize,
    client_cpu: usize,
}

fn parse_opts(args: &[String]) -> Opts {
    let mut o = Opts {
        rounds: 4,
        requests: 40_000,
        conns: 4,
        close: false,
        variants: vec!["stock".into(), "all".into()],
        server_cpu: 1,
        client_cpu: 0,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().expect("missing option value").clone();
        match a.as_str() {
            "--rounds" => o.rounds = val().parse().expect("--rounds N"),
            "--requests" => o.requests = val().parse().expect("--requests N"),
            "--conns" => o.conns = val().parse().expect("--conns N"),
            "--close" => o.close = true,
            "--variants" => o.variants = val().split(',').map(String::from).collect(),
            "--server-cpu" => o.server_cpu = val().parse().expect("--server-cpu N"),
            "--client-cpu" => o.client_cpu = val().parse().expect("--client-cpu N"),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

fn main() {
    // `cargo bench` passes `--bench`; ignore it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("ab", &args[..]),
    };
    match cmd {
        "ab" => ab(&parse_opts(rest)),
        "server" => server(parse_opts(rest).server_cpu),
        "smoke" => smoke(),
        "client" => {
            // client --port P [opts]: drive an already running server (e.g. under strace).
            let port = rest
                .iter()
                .position(|a| a == "--port")
                .and_then(|i| rest.get(i + 1))
                .and_then(|p| p.parse().ok())
                .expect("client --port P");
            let opts: Vec<String> = rest
                .iter()
                .enumerate()
                .filter(|(i, a)| *a != "--port" && (*i == 0 || rest[i - 1] != "--port"))
                .map(|(_, a)| a.clone())
                .collect();
            let o = parse_opts(&opts);
            let (done, t) = run_clients(port, &o);
            println!("{done} requests in {t:?}");
        }
        other => panic!("unknown command {other} (ab, server, client, smoke)"),
    }
}

// ---------------------------------------------------------------- server

fn server(cpu: usize) {
    let ex = LocalExecutorBuilder::new(Placement::Fixed(cpu))
        .name("echo-server")
        .make()
        .expect("executor");
    ex.run(async {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        println!("READY {}", listener.local_addr().expect("addr").port());
        std::io::stdout().flush().expect("stdout");
        loop {
            match listener.accept().await {
                Ok(stream) => {
                    glommio::spawn_local(serve_conn(stream)).detach();
                }
                Err(e) => {
                    eprintln!("accept: {e}");
                    glommio::timer::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    });
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Answers every complete request head in the buffer; keeps the connection until EOF.
async fn serve_conn(mut s: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    loop {
        let n = match s.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut start = 0;
        while let Some(end) = find_head_end(&buf[start..filled]) {
            start += end;
            if s.write_all(RESPONSE).await.is_err() {
                return;
            }
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            return;
        }
    }
}

// ---------------------------------------------------------------- client

fn read_response(s: &mut StdTcpStream, buf: &mut [u8]) -> std::io::Result<()> {
    let mut got = 0;
    while got < RESPONSE.len() {
        let n = s.read(&mut buf[got..])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    Ok(())
}

fn client_thread(port: u16, remaining: &AtomicI64, close: bool) -> u64 {
    let mut buf = [0u8; 256];
    let mut done = 0;
    let mut conn: Option<StdTcpStream> = None;
    while remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
        let s = match conn.as_mut() {
            Some(s) => s,
            None => {
                let s = StdTcpStream::connect(("127.0.0.1", port)).expect("connect");
                s.set_nodelay(true).expect("nodelay");
                conn.insert(s)
            }
        };
        s.write_all(if close { REQ_CLOSE } else { REQ_KEEPALIVE })
            .expect("write");
        read_response(s, &mut buf).expect("response");
        done += 1;
        if close {
            // The client closes first, so TIME_WAIT stays on the client side
            // (reused on loopback) and the server sees EOF and drops.
            let _ = s.shutdown(Shutdown::Both);
            conn = None;
        }
    }
    done
}

fn run_clients(port: u16, o: &Opts) -> (u64, Duration) {
    let remaining = Arc::new(AtomicI64::new(o.requests));
    let start = Instant::now();
    let handles: Vec<_> = (0..o.conns)
        .map(|_| {
            let remaining = remaining.clone();
            let (close, cpu) = (o.close, o.client_cpu);
            std::thread::spawn(move || {
                core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
                client_thread(port, &remaining, close)
            })
        })
        .collect();
    let done = handles.into_iter().map(|h| h.join().expect("client")).sum();
    (done, start.elapsed())
}

// ---------------------------------------------------------------- measurement

#[derive(Default, Clone, Copy)]
struct Sample {
    run_ns: u64,
    ticks: u64,
    vcsw: u64,
    ivcsw: u64,
    res: u64,
    cal: u64,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Sums over every thread of `pid`, plus the interrupts that `cpu` received.
fn sample(pid: u32, cpu: usize) -> Sample {
    let mut s = Sample::default();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        let dir = t.expect("task").path();
        let d = dir.display();
        let schedstat = read(&format!("{d}/schedstat"));
        s.run_ns += schedstat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let stat = read(&format!("{d}/stat"));
        // Fields after the ")" of comm: state is field 3, utime 14, stime 15.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            s.ticks += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
        for line in read(&format!("{d}/status")).lines() {
            let num = |l: &str| l.split_whitespace().nth(1).and_then(|v| v.parse().ok());
            if line.starts_with("voluntary_ctxt_switches") {
                s.vcsw += num(line).unwrap_or(0);
            } else if line.starts_with("nonvoluntary_ctxt_switches") {
                s.ivcsw += num(line).unwrap_or(0);
            }
        }
    }
    for line in read("/proc/interrupts").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let v = f
            .get(1 + cpu)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        match f.first() {
            Some(&"RES:") => s.res = v,
            Some(&"CAL:") => s.cal = v,
            _ => {}
        }
    }
    s
}

struct ServerChild {
    child: Child,
    port: u16,
}

impl ServerChild {
    fn start(variant: &str, o: &Opts) -> Self {
        let mut cmd = Command::new(std::env::current_exe().expect("exe"));
        cmd.args(["server", "--server-cpu", &o.server_cpu.to_string()]);
        for s in SWITCHES.iter().chain([&READ_FIRST, &POLL_FIRST]) {
            cmd.env_remove(s);
        }
        for (k, v) in variant_env(variant) {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("server READY line");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("server said {line:?}"));
        ServerChild { child, port }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct RunResult {
    ns_per_req: f64,
    ticks_per_req: f64,
    res_per_req: f64,
    cal_per_req: f64,
    csw_per_req: f64,
    req_per_s: f64,
}

fn run_variant(variant: &str, o: &Opts) -> RunResult {
    let srv = ServerChild::start(variant, o);
    // Warm up (connections, page faults) outside the measured window.
    let warm = Opts {
        requests: 2000,
        variants: Vec::new(),
        ..*o
    };
    run_clients(srv.port, &warm);
    std::thread::sleep(Duration::from_millis(50));
    let pid = srv.child.id();
    let before = sample(pid, o.server_cpu);
    let (done, elapsed) = run_clients(srv.port, o);
    let after = sample(pid, o.server_cpu);
    let n = done as f64;
    RunResult {
        ns_per_req: (after.run_ns - before.run_ns) as f64 / n,
        ticks_per_req: (after.ticks - before.ticks) as f64 / n,
        res_per_req: (after.res - before.res) as f64 / n,
        cal_per_req: (after.cal - before.cal) as f64 / n,
        csw_per_req: ((after.vcsw + after.ivcsw) - (before.vcsw + before.ivcsw)) as f64 / n,
        req_per_s: n / elapsed.as_secs_f64(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("nan"));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn ab(o: &Opts) {
    println!(
        "glommio A/B: {} requests x {} rounds, {} client threads on CPU {}, server on CPU {}, {}",
        o.requests,
        o.rounds,
        o.conns,
        o.client_cpu,
        o.server_cpu,
        if o.close {
            "one connection per request"
        } else {
            "keep-alive"
        }
    );
    println!(
        "{:<6} {:<12} {:>10} {:>11} {:>8} {:>8} {:>8} {:>9}",
        "round", "variant", "cpu ns/req", "ticks/kreq", "RES/req", "CAL/req", "csw/req", "req/s"
    );
    let mut results: HashMap<String, Vec<RunResult>> = HashMap::new();
    for round in 1..=o.rounds {
        for v in &o.variants {
            let r = run_variant(v, o);
            println!(
                "{:<6} {:<12} {:>10.0} {:>11.2} {:>8.3} {:>8.3} {:>8.3} {:>9.0}",
                round,
                v,
                r.ns_per_req,
                r.ticks_per_req * 1000.0,
                r.res_per_req,
                r.cal_per_req,
                r.csw_per_req,
                r.req_per_s
            );
            results.entry(v.clone()).or_default().push(r);
        }
    }
    println!("medians:");
    let med = |v: &str, f: fn(&RunResult) -> f64| median(results[v].iter().map(f).collect());
    for v in &o.variants {
        println!(
            "{:<6} {:<12} {:>10.0} {:>11.2} {:>8.3} {:>8.3} {:>8.3} {:>9.0}",
            "median",
            v,
            med(v, |r| r.ns_per_req),
            med(v, |r| r.ticks_per_req * 1000.0),
            med(v, |r| r.res_per_req),
            med(v, |r| r.cal_per_req),
            med(v, |r| r.csw_per_req),
            med(v, |r| r.req_per_s)
        );
    }
    let base = &o.variants[0];
    for v in &o.variants[1..] {
        // Per-round ratios (each against the base run of the same round), then the median.
        let ratios: Vec<f64> = results[v]
            .iter()
            .zip(&results[base])
            .map(|(a, b)| a.ns_per_req / b.ns_per_req)
            .collect();
        println!(
            "ratio {v}/{base}: cpu per request {:.3} (median of per-round ratios {:?}), req/s {:.3}",
            median(ratios.clone()),
            ratios
                .iter()
                .map(|r| (r * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>(),
            med(v, |r| r.req_per_s) / med(base, |r| r.req_per_s)
        );
    }
}

// ---------------------------------------------------------------- smoke

/// Behaviour checks for the patched crate; run them under each switch setting.
fn smoke() {
    let switches: Vec<String> = SWITCHES
        .iter()
        .filter(|s| std::env::var_os(s).is_some_and(|v| v == stock_value(s)))
        .map(|s| s.to_string())
        .collect();
    println!("smoke (stock switches set: {switches:?})");
    // First: it checks that no io-wq worker thread is started, and one started by an
    // earlier check would still be idling (workers live 5 s after their last job).
    smoke_throughput_preempt();
    smoke_accept();
    smoke_readable();
    smoke_stream_io();
    smoke_received();
    smoke_recv_buffers();
    smoke_mesh();
    smoke_preempt_and_timer();
    println!("smoke: 8 passed, 0 failed");
}

/// Throughput preemption (patch 10): more stream completions than the ring is deep,
/// arriving while a task spins without yielding, must make `need_preempt()` true long
/// before the (5 s) preempt timer could (with 12 it does not: tried). With
/// the `MSG_RING` flare the process has no io-wq worker thread; stock glommio's eventfd
/// write starts one.
fn smoke_throughput_preempt() {
    const DEPTH: usize = 32;
    const STREAMS: usize = 2 * DEPTH;
    let ex = LocalExecutorBuilder::new(Placement::Fixed(1))
        .ring_depth(DEPTH)
        .preempt_timer(Duration::from_secs(5))
        .make()
        .expect("executor");
    ex.run(async {
        let (listener, port) = smoke_listener();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            let mut conns: Vec<StdTcpStream> = (0..STREAMS)
                .map(|_| StdTcpStream::connect(("127.0.0.1", port)).expect("connect"))
                .collect();
            go_rx.recv().expect("go");
            for s in conns.iter_mut() {
                s.write_all(b"x").expect("write");
            }
            go_rx.recv().expect("done");
        });
        let mut conns = Vec::new();
        for _ in 0..STREAMS {
            conns.push(listener.accept().await.expect("accept"));
        }
        leave_recvs_in_flight(&mut conns).await;
        let mut b = [0u8; 1];
        // One more reactor loop arms the throughput timer afresh.
        glommio::executor().yield_now().await;
        assert!(!glommio::executor().need_preempt(), "preempted before the data came");
        go_tx.send(()).expect("go");
        let took = spin_until_preempted(
            Duration::from_secs(2),
            &format!("no throughput preemption after {STREAMS} completions on a ring of {DEPTH}"),
        );
        // Every firing of the timer so far (the accepts and reads above made more
        // completions than the ring is deep, too) would have needed one.
        let workers = io_wq_workers();
        let flare = std::env::var_os("GLOMMIO_STOCK_THROUGHPUT_FLARE").is_none_or(|v| v == "0");
        if flare {
            assert!(workers.is_empty(), "io-wq workers started: {workers:?}");
        }
        for s in conns.iter_mut() {
            s.read_exact(&mut b).await.expect("read");
            assert_eq!(&b, b"x");
        }
        go_tx.send(()).expect("done");
        client.join().expect("client");
        println!(
            "  throughput preempt: after {took:?} ({STREAMS} completions, ring of {DEPTH}, {}; {} io-wq worker thread(s))",
            if flare { "MSG_RING flare" } else { "stock eventfd write" },
            workers.len()
        );
    });
}

/// Thread ids of this process's io_uring io-wq workers (`iou-wrk-*`).
fn io_wq_workers() -> std::collections::HashSet<u64> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|e| {
            let e = e.ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            comm.starts_with("iou-wrk")
                .then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

/// A glommio listener on a loopback port the kernel picks, and that port.
fn smoke_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

/// The executor a smoke check runs its server side on: CPU 1, as in the benchmark.
fn smoke_executor() -> glommio::LocalExecutor {
    LocalExecutorBuilder::new(Placement::Fixed(1))
        .make()
        .expect("executor")
}

/// Accepts one connection that is already queued (the direct accept path) and one
/// that arrives while the executor sleeps in `accept` (the io_uring path).
fn smoke_accept() {
    let ex = smoke_executor();
    ex.run(async {
        let (listener, port) = smoke_listener();
        let client = std::thread::spawn(move || {
            for delay in [0, 50] {
                std::thread::sleep(Duration::from_millis(delay));
                let mut s = StdTcpStream::connect(("127.0.0.1", port)).expect("connect");
                s.write_all(b"ping").expect("write");
                let mut b = [0u8; 4];
                s.read_exact(&mut b).expect("read");
                assert_eq!(&b, b"pong");
            }
        });
        // Give the first connection time to sit in the backlog.
        glommio::timer::sleep(Duration::from_millis(20)).await;
        for _ in 0..2 {
            let mut s = listener.accept().await.expect("accept");
            let mut b = [0u8; 4];
            s.read_exact(&mut b).await.expect("read");
            assert_eq!(&b, b"ping");
            s.write_all(b"pong").await.expect("write");
            let fd = std::os::unix::io::AsRawFd::as_raw_fd(&s);
            // Patch 2: both accept paths give CLOEXEC | NONBLOCK sockets (stock: the
            // queued path gave neither, the io_uring path CLOEXEC only).
            if !switches_stock_accept() {
                let fdflags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
                let flflags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
                assert!(fdflags & libc::FD_CLOEXEC != 0, "accepted fd lacks CLOEXEC");
                assert!(flflags & libc::O_NONBLOCK != 0, "accepted fd is blocking");
            }
        }
        client.join().expect("client");
    });
    println!("  accept: queued + io_uring accept, ping/pong ok");
}

/// `TcpListener::readable` (patches 4 and 12): it reports a queued connection, does not
/// report a drained queue, and wakes for a connection that arrives while the executor
/// sleeps. Then what patch 12 is for: with the poll armed, closing the listener's only
/// descriptor must close the socket at once (the port can be bound, a connect is refused),
/// because no io_uring request holds it; stock (`GLOMMIO_STOCK_LISTENER_POLL=1`) the armed
/// poll keeps it listening (the port is taken) until the poll completes or is cancelled.
fn smoke_readable() {
    let ex = smoke_executor();
    ex.run(async {
        // From a raw descriptor (as pointsman makes its listeners), so that the check knows it.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = std_listener.local_addr().expect("addr").port();
        let fd = std::os::unix::io::IntoRawFd::into_raw_fd(std_listener);
        // SAFETY: a listening socket this check owns from here on.
        let listener = unsafe { <TcpListener as std::os::unix::io::FromRawFd>::from_raw_fd(fd) };
        // This check drains the queue itself; GLOMMIO_STOCK_ACCEPT leaves listeners blocking.
        unsafe { libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK | libc::O_RDWR) };
        let _queued = StdTcpStream::connect(("127.0.0.1", port)).expect("connect");
        listener.readable().await.expect("readable, queued");
        assert_eq!(drain_accept_queue(fd), 1);
        let drained = futures_lite::future::or(
            async {
                listener.readable().await.expect("readable, drained");
                true
            },
            async {
                glommio::timer::sleep(Duration::from_millis(30)).await;
                false
            },
        )
        .await;
        assert!(!drained, "readable() reported an empty accept queue");
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            StdTcpStream::connect(("127.0.0.1", port)).expect("connect")
        });
        listener.readable().await.expect("readable, while asleep");
        assert_eq!(drain_accept_queue(fd), 1);
        let _late = client.join().expect("client");

        // The listener's descriptor is closed below, behind its back: never close it again.
        let listener = std::mem::ManuallyDrop::new(listener);
        let waiting = glommio::spawn_local(async move {
            let _ = listener.readable().await;
        });
        glommio::timer::sleep(Duration::from_millis(10)).await; // the poll is submitted
        unsafe { libc::close(fd) };
        // A plain bind (no SO_REUSEPORT) of the port, not a connect: a connection arriving
        // would complete the stock poll, whose completion then drops the socket.
        let bind = std::net::TcpListener::bind(("127.0.0.1", port)).map(drop);
        let stock = std::env::var_os("GLOMMIO_STOCK_LISTENER_POLL").is_some_and(|v| v != "0");
        if stock {
            let e = bind.expect_err("stock: the port is free with a poll armed on its listener");
            assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
        } else {
            bind.expect("the closed listener's port is taken: something holds the socket");
            let e = StdTcpStream::connect(("127.0.0.1", port)).expect_err("a closed port accepted");
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
        }
        waiting.cancel().await;
        println!(
            "  readable: queued, drained (not readable), while asleep ok; closed with a poll armed: {}",
            if stock { "port still taken (stock)" } else { "port free, connect refused" }
        );
    });
}

/// Accepts (and closes) every connection queued on the non-blocking listener `fd`.
fn drain_accept_queue(fd: i32) -> usize {
    let mut n = 0;
    loop {
        let c = unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), 0) };
        if c < 0 {
            return n;
        }
        unsafe { libc::close(c) };
        n += 1;
    }
}

/// The byte at `i` of the smoke test's stream.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Stream reads and writes (patch 5 replaces the read path): a 200 KB message read with
/// buffers smaller and larger than one receive; a read that times out and the data that
/// arrives after it (not lost); `peek` before and after a receive is in flight; a 4 MB
/// write to a slow reader (the write path waits); EOF.
fn smoke_stream_io() {
    const BIG: usize = 200_000;
    const HUGE: usize = 4 << 20;
    let ex = smoke_executor();
    ex.run(async {
        let (listener, port) = smoke_listener();
        let client = std::thread::spawn(move || {
            let mut s = StdTcpStream::connect(("127.0.0.1", port)).expect("connect");
            let big: Vec<u8> = (0..BIG).map(pattern).collect();
            s.write_all(&big).expect("write big");
            std::thread::sleep(Duration::from_millis(80));
            s.write_all(b"late").expect("write late");
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(b"peek").expect("write peek");
            // Read the 4 MB slowly so that the server's writes fill the socket buffer.
            let mut got = 0;
            let mut b = vec![0u8; 64 << 10];
            while got < HUGE {
                std::thread::sleep(Duration::from_millis(2));
                let n = s.read(&mut b).expect("read huge");
                assert!(n > 0, "EOF after {got} bytes");
                assert!(
                    b[..n]
                        .iter()
                        .enumerate()
                        .all(|(i, &x)| x == pattern(got + i)),
                    "huge: wrong bytes at {got}"
                );
                got += n;
            }
            s.shutdown(Shutdown::Write).expect("shutdown");
        });
        let mut s = listener.accept().await.expect("accept");
        let mut got = 0;
        let sizes = [1, 7, 100, 5000, 40_000, 3];
        let mut b = vec![0u8; 40_000];
        let mut i = 0;
        while got < BIG {
            let want = sizes[i % sizes.len()].min(BIG - got);
            i += 1;
            let n = s.read(&mut b[..want]).await.expect("read big");
            assert!(n > 0 && n <= want, "read {n} of {want}");
            assert!(
                b[..n]
                    .iter()
                    .enumerate()
                    .all(|(k, &x)| x == pattern(got + k)),
                "big: wrong bytes at {got} (read {n} of {want}): first bad at {:?}, got {:?}, want {:?}",
                b[..n].iter().enumerate().position(|(k, &x)| x != pattern(got + k)),
                &b[..n.min(16)],
                (0..n.min(16)).map(|k| pattern(got + k)).collect::<Vec<_>>()
            );
            got += n;
        }
        // A read that times out leaves nothing behind; the data after it is read whole.
        s.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let e = s.read(&mut b).await.expect_err("read should time out");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        s.set_read_timeout(None).expect("no timeout");
        let mut late = [0u8; 4];
        s.read_exact(&mut late).await.expect("read late");
        assert_eq!(&late, b"late");
        // A read dropped while waiting, then a peek that must see the next bytes.
        let dropped = glommio::timer::timeout(Duration::from_millis(10), async {
            Ok(s.read(&mut b).await)
        })
        .await;
        assert!(dropped.is_err(), "read should have been dropped");
        let mut p = [0u8; 4];
        let n = s.peek(&mut p).await.expect("peek");
        assert_eq!(&p[..n], &b"peek"[..n], "peek");
        assert!(n > 0);
        s.read_exact(&mut p).await.expect("read after peek");
        assert_eq!(&p, b"peek");
        let huge: Vec<u8> = (0..HUGE).map(pattern).collect();
        s.write_all(&huge).await.expect("write huge");
        assert_eq!(s.read(&mut b).await.expect("EOF"), 0, "expected EOF");
        // A read after EOF answers 0 at once (AsyncBufRead::fill_buf relies on it).
        let again = glommio::timer::timeout(Duration::from_millis(500), async {
            Ok(s.read(&mut b).await)
        })
        .await;
        assert_eq!(again.expect("read after EOF pended").expect("EOF"), 0);
        client.join().expect("client");
    });
    println!(
        "  stream io: 200 KB in odd-sized reads, timeout, dropped read, peek, 4 MB write, EOF twice ok"
    );
}

/// Patch 8: `TcpStream::received` waits for bytes without a buffer and leaves them for the
/// next read (whole, in order); it answers at once for bytes already received and at EOF,
/// and it honours the read timeout.
fn smoke_received() {
    let ex = smoke_executor();
    ex.run(async {
        let (listener, port) = smoke_listener();
        let client = std::thread::spawn(move || {
            let mut s = StdTcpStream::connect(("127.0.0.1", port)).expect("connect");
            std::thread::sleep(Duration::from_millis(30));
            s.write_all(b"hello").expect("write hello");
            std::thread::sleep(Duration::from_millis(80));
            s.write_all(b"abcdef").expect("write abcdef");
            std::thread::sleep(Duration::from_millis(30));
            s.shutdown(Shutdown::Write).expect("shutdown");
        });
        let mut s = listener.accept().await.expect("accept");
        let started = std::time::Instant::now();
        s.received(16 << 10).await.expect("received hello");
        assert!(
            started.elapsed() >= Duration::from_millis(20),
            "answered before the bytes came"
        );
        let mut b = [0u8; 64];
        let n = s.read(&mut b).await.expect("read hello");
        assert_eq!(&b[..n], b"hello");
        // The next bytes come 80 ms later: a 20 ms read timeout ends the wait first.
        s.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let e = s
            .received(16 << 10)
            .await
            .expect_err("received should time out");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        s.set_read_timeout(None).expect("no timeout");
        s.received(16 << 10).await.expect("received abcdef");
        let mut three = [0u8; 3];
        s.read_exact(&mut three).await.expect("read abc");
        assert_eq!(&three, b"abc");
        // "def" is received already: the wait ends at once.
        glommio::timer::timeout(Duration::from_millis(500), async {
            Ok(s.received(16 << 10).await)
        })
        .await
        .expect("received pended with bytes buffered")
        .expect("received def");
        s.read_exact(&mut three).await.expect("read def");
        assert_eq!(&three, b"def");
        s.received(16 << 10).await.expect("received EOF");
        assert_eq!(s.read(&mut b).await.expect("EOF"), 0, "expected EOF");
        client.join().expect("client");
    });
    println!("  received: wait without a buffer, bytes whole, timeout, buffered bytes, EOF ok");
}

/// Patch 7: stream reads whose RECVs complete while nobody reads hold a provided
/// buffer each, until the next read drains it. With more such streams than the
/// ring has buffers, the rest complete with `ENOBUFS` and fall back (the data is
/// read all the same); every buffer is back in the ring once the streams are read;
/// a stream dropped with a RECV in flight whose completion carries a buffer gives
/// it back too, as does one dropped with a completed, unread RECV. Without a ring
/// (`GLOMMIO_SOCKET_PBUF=0`, stock) the same traffic is checked for its bytes only.
fn smoke_recv_buffers() {
    const MSG: usize = 100;
    let ex = smoke_executor();
    ex.run(async {
        let ring = glommio::net::stream_recv_buffers();
        // More streams than buffers (and not too many file descriptors).
        let streams = ring.map_or(8, |r| r.total + 2);
        assert!(streams <= 400, "ring of {:?}: too many streams for this check", ring);
        let (listener, port) = smoke_listener();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let client = std::thread::spawn(move || {
            let mut conns: Vec<StdTcpStream> = (0..streams + 2)
                .map(|_| StdTcpStream::connect(("127.0.0.1", port)).expect("connect"))
                .collect();
            // 1: every stream has a read waiting; send to all at once.
            go_rx.recv().expect("go 1");
            for (c, s) in conns[..streams].iter_mut().enumerate() {
                let msg: Vec<u8> = (0..MSG).map(|i| pattern(c + i)).collect();
                s.write_all(&msg).expect("write");
            }
            // 1b: the same again.
            go_rx.recv().expect("go 1b");
            for (c, s) in conns[..streams].iter_mut().enumerate() {
                let msg: Vec<u8> = (0..MSG).map(|i| pattern(c + i)).collect();
                s.write_all(&msg).expect("write");
            }
            // 2: the two extra streams, each with a RECV in flight.
            for step in 0..2 {
                go_rx.recv().expect("go 2");
                conns[streams + step].write_all(b"orphan").expect("write orphan");
            }
            go_rx.recv().expect("done");
        });
        let mut conns = Vec::new();
        for _ in 0..streams + 2 {
            conns.push(listener.accept().await.expect("accept"));
        }
        let mut b = [0u8; MSG];
        leave_recvs_in_flight(&mut conns).await;
        let before = glommio::net::stream_recv_buffers();
        go_tx.send(()).expect("go");
        glommio::timer::sleep(Duration::from_millis(100)).await;
        if let (Some(r), Some(before)) = (glommio::net::stream_recv_buffers(), before) {
            assert_eq!(before.in_use, 0, "{before:?}");
            assert_eq!(r.in_use, r.total, "every buffer held by a completed RECV: {r:?}");
        }
        for (c, s) in conns[..streams].iter_mut().enumerate() {
            s.read_exact(&mut b).await.expect("read");
            assert!(
                b.iter().enumerate().all(|(i, &x)| x == pattern(c + i)),
                "stream {c}: wrong bytes"
            );
        }
        if let Some(r) = glommio::net::stream_recv_buffers() {
            assert_eq!(r.in_use, 0, "buffers not given back: {r:?}");
            let before = before.expect("ring");
            assert_eq!(r.empty, before.empty + 2, "two RECVs found the ring empty: {r:?}");
        }
        // A second burst: the two streams that fell back take ring buffers again, so two
        // RECVs find the ring empty again. (Before the fix, their next RECVs brought 16 KiB
        // buffers of their own, held for as long as a stream idled: the other 256 fit the
        // ring and none fell back.)
        leave_recvs_in_flight(&mut conns[..streams]).await;
        let before = glommio::net::stream_recv_buffers();
        go_tx.send(()).expect("go");
        glommio::timer::sleep(Duration::from_millis(100)).await;
        for (c, s) in conns[..streams].iter_mut().enumerate() {
            s.read_exact(&mut b).await.expect("read");
            assert!(
                b.iter().enumerate().all(|(i, &x)| x == pattern(c + i)),
                "stream {c}: wrong bytes (second burst)"
            );
        }
        if let (Some(r), Some(before)) = (glommio::net::stream_recv_buffers(), before) {
            assert_eq!(r.in_use, 0, "buffers not given back: {r:?}");
            assert_eq!(r.empty, before.empty + 2, "the streams that fell back use the ring again: {r:?}");
        }
        // A stream dropped with a completed, unread RECV.
        let mut extra = conns.split_off(streams);
        let late = extra.pop().expect("stream");
        let first = extra.pop().expect("stream");
        go_tx.send(()).expect("go");
        glommio::timer::sleep(Duration::from_millis(50)).await;
        if let Some(r) = glommio::net::stream_recv_buffers() {
            assert_eq!(r.in_use, 1, "the unread RECV holds a buffer: {r:?}");
        }
        drop(first);
        if let Some(r) = glommio::net::stream_recv_buffers() {
            assert_eq!(r.in_use, 0, "dropped stream's buffer: {r:?}");
        }
        // A stream dropped while its RECV's completion is in the ring, not yet
        // seen by the reactor: the orphan source gets the buffer and gives it back.
        let taken = glommio::net::stream_recv_buffers().map(|r| r.taken);
        go_tx.send(()).expect("go");
        std::thread::sleep(Duration::from_millis(50)); // the executor does not run
        drop(late);
        glommio::timer::sleep(Duration::from_millis(20)).await;
        if let (Some(r), Some(taken)) = (glommio::net::stream_recv_buffers(), taken) {
            assert_eq!(r.in_use, 0, "orphan completion's buffer: {r:?}");
            assert_eq!(r.taken, taken + 1, "the orphan completion carried a buffer: {r:?}");
        }
        go_tx.send(()).expect("done");
        client.join().expect("client");
        drop(conns);
        match glommio::net::stream_recv_buffers() {
            Some(r) => println!(
                "  recv buffers: {streams} reads completing at once on a ring of {} x {} B (2 fell back), twice, all given back; dropped streams give theirs back",
                r.total, r.size
            ),
            None => println!("  recv buffers: no ring (switched off); {streams} timed-out reads then data, dropped streams ok"),
        }
    });
}

/// Spins without a syscall until `need_preempt()` says yes; how long that took. Fails with
/// `failure` after `limit`.
fn spin_until_preempted(limit: Duration, failure: &str) -> Duration {
    let t = Instant::now();
    while !glommio::executor().need_preempt() {
        assert!(t.elapsed() < limit, "{failure}");
        std::hint::spin_loop();
    }
    t.elapsed()
}

/// A read that times out leaves its RECV in flight: one on each stream.
async fn leave_recvs_in_flight(streams: &mut [TcpStream]) {
    let mut b = [0u8; 1];
    for s in streams.iter_mut() {
        s.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let e = s.read(&mut b).await.expect_err("nothing sent yet");
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
        s.set_read_timeout(None).expect("no timeout");
    }
}

fn switches_stock_accept() -> bool {
    std::env::var_os("GLOMMIO_STOCK_ACCEPT").is_some()
}

/// Two executors on a full mesh exchange messages both ways, including one sent
/// after a delay so that the receiver has parked (remote wake-up of a sleeper).
fn smoke_mesh() {
    const N: u64 = 10_000;
    let mesh = MeshBuilder::<u64, _>::full(2, 64);
    let handles: Vec<_> = (0..2)
        .map(|cpu| {
            let mesh = mesh.clone();
            LocalExecutorBuilder::new(Placement::Fixed(cpu))
                .spawn(move || async move {
                    let (tx, rx) = mesh.join().await.expect("join");
                    let me = tx.peer_id();
                    let peer = 1 - me;
                    let send = glommio::spawn_local(async move {
                        for i in 0..N {
                            tx.send_to(peer, i).await.expect("send");
                        }
                        glommio::timer::sleep(Duration::from_millis(30)).await;
                        tx.send_to(peer, u64::MAX).await.expect("send late");
                    });
                    let mut sum = 0;
                    for _ in 0..N {
                        sum += rx.recv_from(peer).await.expect("recv").expect("msg");
                    }
                    let t = Instant::now();
                    let late = rx.recv_from(peer).await.expect("recv").expect("late");
                    assert_eq!(late, u64::MAX);
                    send.await;
                    (sum, t.elapsed())
                })
                .expect("spawn executor")
        })
        .collect();
    for h in handles {
        let (sum, late_wait) = h.join().expect("executor");
        assert_eq!(sum, N * (N - 1) / 2);
        assert!(
            late_wait < Duration::from_secs(2),
            "late message took {late_wait:?}"
        );
    }
    println!("  mesh: 2 executors x {N} messages each way + a late wake-up, ok");
}

/// A CPU-bound task must see `need_preempt()` turn true about one preempt period after
/// it started (the preempt timer's completion must reach the latency ring while the
/// thread never enters the kernel), and a timer must wake a sleeping executor on time.
fn smoke_preempt_and_timer() {
    let ex = LocalExecutorBuilder::new(Placement::Fixed(1))
        .preempt_timer(Duration::from_millis(10))
        .make()
        .expect("executor");
    ex.run(async {
        let mut worst = Duration::ZERO;
        for _ in 0..5 {
            glommio::yield_if_needed().await;
            worst = worst.max(spin_until_preempted(
                Duration::from_secs(1),
                "need_preempt never fired",
            ));
            glommio::executor().yield_now().await;
        }
        assert!(
            worst < Duration::from_millis(30),
            "preempt came after {worst:?}"
        );
        let t = Instant::now();
        glommio::timer::sleep(Duration::from_millis(20)).await;
        let slept = t.elapsed();
        assert!(
            slept >= Duration::from_millis(20) && slept < Duration::from_millis(60),
            "20 ms sleep took {slept:?}"
        );
        println!("  preempt: worst {worst:?} for a 10 ms timer; timer: 20 ms sleep took {slept:?}");
    });
}
