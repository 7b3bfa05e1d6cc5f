//! Active health checks. Each server's checks run on exactly one owner shard (its position in
//! the backend modulo the number of shards), never N times. A result goes to the coordinator,
//! which turns it into a `Mutation::CheckResult` for every shard only when it changes the state.
//!
//! Checks: TCP connect, or HTTP (`option httpchk [METHOD URI]`, `http-check expect status N`).

use crate::proxy::Worker;
use crate::shard::messages::CheckReport;
use crate::shard::HealthSink;
use crate::state::{CheckStatus, ServerRef};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

/// How often the owner shard looks for servers whose checks it must start (added at runtime,
/// or re-enabled).
const RESCAN: Duration = Duration::from_millis(200);
/// Default `timeout check` when neither it nor `timeout connect` is set: the interval.
const MAX_RESPONSE: usize = 4096;

/// Starts the checks this shard owns, now and for servers added later.
pub fn start(worker: Rc<Worker>, (shard, shards): (usize, usize), sink: HealthSink) {
    let sink = Rc::new(sink);
    glommio::spawn_local(async move {
        let mut running: HashSet<ServerRef> = HashSet::new();
        loop {
            for server in owned_checked_servers(&worker, shard, shards) {
                if running.insert(server) {
                    glommio::spawn_local(check_loop(worker.clone(), server, sink.clone())).detach();
                }
            }
            running.retain(|r| worker.state.borrow().server(*r).is_some());
            glommio::timer::sleep(RESCAN).await;
        }
    })
    .detach();
}

/// Servers with `check` whose owner is this shard.
fn owned_checked_servers(worker: &Worker, shard: usize, shards: usize) -> Vec<ServerRef> {
    let state = worker.state.borrow();
    let mut owned = Vec::new();
    for (b, backend) in state.backends.iter().enumerate() {
        for server in &backend.servers {
            let owner = (server.id as usize + b) % shards;
            if server.check.configured && owner == shard {
                owned.push(ServerRef {
                    backend: b,
                    server: server.id,
                });
            }
        }
    }
    owned
}

/// Checks one server every `inter` while it exists; paused while checks are disabled or the
/// server is in maintenance (HAProxy pauses them too).
async fn check_loop(worker: Rc<Worker>, server: ServerRef, sink: Rc<HealthSink>) {
    loop {
        let Some((addr, inter, active, httpchk, timeout)) = check_target(&worker, server) else {
            return;
        };
        if active {
            let status = run_check(addr, httpchk.as_ref(), timeout).await;
            sink.report(CheckReport { server, status }).await;
        }
        glommio::timer::sleep(inter).await;
    }
}

type Target = (
    std::net::SocketAddr,
    Duration,
    bool,
    Option<crate::config::HttpCheck>,
    Duration,
);

fn check_target(worker: &Worker, server: ServerRef) -> Option<Target> {
    let state = worker.state.borrow();
    let s = state.server(server)?;
    let backend = &state.backends[server.backend];
    let active = s.check.active() && s.admin != crate::state::AdminState::Maint;
    let timeout = worker.backends[server.backend]
        .check_timeout
        .min(s.check.inter);
    Some((
        s.addr,
        s.check.inter,
        active,
        backend.httpchk.clone(),
        timeout,
    ))
}

/// One check: connect (L4), then for httpchk send the request and read the status (L7).
pub async fn run_check(
    addr: std::net::SocketAddr,
    httpchk: Option<&crate::config::HttpCheck>,
    timeout: Duration,
) -> CheckStatus {
    let connect = glommio::net::TcpStream::connect_timeout(addr, timeout).await;
    let mut stream = match connect {
        Ok(s) => s,
        Err(e) if is_timeout(&e) => return CheckStatus::L4Tout,
        Err(_) => return CheckStatus::L4Con,
    };
    let Some(check) = httpchk else {
        return CheckStatus::L4Ok;
    };
    let request = format!(
        "{} {} HTTP/1.0\r\nConnection: close\r\n\r\n",
        check.method, check.uri
    );
    let _ = stream.set_read_timeout(Some(timeout));
    if stream.write_all(request.as_bytes()).await.is_err() {
        return CheckStatus::L7Rsp;
    }
    let mut response = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while response.len() < MAX_RESPONSE && !response.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return CheckStatus::L7Tout,
            Err(_) => return CheckStatus::L7Rsp,
        }
    }
    judge_status_line(&response, check.expect_status)
}

fn is_timeout(e: &glommio::GlommioError<()>) -> bool {
    matches!(e, glommio::GlommioError::TimedOut(_))
        || matches!(e, glommio::GlommioError::IoError(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// `HTTP/1.x NNN …`: 2xx and 3xx pass (HAProxy's default), or exactly `expect status N`.
fn judge_status_line(response: &[u8], expect: Option<u16>) -> CheckStatus {
    let line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let version_ok = words.next().is_some_and(|v| v.starts_with(b"HTTP/1."));
    let status = words
        .next()
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse::<u16>().ok());
    match (version_ok, status, expect) {
        (true, Some(code), Some(wanted)) if code == wanted => CheckStatus::L7Ok,
        (true, Some(code), None) if (200..400).contains(&code) => CheckStatus::L7Ok,
        (true, Some(_), _) => CheckStatus::L7Sts,
        _ => CheckStatus::L7Rsp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_judgement() {
        assert_eq!(
            judge_status_line(b"HTTP/1.1 200 OK\r\n", None),
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.0 302 Found\r\n", None),
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 503 Unavailable\r\n", None),
            CheckStatus::L7Sts
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 204 No Content\r\n", Some(200)),
            CheckStatus::L7Sts
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 204 No Content\r\n", Some(204)),
            CheckStatus::L7Ok
        );
        assert_eq!(judge_status_line(b"garbage", None), CheckStatus::L7Rsp);
    }
}
