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
//!
//! - `args`: the command line (clap).
//! - `setup`: the run's ports and files, the backend, each proxy pinned.
//! - `loadgen`: `wrk` and `pointsman load`, and the open-loop capacity search.
//! - `measure`: one function per measurement, each pushing into the `report`.
//! - `report`: every metric's samples and the Markdown table.
//! - this file: the run's order, the process-wide settings (nice, pinning, file limit).

mod args;
#[path = "../../tests/common/mod.rs"]
mod common;
mod loadgen;
mod measure;
mod report;
mod setup;

use args::{parse_args, Args};
use common::{cpu_time, free_port, raise_nofile, rss_kib, wait_for_port, Proc, PromptSession};
use hdrhistogram::Histogram;
use loadgen::open_loop_capacity;
use measure::{
    fixed_rate, flips, haproxy_closed_loop_rps, idle, mutation, relay, relay_floor, rules, tcp,
    throughput,
};
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
    each(&mut results, "rules", &mut |r, k, _| {
        rules(&args, &setup, r, k)
    });
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
