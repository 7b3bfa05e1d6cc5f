//! The old process's side of a hand-over, on shard 0: the `stats socket … expose-fd
//! listeners` accept loop (a connection that starts with `_get` speaks the hand-over
//! protocol, any other is an ordinary admin session), the socket pair to the master in
//! master-worker mode, and keeping the server state file current.
//!
//! Replies are sent from a helper thread (blocking sends of a frame with descriptors), while
//! the shard's task waits for it without blocking the reactor.

use super::coordinator::Coordinator;
use crate::config::{Config, Level};
use crate::proxy::Worker;
use crate::reload::handover::{self, Request};
use crate::reload::state_dump::StateDump;
use crate::reload::{fdpass, state_file, with_exposed};
use crate::sys::unix_now;
use futures_lite::io::AsyncReadExt;
use glommio::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest command line of the hand-over protocol.
const MAX_LINE: usize = 256;
/// How often the state file writer looks for a new state version.
const SAVE_POLL: Duration = Duration::from_millis(20);

/// What the hand-over needs from the serving process.
#[derive(Clone)]
pub struct Context {
    pub worker: Rc<Worker>,
    pub config: Arc<Config>,
    /// The coordinator's canaries: a running one continues in the next process.
    pub canaries: Rc<crate::canary::Book>,
}

/// Accepts on an `expose-fd listeners` stats socket (`socket` is its listening descriptor).
pub async fn serve_exposed(
    socket: OwnedFd,
    context: Context,
    coordinator: Rc<Coordinator>,
    level: Level,
    idle_timeout: Duration,
) {
    // SAFETY: a listening socket we own; glommio's accept works on unix sockets as well.
    let listener = unsafe { TcpListener::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(socket)) };
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                log::warn!("admin socket: accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (context, coordinator) = (context.clone(), coordinator.clone());
        glommio::spawn_local(async move {
            let mut first = [0u8; 4];
            let peeked =
                glommio::timer::timeout(idle_timeout, async { stream.peek(&mut first).await })
                    .await;
            match peeked {
                Ok(n) if n > 0 && Request::starts(&first[..n]) => {
                    serve_requests(stream, &context).await;
                }
                Ok(n) if n > 0 => crate::admin::server::serve_connection(
                    stream,
                    &coordinator,
                    level,
                    idle_timeout,
                    None,
                ),
                _ => {}
            }
        })
        .detach();
    }
}

/// Serves the master's requests on the worker's end of their socket pair. The master going
/// away (EOF) is a soft stop: a worker never outlives its master.
pub async fn serve_master(channel: OwnedFd, context: Context) {
    // SAFETY: our end of the socket pair, owned; glommio's stream reads it like any socket.
    let stream = unsafe { TcpStream::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(channel)) };
    serve_requests(stream, &context).await;
    if super::signals::stop_requested().is_none() {
        log::warn!("the master process is gone: soft stop");
        super::signals::request_stop(super::signals::Stop::Graceful);
    }
}

/// Answers hand-over requests on one connection until it closes.
async fn serve_requests(mut stream: TcpStream, context: &Context) {
    let mut pending = Vec::new();
    let mut buf = [0u8; MAX_LINE];
    loop {
        let line = match pending.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let line: Vec<u8> = pending.drain(..=end).collect();
                String::from_utf8_lossy(&line).into_owned()
            }
            None if pending.len() > MAX_LINE => return,
            None => match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    continue;
                }
            },
        };
        let reply = match Request::parse(&line) {
            Some(Request::GetSockets) => Reply::Sockets,
            Some(Request::GetState) => {
                let state = context.worker.state.borrow();
                let mut dump = StateDump::capture(&state, &context.config);
                dump.canaries = crate::canary::records(&context.canaries, &state);
                Reply::Text(dump.render())
            }
            None => Reply::Text(format!("ERR unknown hand-over command {:?}\n", line.trim())),
        };
        log::info!("hand-over: answering {}", line.trim());
        if let Err(e) = send_off_reactor(stream.as_raw_fd(), reply).await {
            log::warn!("hand-over reply failed: {e}");
            return;
        }
    }
}

enum Reply {
    /// Every listening socket this process still exposes.
    Sockets,
    Text(String),
}

/// Sends `reply` from a helper thread and waits for it without blocking the reactor.
async fn send_off_reactor(socket: RawFd, reply: Reply) -> std::io::Result<()> {
    let copy = fdpass::dup(&unsafe { std::os::fd::BorrowedFd::borrow_raw(socket) })?;
    let done = Arc::new(AtomicU8::new(0));
    let flag = done.clone();
    std::thread::Builder::new()
        .name("hand-over".into())
        .spawn(move || {
            let result = match reply {
                Reply::Sockets => with_exposed(|l| {
                    let (text, fds) = handover::sockets_reply(l);
                    handover::reply(copy.as_raw_fd(), &text, &fds)
                })
                .unwrap_or_else(|| handover::reply(copy.as_raw_fd(), "", &[])),
                Reply::Text(text) => handover::reply(copy.as_raw_fd(), &text, &[]),
            };
            flag.store(if result.is_ok() { 1 } else { 2 }, Ordering::SeqCst);
        })?;
    loop {
        match done.load(Ordering::SeqCst) {
            0 => glommio::timer::sleep(Duration::from_millis(1)).await,
            1 => return Ok(()),
            _ => return Err(std::io::Error::other("could not send the reply")),
        }
    }
}

/// Keeps the server state files current (`--save-server-state`): after each state change,
/// `show servers state` is written to the global `server-state-file` (every backend) and to
/// the file of each backend with `load-server-state-from-file local`, by a writer thread.
/// Stops at soft stop: from then on the new process owns the files.
pub async fn save_state_files(worker: Rc<Worker>, config: Arc<Config>) {
    let global =
        config
            .global
            .server_state_file
            .as_ref()
            .map(|f| match &config.global.server_state_base {
                Some(base) if f.is_relative() => base.join(f),
                _ => f.clone(),
            });
    let local: Vec<(String, PathBuf)> = state_file::files_by_backend(&config)
        .into_iter()
        .filter(|(name, _)| {
            config
                .proxy_with_backend(name)
                .and_then(|p| p.backend.as_ref())
                .is_some_and(|b| b.load_state == crate::config::LoadServerState::Local)
        })
        .collect();
    if global.is_none() && local.is_empty() {
        log::warn!("--save-server-state: the config names no server state file to keep");
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel::<Vec<(PathBuf, String)>>();
    let _ = std::thread::Builder::new()
        .name("state-file".into())
        .spawn(move || {
            while let Ok(files) = rx.recv() {
                for (path, text) in files {
                    if let Err(e) = state_file::write_atomically(&path, &text) {
                        log::warn!("cannot write server state file {}: {e}", path.display());
                    }
                }
            }
        });
    let mut written = None;
    while !worker.stopping.get() {
        let version = worker.state.borrow().version;
        if written != Some(version) {
            written = Some(version);
            let state = worker.state.borrow();
            let now = unix_now();
            let mut files = Vec::new();
            if let Some(path) = &global {
                let text = crate::admin::format::show_servers_state(&state, None, now);
                files.push((path.clone(), text));
            }
            for (name, path) in &local {
                if let Some(index) = state.backend_index(name) {
                    let text = crate::admin::format::show_servers_state(&state, Some(index), now);
                    files.push((path.clone(), text));
                }
            }
            if tx.send(files).is_err() {
                return;
            }
        }
        glommio::timer::sleep(SAVE_POLL).await;
    }
}
