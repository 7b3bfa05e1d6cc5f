//! `pointsman demo`, the README's first command: it must finish with zero errors and show the
//! switch to the backup and back, in both of its variants, and leave nothing behind: every
//! process it started (pointsman, the nginx masters and their workers) is gone when it exits,
//! on success, on failure and on Ctrl-C.
//!
//! The demo's processes are told apart from other tests' (which may run their own nginx at
//! the same time) by its process tree: the descendants of the demo's pid, sampled while it
//! runs, each identified by pid and start time so a reused pid is not mistaken for a survivor.

mod common;

use common::POINTSMAN;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest any demo of this file may run.
const DEMO_LIMIT: Duration = Duration::from_secs(60);

/// A process seen in the demo's tree: its pid, start time (clock ticks since boot) and
/// command line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    pid: u32,
    start: u64,
    cmdline: String,
}

/// A running `pointsman demo`, its stdout collected by a thread, its process tree sampled.
struct Demo {
    child: Child,
    stdout: Arc<Mutex<String>>,
    /// Receives once the demo's stdout reached its end.
    at_eof: mpsc::Receiver<()>,
    seen: BTreeMap<(u32, u64), Seen>,
    plot: std::path::PathBuf,
}

impl Demo {
    fn start(args: &[&str]) -> Demo {
        let dir = common::temp_dir("demo");
        let plot = dir.join("demo.svg");
        let mut child = Command::new(POINTSMAN)
            .arg("demo")
            .args(args)
            .arg("--plot")
            .arg(&plot)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run pointsman demo");
        let stdout = Arc::new(Mutex::new(String::new()));
        let pipe = child.stdout.take().unwrap();
        let collected = stdout.clone();
        let (eof, at_eof) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = collected.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
            let _ = eof.send(());
        });
        Demo {
            child,
            stdout,
            at_eof,
            seen: BTreeMap::new(),
            plot,
        }
    }

    fn text(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Records the demo's descendants as they are now.
    fn sample_tree(&mut self) {
        for pid in descendants(self.child.id()) {
            // The latest command line wins (an nginx worker starts as a copy of its master
            // and renames itself "nginx: worker process" a moment later), unless it is empty:
            // an exiting process (a zombie) has none left.
            if let Some(seen) = describe(pid).filter(|s| !s.cmdline.is_empty()) {
                self.seen.insert((seen.pid, seen.start), seen);
            }
        }
    }

    /// Samples the tree until `ready` holds (on the output so far and the tree seen) or the
    /// demo exits; true if `ready` held.
    fn sample_until(&mut self, ready: impl Fn(&str, &Demo) -> bool) -> bool {
        let deadline = Instant::now() + DEMO_LIMIT;
        loop {
            if ready(&self.text(), self) {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            assert!(Instant::now() < deadline, "demo stuck:\n{}", self.text());
            self.sample_tree();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Samples until requests flow through the proxy and both nginx workers were seen.
    fn wait_serving(&mut self) {
        let serving = self.sample_until(|text, demo| {
            text.contains(" req#2 ") && demo.seen_with("nginx: worker process") == 2
        });
        assert!(
            serving,
            "the demo ended early: {:?}\n{}",
            self.seen,
            self.text()
        );
    }

    /// Samples the tree until the demo exits; returns its status and output.
    fn finish(&mut self) -> (ExitStatus, String) {
        let _ = self.sample_until(|_, _| false);
        let status = self.child.wait().unwrap();
        // The pipe ends when its last writer exits; a survivor holding it is caught later by
        // `assert_nothing_left`, so this wait is bounded.
        let _ = self.at_eof.recv_timeout(Duration::from_secs(5));
        (status, self.text())
    }

    /// The processes seen whose command line contains `needle`.
    fn seen_with(&self, needle: &str) -> usize {
        self.seen
            .values()
            .filter(|s| s.cmdline.contains(needle))
            .count()
    }

    /// Every process seen in the demo's tree is gone (not even a zombie), its directory is
    /// removed, and nothing listens on the backends' ports any more.
    fn assert_nothing_left(&self, text: &str) {
        let left: Vec<&Seen> = self
            .seen
            .values()
            .filter(|s| describe(s.pid).is_some_and(|now| now.start == s.start))
            .collect();
        assert!(
            left.is_empty(),
            "left running after the demo: {left:?}\n{text}"
        );
        let dir = std::env::temp_dir().join(format!("pointsman-demo-{}", self.child.id()));
        assert!(!dir.exists(), "{} left behind", dir.display());
        for port in backend_ports(text) {
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
                "something still listens on the demo's backend port {port}"
            );
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.plot.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The backends' ports from the demo's first line (`… nginx1 (…) on 127.0.0.1:P, nginx2 …`).
fn backend_ports(text: &str) -> Vec<u16> {
    let Some(first) = text.lines().find(|l| l.starts_with("pointsman demo:")) else {
        return Vec::new();
    };
    first
        .split("127.0.0.1:")
        .skip(2) // the frontend's is the proxy's, checked through the process list
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The pid's start time and command line; `None` once it is gone (zombies count as there).
fn describe(pid: u32) -> Option<Seen> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid … starttime" (field 22): split after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let start = rest.split(' ').nth(19)?.parse().ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    Some(Seen {
        pid,
        start,
        cmdline: cmdline.trim().to_string(),
    })
}

/// Every process below `root`, from one pass over /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..))
            .and_then(|rest| rest.split(' ').nth(1))
            .and_then(|p| p.parse().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.split_off(1)
}

/// Runs a demo to its end: its status, output, and whether it left nothing behind.
fn demo(args: &[&str]) -> (bool, String) {
    let mut demo = Demo::start(args);
    let (status, text) = demo.finish();
    assert!(
        demo.seen_with(POINTSMAN) >= 1,
        "the demo's pointsman was never seen: {:?}",
        demo.seen
    );
    demo.assert_nothing_left(&text);
    let svg = std::fs::read_to_string(&demo.plot).unwrap_or_default();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "no SVG plot written"
    );
    (status.success(), text)
}

#[test]
fn the_guides_demo_switches_to_the_backup_and_back_with_zero_errors() {
    let (ok, text) = demo(&["--every", "100ms"]);
    assert!(ok, "{text}");
    assert!(text.contains("OK: zero failed requests"), "{text}");
    // Before the switch nginx2 ("nginx 1.18.0") answers, the backup after it, nginx2 again after.
    let lines: Vec<&str> = text.lines().collect();
    let disable = lines
        .iter()
        .position(|l| l.contains(">>> disable server bk_app/nginx2  (reply: \"\", "))
        .expect("disable line");
    let enable = lines
        .iter()
        .position(|l| l.contains(">>> enable server bk_app/nginx2  (reply: \"\", "))
        .expect("enable line");
    let requests = |range: std::ops::Range<usize>| -> Vec<&str> {
        lines[range]
            .iter()
            .copied()
            .filter(|l| l.contains(" req#"))
            .collect()
    };
    let before = requests(0..disable);
    let during = requests(disable..enable);
    let after = requests(enable..lines.len());
    assert!(
        !before.is_empty() && before.iter().all(|l| l.contains(" 200 nginx 1.18.0")),
        "{before:?}"
    );
    assert!(
        !during.is_empty() && during.iter().all(|l| l.contains(" 200 nginx 1.19.8")),
        "{during:?}"
    );
    assert!(
        !after.is_empty() && after.iter().all(|l| l.contains(" 200 nginx 1.18.0")),
        "{after:?}"
    );
}

#[test]
fn the_high_rate_demo_flips_under_load_with_zero_errors() {
    let (ok, text) = demo(&["--rate", "400", "--duration", "7s"]);
    assert!(ok, "{text}");
    assert!(text.contains("OK: zero failed requests"), "{text}");
    assert!(
        text.contains("server nginx 1.19.8") && text.contains("server nginx 1.18.0"),
        "{text}"
    );
}

/// Both nginx masters (marked by the demo's own prefix) and their workers were seen.
fn assert_saw_nginx(demo: &Demo) {
    let prefix = format!("pointsman-demo-{}/nginx", demo.child.id());
    assert_eq!(demo.seen_with(&prefix), 2, "nginx masters: {:?}", demo.seen);
    assert_eq!(
        demo.seen_with("nginx: worker process"),
        2,
        "nginx workers: {:?}",
        demo.seen
    );
}

#[test]
fn the_nginx_demo_stops_every_nginx_process_it_started() {
    let mut demo = Demo::start(&["--nginx", "--every", "100ms"]);
    let (status, text) = demo.finish();
    assert!(status.success(), "{text}");
    assert!(text.contains("OK: zero failed requests"), "{text}");
    assert_saw_nginx(&demo);
    demo.assert_nothing_left(&text);
}

#[test]
fn a_failed_nginx_demo_stops_every_process_too() {
    let mut demo = Demo::start(&["--nginx", "--every", "200ms"]);
    // Once requests flow through it, the proxy dies: the requests after fail.
    demo.wait_serving();
    let proxy = demo
        .seen
        .values()
        .find(|s| s.cmdline.starts_with(POINTSMAN))
        .expect("the demo's pointsman")
        .pid;
    // SAFETY: a grandchild of this test, alive (its parent reaps it only at the end).
    unsafe {
        libc::kill(proxy as i32, libc::SIGKILL);
    }
    let (status, text) = demo.finish();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("\nFAILED: "), "{text}");
    assert_saw_nginx(&demo);
    demo.assert_nothing_left(&text);
}

#[test]
fn ctrl_c_stops_every_process_of_the_nginx_demo() {
    // 24 s long: the interrupt comes while it runs.
    let mut demo = Demo::start(&["--nginx", "--every", "2s"]);
    demo.wait_serving();
    let interrupted = Instant::now();
    // SAFETY: signalling the child this test started, not yet reaped.
    unsafe {
        libc::kill(demo.child.id() as i32, libc::SIGINT);
    }
    let (status, text) = demo.finish();
    assert!(
        interrupted.elapsed() < Duration::from_secs(15),
        "the demo took {:?} to stop",
        interrupted.elapsed()
    );
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}\n{text}");
    assert_saw_nginx(&demo);
    demo.assert_nothing_left(&text);
}
