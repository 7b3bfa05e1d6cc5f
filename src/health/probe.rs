//! One check's I/O: connect (L4), then for an HTTP check send the request and read the
//! status line (L7), each within its [`CheckTimeouts`]. The verdict on what was read is
//! [`super::judge`]'s.

use super::judge::judge_status_line;
use super::timeouts::CheckTimeouts;
use crate::state::{CheckDetail, CheckStatus};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The most of a check response read to find its status line.
const MAX_RESPONSE: usize = 4096;

/// One check: connect (L4), then for httpchk send the request and read the status (L7).
/// Returns the verdict and what HAProxy reports with it (HTTP code, error text, duration).
pub async fn run_check(
    addr: SocketAddr,
    httpchk: Option<&crate::config::HttpCheck>,
    timeouts: CheckTimeouts,
) -> (CheckStatus, CheckDetail) {
    let started = Instant::now();
    let (status, code, info) = probe(addr, httpchk, timeouts, started).await;
    let detail = CheckDetail {
        code,
        info,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    (status, detail)
}

/// The check itself: status, the HTTP status code (L7) and the failure's error text (L4CON).
async fn probe(
    addr: SocketAddr,
    httpchk: Option<&crate::config::HttpCheck>,
    timeouts: CheckTimeouts,
    started: Instant,
) -> (CheckStatus, Option<u16>, Option<String>) {
    let connect = glommio::net::TcpStream::connect_timeout(addr, timeouts.connect).await;
    let mut stream = match connect {
        Ok(s) => s,
        Err(e) if is_timeout(&e) => return (CheckStatus::L4Tout, None, None),
        Err(e) => return (CheckStatus::L4Con, None, connect_error_text(e)),
    };
    let Some(check) = httpchk else {
        return (CheckStatus::L4Ok, None, None);
    };
    // Without `timeout check`, connect and response share one `inter`.
    let response_timeout = if timeouts.shared {
        timeouts
            .response
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    } else {
        timeouts.response
    };
    let request = format!(
        "{} {} HTTP/1.0\r\nConnection: close\r\n\r\n",
        check.method, check.uri
    );
    let _ = stream.set_read_timeout(Some(response_timeout));
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (CheckStatus::L7Rsp, None, None);
    }
    let mut response = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while response.len() < MAX_RESPONSE && !response.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return (CheckStatus::L7Tout, None, None)
            }
            Err(_) => return (CheckStatus::L7Rsp, None, None),
        }
    }
    let (status, code) = judge_status_line(&response, check.expect_status);
    (status, code, None)
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
