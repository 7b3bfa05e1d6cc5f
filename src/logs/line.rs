//! HAProxy's log line formats, written into a reused buffer without allocating:
//!
//! - `option httplog`: `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc
//!   %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r`
//! - `option tcplog`: `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`
//! - neither: `Connect from %ci:%cp to %fi:%fp (%ft/%mode)` when the connection is accepted.
//!
//! Timers are milliseconds, -1 for a phase that was never reached.

use super::clock::{push_padded, Clock, Stamp};
use std::io::Write;
use std::net::SocketAddr;

/// The connection counts of `%ac/%fc/%bc/%sc/%rc` (this shard's view: pointsman has no
/// process-wide counter on the request path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub process: u64,
    pub frontend: u64,
    pub backend: u64,
    pub server: u64,
    pub retries: u32,
}

/// The fields of one `httplog` line.
#[derive(Debug, Clone, Copy)]
pub struct HttpFields<'a> {
    pub client: SocketAddr,
    /// When the first byte of the request arrived.
    pub received: Stamp,
    pub frontend: &'a str,
    pub backend: &'a str,
    /// `<NOSRV>` when no server was reached.
    pub server: &'a str,
    /// TR, Tw, Tc, Tr, Ta.
    pub timers: [i64; 5],
    pub status: i64,
    pub bytes: u64,
    /// `%ts`: who ended the request and in which phase (`--`).
    pub termination: [u8; 2],
    pub counts: Counts,
    /// `GET / HTTP/1.1`, or `<BADREQ>`; escaped when written.
    pub request: &'a [u8],
    /// The client connection is TLS: `%ft` is the frontend's name followed by `~`.
    pub tls: bool,
}

/// The fields of one `tcplog` line.
#[derive(Debug, Clone, Copy)]
pub struct TcpFields<'a> {
    pub client: SocketAddr,
    pub accepted: Stamp,
    pub frontend: &'a str,
    pub backend: &'a str,
    pub server: &'a str,
    /// Tw, Tc, Tt.
    pub timers: [i64; 3],
    pub bytes: u64,
    pub termination: [u8; 2],
    pub counts: Counts,
}

pub fn http(out: &mut Vec<u8>, clock: &mut Clock, f: &HttpFields) {
    client_and_date(out, clock, f.client, f.received);
    let frontend_len = out.len() + f.frontend.len();
    names(out, f.frontend, f.backend, f.server);
    if f.tls {
        out.insert(frontend_len, b'~');
    }
    timers(out, &f.timers);
    let _ = write!(out, " {} {} - - ", f.status, f.bytes);
    out.extend_from_slice(&f.termination);
    out.extend_from_slice(b"--");
    counts(out, &f.counts);
    out.extend_from_slice(b" \"");
    escape(out, f.request);
    out.push(b'"');
}

pub fn tcp(out: &mut Vec<u8>, clock: &mut Clock, f: &TcpFields) {
    client_and_date(out, clock, f.client, f.accepted);
    names(out, f.frontend, f.backend, f.server);
    timers(out, &f.timers);
    let _ = write!(out, " {} ", f.bytes);
    out.extend_from_slice(&f.termination);
    counts(out, &f.counts);
}

/// `Connect from 10.0.1.2:33312 to 10.0.3.31:8012 (www/HTTP)`.
pub fn connect(
    out: &mut Vec<u8>,
    client: SocketAddr,
    local: SocketAddr,
    frontend: &str,
    http: bool,
) {
    let mode = if http { "HTTP" } else { "TCP" };
    let _ = write!(out, "Connect from {client} to {local} ({frontend}/{mode})");
}

/// A connection that ended in its TLS handshake, as HAProxy logs it (`%ci:%cp [%tr]
/// %ft/%bind: %msg`): `10.0.1.2:33312 [07/Dec/2026:16:16:13.309] fe/1: SSL handshake failure`,
/// the bind numbered from 1 in the frontend's order of addresses.
pub fn handshake_failure(
    out: &mut Vec<u8>,
    clock: &mut Clock,
    client: SocketAddr,
    accepted: Stamp,
    frontend: &str,
    bind: usize,
    reason: &str,
) {
    client_and_date(out, clock, client, accepted);
    let _ = write!(out, "{frontend}/{bind}: {reason}");
}

fn client_and_date(out: &mut Vec<u8>, clock: &mut Clock, client: SocketAddr, at: Stamp) {
    let _ = write!(out, "{}:{} [", client.ip(), client.port());
    clock.access_date(at, out);
    out.extend_from_slice(b"] ");
}

fn names(out: &mut Vec<u8>, frontend: &str, backend: &str, server: &str) {
    out.extend_from_slice(frontend.as_bytes());
    out.push(b' ');
    out.extend_from_slice(backend.as_bytes());
    out.push(b'/');
    out.extend_from_slice(server.as_bytes());
    out.push(b' ');
}

fn timers(out: &mut Vec<u8>, values: &[i64]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        if *v < 0 {
            out.extend_from_slice(b"-1");
        } else {
            push_padded(out, *v as u64, 1);
        }
    }
}

fn counts(out: &mut Vec<u8>, c: &Counts) {
    let _ = write!(
        out,
        " {}/{}/{}/{}/{} 0/0",
        c.process, c.frontend, c.backend, c.server, c.retries
    );
}

/// HAProxy's log escaping: control bytes, `"`, `#` and non-ASCII become `#XX`, so a line is
/// one line and a quoted field stays quoted.
pub fn escape(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if !(0x20..0x7f).contains(&b) || b == b'"' || b == b'#' {
            out.extend_from_slice(&[b'#', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_line_has_haproxys_fields() {
        let mut clock = Clock::default();
        let mut out = Vec::new();
        http(
            &mut out,
            &mut clock,
            &HttpFields {
                client: "10.0.1.2:33317".parse().unwrap(),
                received: Stamp {
                    second: 1_233_922_454,
                    millis: 655,
                },
                frontend: "http-in",
                backend: "static",
                server: "srv1",
                timers: [10, 0, 30, 69, 109],
                status: 200,
                bytes: 2750,
                termination: *b"--",
                counts: Counts {
                    process: 1,
                    frontend: 1,
                    backend: 1,
                    server: 1,
                    retries: 0,
                },
                request: b"GET /index.html?q=\"x\"\n HTTP/1.1",
                tls: false,
            },
        );
        let line = String::from_utf8(out).unwrap();
        let (start, rest) = line.split_once(" [").unwrap();
        assert_eq!(start, "10.0.1.2:33317");
        let (_, rest) = rest.split_once("] ").unwrap();
        assert_eq!(
            rest,
            "http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 \"GET /index.html?q=#22x#22#0A HTTP/1.1\""
        );
    }

    #[test]
    fn tcp_line_and_unreached_timers() {
        let mut clock = Clock::default();
        let mut out = Vec::new();
        tcp(
            &mut out,
            &mut clock,
            &TcpFields {
                client: "[::1]:4000".parse().unwrap(),
                accepted: Stamp::now(),
                frontend: "fnt",
                backend: "bck",
                server: "<NOSRV>",
                timers: [0, -1, 5007],
                bytes: 0,
                termination: *b"SC",
                counts: Counts::default(),
            },
        );
        let line = String::from_utf8(out).unwrap();
        assert!(line.starts_with("::1:4000 ["), "{line}");
        assert!(
            line.ends_with("] fnt bck/<NOSRV> 0/-1/5007 0 SC 0/0/0/0/0 0/0"),
            "{line}"
        );
    }
}
