//! Active health checks, passive reports and slow start. Each server's checks run on exactly
//! one owner shard (its id plus its backend's index, modulo the number of shards), never N
//! times. A result goes to the coordinator, which turns it into a `Mutation::CheckResult` for
//! every shard only when it changes the state, so all shards switch together.
//!
//! - Checks: TCP connect, or HTTP (`option httpchk [METHOD URI]`, `http-check expect status
//!   N`), every `inter` when UP, `fastinter` in transition, `downinter` when DOWN
//!   ([`crate::state::Check::interval`]); `timeout check` as HAProxy applies it ([`timeouts`]).
//! - Passive (`observe`): the shard's [`Observer`](crate::proxy::observe::Observer) queues a
//!   server that reached `error-limit` consecutive errors on live traffic; it is reported as a
//!   `Hana` ("Health analyze") result, which the server's `on-error` turns into a state change.
//! - Slow start: on the coordinator's shard, a task steps the ramp of every server warming up
//!   (`Mutation::SetRamp`) so its effective weight grows over `slowstart`.
//!
//! All of it runs in its own task queue, so a flood of requests cannot delay a check into a
//! false timeout.

use crate::proxy::Worker;
use crate::state::{
    AdminState, CheckDetail, CheckStatus, Mutation, ServerRef, RAMP_FULL, RAMP_START,
};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often the owner shard looks for servers whose checks it must start (added at runtime,
/// or re-enabled).
const RESCAN: Duration = Duration::from_millis(200);
/// The most of a check response read to find its status line.
const MAX_RESPONSE: usize = 4096;
/// How often the slow-start task looks at the servers warming up.
const RAMP_TICK: Duration = Duration::from_millis(100);
/// The ramp moves in steps of at least this many percent (at most ~20 mutations a warm-up).
const RAMP_STEP: u32 = 5;

/// A check on the server's owner shard finished (or live traffic reached `error-limit`).
#[derive(Debug)]
pub struct CheckReport {
    pub server: ServerRef,
    pub status: CheckStatus,
    pub detail: CheckDetail,
}

/// Where this shard's health work hands what it found. Health owns the trait and `shard/`
/// implements it (the coordinator itself on shard 0, the report mesh to it elsewhere), so
/// health depends on no shard type. (Its futures are not `Send`: a shard's tasks never move.)
#[allow(async_fn_in_trait)]
pub trait HealthSink: 'static {
    /// Hands one result to the coordinator, which turns it into a mutation if it changes
    /// the server.
    async fn report(&self, report: CheckReport);
    /// Whether this sink sequences mutations itself (the coordinator's shard): slow start is
    /// stepped there, once for the whole process.
    fn sequences(&self) -> bool;
    /// Applies slow-start steps on every shard (called only where [`HealthSink::sequences`]).
    async fn step(&self, steps: Vec<Mutation>);
}

/// Starts the checks this shard owns (now and for servers added later), the forwarding of
/// passive reports, and on the coordinator's shard the slow-start steps.
pub fn start<S: HealthSink>(worker: Rc<Worker>, (shard, shards): (usize, usize), sink: Rc<S>) {
    let queue = glommio::executor().create_task_queue(
        glommio::Shares::Static(1000),
        glommio::Latency::Matters(Duration::from_millis(2)),
        "health",
    );
    let spawn = |task: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>| {
        match glommio::spawn_local_into(task, queue) {
            Ok(task) => {
                task.detach();
            }
            Err(e) => log::error!("shard {shard}: cannot start health checks: {e}"),
        }
    };
    spawn(Box::pin(schedule_checks(
        worker.clone(),
        (shard, shards),
        sink.clone(),
        queue,
    )));
    spawn(Box::pin(forward_passive_reports(
        worker.clone(),
        sink.clone(),
    )));
    if sink.sequences() {
        spawn(Box::pin(drive_slow_starts(worker, sink)));
    }
}

/// Starts a check loop for every checked server this shard owns, and again for servers that
/// appear later.
async fn schedule_checks<S: HealthSink>(
    worker: Rc<Worker>,
    (shard, shards): (usize, usize),
    sink: Rc<S>,
    queue: glommio::TaskQueueHandle,
) {
    let mut running: HashSet<ServerRef> = HashSet::new();
    loop {
        for server in owned_checked_servers(&worker, shard, shards) {
            if running.insert(server) {
                let task = check_loop(worker.clone(), server, sink.clone());
                if let Ok(task) = glommio::spawn_local_into(task, queue) {
                    task.detach();
                }
            }
        }
        running.retain(|r| worker.state.borrow().server(*r).is_some());
        glommio::timer::sleep(RESCAN).await;
    }
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

/// What one check needs, read from the shard's replica before it starts.
struct Target {
    addr: SocketAddr,
    /// Time to the next check once this one is done (`inter`, `fastinter` or `downinter`).
    interval: Duration,
    /// Checks enabled and the server not in maintenance (HAProxy pauses them then).
    active: bool,
    httpchk: Option<crate::config::HttpCheck>,
    timeouts: CheckTimeouts,
}

/// Checks one server while it exists; paused while checks are disabled or the server is in
/// maintenance.
async fn check_loop<S: HealthSink>(worker: Rc<Worker>, server: ServerRef, sink: Rc<S>) {
    loop {
        let Some(target) = check_target(&worker, server) else {
            return;
        };
        if target.active {
            let (status, detail) =
                run_check(target.addr, target.httpchk.as_ref(), target.timeouts).await;
            sink.report(CheckReport {
                server,
                status,
                detail,
            })
            .await;
        }
        // The interval after the result was applied (on this shard it may still be on its
        // way; the next check then corrects it).
        let interval = check_target(&worker, server).map_or(target.interval, |t| t.interval);
        glommio::timer::sleep(interval).await;
    }
}

fn check_target(worker: &Worker, server: ServerRef) -> Option<Target> {
    let state = worker.state.borrow();
    let s = state.server(server)?;
    let backend = &state.backends[server.backend];
    let settings = &worker.backends[server.backend];
    Some(Target {
        addr: s.addr,
        interval: s.check.interval(s.op, &s.tuning),
        active: s.check.active() && s.admin != AdminState::Maint,
        httpchk: backend.httpchk.clone(),
        timeouts: timeouts(
            s.check.inter,
            settings.connect_timeout,
            settings.check_timeout,
        ),
    })
}

/// How long each phase of a check may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTimeouts {
    pub connect: Duration,
    /// From the request written to the status line read (HTTP checks).
    pub response: Duration,
    /// Connect and response share one budget (`response` counts from the start).
    pub shared: bool,
}

/// HAProxy's rule: with `timeout check`, connect within min(`timeout connect`, `inter`) and
/// read for `timeout check`; without it, `inter` bounds the whole check.
pub fn timeouts(inter: Duration, connect: Duration, check: Option<Duration>) -> CheckTimeouts {
    match check {
        Some(check) => CheckTimeouts {
            connect: connect.min(inter),
            response: check,
            shared: false,
        },
        None => CheckTimeouts {
            connect: inter,
            response: inter,
            shared: true,
        },
    }
}

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

/// `HTTP/1.x NNN …`: 2xx and 3xx pass (HAProxy's default), or exactly `expect status N`.
/// Also returns the code read, for `check_code`.
fn judge_status_line(response: &[u8], expect: Option<u16>) -> (CheckStatus, Option<u16>) {
    let line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let version_ok = words.next().is_some_and(|v| v.starts_with(b"HTTP/1."));
    let status = words
        .next()
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse::<u16>().ok());
    let verdict = match (version_ok, status, expect) {
        (true, Some(code), Some(wanted)) if code == wanted => CheckStatus::L7Ok,
        (true, Some(code), None) if (200..400).contains(&code) => CheckStatus::L7Ok,
        (true, Some(_), _) => CheckStatus::L7Sts,
        _ => return (CheckStatus::L7Rsp, None),
    };
    (verdict, status)
}

/// Sends each server that reached its `error-limit` on this shard's live traffic to the
/// coordinator as a "Health analyze" result.
async fn forward_passive_reports<S: HealthSink>(worker: Rc<Worker>, sink: Rc<S>) {
    let Some(reports) = worker.observer.take_reports() else {
        return;
    };
    while let Some(server) = reports.recv().await {
        log::debug!(
            "shard {}: observe error limit reached on {server:?}",
            worker.shard
        );
        sink.report(CheckReport {
            server,
            status: CheckStatus::Hana,
            detail: CheckDetail::default(),
        })
        .await;
    }
}

/// One server warming up, as the slow-start task follows it.
struct Warmup {
    since: Instant,
    /// The ramp this task last asked for.
    asked: u32,
}

/// On the coordinator's shard: steps the ramp of every server warming up, linearly from
/// [`RAMP_START`] to [`RAMP_FULL`] over its `slowstart`. A server that comes back UP again
/// (its ramp fell below what was asked) starts over.
async fn drive_slow_starts<S: HealthSink>(worker: Rc<Worker>, sink: Rc<S>) {
    let mut warming: HashMap<ServerRef, Warmup> = HashMap::new();
    loop {
        glommio::timer::sleep(RAMP_TICK).await;
        let mut steps = Vec::new();
        {
            let state = worker.state.borrow();
            let mut seen = HashSet::new();
            for (b, backend) in state.backends.iter().enumerate() {
                for s in &backend.servers {
                    let (Some(slowstart), true) = (s.tuning.slowstart, s.ramp < RAMP_FULL) else {
                        continue;
                    };
                    let server = ServerRef {
                        backend: b,
                        server: s.id,
                    };
                    seen.insert(server);
                    let w = warming.entry(server).or_insert(Warmup {
                        since: Instant::now(),
                        asked: s.ramp,
                    });
                    if s.ramp < w.asked {
                        *w = Warmup {
                            since: Instant::now(),
                            asked: s.ramp,
                        };
                    }
                    let percent = ramp_at(w.since.elapsed(), slowstart);
                    if percent >= w.asked + RAMP_STEP || (percent == RAMP_FULL && w.asked < percent)
                    {
                        w.asked = percent;
                        steps.push(Mutation::SetRamp { server, percent });
                    }
                }
            }
            warming.retain(|server, _| seen.contains(server));
        }
        if !steps.is_empty() {
            sink.step(steps).await;
        }
    }
}

/// The ramp `elapsed` into a warm-up of `slowstart`.
fn ramp_at(elapsed: Duration, slowstart: Duration) -> u32 {
    if elapsed >= slowstart {
        return RAMP_FULL;
    }
    let fraction = elapsed.as_secs_f64() / slowstart.as_secs_f64();
    (RAMP_START + (f64::from(RAMP_FULL - RAMP_START) * fraction) as u32).min(RAMP_FULL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_judgement() {
        assert_eq!(
            judge_status_line(b"HTTP/1.1 200 OK\r\n", None).0,
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.0 302 Found\r\n", None).0,
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 503 Unavailable\r\n", None).0,
            CheckStatus::L7Sts
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 204 No Content\r\n", Some(200)).0,
            CheckStatus::L7Sts
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 204 No Content\r\n", Some(204)).0,
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"garbage", None),
            (CheckStatus::L7Rsp, None)
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 503 Service Unavailable\r\n", None),
            (CheckStatus::L7Sts, Some(503))
        );
    }

    #[test]
    fn check_timeouts_follow_haproxy() {
        let s = Duration::from_secs;
        // No `timeout check`: `inter` bounds the whole check.
        assert_eq!(
            timeouts(s(2), s(5), None),
            CheckTimeouts {
                connect: s(2),
                response: s(2),
                shared: true
            }
        );
        // `timeout check`: connect within min(connect, inter), then the check timeout.
        assert_eq!(
            timeouts(s(2), s(1), Some(s(3))),
            CheckTimeouts {
                connect: s(1),
                response: s(3),
                shared: false
            }
        );
        assert_eq!(timeouts(s(2), s(5), Some(s(3))).connect, s(2));
    }

    #[test]
    fn ramp_grows_linearly_to_full() {
        let slow = Duration::from_secs(10);
        assert_eq!(ramp_at(Duration::ZERO, slow), RAMP_START);
        assert_eq!(ramp_at(Duration::from_secs(5), slow), 50);
        assert_eq!(ramp_at(Duration::from_secs(10), slow), RAMP_FULL);
        assert_eq!(ramp_at(Duration::from_secs(60), slow), RAMP_FULL);
    }
}
