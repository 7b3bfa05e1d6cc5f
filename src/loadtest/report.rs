//! The result of a run ([`Report`]) and its terminal rendering. Figures are computed once by
//! `analysis`; this file only holds and prints them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::json::{micros, summary};
use super::outcome::{ErrorClass, Sample};
use super::sender::format_ms;
use super::switches::SwitchEvent;

/// Everything a run measured (`--json` writes all of it but the raw samples).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub url: String,
    /// e.g. `rate 1000/s over 8 connections` or `every 2s`.
    pub mode: String,
    /// Requests the schedule held.
    pub planned: u64,
    /// Wall time from the first intended send to the last response.
    #[serde(rename = "elapsed_us", serialize_with = "micros")]
    pub elapsed: Duration,
    #[serde(serialize_with = "summary")]
    pub whole: Summary,
    /// One summary per switch, over requests due within ±1 s of it.
    pub windows: Vec<Window>,
    pub timeline: Vec<Second>,
    pub switches: Vec<SwitchEvent>,
    pub schedule: ScheduleCheck,
    /// Every request, ordered by sequence number (for plots and custom analysis).
    #[serde(skip)]
    pub samples: Vec<Sample>,
    /// Server names indexed by [`Sample::server`].
    #[serde(skip)]
    pub server_names: Vec<String>,
}

/// Counts and latency over a set of requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub requests: u64,
    /// 2xx responses received in full.
    pub ok: u64,
    pub errors: BTreeMap<ErrorClass, u64>,
    /// Responses per server that answered (errors with a response included).
    pub servers: BTreeMap<String, u64>,
    /// From the intended send time to the last response byte (what a user would see).
    pub latency: Percentiles,
    /// From the actual send time to the last response byte (the server's part alone).
    pub service: Percentiles,
}

/// Latency distribution (HDR histogram, 3 significant digits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    #[serde(rename = "p50_us", serialize_with = "micros")]
    pub p50: Duration,
    #[serde(rename = "p90_us", serialize_with = "micros")]
    pub p90: Duration,
    #[serde(rename = "p99_us", serialize_with = "micros")]
    pub p99: Duration,
    #[serde(rename = "p99_9_us", serialize_with = "micros")]
    pub p999: Duration,
    #[serde(rename = "p99_99_us", serialize_with = "micros")]
    pub p9999: Duration,
    #[serde(rename = "max_us", serialize_with = "micros")]
    pub max: Duration,
    #[serde(rename = "mean_us", serialize_with = "micros")]
    pub mean: Duration,
}

/// A summary of the requests around one switch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub command: String,
    /// Start and end of the window, from the start of the run.
    #[serde(rename = "from_us", serialize_with = "micros")]
    pub from: Duration,
    #[serde(rename = "to_us", serialize_with = "micros")]
    pub to: Duration,
    #[serde(serialize_with = "summary")]
    pub summary: Summary,
}

/// One second of the timeline, by intended send time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Second {
    /// Seconds from the start of the run.
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    #[serde(rename = "p50_us", serialize_with = "micros")]
    pub p50: Duration,
    #[serde(rename = "p99_us", serialize_with = "micros")]
    pub p99: Duration,
    pub servers: BTreeMap<String, u64>,
    /// Commands sent during this second.
    pub switches: Vec<String>,
    /// Worst lateness of the sender in this second.
    #[serde(rename = "max_send_lag_us", serialize_with = "micros")]
    pub max_send_lag: Duration,
}

/// Whether the sender kept its schedule, i.e. whether the latency figures can be trusted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScheduleCheck {
    /// Requests sent more than the lateness bound after their intended time.
    pub late: u64,
    #[serde(rename = "max_lag_us", serialize_with = "micros")]
    pub max_lag: Duration,
    /// Longest stretch of schedule during which every request went out late.
    #[serde(rename = "longest_behind_us", serialize_with = "micros")]
    pub longest_behind: Duration,
    /// Requests never sent (the sender was still behind when the run had to end).
    pub unsent: u64,
    /// Why the run is invalid, when it is.
    pub invalid: Option<String>,
}

impl Summary {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

impl Report {
    /// True when the CLI should exit 1: a request failed, a switch command failed, or the
    /// figures are invalid because the sender could not keep the requested rate.
    pub fn failed(&self) -> bool {
        self.whole.error_count() > 0
            || self.schedule.invalid.is_some()
            || self.failed_switches().next().is_some()
    }

    /// Switch commands the proxy refused or never answered.
    pub fn failed_switches(&self) -> impl Iterator<Item = &SwitchEvent> {
        self.switches.iter().filter(|s| s.reply.is_err())
    }

    /// The last line of the report: `OK: zero failed requests` only when nothing failed
    /// (requests, switches, schedule); otherwise `FAILED:` and every reason, e.g.
    /// `FAILED: 1 of 2 switch commands failed (disable server nope/x: refused by the proxy:
    /// "No such server.")`.
    pub fn verdict(&self) -> String {
        let mut reasons = Vec::new();
        let errors = self.whole.error_count();
        if errors > 0 {
            reasons.push(format!(
                "{errors} of {} requests failed",
                self.whole.requests
            ));
        }
        let failed: Vec<String> = self
            .failed_switches()
            .filter_map(|s| {
                let err = s.reply.as_ref().err()?;
                Some(format!("{}: {}", s.command, err.summary()))
            })
            .collect();
        if !failed.is_empty() {
            reasons.push(format!(
                "{} of {} switch commands failed ({})",
                failed.len(),
                self.switches.len(),
                failed.join("; ")
            ));
        }
        if self.schedule.invalid.is_some() {
            reasons.push("invalid run (see above)".to_string());
        }
        if reasons.is_empty() {
            "OK: zero failed requests".to_string()
        } else {
            format!("FAILED: {}", reasons.join("; "))
        }
    }

    /// Prints the terminal table to stdout.
    pub fn print(&self) {
        print!("{}", self.render());
    }

    /// The terminal table as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_header(&mut out);
        render_summary(&mut out, "whole run", &self.whole, self.elapsed);
        self.render_switch_errors(&mut out);
        for window in &self.windows {
            let title = format!(
                "±1 s around {:?} ({:.1}–{:.1} s)",
                window.command,
                window.from.as_secs_f64(),
                window.to.as_secs_f64()
            );
            render_summary(&mut out, &title, &window.summary, window.to - window.from);
        }
        self.render_timeline(&mut out);
        self.render_verdict(&mut out);
        out
    }

    fn render_header(&self, out: &mut String) {
        let _ = writeln!(out, "\n{} — {}", self.url, self.mode);
        let _ = writeln!(
            out,
            "{} requests planned, {} sent, in {:.2} s",
            self.planned,
            self.whole.requests,
            self.elapsed.as_secs_f64()
        );
        for switch in &self.switches {
            let _ = writeln!(
                out,
                "  at {:>7.3} s {}",
                switch.sent.as_secs_f64(),
                switch.line()
            );
        }
    }

    /// The failed switches as rows of the whole run's errors table, one row per kind, each
    /// followed by the commands it counts.
    fn render_switch_errors(&self, out: &mut String) {
        let mut by_kind: BTreeMap<&str, Vec<&SwitchEvent>> = BTreeMap::new();
        for switch in self.failed_switches() {
            if let Err(err) = &switch.reply {
                by_kind.entry(err.key()).or_default().push(switch);
            }
        }
        for (kind, switches) in by_kind {
            let title = kind.replace('_', " ");
            let _ = writeln!(out, "  error  {title:<42} {:>8}", switches.len());
            for switch in switches {
                if let Err(err) = &switch.reply {
                    let _ = writeln!(
                        out,
                        "           at {:.3} s {}: {}",
                        switch.sent.as_secs_f64(),
                        switch.command,
                        err.summary()
                    );
                }
            }
        }
    }

    fn render_timeline(&self, out: &mut String) {
        if self.timeline.len() <= 1 {
            return;
        }
        let _ = writeln!(out, "\nper second (by intended send time):");
        let _ = writeln!(
            out,
            "  {:>4} {:>7} {:>6} {:>10} {:>10}  servers",
            "sec", "reqs", "errors", "p50", "p99"
        );
        for second in &self.timeline {
            let servers = share_text(&second.servers, second.requests);
            let _ = write!(
                out,
                "  {:>4} {:>7} {:>6} {:>10} {:>10}  {servers}",
                second.second,
                second.requests,
                second.errors,
                format_ms(second.p50.as_nanos() as u64),
                format_ms(second.p99.as_nanos() as u64),
            );
            for command in &second.switches {
                let _ = write!(out, "  >>> {command}");
            }
            out.push('\n');
        }
    }

    fn render_verdict(&self, out: &mut String) {
        let check = &self.schedule;
        if check.late > 0 {
            let _ = writeln!(
                out,
                "\nsender: {} requests sent late, worst {} behind schedule",
                check.late,
                format_ms(check.max_lag.as_nanos() as u64)
            );
        }
        if let Some(reason) = &check.invalid {
            let _ = writeln!(out, "\nINVALID RUN: {reason}");
        }
        let _ = writeln!(out, "\n{}", self.verdict());
    }
}

fn render_summary(out: &mut String, title: &str, summary: &Summary, span: Duration) {
    let rate = if span.is_zero() {
        0.0
    } else {
        summary.requests as f64 / span.as_secs_f64()
    };
    let _ = writeln!(
        out,
        "\n{title}: {} requests, {} ok, {} errors, {rate:.1} req/s",
        summary.requests,
        summary.ok,
        summary.error_count()
    );
    let _ = writeln!(
        out,
        "  {:<9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
    for (name, p) in [("latency", &summary.latency), ("service", &summary.service)] {
        let cells =
            [p.p50, p.p90, p.p99, p.p999, p.p9999, p.max].map(|d| format_ms(d.as_nanos() as u64));
        let _ = writeln!(
            out,
            "  {name:<9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        );
    }
    for (server, count) in &summary.servers {
        let _ = writeln!(out, "  server {server:<42} {count:>8}");
    }
    for (class, count) in &summary.errors {
        let _ = writeln!(out, "  error  {:<42} {count:>8}", class.to_string());
    }
}

/// `nginx1 60% nginx2 40%`.
fn share_text(servers: &BTreeMap<String, u64>, total: u64) -> String {
    servers
        .iter()
        .map(|(name, count)| format!("{name} {:.0}%", *count as f64 * 100.0 / total.max(1) as f64))
        .collect::<Vec<_>>()
        .join(" ")
}
