//! Heads as forwarded: hop-by-hop fields removed, exactly one framing field, X-Forwarded-For
//! appended, the Connection field the proxy decides, and the result parsing back the same.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pointsman::http::{
    client_keep_alive, parse_request, parse_response, write_request_head, write_response_head,
    Framing, Limits, Request, RequestForward, Response, ResponseForward,
};

use crate::crlf;

fn request(raw: &[u8]) -> Request {
    parse_request(raw, &Limits::default()).unwrap().unwrap()
}

fn response(raw: &[u8], request_was_head: bool) -> Response {
    parse_response(raw, request_was_head, &Limits::default())
        .unwrap()
        .unwrap()
}

fn forward_request(text: &str, options: RequestForward) -> String {
    let raw = crlf(text);
    let mut out = Vec::new();
    write_request_head(&request(&raw), &raw, &mut out, &options);
    String::from_utf8(out).unwrap()
}

fn forward_response(text: &str, request_was_head: bool, options: ResponseForward) -> String {
    let raw = crlf(text);
    let mut out = Vec::new();
    write_response_head(&response(&raw, request_was_head), &raw, &mut out, &options);
    String::from_utf8(out).unwrap()
}

const KEEP_11: ResponseForward = ResponseForward {
    client_keep_alive: true,
    client_minor_version: 1,
};

#[test]
fn plain_get_is_forwarded_unchanged() {
    let text = "GET /a?b HTTP/1.1\nHost: a\nAccept: */*\n\n";
    assert_eq!(
        forward_request(text, RequestForward::default()),
        String::from_utf8(crlf(text)).unwrap()
    );
}

#[test]
fn hop_by_hop_fields_are_removed() {
    let out = forward_request(
        "GET / HTTP/1.1\nHost: a\nConnection: keep-alive, X-Secret\nKeep-Alive: timeout=5\n\
         Proxy-Connection: keep-alive\nTE: trailers\nTrailer: X-T\nUpgrade: websocket\n\
         X-Secret: 1\nX-Kept: 2\n\n",
        RequestForward::default(),
    );
    assert_eq!(out, "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: 2\r\n\r\n");
}

#[test]
fn connection_cannot_remove_host_or_framing_fields() {
    let out = forward_request(
        "POST / HTTP/1.1\nHost: a\nContent-Length: 2\nConnection: content-length, host\n\n",
        RequestForward::default(),
    );
    assert_eq!(
        out,
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n"
    );
}

#[test]
fn exactly_one_framing_field() {
    let cases = [
        (
            "POST / HTTP/1.1\nHost: a\nContent-Length: 40, 40\n\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n",
        ),
        (
            "POST / HTTP/1.1\nHost: a\nContent-Length: 040\nX: 1\ncontent-length: 40\n\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nX: 1\r\n\r\n",
        ),
        (
            "POST / HTTP/1.1\nHost: a\nContent-Length: 3\nTransfer-Encoding: chunked\n\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
        (
            "POST / HTTP/1.1\nTransfer-Encoding: gzip\nHost: a\nTransfer-Encoding: chunked\nContent-Length: 3\n\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(forward_request(input, RequestForward::default()), expected);
    }
}

#[test]
fn x_forwarded_for_is_a_new_last_field() {
    let v4 = RequestForward {
        x_forwarded_for: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
        close_server: false,
    };
    assert_eq!(
        forward_request("GET / HTTP/1.1\nX-Forwarded-For: 1.2.3.4\nHost: a\n\n", v4),
        "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\nHost: a\r\nX-Forwarded-For: 10.0.0.7\r\n\r\n"
    );
    let v6 = RequestForward {
        x_forwarded_for: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        close_server: true,
    };
    assert_eq!(
        forward_request("GET / HTTP/1.1\nHost: a\n\n", v6),
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: ::1\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn connection_field_towards_the_server() {
    let close = RequestForward {
        close_server: true,
        ..RequestForward::default()
    };
    // HTTP/1.1 persists by default: nothing to add unless the server side must close.
    assert_eq!(
        forward_request(
            "GET / HTTP/1.1\nHost: a\nConnection: close\n\n",
            RequestForward::default()
        ),
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    );
    assert_eq!(
        forward_request("GET / HTTP/1.1\nHost: a\n\n", close),
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    );
    // HTTP/1.0 keeps its version (so the server will not answer chunked) and asks the server
    // to keep the connection for the pool.
    assert_eq!(
        forward_request("GET / HTTP/1.0\n\n", RequestForward::default()),
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    );
    assert_eq!(
        forward_request("GET / HTTP/1.0\nConnection: close\n\n", close),
        "GET / HTTP/1.0\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn forwarded_request_parses_back_to_the_same_request() {
    let raw = crlf(
        "POST /p HTTP/1.1\nHost: h\nContent-Length: 3, 3\nConnection: x-a\nX-A: 1\nX-B: 2\n\n",
    );
    let original = request(&raw);
    let mut out = Vec::new();
    write_request_head(&original, &raw, &mut out, &RequestForward::default());
    let again = request(&out);
    assert_eq!(again.head_len(), out.len());
    assert_eq!(again.framing(), Framing::ContentLength(3));
    assert_eq!(again.target(&out), b"/p");
    let fields: Vec<_> = again.headers(&out).collect();
    assert_eq!(
        fields,
        [
            (&b"Host"[..], &b"h"[..]),
            (b"Content-Length", b"3"),
            (b"X-B", b"2")
        ]
    );
}

#[test]
fn output_buffer_is_appended_to_and_reusable() {
    let raw = crlf("GET / HTTP/1.1\nHost: a\n\n");
    let req = request(&raw);
    let mut out = b"previous".to_vec();
    write_request_head(&req, &raw, &mut out, &RequestForward::default());
    assert!(out.starts_with(b"previousGET / HTTP/1.1\r\n"));
    out.clear();
    write_request_head(&req, &raw, &mut out, &RequestForward::default());
    assert_eq!(out, raw);
}

#[test]
fn response_hop_by_hop_removed_and_connection_decided_for_the_client() {
    let text = "HTTP/1.1 200 OK\nConnection: keep-alive, X-Hop\nKeep-Alive: timeout=5\nX-Hop: 1\n\
                Content-Length: 2\nUpgrade: h2c\n\n";
    assert_eq!(
        forward_response(text, false, KEEP_11),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    );
    let closing = ResponseForward {
        client_keep_alive: false,
        client_minor_version: 1,
    };
    assert_eq!(
        forward_response(text, false, closing),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
    );
    let keep_10 = ResponseForward {
        client_keep_alive: true,
        client_minor_version: 0,
    };
    assert_eq!(
        forward_response(text, false, keep_10),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"
    );
}

#[test]
fn response_framing_fields() {
    // HEAD and 304 keep the Content-Length that describes the representation.
    assert_eq!(
        forward_response("HTTP/1.1 200 OK\nContent-Length: 615\n\n", true, KEEP_11),
        "HTTP/1.1 200 OK\r\nContent-Length: 615\r\n\r\n"
    );
    assert_eq!(
        forward_response(
            "HTTP/1.1 304 Not Modified\nContent-Length: 615\n\n",
            false,
            KEEP_11
        ),
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 615\r\n\r\n"
    );
    assert_eq!(
        forward_response(
            "HTTP/1.1 200 OK\nContent-Length: 9\nTransfer-Encoding: chunked\n\n",
            false,
            KEEP_11
        ),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
}

#[test]
fn interim_heads_get_no_connection_field() {
    let closing = ResponseForward {
        client_keep_alive: false,
        client_minor_version: 1,
    };
    assert_eq!(
        forward_response("HTTP/1.1 100 Continue\n\n", false, closing),
        "HTTP/1.1 100 Continue\r\n\r\n"
    );
}

#[test]
fn empty_reason_keeps_the_separating_space() {
    assert_eq!(
        forward_response("HTTP/1.1 200\nContent-Length: 0\n\n", false, KEEP_11),
        "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn client_keep_alive_decision() {
    let keep = |req: &str, resp: &str| {
        let req_raw = crlf(req);
        let resp_raw = crlf(resp);
        client_keep_alive(&request(&req_raw), &response(&resp_raw, false))
    };
    let get11 = "GET / HTTP/1.1\nHost: a\n\n";
    assert!(keep(get11, "HTTP/1.1 200 OK\nContent-Length: 0\n\n"));
    assert!(keep(
        get11,
        "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
    ));
    // A server closing after a length-delimited body does not force the client to close.
    assert!(keep(
        get11,
        "HTTP/1.1 200 OK\nContent-Length: 0\nConnection: close\n\n"
    ));
    // A close-delimited body can only end for the client by closing its connection too.
    assert!(!keep(get11, "HTTP/1.1 200 OK\n\n"));
    assert!(!keep(
        "GET / HTTP/1.1\nHost: a\nConnection: close\n\n",
        "HTTP/1.1 204 No Content\n\n"
    ));
    assert!(!keep(
        "GET / HTTP/1.0\n\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n"
    ));
    assert!(keep(
        "GET / HTTP/1.0\nConnection: keep-alive\n\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n"
    ));
}

#[test]
fn odd_lines_are_rewritten_and_clean_runs_copied() {
    let raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Trail: v  \r\nX-Bare: b\nX-Empty:\r\n\
                X-Tab:\tv\r\nConnection: close\r\nX-Last: z\r\n\r\n";
    let mut out = Vec::new();
    write_request_head(&request(raw), raw, &mut out, &RequestForward::default());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET / HTTP/1.1\r\nHost: a\r\nX-Trail: v\r\nX-Bare: b\r\nX-Empty: \r\n\
         X-Tab:\tv\r\nX-Last: z\r\n\r\n"
    );
}

#[test]
fn forwarded_heads_use_crlf_only() {
    let raw = b"\nGET / HTTP/1.0\nHost: a\nX: 1\nConnection: keep-alive\nY: 2\n\n";
    let mut out = Vec::new();
    let options = RequestForward {
        x_forwarded_for: Some(IpAddr::V4(Ipv4Addr::new(255, 0, 10, 1))),
        close_server: false,
    };
    write_request_head(&request(raw), raw, &mut out, &options);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET / HTTP/1.0\r\nHost: a\r\nX: 1\r\nY: 2\r\nX-Forwarded-For: 255.0.10.1\r\n\
         Connection: keep-alive\r\n\r\n"
    );
}

#[test]
fn x_forwarded_for_formats_every_octet_width() {
    for (octets, text) in [
        ([0, 0, 0, 0], "0.0.0.0"),
        ([9, 10, 99, 100], "9.10.99.100"),
        ([255, 205, 150, 1], "255.205.150.1"),
    ] {
        let options = RequestForward {
            x_forwarded_for: Some(IpAddr::V4(Ipv4Addr::from(octets))),
            close_server: false,
        };
        let out = forward_request("GET / HTTP/1.1\nHost: a\n\n", options);
        assert!(
            out.contains(&format!("\r\nX-Forwarded-For: {text}\r\n")),
            "{out}"
        );
    }
}

#[test]
fn an_upgrade_request_keeps_upgrade_and_the_fields_connection_lists() {
    let out = forward_request(
        "GET /ws HTTP/1.1\nHost: a\nConnection: keep-alive, Upgrade, HTTP2-Settings\n\
         Upgrade: h2c\nHTTP2-Settings: AAM\nKeep-Alive: timeout=5\n\n",
        RequestForward::default(),
    );
    assert_eq!(
        out,
        "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAM\r\n\
         Connection: Upgrade, HTTP2-Settings\r\n\r\n"
    );
    // `Connection: upgrade` without an Upgrade field (or on HTTP/1.0) is no upgrade.
    let out = forward_request(
        "GET / HTTP/1.1\nHost: a\nConnection: upgrade\n\n",
        RequestForward::default(),
    );
    assert_eq!(out, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

#[test]
fn a_101_to_an_upgrade_request_is_forwarded_with_its_upgrade() {
    let limits = Limits::default();
    let request = crlf("GET /ws HTTP/1.1\nHost: a\nConnection: Upgrade\nUpgrade: websocket\n\n");
    let request = parse_request(&request, &limits).unwrap().unwrap();
    assert!(request.is_upgrade());
    let raw = crlf(
        "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n\
         Sec-WebSocket-Accept: x\n\n",
    );
    let mut response = Response::answering(&request);
    assert!(response.parse_into(&raw, false, &limits).unwrap());
    assert!(response.is_switching() && !response.is_interim());
    let mut out = Vec::new();
    write_response_head(&response, &raw, &mut out, &KEEP_11);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\
         Connection: Upgrade\r\n\r\n"
    );
    // Unasked, a 101 is still refused.
    let plain = parse_request(&crlf("GET / HTTP/1.1\nHost: a\n\n"), &limits)
        .unwrap()
        .unwrap();
    assert!(Response::answering(&plain)
        .parse_into(&raw, false, &limits)
        .is_err());
}
