//! The listening sockets of one process, opened before any shard starts: fresh binds, sockets
//! inherited as `fd@N`, and sockets received from the previous process (`-x`, or the master).
//!
//! Each `bind` address (and each TCP or `fd@` stats socket) is one [`Listener`] with one or more
//! descriptors: a fresh TCP bind gets one SO_REUSEPORT socket per shard (the kernel spreads
//! connections over them); a unix or `fd@` bind has one socket that every shard accepts from
//! (a duplicate per shard). Received sockets are used as they are, whatever their number:
//! every one of them is accepted from, so no connection waits in a queue nobody reads.
//!
//! A listener is named by a key (`bind 127.0.0.1:8080`, `bind unix@/run/app.sock`,
//! `stats fd@4`): the key is what the hand-over matches between the old config and the new.

use super::fdpass::dup;
use crate::config::{Config, SocketAddress};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Accept queue length of the sockets pointsman binds.
const BACKLOG: i32 = 4096;

/// Sockets received from another process, by key.
pub type Received = HashMap<String, Vec<OwnedFd>>;

/// One listening address and its sockets.
#[derive(Debug)]
pub struct Listener {
    pub key: String,
    pub fds: Vec<OwnedFd>,
}

impl Listener {
    /// The sockets shard `shard` of `shards` accepts from: its share when there are at least
    /// as many sockets as shards, else a duplicate of one of them.
    pub fn for_shard(&self, shard: usize, shards: usize) -> io::Result<Vec<OwnedFd>> {
        let count = self.fds.len();
        if count == 0 {
            return Ok(Vec::new());
        }
        if count >= shards {
            return (0..count)
                .filter(|i| i % shards == shard)
                .map(|i| dup(&self.fds[i]))
                .collect();
        }
        Ok(vec![dup(&self.fds[shard % count])?])
    }
}

/// Every listening socket of the process.
#[derive(Debug, Default)]
pub struct Listeners {
    /// Per frontend, in the order of `State::frontends`: its binds.
    pub frontends: Vec<Vec<Listener>>,
    /// Per `stats socket` line: `Some` for TCP and `fd@` sockets; unix sockets are bound by
    /// the admin server itself (a new process replaces the old one's socket file).
    pub stats: Vec<Option<Listener>>,
}

/// How fresh TCP binds treat an address another process listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Refuse it with a clear error (a SO_REUSEPORT bind would silently share the port).
    Refuse,
    /// Join it: the processes named by `-sf`/`-st` hold it and will let it go.
    Join,
}

impl Listeners {
    /// Opens the sockets of `config` for `shards` shards, taking received sockets by key
    /// first (they leave `received`) and binding the others. `frontends` are the frontend
    /// names in the order of `State::frontends`.
    pub fn open(
        config: &Config,
        frontends: &[String],
        shards: usize,
        received: &mut Received,
        taken: Taken,
    ) -> Result<Listeners, String> {
        let mut listeners = Listeners::default();
        let mut inherited = Vec::new();
        for name in frontends {
            let mut binds = Vec::new();
            let proxy = config.proxy_with_frontend(name);
            for bind in proxy
                .iter()
                .flat_map(|p| p.frontend.iter())
                .flat_map(|f| &f.binds)
            {
                let key = format!("bind {}", bind.addr);
                let fds = match received.remove(&key) {
                    Some(fds) => Ok(fds),
                    None => open_address(&bind.addr, shards, taken, &mut inherited),
                }
                .map_err(|e| {
                    format!(
                        "{}: cannot bind {} for frontend '{name}': {e}",
                        bind.location, bind.addr
                    )
                })?;
                binds.push(Listener { key, fds });
            }
            listeners.frontends.push(binds);
        }
        for socket in &config.global.stats_sockets {
            let key = format!("stats {}", socket.address);
            let fds = match (&socket.address, received.remove(&key)) {
                (SocketAddress::Unix(_), _) => {
                    listeners.stats.push(None);
                    continue;
                }
                (_, Some(fds)) => Ok(fds),
                (address, None) => open_address(address, 1, Taken::Refuse, &mut inherited),
            }
            .map_err(|e| {
                format!(
                    "{}: cannot bind stats socket {}: {e}",
                    socket.location, socket.address
                )
            })?;
            listeners.stats.push(Some(Listener { key, fds }));
        }
        Ok(listeners)
    }

    /// Every listener, for the hand-over to a new process.
    pub fn all(&self) -> impl Iterator<Item = &Listener> {
        self.frontends
            .iter()
            .flatten()
            .chain(self.stats.iter().flatten())
    }

    /// Number of listening addresses (`show info`'s listeners).
    pub fn count(&self) -> usize {
        self.frontends.iter().map(Vec::len).sum()
    }

    /// A copy of every socket by key (duplicates: the originals stay here), for a master
    /// that opens a new set but must keep the old one if the new worker fails.
    pub fn duplicate(&self) -> io::Result<Received> {
        let mut copies = Received::new();
        for listener in self.all() {
            let fds = listener
                .fds
                .iter()
                .map(dup)
                .collect::<io::Result<Vec<_>>>()?;
            copies.insert(listener.key.clone(), fds);
        }
        Ok(copies)
    }
}

/// Opens the sockets of one address: `shards` SO_REUSEPORT sockets for TCP, one for unix,
/// the inherited one for `fd@N`.
fn open_address(
    address: &SocketAddress,
    shards: usize,
    taken: Taken,
    inherited: &mut Vec<i32>,
) -> io::Result<Vec<OwnedFd>> {
    match address {
        SocketAddress::Tcp(addr) => {
            if taken == Taken::Refuse {
                probe(*addr)?;
            }
            (0..shards.max(1)).map(|_| tcp_socket(*addr)).collect()
        }
        SocketAddress::Unix(path) => Ok(vec![unix_socket(path)?]),
        SocketAddress::Fd(fd) => {
            if inherited.contains(fd) {
                return Err(io::Error::other(format!(
                    "fd@{fd} is used twice: an inherited socket belongs to one bind"
                )));
            }
            let owned = take_inherited(*fd)?;
            inherited.push(*fd);
            Ok(vec![owned])
        }
    }
}

/// How long [`probe`] waits for a listener that is going away. When a process that listened
/// with io_uring exits (or is killed), the kernel releases the sockets its pending requests
/// hold asynchronously, after the process is gone: such listening sockets stay in LISTEN for
/// 30-110 ms here (more on a loaded machine), and a start on the same port in that window
/// failed with "Address already in use". SO_REUSEADDR (set) covers TIME_WAIT, not this.
/// pointsman's own listeners are no longer held so (vendored glommio's patch 12: they close
/// with the process); another io_uring server's still are.
const PROBE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
const PROBE_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

/// Fails if another process listens on `addr`: a plain bind without SO_REUSEPORT refuses an
/// address that has a listener, where a SO_REUSEPORT bind would join it. An address in use
/// is retried for [`PROBE_PATIENCE`] (a listener of a process that just exited); a real
/// conflict is reported after that.
pub fn probe(addr: SocketAddr) -> io::Result<()> {
    let deadline = std::time::Instant::now() + PROBE_PATIENCE;
    loop {
        match probe_once(addr) {
            Err(e)
                if e.kind() == io::ErrorKind::AddrInUse && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(PROBE_RETRY)
            }
            result => return result,
        }
    }
}

fn probe_once(addr: SocketAddr) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    Ok(())
}

/// A non-blocking, listening SO_REUSEPORT TCP socket.
pub fn tcp_socket(addr: SocketAddr) -> io::Result<OwnedFd> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// A non-blocking, listening unix stream socket; a stale socket file is replaced.
fn unix_socket(path: &Path) -> io::Result<OwnedFd> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    socket.bind(&SockAddr::unix(path)?)?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Takes over descriptor `fd` inherited from the parent: it must be a listening stream
/// socket. It becomes non-blocking (every process sharing it then accepts without blocking)
/// and close-on-exec (it is handed to a new process on purpose, never by accident).
pub fn take_inherited(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only checks that the number is an open descriptor.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::other(format!(
            "fd@{fd}: no such descriptor was inherited from the parent process"
        )));
    }
    // SAFETY: the descriptor is open, and the config names it as ours to take.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    let listening = is_listening(&socket);
    if !listening {
        // Not ours after all: give the number back untouched.
        let _ = socket.into_raw_fd_untouched();
        return Err(io::Error::other(format!(
            "fd@{fd} is not a listening stream socket"
        )));
    }
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    Ok(socket.into())
}

fn is_listening(socket: &Socket) -> bool {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt with a correctly sized output buffer.
    let ok = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    } == 0;
    ok && value == 1 && socket.r#type().is_ok_and(|t| t == Type::STREAM)
}

trait Untouched {
    fn into_raw_fd_untouched(self) -> RawFd;
}

impl Untouched for Socket {
    fn into_raw_fd_untouched(self) -> RawFd {
        std::os::fd::IntoRawFd::into_raw_fd(self)
    }
}

/// The raw descriptors of `fds`, borrowed.
pub fn raw(fds: &[OwnedFd]) -> Vec<RawFd> {
    fds.iter().map(|fd| fd.as_fd().as_raw_fd()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        crate::config::parse_str("t.cfg", text).unwrap()
    }

    #[test]
    fn a_tcp_bind_gets_one_socket_per_shard_and_a_taken_port_is_refused() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = config(&format!(
            "frontend f\n mode http\n bind 127.0.0.1:{port}\n default_backend b\nbackend b\n mode http\n server s 127.0.0.1:1\n"
        ));
        let names = vec!["f".to_string()];
        let set = Listeners::open(&cfg, &names, 3, &mut Received::new(), Taken::Refuse).unwrap();
        assert_eq!(set.frontends[0][0].fds.len(), 3);
        assert_eq!(set.frontends[0][0].key, format!("bind 127.0.0.1:{port}"));
        let again = Listeners::open(&cfg, &names, 1, &mut Received::new(), Taken::Refuse);
        assert!(again.unwrap_err().contains("cannot bind"));
        // With -sf, a new process joins the group of the old one.
        let joined = Listeners::open(&cfg, &names, 1, &mut Received::new(), Taken::Join).unwrap();
        assert_eq!(joined.frontends[0][0].fds.len(), 1);
        // Received sockets are used as they are, whatever the shard count.
        let mut received = set.duplicate().unwrap();
        let taken = Listeners::open(&cfg, &names, 2, &mut received, Taken::Refuse).unwrap();
        assert_eq!(taken.frontends[0][0].fds.len(), 3);
        assert!(received.is_empty());
        // Shard shares: 3 sockets over 2 shards, and 1 socket over 2 shards.
        let l = &taken.frontends[0][0];
        assert_eq!(l.for_shard(0, 2).unwrap().len(), 2);
        assert_eq!(l.for_shard(1, 2).unwrap().len(), 1);
        assert_eq!(joined.frontends[0][0].for_shard(1, 2).unwrap().len(), 1);
    }

    #[test]
    fn fd_binds_must_be_inherited_listening_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::IntoRawFd::into_raw_fd(listener);
        let owned = take_inherited(fd).unwrap();
        assert_eq!(owned.as_raw_fd(), fd);
        let file = std::fs::File::open("/dev/null").unwrap();
        let err = take_inherited(file.as_raw_fd()).unwrap_err();
        assert!(err.to_string().contains("is not a listening stream socket"));
        drop(file);
        let err = take_inherited(999).unwrap_err();
        assert!(err.to_string().contains("no such descriptor"));
    }
}
