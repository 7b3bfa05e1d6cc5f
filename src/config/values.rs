//! Parsing of single argument values: times, numbers, octal modes and addresses, for the
//! config and for the runtime API.
//!
//! Every function returns a plain message on error; the caller names the keyword and adds
//! file:line. HAProxy reads numbers with `atol` and silently turns garbage into 0; the config
//! refuses it ([`parse_u32`]), the runtime API reads them as HAProxy does ([`atoi`]).

use super::model::SocketAddress;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The unit a time without one is in: milliseconds in the config and for `wait`, seconds for
/// `set timeout cli`, as in HAProxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Milliseconds,
    Seconds,
}

/// A time such as `5000`, `5s`, `100ms`, `2m`: digits then an optional unit among
/// `us ms s m h d`; no unit means milliseconds, as in HAProxy.
pub(super) fn parse_time(text: &str) -> Result<Duration, String> {
    parse_time_in(text, TimeUnit::Milliseconds)
}

/// HAProxy's `parse_time_err`, the one time reader of the config and the runtime API: digits,
/// then an optional unit among `us ms s m h d`; no unit means `default`.
pub fn parse_time_in(text: &str, default: TimeUnit) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let invalid = || {
        let default = match default {
            TimeUnit::Milliseconds => "ms",
            TimeUnit::Seconds => "s",
        };
        format!("invalid time '{text}': expected a number with an optional unit us, ms, s, m, h or d (default {default})")
    };
    let value: u64 = digits.parse().map_err(|_| invalid())?;
    let micros_per_unit: u64 = match (unit, default) {
        ("us", _) => 1,
        ("", TimeUnit::Milliseconds) | ("ms", _) => 1_000,
        ("", TimeUnit::Seconds) | ("s", _) => 1_000_000,
        ("m", _) => 60_000_000,
        ("h", _) => 3_600_000_000,
        ("d", _) => 86_400_000_000,
        _ => return Err(invalid()),
    };
    value
        .checked_mul(micros_per_unit)
        .map(Duration::from_micros)
        .ok_or_else(|| format!("time '{text}' is too large"))
}

/// C's `strtol(word, &end, 10)`, as HAProxy reads the runtime API's numbers: the value
/// (saturated) and the text after the number, or `None` when no digit was found.
pub fn strtol(word: &str) -> Option<(i64, &str)> {
    let trimmed = word.trim_start();
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let magnitude = unsigned[..digits].bytes().fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add((d - b'0') as i64)
    });
    let value = if negative { -magnitude } else { magnitude };
    Some((value, &unsigned[digits..]))
}

/// C's `atoi`: the leading number, 0 when there is none.
pub fn atoi(word: &str) -> i64 {
    strtol(word).map(|(v, _)| v).unwrap_or(0)
}

/// A non-negative decimal integer.
pub(super) fn parse_u32(text: &str) -> Result<u32, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{text}' is not a number"));
    }
    text.parse().map_err(|_| format!("{text} is too large"))
}

/// A file mode written in octal, as for chmod (`660`, `0600`).
pub(super) fn parse_octal_mode(text: &str) -> Result<u32, String> {
    match u32::from_str_radix(text, 8) {
        Ok(mode) if mode <= 0o7777 && !text.starts_with('+') => Ok(mode),
        _ => Err(format!("'{text}' is not an octal file mode such as 660")),
    }
}

/// Address families a `family@` prefix may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    V4,
    V6,
}

/// The address of a `bind` line: `:80`, `*:80`, `0.0.0.0:80`, `[::1]:80`, `ipv4@…`, `ipv6@…`,
/// `unix@PATH` (or a path starting with `/`), `fd@N`. An empty or `*` host means every address
/// (IPv4, or IPv6 with `ipv6@`), as in HAProxy.
pub(super) fn parse_bind_addr(text: &str) -> Result<SocketAddress, String> {
    if let Some(path) = text.strip_prefix("unix@") {
        return unix_path(path, text);
    }
    if text.starts_with('/') {
        return unix_path(text, text);
    }
    if let Some(fd) = text.strip_prefix("fd@") {
        return parse_fd(fd, text).map(SocketAddress::Fd);
    }
    parse_listen_addr(text).map(SocketAddress::Tcp)
}

/// `fd@N`: an inherited descriptor. 0, 1 and 2 are the standard streams, never a listener.
fn parse_fd(number: &str, text: &str) -> Result<i32, String> {
    match number.parse::<i32>() {
        Ok(fd) if fd > 2 && number.bytes().all(|b| b.is_ascii_digit()) => Ok(fd),
        _ => Err(format!(
            "'{text}': expected fd@<number> with a file descriptor number of 3 or more"
        )),
    }
}

/// A TCP listening address: `:80`, `*:80`, `0.0.0.0:80`, `[::1]:80`, `ipv4@…`, `ipv6@…`.
pub(super) fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let (family, rest) = split_family(text)?;
    let (host, port) = split_host_port(rest)?;
    let port = port.ok_or_else(|| missing_port(text))?;
    let ip = match host {
        "" | "*" if family == Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        "" | "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => parse_host(host, family)?,
    };
    Ok(SocketAddr::new(ip, parse_port(port)?))
}

/// The address of a `server` line: `127.0.0.1:80`, `[::1]:80`, `localhost:80`, optionally with
/// an `ipv4@`/`ipv6@` prefix. Unlike HAProxy, the port is mandatory.
pub(super) fn parse_server_addr(text: &str) -> Result<SocketAddr, String> {
    let (family, rest) = split_family(text)?;
    let (host, port) = split_host_port(rest)?;
    let port = port.ok_or_else(|| missing_port(text))?;
    if host.is_empty() || host == "*" {
        return Err(format!(
            "address '{text}' has no host: expected <ip>:<port>"
        ));
    }
    Ok(SocketAddr::new(
        parse_host(host, family)?,
        parse_port(port)?,
    ))
}

/// The address of a `stats socket`: a unix socket path (`/run/x.sock`, `./admin.sock`,
/// `unix@path`), a TCP address (`ipv4@127.0.0.1:9999`, `127.0.0.1:9999`) or an inherited
/// listening socket (`fd@N`).
pub(super) fn parse_socket_address(text: &str) -> Result<SocketAddress, String> {
    if let Some(path) = text.strip_prefix("unix@") {
        return unix_path(path, text);
    }
    if let Some(fd) = text.strip_prefix("fd@") {
        return parse_fd(fd, text).map(SocketAddress::Fd);
    }
    // HAProxy: without a family prefix, anything starting with '/' or without ':' is a path.
    let looks_like_path = text.starts_with('/') || text.starts_with('.') || !text.contains(':');
    if looks_like_path && !text.contains('@') {
        return unix_path(text, text);
    }
    parse_listen_addr(text).map(SocketAddress::Tcp)
}

fn unix_path(path: &str, text: &str) -> Result<SocketAddress, String> {
    if path.is_empty() {
        return Err(format!("'{text}' has no path"));
    }
    Ok(SocketAddress::Unix(PathBuf::from(path)))
}

fn missing_port(text: &str) -> String {
    format!("address '{text}' has no port: expected <addr>:<port>")
}

fn split_family(text: &str) -> Result<(Family, &str), String> {
    let Some((prefix, rest)) = text.split_once('@') else {
        return Ok((Family::Any, text));
    };
    match prefix {
        "ipv4" => Ok((Family::V4, rest)),
        "ipv6" => Ok((Family::V6, rest)),
        _ => Err(format!(
            "address family '{prefix}@' is not supported here (use an IP address, 'ipv4@', 'ipv6@', 'unix@' or 'fd@')"
        )),
    }
}

/// `[v6]:port`, `host:port`, `host`, or an unbracketed IPv6 address whose last `:` starts the
/// port (`:::80`), as HAProxy reads it.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("address '{text}' has '[' without ']'"))?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!(
                    "unexpected '{after}' after ']' in address '{text}'"
                )),
            },
        };
    }
    Ok(match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    })
}

fn parse_host(host: &str, family: Family) -> Result<IpAddr, String> {
    let ip = match host {
        "localhost" if family == Family::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => host.parse::<IpAddr>().map_err(|_| {
            format!("'{host}' is not an IP address (host names other than 'localhost' are not resolved)")
        })?,
    };
    match (family, ip) {
        (Family::V4, IpAddr::V6(_)) => {
            Err(format!("'{host}' is not an IPv4 address (after 'ipv4@')"))
        }
        (Family::V6, IpAddr::V4(_)) => {
            Err(format!("'{host}' is not an IPv6 address (after 'ipv6@')"))
        }
        _ => Ok(ip),
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    if port.contains('-') {
        return Err(format!("port ranges ('{port}') are not supported"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!(
            "invalid port '{port}': expected a number from 1 to 65535"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn times_take_every_unit_and_default_to_milliseconds() {
        assert_eq!(parse_time("5000"), Ok(Duration::from_millis(5000)));
        assert_eq!(parse_time("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_time("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_time("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_time("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_time("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_time("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_time("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_times_are_refused() {
        let expected = "invalid time '5sec': expected a number with an optional unit us, ms, s, m, h or d (default ms)";
        assert_eq!(parse_time("5sec").unwrap_err(), expected);
        for bad in ["", "s", "-1s", "1.5s", " 5s", "5 s", "5S"] {
            assert!(parse_time(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_time("99999999999999999d").unwrap_err(),
            "time '99999999999999999d' is too large"
        );
    }

    #[test]
    fn times_may_default_to_seconds() {
        assert_eq!(
            parse_time_in("60", TimeUnit::Seconds),
            Ok(Duration::from_secs(60))
        );
        assert_eq!(
            parse_time_in("1500ms", TimeUnit::Seconds),
            Ok(Duration::from_millis(1500))
        );
        assert!(parse_time_in("5x", TimeUnit::Seconds)
            .unwrap_err()
            .ends_with("(default s)"));
    }

    #[test]
    fn runtime_numbers_read_as_c_does() {
        assert_eq!(strtol(" -12abc"), Some((-12, "abc")));
        assert_eq!(strtol("+7%"), Some((7, "%")));
        assert_eq!(strtol("abc"), None);
        assert_eq!(strtol("99999999999999999999"), Some((i64::MAX, "")));
        assert_eq!((atoi("10x"), atoi("x")), (10, 0));
    }

    #[test]
    fn numbers_are_plain_decimal() {
        assert_eq!(parse_u32("42"), Ok(42));
        assert_eq!(parse_u32("abc").unwrap_err(), "'abc' is not a number");
        assert_eq!(parse_u32("-1").unwrap_err(), "'-1' is not a number");
        assert_eq!(parse_u32("+1").unwrap_err(), "'+1' is not a number");
        assert_eq!(
            parse_u32("99999999999").unwrap_err(),
            "99999999999 is too large"
        );
    }

    #[test]
    fn octal_modes() {
        assert_eq!(parse_octal_mode("660"), Ok(0o660));
        assert_eq!(parse_octal_mode("0600"), Ok(0o600));
        assert!(parse_octal_mode("689").is_err());
        assert!(parse_octal_mode("77777").is_err());
    }

    #[test]
    fn listen_addresses_in_every_haproxy_spelling() {
        assert_eq!(parse_listen_addr(":80"), Ok(addr("0.0.0.0:80")));
        assert_eq!(parse_listen_addr("*:80"), Ok(addr("0.0.0.0:80")));
        assert_eq!(parse_listen_addr("0.0.0.0:80"), Ok(addr("0.0.0.0:80")));
        assert_eq!(parse_listen_addr("127.0.0.1:80"), Ok(addr("127.0.0.1:80")));
        assert_eq!(parse_listen_addr("[::1]:80"), Ok(addr("[::1]:80")));
        assert_eq!(parse_listen_addr(":::80"), Ok(addr("[::]:80")));
        assert_eq!(
            parse_listen_addr("ipv4@127.0.0.1:80"),
            Ok(addr("127.0.0.1:80"))
        );
        assert_eq!(parse_listen_addr("ipv6@[::1]:80"), Ok(addr("[::1]:80")));
        assert_eq!(parse_listen_addr("ipv6@:80"), Ok(addr("[::]:80")));
        assert_eq!(parse_listen_addr("localhost:80"), Ok(addr("127.0.0.1:80")));
    }

    #[test]
    fn bad_listen_addresses() {
        assert_eq!(
            parse_listen_addr("127.0.0.1").unwrap_err(),
            "address '127.0.0.1' has no port: expected <addr>:<port>"
        );
        assert_eq!(
            parse_listen_addr(":80-81").unwrap_err(),
            "port ranges ('80-81') are not supported"
        );
        assert_eq!(
            parse_listen_addr(":0").unwrap_err(),
            "invalid port '0': expected a number from 1 to 65535"
        );
        assert_eq!(
            parse_listen_addr(":65536").unwrap_err(),
            "invalid port '65536': expected a number from 1 to 65535"
        );
        assert_eq!(
            parse_listen_addr("ipv4@[::1]:80").unwrap_err(),
            "'::1' is not an IPv4 address (after 'ipv4@')"
        );
        assert_eq!(
            parse_listen_addr("ipv6@127.0.0.1:80").unwrap_err(),
            "'127.0.0.1' is not an IPv6 address (after 'ipv6@')"
        );
        assert!(parse_listen_addr("abns@x:1")
            .unwrap_err()
            .contains("'abns@' is not supported here"));
        assert!(parse_listen_addr("[::1:80")
            .unwrap_err()
            .contains("without ']'"));
        assert!(parse_listen_addr("[::1]80")
            .unwrap_err()
            .contains("unexpected '80' after ']'"));
    }

    #[test]
    fn bind_addresses_take_unix_and_fd_forms() {
        assert_eq!(
            parse_bind_addr("ipv4@127.0.0.1:80"),
            Ok(SocketAddress::Tcp(addr("127.0.0.1:80")))
        );
        assert_eq!(
            parse_bind_addr("ipv6@[::1]:80"),
            Ok(SocketAddress::Tcp(addr("[::1]:80")))
        );
        assert_eq!(
            parse_bind_addr("unix@/run/app.sock"),
            Ok(SocketAddress::Unix(PathBuf::from("/run/app.sock")))
        );
        assert_eq!(
            parse_bind_addr("/run/app.sock"),
            Ok(SocketAddress::Unix(PathBuf::from("/run/app.sock")))
        );
        assert_eq!(parse_bind_addr("fd@3"), Ok(SocketAddress::Fd(3)));
        assert_eq!(parse_bind_addr("fd@42"), Ok(SocketAddress::Fd(42)));
        for bad in ["fd@", "fd@2", "fd@-1", "fd@x", "fd@+4", "unix@"] {
            assert!(parse_bind_addr(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            parse_bind_addr("fd@1").unwrap_err(),
            "'fd@1': expected fd@<number> with a file descriptor number of 3 or more"
        );
    }

    #[test]
    fn server_addresses() {
        assert_eq!(parse_server_addr("127.0.0.1:81"), Ok(addr("127.0.0.1:81")));
        assert_eq!(parse_server_addr("[::1]:81"), Ok(addr("[::1]:81")));
        assert_eq!(parse_server_addr("localhost:81"), Ok(addr("127.0.0.1:81")));
        assert_eq!(parse_server_addr("ipv6@localhost:81"), Ok(addr("[::1]:81")));
        assert_eq!(
            parse_server_addr("127.0.0.1").unwrap_err(),
            "address '127.0.0.1' has no port: expected <addr>:<port>"
        );
        assert_eq!(
            parse_server_addr("[::1]").unwrap_err(),
            "address '[::1]' has no port: expected <addr>:<port>"
        );
        assert_eq!(
            parse_server_addr(":81").unwrap_err(),
            "address ':81' has no host: expected <ip>:<port>"
        );
        assert_eq!(
            parse_server_addr("web1.example.com:80").unwrap_err(),
            "'web1.example.com' is not an IP address (host names other than 'localhost' are not resolved)"
        );
    }

    #[test]
    fn stats_socket_addresses() {
        let unix = |p: &str| SocketAddress::Unix(PathBuf::from(p));
        assert_eq!(
            parse_socket_address("/run/haproxy/admin.sock"),
            Ok(unix("/run/haproxy/admin.sock"))
        );
        assert_eq!(
            parse_socket_address("./admin.sock"),
            Ok(unix("./admin.sock"))
        );
        assert_eq!(parse_socket_address("admin.sock"), Ok(unix("admin.sock")));
        assert_eq!(
            parse_socket_address("unix@/tmp/a.sock"),
            Ok(unix("/tmp/a.sock"))
        );
        assert_eq!(
            parse_socket_address("ipv4@127.0.0.1:9999"),
            Ok(SocketAddress::Tcp(addr("127.0.0.1:9999")))
        );
        assert_eq!(
            parse_socket_address("127.0.0.1:9999"),
            Ok(SocketAddress::Tcp(addr("127.0.0.1:9999")))
        );
        assert_eq!(parse_socket_address("fd@7"), Ok(SocketAddress::Fd(7)));
        assert!(parse_socket_address("fd@0").is_err());
        assert!(parse_socket_address("unix@").is_err());
        assert!(parse_socket_address("abns@x").is_err());
    }
}
