//! `pointsman-backend` over real sockets: keep-alive, chunked bodies both ways, large
//! streamed bodies, `/echo`, `/status`, `/count`, HTTP/1.0, and a clean exit on SIGTERM.

mod loadtest_support;

use std::time::Duration;

use loadtest_support::{dechunk, exchange, split, Backend};

#[test]
fn keep_alive_serves_pipelined_requests_on_one_connection() {
    let backend = Backend::start(&["--body", "nginx 1.19.8", "--name", "nginx1"]);
    let request = "GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(2)
        + "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let reply = String::from_utf8(exchange(backend.addr, request.as_bytes())).unwrap();
    assert_eq!(reply.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{reply}");
    assert_eq!(reply.matches("X-Server: nginx1\r\n").count(), 3);
    assert_eq!(reply.matches("\r\n\r\nnginx 1.19.8").count(), 3);
    assert_eq!(reply.matches("Connection: close").count(), 1);
    assert_eq!(backend.count(), 3);
}

#[test]
fn http_1_0_gets_one_response_then_close() {
    let backend = Backend::start(&["--body", "x"]);
    // The second request must never be answered: HTTP/1.0 closes after the first.
    let reply = exchange(
        backend.addr,
        b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n",
    );
    let reply = String::from_utf8(reply).unwrap();
    assert_eq!(reply.matches("HTTP/1.1 200").count(), 1, "{reply}");
    assert!(reply.contains("Connection: close"));
}

#[test]
fn request_bodies_are_read_and_counted_both_framings() {
    let backend = Backend::start(&[]);
    let reply = exchange(
        backend.addr,
        b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n\
          POST /y HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    let reply = String::from_utf8(reply).unwrap();
    assert!(reply.contains("X-Received-Bytes: 11\r\n"), "{reply}");
    assert!(reply.contains("X-Received-Bytes: 3\r\n"), "{reply}");
}

#[test]
fn large_body_is_streamed_with_exact_length() {
    let size = 5_000_000;
    let backend = Backend::start(&["--size", &size.to_string()]);
    let reply = exchange(
        backend.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = split(&reply);
    assert!(head.contains(&format!("Content-Length: {size}")), "{head}");
    assert_eq!(body.len(), size);
    assert!(body.iter().all(u8::is_ascii_lowercase));
}

#[test]
fn chunked_response_decodes_to_the_body() {
    let backend = Backend::start(&["--size", "100000", "--chunked"]);
    let reply = exchange(
        backend.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = split(&reply);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    let decoded = dechunk(&body);
    assert_eq!(decoded.len(), 100_000);
    assert!(decoded.iter().all(u8::is_ascii_lowercase));
}

#[test]
fn echo_returns_the_request_head_as_received() {
    let backend = Backend::start(&[]);
    let request = "GET /echo?q=1 HTTP/1.1\r\nHost: example\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: close\r\n\r\n";
    let (_, body) = split(&exchange(backend.addr, request.as_bytes()));
    assert_eq!(String::from_utf8(body).unwrap(), request);
}

#[test]
fn status_path_answers_that_status_and_health_is_ok() {
    let backend = Backend::start(&["--name", "n"]);
    let reply = exchange(
        backend.addr,
        b"GET /status/503 HTTP/1.1\r\nHost: t\r\n\r\nHEAD /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let reply = String::from_utf8(reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{reply}"
    );
    assert!(reply.contains("HTTP/1.1 200 OK\r\n"));
    // HEAD: headers announce the length, no body follows.
    assert!(
        reply.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\n"),
        "{reply}"
    );
}

#[test]
fn sigterm_exits_with_status_zero() {
    let mut backend = Backend::start(&[]);
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(backend.pid() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(backend.wait_exit(Duration::from_secs(10)), Some(true));
}
