//! What a rule reads from a request: HAProxy 2.6's sample fetches (`path`, `hdr(host)`,
//! `src` …), typed at load, and their values read from one request with no allocation.
//!
//! An ACL keyword is a fetch plus, for the derived forms (`path_beg`, `hdr_dom(host)` …), the
//! match method it implies ([`parse_keyword`]). A fetch hands its values one at a time to a
//! test ([`Fetch::any`]): a header with several occurrences (or comma-separated values) is
//! matched if any of them is, as HAProxy iterates `hdr()` in an ACL.
//!
//! Fetches that read the running proxy (`nbsrv`, `srv_is_up`, `be_conn`) name a backend or
//! server ([`ProxyRef`]), checked against the whole config once it is read, and ask the
//! shard's replica through [`ProxyFacts`]. `base` joins two parts of the head, so it is the
//! one fetch that builds its value in a buffer.

use super::map::Maps;
use super::pattern::MatchKind;
use std::net::{IpAddr, SocketAddr};

/// One request as rules see it. The proxy implements it over its parsed head; tests over
/// plain values.
pub trait RequestView {
    /// The method token as received.
    fn method(&self) -> &[u8];
    /// The request target as received (origin form `/p?q`, or absolute form).
    fn target(&self) -> &[u8];
    /// `1.0` or `1.1`.
    fn version(&self) -> &'static [u8];
    /// Header fields in order, as (name, value).
    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])>;
    /// The client's address.
    fn src(&self) -> SocketAddr;
    /// The address the client connected to (read only when a rule asks for it).
    fn dst(&self) -> Option<SocketAddr>;
    /// The runtime maps the `map*` converters read: the shard's state replica. A view that
    /// holds none sees no map (every lookup misses).
    fn maps(&self) -> &Maps {
        &NO_MAPS
    }
    /// Whether the request's head (method, target, fields) is there to read: not in a
    /// response rule, where HAProxy's fetches of it "will never match".
    fn has_request_head(&self) -> bool {
        true
    }
    /// The response's status: None while a request is evaluated (`status` has no value).
    fn status(&self) -> Option<u16> {
        None
    }
    /// The response's header fields in order: none while a request is evaluated.
    fn response_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        std::iter::empty()
    }

    /// The client connection's TLS session; `None` on plain TCP.
    fn tls(&self) -> Option<TlsFacts<'_>> {
        None
    }

    /// The running proxy's servers and connections, as this shard sees them; `None` where
    /// there is no proxy (unit tests), and the proxy fetches then have no value.
    fn proxy(&self) -> Option<&dyn ProxyFacts> {
        None
    }
}

/// What `nbsrv`, `srv_is_up` and `be_conn` read: the shard's replica of the server state and
/// its own counters. A name that is not there (a server deleted at runtime) has no value.
pub trait ProxyFacts {
    /// HAProxy's usable servers: the active ones that take new traffic, else the backups
    /// that would (one with the first-backup rule, all with `option allbackups`).
    fn usable_servers(&self, backend: &str) -> Option<usize>;
    /// Neither in maintenance nor DOWN (a draining server is up), as HAProxy's `srv_is_up`.
    fn server_is_up(&self, backend: &str, server: &str) -> Option<bool>;
    /// The backend's current connections on this shard (HAProxy counts the process's).
    fn backend_connections(&self, backend: &str) -> Option<u64>;
}

/// A backend (and server) a fetch names: `nbsrv(B)`, `be_conn(B)`, `srv_is_up([B/]S)`.
/// Without a backend the fetch means the proxy it is written in, which the config check
/// fills in (it must have servers, as HAProxy requires).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRef {
    pub keyword: &'static str,
    pub backend: Option<String>,
    pub server: Option<String>,
    /// Where the config names it (file, line, and how HAProxy words the place: `ACL
    /// keyword 'nbsrv'`, `sample fetch keyword 'nbsrv' in use_backend expression`); set by
    /// the config parser after the line is read.
    pub at: Option<(String, usize, String)>,
}

impl ProxyRef {
    fn backend(keyword: &'static str, args: &[&str]) -> ProxyRef {
        ProxyRef {
            keyword,
            backend: args.first().map(|b| b.to_string()),
            server: None,
            at: None,
        }
    }

    /// `srv_is_up(B/S)` or `srv_is_up(S)`.
    fn server(arg: &str) -> ProxyRef {
        let (backend, server) = match arg.split_once('/') {
            Some((b, s)) => (Some(b.to_string()), s),
            None => (None, arg),
        };
        ProxyRef {
            keyword: "srv_is_up",
            backend,
            server: Some(server.to_string()),
            at: None,
        }
    }

    /// The backend name once the config check filled it in.
    fn backend_name(&self) -> &str {
        self.backend.as_deref().unwrap_or("")
    }
}

/// What the `ssl_fc*` fetches read from a client's TLS session, in OpenSSL's names as
/// HAProxy gives them (`TLSv1.3`, `TLS_AES_256_GCM_SHA384`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsFacts<'a> {
    /// The server name the client asked for (SNI).
    pub sni: Option<&'a str>,
    pub protocol: &'static str,
    pub cipher: &'static str,
    /// The protocol chosen by ALPN.
    pub alpn: Option<&'a [u8]>,
    /// The client's certificate (DER), when it sent one (it was verified, or the handshake
    /// would have ended).
    pub client_cert: Option<&'a [u8]>,
}

static NO_MAPS: Maps = Maps::EMPTY;

/// A value a fetch produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample<'a> {
    Bytes(&'a [u8]),
    Int(i64),
    Ip(IpAddr),
    Bool(bool),
}

/// The type of a fetch's values, which decides its default match method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleType {
    Bytes,
    Int,
    Ip,
    Bool,
}

/// A sample fetch of the supported subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The path: the target up to `?`, without scheme and authority in absolute form.
    Path,
    /// The whole target.
    Url,
    /// After the first `?` (no value without one).
    Query,
    /// The value of the first query parameter `name` (`url_param(name)`, `urlp(name)`).
    UrlParam(String),
    Method,
    /// `req.ver`: `1.0` or `1.1`.
    Version,
    /// Every value of header `name`, comma-separated values apart (`hdr`, `req.hdr`);
    /// `occurrence` picks one (1 the first, -1 the last).
    Header {
        name: String,
        occurrence: Option<i64>,
    },
    /// Every full value of header `name`, commas included (`req.fhdr`, `fhdr`).
    FullHeader {
        name: String,
    },
    /// How many values of header `name` (`hdr_cnt`, `req.hdr_cnt`): comma-separated count.
    HeaderCount {
        name: String,
    },
    /// The value of cookie `name` in the Cookie headers (`cook`, `req.cook`).
    Cookie(String),
    Src,
    SrcPort,
    Dst,
    DstPort,
    AlwaysTrue,
    AlwaysFalse,
    /// `ssl_fc`: the client connection is TLS.
    SslFc,
    /// `ssl_fc_sni`: the server name of the client's TLS handshake.
    SslFcSni,
    /// `ssl_fc_protocol`: `TLSv1.2`, `TLSv1.3`.
    SslFcProtocol,
    /// `ssl_fc_cipher`: the cipher suite's OpenSSL name.
    SslFcCipher,
    /// `ssl_fc_alpn`: the protocol ALPN chose.
    SslFcAlpn,
    /// `ssl_c_used`: the client sent a certificate (no value on plain TCP).
    SslCUsed,
    /// `ssl_c_verify`: OpenSSL's verify result code; always 0 (X509_V_OK) on an established
    /// TLS connection, since any failure ends the handshake (no `ca-ignore-err`).
    SslCVerify,
    /// `ssl_c_s_dn([entry[,occ]])`: the client certificate's subject DN, or the value of its
    /// `occ`th `entry` (1 the first, -1 the last).
    SslCSDn {
        entry: Option<String>,
        occurrence: i64,
    },
    /// The response's status code (`status`).
    Status,
    /// Every value of response header `name` (`res.hdr`, `shdr`), as `Header` on requests.
    ResHeader {
        name: String,
        occurrence: Option<i64>,
    },
    /// How many values of response header `name` (`res.hdr_cnt`, `shdr_cnt`).
    ResHeaderCount {
        name: String,
    },
    /// `base`: the first Host value followed by the path (`example.com/a/b`).
    Base,
    /// `nbsrv([B])`: how many usable servers the backend has.
    NbSrv(ProxyRef),
    /// `srv_is_up([B/]S)`.
    SrvIsUp(ProxyRef),
    /// `be_conn([B])`: the backend's current connections.
    BeConn(ProxyRef),
}

impl Fetch {
    pub fn sample_type(&self) -> SampleType {
        match self {
            Fetch::Src | Fetch::Dst => SampleType::Ip,
            Fetch::SrcPort
            | Fetch::DstPort
            | Fetch::HeaderCount { .. }
            | Fetch::Status
            | Fetch::ResHeaderCount { .. }
            | Fetch::SslCVerify
            | Fetch::NbSrv(_)
            | Fetch::BeConn(_) => SampleType::Int,
            Fetch::AlwaysTrue
            | Fetch::AlwaysFalse
            | Fetch::SslFc
            | Fetch::SslCUsed
            | Fetch::SrvIsUp(_) => SampleType::Bool,
            _ => SampleType::Bytes,
        }
    }

    /// Whether the fetch reads the request's head (HAProxy's `HTTP request headers`).
    fn reads_request_head(&self) -> bool {
        matches!(
            self,
            Fetch::Path
                | Fetch::Url
                | Fetch::Query
                | Fetch::UrlParam(_)
                | Fetch::Method
                | Fetch::Version
                | Fetch::Header { .. }
                | Fetch::FullHeader { .. }
                | Fetch::HeaderCount { .. }
                | Fetch::Cookie(_)
                | Fetch::Base
        )
    }

    /// The backend or server the fetch names, if it reads the running proxy.
    pub fn proxy_ref(&self) -> Option<&ProxyRef> {
        match self {
            Fetch::NbSrv(r) | Fetch::SrvIsUp(r) | Fetch::BeConn(r) => Some(r),
            _ => None,
        }
    }

    pub fn proxy_ref_mut(&mut self) -> Option<&mut ProxyRef> {
        match self {
            Fetch::NbSrv(r) | Fetch::SrvIsUp(r) | Fetch::BeConn(r) => Some(r),
            _ => None,
        }
    }

    /// Calls `test` with each value of this fetch on `request` until one passes; whether one
    /// did. A fetch with no value (no such header, no query) never calls `test`.
    pub fn any<R: RequestView>(&self, request: &R, test: &mut dyn FnMut(Sample) -> bool) -> bool {
        if self.reads_request_head() && !request.has_request_head() {
            return false;
        }
        match self {
            Fetch::Path => test(Sample::Bytes(path_of(request.target()))),
            Fetch::Url => test(Sample::Bytes(request.target())),
            Fetch::Query => query_of(request.target()).is_some_and(|q| test(Sample::Bytes(q))),
            Fetch::UrlParam(name) => query_of(request.target())
                .and_then(|q| url_param(q, name.as_bytes()))
                .is_some_and(|v| test(Sample::Bytes(v))),
            Fetch::Method => test(Sample::Bytes(request.method())),
            Fetch::Version => test(Sample::Bytes(request.version())),
            Fetch::Header { name, occurrence } => {
                any_header_value(|| request.headers(), name, *occurrence, test)
            }
            Fetch::FullHeader { name } => request
                .headers()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                .any(|(_, v)| test(Sample::Bytes(v))),
            Fetch::HeaderCount { name } => test(Sample::Int(
                header_values(request.headers(), name).count() as i64,
            )),
            Fetch::Cookie(name) => {
                cookie_value(request, name.as_bytes()).is_some_and(|v| test(Sample::Bytes(v)))
            }
            Fetch::Src => test(Sample::Ip(canonical(request.src().ip()))),
            Fetch::SrcPort => test(Sample::Int(i64::from(request.src().port()))),
            Fetch::Dst => request
                .dst()
                .is_some_and(|a| test(Sample::Ip(canonical(a.ip())))),
            Fetch::DstPort => request
                .dst()
                .is_some_and(|a| test(Sample::Int(i64::from(a.port())))),
            Fetch::AlwaysTrue => test(Sample::Bool(true)),
            Fetch::AlwaysFalse => test(Sample::Bool(false)),
            Fetch::SslFc => test(Sample::Bool(request.tls().is_some())),
            Fetch::SslFcSni => (request.tls().and_then(|t| t.sni))
                .is_some_and(|sni| test(Sample::Bytes(sni.as_bytes()))),
            Fetch::SslFcProtocol => request
                .tls()
                .is_some_and(|t| test(Sample::Bytes(t.protocol.as_bytes()))),
            Fetch::SslFcCipher => request
                .tls()
                .is_some_and(|t| test(Sample::Bytes(t.cipher.as_bytes()))),
            Fetch::SslFcAlpn => {
                (request.tls().and_then(|t| t.alpn)).is_some_and(|alpn| test(Sample::Bytes(alpn)))
            }
            Fetch::SslCUsed => request
                .tls()
                .is_some_and(|t| test(Sample::Bool(t.client_cert.is_some()))),
            Fetch::SslCVerify => request.tls().is_some_and(|_| test(Sample::Int(0))),
            Fetch::SslCSDn { entry, occurrence } => (request.tls().and_then(|t| t.client_cert))
                .and_then(|cert| subject_value(cert, entry.as_deref(), *occurrence))
                .is_some_and(|value| test(Sample::Bytes(value.as_bytes()))),
            Fetch::Status => request
                .status()
                .is_some_and(|s| test(Sample::Int(i64::from(s)))),
            Fetch::ResHeader { name, occurrence } => {
                any_header_value(|| request.response_headers(), name, *occurrence, test)
            }
            Fetch::ResHeaderCount { name } => test(Sample::Int(
                header_values(request.response_headers(), name).count() as i64,
            )),
            Fetch::Base => test(Sample::Bytes(&base_of(request))),
            Fetch::NbSrv(r) => (request.proxy())
                .and_then(|p| p.usable_servers(r.backend_name()))
                .is_some_and(|n| test(Sample::Int(n as i64))),
            Fetch::SrvIsUp(r) => (request.proxy())
                .and_then(|p| p.server_is_up(r.backend_name(), r.server.as_deref()?))
                .is_some_and(|up| test(Sample::Bool(up))),
            Fetch::BeConn(r) => (request.proxy())
                .and_then(|p| p.backend_connections(r.backend_name()))
                .is_some_and(|n| test(Sample::Int(n as i64))),
        }
    }
}

/// `base`: the first Host field's value, then the path (no query), as HAProxy joins them.
fn base_of<R: RequestView>(request: &R) -> Vec<u8> {
    let host = (request.headers())
        .find(|(n, _)| n.eq_ignore_ascii_case(b"host"))
        .map_or(&b""[..], |(_, v)| trim(v));
    let path = path_of(request.target());
    let mut base = Vec::with_capacity(host.len() + path.len());
    base.extend_from_slice(host);
    base.extend_from_slice(path);
    base
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is (a dual-stack listener's clients).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The path of a target: origin form up to `?`; in absolute form (`http://host/p?q`) what
/// follows the authority (HAProxy's `http_get_path`): empty when there is no `/` after it.
pub fn path_of(target: &[u8]) -> &[u8] {
    let path = match find(target, b"://") {
        Some(scheme_end) if !target.starts_with(b"/") => {
            let after = &target[scheme_end + 3..];
            match after.iter().position(|&b| b == b'/') {
                Some(slash) => &after[slash..],
                None => &after[after.len()..],
            }
        }
        _ => target,
    };
    let end = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
    &path[..end]
}

fn query_of(target: &[u8]) -> Option<&[u8]> {
    let mark = target.iter().position(|&b| b == b'?')?;
    Some(&target[mark + 1..])
}

/// The value of the first `name=value` in a query string (`&`-separated; `;` too, as
/// HAProxy's `url_param` accepts both).
fn url_param<'a>(query: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    query.split(|&b| b == b'&' || b == b';').find_map(|pair| {
        let rest = pair.strip_prefix(name)?;
        match rest.first() {
            Some(b'=') => Some(&rest[1..]),
            None => Some(rest),
            _ => None,
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Calls `test` with the values of header `name` in `fields` (all of them, or occurrence
/// `occurrence`) until one passes; `fields` gives a fresh iterator (a negative occurrence
/// counts first).
fn any_header_value<'r, I: Iterator<Item = (&'r [u8], &'r [u8])>>(
    fields: impl Fn() -> I,
    name: &'r str,
    occurrence: Option<i64>,
    test: &mut dyn FnMut(Sample) -> bool,
) -> bool {
    match occurrence {
        None => header_values(fields(), name).any(|v| test(Sample::Bytes(v))),
        Some(n) => nth_header_value(fields, name, n).is_some_and(|v| test(Sample::Bytes(v))),
    }
}

/// Every comma-separated value of the fields named `name`, trimmed of spaces and tabs (HAProxy
/// `hdr()`: values inside double quotes are not special-cased either).
fn header_values<'r>(
    fields: impl Iterator<Item = (&'r [u8], &'r [u8])>,
    name: &'r str,
) -> impl Iterator<Item = &'r [u8]> {
    fields
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(trim)
}

/// Occurrence `n` of the values of `name`: 1 is the first, -1 the last, 0 none.
fn nth_header_value<'r, I: Iterator<Item = (&'r [u8], &'r [u8])>>(
    fields: impl Fn() -> I,
    name: &'r str,
    n: i64,
) -> Option<&'r [u8]> {
    match n {
        0 => None,
        n if n > 0 => header_values(fields(), name).nth(usize::try_from(n - 1).ok()?),
        n => {
            let count = header_values(fields(), name).count();
            let from_end = usize::try_from(-n).ok()?;
            header_values(fields(), name).nth(count.checked_sub(from_end)?)
        }
    }
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &value[start..end]
}

/// The value of the first cookie `name` in the request's Cookie fields.
fn cookie_value<'r, R: RequestView>(request: &'r R, name: &[u8]) -> Option<&'r [u8]> {
    request
        .headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
        .flat_map(|(_, v)| v.split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = trim(pair);
            let rest = pair.strip_prefix(name)?;
            rest.strip_prefix(b"=")
        })
}

/// Reads an ACL keyword (`path_beg`, `hdr(host)`, `req.hdr_cnt(x)`): its fetch and the match
/// method its name implies, if any. The error is HAProxy's.
pub fn parse_keyword(word: &str) -> Result<(Fetch, Option<MatchKind>), String> {
    let (name, args) = split_call(word)?;
    let (base, implied) = split_suffix(name);
    let fetch = fetch_named(base, &args, word)?;
    if implied.is_some() && !takes_suffix(base) {
        return Err(unknown(word));
    }
    Ok((fetch, implied))
}

fn unknown(word: &str) -> String {
    let name = word.split('(').next().unwrap_or(word);
    format!("unknown fetch method '{name}' in ACL expression '{word}'")
}

/// `name(arg1,arg2)` into `name` and its arguments.
fn split_call(word: &str) -> Result<(&str, Vec<&str>), String> {
    let Some(open) = word.find('(') else {
        return Ok((word, Vec::new()));
    };
    let Some(inner) = word[open + 1..].strip_suffix(')') else {
        return Err(format!(
            "missing closing ')' after arguments to fetch keyword '{}' in ACL expression '{word}'",
            &word[..open]
        ));
    };
    let args = if inner.is_empty() {
        Vec::new()
    } else {
        inner.split(',').collect()
    };
    Ok((&word[..open], args))
}

/// The match-method suffixes of derived ACL keywords.
const SUFFIXES: &[(&str, MatchKind)] = &[
    ("_beg", MatchKind::Beg),
    ("_end", MatchKind::End),
    ("_sub", MatchKind::Sub),
    ("_dir", MatchKind::Dir),
    ("_dom", MatchKind::Dom),
    ("_reg", MatchKind::Reg),
    ("_len", MatchKind::Len),
    ("_ip", MatchKind::Ip),
    ("_val", MatchKind::Int),
];

/// `hdr_cnt` ends in no suffix: it is a fetch of its own.
fn split_suffix(name: &str) -> (&str, Option<MatchKind>) {
    for (suffix, kind) in SUFFIXES {
        if let Some(base) = name.strip_suffix(suffix) {
            return (base, Some(*kind));
        }
    }
    (name, None)
}

/// Fetches that have derived `_beg`/`_end`/… ACL keywords in HAProxy 2.6.
fn takes_suffix(base: &str) -> bool {
    matches!(
        base,
        "path" | "url" | "hdr" | "req.hdr" | "urlp" | "url_param" | "cook" | "req.cook" | "base"
    )
}

fn fetch_named(name: &str, args: &[&str], word: &str) -> Result<Fetch, String> {
    let fetch = match (name, args) {
        ("path", []) => Fetch::Path,
        ("url", []) => Fetch::Url,
        ("query", []) => Fetch::Query,
        ("url_param" | "urlp", [param]) => Fetch::UrlParam(param.to_string()),
        ("method", []) => Fetch::Method,
        ("req.ver" | "req_ver", []) => Fetch::Version,
        ("hdr" | "req.hdr", [header]) => Fetch::Header {
            name: header.to_string(),
            occurrence: None,
        },
        ("hdr" | "req.hdr", [header, occurrence]) => Fetch::Header {
            name: header.to_string(),
            occurrence: Some(occurrence.parse().map_err(|_| {
                format!("invalid occurrence '{occurrence}' in ACL expression '{word}'")
            })?),
        },
        ("fhdr" | "req.fhdr", [header]) => Fetch::FullHeader {
            name: header.to_string(),
        },
        ("hdr_cnt" | "req.hdr_cnt", [header]) => Fetch::HeaderCount {
            name: header.to_string(),
        },
        ("cook" | "req.cook", [cookie]) => Fetch::Cookie(cookie.to_string()),
        ("src", []) => Fetch::Src,
        ("src_port", []) => Fetch::SrcPort,
        ("dst", []) => Fetch::Dst,
        ("dst_port", []) => Fetch::DstPort,
        ("always_true", []) => Fetch::AlwaysTrue,
        ("always_false", []) => Fetch::AlwaysFalse,
        ("ssl_fc", []) => Fetch::SslFc,
        ("ssl_fc_sni", []) => Fetch::SslFcSni,
        ("ssl_fc_protocol", []) => Fetch::SslFcProtocol,
        ("ssl_fc_cipher", []) => Fetch::SslFcCipher,
        ("ssl_fc_alpn", []) => Fetch::SslFcAlpn,
        ("ssl_c_used", []) => Fetch::SslCUsed,
        ("ssl_c_verify", []) => Fetch::SslCVerify,
        ("ssl_c_s_dn", []) => Fetch::SslCSDn {
            entry: None,
            occurrence: 1,
        },
        ("ssl_c_s_dn", [entry]) => Fetch::SslCSDn {
            entry: Some(entry.to_string()),
            occurrence: 1,
        },
        ("ssl_c_s_dn", [entry, occurrence]) => Fetch::SslCSDn {
            entry: Some(entry.to_string()),
            occurrence: match occurrence.parse::<i64>() {
                Ok(n) if n != 0 => n,
                _ => {
                    return Err(format!(
                        "invalid occurrence '{occurrence}' in ACL expression '{word}'"
                    ))
                }
            },
        },
        ("status", []) => Fetch::Status,
        ("res.hdr" | "shdr", [header]) => Fetch::ResHeader {
            name: header.to_string(),
            occurrence: None,
        },
        ("res.hdr" | "shdr", [header, occurrence]) => Fetch::ResHeader {
            name: header.to_string(),
            occurrence: Some(occurrence.parse().map_err(|_| {
                format!("invalid occurrence '{occurrence}' in ACL expression '{word}'")
            })?),
        },
        ("res.hdr_cnt" | "shdr_cnt", [header]) => Fetch::ResHeaderCount {
            name: header.to_string(),
        },
        ("base", []) => Fetch::Base,
        ("nbsrv", [] | [_]) => Fetch::NbSrv(ProxyRef::backend("nbsrv", args)),
        ("be_conn", [] | [_]) => Fetch::BeConn(ProxyRef::backend("be_conn", args)),
        ("srv_is_up", [server]) => Fetch::SrvIsUp(ProxyRef::server(server)),
        (
            "path" | "url" | "query" | "url_param" | "urlp" | "method" | "req.ver" | "hdr"
            | "req.hdr" | "fhdr" | "req.fhdr" | "hdr_cnt" | "req.hdr_cnt" | "cook" | "req.cook"
            | "src" | "src_port" | "dst" | "dst_port" | "always_true" | "always_false" | "ssl_fc"
            | "ssl_fc_sni" | "ssl_fc_protocol" | "ssl_fc_cipher" | "ssl_fc_alpn" | "ssl_c_used"
            | "ssl_c_verify" | "ssl_c_s_dn" | "status" | "res.hdr" | "shdr" | "res.hdr_cnt"
            | "shdr_cnt" | "base" | "nbsrv" | "be_conn" | "srv_is_up",
            _,
        ) => {
            return Err(format!(
                "wrong arguments to fetch '{name}' in ACL expression '{word}'"
            ))
        }
        _ => return Err(unknown(word)),
    };
    Ok(fetch)
}

/// `ssl_c_s_dn`'s value: the whole DN, or the `occurrence`th value of `entry` (from the end
/// when negative).
fn subject_value(cert: &[u8], entry: Option<&str>, occurrence: i64) -> Option<String> {
    let Some(entry) = entry else {
        return crate::tls::der::subject_dn(cert);
    };
    let values: Vec<String> = crate::tls::der::subject(cert)?
        .into_iter()
        .filter(|(name, _)| name == entry)
        .map(|(_, value)| value)
        .collect();
    let index = match occurrence {
        n if n > 0 => usize::try_from(n - 1).ok()?,
        n => values.len().checked_sub(usize::try_from(-n).ok()?)?,
    };
    values.into_iter().nth(index)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A request made of plain values.
    pub struct Plain {
        pub method: &'static str,
        pub target: &'static str,
        pub headers: Vec<(&'static str, &'static str)>,
        pub src: SocketAddr,
        pub tls: Option<TlsFacts<'static>>,
    }

    impl Plain {
        pub fn get(target: &'static str, headers: &[(&'static str, &'static str)]) -> Plain {
            Plain {
                method: "GET",
                target,
                headers: headers.to_vec(),
                src: "127.0.0.1:40000".parse().unwrap(),
                tls: None,
            }
        }
    }

    impl RequestView for Plain {
        fn method(&self) -> &[u8] {
            self.method.as_bytes()
        }
        fn target(&self) -> &[u8] {
            self.target.as_bytes()
        }
        fn version(&self) -> &'static [u8] {
            b"1.1"
        }
        fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
            self.headers
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        }
        fn src(&self) -> SocketAddr {
            self.src
        }
        fn dst(&self) -> Option<SocketAddr> {
            Some("127.0.0.1:8080".parse().unwrap())
        }
        fn tls(&self) -> Option<TlsFacts<'_>> {
            self.tls
        }
    }

    #[test]
    fn ssl_fc_fetches_read_the_tls_session_and_nothing_on_plain_tcp() {
        let plain = Plain::get("/", &[]);
        let mut tls = Plain::get("/", &[]);
        tls.tls = Some(TlsFacts {
            sni: Some("example.test"),
            protocol: "TLSv1.3",
            cipher: "TLS_AES_256_GCM_SHA384",
            alpn: Some(b"http/1.1"),
            client_cert: None,
        });
        let fetches = [
            "ssl_fc",
            "ssl_fc_sni",
            "ssl_fc_protocol",
            "ssl_fc_cipher",
            "ssl_fc_alpn",
        ];
        let on = |request: &Plain| -> Vec<Vec<String>> {
            fetches
                .iter()
                .map(|word| values(&parse_keyword(word).unwrap().0, request))
                .collect()
        };
        let expected: [&[&str]; 5] = [
            &["Bool(true)"],
            &["example.test"],
            &["TLSv1.3"],
            &["TLS_AES_256_GCM_SHA384"],
            &["http/1.1"],
        ];
        assert_eq!(on(&tls), expected);
        let none: [&[&str]; 5] = [&["Bool(false)"], &[], &[], &[], &[]];
        assert_eq!(on(&plain), none);
        assert_eq!(Fetch::SslFc.sample_type(), SampleType::Bool);
    }

    fn values(fetch: &Fetch, request: &Plain) -> Vec<String> {
        let mut seen = Vec::new();
        fetch.any(request, &mut |s| {
            seen.push(match s {
                Sample::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                other => format!("{other:?}"),
            });
            false
        });
        seen
    }

    #[test]
    fn path_drops_the_query_and_an_absolute_form_authority() {
        assert_eq!(path_of(b"/a/b?x=1"), b"/a/b");
        assert_eq!(path_of(b"http://h.example:80/a?x"), b"/a");
        assert_eq!(path_of(b"http://h.example"), b"");
        assert_eq!(path_of(b"*"), b"*");
    }

    #[test]
    fn header_values_split_on_commas_and_count_from_either_end() {
        let r = Plain::get("/", &[("X-A", "1, 2"), ("Host", "h"), ("x-a", " 3 ")]);
        let all = Fetch::Header {
            name: "x-a".into(),
            occurrence: None,
        };
        assert_eq!(values(&all, &r), ["1", "2", "3"]);
        let last = Fetch::Header {
            name: "x-a".into(),
            occurrence: Some(-1),
        };
        assert_eq!(values(&last, &r), ["3"]);
        let count = Fetch::HeaderCount { name: "x-a".into() };
        assert_eq!(values(&count, &r), ["Int(3)"]);
        let full = Fetch::FullHeader { name: "x-a".into() };
        assert_eq!(values(&full, &r), ["1, 2", " 3 "]);
    }

    #[test]
    fn query_parameters_and_cookies() {
        let r = Plain::get("/p?a=1&bb=2;c", &[("Cookie", "x=1; SRV=s2")]);
        assert_eq!(values(&Fetch::UrlParam("bb".into()), &r), ["2"]);
        assert_eq!(
            values(&Fetch::UrlParam("b".into()), &r),
            Vec::<String>::new()
        );
        assert_eq!(values(&Fetch::Query, &r), ["a=1&bb=2;c"]);
        assert_eq!(values(&Fetch::Cookie("SRV".into()), &r), ["s2"]);
    }

    #[test]
    fn keywords_name_a_fetch_and_the_match_they_imply() {
        assert_eq!(
            parse_keyword("path_beg").unwrap(),
            (Fetch::Path, Some(MatchKind::Beg))
        );
        assert_eq!(
            parse_keyword("hdr_cnt(host)").unwrap(),
            (
                Fetch::HeaderCount {
                    name: "host".into()
                },
                None
            )
        );
        assert_eq!(
            parse_keyword("pathx_beg").unwrap_err(),
            "unknown fetch method 'pathx_beg' in ACL expression 'pathx_beg'"
        );
        assert!(parse_keyword("src_beg").is_err());
        assert!(parse_keyword("hdr").is_err());
    }
}
