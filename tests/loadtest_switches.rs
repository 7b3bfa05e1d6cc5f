//! `--at` commands reach a (fake) admin unix socket at their time, with HAProxy's one-shot
//! framing, and land on the timeline with their replies and round trips; `--every` prints one
//! line per request like the guide's demo, with the switch lines in between. A command the
//! proxy refuses fails the run: in the report, in the JSON, and in `pointsman load`'s exit
//! status against the real proxy.

mod common;
mod loadtest_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loadtest_support::{load_options, Backend, Captured};
use pointsman::loadtest::run_with_output;
use pointsman::loadtest::switches::SwitchError;

/// A fake runtime API socket: reads one line per connection, records it with its arrival
/// time, answers like HAProxy (`"\n"` for a successful command) and closes.
struct FakeAdmin {
    path: PathBuf,
    commands: Arc<Mutex<Vec<(String, Instant)>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeAdmin {
    fn start(expected: usize) -> FakeAdmin {
        // One path per fake: the tests of this file run at the same time.
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "pointsman-admin-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind unix socket");
        let commands = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&commands);
        // Accepts for a bounded time, so that a command never sent fails the test instead
        // of hanging it.
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let deadline = Instant::now() + Duration::from_secs(10);
        let thread = std::thread::spawn(move || {
            let mut accepted = 0;
            while accepted < expected && Instant::now() < deadline {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    Err(e) => panic!("accept: {e}"),
                };
                accepted += 1;
                stream.set_nonblocking(false).expect("blocking stream");
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).expect("read");
                recorded
                    .lock()
                    .unwrap()
                    .push((line.clone(), Instant::now()));
                let reply: &[u8] = if line.contains("/nope") {
                    b"No such server.\n\n"
                } else {
                    b"\n"
                };
                stream.write_all(reply).expect("reply");
            }
        });
        FakeAdmin {
            path,
            commands,
            thread: Some(thread),
        }
    }

    fn recorded(&mut self) -> Vec<(String, Instant)> {
        if let Some(thread) = self.thread.take() {
            thread.join().expect("fake admin thread");
        }
        self.commands.lock().unwrap().clone()
    }
}

impl Drop for FakeAdmin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn every_mode_prints_requests_and_switches_in_order() {
    let backend = Backend::start(&["--body", "nginx 1.19.8"]);
    let mut admin = FakeAdmin::start(3);
    let url = backend.url("/");
    let socket = admin.path.to_str().unwrap().to_string();
    let args = [
        url.as_str(),
        "--every",
        "200ms",
        "-n",
        "8",
        "--socket",
        &socket,
        "--at",
        "500ms",
        "disable server bk_app/nginx2",
        "--at",
        "900ms",
        "enable server bk_app/nginx2",
        "--at",
        "1100ms",
        "disable server bk_app/nope",
    ];
    let captured = Captured::default();
    let started = Instant::now();
    let report = run_with_output(&load_options(&args), Box::new(captured.clone())).expect("run");

    let recorded = admin.recorded();
    let lines: Vec<&str> = recorded.iter().map(|(line, _)| line.as_str()).collect();
    assert_eq!(
        lines,
        [
            "disable server bk_app/nginx2\n",
            "enable server bk_app/nginx2\n",
            "disable server bk_app/nope\n"
        ]
    );
    let first_at = recorded[0].1 - started;
    assert!(
        first_at >= Duration::from_millis(500),
        "sent at {first_at:?}"
    );

    let replies: Vec<_> = report.switches.iter().map(|s| s.reply.clone()).collect();
    assert_eq!(
        replies,
        [
            Ok("".into()),
            Ok("".into()),
            Err(SwitchError::Refused("No such server.".into()))
        ]
    );
    for switch in &report.switches {
        let took = switch.round_trip();
        assert!(
            took > Duration::ZERO && took < Duration::from_secs(1),
            "{}: round trip {took:?}",
            switch.command
        );
    }
    // Every request succeeded, yet the refused switch fails the run and says why.
    assert_eq!(report.whole.ok, 8);
    assert!(report.failed());
    assert_eq!(
        report.verdict(),
        "FAILED: 1 of 3 switch commands failed (disable server bk_app/nope: refused by the proxy: \"No such server.\")"
    );
    let table = report.render();
    assert!(!table.contains("OK:"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("  error  switch refused ") && l.ends_with(" 1")),
        "no switch row in the errors table:\n{table}"
    );
    assert_eq!(report.windows.len(), 3);
    assert_eq!(report.timeline[0].switches.len(), 2);
    assert_eq!(report.timeline[1].switches.len(), 1);

    let text = captured.text();
    let out: Vec<&str> = text.lines().collect();
    assert!(out[0].contains("every 200ms, 8 requests"), "{text}");
    let requests: Vec<&&str> = out.iter().filter(|l| l.contains(" req#")).collect();
    assert_eq!(requests.len(), 8, "{text}");
    for (i, line) in requests.iter().enumerate() {
        // e.g. "12:48:12.742 req#3 200 nginx 1.19.8  0.41 ms"
        let (clock, rest) = line.split_once(' ').unwrap();
        assert_eq!(clock.len(), 12, "{line}");
        assert!(
            rest.starts_with(&format!("req#{} 200 nginx 1.19.8  ", i + 1)),
            "{line}"
        );
        assert!(rest.ends_with(" ms"), "{line}");
    }
    let disable = out
        .iter()
        .position(|l| {
            l.contains(">>> disable server bk_app/nginx2  (reply: \"\", ") && l.ends_with(" ms)")
        })
        .expect("disable line");
    let req3 = out.iter().position(|l| l.contains(" req#3 ")).unwrap();
    let req4 = out.iter().position(|l| l.contains(" req#4 ")).unwrap();
    assert!(req3 < disable && disable < req4, "{text}");
    assert!(
        text.contains(
            ">>> disable server bk_app/nope  (FAILED: refused by the proxy: \"No such server.\", "
        ),
        "{text}"
    );
}

#[test]
fn a_switch_due_after_the_last_response_is_still_sent() {
    let backend = Backend::start(&[]);
    let mut admin = FakeAdmin::start(1);
    let url = backend.url("/");
    let socket = admin.path.to_str().unwrap().to_string();
    // The second (last) request is answered at about 300 ms; the command is due at 450 ms,
    // still within the run's 600 ms.
    let args = [
        url.as_str(),
        "--every",
        "300ms",
        "-n",
        "2",
        "--socket",
        &socket,
        "--at",
        "450ms",
        "disable server bk_app/nginx2",
    ];
    let report = run_with_output(&load_options(&args), Box::new(Captured::default())).expect("run");
    assert_eq!(admin.recorded().len(), 1);
    assert_eq!(report.switches.len(), 1);
    assert!(!report.failed(), "{}", report.render());
    assert_eq!(report.verdict(), "OK: zero failed requests");
}

/// `pointsman load` against the real proxy: a refused switch exits 1 with the proxy's reason,
/// and the JSON carries every switch's reply, outcome and round trip.
#[test]
fn the_real_proxy_refusing_a_switch_fails_pointsman_load() {
    let backend = common::backend("s1", "one", &[]);
    let port = common::free_port();
    let proxy = common::pointsman(
        &common::proxy_config(port, &common::server_line("s1", backend.port(), "")),
        1,
        port,
    );
    let json = proxy.dir.join("report.json");
    let out = std::process::Command::new(common::POINTSMAN)
        .args(["load", &format!("http://127.0.0.1:{port}/")])
        .args(["--every", "100ms", "-n", "6"])
        .args(["--at", "150ms", "set weight bk/s1 50"])
        .args(["--at", "250ms", "disable server nope/x"])
        .args(["--at", "350ms", "disable server bk/nope"])
        .arg("--socket")
        .arg(&proxy.socket)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run pointsman load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains(" 6 ok, 0 errors"), "{stdout}");
    let why = "2 of 3 switch commands failed (disable server nope/x: refused by the proxy: \"No such backend.\"; disable server bk/nope: refused by the proxy: \"No such server.\")";
    assert!(stdout.contains(&format!("\nFAILED: {why}\n")), "{stdout}");
    assert!(stderr.contains(why), "{stderr}");
    assert!(!stdout.contains("OK:"), "{stdout}");

    let text = std::fs::read_to_string(&json).expect("json written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(json["failed"], true, "{text}");
    assert_eq!(json["failed_switches"], 2, "{text}");
    assert_eq!(json["verdict"], format!("FAILED: {why}"), "{text}");
    let expected = [
        ("set weight bk/s1 50", "ok", "", None),
        (
            "disable server nope/x",
            "refused",
            "No such backend.",
            Some("refused by the proxy: \"No such backend.\""),
        ),
        (
            "disable server bk/nope",
            "refused",
            "No such server.",
            Some("refused by the proxy: \"No such server.\""),
        ),
    ];
    let switches = json["switches"].as_array().expect("switches");
    assert_eq!(switches.len(), expected.len(), "{text}");
    for (switch, (command, outcome, reply, error)) in switches.iter().zip(expected) {
        assert_eq!(switch["command"], command, "{switch}");
        assert_eq!(switch["outcome"], outcome, "{switch}");
        assert_eq!(switch["reply"], reply, "{switch}");
        assert_eq!(switch["error"].as_str(), error, "{switch}");
        let round_trip = switch["round_trip_us"].as_f64().expect("round_trip_us");
        let (sent, replied) = (switch["sent_us"].as_f64(), switch["replied_us"].as_f64());
        assert!(round_trip > 0.0 && round_trip < 1e6, "{switch}");
        let span = replied
            .zip(sent)
            .map(|(r, s)| r - s)
            .expect("sent_us, replied_us");
        assert!((round_trip - span).abs() < 0.01, "{switch}");
    }
}

#[test]
fn at_without_socket_or_after_the_end_is_refused_before_sending() {
    let backend = Backend::start(&[]);
    let url = backend.url("/");
    let no_socket = load_options(&[&url, "-n", "2", "--at", "1s", "disable server a/b"]);
    let err = run_with_output(&no_socket, Box::new(Captured::default())).unwrap_err();
    assert!(err.contains("--socket"), "{err}");
    let too_late = load_options(&[
        &url,
        "--every",
        "1s",
        "-n",
        "2",
        "--socket",
        "/nonexistent",
        "--at",
        "5s",
        "x",
    ]);
    let err = run_with_output(&too_late, Box::new(Captured::default())).unwrap_err();
    assert!(err.contains("after the end"), "{err}");
    let missing = load_options(&[
        &url,
        "-n",
        "2",
        "--socket",
        "/nonexistent",
        "--at",
        "1ms",
        "x",
    ]);
    let err = run_with_output(&missing, Box::new(Captured::default())).unwrap_err();
    assert!(err.contains("no such socket"), "{err}");
    assert_eq!(
        backend.count(),
        0,
        "nothing may be sent when the options are wrong"
    );
}
