//! A one-line progress display on stderr while a `--rate` run goes on, only when stderr is a
//! terminal (never in logs or pipes). `--every` prints a line per request instead.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::sender::Live;

const REFRESH: Duration = Duration::from_millis(250);

/// Redraws the line until `stop` is set, then erases it.
pub fn show_until(stop: &AtomicBool, live: &Live, start: Instant, planned: u64) {
    let mut stderr = std::io::stderr();
    if !stderr.is_terminal() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(REFRESH);
        let done = live.done.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        let elapsed = start.elapsed().as_secs_f64();
        let _ = write!(
            stderr,
            "\r{elapsed:7.1} s  {done}/{planned} requests  {errors} errors  {:.0} req/s   ",
            done as f64 / elapsed.max(1e-3)
        );
        let _ = stderr.flush();
    }
    let _ = write!(stderr, "\r\x1b[2K");
    let _ = stderr.flush();
}
