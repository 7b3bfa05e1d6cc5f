//! `http-request allow | deny | return | redirect` and the `redirect` keyword, side by side with
//! the real HAProxy 2.6: one config run by both, the same raw requests to each, and the bytes
//! each sends back must be the same (status line, fields in order, body), and so must what
//! it does with the connection afterwards (kept open or closed).

mod common;

use common::haproxy::{
    assert_frontend_lines_refused_by_both, assert_refused_by_both, haproxy, haproxy_accepts,
};
use common::{backends, check_config, free_port, peer_state, pointsman, server_line, PeerState};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const RULES: &str = "\
    http-request deny if { path /deny }
    http-request deny deny_status 429 if { path /deny429 }
    http-request return status 200 content-type text/plain string \"hello world\" hdr X-A a hdr X-B \"b c\" if { path /ret }
    http-request return status 204 if { path /ret204 }
    http-request return status 404 if { path /ret404 }
    http-request redirect location /new if { path /loc }
    http-request redirect prefix /pre code 301 if { path_beg /p/ }
    http-request redirect prefix https://x.example drop-query if { path_beg /q/ }
    http-request redirect scheme https code 308 if { path_beg /s/ }
    http-request redirect location /a append-slash if { path /as }
    http-request redirect prefix / append-slash if { path_beg /ps }
    http-request redirect code 303 location /see if { path /see }
    http-request redirect code 307 location /tmp if { path /tmp }
    http-request redirect location https://%[req.hdr(host)]%[path] code 301 if { path_beg /lf/ }
    http-request redirect prefix https://%[req.hdr(host),lower] if { path_beg /lp/ }
    http-request allow if { path_beg /allow }
    http-request deny if { path_beg /allow }
    redirect prefix /old if { path_beg /kw }
    http-request deny unless { hdr(host) -m found }
    default_backend bk
";

fn config(port: u16, backend_port: u16) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n{RULES}backend bk\n{}",
        server_line("s", backend_port, "")
    )
}

/// Reads one response: its head, then as many body bytes as its `content-length` says.
fn read_response(stream: &mut TcpStream, head_request: bool) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => bytes.push(byte[0]),
            _ => return (!bytes.is_empty()).then_some(bytes),
        }
    }
    let head = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if !head_request {
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).ok()?;
        bytes.extend_from_slice(&body);
    }
    Some(bytes)
}

/// What a client sees for `raw`: each response (a backend's one shortened to its body, as the
/// two proxies' forwarded heads differ), then whether the connection stayed open.
fn exchange(port: u16, raw: &str, responses: usize) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let head_request = raw.starts_with("HEAD");
    let mut seen = String::new();
    for _ in 0..responses {
        let Some(bytes) = read_response(&mut stream, head_request) else {
            seen.push_str("<no response>");
            break;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match text.to_ascii_lowercase().contains("\r\nx-server: ") {
            true => seen.push_str(&format!(
                "<backend {}>",
                text.split("\r\n\r\n").nth(1).unwrap_or("")
            )),
            false => seen.push_str(&text),
        }
    }
    let state = match peer_state(&mut stream, Duration::from_millis(300)) {
        PeerState::Closed => "<closed>",
        PeerState::StillOpen => "<open>",
        PeerState::Data(_) => "<extra bytes>",
    };
    seen + state
}

/// Asks pointsman (`ours`) and haproxy (`theirs`) the same `raws` and returns those whose
/// answers (as `seen` reports them) differ, each printed.
fn differing<'a>(
    (ours, theirs): (u16, u16),
    raws: impl IntoIterator<Item = (&'a str, usize)>,
    seen: impl Fn(u16, &str, usize) -> String,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (raw, responses) in raws {
        let (pointsman_got, haproxy_got) =
            (seen(ours, raw, responses), seen(theirs, raw, responses));
        let line = format!("{raw:?}\n  pointsman {pointsman_got:?}\n  haproxy   {haproxy_got:?}");
        println!("{line}");
        if pointsman_got != haproxy_got {
            wrong.push(line);
        }
    }
    wrong
}

fn get(path: &str, host: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[test]
fn rule_replies_are_byte_for_byte_haproxys() {
    let [bk] = backends(["bk"]);
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&config(ours, bk.port()), 2, ours);
    let _h = haproxy(&config(theirs, bk.port()), theirs);
    let mut cases: Vec<(String, usize)> = [
        "/deny",
        "/deny429",
        "/ret",
        "/ret204",
        "/ret404",
        "/loc?x=1",
        "/p/a?b=1",
        "/q/a?b=1",
        "/s/a?b=1",
        "/as",
        "/as?x",
        "/ps",
        "/psx/y?z",
        "/see",
        "/tmp",
        "/allow",
        "/kw/x",
        "/x",
        "/lf/a?b=1",
        "/lp/x?y=2",
    ]
    .iter()
    .map(|p| (get(p, "h.example:8080"), 1))
    .collect();
    let raw = [
        // HTTP/1.0: closed unless the client asks for keep-alive, and then said so.
        "GET /deny HTTP/1.0\r\n\r\n",
        "GET /deny HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /loc HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        // A log-format redirect reads the request: the host lowercased by its converter.
        "GET /lp/z HTTP/1.1\r\nHost: H.Example\r\n\r\n",
        "GET /ret HTTP/1.0\r\n\r\n",
        // A body read in full is dropped and the connection kept; a partial one closes it.
        "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe",
        "HEAD /ret HTTP/1.1\r\nHost: a\r\n\r\n",
        "HEAD /deny HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /x HTTP/1.0\r\n\r\n",
    ];
    cases.extend(raw.iter().map(|r| (r.to_string(), 1)));
    let pipelined = "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
                     GET /ret HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    cases.push((pipelined.to_string(), 3));
    let wrong = differing(
        (ours, theirs),
        cases.iter().map(|(raw, n)| (raw.as_str(), *n)),
        exchange,
    );
    assert!(wrong.is_empty(), "replies differ:\n{}", wrong.join("\n"));
}

/// What HAProxy refuses, pointsman refuses, at the same line and with HAProxy's words.
#[test]
fn bad_rules_fail_at_their_line_as_in_haproxy() {
    let cases = [
        (
            "    http-request deny deny_status 418\n",
            "status code '418' not handled by default",
        ),
        (
            "    http-request redirect code 305 location /x\n",
            "unsupported HTTP code '305' (must be one of 301, 302, 303, 307 or 308)",
        ),
        ("    http-request redirect foo /x\n", "(was 'foo')"),
        ("    redirect location /x code 302 foo\n", "(was 'foo')"),
        (
            "    http-request return status 200 string hi\n",
            "a content type must be defined when non-empty payload is configured",
        ),
        (
            "    http-request redirect location\n",
            "missing argument for 'location'",
        ),
        ("    http-request deny if nope\n", "no such ACL : 'nope'"),
        ("    http-request frobnicate\n", "'http-request frobnicate'"),
        (
            "    http-request return status 100\n",
            "Unexpected status code '100'",
        ),
    ];
    assert_frontend_lines_refused_by_both(&cases);
}

/// The example config (redirects, a deny, a `return`) loads in both.
#[test]
fn the_routing_example_loads_in_pointsman_and_haproxy() {
    let text = std::fs::read_to_string("configs/routing.cfg").unwrap();
    let (code, output) = check_config(&text);
    assert_eq!(code, 0, "{output}");
    assert!(
        haproxy_accepts(&text),
        "haproxy refuses configs/routing.cfg"
    );
}

/// A rule written after rules HAProxy runs it before gets HAProxy's warning, at its line.
#[test]
fn rules_out_of_evaluation_order_warn_as_in_haproxy() {
    let text = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                frontend fe\n    bind 127.0.0.1:1\n    use_backend bk if TRUE\n    \
                redirect location /x if FALSE\n    http-request deny if FALSE\n\
                backend bk\n    server s 127.0.0.1:2\n";
    let (code, output) = check_config(text);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("t.cfg:9: a 'redirect' rule placed after a 'use_backend' rule will still be processed before."),
        "{output}"
    );
    assert!(
        output.contains("t.cfg:10: a 'http-request' rule placed after a 'redirect' rule will still be processed before."),
        "{output}"
    );
}

/// Rewrites, each under its own `case` parameter; the backend's `/echo` answers the head it
/// received.
const REWRITES: &str = "\
    http-request set-header X-Set set-%[url_param(case)] if { url_param(case) 1 }
    http-request add-header X-Add \"a b\" if { url_param(case) 1 }
    http-request add-header X-Multi one if { url_param(case) 2 }
    http-request set-header X-Multi two if { url_param(case) 2 }
    http-request del-header X-Drop if { url_param(case) 3 }
    http-request replace-header X-Rep ^(\\w+)-(\\w+)$ \\2-\\1 if { url_param(case) 4 }
    http-request replace-value X-Val ^a(.*)$ A\\1 if { url_param(case) 4 }
    http-request set-path /echo if { path /p }
    http-request set-query case=6&y=%[path] if { url_param(case) 6 }
    http-request set-uri /echo?case=7u if { url_param(case) 7 }
    http-request set-method PUT if { url_param(case) 8 }
    http-request set-header X-Host %[req.hdr(host)] if { url_param(case) 9 }
    http-request set-header X-Src %[src] if { url_param(case) 9 }
    http-request set-header X-Set set-10 if { url_param(case) 10 }
    http-request deny if { hdr(x-set) set-10 }
    default_backend bk
";

/// The head the backend received, as (request line, fields in order): names lowercased
/// (HAProxy lowercases them), without the fields each proxy manages itself.
fn received(port: u16, raw: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let Some(response) = read_response(&mut stream, false) else {
        return "<no response>".to_string();
    };
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.to_ascii_lowercase().contains("\r\nx-server: ") {
        return head.lines().next().unwrap_or("").to_string();
    }
    let mut lines = body.lines();
    let mut seen = vec![lines.next().unwrap_or("").to_string()];
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name = name.to_ascii_lowercase();
        if name != "connection" && name != "x-forwarded-for" {
            seen.push(format!("{name}:{}", value.trim()));
        }
    }
    seen.join(" | ")
}

#[test]
fn rewritten_requests_reach_the_backend_as_through_haproxy() {
    let [bk] = backends(["bk"]);
    let config = |port: u16| {
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n{REWRITES}backend bk\n{}",
            server_line("s", bk.port(), "")
        )
    };
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&config(ours), 2, ours);
    let _h = haproxy(&config(theirs), theirs);
    let requests = [
        ("/echo?case=1", "X-Set: old\r\nX-A: 1\r\n"),
        ("/echo?case=2", "X-Multi: zero\r\n"),
        ("/echo?case=3", "X-Drop: 1\r\nX-Keep: 2\r\nx-drop: 3\r\n"),
        (
            "/echo?case=4",
            "X-Rep: ab-cd\r\nX-Rep: nomatch\r\nX-Val: a1, b2,a3\r\n",
        ),
        ("/p?case=5", ""),
        ("/echo?case=6", ""),
        ("/x?case=7", ""),
        ("/echo?case=8", ""),
        ("/echo?case=9", ""),
        ("/echo?case=10", ""),
        ("/echo?case=0", "X-Set: set-10\r\n"),
    ];
    let raws: Vec<String> = requests
        .iter()
        .map(|(target, fields)| format!("GET {target} HTTP/1.1\r\nHost: h.example\r\n{fields}\r\n"))
        .collect();
    let wrong = differing(
        (ours, theirs),
        raws.iter().map(|raw| (raw.as_str(), 1)),
        |port, raw, _| received(port, raw),
    );
    assert!(
        wrong.is_empty(),
        "forwarded heads differ:\n{}",
        wrong.join("\n")
    );
}

/// `http-response` rules, then `http-after-response` ones, each under the response's own status
/// (the backend's `/status/NNN` answers NNN) or its fields; request fetches other than the
/// connection's read nothing. The after-rules stay off the denied statuses: HAProxy applies
/// them to its deny replies, pointsman not yet.
const RESPONSE_RULES: &str = "\
    http-response set-header X-Status s-%[status]-%[res.hdr_cnt(x-server)] if { status 201 }
    http-response add-header X-Add \"a b\" if { status 201 }
    http-response del-header X-Received-Bytes
    http-response replace-header Server ^pointsman-(\\w+)$ \\1-replaced if { status 202 }
    http-response replace-value X-Server ^b(.*)$ B\\1 if { res.hdr(x-server) bk }
    http-response set-status 299 if { status 203 }
    http-response add-header X-Empty 1 if { status 204 }
    http-response set-status 404 reason \"Gone Away\" if { status 204 }
    http-response set-status 200 if { status 304 }
    http-response set-status 298 reason \"Fine Here\" if { status 206 }
    http-response set-header X-From %[src] if { status 205 } { src 127.0.0.1 }
    http-response deny if { status 403 }
    http-response deny deny_status 503 if { status 404 }
    http-response set-header X-Never 1 if { path -m found }
    http-after-response set-header X-After after-%[res.hdr(x-status)] if { status 201 }
    http-after-response del-header Server if { status 500 }
    http-after-response set-status 210 if { status 299 }
    default_backend bk
";

/// What a client receives as a (status line, fields in order): names lowercased (HAProxy
/// lowercases them), without the framing and connection fields each proxy manages itself.
fn response_seen(port: u16, raw: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let Some(response) = read_response(&mut stream, raw.starts_with("HEAD")) else {
        return "<no response>".to_string();
    };
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let mut seen = vec![lines.next().unwrap_or("").to_string()];
    for line in lines {
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let name = name.to_ascii_lowercase();
        if name != "connection" && name != "content-length" {
            seen.push(format!("{name}:{}", value.trim()));
        }
    }
    seen.push(body.to_string());
    let state = match peer_state(&mut stream, Duration::from_millis(300)) {
        PeerState::Closed => "<closed>",
        PeerState::StillOpen => "<open>",
        PeerState::Data(_) => "<extra bytes>",
    };
    seen.push(state.to_string());
    seen.join(" | ")
}

#[test]
fn response_rules_edit_what_the_client_receives_as_haproxy_does() {
    let [bk] = backends(["bk"]);
    let config = |port: u16| {
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n{RESPONSE_RULES}backend bk\n{}",
            server_line("s", bk.port(), "")
        )
    };
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&config(ours), 2, ours);
    let _h = haproxy(&config(theirs), theirs);
    let raws: Vec<String> = [200, 201, 202, 203, 204, 205, 206, 304, 403, 404, 500]
        .iter()
        .flat_map(|status| {
            ["GET", "HEAD"].map(|method| {
                format!("{method} /status/{status} HTTP/1.1\r\nHost: h.example\r\n\r\n")
            })
        })
        .collect();
    let wrong = differing(
        (ours, theirs),
        raws.iter().map(|raw| (raw.as_str(), 1)),
        |port, raw, _| response_seen(port, raw),
    );
    assert!(wrong.is_empty(), "responses differ:\n{}", wrong.join("\n"));
}

/// What HAProxy refuses in `http-response`, pointsman refuses at the same line, in its words.
#[test]
fn bad_response_rules_fail_at_their_line_as_in_haproxy() {
    let cases = [
        (
            "    http-response set-status\n",
            "expects 1 argument: <status>; or 3 arguments: <status> reason <fmt>.",
        ),
        (
            "    http-response set-status 1000\n",
            "expects an integer status code between 100 and 999.",
        ),
        (
            "    http-response deny deny_status 418\n",
            "status code '418' not handled by default",
        ),
        (
            "    http-response set-header X\n",
            "expects exactly 2 arguments.",
        ),
        (
            "    http-response deny if nope\n",
            "error detected while parsing an 'http-response deny' condition : no such ACL : 'nope'.",
        ),
        ("    http-response set-path /x\n", "'http-response set-path'"),
    ];
    assert_frontend_lines_refused_by_both(&cases);
}

/// `monitor-uri` and `monitor fail`, byte for byte as haproxy answers them: the exact target
/// only (a query makes it an ordinary request), before every `http-request` rule, 503 while a
/// `monitor fail` condition holds, the connection kept as after a deny.
#[test]
fn the_monitor_uri_is_answered_as_by_haproxy() {
    let [bk] = backends(["bk"]);
    let monitor_config = |port: u16| {
        format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{port}\n    monitor-uri /health\n\
             \x20   monitor fail if {{ hdr(x-fail) -m found }}\n\
             \x20   monitor fail unless {{ hdr(host) -m found }}\n\
             \x20   http-request deny if {{ path /health }}\n    default_backend bk\n\
             backend bk\n{}",
            server_line("s", bk.port(), "")
        )
    };
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&monitor_config(ours), 2, ours);
    let _h = haproxy(&monitor_config(theirs), theirs);
    let cases: [(&str, usize); 7] = [
        ("GET /health HTTP/1.1\r\nHost: a\r\n\r\n", 1),
        ("GET /health HTTP/1.1\r\nHost: a\r\nX-Fail: 1\r\n\r\n", 1),
        ("GET /health HTTP/1.0\r\n\r\n", 1),
        ("GET /health?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", 1),
        ("HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n", 1),
        ("GET /other HTTP/1.1\r\nHost: a\r\n\r\n", 1),
        (
            "GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\nX-Fail: y\r\n\r\n",
            2,
        ),
    ];
    let wrong = differing((ours, theirs), cases, exchange);
    assert!(wrong.is_empty(), "replies differ:\n{}", wrong.join("\n"));
    let refused = [
        (
            "    monitor fail",
            "'monitor fail' requires either 'if' or 'unless' followed by a condition.",
        ),
        ("    monitor foo if TRUE", "'monitor' only supports 'fail'."),
        ("    monitor-uri", "'monitor-uri' expects an URI."),
        (
            "    monitor-uri /a /b",
            "'monitor-uri' cannot handle unexpected argument '/b'.",
        ),
    ];
    for (line, message) in refused {
        let text = format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
             frontend fe\n    bind 127.0.0.1:1\n{line}\n    default_backend bk\nbackend bk\n    server s 127.0.0.1:2\n"
        );
        assert_refused_by_both(&text, "t.cfg:8", message);
    }
}

/// The files the `return` payload test reads: a text body, a binary one, an empty one, and
/// two errorfiles (HTTP/1.1 and HTTP/1.0).
fn write_payload_files(dir: &std::path::Path) {
    std::fs::write(dir.join("body.txt"), "hello from a file\n").unwrap();
    std::fs::write(
        dir.join("icon.bin"),
        [0u8, 1, 0xff, 0xfe, b'\r', b'\n', 0x80],
    )
    .unwrap();
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    std::fs::write(
        dir.join("e503.http"),
        "HTTP/1.1 503 Service Unavailable\r\ncache-control: no-cache\r\nconnection: close\r\n\
         content-type: text/html\r\ncontent-length: 10\r\n\r\n<h1>x</h1>",
    )
    .unwrap();
    std::fs::write(
        dir.join("e10.http"),
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n",
    )
    .unwrap();
}

fn payload_config(port: u16, backend_port: u16, dir: &std::path::Path) -> String {
    let dir = dir.display();
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n\
         \x20   http-request return status 200 content-type text/plain file {dir}/body.txt hdr X-A a if {{ path /file }}\n\
         \x20   http-request return status 200 content-type image/x-icon file {dir}/icon.bin if {{ path /icon }}\n\
         \x20   http-request return status 404 file {dir}/empty.txt if {{ path /empty }}\n\
         \x20   http-request return errorfile {dir}/e503.http if {{ path /ef }}\n\
         \x20   http-request return status 200 errorfile {dir}/e10.http if {{ path /ef10 }}\n\
         \x20   default_backend bk\nbackend bk\n{}",
        server_line("s", backend_port, "")
    )
}

/// `return file` (text and binary bodies, an empty file) and `return errorfile` send what
/// haproxy sends, byte for byte, and keep or close the connection as it does.
#[test]
fn return_payloads_from_files_are_byte_for_byte_haproxys() {
    let [bk] = backends(["bk"]);
    let dir = common::temp_dir("return-files");
    write_payload_files(&dir);
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&payload_config(ours, bk.port(), &dir), 2, ours);
    let _h = haproxy(&payload_config(theirs, bk.port(), &dir), theirs);
    let mut cases: Vec<String> = ["/file", "/icon", "/empty", "/ef", "/ef10"]
        .iter()
        .map(|p| get(p, "a"))
        .collect();
    cases.push("HEAD /file HTTP/1.1\r\nHost: a\r\n\r\n".into());
    cases.push("GET /file HTTP/1.0\r\n\r\n".into());
    let wrong = differing(
        (ours, theirs),
        cases.iter().map(|raw| (raw.as_str(), 1)),
        exchange,
    );
    assert!(wrong.is_empty(), "replies differ:\n{}", wrong.join("\n"));
    // What the payload keywords warn about, in haproxy's words (its spelling included).
    let lines = format!(
        "    http-request return content-type text/plain errorfile {d}/e503.http hdr X-A a\n\
         \x20   http-request return status 200 content-type text/plain file {d}/empty.txt\n",
        d = dir.display()
    );
    let (code, output) = check_config(&common::haproxy::frontend_with(&lines));
    assert_eq!(code, 0, "{output}");
    for warning in [
        "content-type 'text/plain' ignored by the http reply when used with an erorrfile.",
        "hdr parameters ignored by the http reply when used with an erorrfile.",
        "content-type 'text/plain' ignored by the http reply when used with an empty payload.",
    ] {
        assert!(output.contains(warning), "{warning}: {output}");
    }
}

/// A payload that cannot be used is refused at its line by both, in HAProxy's words.
#[test]
fn bad_return_payloads_fail_at_their_line_as_in_haproxy() {
    let dir = common::temp_dir("return-files-bad");
    write_payload_files(&dir);
    std::fs::write(
        dir.join("short.http"),
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9\r\n\r\n<h1>x</h1>",
    )
    .unwrap();
    let d = dir.display();
    let cases = [
        (
            format!("    http-request return status 200 content-type text/plain file {d}/nope.txt\n"),
            format!("error opening file '{d}/nope.txt'."),
        ),
        (
            format!("    http-request return status 200 content-type text/plain string a file {d}/body.txt\n"),
            "unexpected 'file' argument, 'string' already defined.".to_string(),
        ),
        (
            format!("    http-request return errorfile {d}/short.http\n"),
            "payload size does not match the announced content-length (10 != 9).".to_string(),
        ),
        (
            format!("    http-request return status 200 file {d}/body.txt\n"),
            "a content type must be defined when non-empty payload is configured".to_string(),
        ),
    ];
    let cases: Vec<(&str, &str)> = cases
        .iter()
        .map(|(l, m)| (l.as_str(), m.as_str()))
        .collect();
    assert_frontend_lines_refused_by_both(&cases);
}
