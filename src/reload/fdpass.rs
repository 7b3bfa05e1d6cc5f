//! Frames on a unix stream socket: a text and a list of file descriptors (SCM_RIGHTS), the
//! unit of the hand-over protocol. Blocking I/O: both ends run outside the shards' reactors
//! (the new process before its shards start, the master, or a helper thread of the old one).
//!
//! Wire format: `PM1 <text bytes> <fd count>\n`, the text, then one byte `F` per group of at
//! most [`FDS_PER_MESSAGE`] descriptors, each sent with its group attached. A plain `read`
//! would drop attached descriptors, so the receiver reads everything with `recvmsg`.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Descriptors attached to one message (the kernel's limit, SCM_MAX_FD, is 253).
pub const FDS_PER_MESSAGE: usize = 200;
/// The largest text accepted (a state dump of many thousand servers still fits).
const MAX_TEXT: usize = 64 << 20;

/// One received frame.
#[derive(Debug, Default)]
pub struct Frame {
    pub text: String,
    pub fds: Vec<OwnedFd>,
}

/// Sends `text` and `fds` on the connected unix stream socket `socket`.
pub fn send_frame(socket: RawFd, text: &str, fds: &[RawFd]) -> io::Result<()> {
    let header = format!("PM1 {} {}\n", text.len(), fds.len());
    write_all(socket, header.as_bytes())?;
    write_all(socket, text.as_bytes())?;
    for group in fds.chunks(FDS_PER_MESSAGE) {
        let rights = [ControlMessage::ScmRights(group)];
        loop {
            match sendmsg::<()>(
                socket,
                &[IoSlice::new(b"F")],
                &rights,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(1) => break,
                Ok(_) => return Err(io::Error::new(io::ErrorKind::WriteZero, "short sendmsg")),
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => wait_writable(socket)?,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// How long a sender waits for the peer to make room before giving up.
const SEND_TIMEOUT_MS: i32 = 5_000;

fn write_all(socket: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match sendmsg::<()>(
            socket,
            &[IoSlice::new(bytes)],
            &[],
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => wait_writable(socket)?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Waits until a non-blocking socket can take more bytes (the old process's end of a
/// hand-over connection is non-blocking: it belongs to its reactor).
fn wait_writable(socket: RawFd) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd: socket,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut pfd, 1, SEND_TIMEOUT_MS) } {
        1 => Ok(()),
        0 => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the peer stopped reading the hand-over reply",
        )),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}

/// The receiving end of a hand-over connection: bytes and descriptors that arrived past the
/// end of one frame stay here for the next.
pub struct Receiver {
    socket: RawFd,
    bytes: Vec<u8>,
    fds: Vec<OwnedFd>,
}

impl Receiver {
    /// Reads frames from `socket`, which must outlive the receiver.
    pub fn new(socket: RawFd) -> Receiver {
        Receiver {
            socket,
            bytes: Vec::new(),
            fds: Vec::new(),
        }
    }

    /// Receives one frame (blocking; the socket's receive timeout applies).
    pub fn recv_frame(&mut self) -> io::Result<Frame> {
        let mut cmsg = nix::cmsg_space!([RawFd; 253]);
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(frame) = self.take_frame()? {
                return Ok(frame);
            }
            let (n, truncated) = {
                let mut iov = [IoSliceMut::new(&mut chunk)];
                let message = match recvmsg::<()>(
                    self.socket,
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Ok(m) => m,
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(e.into()),
                };
                for c in message.cmsgs() {
                    if let ControlMessageOwned::ScmRights(received) = c {
                        // SAFETY: the kernel just installed these descriptors for us; nobody
                        // else owns them.
                        self.fds.extend(
                            received
                                .into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                (message.bytes, message.flags.contains(MsgFlags::MSG_CTRUNC))
            };
            if truncated {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "file descriptors were lost in transit (MSG_CTRUNC)",
                ));
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the hand-over connection before the end of its reply",
                ));
            }
            self.bytes.extend_from_slice(&chunk[..n]);
        }
    }

    /// The first frame buffered, once its text and every descriptor arrived.
    fn take_frame(&mut self) -> io::Result<Option<Frame>> {
        let Some(end) = self.bytes.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let (text_len, fd_count) = parse_header(&self.bytes[..end])?;
        let groups = fd_count.div_ceil(FDS_PER_MESSAGE);
        let frame_len = end + 1 + text_len + groups;
        if self.bytes.len() < frame_len || self.fds.len() < fd_count {
            return Ok(None);
        }
        let text =
            String::from_utf8(self.bytes[end + 1..end + 1 + text_len].to_vec()).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "hand-over text is not UTF-8")
            })?;
        self.bytes.drain(..frame_len);
        let fds = self.fds.drain(..fd_count).collect();
        Ok(Some(Frame { text, fds }))
    }
}

fn parse_header(line: &[u8]) -> io::Result<(usize, usize)> {
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not a pointsman hand-over reply: {:?} (is -x pointing at a pointsman stats \
                 socket with 'expose-fd listeners'?)",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            ),
        )
    };
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let mut words = text.split(' ');
    let (Some("PM1"), Some(len), Some(count), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad());
    };
    let len: usize = len.parse().map_err(|_| bad())?;
    let count: usize = count.parse().map_err(|_| bad())?;
    if len > MAX_TEXT {
        return Err(bad());
    }
    Ok((len, count))
}

/// A new descriptor for the same open socket, close-on-exec.
pub fn dup(fd: &impl AsRawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor returns a new one that we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn same_file(a: &impl AsRawFd, b: &impl AsRawFd) -> bool {
        let stat = |fd: RawFd| {
            // SAFETY: fstat on a valid descriptor into a zeroed struct.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
            (st.st_dev, st.st_ino)
        };
        stat(a.as_raw_fd()) == stat(b.as_raw_fd())
    }

    #[test]
    fn text_and_many_descriptors_arrive_in_order() {
        let (a, b) = UnixStream::pair().unwrap();
        let files: Vec<std::fs::File> = (0..450)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let raw: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
        let text = "hello\\nworld".repeat(10_000);
        let sender = {
            let text = text.clone();
            let fd = a.as_raw_fd();
            std::thread::spawn(move || send_frame(fd, &text, &raw))
        };
        let frame = Receiver::new(b.as_raw_fd()).recv_frame().unwrap();
        sender.join().unwrap().unwrap();
        assert_eq!(frame.text, text);
        assert_eq!(frame.fds.len(), 450);
        assert!(same_file(&frame.fds[449], &files[449]));
        drop(a);
    }

    #[test]
    fn an_empty_frame_and_a_second_frame_on_the_same_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        send_frame(a.as_raw_fd(), "", &[]).unwrap();
        send_frame(a.as_raw_fd(), "two", &[]).unwrap();
        let mut receiver = Receiver::new(b.as_raw_fd());
        assert_eq!(receiver.recv_frame().unwrap().text, "");
        assert_eq!(receiver.recv_frame().unwrap().text, "two");
    }

    #[test]
    fn garbage_and_early_close_are_clear_errors() {
        let (a, b) = UnixStream::pair().unwrap();
        write_all(a.as_raw_fd(), b"Unknown command.\n").unwrap();
        let err = Receiver::new(b.as_raw_fd()).recv_frame().unwrap_err();
        assert!(
            err.to_string().contains("not a pointsman hand-over reply"),
            "{err}"
        );
        let (a, b) = UnixStream::pair().unwrap();
        write_all(a.as_raw_fd(), b"PM1 10 0\nabc").unwrap();
        drop(a);
        let err = Receiver::new(b.as_raw_fd()).recv_frame().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
