//! `user`/`group` on the real binary started as root: every thread of a serving process runs
//! as the configured user and group (read from /proc/PID/task/*/status) while traffic flows and
//! the admin sockets answer; a `-x -sf` upgrade and a master-worker reload keep it so (the
//! master stays root, as HAProxy's does); a process that cannot change its identity refuses to
//! serve, one already running as the user serves (the container image's case); an unknown
//! user is refused at `-c` by pointsman and haproxy alike.
//!
//! Starting as root is what these tests are about: run as another user, each says so and
//! checks nothing.

mod common;

use common::haproxy::{assert_refused_by_both, frontend_with};
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// `nobody` / `nogroup` on Debian.
const NOBODY: u32 = 65534;
/// A group root's processes get in these tests, which an unprivileged worker must not keep.
const SUPPLEMENTARY: libc::gid_t = 4242;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn config(port: u16, server: u16, dir: &Path, identity: &str) -> String {
    format!(
        "global\n{identity}\
         \n    stats socket {dir}/admin.sock mode 600 level admin expose-fd listeners\
         \n    stats socket {dir}/plain.sock mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{server}\n",
        dir = dir.display()
    )
}

/// A `Uid:`/`Gid:`/`Groups:` line of a status file, its numbers.
fn ids(status: &str, field: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_else(|| panic!("no {field} in {status}"))
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

/// One thread: its name, its four uids, four gids and supplementary groups.
type ThreadIds = (String, Vec<u32>, Vec<u32>, Vec<u32>);

/// Every thread of `pid`.
fn thread_identities(pid: u32) -> Vec<ThreadIds> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let Ok(status) = std::fs::read_to_string(task.join("status")) else {
            continue; // a thread that ended meanwhile
        };
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        threads.push((
            name.trim().to_string(),
            ids(&status, "Uid:"),
            ids(&status, "Gid:"),
            ids(&status, "Groups:"),
        ));
    }
    threads
}

/// Every thread of `pid` (the shards included) runs as `uid`/`gid` (real, effective, saved
/// and filesystem ids) with no supplementary group.
fn assert_runs_as(pid: u32, uid: u32, gid: u32) {
    let threads = thread_identities(pid);
    assert!(
        threads.iter().any(|t| t.0.starts_with("shard-")),
        "{threads:?}"
    );
    for (name, uids, gids, groups) in &threads {
        assert_eq!(uids, &[uid; 4], "thread {name} of {pid}: {threads:?}");
        assert_eq!(gids, &[gid; 4], "thread {name} of {pid}: {threads:?}");
        assert!(groups.is_empty(), "thread {name} of {pid}: {threads:?}");
    }
}

/// Starts pointsman with `args` and a supplementary group, as a root shell may have: the
/// drop must clear it.
fn start(args: &[&str]) -> Proc {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(POINTSMAN);
    command.args(args);
    // SAFETY: setgroups between fork and exec, with a valid one-element list.
    unsafe {
        command.pre_exec(|| match libc::setgroups(1, [SUPPLEMENTARY].as_ptr()) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
    Proc {
        child: command.spawn().expect("start pointsman"),
        name: "pointsman".into(),
    }
}

/// Traffic reaches the backend, and both admin sockets answer with `pid`.
fn assert_serves(port: u16, dir: &Path, pid: u32) {
    let response = get(port, "/").expect("a response");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "s1");
    for socket in ["admin.sock", "plain.sock"] {
        assert_eq!(admin_pid(&dir.join(socket)), Some(pid), "{socket}");
    }
}

#[test]
fn every_thread_takes_user_and_group_and_an_x_upgrade_keeps_them() {
    if !is_root() {
        eprintln!("not root: user/group cannot be dropped, nothing checked");
        return;
    }
    let server = backend("s1", "s1", &[]);
    let port = free_port();
    let dir = temp_dir("privileges");
    let cfg = dir.join("p.cfg");
    let identity = "    user nobody\n    group nogroup";
    std::fs::write(&cfg, config(port, server.port(), &dir, identity)).unwrap();
    let cfg_arg = cfg.to_str().unwrap();
    let mut first = start(&["-f", cfg_arg, "--shards", "2"]);
    let socket = dir.join("admin.sock");
    let old = wait_for_new_pid(&socket, None, Duration::from_secs(10));
    assert_eq!(old, first.child.id());
    assert_runs_as(old, NOBODY, NOBODY);
    assert_serves(port, &dir, old);
    // Bound as root before the drop: root's files, which the unprivileged process never
    // needs to touch again.
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));

    // `-x` reads the old process's admin socket (root's, mode 600): the new process, started
    // as root, takes the listeners over and drops in turn.
    let old_pid = old.to_string();
    let x = ["-x", socket.to_str().unwrap(), "-sf", &old_pid];
    let second = start(&[&["-f", cfg_arg, "--shards", "2"][..], &x[..]].concat());
    let new = wait_for_new_pid(&socket, Some(old), Duration::from_secs(10));
    assert_eq!(new, second.child.id());
    assert_eq!(first.wait_exit(Duration::from_secs(15)), Some(0));
    assert_runs_as(new, NOBODY, NOBODY);
    assert_serves(port, &dir, new);
    drop(second);
}

#[test]
fn the_master_stays_root_and_every_worker_drops_across_reloads() {
    if !is_root() {
        eprintln!("not root: user/group cannot be dropped, nothing checked");
        return;
    }
    let server = backend("s1", "s1", &[]);
    let port = free_port();
    let dir = temp_dir("privileges-master");
    let cfg = dir.join("p.cfg");
    let identity = format!("    uid {NOBODY}\n    gid {NOBODY}");
    std::fs::write(&cfg, config(port, server.port(), &dir, &identity)).unwrap();
    let master = start(&["-W", "-f", cfg.to_str().unwrap(), "--shards", "2"]);
    let socket = dir.join("admin.sock");
    let mut worker = wait_for_new_pid(&socket, None, Duration::from_secs(10));
    assert_ne!(worker, master.child.id());
    for round in 0..2 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", master.child.id()));
        let status = status.unwrap();
        assert_eq!(ids(&status, "Uid:"), [0; 4], "round {round}");
        assert_eq!(ids(&status, "Groups:"), [SUPPLEMENTARY], "round {round}");
        assert_runs_as(worker, NOBODY, NOBODY);
        assert_serves(port, &dir, worker);
        master.signal(libc::SIGUSR2);
        worker = wait_for_new_pid(&socket, Some(worker), Duration::from_secs(10));
    }
    assert_runs_as(worker, NOBODY, NOBODY);
    assert_serves(port, &dir, worker);
    drop(master);
}

#[test]
fn a_process_that_cannot_take_the_identity_does_not_serve() {
    if !is_root() {
        eprintln!("not root: cannot start pointsman as another user, nothing checked");
        return;
    }
    let port = free_port();
    let dir = temp_dir("privileges-refused");
    let cfg = dir.join("p.cfg");
    // The test directory is root's: nobody binds its sockets in a directory it may write.
    let run = dir.join("run");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::chown(&run, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::write(&cfg, config(port, 1, &run, "    user root")).unwrap();
    let log = run.join("pointsman.log");
    let mut p = {
        use std::os::unix::process::CommandExt;
        let file = std::fs::File::create(&log).unwrap();
        let child = std::process::Command::new(POINTSMAN)
            .args(["-f", cfg.to_str().unwrap(), "--shards", "1"])
            .uid(NOBODY)
            .gid(NOBODY)
            .stderr(file)
            .spawn()
            .unwrap();
        Proc {
            child,
            name: "pointsman".into(),
        }
    };
    let code = p.wait_exit(Duration::from_secs(10));
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot set uid 0"), "{stderr}");
}

/// What the container image does: started as `nobody` with `user nobody` / `group nogroup`
/// in the config, the identity it already has is kept and it serves.
#[test]
fn a_process_already_running_as_the_user_serves() {
    if !is_root() {
        eprintln!("not root: cannot start pointsman as another user, nothing checked");
        return;
    }
    let server = backend("s1", "s1", &[]);
    let port = free_port();
    let run = temp_dir("privileges-nobody");
    std::os::unix::fs::chown(&run, Some(NOBODY), Some(NOBODY)).unwrap();
    let cfg = run.join("p.cfg");
    let identity = "    user nobody\n    group nogroup";
    std::fs::write(&cfg, config(port, server.port(), &run, identity)).unwrap();
    let child = {
        use std::os::unix::process::CommandExt;
        std::process::Command::new(POINTSMAN)
            .args(["-f", cfg.to_str().unwrap(), "--shards", "2"])
            .uid(NOBODY)
            .gid(NOBODY)
            .spawn()
            .unwrap()
    };
    let p = Proc {
        child,
        name: "pointsman".into(),
    };
    let pid = wait_for_new_pid(&run.join("admin.sock"), None, Duration::from_secs(10));
    assert_eq!(pid, p.child.id());
    assert_runs_as(pid, NOBODY, NOBODY);
    assert_serves(port, &run, pid);
}

#[test]
fn an_unknown_user_or_group_is_refused_by_both() {
    for (line, message) in [
        (
            "user no-such-user-here",
            "cannot find user id for 'no-such-user-here'",
        ),
        (
            "group no-such-group-here",
            "cannot find group id for 'no-such-group-here'",
        ),
    ] {
        assert_refused_by_both(
            &format!("global\n    {line}\n{}", frontend_with("")),
            "t.cfg:2",
            message,
        );
    }
}
