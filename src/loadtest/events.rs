//! The event-driven open-loop engine of `--rate` runs (`--engine events`, the default): one
//! glommio executor on one thread, pinned to the CPU the process may run on (a `taskset -c 0`
//! run stays on CPU 0), and one task per connection with a non-blocking socket. It keeps the
//! thread engine's semantics exactly ([`super::sender`]): request `i` is due at
//! `start + i × interval`; a connection that is free takes the next request number, waits for
//! its intended time and sends it, so a request due while every connection is busy goes out on
//! the first one to become free, and its latency still counts from its intended time (no
//! coordinated omission). Like wrk2, it never opens more connections than `--connections`:
//! the target sees a fixed number of clients, and a generator or server that cannot keep up
//! shows as lateness (the "behind schedule" check), not as a growing connection count.
//!
//! Responses are read by the same [`ResponseReader`] as the thread engine; only the I/O
//! differs. Against the thread engine, a thousand connections cost a thousand small tasks
//! instead of a thousand threads, and a request due while the process is descheduled goes out
//! as soon as the one thread runs again instead of after a wake-up per connection.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::timer::Timer;
use glommio::{LocalExecutorBuilder, Placement};

use super::client::{ReadBuffer, ReadRules, Response, ResponseReader};
use super::identify::ServerNames;
use super::options::Plan;
use super::outcome::{ErrorClass, Sample, Timing};
use super::sender::{Live, Sent};

/// io_uring buffer memory of the executor: the generator reads into its own buffers, so the
/// default (~10 MiB of locked memory) would only cost.
const IO_MEMORY: usize = 64 << 10;

/// An executor that is up (io_uring set up, thread pinned) and waits for the start time, so
/// its set-up (several ms on a busy machine) does not make the first requests late.
pub struct Ready {
    handle: glommio::ExecutorJoinHandle<Vec<Sample>>,
    go: mpsc::Sender<Instant>,
    requests: u64,
}

/// Starts the executor and returns once it waits for [`Ready::send_all`].
pub fn prepare(plan: &Plan, names: Arc<ServerNames>, live: Arc<Live>) -> Result<Ready, String> {
    let (go, start_time) = mpsc::channel::<Instant>();
    let (up, is_up) = mpsc::channel::<()>();
    let plan_copy = plan.clone();
    let handle = LocalExecutorBuilder::new(placement())
        .name("pointsman-load")
        .io_memory(IO_MEMORY)
        .spawn(move || async move {
            let _ = up.send(());
            // Nothing else runs on this executor yet: blocking here delays no task.
            let Ok(start) = start_time.recv() else {
                return Vec::new();
            };
            let run = Run {
                cutoff: start + plan_copy.duration + plan_copy.timeout,
                plan: plan_copy,
                start,
                names,
                live,
                next: Cell::new(0),
            };
            run.all_connections().await
        })
        .map_err(executor_error)?;
    if is_up.recv().is_err() {
        let failure = handle
            .join()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(format!(
            "the load generator's executor did not start: {failure}"
        ));
    }
    Ok(Ready {
        handle,
        go,
        requests: plan.requests,
    })
}

impl Ready {
    /// Runs the schedule from `start` and returns every sample.
    pub fn send_all(self, start: Instant) -> Result<Sent, String> {
        let _ = self.go.send(start);
        let mut samples = self
            .handle
            .join()
            .map_err(|e| format!("the load generator's executor failed: {e}"))?;
        samples.sort_by_key(|s| s.seq);
        let unsent = self.requests - samples.len() as u64;
        Ok(Sent { samples, unsent })
    }
}

/// The one CPU the process may run on when there is only one (the bench's `taskset -c 0`),
/// otherwise the thread keeps the process's CPU set.
fn placement() -> Placement {
    match core_affinity::get_core_ids().as_deref() {
        Some([only]) => Placement::Fixed(only.id),
        _ => Placement::Unbound,
    }
}

fn executor_error(e: glommio::GlommioError<()>) -> String {
    format!(
        "cannot set up io_uring for the load generator ({e}); it needs Linux >= 5.8, io_uring \
         enabled (sysctl kernel.io_uring_disabled=0) and enough locked memory (`ulimit -l`). \
         `--engine threads` needs none of these"
    )
}

/// What every connection task shares (they all run on the executor's one thread).
struct Run {
    plan: Plan,
    start: Instant,
    /// After the schedule plus one timeout, requests not yet sent are counted as unsent.
    cutoff: Instant,
    names: Arc<ServerNames>,
    live: Arc<Live>,
    /// The next request number to send; a connection takes it when it is free.
    next: Cell<u64>,
}

impl Run {
    /// Spawns a task per connection and gathers their samples.
    async fn all_connections(self) -> Vec<Sample> {
        let run = Rc::new(self);
        let tasks: Vec<_> = (0..run.plan.connections)
            .map(|_| glommio::spawn_local(Rc::clone(&run).connection()))
            .collect();
        let mut samples = Vec::with_capacity(run.plan.requests as usize);
        for task in tasks {
            samples.extend(task.await);
        }
        samples
    }

    /// One connection's loop: take the next request, wait for its time, send it.
    async fn connection(self: Rc<Self>) -> Vec<Sample> {
        let mut samples = Vec::new();
        let mut connection = None;
        loop {
            let seq = self.next.get();
            if seq >= self.plan.requests {
                break;
            }
            self.next.set(seq + 1);
            let intended = self.start + self.plan.interval.mul_f64(seq as f64);
            sleep_until(intended).await;
            if Instant::now() > self.cutoff {
                break;
            }
            let sample = self.send_one(seq, intended, &mut connection).await;
            self.live.done.fetch_add(1, Ordering::Relaxed);
            if sample.error.is_some() {
                self.live.errors.fetch_add(1, Ordering::Relaxed);
            }
            samples.push(sample);
        }
        samples
    }

    async fn send_one(
        &self,
        seq: u64,
        intended: Instant,
        connection: &mut Option<EventConnection>,
    ) -> Sample {
        let sent = Instant::now();
        let result = self.exchange(connection, sent + self.plan.timeout).await;
        let timing = Timing::ended_now(self.start, intended, sent);
        Sample::of(seq, timing, result, &self.names)
    }

    /// Connects when needed, exchanges before `deadline`, and keeps the connection only when
    /// it may be reused (a failed or timed-out exchange drops it, as the thread engine does).
    async fn exchange(
        &self,
        connection: &mut Option<EventConnection>,
        deadline: Instant,
    ) -> Result<Response, ErrorClass> {
        let open = match connection {
            Some(open) => open,
            None => {
                connection.insert(EventConnection::connect(self.plan.target.addr, deadline).await?)
            }
        };
        let rules = self.plan.read_rules();
        let exchange = open.exchange(&self.plan.request_bytes, rules);
        let result = futures_lite::future::or(exchange, async {
            sleep_until(deadline).await;
            Err(ErrorClass::Timeout)
        })
        .await;
        if !self.plan.keeps_connection(&result) {
            *connection = None;
        }
        result
    }
}

/// A non-blocking client connection with its read buffer.
struct EventConnection {
    stream: TcpStream,
    input: ReadBuffer,
}

impl EventConnection {
    async fn connect(addr: SocketAddr, deadline: Instant) -> Result<EventConnection, ErrorClass> {
        let budget = deadline.saturating_duration_since(Instant::now());
        if budget.is_zero() {
            return Err(ErrorClass::ConnectTimeout);
        }
        let stream = TcpStream::connect_timeout(addr, budget)
            .await
            .map_err(|e| ErrorClass::from_connect(&e.into()))?;
        // Requests are written in one piece; Nagle would only add delay.
        let _ = stream.set_nodelay(true);
        Ok(EventConnection {
            stream,
            input: ReadBuffer::default(),
        })
    }

    /// Sends `request` and reads the whole response (the caller bounds it in time).
    async fn exchange(
        &mut self,
        request: &[u8],
        rules: ReadRules<'_>,
    ) -> Result<Response, ErrorClass> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| ErrorClass::from_io(&e))?;
        let mut reader = ResponseReader::new(rules);
        loop {
            if let Some(response) = self.input.feed(&mut reader)? {
                return Ok(response);
            }
            match self.stream.read(self.input.spare()).await {
                Ok(0) => return reader.end_of_stream(self.input.unread().len()),
                Ok(n) => self.input.filled(n),
                Err(e) => return Err(ErrorClass::from_io(&e)),
            }
        }
    }
}

/// Waits until `when`; returns at once when it has passed (a late request goes out now).
async fn sleep_until(when: Instant) {
    let left = when.saturating_duration_since(Instant::now());
    if left > Duration::ZERO {
        Timer::new(left).await;
    }
}
