//! `Idle_pct` of `show info`: the share of the recent wall time the shards spent not running.
//!
//! A shard's busy time is its thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), read when the
//! shard takes its stats snapshot: a shard parked in `io_uring_enter` waiting for work uses
//! none, so its CPU time is the time it spent outside that wait, close to what HAProxy counts
//! as not idle (the time its threads spend outside polling; a thread waiting for a CPU counts
//! as busy there and as idle here). Nothing is added to the request path: the clock is read
//! only when someone asks for stats.

use std::time::{Duration, Instant};

/// How long the window behind `Idle_pct` at least covers once the process has run that
/// long: queries closer together than this share one reference point, so an `Idle_pct`
/// always averages the last one to two seconds (HAProxy's also moves about once a second).
const WINDOW: Duration = Duration::from_secs(1);

/// CPU time this thread has used, in nanoseconds (0 if the clock cannot be read).
pub fn thread_busy_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// The busy time summed over every shard at one instant.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    busy_ns: u64,
}

/// Turns the shards' summed busy time, sampled at each stats gathering, into `Idle_pct`.
#[derive(Debug)]
pub struct IdleMeter {
    shards: u64,
    /// The reference the percentage is measured from: one to two windows old.
    older: Sample,
    /// The newest sample at least one window younger than `older`.
    newer: Sample,
    idle_pct: u32,
}

impl IdleMeter {
    /// A meter for `shards` shards that started at `start` (no CPU time used yet).
    pub fn new(shards: usize, start: Instant) -> IdleMeter {
        let first = Sample {
            at: start,
            busy_ns: 0,
        };
        IdleMeter {
            shards: shards.max(1) as u64,
            older: first,
            newer: first,
            idle_pct: 100,
        }
    }

    /// Records the shards' summed busy time at `at`; returns the new `Idle_pct`.
    pub fn observe(&mut self, at: Instant, busy_ns: u64) -> u32 {
        let now = Sample { at, busy_ns };
        if now.at.saturating_duration_since(self.newer.at) >= WINDOW {
            self.older = self.newer;
            self.newer = now;
        }
        let wall_ns = now.at.saturating_duration_since(self.older.at).as_nanos() as u64;
        let busy = now.busy_ns.saturating_sub(self.older.busy_ns);
        if let Some(pct) = idle_pct(busy, wall_ns.saturating_mul(self.shards)) {
            self.idle_pct = pct;
        }
        self.idle_pct
    }

    /// The last computed `Idle_pct` (100 before the first observation).
    pub fn idle_pct(&self) -> u32 {
        self.idle_pct
    }
}

/// 100 × (1 − busy / capacity), rounded, within 0–100; None for an empty interval.
fn idle_pct(busy_ns: u64, capacity_ns: u64) -> Option<u32> {
    if capacity_ns == 0 {
        return None;
    }
    let busy_share = busy_ns.min(capacity_ns) as f64 / capacity_ns as f64;
    Some(((1.0 - busy_share) * 100.0).round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_thread_uses_cpu_time_when_it_works_and_none_when_it_sleeps() {
        let before = thread_busy_ns();
        std::thread::sleep(Duration::from_millis(50));
        assert!(thread_busy_ns() - before < 10 * MS, "sleeping is idle");
        // Spin until 10 ms of CPU time show (bounded: the machine may be busy).
        let before = thread_busy_ns();
        let deadline = Instant::now() + Duration::from_secs(10);
        while thread_busy_ns() - before < 10 * MS && Instant::now() < deadline {
            std::hint::black_box(0u64);
        }
        assert!(thread_busy_ns() - before >= 10 * MS, "spinning is busy");
    }

    #[test]
    fn idle_is_the_unused_share_of_every_shard() {
        let start = Instant::now();
        let mut meter = IdleMeter::new(2, start);
        assert_eq!(meter.idle_pct(), 100);
        // 2 shards over 1 s = 2 s of capacity; 500 ms busy = 25 %.
        assert_eq!(meter.observe(start + Duration::from_secs(1), 500 * MS), 75);
        assert_eq!(meter.observe(start + Duration::from_secs(2), 500 * MS), 100);
        // Fully busy for the next two seconds.
        let at = start + Duration::from_secs(4);
        assert_eq!(meter.observe(at, 4500 * MS), 0);
    }

    #[test]
    fn close_queries_keep_a_window_behind_them() {
        let start = Instant::now();
        let mut meter = IdleMeter::new(1, start);
        meter.observe(start + Duration::from_secs(1), 1000 * MS);
        // 100 ms later, idle since: the window still reaches back to the busy second.
        let pct = meter.observe(start + Duration::from_millis(1100), 1000 * MS);
        assert_eq!(pct, 9);
    }

    #[test]
    fn an_empty_interval_keeps_the_last_value() {
        let start = Instant::now();
        let mut meter = IdleMeter::new(1, start);
        assert_eq!(meter.observe(start, 0), 100);
        assert_eq!(idle_pct(5, 0), None);
        assert_eq!(idle_pct(20, 10), Some(0));
    }
}
