//! Signals: SIGTERM and SIGINT are blocked in every thread and taken by one background thread
//! with `sigwait`, which turns them into a process-wide stop request the shards poll.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

static STOP: AtomicU8 = AtomicU8::new(0);
/// How often a shard looks at the stop request (cheap, off the request path).
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Stop accepting, let requests in flight finish (SIGTERM, SIGINT).
    Graceful,
    /// Exit at once (a shard failed to start).
    Now,
}

fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        set
    }
}

/// Blocks the stop signals in the calling thread, and so in every thread it starts afterwards.
pub fn block_in_this_thread() {
    let set = stop_signals();
    // SAFETY: valid signal set; changing this thread's mask only.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Starts the thread that waits for a stop signal.
pub fn wait_in_background() {
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            let set = stop_signals();
            let mut signal = 0;
            // SAFETY: valid set and out pointer; the signals are blocked in every thread.
            if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                log::info!("signal {signal} received: stopping (requests in flight finish first)");
                request_stop(Stop::Graceful);
            }
        });
}

pub fn request_stop(stop: Stop) {
    let code = match stop {
        Stop::Graceful => 1,
        Stop::Now => 2,
    };
    STOP.store(code, Ordering::SeqCst);
}

/// Resolves when a stop was requested.
pub async fn wait_for_stop() -> Stop {
    loop {
        match STOP.load(Ordering::SeqCst) {
            1 => return Stop::Graceful,
            2 => return Stop::Now,
            _ => glommio::timer::sleep(POLL).await,
        }
    }
}
