//! The load generators: closed-loop `wrk` and open-loop `pointsman load` (with server flips),
//! their results, and the open-loop capacity search against HAProxy.

use super::*;

/// What `wrk` reported.
pub struct WrkResult {
    pub requests: u64,
    pub seconds: f64,
    pub errors: u64,
}

pub fn wrk(
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

pub fn parse_wrk_duration(text: &str) -> Option<f64> {
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
pub fn status_kib(pid: u32, field: &str) -> u64 {
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
pub struct LoadResult {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    /// p99 of the time from sending a request to its last response byte: the latency without
    /// the requests' wait for a free connection in the generator (its queueing).
    pub service_p99: f64,
    pub requests: u64,
    pub errors: u64,
    pub invalid: Option<String>,
    pub switch_failures: u64,
    /// With [`Flips::AlternateSeconds`]: p99 latency of the requests due in the seconds with
    /// flips, and of those due in the seconds without (second 0 in neither).
    pub halves: Option<(f64, f64)>,
}

/// When a load run flips `bk/s2` (`disable` / `enable server` through the admin socket).
#[derive(Clone, Copy, PartialEq)]
pub enum Flips {
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

pub fn load(args: &Args, setup: &Setup, rate: u64, flips: Flips, tag: &str) -> LoadResult {
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
pub fn p99_by_second_parity(csv: &Path) -> (f64, f64) {
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
pub fn open_loop_capacity(args: &Args, setup: &Setup, closed: f64, results: &mut Results) -> f64 {
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
