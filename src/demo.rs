//! `pointsman demo`: the hatop guide's zero-downtime switch, out of the box.
//!
//! Starts two backends answering "nginx 1.19.8" (nginx1, the backup) and "nginx 1.18.0"
//! (nginx2), pointsman itself on the guide's config, then the load tester: a GET every 2 seconds
//! (or `--rate N` requests per second) while `disable server bk_app/nginx2` and later
//! `enable server bk_app/nginx2` go through the real admin socket. It prints the request lines,
//! the switches and the final histogram, writes the SVG plot, and fails if any request failed.
//! The backends are the built-in test backend (threads in this process), or real nginx with
//! `--nginx`.
//!
//! It owns every process it starts ([`Children`]): the proxy and the nginx masters are stopped
//! the way they stop cleanly and reaped on every way out (success, failure, SIGINT / SIGTERM /
//! SIGHUP), and the kernel sends them SIGTERM if the demo is killed outright.

use crate::loadtest::{self, LoadOptions, Report};
use clap::Parser;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `pointsman demo` options.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoOptions {
    /// Time between two GETs (the guide's demo: 2s).
    #[arg(long, default_value = "2s", value_parser = loadtest::options::parse_duration)]
    pub every: Duration,
    /// High-rate variant: this many requests per second over 8 connections, with a switch
    /// every 3 seconds.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Length of the high-rate variant (switches every 3 s within it).
    #[arg(long, default_value = "18s", value_parser = loadtest::options::parse_duration)]
    pub duration: Duration,
    /// Use real nginx backends (nginx must be installed).
    #[arg(long)]
    pub nginx: bool,
    /// Where to write the SVG plot of the run.
    #[arg(long, default_value = "pointsman-demo.svg")]
    pub plot: PathBuf,
    /// Shards for the proxy (default: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
}

/// Runs the demo; `Ok(true)` when every request and switch succeeded. Every process it starts
/// is stopped and reaped before it returns, whatever the outcome, and on SIGINT / SIGTERM /
/// SIGHUP before the demo dies of the signal.
pub fn run(options: &DemoOptions) -> Result<bool, String> {
    let dir = TempDir::create(
        std::env::temp_dir().join(format!("pointsman-demo-{}", std::process::id())),
    )?;
    let children = Arc::new(Children::default());
    let interrupts = OnInterrupt::install(children.clone(), dir.path.clone());
    let report = run_in(options, &dir.path, &children);
    children.stop_all(Stop::Soft);
    drop(interrupts);
    drop(dir);
    let report = report?;
    report.print();
    println!("plot written to {}", options.plot.display());
    Ok(!report.failed())
}

/// Starts the backends and the proxy under `dir`, then runs the load test through them.
fn run_in(options: &DemoOptions, dir: &Path, children: &Children) -> Result<Report, String> {
    let backends = Backends::start(options.nginx, dir, children)?;
    let socket = dir.join("admin.sock");
    let port = free_port()?;
    let config = dir.join("hatop-guide.cfg");
    std::fs::write(
        &config,
        guide_config(port, backends.nginx1, backends.nginx2, &socket),
    )
    .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
    println!("pointsman demo: frontend 127.0.0.1:{port}, nginx1 (backup, \"nginx 1.19.8\") on {}, nginx2 (\"nginx 1.18.0\") on {}", backends.nginx1, backends.nginx2);
    println!("config: {}", config.display());
    start_proxy(children, &config, options.shards, port, &socket)?;
    let load = load_options(options, port, &socket)?;
    loadtest::run(&load)
}

/// The hatop guide's config with this run's ports.
fn guide_config(port: u16, nginx1: SocketAddr, nginx2: SocketAddr, socket: &Path) -> String {
    format!(
        "# The hatop guide's haproxy.cfg, on loopback ports chosen for this run.\n\
         global\n    stats socket {} mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk_app\n\
         backend bk_app\n    server nginx1 {nginx1} check backup\n    server nginx2 {nginx2} check\n",
        socket.display()
    )
}

/// The load tester's command line for this demo: the guide's probe, or the high-rate variant.
fn load_options(options: &DemoOptions, port: u16, socket: &Path) -> Result<LoadOptions, String> {
    let url = format!("http://127.0.0.1:{port}/");
    let mut args: Vec<String> = vec!["load".into(), url];
    let (run_for, switches) = match options.rate {
        None => {
            let every = options.every;
            args.extend(["--every".into(), format!("{}ms", every.as_millis())]);
            // 12 GETs; nginx2 goes into maintenance between the 4th and 5th, back between the
            // 8th and 9th.
            let at = |n: u32| every * n - every / 2;
            (every * 12, vec![(at(4), "disable"), (at(8), "enable")])
        }
        Some(rate) => {
            args.extend([
                "--rate".into(),
                rate.to_string(),
                "--connections".into(),
                "8".into(),
            ]);
            let run_for = options.duration;
            let flips = (1u32..)
                .map(|i| {
                    (
                        Duration::from_secs(3) * i,
                        if i % 2 == 1 { "disable" } else { "enable" },
                    )
                })
                .take_while(|(at, _)| *at < run_for);
            (run_for, flips.collect())
        }
    };
    args.extend(["--duration".into(), format!("{}ms", run_for.as_millis())]);
    for (at, verb) in switches {
        args.extend([
            "--at".into(),
            format!("{}ms", at.as_millis()),
            format!("{verb} server bk_app/nginx2"),
        ]);
    }
    args.extend(["--socket".into(), socket.display().to_string()]);
    args.extend(["--plot".into(), options.plot.display().to_string()]);
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        load: LoadOptions,
    }
    Wrapper::try_parse_from(args)
        .map(|w| w.load)
        .map_err(|e| e.to_string())
}

fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// The two backends' addresses: built-in (threads of this process, gone with it) or real
/// nginx processes (held by [`Children`]).
struct Backends {
    nginx1: SocketAddr,
    nginx2: SocketAddr,
}

impl Backends {
    fn start(real_nginx: bool, dir: &Path, children: &Children) -> Result<Backends, String> {
        if real_nginx {
            let (p1, p2) = (free_port()?, free_port()?);
            children.spawn(
                Kind::Nginx,
                nginx_command(dir, "nginx1", "nginx 1.19.8", p1)?,
            )?;
            children.spawn(
                Kind::Nginx,
                nginx_command(dir, "nginx2", "nginx 1.18.0", p2)?,
            )?;
            let backends = Backends {
                nginx1: ([127, 0, 0, 1], p1).into(),
                nginx2: ([127, 0, 0, 1], p2).into(),
            };
            wait_until_listening(backends.nginx1, || children.all_running())?;
            wait_until_listening(backends.nginx2, || children.all_running())?;
            return Ok(backends);
        }
        let start = |name: &str, body: &str| -> Result<SocketAddr, String> {
            let options = crate::testbackend::Options {
                listen: vec![([127, 0, 0, 1], 0).into()],
                body: body.into(),
                name: name.into(),
                delay_ms: 0,
                jitter_ms: 0,
                size: None,
                error_percent: 0,
                chunked: false,
            };
            let bound = crate::testbackend::start(options).map_err(|e| e.to_string())?;
            bound
                .first()
                .copied()
                .ok_or_else(|| "backend bound nothing".to_string())
        };
        Ok(Backends {
            nginx1: start("nginx1", "nginx 1.19.8")?,
            nginx2: start("nginx2", "nginx 1.18.0")?,
        })
    }
}

/// A foreground nginx answering `body` on `port`, with its files under `dir/name`.
fn nginx_command(dir: &Path, name: &str, body: &str, port: u16) -> Result<Command, String> {
    let prefix = dir.join(name);
    std::fs::create_dir_all(prefix.join("logs")).map_err(|e| e.to_string())?;
    let conf = prefix.join("nginx.conf");
    let text = format!(
        "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
           fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    location / {{ add_header X-Server {name}; return 200 \"{body}\"; }}\n  }}\n}}\n",
        p = prefix.display()
    );
    std::fs::write(&conf, text).map_err(|e| e.to_string())?;
    let mut command = Command::new("nginx");
    command
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Ok(command)
}

/// Waits until `addr` accepts connections; gives up early when `alive` says the process that
/// should listen there is gone.
fn wait_until_listening(
    addr: SocketAddr,
    alive: impl Fn() -> Result<(), String>,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        alive()?;
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!(
        "nothing listens on {addr} after {} s",
        START_TIMEOUT.as_secs()
    ))
}

/// Starts pointsman itself, from this very binary, and waits until it serves `port` and its
/// admin `socket`.
fn start_proxy(
    children: &Children,
    config: &Path,
    shards: Option<usize>,
    port: u16,
    socket: &Path,
) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command.arg("-f").arg(config);
    if let Some(n) = shards {
        command.args(["--shards", &n.to_string()]);
    }
    children.spawn(Kind::Pointsman, command)?;
    wait_until_listening(([127, 0, 0, 1], port).into(), || children.all_running())?;
    let deadline = Instant::now() + START_TIMEOUT;
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        children.all_running()?;
        if Instant::now() > deadline {
            return Err("the admin socket did not come up".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Longest a backend or the proxy may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a child may take to exit after its stop signal before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What a child is, which decides how it is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An nginx master (`daemon off`) with its worker.
    Nginx,
    /// pointsman itself.
    Pointsman,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Pointsman => "pointsman",
        }
    }
}

/// Every process the demo started. [`Children::stop_all`] stops them in reverse order (the
/// proxy before its backends) and reaps them; it runs at the end of [`run`] and from the
/// interrupt watcher, whichever comes first, and afterwards nothing more may start.
#[derive(Default)]
struct Children {
    state: Mutex<ChildList>,
}

#[derive(Default)]
struct ChildList {
    running: Vec<(Kind, Child)>,
    /// Set by `stop_all`: a start racing with an interrupt must not outlive it.
    closed: bool,
}

impl Children {
    /// Starts `command` as a child of this process. The child gets SIGTERM from the kernel
    /// if the demo dies without stopping it (SIGKILL), so even then none is left running.
    fn spawn(&self, kind: Kind, mut command: Command) -> Result<(), String> {
        let demo = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec, only async-signal-safe calls (prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The demo may have died between fork and prctl: then no signal would come.
                if libc::getppid() != demo {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let mut list = self.lock();
        if list.closed {
            return Err("interrupted".into());
        }
        let child = command.spawn().map_err(|e| match kind {
            Kind::Nginx => {
                format!("cannot start nginx (is it installed? apt-get install nginx-light): {e}")
            }
            Kind::Pointsman => format!("cannot start pointsman: {e}"),
        })?;
        list.running.push((kind, child));
        Ok(())
    }

    /// Err when a child has already exited (it failed to start), with its exit status.
    fn all_running(&self) -> Result<(), String> {
        for (kind, child) in &mut self.lock().running {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{} exited at start-up ({status})", kind.name()));
            }
        }
        Ok(())
    }

    /// Stops and reaps every child, last started first. `Stop::Now` (an interrupt) does not
    /// let the proxy finish the requests it has open.
    fn stop_all(&self, how: Stop) {
        let mut list = self.lock();
        list.closed = true;
        while let Some((kind, mut child)) = list.running.pop() {
            match kind {
                Kind::Nginx => stop_nginx(&mut child),
                Kind::Pointsman => stop_pointsman(&mut child, how),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChildList> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How the proxy stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGTERM, soft stop: it closes its listeners, lets what is open finish and exits (the
    /// load test is over, so nothing is open for long).
    Soft,
    /// SIGINT: at once (the load test is still sending).
    Now,
}

/// Soft or at once, then SIGKILL if it is still there after [`STOP_TIMEOUT`].
fn stop_pointsman(child: &mut Child, how: Stop) {
    let signal_number = match how {
        Stop::Soft => libc::SIGTERM,
        Stop::Now => libc::SIGINT,
    };
    signal(child.id(), signal_number);
    if !wait_exit(child, STOP_TIMEOUT) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// SIGTERM to the master: nginx's fast shutdown, in which the master stops its worker and
/// reaps it before it exits. (A SIGKILL to the master alone would orphan the worker, still
/// listening on the port.) If the master is stuck, it is stopped (SIGSTOP, so that it cannot
/// fork a new worker) before its workers and then itself are killed.
fn stop_nginx(master: &mut Child) {
    signal(master.id(), libc::SIGTERM);
    if wait_exit(master, STOP_TIMEOUT) {
        return;
    }
    signal(master.id(), libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(50));
    for worker in children_of(master.id()) {
        signal(worker, libc::SIGKILL);
    }
    let _ = master.kill();
    let _ = master.wait();
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: signalling a process this demo started and has not reaped yet (its pid cannot
    // have been reused), or one of that process's children.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// Waits up to `timeout` for `child` to exit and reaps it; true if it did.
fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Pids whose parent is `parent` (from /proc/*/stat).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    rest.split(' ').nth(1)?.parse().ok()
}

/// The demo's working directory (configs, admin socket, nginx prefixes), removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn create(path: PathBuf) -> Result<TempDir, String> {
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The signal that interrupted the demo (0: none yet). Written by the signal handler, which
/// may do nothing more than that; read by the watcher thread.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// The signals that end the demo: Ctrl-C, `kill`, a closed terminal.
const INTERRUPTS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_interrupt(signal: libc::c_int) {
    INTERRUPTED.store(signal, Ordering::SeqCst);
}

/// While alive, SIGINT / SIGTERM / SIGHUP stop the demo's children, remove its directory and
/// then end the demo by the same signal (so a shell sees it died of Ctrl-C). A watcher thread
/// does the work, because a signal handler may only set a flag. Dropping it restores the
/// default actions.
struct OnInterrupt {
    done: Arc<AtomicBool>,
    watcher: Option<std::thread::JoinHandle<()>>,
}

impl OnInterrupt {
    fn install(children: Arc<Children>, dir: PathBuf) -> OnInterrupt {
        for signal in INTERRUPTS {
            set_handler(
                signal,
                on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
        let done = Arc::new(AtomicBool::new(false));
        let watching = done.clone();
        let watcher = std::thread::spawn(move || {
            while !watching.load(Ordering::SeqCst) {
                let signal = INTERRUPTED.load(Ordering::SeqCst);
                if signal != 0 {
                    eprintln!("pointsman demo: interrupted, stopping its processes");
                    children.stop_all(Stop::Now);
                    let _ = std::fs::remove_dir_all(&dir);
                    set_handler(signal, libc::SIG_DFL);
                    // SAFETY: raising a signal whose action is now the default (terminate).
                    unsafe {
                        libc::raise(signal);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        OnInterrupt {
            done,
            watcher: Some(watcher),
        }
    }
}

impl Drop for OnInterrupt {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        for signal in INTERRUPTS {
            set_handler(signal, libc::SIG_DFL);
        }
    }
}

fn set_handler(signal: i32, handler: libc::sighandler_t) {
    // SAFETY: the handler only stores into an atomic (async-signal-safe); the sigaction is
    // zeroed (an empty mask, no flags) before the handler is set.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}
