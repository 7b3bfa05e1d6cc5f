//! Every error class provoked for real against real sockets: nothing listening, a reset,
//! a truncated body, a non-2xx status, a timeout. Each run must fail, and each class must
//! be counted exactly once per request, by both engines of `--rate` (events and threads).

mod loadtest_support;

use loadtest_support::{closed_port, load_options, Backend, Captured};
use pointsman::loadtest::{run_with_output, ErrorClass, Report};

const REQUESTS: u64 = 4;

const ENGINES: [&str; 2] = ["events", "threads"];

fn run_with(engine: &str, url: &str, extra: &[&str]) -> Report {
    let n = REQUESTS.to_string();
    let mut args = vec![url, "--rate", "20", "-n", &n, "--engine", engine];
    args.extend_from_slice(extra);
    run_with_output(&load_options(&args), Box::new(Captured::default())).expect("run")
}

/// Runs with each engine in turn; `check` gets the engine's name and its report.
fn each_engine(url: &str, extra: &[&str], check: impl Fn(&str, &Report)) {
    for engine in ENGINES {
        check(engine, &run_with(engine, url, extra));
    }
}

fn assert_only(engine: &str, report: &Report, class: ErrorClass) {
    assert_eq!(
        report.whole.errors.iter().collect::<Vec<_>>(),
        vec![(&class, &REQUESTS)],
        "{engine}: expected only {class}"
    );
    assert_eq!(report.whole.ok, 0, "{engine}");
    assert!(report.failed(), "{engine}");
}

#[test]
fn nothing_listening_is_connect_refused() {
    let url = format!("http://{}/", closed_port());
    each_engine(&url, &[], |engine, report| {
        assert_only(engine, report, ErrorClass::ConnectRefused)
    });
}

#[test]
fn abort_without_answer_is_reset() {
    let backend = Backend::start(&[]);
    each_engine(&backend.url("/close"), &[], |engine, report| {
        assert_only(engine, report, ErrorClass::Reset)
    });
    assert_eq!(backend.count(), REQUESTS * ENGINES.len() as u64);
}

#[test]
fn half_a_body_is_truncated() {
    let backend = Backend::start(&["--size", "10000"]);
    each_engine(&backend.url("/truncate"), &[], |engine, report| {
        assert_only(engine, report, ErrorClass::Truncated)
    });
}

#[test]
fn non_2xx_status_is_an_error_by_status() {
    let backend = Backend::start(&["--name", "nginx2"]);
    let extra = ["--server-header", "X-Server"];
    each_engine(&backend.url("/status/503"), &extra, |engine, report| {
        assert_only(engine, report, ErrorClass::Status(503));
        assert_eq!(report.whole.servers.get("nginx2"), Some(&REQUESTS));
    });
}

#[test]
fn answer_slower_than_the_timeout_is_timeout() {
    let backend = Backend::start(&["--delay-ms", "1500"]);
    each_engine(
        &backend.url("/"),
        &["--timeout", "200ms"],
        |engine, report| {
            assert_only(engine, report, ErrorClass::Timeout);
            let worst = report.whole.service.max.as_millis();
            assert!(
                (200..1000).contains(&worst),
                "{engine}: gave up after {worst} ms"
            );
        },
    );
}
