//! The event engine of `pointsman load --rate` (the default), run as the real binary against
//! the real `pointsman-backend`: a bounded fixed-rate run sends exactly rate × duration
//! requests, all answered, the backend counting the same; both engines agree on a run; a
//! backend killed mid-run shows up as failed requests, and the run fails.

mod loadtest_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use loadtest_support::Backend;
use serde_json::Value;

/// Longest a bounded run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// A scratch directory for one test's JSON reports, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "pointsman-loadtest-events-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `pointsman load` process, killed on drop if still running.
struct Load(std::process::Child);

impl Load {
    fn start(url: &str, json: &Path, args: &[&str]) -> Load {
        let child = Command::new(env!("CARGO_BIN_EXE_pointsman"))
            .args(["load", url, "--json"])
            .arg(json)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pointsman load");
        Load(child)
    }

    /// Waits for the run to end (bounded) and returns whether it exited 0.
    fn wait(&mut self) -> bool {
        let deadline = Instant::now() + RUN_LIMIT;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().expect("wait for pointsman load") {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("pointsman load did not finish within {RUN_LIMIT:?}");
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("pointsman load wrote its JSON report");
    serde_json::from_str(&text).expect("valid JSON report")
}

fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn a_fixed_rate_run_sends_rate_times_duration_all_answered() {
    let scratch = Scratch::new("fixed");
    let backend = Backend::start(&["--name", "b1"]);
    let json = scratch.file("run.json");
    let args = [
        "--rate",
        "300",
        "-d",
        "2s",
        "-c",
        "4",
        "--server-header",
        "X-Server",
    ];
    let ok = Load::start(&backend.url("/"), &json, &args).wait();
    let report = read_json(&json);
    let whole = &report["whole"];
    assert!(ok, "the run failed: {report}");
    assert_eq!(report["mode"], "rate 300/s over 4 connections");
    assert_eq!(count(&report, "planned"), 600, "300/s × 2 s");
    assert_eq!(count(whole, "requests"), 600);
    assert_eq!(count(whole, "ok"), 600);
    assert_eq!(count(whole, "error_count"), 0, "{whole}");
    assert_eq!(count(&report["schedule"], "unsent"), 0);
    assert_eq!(whole["servers"]["b1"], 600);
    assert_eq!(
        backend.count(),
        600,
        "the backend served a different number"
    );
    let per_second: Vec<u64> = report["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|s| count(s, "requests"))
        .collect();
    // The interval is whole nanoseconds, so request 300 is due a hair before 1 s.
    assert_eq!(per_second.iter().sum::<u64>(), 600);
    assert!(
        per_second.iter().all(|n| (299..=301).contains(n)),
        "requests by intended second: {per_second:?}"
    );
}

#[test]
fn both_engines_count_the_same_run_alike() {
    let scratch = Scratch::new("engines");
    let backend = Backend::start(&["--size", "20000", "--chunked"]);
    for engine in ["events", "threads"] {
        let json = scratch.file(&format!("{engine}.json"));
        let args = ["--rate", "200", "-n", "100", "-c", "3", "--engine", engine];
        assert!(
            Load::start(&backend.url("/"), &json, &args).wait(),
            "{engine}"
        );
        let whole = &read_json(&json)["whole"];
        assert_eq!(count(whole, "requests"), 100, "{engine}: {whole}");
        assert_eq!(count(whole, "ok"), 100, "{engine}: {whole}");
    }
    assert_eq!(backend.count(), 200);
}

#[test]
fn a_backend_killed_mid_run_shows_up_as_errors() {
    let scratch = Scratch::new("killed");
    let mut backend = Backend::start(&[]);
    let json = scratch.file("run.json");
    let args = ["--rate", "200", "-d", "3s", "-c", "4", "--timeout", "1s"];
    let mut load = Load::start(&backend.url("/"), &json, &args);
    std::thread::sleep(Duration::from_millis(1200));
    backend.kill();
    let ok = load.wait();
    let report = read_json(&json);
    let whole = &report["whole"];
    assert!(!ok, "a run with failed requests must exit 1");
    assert_eq!(report["failed"], true);
    let (requests, good, errors) = (
        count(whole, "requests"),
        count(whole, "ok"),
        count(whole, "error_count"),
    );
    assert_eq!(requests, 600, "{whole}");
    assert_eq!(good + errors, requests, "every request is ok or an error");
    assert!(good >= 150, "the first second was served: {whole}");
    assert!(errors >= 300, "the last 1.8 s failed: {whole}");
    // After the kill: refused connects, plus at most a few closes/resets of open connections.
    let classes = whole["errors"].as_object().expect("errors by class");
    assert!(classes.get("connect_refused").is_some(), "{whole}");
    for class in classes.keys() {
        assert!(
            ["connect_refused", "reset", "closed_before_response"].contains(&class.as_str()),
            "unexpected error class {class}: {whole}"
        );
    }
    let timeline = report["timeline"].as_array().expect("timeline");
    assert_eq!(
        count(&timeline[0], "errors"),
        0,
        "second 0 was before the kill"
    );
    assert_eq!(
        count(&timeline[2], "errors"),
        count(&timeline[2], "requests"),
        "second 2 was after the kill"
    );
}
