//! `errorfile STATUS FILE` side by side with the real HAProxy 2.6: the same config and files,
//! the same requests, and the bytes each proxy sends back must be the same (status line as the
//! file writes it, field names lowercased, the file's `connection` field replaced by the
//! proxy's), and so must what happens to the connection. Bad `errorfile` lines are refused by
//! both at the same line.

mod common;

use common::haproxy::{assert_refused_by_both, haproxy};
use common::{backends, free_port, pointsman, temp_dir};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// Debian's /etc/haproxy/errors/503.http: HTTP/1.0, no length, the body runs to the close.
const DEBIAN_503: &str = "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
/// HTTP/1.1 with a length: a denied client may keep its connection.
const SIZED_403: &str =
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nX-Why: Policy\r\n\r\nnope\n";
/// HTTP/1.1 without a length: the proxy must close after it.
const UNSIZED_502: &str = "HTTP/1.1 502 Bad Gateway\r\nX-Page: Custom\r\n\r\nbad gateway\n";

fn write_files(dir: &Path) {
    for (name, text) in [
        ("503.http", DEBIAN_503),
        ("403.http", SIZED_403),
        ("502.http", UNSIZED_502),
        ("bad.http", "this is not a response\n"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn config(dir: &Path, (fe, fe_resp): (u16, u16), live: u16) -> String {
    let d = dir.display();
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         \x20   errorfile 503 {d}/503.http\n    errorfile 502 {d}/502.http\n\
         frontend fe\n    bind 127.0.0.1:{fe}\n    errorfile 403 {d}/403.http\n\
         \x20   http-request deny if {{ path /deny }}\n\
         \x20   http-request deny deny_status 429 if {{ path /deny429 }}\n\
         \x20   use_backend bk_none if {{ path /none }}\n\
         \x20   default_backend bk\n\
         frontend fe_resp\n    bind 127.0.0.1:{fe_resp}\n\
         \x20   http-response deny if {{ status 404 }}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{live}\n\
         backend bk_none\n    server n1 127.0.0.1:{live} disabled\n"
    )
}

/// Every byte the proxy sends for `raw` within a moment, and whether it then closed.
fn exchange(port: u16, raw: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let state = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break "<closed>",
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(_) => break "<open>",
        }
    };
    String::from_utf8_lossy(&bytes).into_owned() + state
}

#[test]
fn error_files_are_sent_as_haproxy_sends_them() {
    let [live] = backends(["live"]);
    let dir = temp_dir("errorfiles");
    write_files(&dir);
    let (ours, theirs) = ([free_port(), free_port()], [free_port(), free_port()]);
    let _p = pointsman(&config(&dir, (ours[0], ours[1]), live.port()), 2, ours[1]);
    let _h = haproxy(
        &config(&dir, (theirs[0], theirs[1]), live.port()),
        theirs[1],
    );
    let cases = [
        (0, "GET /none HTTP/1.1\r\nHost: a\r\n\r\n"),
        (0, "GET /deny HTTP/1.1\r\nHost: a\r\n\r\n"),
        (
            0,
            "GET /deny HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ),
        (0, "GET /deny429 HTTP/1.1\r\nHost: a\r\n\r\n"),
        (1, "GET /status/404 HTTP/1.1\r\nHost: a\r\n\r\n"),
    ];
    let mut wrong = Vec::new();
    for (frontend, raw) in cases {
        let (got, want) = (
            exchange(ours[frontend], raw),
            exchange(theirs[frontend], raw),
        );
        let line = format!("{raw:?}\n  pointsman {got:?}\n  haproxy   {want:?}");
        println!("{line}");
        if got != want {
            wrong.push(line);
        }
    }
    assert!(
        wrong.is_empty(),
        "differ from haproxy:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn bad_errorfile_lines_are_refused_by_both_at_their_line() {
    let dir = temp_dir("errorfiles-bad");
    write_files(&dir);
    let d = dir.display();
    let config = |line: &str| {
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
             frontend fe\n    bind 127.0.0.1:{}\n    {line}\n    default_backend bk\n\
             backend bk\n    server s 127.0.0.1:1\n",
            free_port()
        )
    };
    for (line, message) in [
        (
            format!("errorfile 418 {d}/503.http"),
            "errorfile : status code '418' not handled.".to_string(),
        ),
        (
            format!("errorfile 503 {d}/missing.http"),
            format!("errorfile : error opening file '{d}/missing.http'."),
        ),
        (
            format!("errorfile 503 {d}/bad.http"),
            format!("errorfile : '{d}/bad.http': unable to parse headers"),
        ),
        (
            "errorfile 503".to_string(),
            "errorfile : expects <status_code> and <file> as arguments.".to_string(),
        ),
    ] {
        assert_refused_by_both(&config(&line), "t.cfg:8", &message);
    }
}
