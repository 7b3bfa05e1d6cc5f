//! The load tester against a real backend with a known delay: percentiles where the delay puts
//! them, request counts equal to what the backend served, servers identified, files written,
//! and a rate that cannot be sustained reported as invalid instead of as latency.

mod loadtest_support;

use std::time::Duration;

use loadtest_support::{load_options, Backend, Captured};
use pointsman::loadtest::{run_with_output, Report};

fn run(args: &[&str]) -> Report {
    run_with_output(&load_options(args), Box::new(Captured::default())).expect("run")
}

/// A run against `backend`'s `/` at `rate` requests per second, with the other `args`.
fn run_against(backend: &Backend, rate: &str, args: &[&str]) -> Report {
    let url = backend.url("/");
    let mut all = vec![url.as_str(), "--rate", rate];
    all.extend_from_slice(args);
    run(&all)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
fn p50_matches_the_backend_delay_and_counts_match_exactly() {
    let backend = Backend::start(&["--delay-ms", "20", "--jitter-ms", "2", "--name", "slow"]);
    let report = run_against(
        &backend,
        "100",
        &["-c", "8", "-n", "150", "--server-header", "X-Server"],
    );
    assert_eq!(report.whole.requests, 150);
    assert_eq!(report.whole.ok, 150);
    assert_eq!(backend.count(), 150, "backend served a different number");
    assert_eq!(report.whole.servers.get("slow"), Some(&150));
    let p50 = ms(report.whole.latency.p50);
    assert!(
        (19.0..28.0).contains(&p50),
        "p50 {p50} ms for a 20±2 ms backend"
    );
    assert!(ms(report.whole.service.p50) >= 18.0);
    assert!(report.schedule.invalid.is_none(), "{:?}", report.schedule);
    assert!(!report.failed());
    let per_second: u64 = report.timeline.iter().map(|s| s.requests).sum();
    assert_eq!(per_second, 150);
}

#[test]
fn connection_close_mode_opens_one_connection_per_request() {
    let backend = Backend::start(&["--body", "nginx 1.19.8"]);
    let report = run_against(
        &backend,
        "200",
        &["-c", "4", "-n", "100", "--keep-alive", "false"],
    );
    assert_eq!(report.whole.ok, 100);
    assert_eq!(backend.count(), 100);
    // The default identity is the body text.
    assert_eq!(report.whole.servers.get("nginx 1.19.8"), Some(&100));
}

#[test]
fn bodies_of_every_framing_are_read_whole() {
    for framing in [
        &["--size", "300000"][..],
        &["--size", "300000", "--chunked"][..],
    ] {
        let backend = Backend::start(framing);
        let report = run_against(
            &backend,
            "50",
            &["-c", "2", "-n", "20", "--server-header", "X-Server"],
        );
        assert_eq!(
            report.whole.ok, 20,
            "{framing:?}: {:?}",
            report.whole.errors
        );
        assert_eq!(backend.count(), 20);
    }
}

#[test]
fn a_rate_that_cannot_be_sustained_makes_the_run_invalid() {
    // One connection to a 50 ms backend carries at most ~20 req/s; ask for 100.
    let backend = Backend::start(&["--delay-ms", "50"]);
    let report = run_against(&backend, "100", &["-c", "1", "-d", "2s", "--timeout", "1s"]);
    let reason = report
        .schedule
        .invalid
        .clone()
        .expect("run must be invalid");
    assert!(reason.contains("cannot be sustained"), "{reason}");
    assert!(report.failed(), "an invalid run must not pass");
    assert!(report.render().contains("INVALID RUN"));
}

#[test]
fn json_svg_and_samples_files_are_written() {
    let backend = Backend::start(&["--name", "nginx1"]);
    let dir = std::env::temp_dir().join(format!("pointsman-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg, csv) = (dir.join("r.json"), dir.join("r.svg"), dir.join("r.csv"));
    let report = run_against(
        &backend,
        "100",
        &[
            "-n",
            "50",
            "--server-header",
            "X-Server",
            "--json",
            json.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
            "--samples",
            csv.to_str().unwrap(),
        ],
    );
    assert_eq!(report.whole.ok, 50);
    let json = std::fs::read_to_string(&json).unwrap();
    assert!(json.starts_with('{') && json.ends_with('}'));
    assert!(json.contains(r#""requests":50"#), "{json}");
    assert!(json.contains(r#""servers":{"nginx1":50}"#), "{json}");
    assert!(json.contains(r#""failed":false"#));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<circle").count(), 50);
    // One line per request after the header, each in schedule order with its times ordered
    // (due ≤ sent ≤ done), its status and the server that answered.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("seq,intended_us,sent_us,done_us,status,error,server")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 50, "{csv}");
    for (i, row) in rows.iter().enumerate() {
        let us = |k: usize| row[k].parse::<u64>().unwrap();
        assert_eq!(us(0), i as u64, "{csv}");
        assert!(us(1) <= us(2) && us(2) <= us(3), "{row:?}");
        assert_eq!(&row[4..], ["200", "", "\"nginx1\""], "{row:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
