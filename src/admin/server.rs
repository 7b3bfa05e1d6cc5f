//! The admin socket's I/O on glommio: bind the `stats socket` (unix path or `ipv4@` TCP),
//! accept connections, and run each one as a task on the local executor that reads bytes,
//! feeds the [`Session`], plans each command ([`plan`]) and carries out the [`Action`]
//! through the [`AdminBackend`], then writes the reply. Idle connections close after the
//! session's timeout (`stats timeout`, 10 s by default; `set timeout cli N`), and so do
//! clients that stop reading their replies for that long.
//!
//! At most `maxconn` connections are served at once per socket (HAProxy's `stats maxconn`,
//! 10 by default): past that the accept loop stops accepting and further clients wait in the
//! kernel's queue, so a flood of admin connections cannot take the shard from the traffic.
//!
//! Nothing here parses or formats: a bad command is answered by `command` and the connection
//! stays usable; an I/O error ends only its own connection.

use super::command::plan;
use super::format::{self, Context};
use super::session::{Session, Step};
use super::{Action, AdminBackend, Removal};
use crate::config::{Level, SocketAddress, StatsSocket};
use crate::state::ApplyError;
use crate::stats::latency_report::show_latency;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use glommio::net::{TcpListener, UnixListener};
use glommio::GlommioError;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// HAProxy's default idle timeout of an admin session (`stats timeout`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// HAProxy's default limit of concurrent connections per admin socket (`stats maxconn`).
pub const DEFAULT_MAXCONN: u32 = 10;

/// Pause after a failed `accept` (e.g. EMFILE), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// Bytes read at a time.
const READ_CHUNK: usize = 4096;

/// A bound admin socket.
pub enum AdminListener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl AdminListener {
    /// Binds the socket of a `stats socket` line. A unix socket replaces a stale socket file
    /// left by a previous run and gets the line's `mode`, `user` and `group`.
    pub fn bind(socket: &StatsSocket) -> io::Result<AdminListener> {
        match &socket.address {
            SocketAddress::Unix(path) => bind_unix(path, socket).map(AdminListener::Unix),
            SocketAddress::Tcp(addr) => {
                // glommio binds with SO_REUSEPORT, which would silently share a port already
                // in use: probe it with a plain socket first (waiting out the listener of a
                // process that just exited).
                crate::reload::sockets::probe(*addr)?;
                let listener = TcpListener::bind(addr).map_err(io::Error::from)?;
                Ok(AdminListener::Tcp(listener))
            }
            // Inherited sockets are taken over by `shard`, never bound here.
            SocketAddress::Fd(fd) => Err(io::Error::other(format!(
                "fd@{fd} is an inherited socket, not an address to bind"
            ))),
        }
    }
}

fn bind_unix(path: &Path, socket: &StatsSocket) -> io::Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    let listener = UnixListener::bind(path).map_err(io::Error::from)?;
    // Owner before mode: chown may clear set-id bits, and the mode is the operator's word.
    if socket.uid.is_some() || socket.gid.is_some() {
        std::os::unix::fs::lchown(path, socket.uid, socket.gid)?;
    }
    if let Some(mode) = socket.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(listener)
}

/// Binds `socket` and serves it until the executor stops; each connection runs as its own
/// task on the current executor. Returns only if binding fails.
pub async fn serve<B>(
    socket: &StatsSocket,
    backend: Rc<B>,
    idle_timeout: Duration,
) -> io::Result<()>
where
    B: AdminBackend + 'static,
{
    let listener = AdminListener::bind(socket)?;
    let maxconn = socket.maxconn.unwrap_or(DEFAULT_MAXCONN);
    serve_listener(listener, socket.level, backend, idle_timeout, maxconn).await;
    Ok(())
}

/// The accept loop on an already bound listener, serving at most `maxconn` connections at
/// once: a connection slot is taken before `accept`, so past the limit clients wait in the
/// kernel's accept queue.
pub async fn serve_listener<B>(
    listener: AdminListener,
    level: Level,
    backend: Rc<B>,
    idle_timeout: Duration,
    maxconn: u32,
) where
    B: AdminBackend + 'static,
{
    let slots = Rc::new(glommio::sync::Semaphore::new(u64::from(maxconn.max(1))));
    loop {
        let Ok(slot) = slots.clone().acquire_static_permit(1).await else {
            return;
        };
        let accepted = match &listener {
            AdminListener::Unix(l) => l
                .accept()
                .await
                .map(|s| serve_connection(s, &backend, level, idle_timeout, Some(slot))),
            AdminListener::Tcp(l) => l
                .accept()
                .await
                .map(|s| serve_connection(s, &backend, level, idle_timeout, Some(slot))),
        };
        if let Err(e) = accepted {
            log::warn!("admin socket: accept failed: {e}");
            glommio::timer::sleep(ACCEPT_BACKOFF).await;
        }
    }
}

/// Serves one connection in its own task; `slot`, if any, is released when it ends. Also
/// for connections accepted elsewhere (by a shard, for a `stats socket … expose-fd
/// listeners`, whose accept loop also answers the hand-over protocol).
pub fn serve_connection<S, B>(
    stream: S,
    backend: &Rc<B>,
    level: Level,
    idle_timeout: Duration,
    slot: Option<glommio::sync::StaticPermit>,
) where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
    B: AdminBackend + 'static,
{
    let connection = Connection {
        backend: backend.clone(),
        session: Session::new(),
        level,
        idle_timeout,
    };
    glommio::spawn_local(async move {
        if let Err(e) = connection.run(stream).await {
            log::debug!("admin connection ended: {e}");
        }
        drop(slot);
    })
    .detach();
}

/// One admin connection: its framing, its privilege and its idle timeout.
struct Connection<B> {
    backend: Rc<B>,
    session: Session,
    level: Level,
    idle_timeout: Duration,
}

/// What a command did to the connection.
enum Outcome {
    Reply(String),
    Quit,
}

impl<B: AdminBackend> Connection<B> {
    async fn run<S>(mut self, mut stream: S) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if !self.run_commands(&mut stream).await? {
                return stream.close().await;
            }
            let read = glommio::timer::timeout(self.idle_timeout, async {
                stream.read(&mut buf).await.map_err(GlommioError::from)
            })
            .await;
            match read {
                Ok(0) => self.session.receive_eof(),
                Ok(n) => self.session.receive(&buf[..n]),
                // Idle timeout or read error: close.
                Err(_) => return Ok(()),
            }
        }
    }

    /// Runs every complete command received; false when the connection must close.
    async fn run_commands<S>(&mut self, stream: &mut S) -> io::Result<bool>
    where
        S: AsyncWrite + Unpin,
    {
        loop {
            let line = match self.session.next_step() {
                Step::Run(line) => line,
                Step::Wait => return Ok(true),
                Step::Close => return Ok(false),
            };
            match self.execute(&line).await {
                Outcome::Quit => return Ok(false),
                Outcome::Reply(text) => self.write_reply(stream, &text).await?,
            }
            if self.session.closes_after_command() {
                return Ok(false);
            }
        }
    }

    /// Writes one framed reply. A client that reads nothing for the idle timeout is dropped
    /// (HAProxy's `timeout client` on the CLI), so it cannot hold its task forever.
    async fn write_reply<S>(&self, stream: &mut S, text: &str) -> io::Result<()>
    where
        S: AsyncWrite + Unpin,
    {
        let bytes = self.session.frame(text);
        let written = glommio::timer::timeout(self.idle_timeout, async {
            stream.write_all(&bytes).await?;
            stream.flush().await?;
            Ok(())
        })
        .await;
        written.map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client reads nothing"))
    }

    /// Plans one command and carries it out.
    async fn execute(&mut self, line: &str) -> Outcome {
        let level = self.level;
        let action = self.backend.with_state(|state| plan(line, state, level));
        let backend = &*self.backend;
        let text = match action {
            Action::Reply(text) => text,
            Action::Mutate { mutations, reply } => match backend.mutate(mutations).await {
                Ok(()) => reply,
                Err(e) => apply_error_text(e).to_string(),
            },
            Action::ShowStat(req) => {
                let stats = backend.gather().await;
                let info = backend.process_info();
                let ctx = Context {
                    info: &info,
                    now: backend.now(),
                };
                backend.with_state(|state| format::show_stat(&req, state, &stats, ctx))
            }
            Action::ShowInfo(form) => {
                let stats = backend.gather().await;
                let info = backend.process_info();
                let ctx = Context {
                    info: &info,
                    now: backend.now(),
                };
                format::show_info(form, &stats, ctx)
            }
            Action::ShowServersState(b) => {
                let now = backend.now();
                backend.with_state(|state| format::show_servers_state(state, b, now))
            }
            Action::ShowServersConn(b) => {
                let shards = backend.gather_per_shard().await;
                backend.with_state(|state| format::show_servers_conn(state, &shards, b))
            }
            Action::ShowLatency(scope) => {
                let latency = backend.gather_latency().await;
                backend.with_state(|state| show_latency(state, &latency, scope))
            }
            Action::DeleteServer(server) => backend.delete_server(server).await.reply().into(),
            Action::WaitRemovable { server, timeout } => {
                backend.wait_removable(server, timeout).await.reply().into()
            }
            Action::Wait(delay) => {
                glommio::timer::sleep(delay).await;
                // HAProxy (2.7+): a wait without a condition ends "Done.".
                Removal::Done.reply().into()
            }
            Action::StartCanary { server, name, plan } => {
                backend.start_canary(server, name, plan).await
            }
            Action::ShowCanary(server) => backend.show_canary(server),
            Action::AbortCanary(server) => backend.abort_canary(server).await,
            Action::ShutdownSessions(server) => {
                backend.shutdown_sessions(server).await;
                String::new()
            }
            Action::SetTimeout(timeout) => {
                self.idle_timeout = timeout;
                String::new()
            }
            Action::SetLevel(level) => {
                self.level = level;
                String::new()
            }
            Action::TogglePrompt => {
                self.session.toggle_prompt();
                String::new()
            }
            Action::Quit => return Outcome::Quit,
        };
        Outcome::Reply(text)
    }
}

/// HAProxy's texts for a mutation the coordinator refused (the state changed between the
/// check and the broadcast).
fn apply_error_text(error: ApplyError) -> &'static str {
    match error {
        ApplyError::NoSuchBackend => "No such backend.\n",
        ApplyError::NoSuchServer => "No such server.\n",
        ApplyError::NoSuchFrontend => "No such frontend.\n",
        ApplyError::DuplicateServer => "Already exists a server with the same name in backend.\n",
        ApplyError::NoSuchMap => "Unknown map identifier. Please use #<id> or <file>.\n",
        ApplyError::NoSuchMapEntry => "Key not found.\n",
        ApplyError::BadMapKey => "Failed to add a map entry.\n",
        ApplyError::NoSuchTlsFile => "'set ssl tls-key' unable to locate referenced filename\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::testutil::{capture_state, FakeBackend};
    use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

    /// An admin server on its own executor thread, over a unix socket in a temp dir.
    struct TestServer {
        dir: PathBuf,
        path: PathBuf,
        stop: Arc<AtomicBool>,
        executor: Option<ExecutorJoinHandle<()>>,
    }

    impl TestServer {
        fn start() -> TestServer {
            let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("pointsman-admin-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("admin.sock");
            // A stale socket file from an earlier run must not stop the bind.
            drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
            let socket = StatsSocket {
                expose_fd_listeners: false,
                address: SocketAddress::Unix(path.clone()),
                mode: Some(0o660),
                uid: None,
                gid: None,
                maxconn: None,
                level: Level::Admin,
                location: Default::default(),
            };
            let stop = Arc::new(AtomicBool::new(false));
            let (ready, bound) = std::sync::mpsc::channel();
            let stopping = stop.clone();
            let executor = LocalExecutorBuilder::new(Placement::Unbound)
                .io_memory(64 << 10)
                .spawn(move || async move {
                    let backend = Rc::new(FakeBackend::new(capture_state()));
                    let listener = AdminListener::bind(&socket).unwrap();
                    ready.send(()).unwrap();
                    let idle = DEFAULT_IDLE_TIMEOUT;
                    let serving =
                        serve_listener(listener, socket.level, backend, idle, DEFAULT_MAXCONN);
                    glommio::spawn_local(serving).detach();
                    while !stopping.load(Ordering::Relaxed) {
                        glommio::timer::sleep(Duration::from_millis(10)).await;
                    }
                })
                .unwrap();
            bound.recv_timeout(Duration::from_secs(10)).unwrap();
            TestServer {
                dir,
                path,
                stop,
                executor: Some(executor),
            }
        }

        fn connect(&self) -> UnixStream {
            let stream = UnixStream::connect(&self.path).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream
        }

        /// Sends `input` on a fresh connection and reads until the server closes.
        fn one_shot(&self, input: &[u8]) -> Vec<u8> {
            let mut stream = self.connect();
            // The server may close before reading everything (long lines): ignore EPIPE.
            let _ = stream.write_all(input);
            read_to_eof(&mut stream)
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(executor) = self.executor.take() {
                let _ = executor.join();
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn read_to_eof(stream: &mut UnixStream) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        out
    }

    /// Reads until the reply ends with the prompt.
    fn read_until_prompt(stream: &mut UnixStream) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while !out.ends_with(b"> ") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "EOF after {:?}", String::from_utf8_lossy(&out));
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    fn exchange(stream: &mut UnixStream, input: &str) -> String {
        stream.write_all(input.as_bytes()).unwrap();
        String::from_utf8(read_until_prompt(stream)).unwrap()
    }

    #[test]
    fn socket_framing_end_to_end() {
        let server = TestServer::start();
        let mode = std::fs::metadata(&server.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o660);

        // One shot, then close.
        assert_eq!(server.one_shot(b"show cli level\n"), b"admin\n\n");
        // Pipelined in one write, and `;`.
        assert_eq!(
            server.one_shot(b"show backend\nget weight bk_app/nginx2;show cli level\n"),
            b"# name\nbk_app\nstats\n\n1 (initial 1)\n\nadmin\n\n"
        );
        // quit: no output.
        assert_eq!(server.one_shot(b"quit\n"), b"");
        // 16383 characters and a newline: closed without output; one less is a command.
        let mut long = vec![b'x'; 16383];
        long.push(b'\n');
        assert_eq!(server.one_shot(&long), b"");
        let reply = server.one_shot(&long[1..]);
        assert!(reply.starts_with(b"Unknown command, but maybe"));
        // A partial line at EOF is not run.
        let mut stream = server.connect();
        stream.write_all(b"show version").unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(read_to_eof(&mut stream), b"");
    }

    #[test]
    fn prompt_mode_session() {
        let server = TestServer::start();
        let mut s = server.connect();
        assert_eq!(exchange(&mut s, "prompt\n"), "\n> ");
        assert_eq!(exchange(&mut s, "set timeout cli 60\n"), "\n> ");
        assert_eq!(exchange(&mut s, "disable server bk_app/nginx2\n"), "\n> ");
        let stat = exchange(&mut s, "show stat -1 4 -1\n");
        assert!(stat.contains("bk_app,nginx2,"), "{stat}");
        assert!(stat.contains(",MAINT,"), "{stat}");
        assert!(stat.ends_with(",\n\n> "), "{stat}");
        assert_eq!(
            exchange(&mut s, "set weight bk_app/nginx2 abc\n"),
            "Empty weight string empty or preceded by garbage\n> "
        );
        assert_eq!(
            exchange(&mut s, "set weight bk_app/nope 1\n"),
            "No such server.\n\n> "
        );
        let info = exchange(&mut s, "show info\n");
        assert!(info.starts_with("Name: pointsman\n"), "{info}");
        assert_eq!(exchange(&mut s, "enable server bk_app/nginx2\n"), "\n> ");
        // Leaving prompt mode: "\n" then close.
        s.write_all(b"prompt\n").unwrap();
        assert_eq!(read_to_eof(&mut s), b"\n");

        let mut s = server.connect();
        exchange(&mut s, "prompt\n");
        s.write_all(b"quit\n").unwrap();
        assert_eq!(read_to_eof(&mut s), b"");
    }

    #[test]
    fn idle_sessions_time_out() {
        let server = TestServer::start();
        let mut s = server.connect();
        exchange(&mut s, "prompt\n");
        exchange(&mut s, "set timeout cli 1\n");
        let started = std::time::Instant::now();
        assert_eq!(read_to_eof(&mut s), b"");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(900), "{waited:?}");
        assert!(waited < Duration::from_secs(4), "{waited:?}");
    }
}
