//! The open-loop sender behind both modes. Request `i` is due at `start + i × interval`,
//! whatever happened to earlier requests; `--connections` threads take the next due request
//! from a shared counter, so a slow response delays only its own connection. A request sent
//! late keeps its intended time: latency is measured from when it *should* have gone out, so
//! a stall is reported as latency instead of silently thinning the load (coordinated omission).
//! `--every` is this with one connection and a printed line per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::{Connection, Response};
use super::identify::ServerNames;
use super::options::{Mode, Plan};
use super::outcome::{ErrorClass, Sample, Timing};
use super::output::Output;

/// Counters the progress line reads while the run goes on.
#[derive(Default)]
pub struct Live {
    pub done: AtomicU64,
    pub errors: AtomicU64,
}

/// What the senders produced.
pub struct Sent {
    /// Every request that was sent, ordered by sequence number.
    pub samples: Vec<Sample>,
    /// Requests never sent because the sender was still behind when the grace period ended.
    pub unsent: u64,
}

/// Runs the schedule to the end and returns every sample.
pub fn send_all(
    plan: &Plan,
    start: Instant,
    names: &ServerNames,
    live: &Live,
    output: &Output,
) -> Sent {
    let next = AtomicU64::new(0);
    // A sender that is behind may finish late, but not forever: after the schedule plus one
    // timeout, remaining requests are counted as unsent rather than sent hopelessly late.
    let cutoff = start + plan.duration + plan.timeout;
    let per_thread: Vec<Vec<Sample>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..plan.connections)
            .map(|_| {
                let worker = Worker {
                    plan,
                    start,
                    cutoff,
                    names,
                    live,
                    output,
                    next: &next,
                };
                scope.spawn(move || worker.run())
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut samples: Vec<Sample> = per_thread.into_iter().flatten().collect();
    samples.sort_by_key(|s| s.seq);
    let unsent = plan.requests - samples.len() as u64;
    Sent { samples, unsent }
}

/// One connection's sender loop.
struct Worker<'a> {
    plan: &'a Plan,
    start: Instant,
    cutoff: Instant,
    names: &'a ServerNames,
    live: &'a Live,
    output: &'a Output,
    next: &'a AtomicU64,
}

impl Worker<'_> {
    fn run(self) -> Vec<Sample> {
        let mut samples = Vec::new();
        let mut connection = None;
        loop {
            let seq = self.next.fetch_add(1, Ordering::Relaxed);
            if seq >= self.plan.requests {
                break;
            }
            let intended = self.start + self.plan.interval.mul_f64(seq as f64);
            sleep_until(intended);
            if Instant::now() > self.cutoff {
                break;
            }
            let sample = self.send_one(seq, intended, &mut connection);
            self.live.done.fetch_add(1, Ordering::Relaxed);
            if sample.error.is_some() {
                self.live.errors.fetch_add(1, Ordering::Relaxed);
            }
            if self.plan.mode == Mode::Every {
                self.output.line(&self.request_line(&sample));
            }
            samples.push(sample);
        }
        samples
    }

    fn send_one(&self, seq: u64, intended: Instant, connection: &mut Option<Connection>) -> Sample {
        let sent = Instant::now();
        let result = self.exchange(connection, sent + self.plan.timeout);
        let timing = Timing::ended_now(self.start, intended, sent);
        Sample::of(seq, timing, result, self.names)
    }

    /// Connects when needed, exchanges, and keeps the connection only when it may be reused.
    fn exchange(
        &self,
        connection: &mut Option<Connection>,
        deadline: Instant,
    ) -> Result<Response, ErrorClass> {
        let open = match connection {
            Some(open) => open,
            None => connection.insert(Connection::connect(self.plan.target.addr, deadline)?),
        };
        let rules = self.plan.read_rules();
        let result = open.exchange(&self.plan.request_bytes, rules, deadline);
        if !self.plan.keeps_connection(&result) {
            *connection = None;
        }
        result
    }

    /// `12:48:12.742 req#20 200 nginx 1.18.0  0.41 ms`, or `... req#21 ERR reset  1.20 ms`.
    fn request_line(&self, sample: &Sample) -> String {
        let names = self.names.snapshot();
        let server = sample
            .server
            .and_then(|id| names.get(usize::from(id)).cloned())
            .unwrap_or_else(|| "-".into());
        let what = match (sample.status, sample.error) {
            (_, Some(ErrorClass::Status(code))) => format!("{code} {server} (error)"),
            (_, Some(class)) => format!("ERR {class}"),
            (Some(code), None) => format!("{code} {server}"),
            (None, None) => "?".into(),
        };
        let mut line = format!(
            "{} req#{} {what}  {}",
            self.output.wall_clock(),
            sample.seq + 1,
            format_ms(sample.latency_ns())
        );
        let lag = sample.send_lag_ns();
        if lag > LATE_NOTE_NS {
            line.push_str(&format!("  (sent {} late)", format_ms(lag)));
        }
        line
    }
}

/// Lateness worth pointing out on a printed line.
const LATE_NOTE_NS: u64 = 10_000_000;

/// Milliseconds with precision that fits the magnitude: `0.41 ms`, `20.3 ms`, `1503 ms`.
pub fn format_ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// Sleeps until `when`; the kernel's timer slack (~50 µs) is well inside the lateness bound.
fn sleep_until(when: Instant) {
    let left = when.saturating_duration_since(Instant::now());
    if left > Duration::ZERO {
        std::thread::sleep(left);
    }
}

#[cfg(test)]
mod tests {
    use super::format_ms;

    #[test]
    fn milliseconds_keep_three_significant_digits() {
        assert_eq!(format_ms(410_000), "0.41 ms");
        assert_eq!(format_ms(20_300_000), "20.3 ms");
        assert_eq!(format_ms(1_503_000_000), "1503 ms");
    }
}
