//! What `kill -9` of the real `pointsman` leaves behind: no listener. Its listening sockets
//! close with the process, as HAProxy's do, so once the process is gone a client is refused
//! (not accepted, then reset) and a new process can bind the port at once.
//!
//! The accept loop waits for connections with an io_uring poll; a poll armed on the listening
//! socket itself held the socket open until the kernel tore the ring down, after the process
//! was gone (vendor/VENDORED.md, patch 12; `scripts/kill9-window.sh` measures the window).

mod common;

use common::*;
use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Rounds of start, serve, kill: the window this guards against lasted 5-110 ms after the
/// process was reaped, so one round nearly always catches it; three make a miss unlikely.
const ROUNDS: usize = 3;

#[test]
fn a_killed_process_leaves_no_listener_behind() {
    let backend = backend("b1", "hello", &[]);
    let port = free_port();
    let config = proxy_config(port, &server_line("b1", backend.port(), ""));
    for round in 0..ROUNDS {
        // Two shards: two listening sockets, two accept loops waiting for connections.
        let mut p = pointsman(&config, 2, port);
        assert!(get(port, "/").unwrap().text().contains("hello"));
        let mut idle = Client::connect(port);
        idle.send(b"GET / HTTP/1.1\r\nHost: x\r\n"); // half a request: a read in flight

        p.proc.signal(libc::SIGKILL);
        let gone = reap(&mut p.proc.child, Duration::from_secs(5));
        assert!(
            gone,
            "round {round}: SIGKILLed pointsman not reaped within 5 s"
        );

        let connect = TcpStream::connect(("127.0.0.1", port));
        if let Ok(mut stream) = connect {
            let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            panic!(
                "round {round}: a connect to the port of a reaped pointsman succeeded: its \
                 listening socket outlived the process"
            );
        }
        let e = connect.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "round {round}: {e}");
        // The start-up probe's bind (no SO_REUSEPORT): a new process would take the port now.
        if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
            panic!("round {round}: the port of a reaped pointsman is still taken: {e}");
        }
    }
}

/// Waits (spinning, so that the check after it runs the moment the process is gone) until
/// `child` has exited and is reaped; false if it has not within `limit`.
fn reap(child: &mut std::process::Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::yield_now();
    }
    false
}
