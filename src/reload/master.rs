//! Master-worker mode (`-W`, `-Ws`): a small master process that never serves traffic. It
//! binds the listeners, starts a worker (this same binary, `--master-fd N`) and hands it the
//! listeners and the runtime state over their socket pair, with the hand-over protocol of
//! `-x`. The worker says `READY` once every shard serves.
//!
//! SIGUSR2 (or SIGHUP) reloads: the master reads the config again — an error leaves the old
//! worker serving and is logged — opens the sockets of the new config (the ones it holds are
//! reused, new addresses bound), takes the old worker's runtime state, starts a new worker,
//! and once it is ready soft-stops the old one (SIGUSR1). A new worker that fails to start
//! leaves the old one serving too. SIGTERM, SIGUSR1 and SIGINT are passed to the workers
//! (soft stop, soft stop, stop now); the master exits when they are gone. With `-Ws` the master
//! tells systemd READY=1, RELOADING=1 and STOPPING=1 through `$NOTIFY_SOCKET`.

use super::fdpass::Receiver;
use super::handover::{self, Request};
use super::process::{self, sd_notify};
use super::sockets::{Listeners, Received, Taken};
use crate::config::Config;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a new worker may take to say READY.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the master waits for the old worker's runtime state.
const STATE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the command line gave the master.
#[derive(Debug, Clone)]
pub struct Options {
    pub files: Vec<PathBuf>,
    pub shards: Option<usize>,
    /// The worker's command line (config files, log level, shards), without `--master-fd`.
    pub worker_args: Vec<OsString>,
    pub systemd: bool,
    pub daemon: bool,
    pub pidfile: Option<PathBuf>,
}

/// A worker process and the master's end of their socket pair.
struct Worker {
    child: Child,
    channel: UnixStream,
}

impl Worker {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal);
    }
}

const MASTER_SIGNALS: [libc::c_int; 8] = [
    libc::SIGUSR2,
    libc::SIGHUP,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGUSR1,
    libc::SIGCHLD,
    libc::SIGTTOU,
    libc::SIGTTIN,
];

fn signal_set() -> libc::sigset_t {
    // SAFETY: plain data initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in MASTER_SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// The master's state: its config, its sockets, its workers.
struct Master {
    options: Options,
    listeners: Listeners,
    current: Worker,
    /// Workers soft-stopping after a reload.
    old: Vec<Worker>,
}

/// Runs the master until its workers are gone.
pub fn run(options: Options) -> Result<(), String> {
    let set = signal_set();
    // SAFETY: blocking signals in this (only) thread; workers get an empty mask back.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let daemon = match options.daemon {
        true => Some(process::daemonize()?),
        false => None,
    };
    let config = read_config(&options)?;
    let shards = shard_count(&options, &config);
    let listeners = Listeners::open(
        &config,
        &frontend_names(&config),
        shards,
        &mut Received::new(),
        Taken::Refuse,
    )?;
    if let Some(path) = &options.pidfile {
        process::write_pidfile(path)?;
    }
    let current = start_worker(&options, &listeners, "")?;
    log::warn!(
        "master {} started worker {}",
        std::process::id(),
        current.pid()
    );
    if options.systemd {
        sd_notify(&format!("READY=1\nMAINPID={}", std::process::id()));
    }
    if let Some(daemon) = daemon {
        daemon.ready();
    }
    let mut master = Master {
        options,
        listeners,
        current,
        old: Vec::new(),
    };
    master.serve(&set)
}

impl Master {
    fn serve(&mut self, set: &libc::sigset_t) -> Result<(), String> {
        loop {
            let mut signal = 0;
            // SAFETY: valid set and out pointer; these signals are blocked.
            if unsafe { libc::sigwait(set, &mut signal) } != 0 {
                continue;
            }
            match signal {
                libc::SIGUSR2 | libc::SIGHUP => self.reload(),
                libc::SIGTERM | libc::SIGUSR1 | libc::SIGINT => return self.stop(signal),
                libc::SIGTTOU | libc::SIGTTIN => self.forward(signal),
                libc::SIGCHLD => self.reap()?,
                _ => {}
            }
        }
    }

    /// SIGUSR2: a new worker for the config as it is now; the old one serves until then.
    fn reload(&mut self) {
        log::warn!("reload requested: reading the configuration again");
        if self.options.systemd {
            sd_notify("RELOADING=1");
        }
        match self.start_new_worker() {
            Ok(new) => {
                let old = std::mem::replace(&mut self.current, new.0);
                self.listeners = new.1;
                log::warn!(
                    "reload done: worker {} serves; worker {} soft-stops",
                    self.current.pid(),
                    old.pid()
                );
                old.signal(nix::sys::signal::Signal::SIGUSR1);
                self.old.push(old);
            }
            Err(e) => log::error!(
                "reload failed, worker {} keeps serving the previous configuration: {e}",
                self.current.pid()
            ),
        }
        if self.options.systemd {
            sd_notify("READY=1");
        }
    }

    fn start_new_worker(&mut self) -> Result<(Worker, Listeners), String> {
        let config = read_config(&self.options)?;
        let shards = shard_count(&self.options, &config);
        let mut held = self
            .listeners
            .duplicate()
            .map_err(|e| format!("cannot share the listening sockets: {e}"))?;
        let listeners = Listeners::open(
            &config,
            &frontend_names(&config),
            shards,
            &mut held,
            Taken::Refuse,
        )?;
        let state = match ask_state(&self.current) {
            Ok(state) => state,
            Err(e) => {
                log::warn!(
                    "cannot take the runtime state of worker {}: {e}; the new worker starts \
                     from the config (and the server state files)",
                    self.current.pid()
                );
                String::new()
            }
        };
        let worker = start_worker(&self.options, &listeners, &state)?;
        Ok((worker, listeners))
    }

    /// Passes a stop to every worker and waits until they are all gone.
    fn stop(&mut self, signal: libc::c_int) -> Result<(), String> {
        log::warn!("master: stop requested (signal {signal}); passing it to the workers");
        if self.options.systemd {
            sd_notify("STOPPING=1");
        }
        self.forward(signal);
        for worker in std::iter::once(&mut self.current).chain(self.old.iter_mut()) {
            let _ = worker.child.wait();
        }
        Ok(())
    }

    fn forward(&self, signal: libc::c_int) {
        let Ok(signal) = nix::sys::signal::Signal::try_from(signal) else {
            return;
        };
        for worker in std::iter::once(&self.current).chain(self.old.iter()) {
            worker.signal(signal);
        }
    }

    /// SIGCHLD: old workers that finished are reaped; the current worker dying ends the
    /// master too (the service manager restarts the whole service).
    fn reap(&mut self) -> Result<(), String> {
        self.old.retain_mut(|w| match w.child.try_wait() {
            Ok(Some(status)) => {
                log::warn!("old worker {} exited ({status})", w.child.id());
                false
            }
            _ => true,
        });
        if let Ok(Some(status)) = self.current.child.try_wait() {
            for w in &self.old {
                w.signal(nix::sys::signal::Signal::SIGUSR1);
            }
            return Err(format!(
                "worker {} exited unexpectedly ({status}); the master stops",
                self.current.child.id()
            ));
        }
        Ok(())
    }
}

fn read_config(options: &Options) -> Result<Config, String> {
    let config = crate::config::parse_files(&options.files).map_err(|e| e.to_string())?;
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    Ok(config)
}

fn shard_count(options: &Options, config: &Config) -> usize {
    options
        .shards
        .or(config.global.nbthread)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn frontend_names(config: &Config) -> Vec<String> {
    crate::state::State::from_config(config, 0)
        .frontends
        .into_iter()
        .map(|f| f.name)
        .collect()
}

/// Asks the running worker for its runtime state (`_getstate`).
fn ask_state(worker: &Worker) -> io::Result<String> {
    let mut channel = &worker.channel;
    channel.set_read_timeout(Some(STATE_TIMEOUT))?;
    channel.write_all(b"_getstate\n")?;
    Ok(Receiver::new(worker.channel.as_raw_fd()).recv_frame()?.text)
}

/// The binary a new worker runs: the one at the master's path, which after a package upgrade
/// is the new version. Linux names a replaced binary `PATH (deleted)` in /proc/self/exe;
/// the path is where the new one now is.
fn worker_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own binary: {e}"))?;
    match exe.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
        Some(path) => Ok(PathBuf::from(path)),
        None => Ok(exe),
    }
}

/// Starts a worker, answers its hand-over requests with `listeners` and `state`, and waits
/// until it says READY (or fails: its exit status and log say why).
fn start_worker(options: &Options, listeners: &Listeners, state: &str) -> Result<Worker, String> {
    let (channel, theirs) =
        UnixStream::pair().map_err(|e| format!("cannot create a socket pair: {e}"))?;
    let their_fd = theirs.as_raw_fd();
    let exe = worker_binary()?;
    let mut command = Command::new(exe);
    command
        .args(&options.worker_args)
        .arg("--master-fd")
        .arg(their_fd.to_string());
    // SAFETY: between fork and exec, only async-signal-safe calls: clear close-on-exec on the
    // worker's end of the pair and give the worker an empty signal mask.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(their_fd, libc::F_SETFD, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start a worker: {e}"))?;
    drop(theirs);
    let mut worker = Worker { child, channel };
    match hand_over(&mut worker, listeners, state) {
        Ok(()) => Ok(worker),
        Err(e) => {
            worker.signal(nix::sys::signal::Signal::SIGINT);
            let _ = worker.child.wait();
            Err(e)
        }
    }
}

/// Serves `_getsocks` / `_getstate` to a starting worker until it says READY.
fn hand_over(worker: &mut Worker, listeners: &Listeners, state: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut pending = Vec::new();
    worker
        .channel
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    loop {
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            if line.trim() == "READY" {
                return Ok(());
            }
            let fd: RawFd = worker.channel.as_raw_fd();
            let sent = match Request::parse(&line) {
                Some(Request::GetSockets) => {
                    let (text, fds) = handover::sockets_reply(listeners);
                    handover::reply(fd, &text, &fds)
                }
                Some(Request::GetState) => handover::reply(fd, state, &[]),
                None => return Err(format!("unexpected message from the worker: {line:?}")),
            };
            sent.map_err(|e| format!("cannot hand the listeners to the new worker: {e}"))?;
        }
        if let Ok(Some(status)) = worker.child.try_wait() {
            return Err(format!("the new worker exited during start-up ({status})"));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the new worker did not become ready within {}s",
                START_TIMEOUT.as_secs()
            ));
        }
        let mut buf = [0u8; 256];
        match (&worker.channel).read(&mut buf) {
            Ok(0) => {
                let status = worker.child.wait().map_err(|e| e.to_string())?;
                return Err(format!("the new worker exited during start-up ({status})"));
            }
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("lost the new worker: {e}")),
        }
    }
}
