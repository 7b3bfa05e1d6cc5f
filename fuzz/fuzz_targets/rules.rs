//! The rule language on arbitrary text: `acl` and `use_backend` lines of a frontend. The
//! parser must return a config or a file:line error, never panic; a config it accepts must
//! route a few requests, each to one of its backends, without panicking on odd heads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pointsman::rules::RequestView;
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
            for request in &REQUESTS {
                if let Some(b) = switching.choose(request) {
                    assert!(b < names.len());
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
