//! `bind … accept-proxy` end to end: raw PROXY protocol v1/v2 headers (and broken ones) sent
//! with std sockets to the real `pointsman` and to the real haproxy 2.6 on the same config; the
//! same requests reach the server with the same `X-Forwarded-For`, the same connections are
//! refused with nothing forwarded, and pointsman logs each in HAProxy's words.

mod common;

use common::haproxy::haproxy;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A server that records what each connection sent (up to the end of a head, or EOF in
/// `tcp` use) and answers a short 200.
struct Recorder {
    port: u16,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let (seen, stop) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(AtomicBool::new(false)),
        );
        let (record, stopping) = (seen.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                let mut got = Vec::new();
                let mut chunk = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(n) if n > 0 => got.extend_from_slice(&chunk[..n]),
                        _ => break,
                    }
                }
                record.lock().unwrap().push(got);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Recorder {
            port,
            seen,
            stop,
            accept: Some(accept),
        }
    }

    fn take(&self) -> Vec<String> {
        self.take_raw()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    fn take_raw(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn config(port: u16, server_port: u16, logged: bool) -> String {
    let log = if logged {
        "global\n    log stdout format raw local0\n"
    } else {
        "global\n"
    };
    format!(
        "{log}defaults\n    mode http\n    log global\n    option httplog\n    option forwardfor\n\
         timeout connect 1s\n    timeout client 1s\n    timeout server 5s\n\
         frontend f\n    bind 127.0.0.1:{port} accept-proxy\n    default_backend b\n\
         backend b\n    server s 127.0.0.1:{server_port}\n"
    )
}

const SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut out = SIG.to_vec();
    out.extend_from_slice(&[command, family]);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// (what is sent, the X-Forwarded-For the server sees or None if refused, HAProxy's log text
/// for a refused one, or the client address of the access log line).
fn cases() -> Vec<(&'static str, Vec<u8>, Option<&'static str>, &'static str)> {
    let tcp4 = [
        &[198, 51, 100, 9, 10, 0, 0, 1][..],
        &4000u16.to_be_bytes(),
        &80u16.to_be_bytes(),
    ]
    .concat();
    vec![
        (
            "v1 tcp4",
            [
                b"PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n".as_slice(),
                GET,
            ]
            .concat(),
            Some("192.0.2.7"),
            "192.0.2.7:56324 [",
        ),
        (
            "v1 tcp6",
            [b"PROXY TCP6 2001:db8::5 ::1 7 443\r\n".as_slice(), GET].concat(),
            Some("2001:db8::5"),
            "2001:db8::5:7 [",
        ),
        (
            "v2 tcp4",
            [v2(0x21, 0x11, &tcp4).as_slice(), GET].concat(),
            Some("198.51.100.9"),
            "198.51.100.9:4000 [",
        ),
        (
            "v2 local",
            [v2(0x20, 0x00, &[]).as_slice(), GET].concat(),
            Some("127.0.0.1"),
            "127.0.0.1:",
        ),
        (
            "no header",
            GET.to_vec(),
            None,
            "f/1: Received something which does not look like a PROXY protocol header",
        ),
        (
            "v1 missing port",
            [b"PROXY TCP4 192.0.2.7 10.0.0.1 56324\r\n".as_slice(), GET].concat(),
            None,
            "f/1: Received an invalid PROXY protocol header",
        ),
        (
            "v1 truncated",
            b"PROXY TCP4 192.0.2.7".to_vec(),
            None,
            "f/1: Truncated PROXY protocol header received",
        ),
        (
            "v2 bad length",
            [v2(0x21, 0x11, b"abcd").as_slice(), GET].concat(),
            None,
            "f/1: Received an invalid PROXY protocol header",
        ),
        (
            "v2 bad version",
            [v2(0x31, 0x11, &tcp4).as_slice(), GET].concat(),
            None,
            "f/1: Received an invalid PROXY protocol header",
        ),
        (
            "v1 udp",
            [b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n".as_slice(), GET].concat(),
            None,
            "f/1: Received an unhandled protocol in the PROXY protocol header",
        ),
        (
            "nothing",
            Vec::new(),
            None,
            "f/1: Connection closed while waiting for PROXY protocol header",
        ),
    ]
}

/// Sends `bytes`, closes the sending side, and reads until the proxy closes (EOF or reset).
fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    s.write_all(bytes).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("the proxy did not close: {e}"),
        }
    }
}

/// The X-Forwarded-For values of the recorded heads.
fn forwarded_for(heads: &[String]) -> Vec<String> {
    heads
        .iter()
        .filter_map(|h| {
            h.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("x-forwarded-for:"))
                .map(|l| l[16..].trim().to_string())
        })
        .collect()
}

/// What each case does through the proxy on `port`: (response status line, XFFs received).
fn run_cases(port: u16, recorder: &Recorder) -> Vec<(String, Vec<String>)> {
    recorder.take();
    cases()
        .into_iter()
        .map(|(name, bytes, _, _)| {
            let response = exchange(port, &bytes);
            let status = String::from_utf8_lossy(&response)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let heads = recorder.take();
            assert!(heads.len() <= 1, "{name}: {heads:?}");
            (status, forwarded_for(&heads))
        })
        .collect()
}

/// pointsman's stdout (its `log stdout` lines) from a reader thread.
fn stdout_lines(p: &mut Pointsman) -> mpsc::Receiver<String> {
    let stdout = p.proc.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn accept_proxy_takes_the_client_address_and_refuses_bad_headers_as_haproxy_does() {
    let recorder = Recorder::start();
    let (port, haproxy_port) = (free_port(), free_port());
    let mut pm = pointsman_with_stdout(&config(port, recorder.port, true), 2, port, Stdio::piped());
    let log = stdout_lines(&mut pm);
    let _hap = haproxy(&config(haproxy_port, recorder.port, false), haproxy_port);
    let through_pointsman = run_cases(port, &recorder);
    let through_haproxy = run_cases(haproxy_port, &recorder);
    for (((name, _, expected, _), pm), hap) in
        cases().iter().zip(&through_pointsman).zip(&through_haproxy)
    {
        assert_eq!(pm.1, hap.1, "{name}: X-Forwarded-For, pointsman vs haproxy");
        assert_eq!(
            pm.0.is_empty(),
            hap.0.is_empty(),
            "{name}: answered or refused"
        );
        match expected {
            Some(xff) => {
                assert_eq!(pm.0, "HTTP/1.1 200 OK", "{name}");
                assert_eq!(pm.1, [xff.to_string()], "{name}");
            }
            None => assert!(pm.0.is_empty() && pm.1.is_empty(), "{name}: {pm:?}"),
        }
    }
    // Each case's log line, in HAProxy's words (texts taken from haproxy 2.6.12 on these
    // inputs; its connection error lines carry the real peer address).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut lines = Vec::new();
    while lines.len() < cases().len() && Instant::now() < deadline {
        if let Ok(line) = log.recv_timeout(Duration::from_millis(100)) {
            lines.push(line);
        }
    }
    for (name, _, _, logged) in cases() {
        assert!(
            lines.iter().any(|l| if logged.starts_with("f/1") {
                l.starts_with("127.0.0.1:") && l.ends_with(logged)
            } else {
                l.starts_with(logged) && l.contains(" f b/s ")
            }),
            "{name}: no line with {logged:?} in {lines:#?}"
        );
    }
}

#[test]
fn a_silent_client_is_dropped_after_timeout_client_and_tcp_mode_reads_the_header_too() {
    let recorder = Recorder::start();
    let port = free_port();
    let tcp_port = free_port();
    let text = config(port, recorder.port, true)
        + &format!(
            "frontend t\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:{tcp_port} accept-proxy\n    default_backend bt\n\
             backend bt\n    mode tcp\n    server s 127.0.0.1:{}\n",
            recorder.port
        );
    let mut pm = pointsman_with_stdout(&text, 1, port, Stdio::piped());
    let log = stdout_lines(&mut pm);
    // Silent: closed by the proxy after `timeout client` (1s), not served.
    let mut silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(4)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = silent.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // (The harness's wait for the port left a `Connection closed…` line before it.)
    let line = next_line_with(&log, "f/1: Timeout while waiting for PROXY protocol header");
    assert!(line.starts_with("127.0.0.1:"), "{line}");

    // TCP mode: the header is taken off, the bytes after it reach the server unchanged, the
    // log names the address the header carried.
    let header = b"PROXY TCP4 203.0.113.4 10.0.0.1 5555 443\r\n";
    let reply = exchange(
        tcp_port,
        &[header.as_slice(), b"RAW BYTES\r\n\r\n"].concat(),
    );
    assert!(
        reply.starts_with(b"HTTP/1.1 200 OK"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(recorder.take(), ["RAW BYTES\r\n\r\n".to_string()]);
    let line = next_line_with(&log, " t bt/s ");
    assert!(line.starts_with("203.0.113.4:5555 ["), "{line}");
}

/// The next log line containing `text` (others are skipped), within 3 s.
fn next_line_with(log: &mpsc::Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(line) = log.recv_timeout(Duration::from_millis(100)) {
            if line.contains(text) {
                return line;
            }
        }
    }
    panic!("no log line with {text:?}");
}

/// `server … send-proxy` / `send-proxy-v2`, in HTTP and TCP mode: every server connection
/// starts with the header naming the real client, the request right behind it; haproxy 2.6
/// sends the same header on the same set-up.
#[test]
fn send_proxy_writes_the_client_address_first_on_every_server_connection_as_haproxy_does() {
    let recorder = Recorder::start();
    let r = recorder.port;
    let config = |[v1, v2, tcp]: [u16; 3], admin: bool| {
        let global = if admin {
            "global\n    stats socket @SOCKET@ mode 600 level admin\n"
        } else {
            "global\n"
        };
        format!(
            "{global}defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend f1\n    bind 127.0.0.1:{v1}\n    default_backend b1\n\
             frontend f2\n    bind 127.0.0.1:{v2}\n    default_backend b2\n\
             frontend ft\n    mode tcp\n    bind 127.0.0.1:{tcp}\n    default_backend bt\n\
             backend b1\n    server s 127.0.0.1:{r} send-proxy\n\
             backend b2\n    default-server send-proxy-v2\n    server s 127.0.0.1:{r}\n\
             backend bt\n    mode tcp\n    server s 127.0.0.1:{r} send-proxy-v2\n"
        )
    };
    let ports = [free_port(), free_port(), free_port()];
    let haproxy_ports = [free_port(), free_port(), free_port()];
    let _pm = pointsman(&config(ports, true), 2, ports[0]);
    let _hap = haproxy(&config(haproxy_ports, false), haproxy_ports[0]);
    recorder.take_raw();
    let mut seen = Vec::new();
    for (proxy, ports) in [("pointsman", ports), ("haproxy", haproxy_ports)] {
        for (i, port) in ports.into_iter().enumerate() {
            let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(4)))
                .unwrap();
            let client_port = client.local_addr().unwrap().port();
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = Vec::new();
            let _ = client.read_to_end(&mut reply);
            assert!(reply.starts_with(b"HTTP/1.1 200 OK"), "{proxy} {i}");
            let got = recorder.take_raw();
            assert_eq!(got.len(), 1, "{proxy} {i}");
            let got = &got[0];
            let expected_header = if i == 0 {
                format!("PROXY TCP4 127.0.0.1 127.0.0.1 {client_port} {port}\r\n").into_bytes()
            } else {
                let mut v2 = SIG.to_vec();
                v2.extend_from_slice(&[0x21, 0x11, 0, 12, 127, 0, 0, 1, 127, 0, 0, 1]);
                v2.extend_from_slice(&client_port.to_be_bytes());
                v2.extend_from_slice(&port.to_be_bytes());
                v2
            };
            assert!(
                got.starts_with(&expected_header),
                "{proxy} {i}: {:?}",
                String::from_utf8_lossy(got)
            );
            // The request follows the header directly.
            let rest = String::from_utf8_lossy(&got[expected_header.len()..]).to_ascii_lowercase();
            assert!(
                rest.starts_with("get / http/1.1\r\nhost: a\r\n"),
                "{proxy} {i}: {rest:?}"
            );
            seen.push(expected_header.len());
        }
    }
    assert_eq!(seen[..3], seen[3..], "the same headers through both");
}
