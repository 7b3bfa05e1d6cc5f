//! A tcp-check's rules in order, as HAProxy 2.6's `tcpcheck_main` runs them: connects, sends,
//! and expects that read what they need (up to 16 kB), and HAProxy's words for each verdict
//! (`TCPCHK did not match content '+PONG' at step 2`, ` at step 1 of tcp-check (expect
//! string '220')` on a timeout). A protocol check (`redis-check` …) reports its own messages
//! instead of the generic ones.

use super::probe::{connect_tcp, Clock, Outcome, MAX_RESPONSE};
use crate::config::{TcpCheck, TcpCheckProtocol, TcpCheckRule, TcpExpect, TcpMatch};
use crate::state::CheckStatus;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::time::Instant;

/// The connection of the check and what it has read since the last connect or send.
struct Session {
    stream: Option<TcpStream>,
    input: Vec<u8>,
    /// The server closed (or reset after sending something): no more to read.
    ended: bool,
    /// The next expect reads first (a connect or a send happened since the last read).
    must_read: bool,
    deadline: Instant,
}

/// How reading for an expect went.
enum Read {
    Some,
    TimedOut,
    /// Reset with nothing read.
    Reset,
}

/// What an expect rule made of the bytes read so far.
enum Verdict {
    Pass,
    /// Read more, then look again.
    Wait,
    Fail(Outcome),
}

/// Runs the rules; the first that fails is the verdict. All pass: HAProxy's status for the
/// last rule (`L7OK` after an expect or a send, `L4OK` after a connect).
pub(super) async fn run_tcp_rules(
    addr: SocketAddr,
    check: &TcpCheck,
    clock: Clock,
) -> Result<Outcome, Outcome> {
    let mut session = Session {
        stream: None,
        input: Vec::new(),
        ended: false,
        must_read: true,
        deadline: clock.response_deadline(),
    };
    let generic = check.protocol == TcpCheckProtocol::Generic;
    let mut code = 0;
    let mut last_success = None;
    for (index, rule) in check.rules.iter().enumerate() {
        let step = Step {
            id: check.steps.get(index).copied().unwrap_or(index),
            rule,
            generic,
        };
        code = 0;
        match rule {
            TcpCheckRule::Connect(c) => {
                let target =
                    SocketAddr::new(c.addr.unwrap_or(addr.ip()), c.port.unwrap_or(addr.port()));
                let mut stream = connect_tcp(target, clock.timeouts.connect)
                    .await
                    .map_err(|failed| step.connect_failed(failed))?;
                if c.send_proxy && send_proxy_header(&mut stream).await.is_err() {
                    return Err(Outcome::status(CheckStatus::SockErr));
                }
                session.stream = Some(stream);
                session.input.clear();
                session.ended = false;
                session.must_read = true;
                session.deadline = clock.response_deadline();
            }
            TcpCheckRule::Send { data, .. } => {
                let Some(stream) = session.stream.as_mut() else {
                    return Err(Outcome::status(CheckStatus::L7Rsp));
                };
                if stream.write_all(data).await.is_err() {
                    return Err(step.reset());
                }
                session.input.clear();
                session.must_read = true;
            }
            TcpCheckRule::Expect(expect) => {
                (code, last_success) = run_expect(&mut session, expect, &step).await?;
            }
        }
    }
    Ok(success(check.rules.last(), generic, code, last_success))
}

/// `tcp-check connect send-proxy`: a PROXY v1 header naming the check's own connection (its
/// local address as the source, the server as the destination), as HAProxy 2.6 sends it.
async fn send_proxy_header(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut header = Vec::new();
    crate::proxy::proxy_protocol::encode_v1(stream.local_addr()?, stream.peer_addr()?, &mut header);
    stream.write_all(&header).await
}

/// The verdict of a check whose rules all passed.
fn success(last: Option<&TcpCheckRule>, generic: bool, code: u16, info: Option<String>) -> Outcome {
    let tcp_check = generic.then(|| "(tcp-check)".to_string());
    match last {
        Some(TcpCheckRule::Connect(c)) => Outcome {
            status: CheckStatus::L4Ok,
            code: None,
            info: if c.implicit { None } else { tcp_check },
        },
        Some(TcpCheckRule::Expect(_)) => Outcome {
            status: CheckStatus::L7Ok,
            code: Some(code),
            info: info.or(tcp_check),
        },
        _ => Outcome {
            status: CheckStatus::L7Ok,
            code: Some(0),
            info: Some("(tcp-check)".into()),
        },
    }
}

/// Reads and judges until the rule passes or fails: its code and success text on a pass.
async fn run_expect(
    session: &mut Session,
    expect: &TcpExpect,
    step: &Step<'_>,
) -> Result<(u16, Option<String>), Outcome> {
    let mut read = session.must_read;
    loop {
        if read {
            match read_more(session).await {
                Read::Some => {}
                Read::TimedOut => return Err(step.timed_out()),
                Read::Reset => return Err(step.reset()),
            }
            if session.input.is_empty() {
                if session.ended {
                    return Err(step.empty_response(expect));
                }
                continue;
            }
            session.must_read = false;
        }
        let last_read = session.ended || session.input.len() >= MAX_RESPONSE;
        match judge(expect, &session.input, last_read, step) {
            Verdict::Pass => {
                let code = payload_code(expect, &session.input);
                let info = success_info(expect, &session.input);
                return Ok((code, info));
            }
            Verdict::Wait => read = true,
            Verdict::Fail(outcome) => return Err(outcome),
        }
    }
}

/// Reads what the server sends next, before the check's deadline; a full buffer or the end
/// of the response leaves it as it is.
async fn read_more(session: &mut Session) -> Read {
    let Some(stream) = session.stream.as_mut() else {
        session.ended = true;
        return Read::Some;
    };
    if session.ended || session.input.len() >= MAX_RESPONSE {
        return Read::Some;
    }
    let left = session.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Read::TimedOut;
    }
    let _ = stream.set_read_timeout(Some(left));
    let mut chunk = [0u8; 4096];
    let room = chunk.len().min(MAX_RESPONSE - session.input.len());
    match stream.read(&mut chunk[..room]).await {
        Ok(0) => session.ended = true,
        Ok(n) => session.input.extend_from_slice(&chunk[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Read::TimedOut,
        // HAProxy reports a network error only when nothing was read before it.
        Err(_) if session.input.is_empty() => return Read::Reset,
        Err(_) => session.ended = true,
    }
    Read::Some
}

/// One rule against the bytes read: HAProxy's `tcpcheck_eval_expect`, waiting for more while
/// the response may still match.
fn judge(expect: &TcpExpect, input: &[u8], last_read: bool, step: &Step) -> Verdict {
    match &expect.matcher {
        TcpMatch::MysqlPacket { after_handshake } => {
            return mysql_packet(input, *after_handshake, last_read)
        }
        TcpMatch::LdapBind => return ldap_bind(input),
        _ => {}
    }
    if !last_read {
        let wanted = match &expect.matcher {
            TcpMatch::String(s) | TcpMatch::Binary(s) => s.len(),
            _ => 0,
        };
        if input.len() < wanted || expect.min_recv.is_some_and(|n| input.len() < n) {
            return Verdict::Wait;
        }
    }
    let matched = match &expect.matcher {
        TcpMatch::String(s) | TcpMatch::Binary(s) => contains(input, s),
        TcpMatch::RString(re) => re.0.is_match(input),
        TcpMatch::RBinary(re) => re.0.is_match(hex_dump(input).as_bytes()),
        _ => false,
    };
    if !matched && !last_read && expect.min_recv.is_none() {
        return Verdict::Wait;
    }
    if matched != expect.inverse {
        return Verdict::Pass;
    }
    Verdict::Fail(step.mismatch(expect, input, matched))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The bytes as HAProxy's `dump_binary` writes them for `rbinary`: upper-case hex.
fn hex_dump(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `status-code res.payload(0,3)`: the reply's three digits (`smtpchk`), else 0.
fn payload_code(expect: &TcpExpect, input: &[u8]) -> u16 {
    if !expect.code_from_payload {
        return 0;
    }
    std::str::from_utf8(input.get(..3).unwrap_or_default())
        .ok()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}

/// The rule's `on-success` text. (HAProxy's MySQL and LDAP checks set a text of their own,
/// the server version or `Success`, but the end of the rule list overwrites it with nothing.)
fn success_info(expect: &TcpExpect, input: &[u8]) -> Option<String> {
    expect.on_success.as_ref().map(|text| text.render(input))
}

/// HAProxy's MySQL packet check: a whole packet (3-byte length, sequence id) at the start, or
/// after the handshake for the OK packet; `0xff` first is an error packet (`L7STS`, its code
/// and message).
fn mysql_packet(input: &[u8], after_handshake: bool, last_read: bool) -> Verdict {
    let length = |at: usize| -> Option<usize> {
        let b = input.get(at..at + 3)?;
        Some(usize::from(b[0]) | usize::from(b[1]) << 8 | usize::from(b[2]) << 16)
    };
    let offset = if after_handshake {
        length(0).map_or(usize::MAX, |n| n + 4)
    } else {
        0
    };
    let complete = offset
        .checked_add(4)
        .and_then(|head| Some(head + length(offset)?))
        .is_some_and(|end| input.len() >= end);
    if !complete {
        return if last_read {
            Verdict::Fail(Outcome::status(CheckStatus::L7Rsp))
        } else {
            Verdict::Wait
        };
    }
    if input.get(offset + 4) == Some(&0xff) {
        let code = input
            .get(offset + 5..offset + 7)
            .map_or(0, |b| u16::from(b[0]) | u16::from(b[1]) << 8);
        let message = String::from_utf8_lossy(input.get(offset + 7..).unwrap_or_default());
        return Verdict::Fail(Outcome {
            status: CheckStatus::L7Sts,
            code: Some(code),
            info: Some(message.trim_end_matches('\0').to_string()),
        });
    }
    Verdict::Pass
}

/// HAProxy's LDAPv3 bind response check (RFC 4511): message id 1, a bindResponse, and its
/// result code (0 passes, another is `L7STS` with that code).
fn ldap_bind(input: &[u8]) -> Verdict {
    let at = |i: usize| input.get(i).copied().unwrap_or(0);
    let not_ldap = || {
        Verdict::Fail(Outcome {
            status: CheckStatus::L7Rsp,
            code: None,
            info: Some("Not LDAPv3 protocol".into()),
        })
    };
    let mut len = if at(1) & 0x80 != 0 {
        usize::from(at(1) & 0x7f)
    } else {
        0
    };
    if len > 2 || input.get(2 + len..6 + len) != Some(b"\x02\x01\x01\x61".as_slice()) {
        return not_ldap();
    }
    if at(len + 6) & 0x80 != 0 {
        len += usize::from(at(len + 6) & 0x7f);
    }
    if len > 4 || input.get(7 + len..9 + len) != Some(b"\x0a\x01".as_slice()) {
        return not_ldap();
    }
    match at(len + 9) {
        0 => Verdict::Pass,
        code => Verdict::Fail(Outcome {
            status: CheckStatus::L7Sts,
            code: Some(u16::from(code)),
            info: Some("See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9".into()),
        }),
    }
}

/// The rule being run, for HAProxy's messages about it.
struct Step<'a> {
    /// HAProxy's step number: 0 for the implicit connect, then from 1.
    id: usize,
    rule: &'a TcpCheckRule,
    /// The generic tcp-check says where it failed; protocol checks do not.
    generic: bool,
}

impl Step<'_> {
    fn comment(&self) -> Option<&str> {
        match self.rule {
            TcpCheckRule::Connect(c) => c.comment.as_deref(),
            TcpCheckRule::Send { comment, .. } => comment.as_deref(),
            TcpCheckRule::Expect(e) => e.comment.as_deref(),
        }
    }

    /// HAProxy's `chk_report_conn_err` suffix: ` at step 2 of tcp-check (expect string
    /// 'x') comment: 'c'`.
    fn where_text(&self) -> String {
        if !self.generic {
            return String::new();
        }
        if self.id == 0 {
            return " at initial connection step of tcp-check".into();
        }
        let what = match self.rule {
            TcpCheckRule::Connect(c) => match c.port {
                Some(port) => format!(" (connect port {port})"),
                None => " (connect)".into(),
            },
            TcpCheckRule::Send { .. } => " (send)".into(),
            TcpCheckRule::Expect(e) => match &e.matcher {
                TcpMatch::String(s) => format!(" (expect string '{}')", String::from_utf8_lossy(s)),
                TcpMatch::Binary(b) => format!(" (expect binary '{}')", printable(b)),
                TcpMatch::RString(_) => " (expect regex)".into(),
                TcpMatch::RBinary(_) => " (expect binary regex)".into(),
                _ => " (expect custom function)".into(),
            },
        };
        let comment = self
            .comment()
            .map(|c| format!(" comment: '{c}'"))
            .unwrap_or_default();
        format!(" at step {} of tcp-check{what}{comment}", self.id)
    }

    fn connect_failed(&self, failed: Outcome) -> Outcome {
        let info = match (failed.info, self.generic) {
            (info, false) => info,
            (info, true) => Some(format!("{}{}", info.unwrap_or_default(), self.where_text())),
        };
        Outcome { info, ..failed }
    }

    fn timed_out(&self) -> Outcome {
        let text = self.where_text();
        Outcome {
            status: CheckStatus::L7Tout,
            code: None,
            info: (!text.is_empty()).then_some(text),
        }
    }

    fn reset(&self) -> Outcome {
        Outcome {
            status: CheckStatus::SockErr,
            code: None,
            info: Some(format!("Connection reset by peer{}", self.where_text())),
        }
    }

    fn empty_response(&self, expect: &TcpExpect) -> Outcome {
        let mut info = format!("TCPCHK got an empty response at step {}", self.id);
        if let Some(comment) = self.comment() {
            info.push_str(&format!(" comment: '{comment}'"));
        }
        failure(expect, 0, Some(info))
    }

    /// HAProxy's `tcpcheck_expect_onerror_message`.
    fn mismatch(&self, expect: &TcpExpect, input: &[u8], matched: bool) -> Outcome {
        let mut info = match &expect.on_error {
            Some(text) => Some(text.render(input)),
            None if self.generic => {
                let head = if matched {
                    "TCPCHK matched unwanted content"
                } else {
                    "TCPCHK did not match content"
                };
                let what = match &expect.matcher {
                    TcpMatch::String(s) => format!(" '{}'", String::from_utf8_lossy(s)),
                    TcpMatch::Binary(_) => " (binary)".into(),
                    TcpMatch::RString(_) => " (regex)".into(),
                    TcpMatch::RBinary(_) => " (binary regex)".into(),
                    _ => " (custom function)".into(),
                };
                Some(format!("{head}{what} at step {}", self.id))
            }
            None => None,
        };
        if let Some(comment) = &expect.comment {
            let text = info.get_or_insert_with(String::new);
            text.push_str(" comment: ");
            text.push_str(comment);
        }
        failure(expect, payload_code(expect, input), info)
    }
}

/// A failed expect: `L7STS` (with its code) or `L7RSP`, as the rule says.
fn failure(expect: &TcpExpect, code: u16, info: Option<String>) -> Outcome {
    let info = info.filter(|text| !text.is_empty());
    if expect.error_sts {
        Outcome {
            status: CheckStatus::L7Sts,
            code: Some(code),
            info,
        }
    } else {
        Outcome {
            status: CheckStatus::L7Rsp,
            code: None,
            info,
        }
    }
}

/// Bytes as HAProxy's `dump_binary` prints them in a message: printable ones as they are,
/// others as `\xHH`.
fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b).to_string()
            } else {
                format!("\\x{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_packets() {
        let handshake = b"\x0a\x00\x00\x00\x0a5.7.0\x00rest";
        assert!(matches!(
            mysql_packet(handshake, false, false),
            Verdict::Pass
        ));
        assert!(matches!(
            mysql_packet(&handshake[..6], false, false),
            Verdict::Wait
        ));
        let error = b"\x09\x00\x00\x00\xff\x15\x04denied";
        let Verdict::Fail(outcome) = mysql_packet(error, false, true) else {
            panic!("an error packet fails");
        };
        assert_eq!(outcome.code, Some(1045));
        assert_eq!(outcome.info.as_deref(), Some("denied"));
    }

    #[test]
    fn ldap_bind_responses() {
        let ok = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert!(matches!(ldap_bind(ok), Verdict::Pass));
        let mut refused = *ok;
        refused[9] = 49;
        let Verdict::Fail(outcome) = ldap_bind(&refused) else {
            panic!("a refused bind fails");
        };
        assert_eq!(outcome.code, Some(49));
        assert!(matches!(ldap_bind(b"xyz\r\n"), Verdict::Fail(_)));
    }

    #[test]
    fn hex_for_rbinary() {
        assert_eq!(hex_dump(b"R\0\x0a"), "52000A");
        assert_eq!(printable(b"+PONG\r\n"), "+PONG\\x0D\\x0A");
    }
}
