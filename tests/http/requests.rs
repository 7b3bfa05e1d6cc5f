//! Request corpus: every head with the verdict the proxy must reach (accepted, or the status
//! to answer), plus the keep-alive, Expect and retry rules.

use pointsman::http::{parse_request, Framing, Limits, Method, Request, RequestError};

use crate::crlf;

fn parse(raw: &[u8]) -> Result<Request, RequestError> {
    parse_request(raw, &Limits::default()).map(|r| r.expect("head should be complete"))
}

fn status_of(raw: &[u8]) -> u16 {
    match parse(raw) {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

/// (what it checks, head, 200 if accepted else the status to answer).
fn corpus() -> Vec<(&'static str, Vec<u8>, u16)> {
    let mut many_fields = String::from("GET / HTTP/1.1\nHost: a\n");
    for i in 0..101 {
        many_fields.push_str(&format!("X-{i}: v\n"));
    }
    many_fields.push('\n');
    vec![
        // Accepted.
        ("browser GET", crlf(BROWSER_GET), 200),
        ("POST with length", crlf("POST /f HTTP/1.1\nHost: a\nContent-Length: 5\n\n"), 200),
        ("chunked POST", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n"), 200),
        ("gzip then chunked", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: gzip, chunked\n\n"), 200),
        ("TE over two fields", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: gzip\nTransfer-Encoding: chunked\n\n"), 200),
        ("TE case-insensitive", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: Chunked\n\n"), 200),
        ("CL and TE together", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 3\nTransfer-Encoding: chunked\n\n"), 200),
        ("identical CL list merged", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 40, 40\n\n"), 200),
        ("identical CL fields merged", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 40\nContent-Length: 40\n\n"), 200),
        ("HTTP/1.0 without Host", crlf("GET / HTTP/1.0\n\n"), 200),
        ("OPTIONS *", crlf("OPTIONS * HTTP/1.1\nHost: a\n\n"), 200),
        ("absolute-form", crlf("GET http://a/b?c HTTP/1.1\nHost: a\n\n"), 200),
        ("leading empty line", crlf("\nGET / HTTP/1.1\nHost: a\n\n"), 200),
        ("bare LF lines", b"GET / HTTP/1.1\nHost: a\n\n".to_vec(), 200),
        ("extension method", crlf("PROPFIND /d HTTP/1.1\nHost: a\n\n"), 200),
        ("empty field value", crlf("GET / HTTP/1.1\nHost: a\nX-Empty:\n\n"), 200),
        ("obs-text in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n".to_vec(), 200),
        ("CL with leading zeros", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 007\n\n"), 200),
        // Malformed syntax: 400.
        ("space before colon", crlf("GET / HTTP/1.1\nHost : a\n\n"), 400),
        ("tab before colon", crlf("GET / HTTP/1.1\nHost\t: a\n\n"), 400),
        ("obs-fold", crlf("GET / HTTP/1.1\nHost: a\nX: b\n c\n\n"), 400),
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n".to_vec(), 400),
        ("bare CR in value", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n".to_vec(), 400),
        ("field without colon", crlf("GET / HTTP/1.1\nHost: a\nNoColon\n\n"), 400),
        ("empty field name", crlf("GET / HTTP/1.1\nHost: a\n: v\n\n"), 400),
        ("space in target", crlf("GET /a b HTTP/1.1\nHost: a\n\n"), 400),
        ("control char in target", b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), 400),
        ("DEL in target", b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), 400),
        ("non-ASCII target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), 400),
        ("fragment in target", crlf("GET /a#b HTTP/1.1\nHost: a\n\n"), 400),
        ("relative target", crlf("GET a/b HTTP/1.1\nHost: a\n\n"), 400),
        ("asterisk with GET", crlf("GET * HTTP/1.1\nHost: a\n\n"), 400),
        ("invalid method token", crlf("G(T / HTTP/1.1\nHost: a\n\n"), 400),
        ("two spaces in line", crlf("GET  / HTTP/1.1\nHost: a\n\n"), 400),
        ("HTTP/0.9 line", crlf("GET /\n\n"), 400),
        ("garbage version", crlf("GET / HTP/1.1\nHost: a\n\n"), 400),
        ("lowercase version", crlf("GET / http/1.1\nHost: a\n\n"), 400),
        ("too many fields", crlf(&many_fields), 400),
        // Framing fields: 400 (or 501 for an unknown coding).
        ("differing CL list", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 0, 40\n\n"), 400),
        ("differing CL fields", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 10\nContent-Length: 20\n\n"), 400),
        ("CL with plus", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: +4\n\n"), 400),
        ("CL negative", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: -1\n\n"), 400),
        ("CL hex", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 0x28\n\n"), 400),
        ("CL inner space", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 4 0\n\n"), 400),
        ("CL empty", crlf("POST / HTTP/1.1\nHost: a\nContent-Length:\n\n"), 400),
        ("CL trailing comma", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 4,\n\n"), 400),
        ("CL overflow", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 18446744073709551616\n\n"), 400),
        ("TE xchunked", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: xchunked\n\n"), 400),
        ("TE chunked not last", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked, gzip\n\n"), 400),
        ("TE chunked twice", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked, chunked\n\n"), 400),
        ("TE chunked twice over fields", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nTransfer-Encoding: chunked\n\n"), 400),
        ("TE gzip only", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: gzip\n\n"), 400),
        ("TE empty", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding:\n\n"), 400),
        ("TE with CL, not chunked", crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 3\nTransfer-Encoding: identity\n\n"), 400),
        ("TE in HTTP/1.0", crlf("POST / HTTP/1.0\nTransfer-Encoding: chunked\n\n"), 400),
        ("TE unknown coding", crlf("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: xgzip, chunked\n\n"), 501),
        // Host.
        ("HTTP/1.1 without Host", crlf("GET / HTTP/1.1\n\n"), 400),
        ("two Host fields", crlf("GET / HTTP/1.1\nHost: a\nHost: b\n\n"), 400),
        ("two Host fields on 1.0", crlf("GET / HTTP/1.0\nHost: a\nHost: a\n\n"), 400),
        ("Host list", crlf("GET / HTTP/1.1\nHost: a, b\n\n"), 400),
        // Versions and methods we do not serve.
        ("HTTP/2.0", crlf("GET / HTTP/2.0\nHost: a\n\n"), 505),
        ("HTTP/3.0", crlf("GET / HTTP/3.0\nHost: a\n\n"), 505),
        ("HTTP/1.2", crlf("GET / HTTP/1.2\nHost: a\n\n"), 505),
        ("CONNECT", crlf("CONNECT a:443 HTTP/1.1\nHost: a:443\n\n"), 501),
    ]
}

const BROWSER_GET: &str = "GET /index.html?q=1 HTTP/1.1
Host: www.example.com
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8
Accept-Language: en-US,en;q=0.5
Accept-Encoding: gzip, deflate, br, zstd
Connection: keep-alive
Cookie: SERVERID=s1; session=abc123
Upgrade-Insecure-Requests: 1
Sec-Fetch-Dest: document
Sec-Fetch-Mode: navigate
Sec-Fetch-Site: none
Priority: u=0, i

";

#[test]
fn corpus_verdicts() {
    let mut wrong = Vec::new();
    for (what, raw, expected) in corpus() {
        let got = status_of(&raw);
        if got != expected {
            wrong.push(format!("{what}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_error_status_has_a_page() {
    for (_, raw, expected) in corpus() {
        if let Err(e) = parse(&raw) {
            let line = format!("HTTP/1.1 {expected} ");
            assert!(e.page().starts_with(line.as_bytes()), "{e:?}");
        }
    }
}

#[test]
fn every_strict_prefix_of_a_valid_head_is_incomplete() {
    for (what, raw, expected) in corpus() {
        if expected != 200 {
            continue;
        }
        for end in 0..raw.len() {
            let verdict = parse_request(&raw[..end], &Limits::default());
            assert!(
                matches!(verdict, Ok(None)),
                "{what} cut at {end}: {verdict:?}"
            );
        }
    }
}

#[test]
fn browser_get_fields() {
    let raw = crlf(BROWSER_GET);
    let req = parse(&raw).unwrap();
    assert_eq!(req.method(), Method::Get);
    assert_eq!(req.method_token(&raw), b"GET");
    assert_eq!(req.target(&raw), b"/index.html?q=1");
    assert_eq!(req.minor_version(), 1);
    assert_eq!(req.head_len(), raw.len());
    assert_eq!(req.framing(), Framing::NoBody);
    assert!(req.keep_alive());
    assert!(!req.expect_continue());
    assert!(!req.has_conflicting_framing());
    assert_eq!(req.host(&raw), Some(&b"www.example.com"[..]));
    assert_eq!(
        req.header(&raw, "cookie"),
        Some(&b"SERVERID=s1; session=abc123"[..])
    );
    assert_eq!(req.headers(&raw).count(), 12);
    assert!(req.is_safe_to_retry());
}

#[test]
fn head_len_excludes_the_body_and_what_follows() {
    let raw = crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 5\n\nhelloGET / HTTP/1.1\n");
    let req = parse(&raw).unwrap();
    assert_eq!(&raw[req.head_len()..req.head_len() + 5], b"hello");
    assert_eq!(req.framing(), Framing::ContentLength(5));
}

#[test]
fn framing_of_accepted_requests() {
    let framing = |text: &str| parse(&crlf(text)).unwrap().framing();
    assert_eq!(framing("GET / HTTP/1.1\nHost: a\n\n"), Framing::NoBody);
    assert_eq!(
        framing("POST / HTTP/1.1\nHost: a\nContent-Length: 0\n\n"),
        Framing::ContentLength(0)
    );
    assert_eq!(
        framing("POST / HTTP/1.1\nHost: a\nContent-Length: 40, 40\n\n"),
        Framing::ContentLength(40)
    );
    assert_eq!(
        framing("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: gzip, chunked\n\n"),
        Framing::Chunked
    );
}

#[test]
fn content_length_with_transfer_encoding_uses_chunked_and_closes() {
    let raw = crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 3\nTransfer-Encoding: chunked\n\n");
    let req = parse(&raw).unwrap();
    assert_eq!(req.framing(), Framing::Chunked);
    assert!(req.has_conflicting_framing());
    assert!(!req.keep_alive());
}

#[test]
fn keep_alive_rules() {
    let keep_alive = |text: &str| parse(&crlf(text)).unwrap().keep_alive();
    assert!(keep_alive("GET / HTTP/1.1\nHost: a\n\n"));
    assert!(!keep_alive(
        "GET / HTTP/1.1\nHost: a\nConnection: close\n\n"
    ));
    assert!(!keep_alive(
        "GET / HTTP/1.1\nHost: a\nConnection: Keep-Alive, CLOSE\n\n"
    ));
    assert!(!keep_alive(
        "GET / HTTP/1.1\nHost: a\nConnection: x\nConnection: close\n\n"
    ));
    assert!(keep_alive(
        "GET / HTTP/1.1\nHost: a\nConnection: upgrade\n\n"
    ));
    assert!(!keep_alive("GET / HTTP/1.0\n\n"));
    assert!(keep_alive("GET / HTTP/1.0\nConnection: keep-alive\n\n"));
    assert!(keep_alive("GET / HTTP/1.0\nConnection: Keep-Alive\n\n"));
    assert!(!keep_alive(
        "GET / HTTP/1.0\nConnection: keep-alive, close\n\n"
    ));
    assert!(!keep_alive(
        "GET / HTTP/1.0\nProxy-Connection: keep-alive\n\n"
    ));
}

#[test]
fn expect_continue_only_on_http11() {
    let expects = |text: &str| parse(&crlf(text)).unwrap().expect_continue();
    assert!(expects(
        "PUT / HTTP/1.1\nHost: a\nExpect: 100-continue\nContent-Length: 1\n\n"
    ));
    assert!(expects(
        "PUT / HTTP/1.1\nHost: a\nExpect: 100-Continue\nContent-Length: 1\n\n"
    ));
    assert!(!expects(
        "PUT / HTTP/1.0\nExpect: 100-continue\nContent-Length: 1\n\n"
    ));
    assert!(!expects("PUT / HTTP/1.1\nHost: a\nContent-Length: 1\n\n"));
}

#[test]
fn retry_and_idempotence_by_method() {
    let cases = [
        ("GET", true, true),
        ("HEAD", true, true),
        ("OPTIONS", true, true),
        ("PUT", false, true),
        ("DELETE", false, true),
        ("TRACE", false, true),
        ("POST", false, false),
        ("PATCH", false, false),
        ("PROPFIND", false, false),
    ];
    for (method, retry, idempotent) in cases {
        let raw = crlf(&format!("{method} / HTTP/1.1\nHost: a\n\n"));
        let req = parse(&raw).unwrap();
        assert_eq!(req.is_safe_to_retry(), retry, "{method}");
        assert_eq!(req.is_idempotent(), idempotent, "{method}");
    }
}

#[test]
fn head_size_limit() {
    let limits = Limits { max_head_len: 64 };
    let fits = crlf("GET / HTTP/1.1\nHost: a\n\n");
    assert!(parse_request(&fits, &limits).unwrap().is_some());

    let long = crlf(&format!(
        "GET / HTTP/1.1\nHost: a\nX: {}\n\n",
        "v".repeat(60)
    ));
    assert_eq!(
        parse_request(&long, &limits).unwrap_err(),
        RequestError::HeadTooLarge
    );
    // Still incomplete once the buffer holds `max_head_len` bytes: refused, not awaited.
    assert_eq!(
        parse_request(&long[..64], &limits).unwrap_err(),
        RequestError::HeadTooLarge
    );
    assert!(parse_request(&long[..63], &limits).unwrap().is_none());
    assert_eq!(RequestError::HeadTooLarge.status(), 400);

    let default_limit = Limits::default().max_head_len;
    assert_eq!(default_limit, 16 * 1024);
    let huge_cookie = crlf(&format!(
        "GET / HTTP/1.1\nHost: a\nCookie: {}\n\n",
        "c".repeat(default_limit)
    ));
    assert_eq!(status_of(&huge_cookie), 400);
}

#[test]
fn a_body_after_the_head_does_not_hide_an_error() {
    let raw = crlf("POST / HTTP/1.1\nHost: a\nContent-Length: 1, 2\n\nx");
    assert_eq!(
        parse(&raw).unwrap_err(),
        RequestError::ConflictingContentLength
    );
}
