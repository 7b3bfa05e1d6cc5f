//! Signals of a serving process, blocked in every thread and taken by one background thread
//! with `sigwait`, which turns them into process-wide requests the shards poll:
//!
//! - SIGUSR1, SIGTERM: soft stop — stop accepting, finish what is in flight, answer the next
//!   request of each keep-alive connection with `Connection: close`, exit when no connection
//!   is left (bounded by `hard-stop-after`).
//! - SIGINT: stop at once.
//! - SIGTTOU: pause listening (stop accepting; the sockets stay open and connections wait in
//!   their queue); SIGTTIN: resume.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

static STOP: AtomicU8 = AtomicU8::new(0);
static PAUSED: AtomicBool = AtomicBool::new(false);
/// How often a shard looks at the stop request (cheap, off the request path).
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Stop accepting, let connections finish (SIGUSR1, SIGTERM).
    Graceful = 1,
    /// Exit at once (SIGINT, or a shard failed to start).
    Now = 2,
}

const HANDLED: [libc::c_int; 5] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGUSR1,
    libc::SIGTTOU,
    libc::SIGTTIN,
];

fn handled_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in HANDLED {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// Blocks the handled signals in the calling thread, and so in every thread it starts
/// afterwards.
pub fn block_in_this_thread() {
    let set = handled_signals();
    // SAFETY: valid signal set; changing this thread's mask only.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Starts the thread that waits for signals.
pub fn wait_in_background() {
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| loop {
            let set = handled_signals();
            let mut signal = 0;
            // SAFETY: valid set and out pointer; the signals are blocked in every thread.
            if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                continue;
            }
            on_signal(signal);
        });
}

fn on_signal(signal: libc::c_int) {
    match signal {
        libc::SIGUSR1 | libc::SIGTERM => {
            if stop_requested().is_none() {
                log::warn!(
                    "signal {} received: soft stop (no new connections; the ones open finish)",
                    name(signal)
                );
            }
            request_stop(Stop::Graceful);
        }
        libc::SIGINT => {
            log::warn!("SIGINT received: stopping now");
            request_stop(Stop::Now);
        }
        libc::SIGTTOU => {
            log::warn!("SIGTTOU received: pausing the listeners");
            PAUSED.store(true, Ordering::SeqCst);
        }
        libc::SIGTTIN => {
            log::warn!("SIGTTIN received: resuming the listeners");
            PAUSED.store(false, Ordering::SeqCst);
        }
        _ => {}
    }
}

fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGTERM => "SIGTERM",
        _ => "?",
    }
}

/// Asks every shard to stop; a stop "now" overrides a soft stop under way.
pub fn request_stop(stop: Stop) {
    STOP.fetch_max(stop as u8, Ordering::SeqCst);
}

/// The stop asked for so far, if any.
pub fn stop_requested() -> Option<Stop> {
    match STOP.load(Ordering::SeqCst) {
        0 => None,
        1 => Some(Stop::Graceful),
        _ => Some(Stop::Now),
    }
}

/// Whether the listeners are paused (SIGTTOU).
pub fn paused() -> bool {
    PAUSED.load(Ordering::Relaxed)
}

/// Resolves when a stop was requested.
pub async fn wait_for_stop() -> Stop {
    loop {
        if let Some(stop) = stop_requested() {
            return stop;
        }
        glommio::timer::sleep(POLL).await;
    }
}
