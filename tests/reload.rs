//! Restart, reload and upgrade with the real binary and real sockets: `-x -sf` upgrades and
//! master-worker reloads under constant load (keep-alive and `Connection: close` clients,
//! counted by the project's load tester), a 100 MB download across an upgrade, runtime state
//! carried over, a broken config on reload, HAProxy's server state file, inherited `fd@`
//! sockets, and the soft stop's keep-alive rule.

mod common;
mod loadtest_support;

use common::*;
use pointsman::loadtest::Report;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Upgrades or reloads in a row, as the issue asks.
const ROUNDS: usize = 10;
const DOWNLOAD_BYTES: u64 = 100_000_000;

/// The backends every scenario routes to.
struct Backends {
    one: Backend,
    two: Backend,
    three: Backend,
    big: Backend,
}

fn backends() -> Backends {
    let size = DOWNLOAD_BYTES.to_string();
    Backends {
        one: backend("s1", "one", &[]),
        two: backend("s2", "two", &[]),
        three: backend("s3", "three", &[]),
        big: backend("big", "big", &["--size", &size]),
    }
}

/// A config with an app frontend (s1, s2), a download frontend (the 100 MB backend) and a
/// stats socket with `expose-fd listeners`.
fn config(b: &Backends, app: u16, dl: u16, socket: &Path) -> String {
    format!(
        "global\n    stats socket {} level admin expose-fd listeners\n    hard-stop-after 60s\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    timeout http-keep-alive 10s\n\
         frontend app\n    bind 127.0.0.1:{app}\n    default_backend bk\n\
         frontend dl\n    bind 127.0.0.1:{dl}\n    default_backend bk_big\n\
         backend bk\n    server s1 127.0.0.1:{}\n    server s2 127.0.0.1:{}\n\
         backend bk_big\n    server big 127.0.0.1:{}\n",
        socket.display(),
        b.one.port(),
        b.two.port(),
        b.big.port()
    )
}

/// Constant-rate load in the background: one keep-alive and one `Connection: close` client.
fn start_load(port: u16, seconds: u64) -> Vec<std::thread::JoinHandle<Report>> {
    let url = format!("http://127.0.0.1:{port}/");
    let duration = format!("{seconds}s");
    [("true", "200"), ("false", "120")]
        .into_iter()
        .map(|(keep_alive, rate)| {
            let options = loadtest_support::load_options(&[
                &url,
                "--rate",
                rate,
                "-c",
                "8",
                "-d",
                &duration,
                "--keep-alive",
                keep_alive,
                "--timeout",
                LOAD_REQUEST_TIMEOUT,
            ]);
            std::thread::spawn(move || pointsman::loadtest::run(&options).expect("load runs"))
        })
        .collect()
}

/// What every hand-over must carry: the constant load on the app frontend, and the slow
/// 100 MB download on the download frontend.
struct Traffic {
    load: Vec<std::thread::JoinHandle<Report>>,
    download: std::thread::JoinHandle<Result<u64, String>>,
}

impl Traffic {
    /// Starts `seconds` of load on `app`, and half a second in, the download from `dl`.
    fn start(app: u16, dl: u16, seconds: u64) -> Traffic {
        let load = start_load(app, seconds);
        std::thread::sleep(Duration::from_millis(500));
        let download = start_download(dl);
        std::thread::sleep(Duration::from_millis(200));
        Traffic { load, download }
    }

    /// Waits for the load and the download: no request failed, every byte arrived.
    fn assert_intact(self) {
        for handle in self.load {
            assert_no_failure(&handle.join().unwrap());
        }
        assert_eq!(
            self.download.join().unwrap(),
            Ok(DOWNLOAD_BYTES),
            "the download is intact"
        );
    }
}

/// Zero failed requests, none refused or reset, every planned request sent and answered.
fn assert_no_failure(report: &Report) {
    assert!(
        report.whole.errors.is_empty(),
        "{}: errors {:?}",
        report.mode,
        report.whole.errors
    );
    assert_eq!(report.whole.requests, report.planned, "{}", report.mode);
    assert_eq!(report.whole.ok, report.planned, "{}", report.mode);
}

/// Downloads the 100 MB body slowly enough to span an upgrade; checks every byte.
fn start_download(port: u16) -> std::thread::JoinHandle<Result<u64, String>> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("bad head {head}"));
        }
        let mut offset: u64 = 0;
        let mut buf = vec![0u8; 256 * 1024];
        let started = Instant::now();
        loop {
            let n = stream
                .read(&mut buf)
                .map_err(|e| format!("after {offset} bytes: {e}"))?;
            if n == 0 {
                return Ok(offset);
            }
            for &b in &buf[..n] {
                let expected = b'a' + ((offset % 65536) % 26) as u8;
                if b != expected {
                    return Err(format!("byte {offset} is {b}, expected {expected}"));
                }
                offset += 1;
            }
            // About 40 MB/s: the download lasts a few seconds, across upgrades.
            let due = Duration::from_secs_f64(offset as f64 / 40e6);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    })
}

/// The runtime changes that must survive every hand-over.
fn change_runtime_state(socket: &Path, three: &Backend) {
    assert_eq!(admin(socket, "disable server bk/s1"), "\n");
    assert_eq!(admin(socket, "set weight bk/s2 50"), "\n");
    let added = admin(
        socket,
        &format!("add server bk/s3 127.0.0.1:{}", three.port()),
    );
    assert_eq!(added, "New server registered.\n\n");
}

fn assert_runtime_state_kept(socket: &Path, round: usize) {
    let state = admin(socket, "show servers state bk");
    let row = |name: &str| -> Vec<String> {
        state
            .lines()
            .find(|l| l.split(' ').nth(3) == Some(name))
            .unwrap_or_else(|| panic!("round {round}: no {name} in {state}"))
            .split(' ')
            .map(String::from)
            .collect()
    };
    assert_eq!(
        row("s1")[6],
        "1",
        "round {round}: s1 stays in MAINT\n{state}"
    );
    assert_eq!(
        row("s2")[7],
        "50",
        "round {round}: s2 keeps weight 50\n{state}"
    );
    assert_eq!(
        row("s3")[6],
        "0",
        "round {round}: the added s3 is there, READY\n{state}"
    );
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(|a| a.into()).collect()
}

#[test]
fn ten_upgrades_with_x_and_sf_lose_no_request_and_keep_runtime_state() {
    let b = backends();
    let dir = temp_dir("upgrade");
    let socket = dir.join("admin.sock");
    let cfg = dir.join("pointsman.cfg");
    let log = dir.join("pointsman.log");
    let (app, dl) = (free_port(), free_port());
    std::fs::write(&cfg, config(&b, app, dl, &socket)).unwrap();
    let start = |extra: &[&str]| {
        let mut args = os(&["-f", cfg.to_str().unwrap(), "--shards", "2"]);
        args.extend(os(extra));
        let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        spawn_pointsman(&args, Some(&log))
    };
    let mut current = start(&[]);
    wait_for_port(app, Duration::from_secs(10));
    let mut pid = wait_for_new_pid(&socket, None, Duration::from_secs(10));
    change_runtime_state(&socket, &b.three);

    let traffic = Traffic::start(app, dl, 9);
    let mut old = Vec::new();
    for round in 1..=ROUNDS {
        let socket_arg = socket.to_str().unwrap().to_string();
        let next = start(&["-x", &socket_arg, "-sf", &pid.to_string()]);
        let new_pid = wait_for_new_pid(&socket, Some(pid), Duration::from_secs(10));
        assert_eq!(new_pid, next.child.id(), "round {round}");
        assert_runtime_state_kept(&socket, round);
        old.push(std::mem::replace(&mut current, next));
        pid = new_pid;
        std::thread::sleep(Duration::from_millis(500));
    }
    traffic.assert_intact();
    for mut p in old {
        assert_eq!(
            p.wait_exit(Duration::from_secs(30)),
            Some(0),
            "an old process exits 0"
        );
    }
    current.signal(libc::SIGUSR1);
    assert_eq!(current.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn ten_master_worker_reloads_lose_no_request_and_a_broken_config_keeps_the_old_worker() {
    let b = backends();
    let dir = temp_dir("master");
    let socket = dir.join("admin.sock");
    let cfg = dir.join("pointsman.cfg");
    let log = dir.join("master.log");
    let (app, dl) = (free_port(), free_port());
    let good = config(&b, app, dl, &socket).replace(" expose-fd listeners", "");
    std::fs::write(&cfg, &good).unwrap();
    let notify = dir.join("notify.sock");
    let notifications = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    notifications
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let next_notification = || {
        let mut buf = [0u8; 256];
        let n = notifications
            .recv(&mut buf)
            .expect("a systemd notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut master = {
        let file = std::fs::File::create(&log).unwrap();
        let child = std::process::Command::new(POINTSMAN)
            .args(["-Ws", "-f", cfg.to_str().unwrap(), "--shards", "2"])
            .env("NOTIFY_SOCKET", &notify)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Proc {
            child,
            name: "master".into(),
        }
    };
    assert!(next_notification().starts_with("READY=1"));
    let mut pid = wait_for_new_pid(&socket, None, Duration::from_secs(10));
    assert_ne!(pid, master.child.id(), "a worker serves, not the master");
    change_runtime_state(&socket, &b.three);

    let traffic = Traffic::start(app, dl, 9);
    for round in 1..=ROUNDS {
        master.signal(libc::SIGUSR2);
        assert_eq!(next_notification(), "RELOADING=1", "round {round}");
        assert_eq!(next_notification(), "READY=1", "round {round}");
        pid = wait_for_new_pid(&socket, Some(pid), Duration::from_secs(10));
        assert_runtime_state_kept(&socket, round);
        std::thread::sleep(Duration::from_millis(400));
    }
    std::fs::write(&cfg, format!("{good}    bogus keyword\n")).unwrap();
    master.signal(libc::SIGUSR2);
    assert_eq!(next_notification(), "RELOADING=1");
    assert_eq!(next_notification(), "READY=1");
    assert_eq!(
        admin_pid(&socket),
        Some(pid),
        "the old worker keeps serving"
    );
    assert_runtime_state_kept(&socket, ROUNDS + 1);
    traffic.assert_intact();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("reload failed") && text.contains("unknown keyword 'bogus'"),
        "the master says why: {text}"
    );
    master.signal(libc::SIGTERM);
    assert_eq!(master.wait_exit(Duration::from_secs(30)), Some(0));
    assert_eq!(next_notification(), "STOPPING=1");
}

#[test]
fn a_haproxy_2_6_state_file_is_loaded() {
    let nginx1 = backend("nginx1", "one", &[]);
    let nginx2 = backend("nginx2", "two", &[]);
    let dir = temp_dir("statefile");
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/haproxy-2.6");
    // HAProxy 2.6's own `show servers state` after `disable server bk_app/nginx2`.
    std::fs::copy(
        fixtures.join("servers_state_after_disable.txt"),
        dir.join("state"),
    )
    .unwrap();
    let port = free_port();
    let text = format!(
        "global\n    stats socket @SOCKET@ level admin\n    server-state-base {}\n    server-state-file state\n\
         defaults\n    mode http\n    load-server-state-from-file global\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk_app\n\
         backend bk_app\n    server nginx1 127.0.0.1:{} check backup\n    server nginx2 127.0.0.1:{} check\n",
        dir.display(),
        nginx1.port(),
        nginx2.port()
    );
    let p = pointsman(&text, 1, port);
    let state = p.admin("show servers state");
    let nginx2_row: Vec<&str> = state
        .lines()
        .find(|l| l.contains(" nginx2 "))
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(
        nginx2_row[6], "1",
        "nginx2 is in MAINT as in the file:\n{state}"
    );
    assert_eq!(
        nginx2_row[18],
        nginx2.port().to_string(),
        "the file's port is not applied"
    );
    // MAINT on the only active server: the backup takes the traffic.
    assert_eq!(get(port, "/").unwrap().text(), "one");
}

#[test]
fn the_server_state_file_is_kept_current_and_read_by_the_next_process() {
    let s1 = backend("s1", "one", &[]);
    let dir = temp_dir("savestate");
    let port = free_port();
    let socket = dir.join("admin.sock");
    let text = format!(
        "global\n    stats socket {} level admin\n    server-state-file {}/state\n\
         defaults\n    mode http\n    load-server-state-from-file global\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{}\n    server s2 127.0.0.1:{}\n",
        socket.display(),
        dir.display(),
        s1.port(),
        s1.port()
    );
    let cfg = dir.join("p.cfg");
    std::fs::write(&cfg, text).unwrap();
    let args = os(&[
        "-f",
        cfg.to_str().unwrap(),
        "--shards",
        "1",
        "--save-server-state",
    ]);
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let mut first = spawn_pointsman(&args, None);
    wait_for_new_pid(&socket, None, Duration::from_secs(10));
    admin(&socket, "set server bk/s2 state drain");
    wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(dir.join("state")).is_ok_and(|t| t.contains(" s2 127.0.0.1 2 8 "))
    });
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait_exit(Duration::from_secs(10)), Some(0));
    let _second = spawn_pointsman(&args, None);
    wait_for_new_pid(&socket, None, Duration::from_secs(10));
    let state = admin(&socket, "show servers state");
    assert!(
        state.contains(" s2 127.0.0.1 2 8 "),
        "DRAIN restored:\n{state}"
    );
}

/// Spawns pointsman with `listeners` made descriptors 3, 4 … of the child, as systemd socket
/// activation (or a test harness) would.
fn spawn_with_fds(args: &[&str], listeners: Vec<std::os::fd::RawFd>) -> Proc {
    let mut command = std::process::Command::new(POINTSMAN);
    command.args(args);
    // SAFETY: only dup2 and fcntl between fork and exec.
    unsafe {
        command.pre_exec(move || {
            for (i, fd) in listeners.iter().enumerate() {
                let target = 3 + i as i32;
                if libc::dup2(*fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::fcntl(target, libc::F_SETFD, 0);
            }
            Ok(())
        });
    }
    Proc {
        child: command.spawn().unwrap(),
        name: "pointsman".into(),
    }
}

#[test]
fn bind_fd_and_stats_socket_fd_use_inherited_listening_sockets() {
    let s1 = backend("s1", "one", &[]);
    let dir = temp_dir("fd");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let admin_path = dir.join("inherited.sock");
    let unix = std::os::unix::net::UnixListener::bind(&admin_path).unwrap();
    std::env::set_var("POINTSMAN_TEST_LISTEN_FD", "3");
    let text = format!(
        "global\n    stats socket fd@4 level admin\n\
         defaults\n    mode http\n\
         frontend app\n    bind \"fd@${{POINTSMAN_TEST_LISTEN_FD}}\"\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{}\n",
        s1.port()
    );
    let cfg = dir.join("p.cfg");
    std::fs::write(&cfg, text).unwrap();
    let (tcp_fd, unix_fd) = (tcp.into_raw_fd(), unix.into_raw_fd());
    let mut p = spawn_with_fds(
        &["-f", cfg.to_str().unwrap(), "--shards", "2"],
        vec![tcp_fd, unix_fd],
    );
    // SAFETY: closing our own copies; the child has its own.
    unsafe {
        libc::close(tcp_fd);
        libc::close(unix_fd);
    }
    let mut answers = 0;
    wait_for(Duration::from_secs(10), || {
        answers += get(port, "/").is_ok_and(|r| r.text() == "one") as usize;
        answers >= 20
    });
    assert_eq!(admin_pid(&admin_path), Some(p.child.id()));
    assert_eq!(admin(&admin_path, "set weight bk/s1 9"), "\n");
    assert_eq!(admin(&admin_path, "get weight bk/s1"), "9 (initial 1)\n\n");
    p.signal(libc::SIGUSR1);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
    // A descriptor that is not a listening socket is refused with a clear error.
    let file = std::fs::File::open("/dev/null").unwrap();
    let out = {
        let mut command = std::process::Command::new(POINTSMAN);
        command.args(["-f", cfg.to_str().unwrap()]);
        let fd = file.as_raw_fd();
        // SAFETY: fcntl and dup2 between fork and exec. The file may itself be fd 3 (the
        // listeners above were closed), and dup2(3, 3) would leave it close-on-exec: copy it
        // above 10 first.
        unsafe {
            command.pre_exec(move || {
                let high = libc::fcntl(fd, libc::F_DUPFD, 10);
                libc::dup2(high, 3);
                libc::dup2(high, 4);
                Ok(())
            });
        }
        command.output().unwrap()
    };
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fd@3 is not a listening stream socket"),
        "{stderr}"
    );
}

#[test]
fn soft_stop_closes_keep_alive_connections_on_their_next_request_only() {
    let s1 = backend("s1", "one", &[]);
    let slow = backend("slow", "slow", &["--delay-ms", "800"]);
    let port = free_port();
    let slow_port = free_port();
    let text = format!(
        "defaults\n    mode http\n    timeout client 30s\n    timeout http-keep-alive 30s\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         frontend slow\n    bind 127.0.0.1:{slow_port}\n    default_backend bk_slow\n\
         backend bk\n    server s1 127.0.0.1:{}\n\
         backend bk_slow\n    server s 127.0.0.1:{}\n",
        s1.port(),
        slow.port()
    );
    let mut p = pointsman(&text, 2, port);
    let mut idle = Client::connect(port);
    assert_eq!(idle.get("/").unwrap().header("connection"), None);
    let mut in_flight = Client::connect(slow_port);
    in_flight.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    std::thread::sleep(Duration::from_millis(100));
    p.proc.signal(libc::SIGUSR1);
    std::thread::sleep(Duration::from_millis(200));
    // New connections are refused once the listeners are closed.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    // The request in flight finishes; its response, written after the stop, closes it.
    let slow_reply = in_flight.read_response(false).unwrap();
    assert_eq!(slow_reply.text(), "slow");
    assert_eq!(slow_reply.header("connection"), Some("close"));
    in_flight.assert_closed(Duration::from_secs(2));
    // The idle keep-alive connection is left alone: open, and no byte on it.
    idle.assert_still_open(Duration::from_millis(300));
    assert!(
        p.proc.child.try_wait().unwrap().is_none(),
        "the idle keep-alive connection keeps the process alive"
    );
    // The idle keep-alive connection was not closed under the client: its next request is
    // answered, with `Connection: close`, and then it closes.
    let last = idle.get("/").unwrap();
    assert_eq!(last.text(), "one");
    assert_eq!(last.header("connection"), Some("close"));
    idle.assert_closed(Duration::from_secs(2));
    assert_eq!(p.proc.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn hard_stop_after_bounds_a_soft_stop_and_sigint_stops_at_once() {
    let s1 = backend("s1", "one", &[]);
    let port = free_port();
    let text = format!(
        "global\n    hard-stop-after 1s\n\
         defaults\n    mode http\n    timeout client 60s\n    timeout http-keep-alive 60s\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{}\n",
        s1.port()
    );
    let mut p = pointsman(&text, 1, port);
    let mut idle = Client::connect(port);
    idle.get("/").unwrap();
    let stopped = Instant::now();
    p.proc.signal(libc::SIGTERM);
    assert_eq!(p.proc.wait_exit(Duration::from_secs(10)), Some(0));
    let waited = stopped.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "waited for the idle connection: {waited:?}"
    );
    // And no longer than hard-stop-after (1 s) allows, with room for a loaded machine: the
    // 10 s wait above only bounds the test.
    assert!(
        waited < Duration::from_secs(3),
        "hard-stop-after 1s stopped after {waited:?}"
    );

    let mut p = pointsman(
        &text.replace("hard-stop-after 1s", "hard-stop-after 60s"),
        1,
        port,
    );
    let mut idle = Client::connect(port);
    idle.get("/").unwrap();
    p.proc.signal(libc::SIGINT);
    assert_eq!(p.proc.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn haproxy_multi_letter_flags_are_understood() {
    let out = std::process::Command::new(POINTSMAN)
        .arg("-vv")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.starts_with("pointsman version "), "{text}");
    assert!(
        text.contains("Feature list :") && text.contains("+MASTER_WORKER"),
        "{text}"
    );
    let dir = temp_dir("flags");
    let cfg = dir.join("p.cfg");
    std::fs::write(
        &cfg,
        "defaults\n    mode http\nfrontend f\n    bind 127.0.0.1:1\n    default_backend b\nbackend b\n    server s 127.0.0.1:2\n",
    )
    .unwrap();
    let out = std::process::Command::new(POINTSMAN)
        .args([
            "-c",
            "-f",
            cfg.to_str().unwrap(),
            "-sf",
            "1",
            "2",
            "-st",
            "3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(POINTSMAN)
        .args([
            "-f",
            cfg.to_str().unwrap(),
            "-x",
            dir.join("nobody.sock").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot connect to") && stderr.contains("nobody.sock"),
        "{stderr}"
    );
}

/// Kills a process by pid when dropped (a daemon is not our child).
struct PidGuard(i32);

impl Drop for PidGuard {
    fn drop(&mut self) {
        // SAFETY: signalling a process this test started.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

#[test]
fn daemon_mode_detaches_once_serving_and_writes_its_pid() {
    let s1 = backend("s1", "one", &[]);
    let dir = temp_dir("daemon");
    let port = free_port();
    let cfg = dir.join("p.cfg");
    let pidfile = dir.join("p.pid");
    std::fs::write(
        &cfg,
        format!(
            "defaults\n    mode http\nfrontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
             backend bk\n    server s1 127.0.0.1:{}\n",
            s1.port()
        ),
    )
    .unwrap();
    let status = std::process::Command::new(POINTSMAN)
        .args([
            "-D",
            "-f",
            cfg.to_str().unwrap(),
            "-p",
            pidfile.to_str().unwrap(),
        ])
        .args(["--shards", "1"])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the parent exits 0 once the daemon serves"
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _guard = PidGuard(pid);
    assert_eq!(get(port, "/").unwrap().text(), "one", "served at once");
    // SAFETY: signalling the daemon this test started.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    // Gone, or a zombie waiting for whoever adopted it to reap it.
    let running =
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    wait_for(Duration::from_secs(10), || !running());
}

#[test]
fn sigttou_pauses_accepting_and_sigttin_resumes_without_refusing_anyone() {
    let s1 = backend("s1", "one", &[]);
    let port = free_port();
    let text = format!(
        "defaults\n    mode http\nfrontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{}\n",
        s1.port()
    );
    let p = pointsman(&text, 2, port);
    p.proc.signal(libc::SIGTTOU);
    std::thread::sleep(Duration::from_millis(300));
    // Paused: the connection waits in the accept queue, it is not refused, and gets no
    // answer until the listeners resume.
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).expect("queued, not refused");
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(
        peer_state(&mut waiting, Duration::from_millis(500)),
        PeerState::StillOpen,
        "no answer while paused"
    );
    let resumed_at = Instant::now();
    p.proc.signal(libc::SIGTTIN);
    // The read may wait well past the bound, so a late answer fails the bound, not the read.
    waiting.set_read_timeout(Some(RESUME_BOUND * 5)).unwrap();
    let mut reply = String::new();
    waiting.read_to_string(&mut reply).unwrap();
    let answered_in = resumed_at.elapsed();
    assert!(
        reply.starts_with("HTTP/1.1 200") && reply.ends_with("one"),
        "{reply}"
    );
    assert!(
        answered_in < RESUME_BOUND,
        "the queued connection was answered {answered_in:?} after SIGTTIN"
    );
}

/// How soon after SIGTTIN a connection queued while paused is answered: the listeners resume
/// at once; the bound leaves a loaded machine a second and more.
const RESUME_BOUND: Duration = Duration::from_secs(2);

/// A process killed and started again at once on the same port starts: the killed one's
/// listening sockets stay in LISTEN for a moment after it is gone (the kernel releases the
/// sockets its io_uring requests held asynchronously), which made the start-up probe fail with
/// "Address already in use" about once in five.
#[test]
fn a_restart_on_the_port_of_a_process_just_killed_starts() {
    let port = free_port();
    let config = format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:1\n"
    );
    for round in 0..8 {
        let mut p = pointsman(&config, 2, port);
        let pid = p.proc.child.id();
        let mut answered = None;
        wait_for(Duration::from_secs(10), || {
            answered = admin_pid(&p.socket);
            answered.is_some() || p.proc.child.try_wait().ok().flatten().is_some()
        });
        assert_eq!(
            answered,
            Some(pid),
            "round {round}: the new process did not start (exit {:?})",
            p.proc.wait_exit(Duration::from_millis(100))
        );
        drop(p);
    }
}
