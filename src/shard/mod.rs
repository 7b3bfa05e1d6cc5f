//! Shards: one glommio executor per core, each with its own SO_REUSEPORT listeners, its own
//! [`Worker`] (state replica, counters, pools) and, on shard 0, the [`Coordinator`] and the
//! admin sockets. glommio-specific wiring lives here so the proxy logic does not depend on it.

pub mod coordinator;
pub mod listener;
pub mod messages;
mod signals;

use crate::admin::ProcessInfo;
use crate::config::Config;
use crate::proxy::Worker;
use crate::state::State;
use coordinator::{unix_now, Coordinator};
use glommio::channels::channel_mesh::MeshBuilder;
use glommio::{LocalExecutorBuilder, Placement};
use messages::{CheckReport, FromShard, ToShard};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Messages in flight per channel between two shards.
const MESH_CAPACITY: usize = 256;
/// How long a soft stop waits for requests in flight before exiting anyway.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// A busy shard yields to its control queue at least this often (field notes: a mutation must
/// never wait behind a flood of requests).
const PREEMPT_TIMER: Duration = Duration::from_millis(5);

/// Options from the command line that shape the runtime.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub shards: usize,
}

/// Runs the proxy until SIGTERM / SIGINT. Returns an error message for start-up failures.
pub fn run(config: Config, options: RunOptions) -> Result<(), String> {
    probe_binds(&config)?;
    crate::sys::raise_limits();
    signals::block_in_this_thread();
    let config = Arc::new(config);
    let shards = options.shards.max(1);
    let info = process_info(&config, shards);
    let commands = MeshBuilder::<ToShard, _>::full(shards, MESH_CAPACITY);
    let answers = MeshBuilder::<FromShard, _>::full(shards, MESH_CAPACITY);
    let reports = MeshBuilder::<CheckReport, _>::full(shards, MESH_CAPACITY);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (started_tx, started_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let mut threads = Vec::new();
    for index in 0..shards {
        let (config, info, started) = (config.clone(), info.clone(), started_tx.clone());
        let (commands, answers, reports) = (commands.clone(), answers.clone(), reports.clone());
        let thread = std::thread::Builder::new()
            .name(format!("shard-{index}"))
            .spawn(move || {
                let executor = LocalExecutorBuilder::new(Placement::Fixed(index % cpus))
                    .name(&format!("shard-{index}"))
                    .preempt_timer(PREEMPT_TIMER)
                    .io_memory(64 << 10)
                    .make();
                let executor = match executor {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = started.send(Err(io_uring_error(e)));
                        return;
                    }
                };
                executor.run(shard_main(
                    config, info, commands, answers, reports, started,
                ));
            })
            .map_err(|e| format!("cannot start shard thread: {e}"))?;
        threads.push(thread);
    }
    drop(started_tx);
    for _ in 0..shards {
        match started_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                signals::request_stop(signals::Stop::Now);
                return Err(e);
            }
            Err(_) => return Err("a shard failed to start".into()),
        }
    }
    log::info!(
        "pointsman started: {shards} shard(s), pid {}",
        std::process::id()
    );
    signals::wait_in_background();
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// One shard's life: join the meshes, build its worker, open its listeners, serve, stop.
async fn shard_main(
    config: Arc<Config>,
    info: ProcessInfo,
    commands: MeshBuilder<ToShard, glommio::channels::channel_mesh::Full>,
    answers: MeshBuilder<FromShard, glommio::channels::channel_mesh::Full>,
    reports: MeshBuilder<CheckReport, glommio::channels::channel_mesh::Full>,
    started: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let (Ok((command_tx, command_rx)), Ok((answer_tx, answer_rx)), Ok((report_tx, report_rx))) = (
        commands.join().await,
        answers.join().await,
        reports.join().await,
    ) else {
        let _ = started.send(Err("cannot join the shard channel mesh".into()));
        return;
    };
    let index = command_tx.peer_id();
    let worker = Rc::new(Worker::new(
        index,
        &config,
        State::from_config(&config, unix_now()),
    ));
    let listeners = match listener::open_all(&config, &worker, command_tx.nr_consumers()) {
        Ok(l) => l,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let control = glommio::executor().create_task_queue(
        glommio::Shares::Static(1000),
        glommio::Latency::Matters(Duration::from_millis(1)),
        "control",
    );
    if index == 0 {
        let coordinator = Coordinator::new(worker.clone(), command_tx, answer_rx, info);
        if let Err(e) = start_admin_sockets(&config, &coordinator, control) {
            let _ = started.send(Err(e));
            return;
        }
        let mut report_rx = report_rx;
        for (_, stream) in report_rx.streams() {
            let coordinator = coordinator.clone();
            let task = glommio::spawn_local_into(
                async move {
                    while let Some(report) = stream.recv().await {
                        coordinator.on_check_report(report).await;
                    }
                },
                control,
            );
            if let Ok(task) = task {
                task.detach();
            }
        }
        crate::health::start(
            worker.clone(),
            shards_of(&report_tx),
            HealthSink::Local(coordinator.clone()),
        );
    } else {
        if let Ok(task) = glommio::spawn_local_into(
            coordinator::follow(worker.clone(), command_rx, answer_tx),
            control,
        ) {
            task.detach();
        }
        crate::health::start(
            worker.clone(),
            shards_of(&report_tx),
            HealthSink::Remote(Rc::new(report_tx)),
        );
    }
    let _ = started.send(Ok(()));
    let stop = signals::wait_for_stop().await;
    drop(listeners);
    worker.stopping.set(true);
    if stop == signals::Stop::Graceful {
        let deadline = std::time::Instant::now() + STOP_GRACE;
        while worker.in_flight.get() > 0 && std::time::Instant::now() < deadline {
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Binds every `stats socket` (a failure stops the start-up with file:line) and serves them in
/// the control task queue, so admin work never waits behind a flood of requests.
fn start_admin_sockets(
    config: &Config,
    coordinator: &Rc<Coordinator>,
    queue: glommio::TaskQueueHandle,
) -> Result<(), String> {
    let idle_timeout = config
        .global
        .stats_timeout
        .unwrap_or(crate::admin::server::DEFAULT_IDLE_TIMEOUT);
    for socket in &config.global.stats_sockets {
        let listener = crate::admin::server::AdminListener::bind(socket).map_err(|e| {
            format!(
                "{}: cannot bind stats socket {:?}: {e}",
                socket.location, socket.address
            )
        })?;
        let maxconn = socket
            .maxconn
            .or(config.global.stats_maxconn)
            .unwrap_or(crate::admin::server::DEFAULT_MAXCONN);
        let serving = crate::admin::server::serve_listener(
            listener,
            socket.level,
            coordinator.clone(),
            idle_timeout,
            maxconn,
        );
        glommio::spawn_local_into(serving, queue)
            .map_err(|e| format!("cannot start the admin socket: {e}"))?
            .detach();
    }
    Ok(())
}

fn shards_of<T: Send>(senders: &glommio::channels::channel_mesh::Senders<T>) -> (usize, usize) {
    (senders.peer_id(), senders.nr_consumers())
}

/// Where a shard's health check results go.
pub enum HealthSink {
    /// Shard 0 hands them to its coordinator directly.
    Local(Rc<Coordinator>),
    /// Other shards send them over the report mesh.
    Remote(Rc<glommio::channels::channel_mesh::Senders<CheckReport>>),
}

impl HealthSink {
    pub async fn report(&self, report: CheckReport) {
        match self {
            HealthSink::Local(c) => c.on_check_report(report).await,
            HealthSink::Remote(s) => {
                let _ = s.send_to(0, report).await;
            }
        }
    }
}

/// Fails with file:line if an address of a `bind` is taken by another process.
fn probe_binds(config: &Config) -> Result<(), String> {
    for proxy in &config.proxies {
        for bind in proxy.frontend.iter().flat_map(|f| &f.binds) {
            listener::probe(bind.addr).map_err(|e| {
                format!(
                    "{}: cannot bind {} for frontend '{}': {e}",
                    bind.location, bind.addr, proxy.name
                )
            })?;
        }
    }
    Ok(())
}

fn io_uring_error(e: glommio::GlommioError<()>) -> String {
    format!(
        "cannot set up io_uring for a shard ({e}). io_uring needs Linux >= 5.8, not disabled \
         (sysctl kernel.io_uring_disabled=0), and enough locked memory: raise it with \
         `ulimit -l unlimited` (or LimitMEMLOCK=infinity in a systemd unit)"
    )
}

fn process_info(config: &Config, shards: usize) -> ProcessInfo {
    ProcessInfo {
        pid: std::process::id(),
        start_time: unix_now(),
        nbthread: shards,
        maxconn: config
            .global
            .maxconn
            .unwrap_or_else(|| crate::sys::default_maxconn() as u32),
        ulimit_n: crate::sys::nofile_limit(),
        node: crate::sys::hostname(),
        listeners: config
            .proxies
            .iter()
            .filter_map(|p| p.frontend.as_ref())
            .map(|f| f.binds.len())
            .sum(),
    }
}
