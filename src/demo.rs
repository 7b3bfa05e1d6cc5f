//! `pointsman demo`: the hatop guide's zero-downtime switch, out of the box.
//!
//! Starts two backends answering "nginx 1.19.8" (nginx1, the backup) and "nginx 1.18.0"
//! (nginx2), pointsman itself on the guide's config, then the load tester: a GET every 2 seconds
//! (or `--rate N` requests per second) while `disable server bk_app/nginx2` and later
//! `enable server bk_app/nginx2` go through the real admin socket. It prints the request lines,
//! the switches and the final histogram, writes the SVG plot, and fails if any request failed.
//! The backends are the built-in test backend (threads in this process), or real nginx with
//! `--nginx`.

use crate::loadtest::{self, LoadOptions};
use clap::Parser;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

/// Runs the demo; `Ok(true)` when every request succeeded.
pub fn run(options: &DemoOptions) -> Result<bool, String> {
    let dir = std::env::temp_dir().join(format!("pointsman-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let backends = Backends::start(options.nginx, &dir)?;
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
    let proxy = Proxy::start(&config, options.shards, port, &socket)?;
    let load = load_options(options, port, &socket)?;
    let report = loadtest::run(&load);
    drop(proxy);
    drop(backends);
    let _ = std::fs::remove_dir_all(&dir);
    let report = report?;
    report.print();
    println!("plot written to {}", options.plot.display());
    Ok(!report.failed())
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

/// The two backends: built-in (threads of this process) or real nginx processes.
struct Backends {
    nginx1: SocketAddr,
    nginx2: SocketAddr,
    nginx: Vec<Child>,
}

impl Backends {
    fn start(real_nginx: bool, dir: &Path) -> Result<Backends, String> {
        if real_nginx {
            let (p1, p2) = (free_port()?, free_port()?);
            let nginx = vec![
                start_nginx(dir, "nginx1", "nginx 1.19.8", p1)?,
                start_nginx(dir, "nginx2", "nginx 1.18.0", p2)?,
            ];
            let backends = Backends {
                nginx1: ([127, 0, 0, 1], p1).into(),
                nginx2: ([127, 0, 0, 1], p2).into(),
                nginx,
            };
            wait_until_listening(backends.nginx1)?;
            wait_until_listening(backends.nginx2)?;
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
            nginx: Vec::new(),
        })
    }
}

impl Drop for Backends {
    fn drop(&mut self) {
        for child in &mut self.nginx {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A foreground nginx answering `body` on `port`, with its files under `dir/name`.
fn start_nginx(dir: &Path, name: &str, body: &str, port: u16) -> Result<Child, String> {
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
    Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            format!("cannot start nginx (is it installed? apt-get install nginx-light): {e}")
        })
}

fn wait_until_listening(addr: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("nothing listens on {addr} after 10 s"))
}

/// pointsman itself, started from this very binary, stopped (SIGTERM) when dropped.
struct Proxy {
    child: Child,
}

impl Proxy {
    fn start(
        config: &Path,
        shards: Option<usize>,
        port: u16,
        socket: &Path,
    ) -> Result<Proxy, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command.arg("-f").arg(config);
        if let Some(n) = shards {
            command.args(["--shards", &n.to_string()]);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start pointsman: {e}"))?;
        let proxy = Proxy { child };
        wait_until_listening(([127, 0, 0, 1], port).into())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            if Instant::now() > deadline {
                return Err("the admin socket did not come up".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(proxy)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}
