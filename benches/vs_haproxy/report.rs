//! The report: every metric's samples per proxy and round ([`Results`]), and the Markdown
//! table of medians, ranges and pointsman / HAProxy ratios written from them.

use super::{Args, Proxy};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Per-proxy samples of one metric, one per round.
#[derive(Default)]
pub struct Series {
    pub values: BTreeMap<&'static str, Vec<f64>>,
}

/// Every metric, in report order.
#[derive(Default)]
pub struct Results {
    pub order: Vec<(String, String, String)>, // (key, label with unit, target)
    pub series: BTreeMap<String, Series>,
    pub notes: Vec<String>,
}

impl Results {
    pub fn define(&mut self, key: &str, label: &str, target: &str) {
        if !self.order.iter().any(|(k, _, _)| k == key) {
            self.order.push((key.into(), label.into(), target.into()));
        }
    }

    pub fn push(&mut self, key: &str, proxy: Proxy, value: f64) {
        println!("    {:<9} {key:<28} {value:>12.2}", proxy.name());
        self.series
            .entry(key.into())
            .or_default()
            .values
            .entry(proxy.name())
            .or_default()
            .push(value);
    }

    pub fn median_of(&self, key: &str, proxy: Proxy) -> Option<f64> {
        let v = self.series.get(key)?.values.get(proxy.name())?;
        median(v)
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if !n.is_multiple_of(2) {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn spread(values: &[f64]) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    match median(&finite) {
        None => "–".into(),
        Some(m) if finite.len() == 1 => num(m),
        Some(m) => {
            let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{} ({}–{})", num(m), num(lo), num(hi))
        }
    }
}

fn num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// (key, label, target) of every row, in the table's order.
pub const ROWS: &[(&str, &str, &str)] = &[
    (
        "keepalive.cpu_us",
        "CPU per request, keep-alive (µs)",
        "≤ 0.70",
    ),
    ("keepalive.rps", "requests/s, keep-alive", "≥ 1.00"),
    (
        "keepalive.proxy_cpu_share",
        "proxy CPU busy, keep-alive (%)",
        "",
    ),
    ("keepalive.errors", "errors, keep-alive", "0"),
    (
        "close.cpu_us",
        "CPU per request, `Connection: close` (µs)",
        "≤ 0.80",
    ),
    ("close.rps", "requests/s, `Connection: close`", "≥ 1.00"),
    ("close.proxy_cpu_share", "proxy CPU busy, close (%)", ""),
    ("close.errors", "errors, close", "0"),
    (
        "relay.cpu_us",
        "CPU per request, keep-alive, TCP-mode relay to the same servers (µs; no HTTP work)",
        "",
    ),
    ("relay.rps", "requests/s, TCP-mode relay", ""),
    (
        "relay.vs_haproxy_http",
        "relay CPU per request ÷ HAProxy's HTTP keep-alive CPU per request (the floor)",
        "",
    ),
    ("relay.errors", "errors, TCP-mode relay", "0"),
    (
        "rules.bare_cpu_us",
        "CPU per request, keep-alive, bare frontend, same process as the next row (µs)",
        "",
    ),
    (
        "rules.cpu_us",
        "CPU per request, keep-alive, 20 ACLs + 10 rules + 10,000-entry map + 5 rewrites (µs)",
        "",
    ),
    (
        "rules.cost_pct",
        "cost of those rules: extra CPU per request over the bare frontend (%)",
        "≤ 15 %, ≤ HAProxy's",
    ),
    ("rules.errors", "errors, rules", "0"),
    (
        "keepalive.hwm_mib",
        "peak RSS after the keep-alive run (MiB)",
        "",
    ),
    ("rate50.p50", "p50 at 50% load (µs)", ""),
    ("rate50.p99", "p99 at 50% load (µs)", "≤ 1.00"),
    ("rate50.p999", "p99.9 at 50% load (µs)", ""),
    ("rate50.cpu_us", "CPU per request at 50% load (µs)", ""),
    ("rate50.errors", "errors at 50% load", "0"),
    ("rate80.p50", "p50 at 80% load (µs)", ""),
    ("rate80.p99", "p99 at 80% load (µs)", "≤ 1.00"),
    ("rate80.p999", "p99.9 at 80% load (µs)", ""),
    ("rate80.cpu_us", "CPU per request at 80% load (µs)", ""),
    ("rate80.errors", "errors at 80% load", "0"),
    (
        "idle.bytes_per_conn",
        "memory per idle client connection (bytes)",
        "≤ 1.00",
    ),
    (
        "idle.rss_mib",
        "RSS with the idle connections open (MiB)",
        "",
    ),
    ("idle.failed", "idle connections that failed", "0"),
    ("tcp.mib_per_s", "TCP mode, 1 MiB transfers (MiB/s)", ""),
    ("tcp.cpu_us_per_mib", "TCP mode, CPU per MiB (µs)", ""),
    ("tcp.errors", "TCP mode errors", "0"),
    (
        "mutation.idle_p50",
        "`set weight` round trip, idle, p50 (µs)",
        "",
    ),
    (
        "mutation.idle_p99",
        "`set weight` round trip, idle, p99 (µs)",
        "≤ 100 µs",
    ),
    (
        "mutation.load_p50",
        "`set weight` round trip, 50% load, p50 (µs)",
        "",
    ),
    (
        "mutation.load_p99",
        "`set weight` round trip, 50% load, p99 (µs)",
        "≤ 100 µs",
    ),
    ("flips.steady_p99", "p99 at 50% load, no flips (µs)", ""),
    ("flips.p99", "p99 at 50% load, flip every 100 ms (µs)", ""),
    (
        "flips.p99_vs_steady",
        "p99 flips ÷ p99 steady (same proxy)",
        "≤ 1.10",
    ),
    (
        "flips.service_p99_vs_steady",
        "the same for p99 service time (send → response; no generator queueing)",
        "",
    ),
    (
        "flips.alternate_p99_ratio",
        "p99 in seconds with flips ÷ without (one run, alternating seconds)",
        "≤ 1.10",
    ),
    (
        "flips.errors",
        "errors during flips (requests + commands)",
        "0",
    ),
];

fn ratio_cell(results: &Results, key: &str) -> String {
    let Some(series) = results.series.get(key) else {
        return "–".into();
    };
    let (Some(h), Some(p)) = (series.values.get("HAProxy"), series.values.get("pointsman")) else {
        return "–".into();
    };
    let ratios: Vec<f64> = h
        .iter()
        .zip(p)
        .filter(|(h, _)| **h != 0.0)
        .map(|(h, p)| p / h)
        .collect();
    if ratios.is_empty() {
        return "–".into();
    }
    spread(&ratios)
}

pub fn table(args: &Args, results: &Results, meta: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{meta}\n");
    let _ = writeln!(
        out,
        "| metric | HAProxy 2.6 | pointsman | pointsman ÷ HAProxy | target |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (key, label, target) in ROWS {
        let Some(series) = results.series.get(*key) else {
            continue;
        };
        let cell = |p: Proxy| {
            series
                .values
                .get(p.name())
                .map_or("–".into(), |v| spread(v))
        };
        let ratio = if key.ends_with("errors")
            || key.ends_with("failed")
            || key.ends_with("vs_steady")
            || key.ends_with("vs_haproxy_http")
            || key.ends_with("cost_pct")
        {
            "".into()
        } else {
            ratio_cell(results, key)
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {ratio} | {target} |",
            cell(Proxy::HAProxy),
            cell(Proxy::Pointsman)
        );
    }
    let _ = writeln!(
        out,
        "\nCells: median (min–max) over {} rounds; ratio: median (min–max) of the per-round ratios.",
        args.rounds
    );
    for note in &results.notes {
        let _ = writeln!(out, "- note: {note}");
    }
    out
}
