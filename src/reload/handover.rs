//! The hand-over protocol between an old process and a new one, over a unix stream socket:
//! the old process's stats socket with `expose-fd listeners` (`-x SOCKET`), or the socket
//! pair between the master and a worker.
//!
//! The new process sends `_getsocks` and receives every listening socket with its key
//! (SCM_RIGHTS); it sends `_getstate` and receives the runtime state ([`StateDump`]). Each
//! reply is one [`fdpass`](super::fdpass) frame. The commands are HAProxy's names for the
//! same job; the wire format is pointsman's own (it only talks to itself).

use super::fdpass::{self, Frame, Receiver};
use super::sockets::{raw, Listeners, Received};
use super::state_dump::StateDump;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long the new process waits for each reply of the old one.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A command of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    GetSockets,
    GetState,
}

impl Request {
    fn line(self) -> &'static str {
        match self {
            Request::GetSockets => "_getsocks\n",
            Request::GetState => "_getstate\n",
        }
    }

    /// The request a command line asks for (`_getsocks`, `_getstate`), if any.
    pub fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "_getsocks" => Some(Request::GetSockets),
            "_getstate" => Some(Request::GetState),
            _ => None,
        }
    }

    /// Whether the first bytes of a connection start a hand-over command.
    pub fn starts(first_bytes: &[u8]) -> bool {
        b"_get".starts_with(&first_bytes[..first_bytes.len().min(4)]) && !first_bytes.is_empty()
    }
}

/// What a new process receives.
#[derive(Debug, Default)]
pub struct HandOver {
    pub sockets: Received,
    pub state: Option<StateDump>,
}

/// `-x SOCKET`: takes the listeners and the state from the process serving `path`.
pub fn fetch_from(path: &Path) -> Result<HandOver, String> {
    let stream = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot connect to {} to take over its listeners: {e}",
            path.display()
        )
    })?;
    fetch(&stream).map_err(|e| {
        format!(
            "cannot take over the listeners of {}: {e} (does its 'stats socket' line say \
             'expose-fd listeners'?)",
            path.display()
        )
    })
}

/// Asks for sockets, then state, on an open connection.
pub fn fetch(stream: &UnixStream) -> io::Result<HandOver> {
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut receiver = Receiver::new(stream.as_raw_fd());
    let sockets = parse_sockets(ask(stream, &mut receiver, Request::GetSockets)?)?;
    // An empty reply: the master has no state to give (its first worker).
    let state_text = ask(stream, &mut receiver, Request::GetState)?.text;
    let state = match state_text.is_empty() {
        true => None,
        false => Some(StateDump::parse(&state_text).map_err(io::Error::other)?),
    };
    Ok(HandOver { sockets, state })
}

fn ask(stream: &UnixStream, receiver: &mut Receiver, request: Request) -> io::Result<Frame> {
    let mut writer = stream;
    writer.write_all(request.line().as_bytes())?;
    receiver.recv_frame()
}

/// The `_getsocks` reply: one `<count> <key>` line per listener, its descriptors in order.
pub fn sockets_reply(listeners: &Listeners) -> (String, Vec<RawFd>) {
    let mut text = String::new();
    let mut fds = Vec::new();
    for listener in listeners.all() {
        text.push_str(&format!("{} {}\n", listener.fds.len(), listener.key));
        fds.extend(raw(&listener.fds));
    }
    (text, fds)
}

fn parse_sockets(frame: Frame) -> io::Result<Received> {
    let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
    let mut fds = frame.fds.into_iter();
    let mut received = Received::new();
    for line in frame.text.lines() {
        let (count, key) = line
            .split_once(' ')
            .ok_or_else(|| bad(format!("bad socket line {line:?}")))?;
        let count: usize = count
            .parse()
            .map_err(|_| bad(format!("bad socket count in {line:?}")))?;
        let group: Vec<_> = fds.by_ref().take(count).collect();
        if group.len() != count {
            return Err(bad(format!("{key}: fewer descriptors than announced")));
        }
        received.insert(key.to_string(), group);
    }
    Ok(received)
}

/// Sends one reply frame (blocking; used off the shards' reactors).
pub fn reply(socket: RawFd, text: &str, fds: &[RawFd]) -> io::Result<()> {
    fdpass::send_frame(socket, text, fds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reload::sockets::Listener;

    #[test]
    fn requests_are_recognised_from_their_first_bytes() {
        assert!(Request::starts(b"_ge"));
        assert!(Request::starts(b"_getsocks\n"));
        assert!(!Request::starts(b"show stat\n"));
        assert!(!Request::starts(b""));
        assert_eq!(Request::parse("_getsocks\r\n"), Some(Request::GetSockets));
        assert_eq!(Request::parse("_getstate"), Some(Request::GetState));
        assert_eq!(Request::parse("_getfoo"), None);
    }

    #[test]
    fn sockets_and_state_cross_a_socket_pair() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        let listeners = Listeners {
            frontends: vec![vec![Listener {
                key: format!("bind 127.0.0.1:{port}"),
                fds: vec![std::os::fd::OwnedFd::from(a)],
            }]],
            stats: vec![None],
        };
        let (client, server) = UnixStream::pair().unwrap();
        let serving = std::thread::spawn(move || {
            let mut line = [0u8; 10];
            for request in [Request::GetSockets, Request::GetState] {
                let mut reader = &server;
                std::io::Read::read_exact(&mut reader, &mut line).unwrap();
                assert_eq!(
                    Request::parse(std::str::from_utf8(&line).unwrap()),
                    Some(request)
                );
                let (text, fds) = match request {
                    Request::GetSockets => sockets_reply(&listeners),
                    Request::GetState => (StateDump::default().render(), vec![]),
                };
                reply(server.as_raw_fd(), &text, &fds).unwrap();
            }
        });
        let handover = fetch(&client).unwrap();
        serving.join().unwrap();
        let fds = &handover.sockets[&format!("bind 127.0.0.1:{port}")];
        assert_eq!(fds.len(), 1);
        let listener = std::net::TcpListener::from(fds[0].try_clone().unwrap());
        assert_eq!(listener.local_addr().unwrap().port(), port);
        assert_eq!(handover.state, Some(StateDump::default()));
    }
}
