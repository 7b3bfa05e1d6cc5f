//! The processes under test: the ports and files of a run ([`Setup`]), the backend on the load
//! CPUs, and each proxy started on the same haproxy.cfg, pinned to the proxy CPUs.

use super::loadgen::wrk;
use super::*;

/// Ports and files shared by every run.
pub struct Setup {
    pub dir: PathBuf,
    pub http_port: u16,
    pub tcp_port: u16,
    pub relay_port: u16,
    pub backend_ports: [u16; 2],
    pub big_port: u16,
    pub rules_port: u16,
    pub config: PathBuf,
    pub socket: PathBuf,
}

impl Setup {
    pub fn new(args: &Args) -> Setup {
        let dir = std::env::temp_dir().join(format!("pointsman-vs-haproxy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let setup = Setup {
            http_port: free_port(),
            tcp_port: free_port(),
            relay_port: free_port(),
            backend_ports: [free_port(), free_port()],
            big_port: free_port(),
            rules_port: free_port(),
            config: dir.join("bench.cfg"),
            socket: dir.join("admin.sock"),
            dir,
        };
        std::fs::write(setup.dir.join("hosts.map"), setup.hosts_map()).expect("write map");
        std::fs::write(&setup.config, setup.haproxy_cfg(args)).expect("write config");
        setup
    }

    /// The rules frontend's map: 10,000 host names spread over the 10 rule backends, and the
    /// host wrk sends (`127.0.0.1:PORT`) mapped to `bk_mapped`.
    fn hosts_map(&self) -> String {
        let mut map = String::with_capacity(10_001 * 32);
        for i in 0..10_000 {
            map.push_str(&format!("site{i}.example.com bk{}\n", i % 10));
        }
        map.push_str(&format!("127.0.0.1:{} bk_mapped\n", self.rules_port));
        map
    }

    /// `fe_rules`: the cost of routing by rules, as issue 24 states it: 20 ACLs, 10
    /// `use_backend` rules (none of which the benchmark's requests match, so every condition
    /// is evaluated), a 10,000-entry map that chooses the backend, and 5 header rewrites. Every
    /// backend has the same two servers as `bk`, so only the rules differ from `fe_http`.
    fn rules_cfg(&self) -> String {
        let [b1, b2] = self.backend_ports;
        let servers = format!("    server s1 127.0.0.1:{b1}\n    server s2 127.0.0.1:{b2}\n");
        let mut cfg = format!(
            "frontend fe_rules\n    bind 127.0.0.1:{}\n",
            self.rules_port
        );
        for i in 0..10 {
            cfg.push_str(&format!(
                "    acl host{i} hdr(host) -i app{i}.example.com www.app{i}.example.com\n\
                 \x20   acl path{i} path_beg /svc{i}/ /v{i}/\n"
            ));
        }
        cfg.push_str(
            "    http-request set-header X-Forwarded-Proto http\n\
             \x20   http-request set-header X-Original-Host %[req.hdr(host)]\n\
             \x20   http-request add-header X-Via bench\n\
             \x20   http-request del-header Cookie\n\
             \x20   http-request replace-header User-Agent ^curl/(.*)$ curl-\\1\n",
        );
        for i in 0..10 {
            cfg.push_str(&format!("    use_backend bk{i} if host{i} || path{i}\n"));
        }
        cfg.push_str(&format!(
            "    use_backend %[req.hdr(host),lower,map({})]\n    default_backend bk\n",
            self.dir.join("hosts.map").display()
        ));
        for name in (0..10)
            .map(|i| format!("bk{i}"))
            .chain(["bk_mapped".into()])
        {
            cfg.push_str(&format!(
                "backend {name}\n    balance roundrobin\n{servers}"
            ));
        }
        cfg
    }

    /// One file for both proxies: pointsman reads haproxy.cfg. No health checks, no logs:
    /// both do the same work per request. Keep-alive and `http-reuse safe` are both defaults.
    /// `fe_relay` is the floor: the same HTTP backends behind a TCP-mode frontend, so a proxy
    /// relays each keep-alive connection's bytes and does no HTTP work at all.
    fn haproxy_cfg(&self, args: &Args) -> String {
        format!(
            "global\n    nbthread {shards}\n    maxconn {maxconn}\n    stats socket {socket} mode 600 level admin\n\
             defaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n    timeout http-keep-alive 60s\n\
             frontend fe_http\n    bind 127.0.0.1:{http}\n    default_backend bk\n\
             backend bk\n    balance roundrobin\n    server s1 127.0.0.1:{b1}\n    server s2 127.0.0.1:{b2}\n\
             frontend fe_tcp\n    mode tcp\n    bind 127.0.0.1:{tcp}\n    default_backend bk_tcp\n\
             backend bk_tcp\n    mode tcp\n    server big 127.0.0.1:{big}\n\
             frontend fe_relay\n    mode tcp\n    bind 127.0.0.1:{relay}\n    default_backend bk_relay\n\
             backend bk_relay\n    mode tcp\n    balance roundrobin\n    server s1 127.0.0.1:{b1}\n    server s2 127.0.0.1:{b2}\n",
            shards = args.shards,
            maxconn = args.idle_conns + 1000,
            socket = self.socket.display(),
            http = self.http_port,
            tcp = self.tcp_port,
            relay = self.relay_port,
            b1 = self.backend_ports[0],
            b2 = self.backend_ports[1],
            big = self.big_port,
        ) + &self.rules_cfg()
    }
}

/// Starts a command pinned to `cpus` with `taskset`, output to files in the setup dir.
pub fn spawn_pinned(
    setup: &Setup,
    cpus: &str,
    name: &str,
    program: &Path,
    args: &[String],
) -> Proc {
    let log = |ext: &str| {
        std::fs::File::create(setup.dir.join(format!("{name}.{ext}"))).expect("log file")
    };
    let child = Command::new("taskset")
        .arg("-c")
        .arg(cpus)
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log("out"))
        .stderr(log("err"))
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    Proc {
        child,
        name: name.into(),
    }
}

/// The backend on the load CPUs: nginx (one worker) or pointsman-backend answering `BODY` on
/// two ports, and pointsman-backend answering 1 MiB on a third.
/// The backend processes; stopped with SIGTERM (nginx's master then stops its worker, which a
/// SIGKILL would orphan), killed if still there after 2 s.
pub struct Backends(Vec<Proc>);

impl Drop for Backends {
    fn drop(&mut self) {
        for p in &mut self.0 {
            p.signal(libc::SIGTERM);
            let _ = p.wait_exit(Duration::from_secs(2));
        }
    }
}

pub fn start_backend(args: &Args, setup: &Setup) -> Backends {
    let [b1, b2] = setup.backend_ports;
    // The 1 MiB TCP-mode responses always come from pointsman-backend: nginx serving a 1 MiB
    // file to wrk stalled connections here (wrk timeouts even without a proxy in between).
    let big = spawn_pinned(
        setup,
        &args.load_cpus,
        "backend-big",
        Path::new(common::BACKEND),
        &[
            "--listen".into(),
            format!("127.0.0.1:{}", setup.big_port),
            "--size".into(),
            BIG.to_string(),
        ],
    );
    let mut procs = if args.backend == "nginx" {
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/nginx.error.log;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {dir};\n  proxy_temp_path {dir};\n  fastcgi_temp_path {dir};\n  uwsgi_temp_path {dir};\n  scgi_temp_path {dir};\n\
             keepalive_requests 1000000;\n  keepalive_timeout 120s;\n\
               server {{ listen 127.0.0.1:{b1}; listen 127.0.0.1:{b2}; location / {{ default_type text/plain; return 200 \"{body}\"; }} }}\n\
}}\n",
            dir = setup.dir.display(),
            body = BODY.escape_default(),
        );
        let path = setup.dir.join("nginx.conf");
        std::fs::write(&path, conf).expect("nginx.conf");
        vec![spawn_pinned(
            setup,
            &args.load_cpus,
            "nginx",
            &args.nginx,
            &[
                "-e".into(),
                format!("{}/nginx.error.log", setup.dir.display()),
                "-c".into(),
                path.display().to_string(),
            ],
        )]
    } else {
        let small = spawn_pinned(
            setup,
            &args.load_cpus,
            "backend",
            Path::new(common::BACKEND),
            &[
                "--listen".into(),
                format!("127.0.0.1:{b1}"),
                "--listen".into(),
                format!("127.0.0.1:{b2}"),
                "--body".into(),
                BODY.into(),
            ],
        );
        vec![small]
    };
    procs.push(big);
    for port in [b1, b2, setup.big_port] {
        wait_for_port(port, Duration::from_secs(10));
    }
    Backends(procs)
}

/// A proxy under test, re-pinned and stopped on drop.
pub struct Running {
    proc: Proc,
    kind: Proxy,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stop at once (pointsman: SIGINT; HAProxy: SIGTERM), then Proc's drop kills what is
        // left: only the measurements matter here, not a graceful exit.
        self.proc.signal(match self.kind {
            Proxy::HAProxy => libc::SIGTERM,
            Proxy::Pointsman => libc::SIGINT,
        });
        let _ = self.proc.wait_exit(Duration::from_secs(1));
    }
}

pub fn start_proxy(args: &Args, setup: &Setup, kind: Proxy) -> Running {
    let _ = std::fs::remove_file(&setup.socket);
    let config = setup.config.display().to_string();
    let proc = match kind {
        Proxy::HAProxy => spawn_pinned(
            setup,
            &args.proxy_cpus,
            "haproxy",
            &args.haproxy,
            &["-db".into(), "-f".into(), config],
        ),
        Proxy::Pointsman => spawn_pinned(
            setup,
            &args.proxy_cpus,
            "pointsman",
            &args.pointsman,
            &[
                "-f".into(),
                config,
                "--shards".into(),
                args.shards.to_string(),
            ],
        ),
    };
    let running = Running { proc, kind };
    wait_for_port(setup.http_port, Duration::from_secs(10));
    common::wait_for(Duration::from_secs(10), || setup.socket.exists());
    // Every thread onto the proxy CPUs: a glommio shard pins itself with Placement::Fixed,
    // which ignores the affinity it was started with.
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &args.proxy_cpus,
            &running.pid().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .expect("taskset -a -p");
    assert!(status.success(), "taskset -a -p failed");
    // Warm-up outside every measurement window.
    let _ = wrk(args, setup.http_port, "/", 1, 1, false);
    running
}
