//! A private nginx to stand beside or behind pointsman, and stopping it (with its workers) for sure.

use super::{temp_dir, wait_for_port, Proc};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running private nginx. Dropping it stops it the way its workers stop too (SIGTERM to the
/// master, which then stops them; a SIGKILL would leave the worker holding the port).
pub struct Nginx {
    pub proc: Proc,
    pub port: u16,
}

impl Nginx {
    /// SIGKILL to the master and its workers (killing the master alone would leave its
    /// worker serving the port). The master is stopped first: a master that sees its worker
    /// die forks a new one at once, which would outlive it and keep the port answering.
    pub fn kill_all(&mut self) {
        let master = self.proc.child.id();
        self.proc.signal(libc::SIGSTOP);
        wait_stopped(master);
        for worker in children_of(master) {
            // SAFETY: signalling a process this test started (nginx's worker).
            unsafe {
                libc::kill(worker as i32, libc::SIGKILL);
            }
        }
        self.proc.kill();
    }

    /// Graceful stop (SIGQUIT): the port closes, requests in flight finish, idle keep-alive
    /// connections close. Waits until the master exited.
    pub fn quit(&mut self) {
        self.proc.signal(libc::SIGQUIT);
        assert!(
            self.proc.wait_exit(Duration::from_secs(10)).is_some(),
            "nginx did not quit"
        );
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(None) = self.proc.child.try_wait() {
            self.proc.signal(libc::SIGTERM);
            let _ = self.proc.wait_exit(Duration::from_secs(5));
        }
    }
}

/// A private nginx (`daemon off`, one worker, its own prefix under a temp dir) answering
/// `200 {body}` with `X-Server: {name}` on 127.0.0.1:`port`; waits until it listens.
pub fn nginx(name: &str, body: &str, port: u16) -> Nginx {
    nginx_with(
        name,
        port,
        "",
        &format!("add_header X-Server {name}; return 200 \"{body}\";"),
    )
}

/// A private nginx with `http_extra` directives in its `http` block and `location` as the
/// body of its `location /`.
pub fn nginx_with(name: &str, port: u16, http_extra: &str, location: &str) -> Nginx {
    nginx_listening(name, port, "", http_extra, location)
}

/// A private nginx answering `200 {name}` with `X-Server: {name}` over TLS 1.2 or 1.3 (nginx
/// 1.22 offers no TLS 1.3 unless asked) on 127.0.0.1:`port` with the certificate `cert` and its `key`; `server_extra` goes in its
/// `server` block (after the TLS lines), `http_extra` in its `http` block.
pub fn nginx_tls(
    name: &str,
    port: u16,
    (cert, key): (&std::path::Path, &std::path::Path),
    http_extra: &str,
    server_extra: &str,
) -> Nginx {
    let listen = format!(
        "ssl;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_certificate {};\n    ssl_certificate_key {};\n    {server_extra}",
        cert.display(),
        key.display()
    );
    let location = format!("add_header X-Server {name}; return 200 \"{name}\";");
    nginx_listening(name, port, &listen, http_extra, &location)
}

/// A private nginx whose `listen` line ends with `listen_extra` (`ssl;` and the lines after).
fn nginx_listening(
    name: &str,
    port: u16,
    listen_extra: &str,
    http_extra: &str,
    location: &str,
) -> Nginx {
    let listen_extra = match listen_extra {
        "" => ";".to_string(),
        extra => format!(" {extra}"),
    };
    let prefix = temp_dir(&format!("nginx-{name}"));
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = prefix.join("nginx.conf");
    let text = format!(
        "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
           fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
           {http_extra}\n\
           server {{\n    listen 127.0.0.1:{port}{listen_extra}\n    location / {{ {location} }}\n  }}\n}}\n",
        p = prefix.display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx (installed by scripts/install-test-deps.sh)");
    let nginx = Nginx {
        proc: Proc {
            child,
            name: format!("nginx {name}"),
        },
        port,
    };
    wait_for_port(port, Duration::from_secs(10));
    nginx
}

/// Waits (up to 2 s) until process `pid` is in the stopped state (`T` in /proc/PID/stat).
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3));
        if matches!(state, Some("T") | None) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
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
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}
