//! Cookie persistence (`cookie NAME insert|rewrite|prefix [indirect] [nocache]` and the
//! servers' `cookie VALUE`): which server a request's cookie names, and the edits of the
//! forwarded heads that keep the cookie going.
//!
//! - A request whose cookie names a server that takes persistent traffic (READY or DRAIN, not
//!   DOWN, MAINT or being deleted) goes there; otherwise it is balanced like a new client and
//!   the response carries a fresh cookie. After a failure with `option redispatch`, another
//!   server with the same cookie value is preferred (the restart guide's trick: one
//!   application listed twice, the second entry as `backup`).
//! - `insert`: the response gets `Set-Cookie: NAME=VALUE; path=/` unless, with `indirect`, the
//!   client already presented the right value; `indirect` also removes the cookie from the
//!   request (the application never sees it) and drops a cookie of that name the server sets;
//!   `nocache` adds `Cache-Control: private` to a response that gets a cookie.
//! - `rewrite`: the server's own `Set-Cookie: NAME=…` gets the server's value.
//! - `prefix`: the server's `Set-Cookie: NAME=v` becomes `NAME=VALUE~v`; the request's
//!   `NAME=VALUE~v` reaches the server as `NAME=v`.
//!
//! Heads are edited in place in the reused output buffer: nothing is allocated per request.

use crate::config::{CookieConfig, CookieMode};
use crate::http::Request;
use crate::state::Backend;

/// Longest server cookie value kept for the request (longer ones never match a server).
const MAX_KEY: usize = 64;

/// What persistence knows about one request.
pub struct Persistence<'c> {
    config: &'c CookieConfig,
    /// The server value the client presented, inline (no allocation per request).
    key: [u8; MAX_KEY],
    key_len: usize,
    presented: bool,
}

impl<'c> Persistence<'c> {
    /// Reads the backend's cookie from the request in `buf`.
    pub fn of_request(config: &'c CookieConfig, request: &Request, buf: &[u8]) -> Self {
        let mut p = Persistence {
            config,
            key: [0; MAX_KEY],
            key_len: 0,
            presented: false,
        };
        let found = request
            .headers(buf)
            .filter(|(name, _)| name.eq_ignore_ascii_case(b"cookie"))
            .find_map(|(_, value)| cookie_value(value, config.name.as_bytes()));
        if let Some(value) = found {
            let key = match config.mode {
                CookieMode::Prefix => value.split(|&b| b == b'~').next().unwrap_or_default(),
                CookieMode::Insert | CookieMode::Rewrite => value,
            };
            if !key.is_empty() && key.len() <= MAX_KEY {
                p.key[..key.len()].copy_from_slice(key);
                p.key_len = key.len();
                p.presented = true;
            }
        }
        p
    }

    fn key(&self) -> Option<&[u8]> {
        self.presented.then(|| &self.key[..self.key_len])
    }

    /// Whether the client presented this server's value.
    pub fn is_valid_for(&self, server_cookie: Option<&str>) -> bool {
        matches!((self.key(), server_cookie), (Some(k), Some(c)) if k == c.as_bytes())
    }

    /// Position of the server the cookie sends this request to: the first one with that value
    /// that takes persistent traffic, other than `avoid` (a server that just failed it).
    pub fn server(&self, backend: &Backend, avoid: Option<u32>) -> Option<usize> {
        let key = self.key()?;
        backend.servers.iter().position(|s| {
            Some(s.id) != avoid
                && s.cookie.as_deref().is_some_and(|c| c.as_bytes() == key)
                && s.takes_persistent_traffic()
        })
    }

    /// Edits the forwarded request head in `out` (`out` holds exactly the head): `insert
    /// indirect` removes the cookie, `prefix` removes the server part of its value.
    pub fn edit_request(&self, out: &mut Vec<u8>) {
        if !self.presented {
            return;
        }
        let name = self.config.name.as_bytes();
        match self.config.mode {
            CookieMode::Insert if self.config.indirect => {
                edit_fields(out, b"cookie", |out, value| remove_pair(out, value, name))
            }
            CookieMode::Prefix => {
                edit_fields(out, b"cookie", |out, value| strip_prefix(out, value, name))
            }
            _ => {}
        }
    }

    /// Edits the response head in `out` (`out` holds exactly the head) for the server that
    /// answered, whose cookie value is `server_cookie`.
    pub fn edit_response(&self, out: &mut Vec<u8>, server_cookie: Option<&str>) {
        let Some(value) = server_cookie else {
            return;
        };
        let name = self.config.name.as_bytes();
        match self.config.mode {
            CookieMode::Insert => {
                if self.config.indirect {
                    edit_fields(out, b"set-cookie", |out, v| drop_set_cookie(out, v, name));
                }
                if !(self.config.indirect && self.is_valid_for(Some(value))) {
                    self.insert(out, value);
                }
            }
            CookieMode::Rewrite => edit_fields(out, b"set-cookie", |out, v| {
                set_cookie_value(out, v, name, value.as_bytes(), false)
            }),
            CookieMode::Prefix => edit_fields(out, b"set-cookie", |out, v| {
                set_cookie_value(out, v, name, value.as_bytes(), true)
            }),
        }
    }

    /// Adds `Set-Cookie: NAME=VALUE; path=/` (and `Cache-Control: private` with `nocache`)
    /// before the head's final empty line.
    fn insert(&self, out: &mut Vec<u8>, value: &str) {
        if !out.ends_with(b"\r\n\r\n") {
            return;
        }
        out.truncate(out.len() - 2);
        out.extend_from_slice(b"Set-Cookie: ");
        out.extend_from_slice(self.config.name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"; path=/\r\n");
        if self.config.nocache {
            out.extend_from_slice(b"Cache-Control: private\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The value of cookie `name` in one `Cookie` field value (`a=1; NAME=v; b=2`).
fn cookie_value<'b>(field: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    field.split(|&b| b == b';').find_map(|pair| {
        let pair = trim(pair);
        let eq = pair.iter().position(|&b| b == b'=')?;
        (trim(&pair[..eq]) == name).then(|| trim(&pair[eq + 1..]))
    })
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// Where one field line lies in a serialized head: `line` is the whole line with its CRLF,
/// `value` the value without surrounding whitespace.
#[derive(Debug, Clone, Copy)]
struct FieldLine {
    line: (usize, usize),
    value: (usize, usize),
}

/// Runs `edit` on every field named `name` of the head in `out`, from the last to the first
/// so earlier positions stay valid.
fn edit_fields(out: &mut Vec<u8>, name: &[u8], mut edit: impl FnMut(&mut Vec<u8>, FieldLine)) {
    let mut lines = [None; 16];
    let mut count = 0;
    for field in field_lines(out) {
        let line = &out[field.line.0..field.line.1];
        let named = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':';
        if named && count < lines.len() {
            lines[count] = Some(field);
            count += 1;
        }
    }
    for field in lines[..count].iter().rev().flatten() {
        edit(out, *field);
    }
}

/// The field lines of the serialized head in `out` (after the start line, before the final
/// empty line).
fn field_lines(out: &[u8]) -> impl Iterator<Item = FieldLine> + '_ {
    let mut at = out
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(out.len(), |p| p + 2);
    std::iter::from_fn(move || {
        let rest = out.get(at..)?;
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        if end == 0 {
            return None;
        }
        let start = at;
        at += end + 2;
        let line = &out[start..start + end];
        let colon = line.iter().position(|&b| b == b':')?;
        let raw = &line[colon + 1..];
        let lead = raw.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let value = trim(raw);
        let value_start = start + colon + 1 + lead;
        Some(FieldLine {
            line: (start, start + end + 2),
            value: (value_start, value_start + value.len()),
        })
    })
}

/// Removes `name=…` from a `Cookie` field, and the field when nothing is left.
fn remove_pair(out: &mut Vec<u8>, field: FieldLine, name: &[u8]) {
    let Some((start, end)) = pair_span(out, field.value, name) else {
        return;
    };
    // Take the separator with it: the one after, or for the last pair the one before.
    let (mut from, mut to) = (start, end);
    let value_end = field.value.1;
    if to < value_end {
        to += out[to..value_end]
            .iter()
            .take_while(|&&b| b == b';' || b == b' ')
            .count();
    } else {
        from -= out[field.value.0..from]
            .iter()
            .rev()
            .take_while(|&&b| b == b';' || b == b' ')
            .count();
    }
    if from == field.value.0 && to == value_end {
        out.drain(field.line.0..field.line.1);
        return;
    }
    out.drain(from..to);
}

/// `name=SERVER~v` ─▶ `name=v` in a `Cookie` field.
fn strip_prefix(out: &mut Vec<u8>, field: FieldLine, name: &[u8]) {
    let Some((start, end)) = pair_span(out, field.value, name) else {
        return;
    };
    let value_start = start + name.len() + 1;
    if let Some(tilde) = out[value_start..end].iter().position(|&b| b == b'~') {
        out.drain(value_start..value_start + tilde + 1);
    }
}

/// Removes a `Set-Cookie: name=…` field the server sent (`insert indirect`).
fn drop_set_cookie(out: &mut Vec<u8>, field: FieldLine, name: &[u8]) {
    if set_cookie_name_is(out, field, name) {
        out.drain(field.line.0..field.line.1);
    }
}

/// `Set-Cookie: name=v…` ─▶ `name=VALUE…` (`rewrite`) or `name=VALUE~v…` (`prefix`).
fn set_cookie_value(out: &mut Vec<u8>, field: FieldLine, name: &[u8], value: &[u8], prefix: bool) {
    if !set_cookie_name_is(out, field, name) {
        return;
    }
    let value_start = field.value.0 + name.len() + 1;
    let old_end = out[value_start..field.value.1]
        .iter()
        .position(|&b| b == b';')
        .map_or(field.value.1, |p| value_start + p);
    if prefix {
        let insert = value.iter().copied().chain(std::iter::once(b'~'));
        out.splice(value_start..value_start, insert);
    } else {
        out.splice(value_start..old_end, value.iter().copied());
    }
}

fn set_cookie_name_is(out: &[u8], field: FieldLine, name: &[u8]) -> bool {
    let value = &out[field.value.0..field.value.1];
    value.len() > name.len() && value.starts_with(name) && value[name.len()] == b'='
}

/// Where `name=value` lies in a `Cookie` field value (positions in `out`).
fn pair_span(out: &[u8], (from, to): (usize, usize), name: &[u8]) -> Option<(usize, usize)> {
    let mut at = from;
    while at < to {
        let end = out[at..to]
            .iter()
            .position(|&b| b == b';')
            .map_or(to, |p| at + p);
        let lead = out[at..end]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        let pair_start = at + lead;
        let pair = &out[pair_start..end];
        if pair.len() > name.len() && pair.starts_with(name) && pair[name.len()] == b'=' {
            let trail = pair
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            return Some((pair_start, end - trail));
        }
        at = end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_request, Limits};

    fn config(mode: CookieMode, indirect: bool, nocache: bool) -> CookieConfig {
        CookieConfig {
            name: "SERVERID".into(),
            mode,
            indirect,
            nocache,
        }
    }

    fn request(head: &str) -> (Request, Vec<u8>) {
        let buf = head.as_bytes().to_vec();
        let r = parse_request(&buf, &Limits::default()).unwrap().unwrap();
        (r, buf)
    }

    fn edited_request(cfg: &CookieConfig, head: &str) -> (String, bool) {
        let (r, buf) = request(head);
        let p = Persistence::of_request(cfg, &r, &buf);
        let mut out = head.as_bytes().to_vec();
        p.edit_request(&mut out);
        (String::from_utf8(out).unwrap(), p.is_valid_for(Some("s1")))
    }

    #[test]
    fn finds_the_cookie_among_others() {
        assert_eq!(
            cookie_value(b"a=1; SERVERID=s2; b=3", b"SERVERID"),
            Some(&b"s2"[..])
        );
        assert_eq!(cookie_value(b"XSERVERID=s2", b"SERVERID"), None);
        assert_eq!(
            cookie_value(b"SERVERID = s3 ", b"SERVERID"),
            Some(&b"s3"[..])
        );
        assert_eq!(cookie_value(b"", b"SERVERID"), None);
    }

    #[test]
    fn insert_indirect_hides_the_cookie_from_the_server() {
        let cfg = config(CookieMode::Insert, true, false);
        let (out, valid) = edited_request(
            &cfg,
            "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; SERVERID=s1; b=2\r\n\r\n",
        );
        assert!(valid);
        assert_eq!(out, "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; b=2\r\n\r\n");
        let (out, _) = edited_request(
            &cfg,
            "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; SERVERID=s1\r\n\r\n",
        );
        assert_eq!(out, "GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\n\r\n");
        let (out, _) = edited_request(
            &cfg,
            "GET / HTTP/1.1\r\nCookie: SERVERID=s1\r\nHost: x\r\n\r\n",
        );
        assert_eq!(out, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        // Without indirect the server sees it.
        let plain = config(CookieMode::Insert, false, false);
        let head = "GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=s1\r\n\r\n";
        assert_eq!(edited_request(&plain, head).0, head);
    }

    #[test]
    fn prefix_strips_the_server_part() {
        let cfg = config(CookieMode::Prefix, false, false);
        let (out, valid) = edited_request(
            &cfg,
            "GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=s1~abc; z=9\r\n\r\n",
        );
        assert!(valid);
        assert_eq!(
            out,
            "GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=abc; z=9\r\n\r\n"
        );
    }

    #[test]
    fn insert_adds_a_cookie_unless_indirect_and_valid() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let (r, buf) = request("GET / HTTP/1.1\r\nHost: x\r\nCookie: SERVERID=s1\r\n\r\n");
        let cfg = config(CookieMode::Insert, true, true);
        let p = Persistence::of_request(&cfg, &r, &buf);
        let mut out = head.as_bytes().to_vec();
        p.edit_response(&mut out, Some("s1"));
        assert_eq!(
            out,
            head.as_bytes(),
            "valid cookie, indirect: nothing added"
        );
        let mut out = head.as_bytes().to_vec();
        p.edit_response(&mut out, Some("s2"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: SERVERID=s2; path=/\r\n\
             Cache-Control: private\r\n\r\n"
        );
        let mut out = head.as_bytes().to_vec();
        p.edit_response(&mut out, None);
        assert_eq!(out, head.as_bytes(), "a server without a cookie gets none");
    }

    #[test]
    fn rewrite_and_prefix_edit_the_servers_cookie() {
        let (r, buf) = request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let head =
            "HTTP/1.1 200 OK\r\nSet-Cookie: SERVERID=app; Path=/\r\nSet-Cookie: other=1\r\n\r\n";
        let rewrite = config(CookieMode::Rewrite, false, false);
        let mut out = head.as_bytes().to_vec();
        Persistence::of_request(&rewrite, &r, &buf).edit_response(&mut out, Some("s1"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nSet-Cookie: SERVERID=s1; Path=/\r\nSet-Cookie: other=1\r\n\r\n"
        );
        let prefix = config(CookieMode::Prefix, false, false);
        let mut out = head.as_bytes().to_vec();
        Persistence::of_request(&prefix, &r, &buf).edit_response(&mut out, Some("s1"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nSet-Cookie: SERVERID=s1~app; Path=/\r\nSet-Cookie: other=1\r\n\r\n"
        );
    }

    #[test]
    fn insert_indirect_drops_the_servers_own_cookie_of_that_name() {
        let (r, buf) = request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let cfg = config(CookieMode::Insert, true, false);
        let mut out = b"HTTP/1.1 200 OK\r\nSet-Cookie: SERVERID=x\r\n\r\n".to_vec();
        Persistence::of_request(&cfg, &r, &buf).edit_response(&mut out, Some("s1"));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nSet-Cookie: SERVERID=s1; path=/\r\n\r\n"
        );
    }
}
