//! `show latency [backend[/server]]`: pointsman's own runtime API command. Percentiles of the
//! merged histograms, one line per backend or server and timer:
//!
//! ```text
//! # pxname svname timer count p50_ms p90_ms p99_ms p99.9_ms max_ms mean_ms
//! bk_app BACKEND response 1204 0.412 0.801 1.950 3.100 7.230 0.480
//! pointsman COORDINATOR mutation 3000 0.014 0.019 0.041 0.090 0.310 0.016
//! ```
//!
//! The last row (whole-process scope only) is the runtime's own: per mutation, the time from
//! the coordinator's broadcast to the last shard's acknowledgement.

use super::latency::{Latency, LatencySnapshot, Series};
use crate::state::{ServerRef, State};
use std::fmt::Write as _;

/// Which rows `show latency` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// A backend and all its servers.
    Backend(usize),
    Server(ServerRef),
}

pub const HEADER: &str =
    "# pxname svname timer count p50_ms p90_ms p99_ms p99.9_ms max_ms mean_ms\n";

pub fn show_latency(state: &State, latency: &LatencySnapshot, scope: Scope) -> String {
    let mut out = String::from(HEADER);
    let empty = Latency::default();
    for (index, backend) in state.backends.iter().enumerate() {
        let wanted = match scope {
            Scope::All => true,
            Scope::Backend(b) => b == index,
            Scope::Server(s) => s.backend == index,
        };
        if !wanted {
            continue;
        }
        if !matches!(scope, Scope::Server(_)) {
            let l = latency.backend(index).unwrap_or(&empty);
            rows(&mut out, &backend.name, "BACKEND", l);
        }
        for server in &backend.servers {
            let r = ServerRef {
                backend: index,
                server: server.id,
            };
            if matches!(scope, Scope::Server(s) if s != r) {
                continue;
            }
            let l = latency.server(r).unwrap_or(&empty);
            rows(&mut out, &backend.name, &server.name, l);
        }
    }
    if scope == Scope::All {
        row(
            &mut out,
            "pointsman",
            "COORDINATOR",
            "mutation",
            &latency.mutation,
        );
    }
    out
}

fn rows(out: &mut String, proxy: &str, name: &str, l: &Latency) {
    for (timer, series) in [
        ("response", &l.response),
        ("connect", &l.connect),
        ("total", &l.total),
    ] {
        row(out, proxy, name, timer, series);
    }
}

fn row(out: &mut String, proxy: &str, name: &str, timer: &str, series: &Series) {
    let _ = write!(out, "{proxy} {name} {timer} {}", series.count());
    if series.count() == 0 {
        out.push_str(" - - - - - -\n");
        return;
    }
    for q in [0.5, 0.9, 0.99, 0.999] {
        let _ = write!(out, " {}", ms(series.quantile_us(q)));
    }
    let _ = writeln!(out, " {} {}", ms(series.max_us()), ms(mean_us(series)));
}

fn mean_us(s: &Series) -> u64 {
    s.sum_us / s.count().max(1)
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use crate::stats::latency::Timing;

    #[test]
    fn prints_each_timer_of_each_row_in_scope() {
        let config = parse_str(
            "t.cfg",
            "backend a\n server s1 127.0.0.1:1\n server s2 127.0.0.1:2\nbackend b\n server s 127.0.0.1:3\n",
        )
        .unwrap();
        let state = State::from_config(&config, 0);
        let mut l = LatencySnapshot::default();
        let s1 = ServerRef {
            backend: 0,
            server: 1,
        };
        for us in [1_000, 2_000, 3_000] {
            l.record(
                s1,
                &Timing {
                    connect_us: None,
                    response_us: Some(us),
                    total_us: Some(us + 500),
                },
            );
        }
        l.mutation.record(14);
        let all = show_latency(&state, &l, Scope::All);
        assert_eq!(all.lines().count(), 1 + 3 * 5 + 1);
        assert!(
            all.ends_with(
                "\npointsman COORDINATOR mutation 1 0.014 0.014 0.014 0.014 0.014 0.014\n"
            ),
            "{all}"
        );
        // Percentiles are HDR bucket edges (within 1 %); the mean is exact.
        let line = all
            .lines()
            .find(|l| l.starts_with("a BACKEND response"))
            .unwrap();
        let cells: Vec<&str> = line.split(' ').collect();
        assert_eq!(cells[3], "3");
        let p50: f64 = cells[4].parse().unwrap();
        let max: f64 = cells[8].parse().unwrap();
        assert!(
            (1.98..=2.02).contains(&p50) && (2.97..=3.03).contains(&max),
            "{line}"
        );
        assert_eq!(cells[9], "2.000");
        assert!(all.contains("\na s1 connect 0 - - - - - -\n"));
        let one = show_latency(&state, &l, Scope::Server(s1));
        assert_eq!(one.lines().count(), 4);
        assert!(one.contains("a s1 total 3 "));
        let b = show_latency(&state, &l, Scope::Backend(1));
        assert_eq!(b.lines().count(), 1 + 6);
        assert!(b.contains("b s response 0"));
    }
}
