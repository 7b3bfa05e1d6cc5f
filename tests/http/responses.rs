//! Response corpus: framing (RFC 9112 §6.3: HEAD, 1xx, 204, 304, Content-Length, chunked,
//! close-delimited), server persistence, and the heads that make the proxy answer 502.

use pointsman::http::{parse_response, Framing, Limits, Response, ResponseError};

use crate::crlf;

fn parse(raw: &[u8], request_was_head: bool) -> Result<Response, ResponseError> {
    parse_response(raw, request_was_head, &Limits::default())
        .map(|r| r.expect("head should be complete"))
}

fn framing(text: &str, request_was_head: bool) -> Framing {
    parse(&crlf(text), request_was_head).unwrap().framing()
}

const TYPICAL: &str = "HTTP/1.1 200 OK
Server: nginx/1.18.0
Date: Tue, 01 Jul 2025 10:00:00 GMT
Content-Type: text/html; charset=utf-8
Content-Length: 615
Last-Modified: Tue, 21 Apr 2020 14:09:01 GMT
Connection: keep-alive
ETag: \"5e9efe7d-267\"
Accept-Ranges: bytes

";

#[test]
fn typical_response() {
    let raw = crlf(TYPICAL);
    let resp = parse(&raw, false).unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.reason(&raw), b"OK");
    assert_eq!(resp.minor_version(), 1);
    assert_eq!(resp.head_len(), raw.len());
    assert_eq!(resp.framing(), Framing::ContentLength(615));
    assert!(resp.server_keep_alive());
    assert!(!resp.is_interim());
    assert_eq!(resp.header(&raw, "etag"), Some(&b"\"5e9efe7d-267\""[..]));
}

#[test]
fn body_framing() {
    let cl = "HTTP/1.1 200 OK\nContent-Length: 4\n\n";
    assert_eq!(framing(cl, false), Framing::ContentLength(4));
    assert_eq!(framing(cl, true), Framing::NoBody);
    let chunked = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n";
    assert_eq!(framing(chunked, false), Framing::Chunked);
    assert_eq!(framing(chunked, true), Framing::NoBody);
    let neither = "HTTP/1.1 200 OK\nContent-Type: text/plain\n\n";
    assert_eq!(framing(neither, false), Framing::CloseDelimited);
    assert_eq!(framing(neither, true), Framing::NoBody);
    assert_eq!(
        framing("HTTP/1.0 200 OK\n\n", false),
        Framing::CloseDelimited
    );
    for status in [
        "204 No Content",
        "304 Not Modified",
        "100 Continue",
        "103 Early Hints",
    ] {
        let head = format!("HTTP/1.1 {status}\nContent-Length: 10\n\n");
        assert_eq!(framing(&head, false), Framing::NoBody, "{status}");
    }
    assert_eq!(
        framing("HTTP/1.1 404 Not Found\nContent-Length: 0\n\n", false),
        Framing::ContentLength(0)
    );
}

#[test]
fn interim_responses() {
    let raw = crlf("HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 0\n\n");
    let interim = parse(&raw, false).unwrap();
    assert!(interim.is_interim());
    assert_eq!(interim.framing(), Framing::NoBody);
    let rest = &raw[interim.head_len()..];
    let final_head = parse(rest, false).unwrap();
    assert_eq!(final_head.status(), 200);
    assert!(!final_head.is_interim());

    let switching = crlf("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n");
    assert_eq!(
        parse(&switching, false).unwrap_err(),
        ResponseError::SwitchingProtocols
    );
}

#[test]
fn server_persistence() {
    let keeps = |text: &str| parse(&crlf(text), false).unwrap().server_keep_alive();
    assert!(keeps("HTTP/1.1 200 OK\nContent-Length: 0\n\n"));
    assert!(keeps("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"));
    assert!(!keeps(
        "HTTP/1.1 200 OK\nContent-Length: 0\nConnection: close\n\n"
    ));
    assert!(!keeps("HTTP/1.1 200 OK\n\n"));
    assert!(!keeps("HTTP/1.0 200 OK\nContent-Length: 0\n\n"));
    assert!(keeps(
        "HTTP/1.0 200 OK\nContent-Length: 0\nConnection: keep-alive\n\n"
    ));
    assert!(keeps("HTTP/1.1 204 No Content\n\n"));
    assert!(keeps("HTTP/1.1 304 Not Modified\n\n"));
    let conflicting = crlf("HTTP/1.1 200 OK\nContent-Length: 4\nTransfer-Encoding: chunked\n\n");
    let resp = parse(&conflicting, false).unwrap();
    assert_eq!(resp.framing(), Framing::Chunked);
    assert!(resp.has_conflicting_framing());
    assert!(!resp.server_keep_alive());
}

#[test]
fn invalid_responses_are_502() {
    let cases: [(&str, Vec<u8>); 15] = [
        (
            "differing CL",
            crlf("HTTP/1.1 200 OK\nContent-Length: 1\nContent-Length: 2\n\n"),
        ),
        (
            "CL list differing",
            crlf("HTTP/1.1 200 OK\nContent-Length: 0, 40\n\n"),
        ),
        (
            "CL not digits",
            crlf("HTTP/1.1 200 OK\nContent-Length: 0x10\n\n"),
        ),
        (
            "TE xchunked",
            crlf("HTTP/1.1 200 OK\nTransfer-Encoding: xchunked\n\n"),
        ),
        (
            "TE chunked not last",
            crlf("HTTP/1.1 200 OK\nTransfer-Encoding: chunked, gzip\n\n"),
        ),
        (
            "TE unknown coding",
            crlf("HTTP/1.1 200 OK\nTransfer-Encoding: br, chunked\n\n"),
        ),
        (
            "TE on HTTP/1.0",
            crlf("HTTP/1.0 200 OK\nTransfer-Encoding: chunked\n\n"),
        ),
        (
            "status below 100",
            crlf("HTTP/1.1 099 Odd\nContent-Length: 0\n\n"),
        ),
        (
            "status above 599",
            crlf("HTTP/1.1 600 Odd\nContent-Length: 0\n\n"),
        ),
        (
            "two-digit status",
            crlf("HTTP/1.1 20 OK\nContent-Length: 0\n\n"),
        ),
        (
            "HTTP/2 status line",
            crlf("HTTP/2 200 OK\nContent-Length: 0\n\n"),
        ),
        (
            "obs-fold",
            crlf("HTTP/1.1 200 OK\nX: a\n b\nContent-Length: 0\n\n"),
        ),
        (
            "space before colon",
            crlf("HTTP/1.1 200 OK\nContent-Length : 0\n\n"),
        ),
        (
            "NUL in value",
            b"HTTP/1.1 200 OK\r\nX: \0\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        ("101", crlf("HTTP/1.1 101 Switching Protocols\n\n")),
    ];
    for (what, raw) in cases {
        let error = parse(&raw, false).expect_err(what);
        assert_eq!(error.status(), 502, "{what}");
        assert!(error.page().starts_with(b"HTTP/1.1 502 Bad Gateway\r\n"));
    }
}

#[test]
fn empty_reason_is_accepted() {
    let raw = crlf("HTTP/1.1 200\nContent-Length: 0\n\n");
    let resp = parse(&raw, false).unwrap();
    assert_eq!(resp.reason(&raw), b"");
}

#[test]
fn incomplete_and_oversized_heads() {
    let raw = crlf(TYPICAL);
    for end in 0..raw.len() {
        let verdict = parse_response(&raw[..end], false, &Limits::default());
        assert!(matches!(verdict, Ok(None)), "cut at {end}: {verdict:?}");
    }
    let limits = Limits { max_head_len: 32 };
    assert_eq!(
        parse_response(&raw, false, &limits).unwrap_err(),
        ResponseError::HeadTooLarge
    );
}
