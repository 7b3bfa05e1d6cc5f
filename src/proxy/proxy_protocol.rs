//! The PROXY protocol (haproxy.org/download/2.6/doc/proxy-protocol.txt), versions 1 (text)
//! and 2 (binary): [`parse`] reads the header a load balancer in front of us sends first on a
//! connection (`bind … accept-proxy`); [`encode_v1`] / [`encode_v2`] write the one we send a
//! server (`server … send-proxy[-v2]`). Pure functions, no I/O: the connection code peeks
//! bytes, calls [`parse`] until it says how long the header is, then consumes exactly that.
//!
//! As HAProxy 2.6: a v1 line is at most 107 bytes; `PROXY UNKNOWN` and a v2 `LOCAL` command
//! keep the connection's own addresses; a v2 family other than TCP over IPv4/IPv6 (UDP, unix,
//! unspecified) is accepted and its addresses ignored; TLVs are skipped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature: the first 12 bytes of every v2 header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line, CRLF included.
pub const V1_MAX_LEN: usize = 107;
/// The longest v2 header accepted (16 fixed bytes, addresses and TLVs).
pub const V2_MAX_LEN: usize = 16 + 2048;

/// What the first bytes of a connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// A header may start here but is not complete: read more.
    Incomplete,
    /// A complete header of `len` bytes; `addresses` is the (source, destination) it carries,
    /// or None when the connection's own addresses stay (`UNKNOWN`, `LOCAL`, other families).
    Header {
        len: usize,
        addresses: Option<(SocketAddr, SocketAddr)>,
    },
}

/// Why a header was refused; each closes the connection with nothing forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Neither signature: the client did not speak the PROXY protocol.
    NotHeader,
    /// A header, malformed: bad syntax, address, port, version, command or length.
    BadHeader,
    /// A v1 protocol other than TCP4, TCP6, UNKNOWN.
    BadProtocol,
}

impl Error {
    /// HAProxy's words for it in the connection error log line.
    pub fn log_text(self) -> &'static str {
        match self {
            Error::NotHeader => {
                "Received something which does not look like a PROXY protocol header"
            }
            Error::BadHeader => "Received an invalid PROXY protocol header",
            Error::BadProtocol => "Received an unhandled protocol in the PROXY protocol header",
        }
    }
}

/// Parses the header at the start of `buf` (v1 or v2, told apart by the first byte).
pub fn parse(buf: &[u8]) -> Result<Parsed, Error> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(Error::NotHeader),
    }
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, Error> {
    const PREFIX: &[u8] = b"PROXY ";
    let common = buf.len().min(PREFIX.len());
    if buf[..common] != PREFIX[..common] {
        return Err(Error::NotHeader);
    }
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX_LEN {
            Err(Error::BadHeader)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let line = std::str::from_utf8(&buf[PREFIX.len()..end]).map_err(|_| Error::BadHeader)?;
    let len = end + 2;
    let mut words = line.split(' ');
    let family = words.next().unwrap_or_default();
    if family == "UNKNOWN" {
        return Ok(Parsed::Header {
            len,
            addresses: None,
        });
    }
    let v6 = match family {
        "TCP4" => false,
        "TCP6" => true,
        _ => return Err(Error::BadProtocol),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return Err(Error::BadHeader);
    };
    let ip = |text: &str| -> Result<IpAddr, Error> {
        if v6 {
            text.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            text.parse::<Ipv4Addr>().map(IpAddr::V4)
        }
        .map_err(|_| Error::BadHeader)
    };
    let source = SocketAddr::new(ip(src)?, v1_port(sport)?);
    let destination = SocketAddr::new(ip(dst)?, v1_port(dport)?);
    Ok(Parsed::Header {
        len,
        addresses: Some((source, destination)),
    })
}

/// A v1 port: 1 to 5 digits, 0..=65535 (no sign, no space).
fn v1_port(text: &str) -> Result<u16, Error> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadHeader);
    }
    text.parse().map_err(|_| Error::BadHeader)
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, Error> {
    let common = buf.len().min(V2_SIGNATURE.len());
    if buf[..common] != V2_SIGNATURE[..common] {
        return Err(Error::NotHeader);
    }
    if buf.len() < 16 {
        return Ok(Parsed::Incomplete);
    }
    let (version, command) = (buf[12] >> 4, buf[12] & 0x0f);
    if version != 2 || command > 1 {
        return Err(Error::BadHeader);
    }
    let body_len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let len = 16 + body_len;
    if len > V2_MAX_LEN {
        return Err(Error::BadHeader);
    }
    if buf.len() < len {
        return Ok(Parsed::Incomplete);
    }
    let body = &buf[16..len];
    // LOCAL: a health check of the balancer in front; its addresses mean nothing.
    if command == 0 {
        return Ok(Parsed::Header {
            len,
            addresses: None,
        });
    }
    let addresses = match buf[13] {
        0x11 => {
            let a = body.get(..12).ok_or(Error::BadHeader)?;
            let ip = |at: usize| IpAddr::V4(Ipv4Addr::new(a[at], a[at + 1], a[at + 2], a[at + 3]));
            let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
            Some((
                SocketAddr::new(ip(0), port(8)),
                SocketAddr::new(ip(4), port(10)),
            ))
        }
        0x21 => {
            let a = body.get(..36).ok_or(Error::BadHeader)?;
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
            Some((
                SocketAddr::new(ip(0), port(32)),
                SocketAddr::new(ip(16), port(34)),
            ))
        }
        // UNSPEC, UDP, unix: accepted, the connection's own addresses stay (as HAProxy).
        _ => None,
    };
    Ok(Parsed::Header { len, addresses })
}

/// Appends the v1 line for a connection from `source` to `destination` (`TCP4` when both are
/// IPv4, `TCP6` when both are IPv6, `UNKNOWN` when they differ, as HAProxy writes it).
pub fn encode_v1(source: SocketAddr, destination: SocketAddr, out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => write!(
            out,
            "PROXY TCP4 {s} {d} {} {}\r\n",
            source.port(),
            destination.port()
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => write!(
            out,
            "PROXY TCP6 {s} {d} {} {}\r\n",
            source.port(),
            destination.port()
        ),
        _ => write!(out, "PROXY UNKNOWN\r\n"),
    };
}

/// Appends the v2 header (PROXY command, TCP over the addresses' family, no TLV) for a
/// connection from `source` to `destination`; mixed families are written as IPv6 with the
/// IPv4 one mapped.
pub fn encode_v2(source: SocketAddr, destination: SocketAddr, out: &mut Vec<u8>) {
    out.extend_from_slice(&V2_SIGNATURE);
    out.push(0x21);
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.push(0x21);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6_octets(s));
            out.extend_from_slice(&v6_octets(d));
        }
    }
    out.extend_from_slice(&source.port().to_be_bytes());
    out.extend_from_slice(&destination.port().to_be_bytes());
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn header(buf: &[u8]) -> (usize, Option<(SocketAddr, SocketAddr)>) {
        match parse(buf) {
            Ok(Parsed::Header { len, addresses }) => (len, addresses),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn v1_tcp4_tcp6_and_unknown() {
        let buf = b"PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n";
        let (len, addresses) = header(buf);
        assert_eq!(&buf[len..len + 3], b"GET");
        assert_eq!(
            addresses,
            Some((addr("192.0.2.7:56324"), addr("10.0.0.1:443")))
        );
        let (_, addresses) = header(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
        assert_eq!(
            addresses,
            Some((addr("[2001:db8::1]:1"), addr("[::1]:65535")))
        );
        assert_eq!(header(b"PROXY UNKNOWN\r\n"), (15, None));
        assert_eq!(header(b"PROXY UNKNOWN 1.2.3.4 junk\r\n").1, None);
    }

    #[test]
    fn v1_incomplete_until_crlf_then_bad_past_107_bytes() {
        for cut in 1..40 {
            let buf = b"PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n";
            assert_eq!(parse(&buf[..cut]), Ok(Parsed::Incomplete), "{cut}");
        }
        let long = [b"PROXY TCP4 ".as_slice(), &[b'1'; 200]].concat();
        assert_eq!(parse(&long), Err(Error::BadHeader));
    }

    #[test]
    fn v1_malformed_lines_are_refused() {
        for bad in [
            &b"PROXY TCP4 192.0.2.7 10.0.0.1 56324\r\n"[..],
            b"PROXY TCP4 192.0.2.7 10.0.0.1 56324 443 9\r\n",
            b"PROXY TCP4 ::1 10.0.0.1 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 10.0.0.1 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 10.0.0.1 +1 2\r\n",
            b"PROXY TCP4  1.2.3.4 10.0.0.1 1 2\r\n",
            b"PROXY TCP4 1.2.3.256 10.0.0.1 1 2\r\n",
        ] {
            assert_eq!(
                parse(bad),
                Err(Error::BadHeader),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse(b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"),
            Err(Error::BadProtocol)
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(Error::NotHeader));
        assert_eq!(parse(b"PRAXY"), Err(Error::NotHeader));
        assert_eq!(parse(b"\r\n\r\n\0\r\nQUIX\n"), Err(Error::NotHeader));
    }

    #[test]
    fn v2_round_trips_and_local_keeps_the_connection_addresses() {
        for (s, d) in [
            ("192.0.2.7:56324", "10.0.0.1:443"),
            ("[2001:db8::7]:1", "[::1]:8080"),
        ] {
            let mut out = b"junk".to_vec();
            out.clear();
            encode_v2(addr(s), addr(d), &mut out);
            out.extend_from_slice(b"GET");
            let (len, addresses) = header(&out);
            assert_eq!(&out[len..], b"GET");
            assert_eq!(addresses, Some((addr(s), addr(d))));
            for cut in 1..len {
                assert_eq!(parse(&out[..cut]), Ok(Parsed::Incomplete), "{cut}");
            }
            let mut v1 = Vec::new();
            encode_v1(addr(s), addr(d), &mut v1);
            assert_eq!(header(&v1), (v1.len(), Some((addr(s), addr(d)))));
        }
        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(header(&local), (16, None));
    }

    #[test]
    fn v2_bad_version_command_or_length_is_refused() {
        let mut good = Vec::new();
        encode_v2(addr("1.2.3.4:1"), addr("5.6.7.8:2"), &mut good);
        let mut bad_version = good.clone();
        bad_version[12] = 0x11;
        assert_eq!(parse(&bad_version), Err(Error::BadHeader));
        let mut bad_command = good.clone();
        bad_command[12] = 0x22;
        assert_eq!(parse(&bad_command), Err(Error::BadHeader));
        // TCP4 with fewer than 12 address bytes.
        let mut short = good[..16].to_vec();
        short[15] = 4;
        short.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(parse(&short), Err(Error::BadHeader));
        let mut huge = good[..16].to_vec();
        huge[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(parse(&huge), Err(Error::BadHeader));
        // TLVs after the addresses are skipped.
        let mut tlv = good[..16].to_vec();
        tlv[15] = 12 + 5;
        tlv.extend_from_slice(&good[16..]);
        tlv.extend_from_slice(&[0x04, 0, 2, b'o', b'k']);
        assert_eq!(header(&tlv).0, 16 + 17);
    }
}
