//! The core proxy, end to end: the real `pointsman` binary on loopback ports in front of real
//! `pointsman-backend` processes, driven with plain HTTP over std sockets.

mod common;

use common::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A frontend on `port` with `default_backend bk`, and the given backend lines.
fn config(port: u16, backend: &str) -> String {
    format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n{backend}"
    )
}

/// Which server answered each of `n` requests on one keep-alive connection.
fn answers(port: u16, n: usize) -> HashMap<String, usize> {
    let mut client = Client::connect(port);
    let mut seen = HashMap::new();
    for _ in 0..n {
        let r = client.get("/").expect("response");
        assert_eq!(r.status, 200);
        *seen
            .entry(r.header("x-server").unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    seen
}

#[test]
fn backup_serves_only_when_no_active_server_is_usable() {
    let nginx1 = backend("nginx1", "nginx 1.19.8", &[]);
    let nginx2 = backend("nginx2", "nginx 1.18.0", &[]);
    let port = free_port();
    let p = pointsman(
        &config(
            port,
            &format!(
                "    server nginx1 127.0.0.1:{} backup\n    server nginx2 127.0.0.1:{}\n",
                nginx1.port(),
                nginx2.port()
            ),
        ),
        2,
        port,
    );
    assert_eq!(
        answers(port, 20),
        HashMap::from([("nginx2".to_string(), 20)])
    );
    assert_eq!(p.admin("disable server bk/nginx2"), "\n");
    assert_eq!(
        answers(port, 20),
        HashMap::from([("nginx1".to_string(), 20)])
    );
    assert_eq!(p.admin("enable server bk/nginx2"), "\n");
    assert_eq!(
        answers(port, 20),
        HashMap::from([("nginx2".to_string(), 20)])
    );
}

#[test]
fn allbackups_spreads_over_every_backup() {
    let (b1, b2, active) = (
        backend("b1", "b1", &[]),
        backend("b2", "b2", &[]),
        backend("a", "a", &[]),
    );
    let port = free_port();
    let servers = format!(
        "    option allbackups\n    server a 127.0.0.1:{} disabled\n    server b1 127.0.0.1:{} backup\n    server b2 127.0.0.1:{} backup\n",
        active.port(),
        b1.port(),
        b2.port()
    );
    let _p = pointsman(&config(port, &servers), 1, port);
    let seen = answers(port, 40);
    assert_eq!(seen.get("b1"), Some(&20), "{seen:?}");
    assert_eq!(seen.get("b2"), Some(&20), "{seen:?}");
}

/// Weights 1:3 give a 25% / 75% split within ±3 points over 4,000 requests.
fn check_split(balance: &str) {
    let (light, heavy) = (
        backend("light", "light", &[]),
        backend("heavy", "heavy", &[]),
    );
    let port = free_port();
    let servers = format!(
        "    balance {balance}\n    server light 127.0.0.1:{} weight 1\n    server heavy 127.0.0.1:{} weight 3\n",
        light.port(),
        heavy.port()
    );
    let _p = pointsman(&config(port, &servers), 2, port);
    // Several connections, so both shards take part.
    let mut total: HashMap<String, usize> = HashMap::new();
    for _ in 0..8 {
        for (k, v) in answers(port, 500) {
            *total.entry(k).or_insert(0) += v;
        }
    }
    let light_share = *total.get("light").unwrap_or(&0) as f64 / 4000.0;
    assert!(
        (light_share - 0.25).abs() <= 0.03,
        "{balance}: light got {light_share:.3} ({total:?})"
    );
}

#[test]
fn roundrobin_follows_weights() {
    check_split("roundrobin");
}

#[test]
fn static_rr_follows_weights() {
    check_split("static-rr");
}

#[test]
fn random_follows_weights() {
    check_split("random");
}

#[test]
fn leastconn_avoids_the_server_with_a_request_in_flight() {
    let (slow, fast) = (
        backend("slow", "slow", &["--delay-ms", "700"]),
        backend("fast", "fast", &[]),
    );
    let port = free_port();
    let servers = format!(
        "    balance leastconn\n    server slow 127.0.0.1:{}\n    server fast 127.0.0.1:{}\n",
        slow.port(),
        fast.port()
    );
    let _p = pointsman(&config(port, &servers), 1, port);
    // A probe lands on either server (ties are broken in turn). While it is in flight on the
    // slow one, every other request must go to the fast one; round-robin would alternate.
    let mut exercised = 0;
    for _ in 0..6 {
        let probe = std::thread::spawn(move || get(port, "/").unwrap().text());
        std::thread::sleep(Duration::from_millis(150));
        if probe.is_finished() {
            probe.join().unwrap();
            continue;
        }
        assert_eq!(answers(port, 8), HashMap::from([("fast".to_string(), 8)]));
        assert_eq!(probe.join().unwrap(), "slow");
        exercised += 1;
    }
    assert!(exercised >= 2, "the probe never landed on the slow server");
}

#[test]
fn first_fills_the_first_server() {
    let (one, two) = (backend("one", "one", &[]), backend("two", "two", &[]));
    let port = free_port();
    let servers = format!(
        "    balance first\n    server one 127.0.0.1:{}\n    server two 127.0.0.1:{}\n",
        one.port(),
        two.port()
    );
    let _p = pointsman(&config(port, &servers), 1, port);
    assert_eq!(answers(port, 20), HashMap::from([("one".to_string(), 20)]));
}

#[test]
fn source_keeps_each_client_address_on_one_server() {
    let (one, two) = (backend("one", "one", &[]), backend("two", "two", &[]));
    let port = free_port();
    let servers = format!(
        "    balance source\n    server one 127.0.0.1:{}\n    server two 127.0.0.1:{}\n",
        one.port(),
        two.port()
    );
    let _p = pointsman(&config(port, &servers), 2, port);
    let mut used = HashMap::new();
    for last in 2..40u8 {
        let source = std::net::SocketAddr::from(([127, 0, 0, last], 0));
        let mut servers_for_ip = std::collections::HashSet::new();
        for _ in 0..3 {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&source.into()).unwrap();
            socket
                .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
                .unwrap();
            let mut s: TcpStream = socket.into();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = String::new();
            s.read_to_string(&mut reply).unwrap();
            let server = reply
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("x-server:"))
                .unwrap()
                .to_string();
            servers_for_ip.insert(server.clone());
            *used.entry(server).or_insert(0) += 1;
        }
        assert_eq!(
            servers_for_ip.len(),
            1,
            "127.0.0.{last} moved between servers"
        );
    }
    assert_eq!(
        used.len(),
        2,
        "source hashing used one server only: {used:?}"
    );
}

#[test]
fn keep_alive_is_reused_on_both_sides() {
    let b = backend("b", "hello", &[]);
    let port = free_port();
    let p = pointsman(
        &config(port, &format!("    server b 127.0.0.1:{}\n", b.port())),
        1,
        port,
    );
    let mut client = Client::connect(port);
    for _ in 0..50 {
        assert_eq!(client.get("/").unwrap().text(), "hello");
    }
    // One client connection served 50 requests; the server side opened few connections and
    // reused them (show stat columns `connect` and `reuse`).
    let stat = p.admin("show stat");
    let row = stat
        .lines()
        .find(|l| l.starts_with("bk,b,"))
        .expect("server row");
    let header: Vec<&str> = stat
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let fields: Vec<&str> = row.split(',').collect();
    let col = |name: &str| {
        fields[header.iter().position(|h| *h == name).unwrap()]
            .parse::<u64>()
            .unwrap_or(0)
    };
    assert!(col("connect") <= 2, "connect = {}", col("connect"));
    assert!(col("reuse") >= 48, "reuse = {}", col("reuse"));
}

/// `http-reuse safe` as pointsman applies it: a GET goes over an idle pooled connection when
/// one exists, whether the client keeps its connection open or closes it after each request
/// (a stale pooled connection is replaced transparently, see `retries`). Counted by the
/// server itself, not by pointsman's own statistics.
#[test]
fn sequential_requests_never_open_a_second_server_connection() {
    let b = CountingBackend::start();
    let port = free_port();
    let _p = pointsman(
        &config(port, &format!("    server b 127.0.0.1:{}\n", b.port())),
        1,
        port,
    );
    let mut client = Client::connect(port);
    for _ in 0..20 {
        assert_eq!(client.get("/").unwrap().text(), "ok");
    }
    drop(client);
    for _ in 0..20 {
        let mut client = Client::connect(port);
        let r = client
            .request("GET", "/", &[("Connection", "close")], b"")
            .unwrap();
        assert_eq!(r.text(), "ok");
        // Well within `timeout client` (5 s): the close answers the header, not idleness.
        client.assert_closed(Duration::from_secs(2));
    }
    assert_eq!(
        b.accepted(),
        1,
        "40 sequential requests (20 keep-alive, 20 Connection: close) need one server connection"
    );
}

#[test]
fn chunked_and_large_bodies_stream_through() {
    let chunked = backend("c", "x", &["--size", "3000000", "--chunked"]);
    let port = free_port();
    let _p = pointsman(
        &config(
            port,
            &format!("    server c 127.0.0.1:{}\n", chunked.port()),
        ),
        1,
        port,
    );
    let mut client = Client::connect(port);
    let r = client.get("/").unwrap();
    assert_eq!(r.body.len(), 3_000_000);
    // A chunked upload of 5 MB reaches the backend whole.
    let mut raw =
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..80 {
        raw.extend_from_slice(format!("{:x}\r\n", 65536).as_bytes());
        raw.extend(std::iter::repeat_n(b'a', 65536));
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    client.send(&raw);
    let r = client.read_response(false).unwrap();
    assert_eq!(r.header("x-received-bytes"), Some("5242880"));
    // And the same connection still works.
    assert_eq!(client.get("/").unwrap().body.len(), 3_000_000);
}

/// 100 MB down and 100 MB up through one connection. The proxy streams: its peak resident
/// memory during both transfers (the kernel's high-water mark, reset before them) stays within
/// a few buffers of where it started, so a body buffered whole and freed afterwards fails.
#[test]
fn hundred_megabytes_each_way_with_flat_memory() {
    const SLACK_KIB: u64 = 32 * 1024;
    let big = backend("big", "x", &["--size", "104857600"]);
    let port = free_port();
    let p = pointsman(
        &config(port, &format!("    server big 127.0.0.1:{}\n", big.port())),
        1,
        port,
    );
    let body = vec![b'u'; 104_857_600];
    let peak = PeakRss::start(p.proc.child.id());
    let mut client = Client::connect(port);
    let r = client.get("/").unwrap();
    assert_eq!(r.body.len(), 104_857_600);
    let r = client.request("POST", "/upload", &[], &body).unwrap();
    assert_eq!(r.header("x-received-bytes"), Some("104857600"));
    let (start, highest) = (peak.start_kib, peak.kib());
    println!("100 MB each way: RSS {start} KiB at the start, peak {highest} KiB during");
    assert!(
        highest < start + SLACK_KIB,
        "RSS peaked at {highest} KiB during the transfers, from {start} KiB"
    );
}

#[test]
fn malformed_request_gets_400_and_the_next_client_is_served() {
    let b = backend("b", "fine", &[]);
    let port = free_port();
    let _p = pointsman(
        &config(port, &format!("    server b 127.0.0.1:{}\n", b.port())),
        1,
        port,
    );
    let mut bad = Client::connect(port);
    bad.send(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header : y\r\n\r\n");
    let r = bad.read_response(false).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains("400 Bad request"), "{}", r.text());
    bad.assert_closed(Duration::from_secs(2));
    assert_eq!(get(port, "/").unwrap().text(), "fine");
}

#[test]
fn no_usable_server_gets_503() {
    let b = backend("b", "x", &[]);
    let port = free_port();
    let _p = pointsman(
        &config(
            port,
            &format!("    server b 127.0.0.1:{} disabled\n", b.port()),
        ),
        1,
        port,
    );
    let r = get(port, "/").unwrap();
    assert_eq!(r.status, 503);
    assert!(r
        .text()
        .contains("No server is available to handle this request."));
}

#[test]
fn refused_connections_after_retries_get_503() {
    let dead = free_port();
    let port = free_port();
    let _p = pointsman(
        &config(
            port,
            &format!("    retries 2\n    server dead 127.0.0.1:{dead}\n"),
        ),
        1,
        port,
    );
    assert_eq!(get(port, "/").unwrap().status, 503);
}

#[test]
fn redispatch_moves_a_failed_request_to_another_server() {
    let alive = backend("alive", "alive", &[]);
    let dead = free_port();
    let port = free_port();
    let servers = format!(
        "    retries 2\n    option redispatch\n    server dead 127.0.0.1:{dead}\n    server alive 127.0.0.1:{}\n",
        alive.port()
    );
    let _p = pointsman(&config(port, &servers), 1, port);
    for _ in 0..10 {
        assert_eq!(get(port, "/").unwrap().text(), "alive");
    }
}

#[test]
fn slow_server_gets_504() {
    let slow = backend("slow", "late", &["--delay-ms", "3000"]);
    let port = free_port();
    let cfg = config(
        port,
        &format!(
            "    timeout server 500ms\n    server slow 127.0.0.1:{}\n",
            slow.port()
        ),
    );
    let _p = pointsman(&cfg, 1, port);
    assert_eq!(get(port, "/").unwrap().status, 504);
}

#[test]
fn invalid_response_gets_502() {
    let garbage = TcpListener::bind("127.0.0.1:0").unwrap();
    let garbage_port = garbage.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in garbage.incoming().take(4) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"NOT HTTP AT ALL\r\n\r\n");
        }
    });
    let port = free_port();
    let _p = pointsman(
        &config(port, &format!("    server g 127.0.0.1:{garbage_port}\n")),
        1,
        port,
    );
    assert_eq!(get(port, "/").unwrap().status, 502);
}

#[test]
fn tcp_mode_copies_both_ways_with_half_close() {
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in echo.incoming().take(2) {
            let mut s = stream.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).unwrap(); // until the client's half-close
            s.write_all(&all).unwrap();
        }
    });
    let port = free_port();
    let cfg = format!(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend t\n    bind 127.0.0.1:{port}\n    default_backend echo\n\
         backend echo\n    server e 127.0.0.1:{echo_port}\n"
    );
    let _p = pointsman(&cfg, 1, port);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    s.write_all(&payload).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert_eq!(back, payload);
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let slow = backend("slow", "finished", &["--delay-ms", "800"]);
    let port = free_port();
    let mut p = pointsman(
        &config(port, &format!("    server s 127.0.0.1:{}\n", slow.port())),
        2,
        port,
    );
    let request = std::thread::spawn(move || get(port, "/"));
    std::thread::sleep(Duration::from_millis(200));
    p.proc.signal(libc::SIGTERM);
    let r = request
        .join()
        .unwrap()
        .expect("the request in flight completes");
    assert_eq!(r.text(), "finished");
    assert_eq!(p.proc.wait_exit(Duration::from_secs(5)), Some(0));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after stop"
    );
}

/// `show stat` counts bytes in HTTP mode on the FRONTEND, BACKEND and server rows alike, as
/// HAProxy does (BACKEND rows showed 0 before).
#[test]
fn bytes_are_counted_on_frontend_backend_and_server_rows() {
    let [s1] = backends(["s1"]);
    let port = free_port();
    let p = pointsman(&proxy_config(port, &server_lines([&s1], "")), 1, port);
    let mut client = Client::connect(port);
    let mut received = 0;
    for _ in 0..3 {
        let r = client.request("POST", "/", &[], b"twelve bytes").unwrap();
        assert_eq!(r.status, 200);
        received += r.body.len() as u64;
    }
    let bin = p.stat_number("bk", "s1", "bin");
    let bout = p.stat_number("bk", "s1", "bout");
    assert!(bin >= 3 * 12, "request heads and bodies: {bin}");
    assert!(bout > received, "response heads and bodies: {bout}");
    for row in [("fe", "FRONTEND"), ("bk", "BACKEND")] {
        assert_eq!(p.stat_number(row.0, row.1, "bin"), bin, "{row:?}");
        assert_eq!(p.stat_number(row.0, row.1, "bout"), bout, "{row:?}");
    }
}
