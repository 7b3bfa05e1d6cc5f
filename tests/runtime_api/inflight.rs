//! Mutations while requests are in flight lose none of them: slow backends (`--delay-ms`)
//! hold requests on every shard while servers are drained, put into maintenance, added and
//! deleted (pointsman's graceful `del server`: no new request at once, removed when the last
//! one finished); `shutdown sessions server` is the one command that cuts them (502, as
//! HAProxy); `disable frontend` holds new connections until `enable frontend`.

use super::*;
use std::thread::JoinHandle;

/// How long the slow backends take to answer.
const DELAY_MS: u64 = 1000;

struct Slow {
    /// s1 and s2, kept running for the test's life.
    _slow: [Backend; 2],
    s1_port: u16,
    fast: Backend,
    port: u16,
    p: Pointsman,
}

/// `backend bk`: two active servers that answer after [`DELAY_MS`]; a fast third backend
/// (`fast`) outside the config for `add server`.
fn slow_setup(shards: usize) -> Slow {
    let delay = DELAY_MS.to_string();
    let s1 = backend("s1", "s1", &["--delay-ms", &delay]);
    let s2 = backend("s2", "s2", &["--delay-ms", &delay]);
    let fast = backend("fast", "fast", &[]);
    let port = free_port();
    let config = format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{} check inter 30s\n    server s2 127.0.0.1:{} check inter 30s\n",
        s1.port(),
        s2.port()
    );
    let p = pointsman(&config, shards, port);
    Slow {
        s1_port: s1.port(),
        _slow: [s1, s2],
        fast,
        port,
        p,
    }
}

impl Slow {
    fn admin(&self, command: &str) -> String {
        self.p.admin(command)
    }

    /// Requests in flight on `server`, over all shards (`scur`).
    fn scur(&self, server: &str) -> u64 {
        let stat = self.admin("show stat -1 4 -1");
        stat_row(&stat, "bk", server).map_or(0, |row| column(row, "scur").parse().unwrap())
    }

    /// Starts `n` GETs, each on its own connection and thread, and waits until all are in
    /// flight on the servers.
    fn start_requests(&self, n: usize, servers: &[&str]) -> Vec<JoinHandle<(u16, String)>> {
        let port = self.port;
        let handles = (0..n)
            .map(|_| {
                std::thread::spawn(move || match get(port, "/") {
                    Ok(r) => (r.status, r.header("x-server").unwrap_or("").to_string()),
                    Err(e) => (0, e.to_string()),
                })
            })
            .collect();
        wait_for(Duration::from_secs(5), || {
            servers.iter().map(|s| self.scur(s)).sum::<u64>() == n as u64
        });
        handles
    }

    /// Which server answers one request on a fresh connection.
    fn served_by(&self) -> String {
        let r = get(self.port, "/").expect("response");
        assert_eq!(r.status, 200);
        r.header("x-server").unwrap_or("").to_string()
    }

    /// The server names `show servers state bk` lists, with their `srv_admin_state`.
    fn servers_state(&self) -> Vec<(String, String)> {
        self.admin("show servers state bk")
            .lines()
            .skip(2)
            .filter(|l| !l.is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f[3].to_string(), f[6].to_string())
            })
            .collect()
    }
}

/// Every request completed with 200; returns who answered them.
fn all_ok(handles: Vec<JoinHandle<(u16, String)>>) -> Vec<String> {
    handles
        .into_iter()
        .map(|h| {
            let (status, server) = h.join().unwrap();
            assert_eq!(status, 200, "{server}");
            server
        })
        .collect()
}

#[test]
fn drain_and_maintenance_let_requests_in_flight_finish() {
    let s = slow_setup(2);
    let both = ["s1", "s2"];
    let flying = s.start_requests(6, &both);
    assert!(s.scur("s1") > 0 && s.scur("s2") > 0);
    assert_eq!(s.admin("set server bk/s1 state drain"), "\n");
    // New requests avoid s1 while its requests finish.
    assert_eq!(s.served_by(), "s2");
    let answered = all_ok(flying);
    assert!(answered.iter().any(|x| x == "s1"), "{answered:?}");
    let stat = s.admin("show stat -1 4 -1");
    assert_eq!(
        column(stat_row(&stat, "bk", "s1").unwrap(), "status"),
        "DRAIN"
    );

    assert_eq!(s.admin("set server bk/s1 state ready"), "\n");
    let flying = s.start_requests(6, &both);
    assert_eq!(s.admin("disable server bk/s1"), "\n");
    let stat = s.admin("show stat -1 4 -1");
    let s1 = stat_row(&stat, "bk", "s1").unwrap();
    assert_eq!(column(s1, "status"), "MAINT");
    assert!(column(s1, "scur").parse::<u64>().unwrap() > 0, "{s1}");
    assert_eq!(s.served_by(), "s2");
    // Removable (HAProxy's rule: in MAINT, nothing in flight) once its requests are done.
    assert_eq!(s.admin("wait 5s srv-removable bk/s1"), "Done.\n\n");
    assert_eq!(s.scur("s1"), 0);
    all_ok(flying);
    assert_eq!(s.admin("wait 10"), "Done.\n\n");
}

#[test]
fn del_server_drains_then_disappears() {
    let s = slow_setup(2);
    let flying = s.start_requests(6, &["s1", "s2"]);
    // One write, so that every command runs while the requests are still in flight however
    // slow the machine: `del server`, then while s1 drains: `show servers state` lists it with
    // srv_admin_state 8 (FDRAIN), `show stat` says DRAIN, its name cannot be added again; then
    // `wait … srv-removable` returns once it is gone (HAProxy 2.7's "Done.").
    let replies = String::from_utf8(admin_raw(
        &s.p.socket,
        format!(
            "del server bk/s1;show servers state bk;show stat 3 4 1;add server bk/s1 127.0.0.1:{};wait 5s srv-removable bk/s1\n",
            s.s1_port
        )
        .as_bytes(),
        Duration::from_secs(10),
    ))
    .unwrap();
    let draining = "Server draining: it takes no new requests and is deleted when its last request finishes.\n";
    assert!(replies.starts_with(draining), "{replies}");
    let state_line = replies
        .lines()
        .find(|l| l.starts_with("3 bk 1 s1 "))
        .unwrap();
    assert_eq!(state_line.split(' ').nth(6), Some("8"), "{state_line}");
    let stat_line = replies.lines().find(|l| l.starts_with("bk,s1,")).unwrap();
    assert_eq!(column(stat_line, "status"), "DRAIN");
    assert!(
        replies.ends_with("Already exists a server with the same name in backend.\n\nDone.\n\n"),
        "{replies}"
    );
    // From the reply on, new requests avoided it.
    assert_eq!(s.served_by(), "s2");
    let answered = all_ok(flying);
    assert!(answered.iter().any(|x| x == "s1"), "{answered:?}");
    assert_eq!(s.servers_state(), [("s2".into(), "0".into())]);
    assert!(stat_row(&s.admin("show stat"), "bk", "s1").is_none());
    assert_eq!(s.admin("del server bk/s1"), "No such server.\n");

    // A READY server never becomes removable by itself: HAProxy's "Failed." at once.
    assert_eq!(s.admin("wait 10s srv-removable bk/s2"), "Failed.\n\n");
    // In maintenance with requests in flight: removable once they are done.
    let flying = s.start_requests(2, &["s2"]);
    assert_eq!(s.admin("disable server bk/s2"), "\n");
    assert_eq!(
        s.admin("wait 100ms srv-removable bk/s2"),
        "Wait delay expired.\n\n"
    );
    assert_eq!(
        s.admin("del server bk/s2"),
        "Server deleted once its last connection finishes (draining).\n"
    );
    all_ok(flying);
    wait_for(Duration::from_secs(5), || s.servers_state().is_empty());
    // No server left: HAProxy's 503.
    assert_eq!(get(s.port, "/").unwrap().status, 503);

    // The name can be used again: the new server serves at once (pointsman starts an added
    // server READY).
    assert_eq!(
        s.admin(&format!("add server bk/s1 127.0.0.1:{}", s.fast.port())),
        "New server registered.\n\n"
    );
    assert_eq!(s.served_by(), "fast");
    // Idle and READY: deleted at once.
    assert_eq!(s.admin("del server bk/s1"), "Server deleted.\n");
}

#[test]
fn add_server_while_requests_are_in_flight() {
    let s = slow_setup(2);
    let flying = s.start_requests(6, &["s1", "s2"]);
    assert_eq!(
        s.admin(&format!(
            "add server bk/s3 127.0.0.1:{} weight 256",
            s.fast.port()
        )),
        "New server registered.\n\n"
    );
    let state = s.servers_state();
    assert_eq!(state.len(), 3, "{state:?}");
    assert_eq!(state[2], ("s3".into(), "0".into()));
    // The new server takes requests at once, on every shard.
    let answered: Vec<String> = (0..4).map(|_| s.served_by()).collect();
    assert!(answered.iter().any(|x| x == "fast"), "{answered:?}");
    all_ok(flying);
    assert_eq!(s.admin("get weight bk/s3"), "256 (initial 256)\n\n");
    // Its row is in `show stat` with the next id.
    let stat = s.admin("show stat -1 4 -1");
    let s3 = stat_row(&stat, "bk", "s3").unwrap();
    assert_eq!(column(s3, "sid"), "3");
    assert_eq!(column(s3, "status"), "no check");
    // Add errors, in HAProxy's words.
    assert_eq!(
        s.admin(&format!("add server bk/s3 127.0.0.1:{}", s.fast.port())),
        "Already exists a server with the same name in backend.\n\n"
    );
    assert_eq!(
        s.admin("add server nope/s4 127.0.0.1:1"),
        "No such backend.\n"
    );
    assert_eq!(
        s.admin("add server bk/s4"),
        "'server' expects <name> and <addr>[:<port>] as arguments.\n\n"
    );
    assert_eq!(
        s.admin("add server bk 127.0.0.1:1"),
        "Require 'backend/server'.\n"
    );
}

#[test]
fn shutdown_sessions_cuts_requests_in_flight() {
    let s = slow_setup(2);
    let flying = s.start_requests(4, &["s1", "s2"]);
    let on_s1 = s.scur("s1") as usize;
    assert!(on_s1 > 0);
    assert_eq!(s.admin("shutdown sessions server bk/s1"), "\n");
    let results: Vec<(u16, String)> = flying.into_iter().map(|h| h.join().unwrap()).collect();
    // The requests on s1 got HAProxy's 502 (they were not retried elsewhere), the others 200.
    let cut = results.iter().filter(|(status, _)| *status == 502).count();
    let ok = results
        .iter()
        .filter(|(status, server)| *status == 200 && server == "s2")
        .count();
    assert_eq!((cut, ok), (on_s1, 4 - on_s1), "{results:?}");
    assert_eq!(s.scur("s1"), 0);
    // New requests still go to s1.
    let answered: Vec<String> = (0..4).map(|_| s.served_by()).collect();
    assert!(answered.iter().any(|x| x == "s1"), "{answered:?}");
    assert_eq!(
        s.admin("shutdown sessions server bk/nope"),
        "No such server.\n\n"
    );
    assert_eq!(
        s.admin("shutdown sessions server"),
        "Require 'backend/server'.\n\n"
    );
}

#[test]
fn disable_frontend_holds_new_connections_until_enabled() {
    let s = slow_setup(2);
    assert_eq!(s.admin("disable server bk/s1"), "\n");
    assert_eq!(s.admin("disable server bk/s2"), "\n");
    assert_eq!(
        s.admin(&format!("add server bk/f 127.0.0.1:{}", s.fast.port())),
        "New server registered.\n\n"
    );
    let mut before = Client::connect(s.port);
    assert_eq!(before.get("/").unwrap().status, 200);
    assert_eq!(s.admin("disable frontend app"), "\n");
    let stat = s.admin("show stat -1 1 -1");
    assert_eq!(
        column(stat_row(&stat, "app", "FRONTEND").unwrap(), "status"),
        "PAUSED"
    );
    assert_eq!(
        s.admin("disable frontend app"),
        "All sockets are already disabled.\n\n"
    );
    // A connection opened now is held: no answer while the frontend is paused…
    let mut held = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    use std::io::{Read, Write};
    held.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(
        peer_state(&mut held, Duration::from_millis(800)),
        PeerState::StillOpen,
        "answered or closed while paused"
    );
    let mut buf = [0u8; 256];
    // …while a connection accepted before goes on being served.
    assert_eq!(before.get("/").unwrap().status, 200);
    assert_eq!(s.admin("enable frontend app"), "\n");
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = held.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let stat = s.admin("show stat -1 1 -1");
    assert_eq!(
        column(stat_row(&stat, "app", "FRONTEND").unwrap(), "status"),
        "OPEN"
    );
    assert_eq!(s.admin("disable frontend nope"), "No such frontend.\n\n");
    assert_eq!(
        s.admin("disable frontend"),
        "A frontend name is expected.\n\n"
    );
}
