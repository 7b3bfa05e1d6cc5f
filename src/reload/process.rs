//! Process-level chores of start-up and hand-over: daemon mode (`-D`), the pid file (`-p`),
//! systemd's readiness notification (`-Ws`, `$NOTIFY_SOCKET`), and signalling the processes
//! named by `-sf` / `-st` once this one serves.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

/// The daemon's link to the parent that waits for it.
pub struct Daemon {
    ready: std::fs::File,
}

/// `-D`: forks; the parent waits until the child reports that it serves (exit 0) or dies
/// (exit 1, its error printed on the terminal it still had). The child leaves the session
/// of its terminal. Call before any thread starts.
pub fn daemonize() -> Result<Daemon, String> {
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: two descriptors the kernel just created for us.
    let (read_end, write_end) = unsafe {
        (
            OwnedFd::from_raw_fd(read_end),
            OwnedFd::from_raw_fd(write_end),
        )
    };
    // SAFETY: no other thread runs yet, so the child is a faithful copy.
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("cannot fork: {e}"))? {
        nix::unistd::ForkResult::Parent { .. } => {
            drop(write_end);
            let mut reader = std::fs::File::from(read_end);
            let mut byte = [0u8; 1];
            let code = match reader.read(&mut byte) {
                Ok(1) => 0,
                _ => 1,
            };
            std::process::exit(code);
        }
        nix::unistd::ForkResult::Child => {
            drop(read_end);
            let _ = nix::unistd::setsid();
            Ok(Daemon {
                ready: std::fs::File::from(write_end),
            })
        }
    }
}

impl Daemon {
    /// The daemon serves: the parent may exit; standard streams go to /dev/null.
    pub fn ready(mut self) {
        let _ = self.ready.write_all(b"1");
        if let Ok(null) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            use std::os::fd::AsRawFd;
            for fd in 0..3 {
                // SAFETY: dup2 onto the standard descriptors.
                unsafe { libc::dup2(null.as_raw_fd(), fd) };
            }
        }
    }
}

/// Writes this process's pid to `path`.
pub fn write_pidfile(path: &Path) -> Result<(), String> {
    std::fs::write(path, format!("{}\n", std::process::id()))
        .map_err(|e| format!("cannot write pid file {}: {e}", path.display()))
}

/// Soft-stops (`-sf`, SIGUSR1) or stops at once (`-st`, SIGINT) the processes named.
pub fn signal_old_processes(soft: &[i32], hard: &[i32]) {
    for (pids, signal) in [(soft, Signal::SIGUSR1), (hard, Signal::SIGINT)] {
        for &pid in pids {
            match kill(Pid::from_raw(pid), signal) {
                Ok(()) => log::info!("sent {signal} to old process {pid}"),
                Err(e) => log::warn!("cannot signal old process {pid}: {e}"),
            }
        }
    }
}

/// Sends `state` (e.g. `READY=1`) to systemd when it asked for notifications.
pub fn sd_notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = notify_socket(&path, state) {
        log::warn!("cannot notify systemd ({state}): {e}");
    }
}

fn notify_socket(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(Path::new(path))?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// Takes descriptor `fd`, inherited from the parent process, as ours.
///
/// # Safety
/// `fd` must be an open descriptor that nothing else in this process owns.
pub unsafe fn take_fd(fd: i32) -> OwnedFd {
    OwnedFd::from_raw_fd(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_a_unix_datagram_socket() {
        let dir = std::env::temp_dir().join(format!("pointsman-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        notify_socket(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
