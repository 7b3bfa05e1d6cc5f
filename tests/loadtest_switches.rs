//! `--at` commands reach a (fake) admin unix socket at their time, with HAProxy's one-shot
//! framing, and land on the timeline; `--every` prints one line per request like the guide's
//! demo, with the switch lines in between.

mod loadtest_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loadtest_support::{load_options, Backend, Captured};
use pointsman::loadtest::run_with_output;

/// A fake runtime API socket: reads one line per connection, records it with its arrival
/// time, answers like HAProxy (`"\n"` for a successful command) and closes.
struct FakeAdmin {
    path: PathBuf,
    commands: Arc<Mutex<Vec<(String, Instant)>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeAdmin {
    fn start(expected: usize) -> FakeAdmin {
        let path =
            std::env::temp_dir().join(format!("pointsman-admin-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind unix socket");
        let commands = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&commands);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming().take(expected) {
                let mut stream = stream.expect("accept");
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
        [Ok("".into()), Ok("".into()), Ok("No such server.".into())]
    );
    assert_eq!(report.whole.ok, 8);
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
        .position(|l| l.ends_with(">>> disable server bk_app/nginx2  (reply: \"\")"))
        .expect("disable line");
    let req3 = out.iter().position(|l| l.contains(" req#3 ")).unwrap();
    let req4 = out.iter().position(|l| l.contains(" req#4 ")).unwrap();
    assert!(req3 < disable && disable < req4, "{text}");
    assert!(text.contains(">>> disable server bk_app/nope  (reply: \"No such server.\")"));
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
