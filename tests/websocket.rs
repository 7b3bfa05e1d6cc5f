//! Upgraded exchanges end to end: real WebSocket clients and servers (tungstenite, sync)
//! through the real `pointsman` binary, side by side with the real haproxy 2.6 on the same
//! config; a raw `Upgrade: h2c` relayed with its half-closes; `timeout tunnel`; tunnels under
//! load while servers are switched, and `shutdown sessions server` ending them.

mod common;

use common::haproxy::haproxy;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// A WebSocket echo server: answers each message with `NAME:message`, and records the
/// upgrade requests' `Upgrade` and `Connection` fields as received.
struct EchoServer {
    port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    upgrades: Arc<Mutex<Vec<(String, String)>>>,
}

impl EchoServer {
    fn start(name: &'static str) -> EchoServer {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let upgrades = Arc::new(Mutex::new(Vec::new()));
        let (stopping, seen) = (stop.clone(), upgrades.clone());
        let accept = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = seen.clone();
                        std::thread::spawn(move || echo(name, stream, &seen));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        EchoServer {
            port,
            stop,
            accept: Some(accept),
            upgrades,
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// One server connection: the handshake, then echo until the client closes (bounded by a
/// read timeout, so no thread outlives its test for long).
fn echo(name: &str, stream: TcpStream, seen: &Mutex<Vec<(String, String)>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let field = |req: &tungstenite::handshake::server::Request, name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("?").to_string())
            .unwrap_or_default()
    };
    let accepted = tungstenite::accept_hdr(
        stream,
        |req: &tungstenite::handshake::server::Request, response| {
            seen.lock()
                .unwrap()
                .push((field(req, "upgrade"), field(req, "connection")));
            Ok(response)
        },
    );
    let Ok(mut ws) = accepted else { return };
    while let Ok(message) = ws.read() {
        let reply = match message {
            Message::Text(text) => Message::Text(format!("{name}:{text}")),
            Message::Binary(bytes) => Message::Binary([name.as_bytes(), b":", &bytes].concat()),
            Message::Close(_) => break,
            _ => continue,
        };
        if ws.send(reply).is_err() {
            break;
        }
    }
}

/// A WebSocket client connected through `port`.
fn connect(port: u16) -> tungstenite::Result<WebSocket<TcpStream>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let url = format!("ws://127.0.0.1:{port}/chat");
    match tungstenite::client(url.as_str(), stream) {
        Ok((ws, response)) => {
            assert_eq!(response.status(), 101);
            Ok(ws)
        }
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(tungstenite::HandshakeError::Interrupted(_)) => panic!("blocking handshake"),
    }
}

/// Sends `text` and returns the echo (`server:text`).
fn round_trip(ws: &mut WebSocket<TcpStream>, text: &str) -> tungstenite::Result<String> {
    ws.send(Message::Text(text.to_string()))?;
    loop {
        match ws.read()? {
            Message::Text(reply) => return Ok(reply),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// `frontend fe` on `port` to `backend bk` with `backend_lines`, `defaults_extra` in defaults.
fn config(port: u16, defaults_extra: &str, backend_lines: &str) -> String {
    format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n{defaults_extra}\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n{backend_lines}"
    )
}

/// The same config for haproxy: no admin socket.
fn haproxy_config(port: u16, defaults_extra: &str, backend_lines: &str) -> String {
    config(port, defaults_extra, backend_lines).replace(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n",
        "global\n",
    )
}

#[test]
fn websocket_messages_echo_through_pointsman_as_through_haproxy() {
    let server = EchoServer::start("s1");
    let lines = format!("    server s1 127.0.0.1:{}\n", server.port);
    let (port, haproxy_port) = (free_port(), free_port());
    let pm = pointsman(&config(port, "", &lines), 2, port);
    let _hap = haproxy(&haproxy_config(haproxy_port, "", &lines), haproxy_port);
    for (proxy, port) in [("pointsman", port), ("haproxy", haproxy_port)] {
        let mut ws = connect(port).unwrap_or_else(|e| panic!("{proxy}: upgrade failed: {e}"));
        for i in 0..5 {
            let reply = round_trip(&mut ws, &format!("hello {i}")).unwrap();
            assert_eq!(reply, format!("s1:hello {i}"), "{proxy}");
        }
        // A message larger than the proxy's buffers, in many reads and writes.
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        ws.send(Message::Binary(big.clone())).unwrap();
        let Message::Binary(back) = ws.read().unwrap() else {
            panic!("{proxy}: no binary echo")
        };
        assert_eq!(back, [b"s1:".as_slice(), &big].concat(), "{proxy}");
        if proxy == "pointsman" {
            // An established tunnel is a session on its server, as HAProxy counts it.
            assert_eq!(pm.stat_number("bk", "s1", "scur"), 1);
        }
        ws.close(None).unwrap();
        let _ = ws.read();
    }
    // The server saw the upgrade asked for the same way through both proxies.
    let upgrades = server.upgrades.lock().unwrap().clone();
    assert_eq!(upgrades.len(), 2, "{upgrades:?}");
    for (upgrade, connection) in &upgrades {
        assert!(upgrade.eq_ignore_ascii_case("websocket"), "{upgrades:?}");
        assert!(connection.eq_ignore_ascii_case("upgrade"), "{upgrades:?}");
    }
    wait_for(Duration::from_secs(5), || {
        pm.stat_number("bk", "s1", "scur") == 0
    });
    assert_eq!(
        pm.stat_number("bk", "s1", "scur"),
        0,
        "the ended tunnel left its server"
    );
    assert_eq!(pm.stat_number("bk", "s1", "hrsp_1xx"), 1);
}

/// A raw server for one `Upgrade: h2c` exchange: records the request head, answers 101 with
/// `SERVER-FIRST` right behind it, reads the tunnel until the client's half-close, then
/// answers `GOT:<what it read>` and closes its side.
fn h2c_server() -> (u16, JoinHandle<String>) {
    let port = free_port();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let head = read_head(&mut stream);
        stream
            .write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nSERVER-FIRST",
            )
            .unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        stream.write_all(b"GOT:").unwrap();
        stream.write_all(&got).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        head
    });
    (port, handle)
}

/// Reads up to the end of a head, byte by byte (nothing past it is taken).
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed inside a head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// What a client of `port` sees of an h2c upgrade: the 101 head, then (after it sent `ping`
/// and closed its side) everything until the proxy closes.
fn h2c_exchange(port: u16) -> (String, Vec<u8>) {
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client
        .write_all(
            b"GET /h2 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n\
              Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        )
        .unwrap();
    let head = read_head(&mut client);
    let mut first = [0u8; 12];
    client.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"SERVER-FIRST");
    client.write_all(b"ping").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    // EOF, not a timeout: the server's half-close reached us.
    client
        .read_to_end(&mut rest)
        .expect("the tunnel ends with EOF");
    (head, rest)
}

/// The field lines of `head` lowercased and sorted, start line left out (haproxy lowercases
/// names and keeps Connection where it was; pointsman writes it last).
fn fields(head: &str) -> Vec<String> {
    let mut fields: Vec<String> = head
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    fields.sort();
    fields
}

#[test]
fn h2c_upgrade_is_relayed_with_half_closes_as_haproxy_relays_it() {
    let mut seen = Vec::new();
    for proxy in ["pointsman", "haproxy"] {
        let (server_port, server) = h2c_server();
        let lines = format!("    server s1 127.0.0.1:{server_port}\n");
        let port = free_port();
        let (_pm, _hap);
        if proxy == "pointsman" {
            _pm = pointsman(&config(port, "", &lines), 1, port);
        } else {
            _hap = haproxy(&haproxy_config(port, "", &lines), port);
        }
        let (head, rest) = h2c_exchange(port);
        assert!(head.starts_with("HTTP/1.1 101 "), "{proxy}: {head}");
        assert_eq!(rest, b"GOT:ping", "{proxy}");
        let request = server.join().unwrap();
        seen.push((fields(&head), fields(&request)));
    }
    let (pointsman, haproxy) = (&seen[0], &seen[1]);
    assert_eq!(pointsman.0, haproxy.0, "the 101 the client got");
    assert_eq!(pointsman.1, haproxy.1, "the upgrade request the server got");
    assert!(pointsman
        .1
        .contains(&"http2-settings: aamaaabkaaraaaaaaaiaaaaa".to_string()));
    assert!(pointsman
        .1
        .contains(&"connection: upgrade, http2-settings".to_string()));
}

#[test]
fn an_upgrade_answered_without_101_stays_http_and_101_to_plain_requests_is_refused() {
    let web = backend("web", "plain", &[]);
    let port = free_port();
    let _pm = pointsman(
        &config(port, "", &server_line("web", web.port(), "")),
        1,
        port,
    );
    let mut client = Client::connect(port);
    for _ in 0..2 {
        client.send(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
        let r = client.read_response(false).expect("an HTTP answer");
        assert_eq!(r.status, 200);
    }
    // The same connection still carries plain requests.
    assert_eq!(client.get("/").expect("keep-alive").status, 200);

    // A server that switches protocols unasked is broken: 502, as before.
    let rogue_port = free_port();
    let rogue = TcpListener::bind(("127.0.0.1", rogue_port)).unwrap();
    let rogue_thread = std::thread::spawn(move || {
        let (mut s, _) = rogue.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        read_head(&mut s);
        let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n");
        std::thread::sleep(Duration::from_millis(200));
    });
    let port2 = free_port();
    let _pm2 = pointsman(
        &config(port2, "", &format!("    server r 127.0.0.1:{rogue_port}\n")),
        1,
        port2,
    );
    assert_eq!(get(port2, "/").expect("an answer").status, 502);
    rogue_thread.join().unwrap();
}

#[test]
fn timeout_tunnel_replaces_client_and_server_timeouts_and_ends_an_idle_tunnel() {
    let server = EchoServer::start("s1");
    let lines = format!("    server s1 127.0.0.1:{}\n", server.port);
    let port = free_port();
    let _pm = pointsman(
        &config(
            port,
            "    timeout client 300ms\n    timeout server 300ms\n    timeout tunnel 1500ms\n",
            &lines,
        ),
        1,
        port,
    );
    let mut ws = connect(port).unwrap();
    // Gaps longer than `timeout client` / `timeout server`: the tunnel timeout rules.
    for i in 0..4 {
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(
            round_trip(&mut ws, &format!("m{i}")).unwrap(),
            format!("s1:m{i}")
        );
    }
    let idle_from = Instant::now();
    let ended = ws.read();
    let idle = idle_from.elapsed();
    assert!(
        !matches!(&ended, Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut),
        "the tunnel was not closed: {ended:?}"
    );
    assert!(
        idle >= Duration::from_millis(1300) && idle < Duration::from_millis(3000),
        "closed after {idle:?}, expected ~1.5s"
    );

    // Without `timeout tunnel`, client and server timeouts end it.
    let port2 = free_port();
    let _pm2 = pointsman(
        &config(
            port2,
            "    timeout client 300ms\n    timeout server 300ms\n",
            &lines,
        ),
        1,
        port2,
    );
    let mut ws = connect(port2).unwrap();
    let idle_from = Instant::now();
    let ended = ws.read();
    assert!(
        !matches!(&ended, Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut),
        "{ended:?}"
    );
    assert!(idle_from.elapsed() < Duration::from_millis(1300));
}

/// Tunnels opened and used from several threads while the main thread switches servers: no
/// upgrade may fail, no message may be lost. `shutdown sessions server` then ends the tunnels
/// of exactly one server.
#[test]
fn tunnels_survive_server_switches_and_shutdown_sessions_ends_them() {
    let (s1, s2) = (EchoServer::start("s1"), EchoServer::start("s2"));
    let lines = format!(
        "    balance roundrobin\n    server s1 127.0.0.1:{}\n    server s2 127.0.0.1:{}\n",
        s1.port, s2.port
    );
    let port = free_port();
    let pm = pointsman(&config(port, "    timeout tunnel 30s\n", &lines), 2, port);
    let failures = Arc::new(AtomicUsize::new(0));
    let messages = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Long-lived tunnels, kept for the shutdown at the end.
    let mut kept: Vec<(String, WebSocket<TcpStream>)> = (0..20)
        .map(|i| {
            let mut ws = connect(port).expect("upgrade");
            let reply = round_trip(&mut ws, &format!("k{i}")).unwrap();
            (reply.split(':').next().unwrap().to_string(), ws)
        })
        .collect();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (failures, messages, stop) = (failures.clone(), messages.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) && round < 10_000 {
                    round += 1;
                    let Ok(mut ws) = connect(port) else {
                        failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    for m in 0..20 {
                        let text = format!("t{t}r{round}m{m}");
                        match round_trip(&mut ws, &text) {
                            Ok(reply) if reply.ends_with(&format!(":{text}")) => {
                                messages.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                failures.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                    let _ = ws.close(None);
                }
            })
        })
        .collect();
    let switches = [
        "disable server bk/s2",
        "enable server bk/s2",
        "set server bk/s1 state drain",
        "set server bk/s1 state ready",
        "set weight bk/s2 0",
        "set weight bk/s2 1",
        "disable server bk/s1",
        "enable server bk/s1",
    ];
    for round in 0..3 {
        for switch in switches {
            let reply = pm.admin(switch);
            assert!(reply.trim().is_empty(), "{switch}: {reply}");
            std::thread::sleep(Duration::from_millis(150));
            // The kept tunnels carry on whatever happened to their server.
            let (server, ws) = &mut kept[round % 20];
            let reply = round_trip(ws, switch).expect("a kept tunnel was cut by a switch");
            assert_eq!(reply, format!("{server}:{switch}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "failed upgrades or messages"
    );
    assert!(
        messages.load(Ordering::Relaxed) > 200,
        "too little load: {messages:?}"
    );
    for (server, ws) in &mut kept {
        let reply = round_trip(ws, "still").expect("kept tunnel");
        assert_eq!(reply, format!("{server}:still"));
    }
    let on_s1 = kept.iter().filter(|(s, _)| s == "s1").count() as u64;
    assert!(
        on_s1 > 0 && on_s1 < 20,
        "round robin spread the tunnels: {on_s1} on s1"
    );
    wait_for(Duration::from_secs(5), || {
        pm.stat_number("bk", "s1", "scur") == on_s1
    });
    assert_eq!(pm.stat_number("bk", "s1", "scur"), on_s1);
    assert_eq!(pm.stat_number("bk", "s2", "scur"), 20 - on_s1);

    let reply = pm.admin("shutdown sessions server bk/s1");
    assert!(reply.trim().is_empty(), "{reply}");
    for (server, ws) in &mut kept {
        if server == "s1" {
            // Closed by the proxy: EOF or reset, well before the read timeout.
            let started = Instant::now();
            let ended = ws.read();
            let timed_out = matches!(&ended, Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
            assert!(
                ended.is_err() && !timed_out,
                "an s1 tunnel outlived shutdown sessions: {ended:?}"
            );
            assert!(started.elapsed() < Duration::from_secs(2), "{ended:?}");
        } else {
            let reply = round_trip(ws, "after").expect("s2 tunnel cut by s1's shutdown");
            assert_eq!(reply, "s2:after");
        }
    }
}
