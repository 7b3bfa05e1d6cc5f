//! The proof of the promise: zero failed requests while servers are switched. Each scenario
//! starts the real `pointsman` in front of real backends (`pointsman-backend`, or private
//! nginx instances), runs a constant load through the project's load tester (keep-alive and
//! fresh connections at once, a few hundred requests per second), switches servers under it,
//! and asserts that every request got a complete 2xx answer, that the servers that answered are
//! the expected ones at every moment, and that `show stat` accounts for what happened.
//!
//! Scenarios run one at a time (a lock): they measure the proxy, not a fight for two cores.

mod common;
mod loadtest_support;

use common::*;
use loadtest_support::load_options;
use pointsman::loadtest::switches::SwitchEvent;
use pointsman::loadtest::{run_with_output, Report, Sample};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One scenario at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Requests per second on keep-alive connections, and on a fresh connection each.
const KEEP_ALIVE_RATE: &str = "200";
const FRESH_RATE: &str = "100";

/// The proxy in front of `bk_app`: HAProxy's retry settings for the promise (`retries 3`,
/// `option redispatch`), short check timeouts, and the given backend lines.
fn config(port: u16, backend: &str) -> String {
    format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         \x20   timeout check 1s\n    retries 3\n    option redispatch\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk_app\n\
         backend bk_app\n    balance roundrobin\n{backend}"
    )
}

/// One load run's report, and where its clock stands on the scenario's clock.
struct Run {
    name: String,
    report: Report,
    /// The run's time 0 on the scenario's clock ([`Running::elapsed`]).
    offset: Duration,
}

/// The reports of one scenario's load, on one clock: the scenario's.
struct Load {
    runs: Vec<Run>,
    /// The keep-alive run's switches (sync command left out), on the scenario's clock.
    switches: Vec<SwitchEvent>,
}

/// A load running in the background. Each run is a `pointsman load` in its own thread, with
/// its own time 0; to put them on one clock, each sends a harmless `show info` first and the
/// moment its reply is printed is stamped ([`Stamp`]).
struct Running {
    started: Instant,
    threads: Vec<(String, Stamp, std::thread::JoinHandle<Report>)>,
}

/// Records when the first line was written to a run's output: the sync command's reply.
#[derive(Clone, Default)]
struct Stamp(std::sync::Arc<Mutex<Option<Instant>>>);

impl std::io::Write for Stamp {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let now = Instant::now();
        self.0.lock().unwrap().get_or_insert(now);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The command each run sends first to put its clock on the scenario's.
const SYNC_COMMAND: &str = "show info";

impl Running {
    /// Time since the load started: the scenario's clock.
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sleeps until `at` into the load.
    fn sleep_until(&self, at: Duration) {
        if let Some(left) = at.checked_sub(self.elapsed()) {
            std::thread::sleep(left);
        }
    }

    fn wait(self) -> Load {
        let started = self.started;
        let runs: Vec<Run> = self
            .threads
            .into_iter()
            .map(|(name, stamp, thread)| {
                let report = thread.join().expect("load thread");
                let printed = stamp.0.lock().unwrap().expect("the sync line was printed");
                let sync = report.switches.first().expect("sync command");
                assert_eq!(sync.command, SYNC_COMMAND);
                // The reply was printed right after the run measured `replied`.
                let offset = (printed - started).saturating_sub(sync.replied);
                Run {
                    name,
                    report,
                    offset,
                }
            })
            .collect();
        let keep_alive = runs.iter().find(|r| r.name == "keep-alive").unwrap();
        let switches = keep_alive.report.switches[1..]
            .iter()
            .map(|s| SwitchEvent {
                sent: s.sent + keep_alive.offset,
                replied: s.replied + keep_alive.offset,
                ..s.clone()
            })
            .collect();
        Load { runs, switches }
    }
}

/// Options of one load run.
struct LoadSpec<'a> {
    port: u16,
    seconds: f64,
    socket: &'a Path,
    /// `--at TIME COMMAND` switches (sent by the keep-alive run).
    at: &'a [(&'a str, &'a str)],
    /// Extra `-H` headers for the keep-alive and fresh runs.
    headers: &'a [&'a str],
    /// An extra keep-alive run without those headers (new clients beside sticky ones).
    new_clients: bool,
    /// Connections of each run (each carries one request at a time: slow servers need more).
    connections: usize,
}

impl<'a> LoadSpec<'a> {
    /// `seconds` of load on `port` over four connections a run: no switch, no extra header, no
    /// new clients. Scenarios set their switches and options on top of it.
    fn steady(port: u16, seconds: f64, socket: &'a Path) -> LoadSpec<'a> {
        LoadSpec {
            port,
            seconds,
            socket,
            at: &[],
            headers: &[],
            new_clients: false,
            connections: 4,
        }
    }
}

fn start_load(spec: &LoadSpec) -> Running {
    let url = format!("http://127.0.0.1:{}/", spec.port);
    let duration = format!("{}ms", (spec.seconds * 1000.0) as u64);
    let base = |rate: &str, connections: &str, keep_alive: &str| -> Vec<String> {
        let mut args: Vec<String> = [
            url.as_str(),
            "--rate",
            rate,
            "-c",
            connections,
            "--keep-alive",
            keep_alive,
            "-d",
            &duration,
            "--server-header",
            "X-Server",
            "--timeout",
            LOAD_REQUEST_TIMEOUT,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(["--socket".to_string(), spec.socket.display().to_string()]);
        args.extend(["--at".into(), "1ms".into(), SYNC_COMMAND.into()]);
        args
    };
    let mut runs: Vec<(String, Vec<String>)> = Vec::new();
    let connections = spec.connections.to_string();
    let mut keep_alive = base(KEEP_ALIVE_RATE, &connections, "true");
    for (time, command) in spec.at {
        keep_alive.extend(["--at".into(), time.to_string(), command.to_string()]);
    }
    let mut fresh = base(FRESH_RATE, &connections, "false");
    for header in spec.headers {
        keep_alive.extend(["-H".into(), header.to_string()]);
        fresh.extend(["-H".into(), header.to_string()]);
    }
    runs.push(("keep-alive".into(), keep_alive));
    runs.push(("fresh".into(), fresh));
    if spec.new_clients {
        runs.push(("new clients".into(), base("100", "2", "true")));
    }
    let started = Instant::now();
    let threads = runs
        .into_iter()
        .map(|(name, args)| {
            let stamp = Stamp::default();
            let sink = stamp.clone();
            let handle = std::thread::spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run_with_output(&load_options(&args), Box::new(sink)).expect("load")
            });
            (name, stamp, handle)
        })
        .collect();
    Running { started, threads }
}

impl Load {
    /// The keep-alive run's switches, on the scenario's clock.
    fn switches(&self) -> &[SwitchEvent] {
        &self.switches
    }

    /// Asserts the promise: every planned request of every run was sent and got a complete
    /// 2xx, none took longer than [`LATENCY_FACTOR`] times the p99 latency of the same run's
    /// steady part (from [`STEADY_FROM`] to `steady_until`, the scenario's first switch or
    /// failure), and no switch command failed. Prints the counts (the figures the issue asks
    /// to report).
    ///
    /// The reference is the steady p99 of latency, what a client sees (from the intended send
    /// time); what is bounded is each request's service time (from its actual send to its
    /// last byte): a stalled request shows there whole, while the load generator's own
    /// lateness on a busy machine does not. The steady service p99 is printed beside it; on
    /// keep-alive runs it can be a fraction of a millisecond, too fine a yardstick for a
    /// shared machine's scheduling.
    fn assert_zero_failures(&self, scenario: &str, steady_until: Duration) {
        for Run { name, report, .. } in &self.runs {
            let w = &report.whole;
            let steady = self.steady_p99(name, steady_until, Sample::latency_ns);
            let steady_service = self.steady_p99(name, steady_until, Sample::service_ns);
            let bound = steady * LATENCY_FACTOR;
            let ratio = |d: Duration, of: Duration| d.as_secs_f64() / of.as_secs_f64();
            println!(
                "{scenario} [{name}]: {} planned, {} requests, {} ok, {} failed {:?}, unsent {}, \
                 servers {:?}; latency steady p99 {steady:?}, max {:?}; service steady p99 \
                 {steady_service:?}, max {:?} ({:.1}x the steady latency p99)",
                report.planned,
                w.requests,
                w.ok,
                w.error_count(),
                w.errors,
                report.schedule.unsent,
                w.servers,
                w.latency.max,
                w.service.max,
                ratio(w.service.max, steady),
            );
            assert!(w.requests > 0, "{scenario} [{name}]: no request was sent");
            assert_eq!(
                (w.requests, report.schedule.unsent),
                (report.planned, 0),
                "{scenario} [{name}]: not every planned request was sent"
            );
            assert_eq!(
                w.error_count(),
                0,
                "{scenario} [{name}]: failed requests {:?}",
                w.errors
            );
            assert_eq!(
                w.ok, w.requests,
                "{scenario} [{name}]: not every request was a 2xx"
            );
            assert!(
                w.service.max <= bound,
                "{scenario} [{name}]: the slowest request took {:?}, more than {LATENCY_FACTOR} \
                 times the steady latency p99 ({steady:?}); slowest:\n{}",
                w.service.max,
                slowest(report, 5)
            );
            for s in &report.switches {
                assert!(s.reply.is_ok(), "{scenario}: switch failed: {}", s.line());
            }
        }
    }

    /// The p99 of `time` (a [`Sample`] duration, in ns) over the requests of run `name` sent
    /// in its steady part: from [`STEADY_FROM`] to `until` on the scenario's clock.
    fn steady_p99(&self, name: &str, until: Duration, time: fn(&Sample) -> u64) -> Duration {
        let mut latencies: Vec<u64> = self
            .samples(&[name], STEADY_FROM, until)
            .map(|(_, s, _)| time(s))
            .collect();
        assert!(
            latencies.len() >= 50,
            "[{name}]: {} requests in the steady part, too few for a p99",
            latencies.len()
        );
        latencies.sort_unstable();
        Duration::from_nanos(latencies[latencies.len() * 99 / 100])
    }

    /// Samples of the given runs sent within `[from, to)` on the scenario's clock, with their
    /// time on it. The keep-alive run shares the switches' own measurements; the others are
    /// placed on it through their sync command, to within [`SYNC_MARGIN`], by which their
    /// window is narrowed on both sides.
    fn samples<'a>(
        &'a self,
        runs: &'a [&str],
        from: Duration,
        to: Duration,
    ) -> impl Iterator<Item = (Duration, &'a Sample, &'a [String])> + 'a {
        self.runs
            .iter()
            .filter(move |run| runs.contains(&run.name.as_str()))
            .flat_map(move |run| {
                let (from, to) = if run.name == "keep-alive" {
                    (from, to)
                } else {
                    (from + SYNC_MARGIN, to.saturating_sub(SYNC_MARGIN))
                };
                run.report.samples.iter().filter_map(move |s| {
                    let sent = Duration::from_nanos(s.sent_ns) + run.offset;
                    (sent >= from && sent < to).then_some((
                        sent,
                        s,
                        run.report.server_names.as_slice(),
                    ))
                })
            })
    }

    /// Which servers answered the requests of `runs` sent within `[from, to)`.
    fn served(&self, runs: &[&str], from: Duration, to: Duration) -> BTreeMap<String, u64> {
        let mut served = BTreeMap::new();
        for (_, sample, names) in self.samples(runs, from, to) {
            *served.entry(server_name(sample, names)).or_insert(0) += 1;
        }
        served
    }

    /// The requests of `runs` sent within `[from, to)` and answered before `to` that `allowed`
    /// servers did not answer: (run time, server), for failure messages. A request still in
    /// flight at `to` (where the next switch is sent) may have been routed after that switch
    /// applied, on a loaded machine: which state routed it is unknowable, so it is not judged.
    fn strays(
        &self,
        runs: &[&str],
        (from, to): (Duration, Duration),
        allowed: &[&str],
    ) -> Vec<(Duration, String)> {
        self.samples(runs, from, to)
            .filter(|(sent, s, _)| {
                *sent + Duration::from_nanos(s.done_ns.saturating_sub(s.sent_ns)) < to
            })
            .map(|(sent, s, names)| (sent, server_name(s, names)))
            .filter(|(_, name)| !allowed.contains(&name.as_str()))
            .collect()
    }
}

/// The `count` slowest requests of a run, one line each: when each was due, sent and done (on
/// the run's clock) and which server answered.
fn slowest(report: &Report, count: usize) -> String {
    let mut samples: Vec<&Sample> = report.samples.iter().collect();
    samples.sort_by_key(|s| std::cmp::Reverse(s.service_ns()));
    let ms = |ns: u64| ns as f64 / 1e6;
    samples
        .iter()
        .take(count)
        .map(|s| {
            format!(
                "  #{} due {:.1} ms, sent {:.1} ms, done {:.1} ms (service {:.1} ms), server {}",
                s.seq,
                ms(s.intended_ns),
                ms(s.sent_ns),
                ms(s.done_ns),
                ms(s.service_ns()),
                server_name(s, &report.server_names)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn server_name(sample: &Sample, names: &[String]) -> String {
    sample
        .server
        .and_then(|i| names.get(i as usize))
        .cloned()
        .unwrap_or_else(|| "?".into())
}

const BOTH: &[&str] = &["keep-alive", "fresh"];

/// The latency bound of the promise, as a multiple of the steady p99 of the same run: a
/// switch may cost a retry or a reconnect, not a stall (a stall just under the load's
/// request timeout fails it). The factor leaves room for a busy shared machine, where a steady
/// p99 of a few milliseconds meets scheduling hiccups of tens: in passing runs the slowest
/// request measured up to 26 times the steady p99 (nginx's graceful restart, 95 ms against
/// 3.7 ms). With a slow server (s2's 150 ms) the bound passes the load's request timeout,
/// which is then the tighter check.
const LATENCY_FACTOR: u32 = 50;

/// Where a run's steady part starts on the scenario's clock: past its first connections.
const STEADY_FROM: Duration = Duration::from_millis(300);

/// How precisely the runs other than keep-alive are placed on the scenario's clock: a run's
/// sync reply is stamped when printed, a little after the run measured it.
const SYNC_MARGIN: Duration = Duration::from_millis(20);

/// The share of `server` in `served`, in percent.
fn share(served: &BTreeMap<String, u64>, server: &str) -> f64 {
    let total: u64 = served.values().sum();
    assert!(total > 0, "no request in the window");
    100.0 * *served.get(server).unwrap_or(&0) as f64 / total as f64
}

/// Waits until `status` of the server satisfies `ready`; returns when it did.
fn wait_status(p: &Pointsman, server: &str, ready: impl Fn(&str) -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = p.status("bk_app", server);
        if ready(&status) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{server} still '{status}' after 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The backends a scenario runs against: the test backend or real nginx.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    TestBackend,
    Nginx,
}

/// One running backend of either kind, stopped when dropped.
enum Server {
    Test(Backend),
    Nginx(Nginx),
}

impl Server {
    fn start(kind: Kind, name: &str, port: Option<u16>) -> Server {
        match kind {
            Kind::TestBackend => {
                let listen = format!("127.0.0.1:{}", port.unwrap_or(0));
                Server::Test(backend_on(&listen, name, name, &[]))
            }
            Kind::Nginx => Server::Nginx(nginx(name, name, port.unwrap_or_else(free_port))),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Server::Test(b) => b.port(),
            Server::Nginx(n) => n.port,
        }
    }

    /// SIGKILL, every process of it (nginx's worker too).
    fn kill(&mut self) {
        match self {
            Server::Test(b) => b.proc.kill(),
            Server::Nginx(n) => n.kill_all(),
        }
    }
}

// ------------------------------------------------------------------------------------------
// 1. disable/enable server on the active server, flapping every 200 ms: the backup takes over.

fn flapping(kind: Kind) {
    let _serial = serial();
    let scenario = format!("flapping ({kind:?})");
    let [nginx1, nginx2] = ["nginx1", "nginx2"].map(|name| Server::start(kind, name, None));
    let port = free_port();
    let lines = server_line("nginx1", nginx1.port(), "check inter 500ms backup")
        + &server_line("nginx2", nginx2.port(), "check inter 500ms");
    let p = pointsman(&config(port, &lines), 1, port);
    let mut at = Vec::new();
    let times: Vec<String> = (0..20).map(|i| format!("{}ms", 1000 + 200 * i)).collect();
    for (i, time) in times.iter().enumerate() {
        let verb = if i % 2 == 0 { "disable" } else { "enable" };
        at.push((
            time.as_str(),
            if verb == "disable" {
                "disable server bk_app/nginx2"
            } else {
                "enable server bk_app/nginx2"
            },
        ));
    }
    let load = start_load(&LoadSpec {
        at: &at,
        ..LoadSpec::steady(port, 6.0, &p.socket)
    })
    .wait();
    load.assert_zero_failures(&scenario, load.switches()[0].sent);
    let whole = load.served(BOTH, Duration::ZERO, Duration::from_secs(60));
    assert!(
        whole.contains_key("nginx1") && whole.contains_key("nginx2"),
        "{whole:?}"
    );
    // Each switch acts on the very next request: between a disable's reply and the next
    // enable only the backup answers, and after an enable's reply only nginx2.
    let switches = load.switches();
    for (i, s) in switches.iter().enumerate() {
        let until = switches
            .get(i + 1)
            .map_or(Duration::from_secs(60), |next| next.sent);
        let expected = if s.command.starts_with("disable") {
            "nginx1"
        } else {
            "nginx2"
        };
        let strays = load.strays(BOTH, (s.replied, until), &[expected]);
        assert!(
            strays.is_empty(),
            "{scenario}: after '{}' replied at {:?}, requests sent at these times went to: {strays:?}",
            s.command,
            s.replied
        );
    }
    // HAProxy counts each entry into maintenance as a DOWN transition.
    assert!(p.stat_number("bk_app", "nginx2", "chkdown") >= 10);
    assert_eq!(p.status("bk_app", "nginx2"), "UP");
}

#[test]
fn s1_flapping_active_server_backup_takes_over() {
    flapping(Kind::TestBackend);
}

#[test]
fn s1_flapping_with_nginx() {
    flapping(Kind::Nginx);
}

// ------------------------------------------------------------------------------------------
// 2. set server state drain, then del server with requests in flight.

#[test]
fn s2_drain_then_delete_with_requests_in_flight() {
    let _serial = serial();
    let scenario = "drain + del server";
    let servers: Vec<Backend> = ["s1", "s2", "s3"]
        .iter()
        .map(|n| backend(n, n, &["--delay-ms", "150"]))
        .collect();
    let port = free_port();
    let lines = server_lines(&servers, "check inter 500ms");
    let p = pointsman(&config(port, &lines), 1, port);
    let load = start_load(&LoadSpec {
        at: &[
            ("2s", "set server bk_app/s3 state drain"),
            ("2020ms", "del server bk_app/s3"),
        ],
        // 150 ms per request: ~45 in flight at once.
        connections: 48,
        ..LoadSpec::steady(port, 5.0, &p.socket)
    })
    .wait();
    load.assert_zero_failures(scenario, load.switches()[0].sent);
    let (drain, del) = (&load.switches()[0], &load.switches()[1]);
    println!("{scenario}: del server replied {:?}", del.reply);
    assert!(load.served(BOTH, Duration::ZERO, drain.sent)["s3"] > 0);
    // DRAIN takes no new client at once.
    let after = load.served(BOTH, drain.replied, Duration::from_secs(60));
    assert!(!after.contains_key("s3"), "{after:?}");
    // Requests that were running on s3 when `del server` came finished normally.
    let finished_late = load
        .samples(BOTH, Duration::ZERO, drain.sent)
        .filter(|(sent, s, names)| {
            server_name(s, names) == "s3"
                && *sent + Duration::from_nanos(s.done_ns - s.sent_ns) > del.sent
        })
        .count();
    assert!(
        finished_late > 0,
        "no request was in flight on s3 at del time"
    );
    // And then it disappears.
    wait_for(Duration::from_secs(5), || {
        !p.admin("show servers state bk_app").contains(" s3 ")
    });
    assert!(!p.admin("show stat").contains("bk_app,s3,"));
}

// ------------------------------------------------------------------------------------------
// 3. Canary: weights stepped 0 → 10 → 50 → 100 %; the observed split follows within ±3 %.

#[test]
fn s3_canary_weights_are_followed() {
    let _serial = serial();
    let scenario = "canary weights";
    let [stable, canary] = backends(["stable", "canary"]);
    let port = free_port();
    let lines = server_lines([&stable], "weight 100 check inter 500ms")
        + &server_lines([&canary], "weight 0 check inter 500ms");
    let p = pointsman(&config(port, &lines), 1, port);
    let steps = [
        (
            "2s",
            "set server bk_app/stable weight 90; set server bk_app/canary weight 10",
        ),
        (
            "4s",
            "set server bk_app/stable weight 50; set server bk_app/canary weight 50",
        ),
        (
            "6s",
            "set server bk_app/stable weight 0; set server bk_app/canary weight 100",
        ),
    ];
    let load = start_load(&LoadSpec {
        at: &steps,
        ..LoadSpec::steady(port, 8.0, &p.socket)
    })
    .wait();
    load.assert_zero_failures(scenario, load.switches()[0].sent);
    let switches = load.switches();
    let margin = Duration::from_millis(100);
    let mut bounds = vec![(Duration::ZERO, switches[0].sent)];
    for (i, s) in switches.iter().enumerate() {
        let end = switches
            .get(i + 1)
            .map_or(Duration::from_secs(8), |next| next.sent);
        bounds.push((s.replied + margin, end));
    }
    for ((from, to), expected) in bounds.into_iter().zip([0.0, 10.0, 50.0, 100.0]) {
        let served = load.served(BOTH, from, to);
        let observed = share(&served, "canary");
        println!("{scenario}: {from:?}..{to:?} canary {observed:.1}% (expected {expected}%)");
        assert!(
            (observed - expected).abs() <= 3.0,
            "canary got {observed:.1}% instead of {expected}% in {from:?}..{to:?}: {served:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// 4. add server under load: it takes its share.

#[test]
fn s4_added_server_takes_its_share() {
    let _serial = serial();
    let scenario = "add server";
    let [s1, s2, s3] = backends(["s1", "s2", "s3"]);
    let port = free_port();
    let lines = server_lines([&s1, &s2], "check inter 500ms");
    let p = pointsman(&config(port, &lines), 1, port);
    let add = format!(
        "add server bk_app/s3 127.0.0.1:{} check inter 500ms",
        s3.port()
    );
    let load = start_load(&LoadSpec {
        at: &[("2s", add.as_str()), ("2100ms", "enable server bk_app/s3")],
        ..LoadSpec::steady(port, 6.0, &p.socket)
    })
    .wait();
    load.assert_zero_failures(scenario, load.switches()[0].sent);
    let added = &load.switches()[1];
    assert!(!load
        .served(BOTH, Duration::ZERO, load.switches()[0].sent)
        .contains_key("s3"));
    let after = load.served(BOTH, added.replied, Duration::from_secs(60));
    let observed = share(&after, "s3");
    println!("{scenario}: s3 took {observed:.1}% after it was added");
    assert!(
        (observed - 100.0 / 3.0).abs() <= 3.0,
        "s3 got {observed:.1}%: {after:?}"
    );
    assert!(p.stat_number("bk_app", "s3", "stot") > 0);
}

// ------------------------------------------------------------------------------------------
// 5. A backend killed with SIGKILL under load: retried, DOWN by checks, back after `rise`.

fn killed(kind: Kind) {
    let _serial = serial();
    let scenario = format!("SIGKILL ({kind:?})");
    let [s1, mut s2, s3] = ["s1", "s2", "s3"].map(|name| Server::start(kind, name, None));
    let s2_port = s2.port();
    let port = free_port();
    let lines = format!(
        "    option httpchk GET /\n    default-server check inter 300ms fall 2 rise 2\n{}{}{}",
        server_line("s1", s1.port(), ""),
        server_line("s2", s2_port, ""),
        server_line("s3", s3.port(), "")
    );
    let p = pointsman_logged(&config(port, &lines), 1, port);
    wait_status(&p, "s2", |s| s == "UP");
    let running = start_load(&LoadSpec::steady(port, 9.0, &p.socket));
    running.sleep_until(Duration::from_secs(2));
    let killed_at = running.elapsed();
    s2.kill();
    wait_status(&p, "s2", |s| s.starts_with("DOWN"));
    let down_at = running.elapsed();
    running.sleep_until(down_at.max(Duration::from_millis(4500)));
    let _s2_again = Server::start(kind, "s2", Some(s2_port));
    wait_status(&p, "s2", |s| s == "UP");
    let up_at = running.elapsed();
    let load = running.wait();
    println!("{scenario}: killed at {killed_at:?}, DOWN at {down_at:?}, UP again at {up_at:?}");
    load.assert_zero_failures(&scenario, killed_at);
    assert!(load
        .served(BOTH, Duration::ZERO, killed_at)
        .contains_key("s2"));
    let back = load.served(BOTH, up_at, Duration::from_secs(60));
    assert!(
        back.contains_key("s2"),
        "s2 took no traffic once UP: {back:?}"
    );
    let s2_stat = p.stat("bk_app", "s2");
    let backend_stat = p.stat("bk_app", "BACKEND");
    println!(
        "{scenario}: s2 chkfail {} chkdown {}; backend wretr {} wredis {} econ {} eresp {}",
        s2_stat["chkfail"],
        s2_stat["chkdown"],
        backend_stat["wretr"],
        backend_stat["wredis"],
        backend_stat["econ"],
        backend_stat["eresp"]
    );
    assert!(p.stat_number("bk_app", "s2", "chkfail") >= 2);
    assert!(p.stat_number("bk_app", "s2", "chkdown") >= 1);
    // Requests that met the dead server were sent again on another one.
    assert!(p.stat_number("bk_app", "BACKEND", "wredis") >= 1);
    let log = p.log();
    assert!(
        log.contains("Server bk_app/s2 is DOWN, reason: Layer4 connection problem"),
        "{log}"
    );
    assert!(
        log.contains("Server bk_app/s2 is UP, reason: Layer7 check passed"),
        "{log}"
    );
}

#[test]
fn s5_killed_backend_requests_are_retried() {
    killed(Kind::TestBackend);
}

#[test]
fn s5_killed_nginx_requests_are_retried() {
    killed(Kind::Nginx);
}

// ------------------------------------------------------------------------------------------
// 6. A backend restarted gracefully: its port closes, in-flight requests finish, idle
//    keep-alive connections close, then the port opens again (nginx's SIGQUIT).

#[test]
fn s6_graceful_restart() {
    let _serial = serial();
    let scenario = "graceful restart (nginx)";
    let n1 = nginx("n1", "n1", free_port());
    let n2_port = free_port();
    let mut n2 = nginx("n2", "n2", n2_port);
    let port = free_port();
    let lines = format!(
        "    default-server check inter 300ms fall 2 rise 2\n{}{}",
        server_line("n1", n1.port, ""),
        server_line("n2", n2_port, "")
    );
    let p = pointsman(&config(port, &lines), 1, port);
    let running = start_load(&LoadSpec::steady(port, 8.0, &p.socket));
    running.sleep_until(Duration::from_secs(2));
    let quit_at = running.elapsed();
    n2.quit();
    running.sleep_until(Duration::from_millis(3500));
    let _n2_again = nginx("n2", "n2", n2_port);
    wait_status(&p, "n2", |s| s == "UP");
    let up_at = running.elapsed();
    let load = running.wait();
    println!("{scenario}: quit at {quit_at:?}, UP again at {up_at:?}");
    load.assert_zero_failures(scenario, quit_at);
    assert!(load
        .served(BOTH, Duration::ZERO, quit_at)
        .contains_key("n2"));
    assert!(load
        .served(BOTH, up_at, Duration::from_secs(60))
        .contains_key("n2"));
    assert!(p.stat_number("bk_app", "n2", "chkdown") >= 1);
}

// ------------------------------------------------------------------------------------------
// 7. The restart guide's trick: one application listed twice, on a forwarded port (normal)
//    and on its own port (backup), with the same cookie. Closing the forwarded port takes the
//    normal entry out by checks; its clients keep their sessions on the backup entry, new
//    clients go to the other application server.

#[test]
fn s7_restart_guide_trick_keeps_sessions() {
    let _serial = serial();
    let scenario = "restart guide trick";
    let [app1, app2] = backends(["app1", "app2"]);
    let mut forward = Forwarder::start(app1.addr);
    let port = free_port();
    let lines = format!(
        "    cookie SERVERID insert indirect nocache\n\
         \x20   default-server check inter 300ms fall 2 rise 2\n{}{}{}",
        server_line("app1", forward.port, "cookie app1"),
        server_line("app1-backup", app1.port(), "cookie app1 backup"),
        server_lines([&app2], "cookie app2")
    );
    let p = pointsman_logged(&config(port, &lines), 1, port);
    // A new client gets a cookie; one that presents it (indirect) gets none again.
    let first = get(port, "/").unwrap();
    let cookie = first.header("set-cookie").expect("a cookie").to_string();
    assert!(cookie.starts_with("SERVERID=app"), "{cookie}");
    assert_eq!(first.header("cache-control"), Some("private"));
    let mut sticky = Client::connect(port);
    let again = sticky
        .request("GET", "/", &[("Cookie", "SERVERID=app1")], b"")
        .unwrap();
    assert_eq!(again.header("x-server"), Some("app1"));
    assert_eq!(again.header("set-cookie"), None);

    let running = start_load(&LoadSpec {
        headers: &["Cookie: SERVERID=app1"],
        new_clients: true,
        ..LoadSpec::steady(port, 7.0, &p.socket)
    });
    running.sleep_until(Duration::from_secs(2));
    let closed_at = running.elapsed();
    forward.close_port();
    wait_status(&p, "app1", |s| s.starts_with("DOWN"));
    let down_at = running.elapsed();
    let load = running.wait();
    println!("{scenario}: port closed at {closed_at:?}, app1 DOWN at {down_at:?}");
    load.assert_zero_failures(scenario, closed_at);
    // Every session stayed on its application, through the switch.
    let sticky = load.served(BOTH, Duration::ZERO, Duration::from_secs(60));
    assert_eq!(sticky.keys().collect::<Vec<_>>(), ["app1"], "{sticky:?}");
    // New clients went to both before, to the other server once app1 was out.
    let before = load.served(&["new clients"], Duration::ZERO, closed_at);
    assert!(before.contains_key("app1") && before.contains_key("app2"));
    let after = load.served(&["new clients"], down_at, Duration::from_secs(60));
    assert_eq!(after.keys().collect::<Vec<_>>(), ["app2"], "{after:?}");
    assert!(p.stat_number("bk_app", "app1-backup", "stot") > 0);
    assert!(p.stat_number("bk_app", "app1", "chkdown") >= 1);
    // With the cookie, the backup entry answers and no new cookie is needed.
    let on_backup = Client::connect(port)
        .request("GET", "/", &[("Cookie", "SERVERID=app1")], b"")
        .unwrap();
    assert_eq!(on_backup.header("x-server"), Some("app1"));
    assert_eq!(on_backup.header("set-cookie"), None);
    // Without it: the live active server, with a fresh cookie.
    let fresh = get(port, "/").unwrap();
    assert_eq!(fresh.header("x-server"), Some("app2"));
    assert_eq!(fresh.header("set-cookie"), Some("SERVERID=app2; path=/"));
}

// ------------------------------------------------------------------------------------------
// 8. Every shard busy: the load spreads over all shards, and all switch together.

#[test]
fn s8_every_shard_switches_together() {
    let _serial = serial();
    let scenario = "two shards";
    let [s1, s2, b1] = backends(["s1", "s2", "b1"]);
    let port = free_port();
    let lines = format!(
        "    default-server check inter 500ms\n{}{}",
        server_lines([&s1, &s2], ""),
        server_lines([&b1], "backup")
    );
    let p = pointsman(&config(port, &lines), 2, port);
    let before = shard_activity(&p);
    let steps = [
        ("1500ms", "disable server bk_app/s1"),
        ("2500ms", "disable server bk_app/s2"),
        ("3500ms", "enable server bk_app/s1"),
        ("4500ms", "enable server bk_app/s2"),
    ];
    let load = start_load(&LoadSpec {
        at: &steps,
        ..LoadSpec::steady(port, 6.0, &p.socket)
    })
    .wait();
    let after = shard_activity(&p);
    load.assert_zero_failures(scenario, load.switches()[0].sent);
    let expected: [&[&str]; 4] = [&["s2"], &["b1"], &["s1"], &["s1", "s2"]];
    let switches = load.switches();
    for (i, (s, allowed)) in switches.iter().zip(expected).enumerate() {
        let until = switches
            .get(i + 1)
            .map_or(Duration::from_secs(60), |next| next.sent);
        assert!(!load.served(BOTH, s.replied, until).is_empty());
        let strays = load.strays(BOTH, (s.replied, until), allowed);
        assert!(
            strays.is_empty(),
            "after '{}' replied at {:?}, requests sent at these times went to: {strays:?} \
             (expected only {allowed:?})",
            s.command,
            s.replied
        );
    }
    // Both shards did the work: each one's context switches grew with the requests it served
    // (an idle shard wakes ~35 times a second; a shard serving half the load, several times
    // more).
    let grew: Vec<u64> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| a.saturating_sub(*b))
        .collect();
    let total: u64 = grew.iter().sum();
    println!("{scenario}: context switches per shard during the load: {grew:?}");
    assert_eq!(grew.len(), 2);
    assert!(
        grew.iter().all(|&g| g * 5 >= total),
        "a shard took less than a fifth of the work: {grew:?}"
    );
}

/// Voluntary context switches of each shard's threads (`shard-N`: the executor and its
/// helper thread), by shard.
fn shard_activity(p: &Pointsman) -> Vec<u64> {
    let pid = p.proc.child.id();
    let mut shards = BTreeMap::<usize, u64>::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let Some(index) = comm
            .trim()
            .strip_prefix("shard-")
            .and_then(|i| i.parse().ok())
        else {
            continue;
        };
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let switches: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        *shards.entry(index).or_default() += switches;
    }
    shards.into_values().collect()
}

// ------------------------------------------------------------------------------------------
// 9. Passive health: `observe layer4 error-limit N on-error mark-down` takes a dead server
//    out from live traffic failures, long before its next check.

#[test]
fn s9_observe_marks_a_dead_server_down_from_live_traffic() {
    let _serial = serial();
    let scenario = "observe layer4 mark-down";
    let [s1, mut s2, s3] = backends(["s1", "s2", "s3"]);
    let port = free_port();
    // The first check runs at start; the next one only 30 s later.
    let lines = format!(
        "    default-server check inter 30s observe layer4 error-limit 3 on-error mark-down\n{}",
        server_lines([&s1, &s2, &s3], "")
    );
    let p = pointsman_logged(&config(port, &lines), 1, port);
    wait_status(&p, "s2", |s| s == "UP");
    let running = start_load(&LoadSpec::steady(port, 4.0, &p.socket));
    running.sleep_until(Duration::from_millis(1500));
    let killed_at = running.elapsed();
    s2.proc.kill();
    wait_status(&p, "s2", |s| s.starts_with("DOWN"));
    let down_at = running.elapsed();
    let load = running.wait();
    println!("{scenario}: s2 DOWN at {down_at:?}");
    load.assert_zero_failures(scenario, killed_at);
    let stat = p.stat("bk_app", "s2");
    assert_eq!(stat["check_status"], "HANA", "{stat:?}");
    assert_eq!(stat["check_desc"], "Health analyze");
    assert!(!load
        .served(BOTH, down_at, Duration::from_secs(60))
        .contains_key("s2"));
    let log = p.log();
    assert!(
        log.contains("Server bk_app/s2 is DOWN, reason: Health analyze"),
        "{log}"
    );
}

// ------------------------------------------------------------------------------------------
// 10. slowstart: a server coming back UP ramps its effective weight over the slowstart time.

#[test]
fn s10_slowstart_ramps_a_returning_server() {
    let _serial = serial();
    let scenario = "slowstart";
    let [s1, s2] = backends(["s1", "s2"]);
    let port = free_port();
    let lines = format!(
        "    default-server check inter 500ms weight 100 slowstart 3s\n{}",
        server_lines([&s1, &s2], "")
    );
    let p = pointsman(&config(port, &lines), 1, port);
    let load = start_load(&LoadSpec {
        at: &[
            ("1s", "disable server bk_app/s2"),
            ("1500ms", "enable server bk_app/s2"),
        ],
        ..LoadSpec::steady(port, 6.5, &p.socket)
    })
    .wait();
    load.assert_zero_failures(scenario, load.switches()[0].sent);
    let back = load.switches()[1].replied;
    let early = load.served(BOTH, back, back + Duration::from_millis(600));
    let late = load.served(
        BOTH,
        back + Duration::from_millis(3500),
        Duration::from_secs(60),
    );
    let (early_share, late_share) = (share(&early, "s2"), share(&late, "s2"));
    println!("{scenario}: s2 took {early_share:.1}% in its first 0.6 s back, {late_share:.1}% after the ramp");
    assert!(early_share < 20.0, "{early:?}");
    assert!((late_share - 50.0).abs() <= 3.0, "{late:?}");
    assert_eq!(p.stat_number("bk_app", "s2", "weight"), 100);
}

// ------------------------------------------------------------------------------------------
// 11. `disable|enable health` and `set server … health` act on the same machinery as checks.

#[test]
fn s11_health_commands_under_load() {
    let _serial = serial();
    let scenario = "health commands";
    let [s1, s2] = backends(["s1", "s2"]);
    let port = free_port();
    let lines = format!(
        "    default-server check inter 300ms rise 2 fall 2\n{}",
        server_lines([&s1, &s2], "")
    );
    let p = pointsman_logged(&config(port, &lines), 1, port);
    let load = start_load(&LoadSpec {
        at: &[
            ("1s", "disable health bk_app/s2"),
            ("1200ms", "set server bk_app/s2 health down"),
            ("2500ms", "enable health bk_app/s2"),
        ],
        ..LoadSpec::steady(port, 4.5, &p.socket)
    })
    .wait();
    load.assert_zero_failures(scenario, load.switches()[0].sent);
    let (down, enable) = (&load.switches()[1], &load.switches()[2]);
    // DOWN from the CLI, and no check to undo it while checks are disabled.
    let while_down = load.served(BOTH, down.replied, enable.sent);
    assert_eq!(
        while_down.keys().collect::<Vec<_>>(),
        ["s1"],
        "{while_down:?}"
    );
    // Checks enabled again: UP after `rise` successes, traffic back.
    wait_status(&p, "s2", |s| s == "UP");
    assert!(load
        .served(
            BOTH,
            enable.replied + Duration::from_secs(1),
            Duration::from_secs(60)
        )
        .contains_key("s2"));
    let log = p.log();
    assert!(
        log.contains("Server bk_app/s2 is DOWN, changed from CLI"),
        "{log}"
    );
    assert!(
        log.contains("Server bk_app/s2 is UP, reason: Layer4 check passed"),
        "{log}"
    );
}

// ------------------------------------------------------------------------------------------
// 12. The hatop guide's setup (one active server, one backup): the active one killed. Until
//     its checks take it out, each request that meets it is redispatched to the backup.

#[test]
fn s12_lone_active_server_killed_backup_answers_at_once() {
    let _serial = serial();
    let scenario = "lone active killed";
    let [nginx1, mut nginx2] = backends(["nginx1", "nginx2"]);
    let nginx2_port = nginx2.port();
    let port = free_port();
    let lines = format!(
        "    default-server check inter 300ms fall 2 rise 2\n{}{}",
        server_lines([&nginx1], "backup"),
        server_lines([&nginx2], "")
    );
    let p = pointsman(&config(port, &lines), 1, port);
    let running = start_load(&LoadSpec::steady(port, 5.0, &p.socket));
    running.sleep_until(Duration::from_millis(1500));
    let killed_at = running.elapsed();
    nginx2.proc.kill();
    wait_status(&p, "nginx2", |s| s.starts_with("DOWN"));
    running.sleep_until(Duration::from_secs(3));
    let _again = backend_on(&format!("127.0.0.1:{nginx2_port}"), "nginx2", "nginx2", &[]);
    wait_status(&p, "nginx2", |s| s == "UP");
    let up_at = running.elapsed();
    let load = running.wait();
    load.assert_zero_failures(scenario, killed_at);
    // Before the kill (requests in flight at the kill were redispatched), only the active one.
    let before = load.served(BOTH, Duration::ZERO, killed_at - Duration::from_millis(100));
    assert_eq!(before.keys().collect::<Vec<_>>(), ["nginx2"], "{before:?}");
    assert!(load
        .served(BOTH, up_at, Duration::from_secs(60))
        .contains_key("nginx2"));
    assert!(p.stat_number("bk_app", "nginx2", "wredis") >= 1);
    assert!(p.stat_number("bk_app", "nginx1", "stot") > 0);
}

// ------------------------------------------------------------------------------------------
// Maps: `set map` flips a host between two backends every second under load (2 shards).

#[test]
fn s_map_flips_a_host_between_two_backends() {
    let _serial = serial();
    let scenario = "map flip";
    let [blue, green] = ["blue", "green"].map(|name| Server::start(Kind::TestBackend, name, None));
    let dir = temp_dir("switching-map");
    let hosts = dir.join("hosts.map");
    std::fs::write(&hosts, "app.example.com bk_blue\n").unwrap();
    let port = free_port();
    let text = format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 10s\n    timeout server 10s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n\
         \x20   use_backend %[req.hdr(host),lower,map({},bk_blue)]\n    default_backend bk_blue\n\
         backend bk_blue\n{}backend bk_green\n{}",
        hosts.display(),
        server_line("blue", blue.port(), ""),
        server_line("green", green.port(), "")
    );
    let p = pointsman(&text, 2, port);
    let commands: Vec<(String, String)> = (0..5)
        .map(|i| {
            let colour = if i % 2 == 0 { "bk_green" } else { "bk_blue" };
            let command = format!("set map {} app.example.com {colour}", hosts.display());
            (format!("{}ms", 1000 + 1000 * i), command)
        })
        .collect();
    let at: Vec<(&str, &str)> = commands
        .iter()
        .map(|(t, c)| (t.as_str(), c.as_str()))
        .collect();
    let load = start_load(&LoadSpec {
        at: &at,
        headers: &["Host: APP.example.com"],
        ..LoadSpec::steady(port, 6.5, &p.socket)
    })
    .wait();
    load.assert_zero_failures(scenario, load.switches()[0].sent);
    let switches = load.switches();
    assert_eq!(switches.len(), 5);
    for (i, s) in switches.iter().enumerate() {
        let until = switches
            .get(i + 1)
            .map_or(Duration::from_secs(60), |next| next.sent);
        let expected = if s.command.ends_with("bk_green") {
            "green"
        } else {
            "blue"
        };
        let served = load.served(BOTH, s.replied, until);
        let strays = load.strays(BOTH, (s.replied, until), &[expected]);
        println!("{scenario}: after '{}': {served:?}", s.command);
        assert!(
            strays.is_empty(),
            "{scenario}: after '{}' replied at {:?}, requests sent at these times went to: {strays:?}",
            s.command,
            s.replied
        );
        assert!(served.get(expected).is_some_and(|&n| n > 50), "{served:?}");
    }
}
