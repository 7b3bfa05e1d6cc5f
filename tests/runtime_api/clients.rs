//! The clients operators use, unchanged: `socat` one-shots (the guides' commands),
//! `pointsman ctl` (its one-shot output is socat's), and hatop 0.8.2 driven in a private tmux
//! server (reference §8.1): it lists the servers, F10 puts nginx2 into maintenance and the
//! traffic moves to the backup, F9 brings it back, F5–F8 and F4 change its weight.

use super::*;
use std::process::{Command, Stdio};

#[test]
fn socat_one_shots_switch_the_traffic() {
    let s = Setup::start(Options::default());
    let path = s.p.socket.to_str().unwrap().to_string();
    let unix = format!("UNIX-CONNECT:{path}");
    assert_eq!(s.served_by(), "nginx2");
    // The guides' form: `echo "disable server bk_app/nginx2" | socat stdio UNIX-CONNECT:…`.
    assert_eq!(socat(&unix, "disable server bk_app/nginx2\n"), "\n");
    for _ in 0..10 {
        assert_eq!(s.served_by(), "nginx1");
    }
    let stat = socat(&unix, "show stat\n");
    assert_eq!(
        column(stat_row(&stat, "bk_app", "nginx2").unwrap(), "status"),
        "MAINT"
    );
    // socat with the bare path, as in the README.
    assert_eq!(socat(&path, "enable server bk_app/nginx2\n"), "\n");
    for _ in 0..10 {
        assert_eq!(s.served_by(), "nginx2");
    }
    // Pipelined and `;` through socat.
    assert_eq!(
        socat(
            &unix,
            "set weight bk_app/nginx2 0;get weight bk_app/nginx2\n"
        ),
        "\n0 (initial 1)\n\n"
    );
    assert_eq!(s.served_by(), "nginx1");
    assert_eq!(
        socat(
            &unix,
            "set weight bk_app/nginx2 100%\nget weight bk_app/nginx2\n"
        ),
        "\n1 (initial 1)\n\n"
    );
    assert_eq!(s.served_by(), "nginx2");
    assert_eq!(
        socat(&unix, "disable server bk_app/nope\n"),
        "No such server.\n\n"
    );
}

#[test]
fn socat_over_a_tcp_admin_socket() {
    let admin_port = free_port();
    let s = Setup::start(Options {
        global: format!("    stats socket ipv4@127.0.0.1:{admin_port} level operator\n"),
        ..Options::default()
    });
    let tcp = format!("TCP:127.0.0.1:{admin_port}");
    assert_eq!(socat(&tcp, "show cli level\n"), "operator\n\n");
    assert_eq!(socat(&tcp, "disable server bk_app/nginx2\n"), "\n");
    assert_eq!(s.served_by(), "nginx1");
    assert_eq!(
        socat(&tcp, "add server bk_app/x 127.0.0.1:1\n"),
        "Permission denied\n\n"
    );
    let (code, out, _) = ctl(&[
        "-s",
        &format!("ipv4@127.0.0.1:{admin_port}"),
        "enable server bk_app/nginx2",
    ]);
    assert_eq!((code, out.as_str()), (0, "\n"));
    assert_eq!(s.served_by(), "nginx2");
}

/// Runs `pointsman ctl ARGS…`; returns (exit code, stdout, stderr).
fn ctl(args: &[&str]) -> (i32, String, String) {
    let child = Command::new(POINTSMAN)
        .arg("ctl")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pointsman ctl");
    let out = wait_output(child, Duration::from_secs(10));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn ctl_one_shot_prints_what_socat_prints() {
    let s = Setup::start(Options::default());
    let path = s.p.socket.to_str().unwrap();
    let unix = format!("UNIX-CONNECT:{path}");
    for command in [
        "show servers state",
        "show servers state bk_app",
        "show backend",
        "get weight bk_app/nginx2",
        "show cli level",
        "help",
        "set weight bk_app/nginx2 abc",
        "show version;show cli level",
        "foo",
    ] {
        let words: Vec<&str> = command.split(' ').collect();
        let mut args = vec!["-s", path];
        args.extend(&words);
        // `show servers state` carries seconds since the last change and the health a check
        // may move between the two calls: compare again when the state moved in between.
        let mut attempts = 0;
        loop {
            let (code, out, err) = ctl(&args);
            assert_eq!((code, err.as_str()), (0, ""), "{command}");
            let expected = socat(&unix, &format!("{command}\n"));
            attempts += 1;
            if out == expected || attempts == 3 {
                assert_eq!(out, expected, "{command}");
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    // A mutation through ctl acts on the traffic like one through socat.
    let (code, out, _) = ctl(&["-s", path, "disable", "server", "bk_app/nginx2"]);
    assert_eq!((code, out.as_str()), (0, "\n"));
    assert_eq!(s.served_by(), "nginx1");
    let (_, out, _) = ctl(&["--socket", path, "enable server bk_app/nginx2"]);
    assert_eq!(out, "\n");
    assert_eq!(s.served_by(), "nginx2");
    // No socket there: a clear error, exit 1.
    let missing = s.p.dir.join("missing.sock");
    let (code, out, err) = ctl(&["-s", missing.to_str().unwrap(), "show info"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("cannot connect to"), "{err}");
}

#[test]
fn ctl_interactive_session_reads_every_reply() {
    let s = Setup::start(Options::default());
    let path = s.p.socket.to_str().unwrap();
    let lines = [
        "show cli level",
        "get weight bk_app/nginx2",
        "set weight bk_app/nginx2 abc",
        "show version;show cli level;get weight bk_app/nginx2",
        "disable server bk_app/nginx2",
        "get weight bk_app/nope",
    ];
    // Without a command: prompt mode, one line at a time (stdin is not a terminal here).
    let mut child = Command::new(POINTSMAN)
        .args(["ctl", "-s", path])
        .env("HOME", &s.p.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pointsman ctl");
    let input = lines.join("\n") + "\n";
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = wait_output(child, Duration::from_secs(10));
    assert!(out.status.success(), "{out:?}");
    // Each line's replies, as one-shot mode prints them, in order: nothing lost, nothing
    // shifted to the next line.
    let expected = format!(
        "admin\n\n1 (initial 1)\n\nEmpty weight string empty or preceded by garbage\n{}\n\nadmin\n\n1 (initial 1)\n\n\nNo such server.\n\n",
        version()
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    assert_eq!(s.served_by(), "nginx1");
    // The lines went to the history file.
    let history = std::fs::read_to_string(s.p.dir.join(".pointsman_history")).unwrap();
    for line in lines {
        assert!(history.lines().any(|l| l == line), "{line}\n{history}");
    }
}

/// The hatop screen row of `name` (the first one).
fn row<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or("")
}

/// The W (weight) and STATUS columns of a hatop row.
fn weight_and_status(row: &str) -> (String, String) {
    let mut words = row.split_whitespace().skip(1);
    let weight = words.next().unwrap_or("").to_string();
    let status = words.next().unwrap_or("").to_string();
    (weight, status)
}

#[test]
fn hatop_shows_the_servers_and_switches_them() {
    let s = Setup::start(Options::default());
    let hatop = which("hatop").expect("hatop is installed (scripts/install-test-deps.sh)");
    let err = s.p.dir.join("hatop.err");
    let tmux = Tmux::start(
        &format!(
            "{} -s {} -i 1 2> {}",
            hatop,
            s.p.socket.display(),
            err.display()
        ),
        200,
        50,
    );
    let wait = Duration::from_secs(15);
    let screen = tmux.wait_screen(wait, |screen| {
        weight_and_status(row(screen, "nginx2")) == ("1".into(), "UP".into())
    });
    // The header from `show info`, the proxies and servers from `show stat`.
    assert!(screen.contains("pointsman Version:"), "{screen}");
    for heading in [">>> app", ">>> bk_app", ">>> stats"] {
        assert!(screen.contains(heading), "{heading}\n{screen}");
    }
    assert_eq!(
        weight_and_status(row(&screen, "nginx1")),
        ("1".into(), "UP".into())
    );
    assert!(row(&screen, "nginx1").contains("L4OK"), "{screen}");

    // Cursor rows: 0 ">>> app", 1 FRONTEND, 2 blank, 3 ">>> bk_app", 4 nginx1, 5 nginx2.
    for _ in 0..5 {
        tmux.send_keys("Down");
        std::thread::sleep(Duration::from_millis(150));
    }
    let screen = tmux.wait_screen(wait, |screen| {
        screen.lines().last().unwrap_or("").contains("[#3/#2]")
    });
    assert!(screen.contains("ENTER=MENU"), "{screen}");
    let selected = tmux.screen_with_escapes();
    assert!(
        selected
            .lines()
            .any(|l| l.contains("nginx2") && l.contains("\x1b[7m")),
        "nginx2 is the selected row (reverse video)"
    );

    // F10: `disable server bk_app/nginx2`.
    tmux.send_keys("F10");
    tmux.wait_screen(wait, |screen| {
        weight_and_status(row(screen, "nginx2")).1 == "MAINT"
    });
    let stat = s.admin("show stat -1 4 -1");
    assert_eq!(
        column(stat_row(&stat, "bk_app", "nginx2").unwrap(), "status"),
        "MAINT"
    );
    for _ in 0..5 {
        assert_eq!(s.served_by(), "nginx1");
    }

    // F9: `enable server bk_app/nginx2`.
    tmux.send_keys("F9");
    tmux.wait_screen(wait, |screen| {
        weight_and_status(row(screen, "nginx2")).1 == "UP"
    });
    for _ in 0..5 {
        assert_eq!(s.served_by(), "nginx2");
    }

    // F8 +10, F7 +1, F6 -1, F5 -10, F4 back to 100%: each acts on the weight hatop shows.
    for (key, weight) in [
        ("F8", 11),
        ("F7", 12),
        ("F6", 11),
        ("F5", 1),
        ("F8", 11),
        ("F4", 1),
    ] {
        tmux.send_keys(key);
        let expected = format!("{weight} (initial 1)\n\n");
        wait_for(wait, || s.admin("get weight bk_app/nginx2") == expected);
        // Wait for the refresh that shows it before the next key reads it.
        tmux.wait_screen(wait, |screen| {
            weight_and_status(row(screen, "nginx2")).0 == weight.to_string()
        });
    }

    // The CLI view logs what hatop sent, and hatop's own errors stay empty.
    tmux.send_keys("M-5");
    let screen = tmux.wait_screen(wait, |screen| {
        screen.contains("> set weight bk_app/nginx2 100%")
    });
    for sent in [
        "> disable server bk_app/nginx2",
        "> enable server bk_app/nginx2",
        "> set weight bk_app/nginx2 11",
        "> set weight bk_app/nginx2 12",
    ] {
        assert!(screen.contains(sent), "{sent}\n{screen}");
    }
    tmux.send_keys("M-1");
    tmux.send_keys("q");
    wait_for(wait, || !tmux.alive());
    assert_eq!(std::fs::read_to_string(&err).unwrap(), "");
}

/// The full path of a program on PATH.
fn which(program: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
            .map(|p| p.display().to_string())
    })
}
