//! Round trip of one mutation to every shard, through the real admin socket of a real
//! `pointsman`: `set weight` (the coordinator validates it, applies it on shard 0, broadcasts
//! it and waits for every other shard's acknowledgement before it replies), against
//! `get weight` (same socket and parsing, no broadcast) as the baseline. Measured idle and
//! while keep-alive clients on several threads keep every shard busy.
//!
//! Next to each admin-socket measurement it prints the coordinator's own histogram from
//! `show latency` (the `pointsman COORDINATOR mutation` row): from the broadcast to the last
//! shard's acknowledgement, without the admin socket, parsing and the client's wake-up. The
//! load phase runs on a fresh process so that each row covers one phase.
//!
//! `cargo bench --bench mutation_roundtrip [-- --shards N --rounds N --clients N --gap-ms N]`
//! prints p50 / p90 / p99 / max in microseconds. Loopback only; the run is bounded. Under
//! `cargo test --all-targets` (no `--bench` argument) it makes a 20-round smoke run.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

struct Args {
    shards: usize,
    rounds: usize,
    clients: usize,
    /// Pause between two commands, so that every shard's executor goes to sleep in between
    /// (mutations are rare in real life); 0 sends them back to back.
    gap_ms: u64,
}

fn args() -> Args {
    let mut args = Args {
        shards: 2,
        rounds: 3000,
        clients: 6,
        gap_ms: 0,
    };
    let words: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        words
            .iter()
            .position(|w| w == name)
            .and_then(|i| words.get(i + 1))
            .and_then(|v| v.parse().ok())
    };
    // `cargo test --all-targets` runs this binary without `--bench`: a short smoke run.
    if !words.iter().any(|w| w == "--bench") {
        args.rounds = 20;
    }
    if let Some(n) = value("--shards") {
        args.shards = n;
    }
    if let Some(n) = value("--rounds") {
        args.rounds = n;
    }
    if let Some(n) = value("--clients") {
        args.clients = n;
    }
    if let Some(n) = value("--gap-ms") {
        args.gap_ms = n as u64;
    }
    args
}

/// Times `rounds` commands on one prompt-mode session; `command(i)` gives the i-th.
fn measure(
    session: &mut PromptSession,
    rounds: usize,
    gap: Duration,
    command: impl Fn(usize) -> String,
) -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    for i in 0..rounds {
        std::thread::sleep(gap);
        let line = command(i);
        let started = Instant::now();
        let reply = session.send(&line);
        let micros = started.elapsed().as_micros() as u64;
        assert!(
            reply == "\n> " || reply.ends_with(")\n\n> "),
            "{line}: {reply:?}"
        );
        histogram.record(micros.max(1)).expect("record");
    }
    histogram
}

fn report(label: &str, h: &Histogram<u64>) {
    println!(
        "{label:<34} n={:<6} p50={:>6} µs  p90={:>6} µs  p99={:>6} µs  max={:>7} µs",
        h.len(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.90),
        h.value_at_quantile(0.99),
        h.max()
    );
}

/// The coordinator's broadcast-to-last-ack histogram, from `show latency` (values in ms).
fn report_coordinator(label: &str, socket: &std::path::Path) {
    let table = admin(socket, "show latency");
    let row = table
        .lines()
        .find(|l| l.starts_with("pointsman COORDINATOR mutation "))
        .unwrap_or_else(|| panic!("no coordinator row in show latency: {table}"));
    let cells: Vec<&str> = row.split(' ').collect();
    let us = |i: usize| {
        cells
            .get(i)
            .and_then(|c| c.parse::<f64>().ok())
            .map_or("-".to_string(), |ms| format!("{:.0}", ms * 1000.0))
    };
    println!(
        "{label:<34} n={:<6} p50={:>6} µs  p90={:>6} µs  p99={:>6} µs  max={:>7} µs",
        cells.get(3).unwrap_or(&"-"),
        us(4),
        us(5),
        us(6),
        us(8)
    );
}

fn set_weight(i: usize) -> String {
    // Alternate, so that every command really changes the state (an unchanged weight is
    // answered without a broadcast).
    format!("set weight bk_app/nginx2 {}", 1 + i % 2)
}

fn get_weight(_: usize) -> String {
    "get weight bk_app/nginx2".to_string()
}

fn main() {
    let args = args();
    let gap = Duration::from_millis(args.gap_ms);
    let nginx1 = backend("nginx1", "nginx 1.18.0", &[]);
    let nginx2 = backend("nginx2", "nginx 1.19.8", &[]);
    let port = free_port();
    let config = format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend app\n    bind 127.0.0.1:@PORT@\n    default_backend bk_app\n\
         backend bk_app\n    server nginx1 127.0.0.1:{} check backup\n    server nginx2 127.0.0.1:{} check\n",
        nginx1.port(),
        nginx2.port()
    );
    let p = pointsman(
        &config.replace("@PORT@", &port.to_string()),
        args.shards,
        port,
    );
    let mut session = PromptSession::open(&p.socket);
    println!(
        "mutation round trip, {} shard(s), {} rounds per line, {} load client(s), {} ms between commands",
        args.shards, args.rounds, args.clients, args.gap_ms
    );
    measure(&mut session, 200, gap, set_weight);

    report(
        "idle: get weight (no broadcast)",
        &measure(&mut session, args.rounds, gap, get_weight),
    );
    report(
        "idle: set weight (all shards ack)",
        &measure(&mut session, args.rounds, gap, set_weight),
    );
    report_coordinator("idle: broadcast → last ack (incl. warm-up)", &p.socket);
    drop(session);
    drop(p);

    let port = free_port();
    let p = pointsman(
        &config.replace("@PORT@", &port.to_string()),
        args.shards,
        port,
    );
    let mut session = PromptSession::open(&p.socket);
    let clients: Vec<Client> = (0..args.clients).map(|_| Client::connect(port)).collect();
    let traffic = Traffic::start(clients, Duration::from_secs(120));
    std::thread::sleep(Duration::from_millis(300));
    measure(&mut session, 200, gap, set_weight);
    let started = Instant::now();
    let get = measure(&mut session, args.rounds, gap, get_weight);
    let set = measure(&mut session, args.rounds, gap, set_weight);
    let elapsed = started.elapsed();
    let samples = traffic.stop();
    report("load: get weight (no broadcast)", &get);
    report("load: set weight (all shards ack)", &set);
    report_coordinator("load: broadcast → last ack (incl. warm-up)", &p.socket);
    let during = samples
        .iter()
        .filter(|s| s.sent >= started && s.done <= started + elapsed)
        .count();
    let failed = samples.iter().filter(|s| s.status != 200).count();
    println!(
        "load: {:.0} req/s through the proxy during the measurement, {failed} failed",
        during as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(failed, 0, "requests failed while mutating");
}
