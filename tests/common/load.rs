//! Load from the tests: the request timeout of every `pointsman load` run, and [`Traffic`],
//! keep-alive clients on threads that record every request.

use super::Client;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The request timeout of every load run of the tests (`pointsman load --timeout`): a request
/// not answered in full within it fails the run. One value for all, so no test is laxer.
pub const LOAD_REQUEST_TIMEOUT: &str = "5s";

/// One request of a [`Traffic`] run.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which client connection sent it.
    pub client: usize,
    /// Before the request's first byte was written.
    pub sent: Instant,
    /// When the response (or the error) came back.
    pub done: Instant,
    /// HTTP status, 0 for a transport error.
    pub status: u16,
    /// `X-Server` of the response ("" when absent or on error).
    pub server: String,
}

/// Keep-alive clients, one thread each, sending GETs back to back until stopped. Every
/// request is recorded. Bounded: each thread stops by itself after `limit`.
pub struct Traffic {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<Sample>>>,
}

impl Traffic {
    /// Starts one thread per already connected client.
    pub fn start(clients: Vec<Client>, limit: Duration) -> Traffic {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = clients
            .into_iter()
            .enumerate()
            .map(|(index, mut client)| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let deadline = Instant::now() + limit;
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let sent = Instant::now();
                        let (status, server) = match client.get("/") {
                            Ok(r) => (r.status, r.header("x-server").unwrap_or("").to_string()),
                            Err(e) => (0, e.to_string()),
                        };
                        samples.push(Sample {
                            client: index,
                            sent,
                            done: Instant::now(),
                            status,
                            server,
                        });
                        if status == 0 {
                            break;
                        }
                    }
                    samples
                })
            })
            .collect();
        Traffic { stop, threads }
    }

    /// Stops every client and returns all samples.
    pub fn stop(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for thread in self.threads.drain(..) {
            all.extend(thread.join().expect("traffic thread"));
        }
        all
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Counts samples by `X-Server`.
pub fn count_servers<'a>(
    samples: impl IntoIterator<Item = &'a Sample>,
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for s in samples {
        *counts.entry(s.server.clone()).or_insert(0) += 1;
    }
    counts
}
