//! One check's I/O: a TCP connect (L4), then over TLS (`check-ssl`) a handshake (L6), or an
//! HTTP check's rules in order (connect, send, read the response, expect), each phase within
//! its [`CheckTimeouts`] and a response read to at most 16 kB. The verdict on what was read
//! is [`super::judge`]'s; a tcp-check's rules run in [`super::tcp_probe`] (over plain TCP).

use super::judge::{judge, needs_body, parse_head, Head, Response};
use super::tcp_probe::run_tcp_rules;
use super::timeouts::CheckTimeouts;
use crate::config::{HttpCheck, HttpCheckRule, HttpChkRequest, TcpCheck};
use crate::proxy::ServerStream;
use crate::state::{CheckDetail, CheckStatus};
use crate::tls::upstream::Connector;
use futures_lite::io::AsyncReadExt;
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The most of a check response read (HAProxy's check buffer, `tune.bufsize`): a longer
/// response is judged on its first 16 kB, never buffered whole.
pub(super) const MAX_RESPONSE: usize = 16384;

/// Which check a server's backend runs.
#[derive(Debug, Clone, Copy)]
pub enum CheckKind<'a> {
    /// A TCP connect.
    Connect,
    Http(&'a HttpCheck),
    Tcp(&'a TcpCheck),
}

/// One check: a TCP connect, or the rules of an HTTP check or a tcp-check. Returns the
/// verdict and what HAProxy reports with it (code, error text, duration). `server_down`: a
/// 404 drains only a server that is not DOWN (`http-check disable-on-404`).
pub async fn run_check(
    (addr, tls): (SocketAddr, Option<&Connector>),
    kind: CheckKind<'_>,
    timeouts: CheckTimeouts,
    server_down: bool,
) -> (CheckStatus, CheckDetail) {
    let started = Instant::now();
    let clock = Clock { started, timeouts };
    let passed = match tls {
        Some(_) => CheckStatus::L6Ok,
        None => CheckStatus::L4Ok,
    };
    let outcome = match kind {
        CheckKind::Connect => connect(addr, tls, timeouts.connect)
            .await
            .map_or_else(|failed| failed, |_| Outcome::status(passed)),
        CheckKind::Http(check) => run_http_rules((addr, tls), check, clock, server_down)
            .await
            .unwrap_or_else(|failed| failed),
        CheckKind::Tcp(check) => run_tcp_rules(addr, check, clock)
            .await
            .unwrap_or_else(|failed| failed),
    };
    let detail = CheckDetail {
        code: outcome.code,
        info: outcome.info,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    (outcome.status, detail)
}

/// What a check found: HAProxy's status, the HTTP code it shows, the `info` of its log line.
#[derive(Debug)]
pub(super) struct Outcome {
    pub status: CheckStatus,
    pub code: Option<u16>,
    pub info: Option<String>,
}

impl Outcome {
    pub(super) fn status(status: CheckStatus) -> Outcome {
        Outcome {
            status,
            code: None,
            info: None,
        }
    }
}

/// When a check started and how long its phases may take.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    started: Instant,
    pub timeouts: CheckTimeouts,
}

impl Clock {
    /// When the response to a request sent now must have come: `timeout check` from now, or
    /// without it what is left of `inter` since the check started.
    pub(super) fn response_deadline(&self) -> Instant {
        if self.timeouts.shared {
            self.started + self.timeouts.response
        } else {
            Instant::now() + self.timeouts.response
        }
    }
}

/// Connects, and with `tls` makes the handshake within `timeout` too: a failed one is
/// HAProxy's `L6RSP` with its info `SSL handshake failure`, a slow one `L6TOUT`.
async fn connect(
    addr: SocketAddr,
    tls: Option<&Connector>,
    timeout: Duration,
) -> Result<ServerStream, Outcome> {
    let tcp = connect_tcp(addr, timeout).await?;
    let Some(connector) = tls else {
        return Ok(ServerStream::Plain(tcp));
    };
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let sni = connector.constant_sni().map(str::to_string);
    match crate::tls::upstream::handshake(connector, tcp, addr, sni.as_deref()).await {
        Ok(stream) => Ok(ServerStream::Tls(Box::new(stream), sni)),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            Err(Outcome::status(CheckStatus::L6Tout))
        }
        Err(_) => Err(Outcome {
            status: CheckStatus::L6Rsp,
            code: None,
            info: Some("SSL handshake failure".into()),
        }),
    }
}

pub(super) async fn connect_tcp(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, Outcome> {
    match TcpStream::connect_timeout(addr, timeout).await {
        Ok(stream) => Ok(stream),
        Err(e) if is_timeout(&e) => Err(Outcome::status(CheckStatus::L4Tout)),
        Err(e) => Err(Outcome {
            status: CheckStatus::L4Con,
            code: None,
            info: connect_error_text(e),
        }),
    }
}

/// Runs the connect, send and expect steps in order; the first that fails is the verdict.
/// All pass: `L7OK` with the last response's code.
async fn run_http_rules(
    (addr, tls): (SocketAddr, Option<&Connector>),
    check: &HttpCheck,
    clock: Clock,
    server_down: bool,
) -> Result<Outcome, Outcome> {
    let mut stream: Option<ServerStream> = None;
    let mut response: Option<Response> = None;
    let mut deadline = clock.response_deadline();
    let mut sent = 0;
    for (step, rule) in check.rules.iter().enumerate() {
        match rule {
            HttpCheckRule::Connect(c) => {
                let target =
                    SocketAddr::new(c.addr.unwrap_or(addr.ip()), c.port.unwrap_or(addr.port()));
                stream = Some(connect(target, tls, clock.timeouts.connect).await?);
                response = None;
            }
            HttpCheckRule::Send(send) => {
                // `option httpchk`'s request completes the first send only, as in HAProxy.
                let request = if sent == 0 {
                    send.request(&check.request)
                } else {
                    send.request(&HttpChkRequest::default())
                };
                sent += 1;
                let stream = stream.as_mut().ok_or(Outcome::status(CheckStatus::L7Rsp))?;
                if stream.write_all(&request).await.is_err() {
                    return Err(Outcome::status(CheckStatus::L7Rsp));
                }
                response = None;
                deadline = clock.response_deadline();
            }
            HttpCheckRule::Expect(expect) => {
                if response.is_none() {
                    let stream = stream.as_mut().ok_or(Outcome::status(CheckStatus::L7Rsp))?;
                    let want_body = check.rules[step..]
                        .iter()
                        .map_while(|r| match r {
                            HttpCheckRule::Expect(e) => Some(e),
                            _ => None,
                        })
                        .any(needs_body);
                    response = Some(read_response(stream, want_body, deadline).await?);
                }
                let Some(r) = response.as_ref() else {
                    return Err(Outcome::status(CheckStatus::L7Rsp));
                };
                if check.disable_on_404 && r.code == 404 && !server_down {
                    return Ok(Outcome {
                        status: CheckStatus::L7OkC,
                        code: Some(404),
                        info: None,
                    });
                }
                if let Err((status, info)) = judge(expect, r) {
                    // HAProxy shows a code with a wrong status, not with an invalid response.
                    let code = (status == CheckStatus::L7Sts).then_some(r.code);
                    return Err(Outcome {
                        status,
                        code,
                        info: Some(info),
                    });
                }
            }
        }
    }
    Ok(Outcome {
        status: CheckStatus::L7Ok,
        code: response.map(|r| r.code),
        info: None,
    })
}

/// Reads a response head (and its body when `want_body`, up to [`MAX_RESPONSE`] in all)
/// before `deadline`. A response that never ends is a timeout; one that is not HTTP, or
/// closes before its head ends, is invalid.
async fn read_response(
    stream: &mut ServerStream,
    want_body: bool,
    deadline: Instant,
) -> Result<Response, Outcome> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let mut head: Option<Head> = None;
    loop {
        if let Some(h) = &head {
            let body_len = bytes.len() - h.head_len;
            let complete = !want_body || h.content_length.is_some_and(|n| body_len >= n);
            if complete || bytes.len() >= MAX_RESPONSE {
                break;
            }
        } else if bytes.len() >= MAX_RESPONSE {
            return Err(Outcome::status(CheckStatus::L7Rsp));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Outcome::status(CheckStatus::L7Tout));
        }
        let _ = stream.set_read_timeout(Some(left));
        let room = chunk.len().min(MAX_RESPONSE - bytes.len());
        match stream.read(&mut chunk[..room]).await {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(Outcome::status(CheckStatus::L7Tout))
            }
            Err(_) => return Err(Outcome::status(CheckStatus::L7Rsp)),
        }
        if head.is_none() {
            head = parse_head(&bytes).map_err(|_| Outcome::status(CheckStatus::L7Rsp))?;
        }
    }
    let Some(head) = head else {
        return Err(Outcome::status(CheckStatus::L7Rsp));
    };
    let mut response = head.response;
    let body_end = head
        .content_length
        .map_or(bytes.len(), |n| bytes.len().min(head.head_len + n));
    response.body = bytes[head.head_len..body_end].to_vec();
    Ok(response)
}

/// The text HAProxy puts in `info: "…"` for a refused or failed connect: the system's
/// error message (`Connection refused`), without Rust's ` (os error 111)` suffix.
fn connect_error_text(e: glommio::GlommioError<()>) -> Option<String> {
    let glommio::GlommioError::IoError(io) = e else {
        return None;
    };
    let text = io.to_string();
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    Some(text)
}

fn is_timeout(e: &glommio::GlommioError<()>) -> bool {
    matches!(e, glommio::GlommioError::TimedOut(_))
        || matches!(e, glommio::GlommioError::IoError(io) if io.kind() == std::io::ErrorKind::TimedOut)
}
