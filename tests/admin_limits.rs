//! The admin socket's protections on the real `pointsman`: the unix socket gets the configured
//! mode, owner and group; a `level user` / `level operator` socket refuses what its level may
//! not do; a flood of admin connections is bounded by `maxconn` (the rest wait in the accept
//! queue) and does not stop the proxy from serving traffic.

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn config(port: u16, server: u16, dir: &std::path::Path, extra_global: &str) -> String {
    format!(
        "global\n    stats socket @SOCKET@ level admin\n{extra_global}\
         \n    stats socket {dir}/user.sock level user\n    stats socket {dir}/operator.sock level operator\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{server}\n",
        dir = dir.display()
    )
}

#[test]
fn unix_socket_gets_mode_owner_and_group() {
    // Root may give the socket away; anyone else may only "give" it to themselves.
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = if is_root() {
        (4242, 4343)
    } else {
        unsafe { (libc::getuid(), libc::getgid()) }
    };
    let server = backend("s1", "ok", &[]);
    let port = free_port();
    let dir = temp_dir("owned");
    let owned = format!(
        "    stats socket {}/owned.sock mode 640 uid {uid} gid {gid} level admin",
        dir.display()
    );
    let p = pointsman(&config(port, server.port(), &dir, &owned), 1, port);
    let path = dir.join("owned.sock");
    wait_for(Duration::from_secs(5), || path.exists());
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    drop(p);
}

#[test]
fn levels_are_enforced_per_socket() {
    let server = backend("s1", "ok", &[]);
    let port = free_port();
    let dir = temp_dir("levels");
    let p = pointsman(&config(port, server.port(), &dir, ""), 1, port);
    let user = dir.join("user.sock");
    let operator = dir.join("operator.sock");
    wait_for(Duration::from_secs(5), || {
        user.exists() && operator.exists()
    });
    assert_eq!(admin(&user, "show cli level"), "user\n\n");
    assert_eq!(
        admin(&user, "disable server bk/s1"),
        "Permission denied\n\n"
    );
    assert_eq!(admin(&user, "set weight bk/s1 0"), "Permission denied\n\n");
    assert_eq!(admin(&operator, "show cli level"), "operator\n\n");
    assert_eq!(
        admin(&operator, "add server bk/s2 127.0.0.1:1"),
        "Permission denied\n\n"
    );
    assert_eq!(
        admin(&operator, "del server bk/s1"),
        "Permission denied\n\n"
    );
    // A session cannot raise its own level.
    assert_eq!(
        admin(&user, "operator;show cli level"),
        "Permission denied\n\nuser\n\n"
    );
    // Nothing changed: one server, weight intact, serving.
    let state = p.admin("show servers state bk");
    assert!(!state.contains(" s2 "), "{state}");
    assert!(
        state.lines().nth(2).is_some_and(|l| l.contains(" s1 ")),
        "{state}"
    );
    assert_eq!(p.admin("get weight bk/s1"), "1 (initial 1)\n\n");
    assert_eq!(get(port, "/").unwrap().status, 200);
}

#[test]
fn admin_flood_is_bounded_and_traffic_goes_on() {
    let server = backend("s1", "ok", &[]);
    let port = free_port();
    let dir = temp_dir("flood");
    let p = pointsman(
        &config(port, server.port(), &dir, "    stats maxconn 3\n"),
        1,
        port,
    );
    // Three sessions in prompt mode hold every slot of the admin socket.
    let mut held: Vec<UnixStream> = (0..3)
        .map(|_| {
            let mut s = UnixStream::connect(&p.socket).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"prompt\n").unwrap();
            let mut prompt = [0u8; 3];
            s.read_exact(&mut prompt).unwrap();
            assert_eq!(&prompt, b"\n> ");
            s
        })
        .collect();
    // A flood of further admin clients: they connect (queued by the kernel) but get nothing.
    let mut flood: Vec<UnixStream> = (0..50)
        .map(|_| {
            let mut s = UnixStream::connect(&p.socket).unwrap();
            let _ = s.write_all(b"show info\n");
            s
        })
        .collect();
    // Traffic is served meanwhile.
    let started = Instant::now();
    let mut client = Client::connect(port);
    for _ in 0..50 {
        assert_eq!(client.get("/").unwrap().status, 200);
    }
    println!(
        "50 requests during the admin flood in {:?}",
        started.elapsed()
    );
    // Beyond maxconn: neither served nor closed, it waits.
    assert_eq!(
        peer_state(&mut flood[0], Duration::from_millis(500)),
        PeerState::StillOpen,
        "an admin connection beyond maxconn"
    );
    // When the held sessions leave, the queued ones are served, in turn.
    drop(held.drain(..));
    for s in flood.iter_mut().take(5) {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("Name: pointsman"), "{reply}");
    }
}
