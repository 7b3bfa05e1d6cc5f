//! Shards: one glommio executor per core, each accepting on its share of the listening
//! sockets (opened beforehand by [`crate::reload::sockets`]), with its own [`Worker`] (state
//! replica, counters, pools) and, on shard 0, the [`Coordinator`], the admin sockets and the
//! old process's side of a hand-over. Signals and the soft stop live here too. glommio-specific
//! wiring lives here so the proxy logic does not depend on it.

pub mod coordinator;
mod handover;
pub mod listener;
pub mod mesh;
pub mod messages;
pub mod signals;
pub mod stats_service;

use crate::admin::ProcessInfo;
use crate::config::{Config, SocketAddress};
use crate::health::{CheckReport, HealthSink};
use crate::proxy::Worker;
use crate::reload::sockets::Listeners;
use crate::state::{Mutation, State};
use crate::sys::unix_now;
use coordinator::Coordinator;
use glommio::{LocalExecutorBuilder, Placement};
use listener::OpenConnections;
use messages::{FromShard, ToShard};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Messages in flight per channel between two shards.
const MESH_CAPACITY: usize = 256;
/// A busy shard yields to its control queue at least this often (field notes: a mutation must
/// never wait behind a flood of requests).
const PREEMPT_TIMER: Duration = Duration::from_millis(5);
/// A start-up that takes longer is stuck (a shard that never connects its meshes or never
/// gets its sockets going). 4-shard starts take ~130 ms on a loaded 2-core machine. The hang
/// this watchdog was added for (about 1 start in 50: a shard parked while joining the channel
/// meshes) was glommio parking an executor with runnable tasks, fixed by vendor/glommio patch 6
/// (`scripts/start-stress.sh`: 0 hangs in 500 starts). Failing lets a supervisor or the caller
/// start again instead of waiting on a process that never serves.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a soft stop looks whether the last connection ended.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// What the command line and the hand-over decided before the shards start.
pub struct RunOptions {
    pub shards: usize,
    /// The start-up state: the config's, with the previous process's runtime state applied.
    pub state: State,
    /// Every listening socket, already open.
    pub listeners: Listeners,
    /// The worker's end of its socket pair with the master (master-worker mode).
    pub master_channel: Option<OwnedFd>,
    /// Keep the server state files current after every change (`--save-server-state`).
    pub save_state: bool,
    /// The TLS binds' configs, loaded once for every shard (so they share session tickets).
    pub tls: crate::tls::Contexts,
    /// Called once every shard serves (signal `-sf`/`-st` processes, tell the parent).
    pub on_ready: Box<dyn FnOnce() + Send>,
    /// The previous process's running canaries (from the state hand-over), to continue.
    pub canaries: Vec<crate::reload::state_dump::CanaryRecord>,
}

/// The sockets one shard accepts from (per frontend, in the order of `State::frontends`).
struct ShardSockets {
    /// Each socket with the index of its bind among the frontend's.
    frontends: Vec<Vec<(usize, OwnedFd)>>,
}

/// What only shard 0 (the coordinator's) serves.
struct ShardZero {
    /// Per `stats socket` line, its TCP or `fd@` socket.
    stats: Vec<Option<OwnedFd>>,
    master_channel: Option<OwnedFd>,
    save_state: bool,
    /// The previous process's running canaries, to continue.
    canaries: Vec<crate::reload::state_dump::CanaryRecord>,
}

/// Runs the proxy until a stop signal. Returns an error message for start-up failures.
pub fn run(config: Config, options: RunOptions) -> Result<(), String> {
    crate::sys::raise_limits();
    signals::block_in_this_thread();
    let config = Arc::new(config);
    let shards = options.shards.max(1);
    let info = process_info(&config, shards, options.listeners.count());
    let mut sockets = Vec::new();
    for index in 0..shards {
        sockets.push(shard_sockets(&options.listeners, index, shards)?);
    }
    let identity = crate::privileges::Identity::of(&config.global);
    let mut stats = stats_sockets(&options.listeners)?;
    if identity != crate::privileges::Identity::default() {
        bind_unix_admin_sockets(&config, &mut stats)?;
    }
    let mut zero = Some(ShardZero {
        stats,
        master_channel: options.master_channel,
        save_state: options.save_state,
        canaries: options.canaries,
    });
    crate::reload::expose(options.listeners);
    let commands = mesh::full::<ToShard>(shards, MESH_CAPACITY);
    let answers = mesh::full::<FromShard>(shards, MESH_CAPACITY);
    let reports = mesh::full::<CheckReport>(shards, MESH_CAPACITY);
    let (wirings, log_writer) = stats_service::Wiring::new(&config, shards)?;
    // Every socket is open: give up root before any shard thread or io_uring ring exists.
    crate::privileges::drop_to(identity)?;
    let cpus = allowed_cpus();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<Lifecycle>();
    let per_shard = sockets
        .into_iter()
        .zip(commands)
        .zip(answers)
        .zip(reports)
        .zip(wirings);
    for (index, ((((sockets, commands), answers), reports), wiring)) in per_shard.enumerate() {
        let shard = Shard {
            config: config.clone(),
            info: info.clone(),
            state: options.state.clone(),
            sockets,
            zero: zero.take(),
            commands,
            answers,
            reports,
            wiring,
            started: started_tx.clone(),
            tls: options.tls.clone(),
        };
        let cpu = cpus[index % cpus.len()];
        std::thread::Builder::new()
            .name(format!("shard-{index}"))
            .spawn(move || {
                let executor = LocalExecutorBuilder::new(Placement::Fixed(cpu))
                    .name(&format!("shard-{index}"))
                    .preempt_timer(PREEMPT_TIMER)
                    .io_memory(64 << 10)
                    .make();
                match executor {
                    Ok(executor) => executor.run(shard_main(shard)),
                    Err(e) => {
                        let _ = shard.started.send(Lifecycle::Failed(io_uring_error(e)));
                    }
                }
            })
            .map_err(|e| format!("cannot start shard thread: {e}"))?;
    }
    drop(started_tx);
    let deadline = Instant::now() + START_TIMEOUT;
    for _ in 0..shards {
        let wait = deadline.saturating_duration_since(Instant::now());
        match started_rx.recv_timeout(wait) {
            Ok(Lifecycle::Started) => {}
            Ok(Lifecycle::Failed(e)) => {
                signals::request_stop(signals::Stop::Now);
                return Err(e);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                signals::request_stop(signals::Stop::Now);
                return Err(format!(
                    "the shards did not start within {} s; \
                     exiting rather than running without an admin socket",
                    START_TIMEOUT.as_secs()
                ));
            }
            Ok(Lifecycle::Stopped) | Err(_) => return Err("a shard failed to start".into()),
        }
    }
    log::info!(
        "pointsman started: {shards} shard(s), pid {}",
        std::process::id()
    );
    signals::wait_in_background();
    (options.on_ready)();
    // Wait for every shard to finish its soft stop, then return without joining the threads:
    // tearing down a glommio executor can wait on io_uring operations of sockets still held by
    // detached tasks (idle keep-alive connections, admin sessions), which a stopping process
    // has no reason to wait for.
    let mut stopped = 0;
    while stopped < shards {
        match started_rx.recv() {
            Ok(Lifecycle::Stopped) => stopped += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    crate::reload::withdraw();
    if let Some(writer) = log_writer {
        writer.finish();
    }
    Ok(())
}

/// What a shard thread tells the main thread.
enum Lifecycle {
    /// Listening and following the coordinator.
    Started,
    /// Could not start (message for the operator).
    Failed(String),
    /// Its soft stop is over: no connection left, `hard-stop-after`, or a stop "now".
    Stopped,
}

fn dup_error(e: std::io::Error) -> String {
    format!("cannot share a listening socket with a shard: {e}")
}

/// Duplicates of the sockets the `index`th shard thread accepts from.
fn shard_sockets(
    listeners: &Listeners,
    index: usize,
    shards: usize,
) -> Result<ShardSockets, String> {
    let mut frontends = Vec::new();
    for binds in &listeners.frontends {
        let mut fds = Vec::new();
        for (position, bind) in binds.iter().enumerate() {
            let shared = bind.for_shard(index, shards).map_err(dup_error)?;
            fds.extend(shared.into_iter().map(|fd| (position, fd)));
        }
        frontends.push(fds);
    }
    Ok(ShardSockets { frontends })
}

/// Duplicates of the TCP and `fd@` stats sockets, for shard 0.
fn stats_sockets(listeners: &Listeners) -> Result<Vec<Option<OwnedFd>>, String> {
    listeners
        .stats
        .iter()
        .map(|socket| {
            socket
                .as_ref()
                .and_then(|l| l.fds.first())
                .map(crate::reload::fdpass::dup)
                .transpose()
                .map_err(dup_error)
        })
        .collect()
}

/// Binds the unix `stats socket`s now, while the process may still write their directory
/// (`user`/`group` take that right away before shard 0 would bind them).
fn bind_unix_admin_sockets(config: &Config, stats: &mut [Option<OwnedFd>]) -> Result<(), String> {
    for (socket, fd) in config.global.stats_sockets.iter().zip(stats.iter_mut()) {
        if let (None, SocketAddress::Unix(path)) = (&fd, &socket.address) {
            let bound = bind_unix_replacing(path, socket).map_err(|e| {
                format!(
                    "{}: cannot bind stats socket {}: {e}",
                    socket.location, socket.address
                )
            })?;
            *fd = Some(bound);
        }
    }
    Ok(())
}

/// Everything one shard starts from.
struct Shard {
    config: Arc<Config>,
    info: ProcessInfo,
    state: State,
    sockets: ShardSockets,
    /// Some on shard 0 only.
    zero: Option<ShardZero>,
    commands: mesh::Ends<ToShard>,
    answers: mesh::Ends<FromShard>,
    reports: mesh::Ends<CheckReport>,
    /// Logs and the stats page's meshes.
    wiring: stats_service::Wiring,
    started: std::sync::mpsc::Sender<Lifecycle>,
    tls: crate::tls::Contexts,
}

/// One shard's life: connect the meshes, build its worker, accept on its sockets, serve, stop.
async fn shard_main(shard: Shard) {
    let Shard {
        config,
        info,
        state,
        sockets,
        zero,
        commands,
        answers,
        reports,
        wiring,
        started,
        tls,
    } = shard;
    let index = commands.index();
    log::debug!("shard {index}: connecting the meshes");
    let ((command_tx, command_rx), ((answer_tx, answer_rx), (report_tx, report_rx))) =
        futures_lite::future::zip(
            commands.connect(),
            futures_lite::future::zip(answers.connect(), reports.connect()),
        )
        .await;
    log::debug!("shard {index}: meshes connected");
    let mut worker = Worker::new(index, &config, state);
    let contexts: Vec<_> = (worker.state.borrow().frontends.iter())
        .map(|f| tls.of(&f.name))
        .collect();
    for (settings, contexts) in worker.frontends.iter_mut().zip(contexts) {
        settings.tls = contexts;
    }
    let connectors: Vec<_> = (worker.state.borrow().backends.iter())
        .map(|b| tls.servers.of(&b.name))
        .collect();
    for (settings, connectors) in worker.backends.iter_mut().zip(connectors) {
        settings.tls = connectors;
    }
    worker.tls = tls;
    let worker = Rc::new(worker);
    let open = Rc::new(OpenConnections::default());
    let mut accepting = Vec::new();
    let slots = listener::Slots::for_frontends(&config, &worker, command_tx.nr_consumers());
    for (frontend, fds) in sockets.frontends.into_iter().enumerate() {
        for (bind, fd) in fds {
            let slots = slots[frontend].clone();
            let at = (frontend, bind);
            let task = listener::accept_loop(worker.clone(), at, fd, open.clone(), slots);
            accepting.push(glommio::spawn_local(task));
        }
    }
    let control = glommio::executor().create_task_queue(
        glommio::Shares::Static(1000),
        glommio::Latency::Matters(Duration::from_millis(1)),
        "control",
    );
    let mut admin = Vec::new();
    if let Some(zero) = zero {
        let coordinator = Coordinator::new(worker.clone(), command_tx, answer_rx, info);
        let context = handover::Context {
            worker: worker.clone(),
            config: config.clone(),
            canaries: coordinator.canary_book(),
        };
        match start_admin_sockets(&config, zero.stats, &coordinator, &context, control) {
            Ok(tasks) => admin = tasks,
            Err(e) => {
                let _ = started.send(Lifecycle::Failed(e));
                return;
            }
        }
        let observing = wiring.start_shard(&worker, Some(coordinator.clone()), control);
        if let Err(e) = observing.await {
            let _ = started.send(Lifecycle::Failed(e));
            return;
        }
        if let Some(channel) = zero.master_channel {
            spawn_into(handover::serve_master(channel, context.clone()), control);
        }
        if zero.save_state {
            spawn_into(
                handover::save_state_files(worker.clone(), config.clone()),
                control,
            );
        }
        let mut report_rx = report_rx;
        for (_, stream) in report_rx.streams() {
            let coordinator = coordinator.clone();
            spawn_into(
                async move {
                    while let Some(report) = stream.recv().await {
                        coordinator.on_check_report(report).await;
                    }
                },
                control,
            );
        }
        crate::health::start(worker.clone(), shards_of(&report_tx), coordinator.clone());
        coordinator.resume_canaries(&zero.canaries);
    } else {
        if let Err(e) = wiring.start_shard(&worker, None, control).await {
            let _ = started.send(Lifecycle::Failed(e));
            return;
        }
        spawn_into(
            coordinator::follow(worker.clone(), command_rx, answer_tx),
            control,
        );
        crate::health::start(
            worker.clone(),
            shards_of(&report_tx),
            Rc::new(ReportMesh(report_tx)),
        );
    }
    log::debug!("shard {index}: started");
    let _ = started.send(Lifecycle::Started);
    let stop = signals::wait_for_stop().await;
    // Dropping an accept loop cancels only a readiness poll (see `listener`): a connection
    // still in a queue stays there for the process that took the sockets over.
    drop(accepting);
    drop(admin);
    crate::reload::withdraw();
    worker.stopping.set(true);
    if stop == signals::Stop::Graceful {
        drain(&open, config.global.hard_stop_after).await;
    }
    worker.log.flush();
    let _ = started.send(Lifecycle::Stopped);
}

/// Waits until no client connection is left on this shard, up to `hard_stop_after`; a stop
/// "now" (SIGINT) during the wait ends it at once.
async fn drain(open: &OpenConnections, hard_stop_after: Option<Duration>) {
    let deadline = hard_stop_after.map(|t| Instant::now() + t);
    while open.get() > 0 {
        if signals::stop_requested() == Some(signals::Stop::Now) {
            return;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            log::warn!(
                "hard-stop-after: closing {} connection(s) still open",
                open.get()
            );
            return;
        }
        glommio::timer::sleep(DRAIN_POLL).await;
    }
}

fn spawn_into(
    task: impl std::future::Future<Output = ()> + 'static,
    queue: glommio::TaskQueueHandle,
) {
    if let Ok(task) = glommio::spawn_local_into(task, queue) {
        task.detach();
    }
}

/// Serves every `stats socket` in the control task queue, so admin work never waits behind a
/// flood of requests. Unix sockets are bound here (file:line on failure); TCP and `fd@`
/// sockets arrive open in `sockets`. A socket with `expose-fd listeners` also answers the
/// hand-over protocol. Returns the accept loops (dropped at stop).
fn start_admin_sockets(
    config: &Config,
    sockets: Vec<Option<OwnedFd>>,
    coordinator: &Rc<Coordinator>,
    context: &handover::Context,
    queue: glommio::TaskQueueHandle,
) -> Result<Vec<glommio::Task<()>>, String> {
    let idle_timeout = config
        .global
        .stats_timeout
        .unwrap_or(crate::admin::server::DEFAULT_IDLE_TIMEOUT);
    let mut tasks = Vec::new();
    for (socket, fd) in config.global.stats_sockets.iter().zip(sockets) {
        let failed = |e: std::io::Error| {
            format!(
                "{}: cannot bind stats socket {}: {e}",
                socket.location, socket.address
            )
        };
        let fd = match (fd, &socket.address) {
            (Some(fd), _) => Some(fd),
            (None, SocketAddress::Unix(path)) if socket.expose_fd_listeners => {
                Some(bind_unix_replacing(path, socket).map_err(failed)?)
            }
            _ => None,
        };
        let task = match fd {
            Some(fd) if socket.expose_fd_listeners => glommio::spawn_local_into(
                handover::serve_exposed(
                    fd,
                    context.clone(),
                    coordinator.clone(),
                    socket.level,
                    idle_timeout,
                ),
                queue,
            ),
            fd => {
                let listener = match fd {
                    // SAFETY: a listening socket we own; glommio's TCP accept loop accepts
                    // from an inherited unix socket as well.
                    Some(fd) => crate::admin::server::AdminListener::Tcp(unsafe {
                        glommio::net::TcpListener::from_raw_fd(fd.into_raw_fd())
                    }),
                    None => crate::admin::server::AdminListener::bind(socket).map_err(failed)?,
                };
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
            }
        }
        .map_err(|e| format!("cannot start the admin socket: {e}"))?;
        tasks.push(task);
    }
    Ok(tasks)
}

/// Binds a unix stats socket under a temporary name and renames it over `path`, so a new
/// process replaces the old one's socket without a moment where the path does not answer.
fn bind_unix_replacing(
    path: &std::path::Path,
    stats: &crate::config::StatsSocket,
) -> std::io::Result<OwnedFd> {
    use socket2::{Domain, SockAddr, Socket, Type};
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_cloexec(true)?;
    socket.bind(&SockAddr::unix(&tmp)?)?;
    socket.listen(128)?;
    // Owner before mode, as for the other admin sockets (`admin::server`).
    if stats.uid.is_some() || stats.gid.is_some() {
        std::os::unix::fs::lchown(&tmp, stats.uid, stats.gid)?;
    }
    if let Some(mode) = stats.mode {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(socket.into())
}

fn shards_of<T: Send>(senders: &mesh::Senders<T>) -> (usize, usize) {
    (senders.peer_id(), senders.nr_consumers())
}

/// A shard other than 0 sends its health results to the coordinator over the report mesh.
struct ReportMesh(mesh::Senders<CheckReport>);

impl HealthSink for ReportMesh {
    async fn report(&self, report: CheckReport) {
        let _ = self.0.send_to(0, report).await;
    }

    fn sequences(&self) -> bool {
        false
    }

    async fn step(&self, steps: Vec<Mutation>) {
        log::error!("slow-start steps {steps:?} sent to a shard that does not sequence");
    }
}

/// The CPUs this process may run on (its affinity mask: `taskset -c 1 pointsman` pins every
/// shard to CPU 1, as HAProxy's threads follow `taskset`), in order; shard i runs on the
/// i-th of them, round robin. CPU 0 alone if the mask cannot be read.
fn allowed_cpus() -> Vec<usize> {
    let mut cpus: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect();
    cpus.sort_unstable();
    if cpus.is_empty() {
        cpus.push(0);
    }
    cpus
}

fn io_uring_error(e: glommio::GlommioError<()>) -> String {
    format!(
        "cannot set up io_uring for a shard ({e}). io_uring needs Linux >= 5.8, not disabled \
         (sysctl kernel.io_uring_disabled=0), and enough locked memory: raise it with \
         `ulimit -l unlimited` (or LimitMEMLOCK=infinity in a systemd unit)"
    )
}

fn process_info(config: &Config, shards: usize, listeners: usize) -> ProcessInfo {
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
        listeners,
        idle_pct: 100,
    }
}
