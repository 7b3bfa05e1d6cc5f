//! The rule language on arbitrary text: `acl`, `use_backend`, `http-request` and `redirect`
//! lines of a frontend. The parser must return a config or a file:line error, never panic; a
//! config it accepts must route a few requests, each to one of its backends, and render the
//! reply of its `http-request` rules, without panicking on odd heads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pointsman::rules::{ConnectionField, EditedView, RequestView, Verdict};
use std::net::SocketAddr;

const HEAD: &str = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:1\n";
const TAIL: &str = "\n    default_backend b0\nbackend b0\n    server s 127.0.0.1:2\nbackend b1\n    server s 127.0.0.1:3\n";

struct Head {
    method: &'static [u8],
    target: &'static [u8],
    headers: &'static [(&'static [u8], &'static [u8])],
}

impl RequestView for Head {
    fn method(&self) -> &[u8] {
        self.method
    }
    fn target(&self) -> &[u8] {
        self.target
    }
    fn version(&self) -> &'static [u8] {
        b"1.1"
    }
    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers.iter().copied()
    }
    fn src(&self) -> SocketAddr {
        "[::ffff:127.0.0.1]:40000".parse().unwrap()
    }
    fn dst(&self) -> Option<SocketAddr> {
        None
    }
}

const REQUESTS: [Head; 3] = [
    Head {
        method: b"GET",
        target: b"/api/v1?x=1&y",
        headers: &[(b"Host", b"a.example.com:80"), (b"Cookie", b"g=b; x")],
    },
    Head {
        method: b"POST",
        target: b"http://h/\xff\xfe?",
        headers: &[(b"host", b""), (b"X-A", b",,\xff ,"), (b"x-a", b"1")],
    },
    Head {
        method: b"X",
        target: b"",
        headers: &[],
    },
];

fuzz_target!(|data: &[u8]| {
    let lines = String::from_utf8_lossy(data);
    let text = format!("{HEAD}{lines}{TAIL}");
    match pointsman::config::parse_str("fuzz.cfg", &text) {
        Ok(config) => {
            let Some(side) = config.proxies.iter().find_map(|p| p.frontend.clone()) else {
                return;
            };
            let names = ["b0", "b1"];
            let Ok(switching) = side.switching.resolve(|name| {
                names
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| format!("unknown {name}"))
            }) else {
                panic!("config accepted a use_backend that names no backend");
            };
            let mut out = Vec::new();
            for request in &REQUESTS {
                let by_name = |name: &[u8]| names.iter().position(|n| n.as_bytes() == name);
                if let Some(b) = switching.choose(request, by_name) {
                    assert!(b < names.len());
                }
                out.clear();
                let connection = ConnectionField::KeepAlive { http10: false };
                let mut edited = None;
                let mut scratch = Vec::new();
                match side.http_rules.apply(&switching.acls, request, &mut edited, &mut scratch) {
                    Verdict::Continue => {}
                    Verdict::Deny(reply) | Verdict::Reply(reply) => {
                        reply.write(&mut out, connection, false)
                    }
                    Verdict::Redirect(redirect) => match &edited {
                        Some(head) => {
                            let view = EditedView {
                                head,
                                received: request,
                            };
                            redirect.write(&view, &mut out, connection)
                        }
                        None => redirect.write(request, &mut out, connection),
                    },
                }
                assert!(out.is_empty() || out.starts_with(b"HTTP/1.1 "));
                if let Some(head) = edited {
                    out.clear();
                    head.write_head(&mut out);
                    assert!(out.ends_with(b"\r\n\r\n"));
                }
            }
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.starts_with("fuzz.cfg"),
                "error without a location: {message}"
            );
        }
    }
});
