//! Starting the real `pointsman`: on a config written to a test directory ([`pointsman`] and
//! its variants), or with raw arguments ([`spawn_pointsman`]); a running one's `show stat`;
//! checking a config with `pointsman -c` ([`check_config_file`], [`check_config`]).

use super::{admin, stat_rows, temp_dir, wait_for, wait_for_port, Proc};
use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub const POINTSMAN: &str = env!("CARGO_BIN_EXE_pointsman");

/// `pointsman -c -f PATH`: its exit code and what it printed (stdout, then stderr).
pub fn check_config_file(path: &Path) -> (i32, String) {
    let out = Command::new(POINTSMAN)
        .arg("-c")
        .arg("-f")
        .arg(path)
        .output()
        .expect("run pointsman -c");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// [`check_config_file`] on `text`, written to `t.cfg` in a fresh test directory.
pub fn check_config(text: &str) -> (i32, String) {
    let path = temp_dir("check").join("t.cfg");
    std::fs::write(&path, text).unwrap();
    check_config_file(&path)
}

/// The config most end-to-end tests run: an admin `stats socket`, HTTP with short timeouts,
/// `frontend fe` on 127.0.0.1:`port` sending everything to `backend bk`, whose lines (indented,
/// each ending in a newline) are `backend_lines`.
pub fn proxy_config(port: u16, backend_lines: &str) -> String {
    format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n{backend_lines}"
    )
}

/// A running pointsman.
pub struct Pointsman {
    pub proc: Proc,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub config: PathBuf,
}

/// Writes `config` (where `@SOCKET@` is replaced by a socket path in the test's directory, and
/// `@DIR@` by that directory) and
/// starts pointsman on it with `shards` shards; waits until `wait_port` accepts connections and
/// the admin socket answers.
pub fn pointsman(config: &str, shards: usize, wait_port: u16) -> Pointsman {
    start_pointsman(config, shards, wait_port, false, Stdio::inherit(), &[])
}

/// [`pointsman`] with its standard output sent to `stdout` (e.g. `Stdio::piped()` to read the
/// access log of `log stdout`).
pub fn pointsman_with_stdout(
    config: &str,
    shards: usize,
    wait_port: u16,
    stdout: Stdio,
) -> Pointsman {
    start_pointsman(config, shards, wait_port, false, stdout, &[])
}

/// [`pointsman`] with its log (stderr) written to a file that [`Pointsman::log`] reads.
pub fn pointsman_logged(config: &str, shards: usize, wait_port: u16) -> Pointsman {
    start_pointsman(config, shards, wait_port, true, Stdio::inherit(), &[])
}

/// Like [`pointsman`], started through `wrapper` (e.g. `["prlimit", "--nofile=256"]`), which
/// must exec pointsman in its own process so that the pid is pointsman's.
pub fn pointsman_wrapped(
    config: &str,
    shards: usize,
    wait_port: u16,
    wrapper: &[&str],
) -> Pointsman {
    start_pointsman(config, shards, wait_port, false, Stdio::inherit(), wrapper)
}

fn start_pointsman(
    config: &str,
    shards: usize,
    wait_port: u16,
    log_to_file: bool,
    stdout: Stdio,
    wrapper: &[&str],
) -> Pointsman {
    let dir = temp_dir("run");
    let stderr = if log_to_file {
        Stdio::from(std::fs::File::create(dir.join("pointsman.log")).unwrap())
    } else {
        Stdio::inherit()
    };
    let socket = dir.join("admin.sock");
    let config_path = dir.join("pointsman.cfg");
    std::fs::write(
        &config_path,
        config
            .replace("@SOCKET@", socket.to_str().unwrap())
            .replace("@DIR@", dir.to_str().unwrap()),
    )
    .unwrap();
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(POINTSMAN);
            c
        }
        None => Command::new(POINTSMAN),
    };
    let child = command
        .arg("-f")
        .arg(&config_path)
        .args(["--shards", &shards.to_string()])
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start pointsman");
    let p = Pointsman {
        proc: Proc {
            child,
            name: "pointsman".into(),
        },
        dir,
        socket,
        config: config_path,
    };
    wait_for_port(wait_port, Duration::from_secs(10));
    if config.contains("@SOCKET@") {
        wait_for(Duration::from_secs(10), || {
            UnixStream::connect(&p.socket).is_ok()
        });
    }
    p
}

impl Pointsman {
    /// One-shot admin command (like `echo CMD | socat stdio SOCKET`): the raw reply.
    pub fn admin(&self, command: &str) -> String {
        admin(&self.socket, command)
    }

    /// The log written so far (only with [`pointsman_logged`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pointsman.log")).unwrap_or_default()
    }

    /// One row of `show stat` (`backend`, and `server` or `BACKEND`) as column → value.
    pub fn stat(&self, backend: &str, server: &str) -> HashMap<String, String> {
        let csv = self.admin("show stat");
        stat_rows(&csv)
            .into_iter()
            .find(|row| row["pxname"] == backend && row["svname"] == server)
            .unwrap_or_else(|| panic!("no show stat row {backend}/{server} in:\n{csv}"))
    }

    /// A numeric `show stat` column (0 when empty).
    pub fn stat_number(&self, backend: &str, server: &str, column: &str) -> u64 {
        self.stat(backend, server)
            .get(column)
            .map_or(0, |v| v.parse().unwrap_or(0))
    }

    /// The `status` column of a server (`UP`, `DOWN`, `MAINT`, `UP 1/3` ...).
    pub fn status(&self, backend: &str, server: &str) -> String {
        self.stat(backend, server)["status"].clone()
    }
}

/// Starts `pointsman` with `args` (its stdout and stderr to `log` when given).
pub fn spawn_pointsman(args: &[&std::ffi::OsStr], log: Option<&Path>) -> Proc {
    let mut command = Command::new(POINTSMAN);
    command.args(args);
    if let Some(log) = log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        command.stdout(file.try_clone().unwrap()).stderr(file);
    }
    Proc {
        child: command.spawn().expect("start pointsman"),
        name: "pointsman".into(),
    }
}
