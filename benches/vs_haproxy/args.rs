//! The harness's command line, read by clap: [`Flags`] as typed, resolved into [`Args`] (the
//! `--quick` / `--full` presets, the defaults that depend on the machine, the lower bounds).

use clap::Parser;
use std::path::{Path, PathBuf};

/// What one run measures, and with which tools.
#[derive(Clone)]
pub struct Args {
    pub nice: i32,
    pub load_connections: usize,
    pub capacity: Option<f64>,
    pub rounds: usize,
    pub duration: u64,
    pub shards: usize,
    pub proxy_cpus: String,
    pub load_cpus: String,
    pub backend: String,
    pub pointsman: PathBuf,
    pub haproxy: PathBuf,
    pub wrk: PathBuf,
    pub nginx: PathBuf,
    pub idle_conns: usize,
    pub connections: usize,
    pub mutations: usize,
    pub only: Vec<String>,
    pub out: PathBuf,
}

impl Args {
    pub fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

/// pointsman against HAProxy, side by side (see docs/performance.md for the method).
// A flag given twice takes its last value, so that scripts/bench-vs-haproxy.sh can put its
// own `--out` and `--backend` before the caller's.
#[derive(Parser)]
#[command(name = "vs_haproxy", args_override_self = true)]
struct Flags {
    /// Passed by `cargo bench`; without it (`cargo test --all-targets`) the harness does nothing.
    #[arg(long, hide = true)]
    bench: bool,
    /// 2 rounds of 4 s, 500 mutations (without a preset: 2 rounds of 4 s, 1000 mutations).
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// 4 rounds of 8 s, 2000 mutations.
    #[arg(long)]
    full: bool,
    /// Rounds of every measurement (HAProxy then pointsman each round); at least 1.
    #[arg(long, value_name = "N")]
    rounds: Option<usize>,
    /// Seconds of one measurement; at least 1.
    #[arg(long, value_name = "SECS")]
    duration: Option<usize>,
    /// pointsman shards and HAProxy `nbthread`; at least 1.
    #[arg(long, value_name = "N", default_value_t = 1)]
    shards: usize,
    /// CPUs the proxy is pinned to (taskset list).
    #[arg(long, value_name = "CPUS", default_value = "1")]
    proxy_cpus: String,
    /// CPUs of the load generator, the backend and this harness.
    #[arg(long, value_name = "CPUS", default_value = "0")]
    load_cpus: String,
    /// The backend both proxies forward to (default: nginx when installed).
    #[arg(long, value_parser = ["nginx", "pointsman-backend"])]
    backend: Option<String>,
    #[arg(long, value_name = "PATH", default_value = env!("CARGO_BIN_EXE_pointsman"))]
    pointsman: PathBuf,
    #[arg(long, value_name = "PATH", default_value = "/usr/sbin/haproxy")]
    haproxy: PathBuf,
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/wrk")]
    wrk: PathBuf,
    #[arg(long, value_name = "PATH", default_value = NGINX)]
    nginx: PathBuf,
    /// Idle client connections of the idle measurement (lowered to fit the open-file limit).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    idle_conns: usize,
    /// wrk connections; at least 1.
    #[arg(long, value_name = "N", default_value_t = 16)]
    connections: usize,
    /// Admin mutations of the mutation measurement; at least 10.
    #[arg(long, value_name = "N")]
    mutations: Option<usize>,
    /// Nice value of the proxies and the load.
    #[arg(long, value_name = "N", default_value_t = -10, allow_hyphen_values = true)]
    nice: i32,
    /// `pointsman load` connections; at least 1.
    #[arg(long, value_name = "N", default_value_t = 8)]
    load_connections: usize,
    /// Open-loop capacity to test, in requests per second (default: found by the harness).
    #[arg(long, value_name = "REQ_PER_S")]
    capacity: Option<usize>,
    /// Measurements to run, comma-separated: keepalive, close, relay, rules, rate, flips, mutation,
    /// idle, tcp (default: all).
    #[arg(long, value_name = "PARTS", value_delimiter = ',')]
    only: Vec<String>,
    /// The Markdown report.
    #[arg(
        long,
        value_name = "FILE.md",
        default_value = "target/bench-vs-haproxy.md"
    )]
    out: PathBuf,
}

const NGINX: &str = "/usr/sbin/nginx";

/// The run's arguments, or `None` when not run as a benchmark (no `--bench`, no `--help`).
pub fn parse_args() -> Option<Args> {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let asked = |flag: &str| words.iter().any(|w| w == flag);
    if !asked("--bench") && !asked("--help") && !asked("-h") {
        return None;
    }
    Some(Flags::parse().resolve())
}

impl Flags {
    fn resolve(self) -> Args {
        // (rounds, seconds, mutations) of the preset; an explicit flag wins over it.
        let preset = match (self.quick, self.full) {
            (_, true) => (4, 8, 2000),
            (true, _) => (2, 4, 500),
            _ => (2, 4, 1000),
        };
        let backend = self.backend.unwrap_or_else(|| {
            let found = Path::new(NGINX).exists();
            if found { "nginx" } else { "pointsman-backend" }.into()
        });
        Args {
            nice: self.nice,
            load_connections: self.load_connections.max(1),
            capacity: self.capacity.map(|c| c as f64),
            rounds: self.rounds.unwrap_or(preset.0).max(1),
            duration: self.duration.unwrap_or(preset.1).max(1) as u64,
            shards: self.shards.max(1),
            proxy_cpus: self.proxy_cpus,
            load_cpus: self.load_cpus,
            backend,
            pointsman: self.pointsman,
            haproxy: self.haproxy,
            wrk: self.wrk,
            nginx: self.nginx,
            idle_conns: self.idle_conns,
            connections: self.connections.max(1),
            mutations: self.mutations.unwrap_or(preset.2).max(10),
            only: self.only,
            out: self.out,
        }
    }
}
