//! Every error class provoked for real against real sockets: nothing listening, a reset,
//! a truncated body, a non-2xx status, a timeout. Each run must fail, and each class must
//! be counted exactly once per request.

mod loadtest_support;

use loadtest_support::{closed_port, load_options, Backend, Captured};
use pointsman::loadtest::{run_with_output, ErrorClass, Report};

const REQUESTS: u64 = 4;

fn run(url: &str, extra: &[&str]) -> Report {
    let n = REQUESTS.to_string();
    let mut args = vec![url, "--rate", "20", "-n", &n];
    args.extend_from_slice(extra);
    run_with_output(&load_options(&args), Box::new(Captured::default())).expect("run")
}

fn assert_only(report: &Report, class: ErrorClass) {
    assert_eq!(
        report.whole.errors.iter().collect::<Vec<_>>(),
        vec![(&class, &REQUESTS)],
        "expected only {class}"
    );
    assert_eq!(report.whole.ok, 0);
    assert!(report.failed());
}

#[test]
fn nothing_listening_is_connect_refused() {
    let url = format!("http://{}/", closed_port());
    assert_only(&run(&url, &[]), ErrorClass::ConnectRefused);
}

#[test]
fn abort_without_answer_is_reset() {
    let backend = Backend::start(&[]);
    assert_only(&run(&backend.url("/close"), &[]), ErrorClass::Reset);
    assert_eq!(backend.count(), REQUESTS);
}

#[test]
fn half_a_body_is_truncated() {
    let backend = Backend::start(&["--size", "10000"]);
    assert_only(&run(&backend.url("/truncate"), &[]), ErrorClass::Truncated);
}

#[test]
fn non_2xx_status_is_an_error_by_status() {
    let backend = Backend::start(&["--name", "nginx2"]);
    let report = run(
        &backend.url("/status/503"),
        &["--server-header", "X-Server"],
    );
    assert_only(&report, ErrorClass::Status(503));
    assert_eq!(report.whole.servers.get("nginx2"), Some(&REQUESTS));
}

#[test]
fn answer_slower_than_the_timeout_is_timeout() {
    let backend = Backend::start(&["--delay-ms", "1500"]);
    let report = run(&backend.url("/"), &["--timeout", "200ms"]);
    assert_only(&report, ErrorClass::Timeout);
    let worst = report.whole.service.max.as_millis();
    assert!((200..1000).contains(&worst), "gave up after {worst} ms");
}
