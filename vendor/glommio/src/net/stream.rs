// Unless explicitly stated otherwise all files in this repository are licensed
// under the MIT/Apache-2.0 License, at your convenience
//
// This product includes software developed at Datadog (https://www.datadoghq.com/). Copyright 2020 Datadog, Inc.
//
use crate::{
    reactor::Reactor,
    sys::{self, DmaBuffer, ProvidedBuf, ReadFirst, Source, SourceType, StreamRecvBuf},
};
use futures_lite::ready;
use nix::sys::socket::MsgFlags;
use std::{
    cell::Cell,
    io,
    net::Shutdown,
    os::unix::io::{AsRawFd, FromRawFd, RawFd},
    rc::{Rc, Weak},
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

type Result<T> = crate::Result<T, ()>;

/// Root trait for socket stream receive buffer
pub trait RxBuf {
    fn read(&mut self, buf: &mut [u8]) -> usize;
    fn peek(&self, buf: &mut [u8]) -> usize;
    fn is_empty(&self) -> bool;
    fn as_bytes(&self) -> &[u8];
    fn consume(&mut self, amt: usize);
    fn buffer_size(&self) -> usize;
    fn handle_result(&mut self, result: usize);
    fn unfilled(&mut self) -> &mut [u8];
}

#[derive(Debug, Default)]
pub struct NonBuffered;

impl RxBuf for NonBuffered {
    fn read(&mut self, _buf: &mut [u8]) -> usize {
        0
    }

    fn peek(&self, _buf: &mut [u8]) -> usize {
        0
    }

    fn is_empty(&self) -> bool {
        true
    }

    fn as_bytes(&self) -> &[u8] {
        &[]
    }

    fn consume(&mut self, _amt: usize) {}

    fn buffer_size(&self) -> usize {
        0
    }

    fn handle_result(&mut self, _result: usize) {}

    fn unfilled(&mut self) -> &mut [u8] {
        &mut []
    }
}

/// Trait for receive buffer implementations
pub trait Buffered: RxBuf {}

/// Non-shared fixed sized receive buffer allocated
/// when buffered stream is created
#[derive(Debug)]
pub struct Preallocated {
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    cap: usize,
}

impl Preallocated {
    const DEFAULT_BUFFER_SIZE: usize = 8192;

    /// Creates a fixed sized receive buffer
    pub fn new(size: usize) -> Self {
        Self {
            buf: vec![0; size],
            tail: 0,
            head: 0,
            cap: size,
        }
    }
}

impl Default for Preallocated {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BUFFER_SIZE)
    }
}

impl Preallocated {
    fn len(&self) -> usize {
        self.tail - self.head
    }
}

impl Buffered for Preallocated {}

impl RxBuf for Preallocated {
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let sz = std::cmp::min(self.len(), buf.len());
        if sz > 0 {
            buf[..sz].copy_from_slice(&self.buf[self.head..self.head + sz]);
            self.head += sz;
        }
        sz
    }

    fn peek(&self, buf: &mut [u8]) -> usize {
        let sz = std::cmp::min(self.len(), buf.len());
        if sz > 0 {
            buf[..sz].copy_from_slice(&self.buf[self.head..self.head + sz]);
        }
        sz
    }

    fn is_empty(&self) -> bool {
        self.head >= self.tail
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    fn consume(&mut self, amt: usize) {
        self.head += std::cmp::min(self.len(), amt);
    }

    fn buffer_size(&self) -> usize {
        self.cap
    }

    fn handle_result(&mut self, result: usize) {
        self.tail += result;
    }

    fn unfilled(&mut self) -> &mut [u8] {
        if self.len() == 0 {
            self.head = 0;
            self.tail = 0;
        }
        &mut self.buf[self.tail..]
    }
}

#[derive(Debug)]
struct Timeout {
    id: u64,
    timeout: Cell<Option<Duration>>,
    timer: Cell<Option<Instant>>,
}

impl Timeout {
    fn new(id: u64) -> Self {
        Self {
            id,
            timeout: Cell::new(None),
            timer: Cell::new(None),
        }
    }

    fn get(&self) -> Option<Duration> {
        self.timeout.get()
    }

    fn set(&self, dur: Option<Duration>) -> Result<()> {
        if let Some(dur) = dur.as_ref() {
            if dur.as_nanos() == 0 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL).into());
            }
        }
        self.timeout.set(dur);
        Ok(())
    }

    fn maybe_set_timer(&self, reactor: &Reactor, waker: &Waker) {
        if let Some(timeout) = self.timeout.get() {
            if self.timer.get().is_none() {
                let deadline = Instant::now() + timeout;
                reactor.insert_timer(self.id, deadline, waker.clone());
                self.timer.set(Some(deadline));
            }
        }
    }

    fn cancel_timer(&self, reactor: &Reactor) {
        if self.timer.take().is_some() {
            reactor.remove_timer(self.id);
        }
    }

    fn check(&self, reactor: &Reactor) -> io::Result<()> {
        if let Some(deadline) = self.timer.get() {
            if !reactor.timer_exists(&(deadline, self.id)) {
                reactor.remove_timer(self.id);
                self.timer.take();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "Operation timed out",
                ));
            }
        }
        Ok(())
    }
}

/// pointsman patch 5: the read side of a stream whose reads are `IORING_OP_RECV`
/// completions (`sys::stock_socket_io()` false). The RECV in flight is
/// `NonBufferedStream::source_rx` (a `StreamRecv` source, which owns its buffer
/// until the completion is consumed, even if the stream is dropped first).
#[derive(Debug)]
struct UringRx {
    /// The buffer of the last completed RECV; its bytes `head..tail` were received
    /// but not yet handed to a reader. Patch 5 reuses it for the next RECV; a
    /// provided buffer (patch 7) goes back to the reactor's ring once drained.
    buf: Option<RxBytes>,
    head: usize,
    tail: usize,
    /// The length of the RECV in flight (its buffer may be larger).
    asked: usize,
    /// The previous read filled the caller's buffer: more data is likely queued,
    /// so a `recv` syscall is tried before a RECV. False for a new stream: its
    /// first read waits for a completion, as stock glommio's first read waits for
    /// the poll armed at creation. (An optimistic first read answered a new admin
    /// connection one reactor loop sooner than stock, which let a command overtake
    /// a request sent just before it: pointsman's tests/switching.rs s1 and s8.)
    more_likely: bool,
    /// The kernel refused a RECV on this fd: stock poll + `recv` from now on.
    refused: bool,
    /// pointsman patch 7: RECVs take a provided buffer (the reactor has a ring);
    /// an idle stream then holds no receive buffer.
    provided: bool,
    /// pointsman patch 7: the ring was empty (`ENOBUFS`): the next RECV brings
    /// a buffer of its own, as patch 5 does.
    owned_next: bool,
}

/// pointsman patch 7: where a completed RECV's bytes are.
#[derive(Debug)]
enum RxBytes {
    /// The stream's own buffer (patch 5, or patch 7's fallback on `ENOBUFS`).
    Owned(DmaBuffer),
    /// A buffer of the reactor's provided-buffer ring.
    Provided(ProvidedBuf),
}

impl RxBytes {
    fn as_bytes(&self) -> &[u8] {
        match self {
            RxBytes::Owned(b) => b.as_bytes(),
            RxBytes::Provided(b) => b.as_bytes(),
        }
    }

    fn from_source(buf: StreamRecvBuf) -> Option<Self> {
        match buf {
            StreamRecvBuf::Owned(b) => b.map(RxBytes::Owned),
            StreamRecvBuf::Provided(b) => b.map(RxBytes::Provided),
        }
    }
}

/// pointsman patch 7: the state of the current executor's provided-buffer ring
/// for stream reads (a diagnostic; see [`stream_recv_buffers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRecvBuffers {
    /// Buffers out of the ring: in completions not yet read.
    pub in_use: usize,
    /// Buffers in the ring.
    pub total: usize,
    /// Bytes per buffer.
    pub size: usize,
    /// Completions that carried a buffer since the ring was set up.
    pub taken: u64,
    /// RECVs that found the ring empty (`ENOBUFS`) and fell back to a read
    /// with a buffer of their own.
    pub empty: u64,
}

/// pointsman patch 7: the current executor's provided-buffer ring for stream
/// reads; `None` without one (`GLOMMIO_SOCKET_PBUF=0`, `GLOMMIO_STOCK_SOCKET_IO=1`,
/// or a kernel that refused it).
pub fn stream_recv_buffers() -> Option<StreamRecvBuffers> {
    crate::executor().reactor().stream_pbuf().map(|r| r.usage())
}

/// The largest RECV a stream submits: its buffer lives as long as the stream.
const RECV_MAX: usize = 16 << 10;

impl UringRx {
    fn new(provided: bool) -> Self {
        Self {
            buf: None,
            head: 0,
            tail: 0,
            asked: 0,
            more_likely: false,
            refused: sys::stock_socket_io(),
            provided,
            owned_next: false,
        }
    }

    /// Copies buffered bytes to `out` and consumes them.
    fn copy_to(&mut self, out: &mut [u8]) -> usize {
        let Some(buf) = self.buf.as_ref() else {
            return 0;
        };
        let n = out.len().min(self.tail - self.head);
        out[..n].copy_from_slice(&buf.as_bytes()[self.head..self.head + n]);
        self.head += n;
        if self.head == self.tail && self.provided {
            // pointsman patch 7: drained; a provided buffer goes back to the ring
            // now, and an owned one (an `ENOBUFS` fallback) is not kept either.
            self.buf = None;
        }
        n
    }
}

/// Errors with which a kernel refuses `IORING_OP_RECV` on an fd (or completes it
/// without waiting): the stream falls back to stock poll + `recv`.
fn recv_refused(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EINVAL | libc::EOPNOTSUPP | libc::ENOTSOCK | libc::EAGAIN)
    )
}

#[derive(Debug)]
pub(crate) struct NonBufferedStream<S> {
    reactor: Weak<Reactor>,
    stream: S,
    source_tx: Option<Source>,
    source_rx: Option<Source>,
    write_timeout: Timeout,
    read_timeout: Timeout,
    rx: UringRx,
}

impl<S: AsRawFd> NonBufferedStream<S> {
    fn init(&mut self) {
        if !self.rx.refused {
            // pointsman patch 5: no read poll; the first read tries `recv`.
            return;
        }
        let reactor = self.reactor.upgrade().unwrap();
        let stream_fd = self.stream.as_raw_fd();
        self.source_rx = Some(reactor.poll_read_ready(stream_fd));
    }

    pub(crate) fn try_peek(&self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        super::yolo_peek(self.stream.as_raw_fd(), buf)
    }

    /// pointsman patch 5: bytes received by a completed RECV and not yet read,
    /// copied to `buf` without consuming them.
    fn peek_received(&self, buf: &mut [u8]) -> usize {
        if self.rx.head < self.rx.tail {
            let Some(rx_buf) = self.rx.buf.as_ref() else {
                return 0;
            };
            let rx_buf = rx_buf.as_bytes();
            let n = buf.len().min(self.rx.tail - self.rx.head);
            buf[..n].copy_from_slice(&rx_buf[self.rx.head..self.rx.head + n]);
            return n;
        }
        match (&self.source_rx, self.rx.refused) {
            (Some(source), false) => match source.result() {
                Some(Ok(n)) => {
                    let mut bytes = |rx_buf: &[u8]| {
                        let n = n.min(buf.len());
                        buf[..n].copy_from_slice(&rx_buf[..n]);
                        n
                    };
                    match &*source.source_type_mut() {
                        SourceType::StreamRecv(StreamRecvBuf::Owned(Some(rx_buf))) => {
                            bytes(rx_buf.as_bytes())
                        }
                        SourceType::StreamRecv(StreamRecvBuf::Provided(Some(rx_buf))) => {
                            bytes(rx_buf.as_bytes())
                        }
                        _ => 0,
                    }
                }
                _ => 0,
            },
            _ => 0,
        }
    }

    /// pointsman patch 5: a RECV is in flight; the socket's queue may already
    /// be behind its bytes, so a peek must wait for it.
    fn recv_in_flight(&self) -> Option<&Source> {
        match (&self.source_rx, self.rx.refused) {
            (Some(source), false) => Some(source),
            _ => None,
        }
    }

    pub(crate) async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(source) = self.recv_in_flight() {
            // pointsman patch 5: wait for the RECV (it stays for the next read).
            source.collect_rw().await?;
            return Ok(self.peek_received(buf));
        }
        let source = self.reactor.upgrade().unwrap().recv(
            self.stream.as_raw_fd(),
            buf.len(),
            MsgFlags::MSG_PEEK,
        );

        let sz = source.collect_rw().await?;
        match source.extract_source_type() {
            SourceType::SockRecv(mut src) => {
                buf[0..sz].copy_from_slice(&src.take().unwrap().as_bytes()[0..sz]);
            }
            _ => unreachable!(),
        }
        Ok(sz)
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if !self.rx.refused {
            return self.poll_read_uring(cx, buf);
        }
        let reactor = self.reactor.upgrade().unwrap();
        let reactor = reactor.as_ref();

        let no_pending_poll = self
            .source_rx
            .as_ref()
            .map(|src| src.result().is_some())
            .unwrap_or(true);

        if no_pending_poll {
            if let Some(result) = super::yolo_recv(self.stream.as_raw_fd(), buf) {
                self.source_rx.take();
                self.read_timeout.cancel_timer(reactor);
                let result = poll_err!(result);
                // Start an early poll if the buffer is not fully filled. So when
                // the next time `poll_read` is called, it will be known immediately
                // whether the underlying stream is ready for reading.
                if result > 0 && result < buf.len() {
                    self.source_rx = Some(reactor.poll_read_ready(self.stream.as_raw_fd()));
                    // The `rush_dispatch`s here and after could be removed to
                    // improve performance if #458 is handled appropriately.
                    // reactor.rush_dispatch(self.source_rx.as_ref().unwrap());
                }
                return Poll::Ready(Ok(result));
            }
        }

        poll_err!(self.read_timeout.check(reactor));

        if no_pending_poll {
            self.source_rx = Some(reactor.poll_read_ready(self.stream.as_raw_fd()));
            // reactor.rush_dispatch(self.source_rx.as_ref().unwrap());
        }

        let source = self.source_rx.as_ref().unwrap();
        source.add_waiter_single(cx.waker());
        self.read_timeout.maybe_set_timer(reactor, cx.waker());
        Poll::Pending
    }

    /// pointsman patch 5: a read is bytes left from the last RECV, else the
    /// completion of the RECV in flight, else (when more data is likely) a
    /// non-blocking `recv`, else a new RECV. Stock glommio instead waits for a
    /// one-shot `POLL_ADD` and then calls `recv`: one SQE and one syscall per
    /// read, where this is one SQE (submitted with the reactor's other SQEs)
    /// and a copy out of the stream's buffer.
    fn poll_read_uring(&mut self, cx: &Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let reactor = self.reactor.upgrade().unwrap();
        let reactor = reactor.as_ref();
        if self.rx.head < self.rx.tail {
            return Poll::Ready(Ok(self.rx.copy_to(buf)));
        }
        if let Some(source) = self.source_rx.as_ref() {
            let Some(result) = source.result() else {
                poll_err!(self.read_timeout.check(reactor));
                source.add_waiter_single(cx.waker());
                self.read_timeout.maybe_set_timer(reactor, cx.waker());
                return Poll::Pending;
            };
            let source = self.source_rx.take().unwrap();
            self.read_timeout.cancel_timer(reactor);
            if let SourceType::StreamRecv(rx_buf) = source.extract_source_type() {
                self.rx.buf = RxBytes::from_source(rx_buf);
            }
            match result {
                Ok(n) if n > 0 && self.rx.buf.is_none() => {
                    // Cannot happen: a RECV that received bytes names its buffer.
                    return Poll::Ready(Err(io::Error::other("RECV completed without a buffer")));
                }
                Ok(n) => {
                    self.rx.head = 0;
                    self.rx.tail = n;
                    // After EOF, read with `recv` again (it returns 0 at once, as
                    // stock does): a new RECV would make a repeated read pend, and
                    // `AsyncBufRead::fill_buf` polls twice expecting the same answer.
                    self.rx.more_likely = n == self.rx.asked || n == 0;
                    return Poll::Ready(Ok(self.rx.copy_to(buf)));
                }
                Err(err) if err.raw_os_error() == Some(libc::ENOBUFS) => {
                    // pointsman patch 7: the provided-buffer ring was empty when the
                    // data arrived (nothing was received). The data is queued, so a
                    // `recv` into the caller's buffer comes first; the next RECV
                    // brings its own buffer.
                    if let Some(ring) = reactor.stream_pbuf() {
                        ring.note_empty();
                    }
                    self.rx.owned_next = true;
                    self.rx.more_likely = true;
                    return self.poll_read(cx, buf);
                }
                Err(err)
                    if err.raw_os_error() == Some(libc::EINVAL)
                        && sys::recv_poll_first_refused() =>
                {
                    log::warn!(
                        "io_uring RECV refused IORING_RECVSEND_POLL_FIRST: RECVs go without it"
                    );
                    return self.poll_read(cx, buf);
                }
                Err(err) if recv_refused(&err) => {
                    log::warn!(
                        "io_uring RECV refused ({err}): this stream falls back to poll + recv"
                    );
                    self.rx.refused = true;
                    self.rx.buf = None;
                    return self.poll_read(cx, buf);
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let try_syscall = match sys::socket_read_first() {
            ReadFirst::Hint => self.rx.more_likely,
            ReadFirst::Syscall => true,
            ReadFirst::Uring => false,
        };
        if try_syscall {
            if let Some(result) = super::yolo_recv(self.stream.as_raw_fd(), buf) {
                self.read_timeout.cancel_timer(reactor);
                let n = poll_err!(result);
                self.rx.more_likely = n == buf.len();
                // pointsman patch 7: after an `ENOBUFS` this `recv` took the queued
                // bytes, so the next RECV goes back to the ring. Left set, it gave the
                // stream's next RECV, typically the wait of an idle connection, a 16 KiB
                // buffer of its own for as long as the connection idled.
                self.rx.owned_next = false;
                return Poll::Ready(Ok(n));
            }
        }
        self.submit_recv(cx, reactor, buf.len())
    }

    /// pointsman patch 8: waits until a read would return at once (bytes, EOF
    /// or an error were received), without a buffer of the caller's: the RECV
    /// asks for `len` bytes (into the provided-buffer ring when there is one)
    /// and what it brings stays for the next read. A connection that waits
    /// this way between requests holds no buffer and no buffer-sized future.
    pub(crate) fn poll_received(&mut self, cx: &Context<'_>, len: usize) -> Poll<io::Result<()>> {
        let reactor = self.reactor.upgrade().unwrap();
        let reactor = reactor.as_ref();
        if self.rx.refused {
            // poll + recv streams: readiness is what their next read waits for.
            if self.source_rx.is_none() {
                self.source_rx = Some(reactor.poll_read_ready(self.stream.as_raw_fd()));
            }
        } else if self.rx.head < self.rx.tail {
            return Poll::Ready(Ok(()));
        }
        if let Some(source) = self.source_rx.as_ref() {
            if source.result().is_some() {
                // The next read takes it (bytes, EOF, ENOBUFS fallback or error).
                self.read_timeout.cancel_timer(reactor);
                return Poll::Ready(Ok(()));
            }
            poll_err!(self.read_timeout.check(reactor));
            source.add_waiter_single(cx.waker());
            self.read_timeout.maybe_set_timer(reactor, cx.waker());
            return Poll::Pending;
        }
        if self.rx.owned_next {
            // The ring was empty when bytes came: they are queued, and the read
            // takes them with `recv`.
            return Poll::Ready(Ok(()));
        }
        self.submit_recv(cx, reactor, len.max(1))
    }

    /// pointsman patch 5: submits the RECV a read of `want` bytes waits for.
    fn submit_recv<T>(&mut self, cx: &Context<'_>, reactor: &Reactor, want: usize) -> Poll<io::Result<T>> {
        poll_err!(self.read_timeout.check(reactor));
        let pbuf = match (self.rx.provided, self.rx.owned_next) {
            (true, false) => reactor.stream_pbuf(),
            _ => None,
        };
        self.rx.owned_next = false;
        let (recv_buf, len) = match pbuf {
            // pointsman patch 7: no buffer until data arrives.
            Some(ring) => (
                StreamRecvBuf::Provided(None),
                want.min(ring.buf_size()),
            ),
            None => {
                let own = match self.rx.buf.take() {
                    Some(RxBytes::Owned(b)) => Some(b),
                    _ => None,
                };
                (StreamRecvBuf::Owned(own), want.min(RECV_MAX))
            }
        };
        self.rx.asked = len;
        let source = reactor.recv_stream(self.stream.as_raw_fd(), recv_buf, len);
        source.add_waiter_single(cx.waker());
        self.source_rx = Some(source);
        self.read_timeout.maybe_set_timer(reactor, cx.waker());
        Poll::Pending
    }

    pub(crate) fn poll_write(&mut self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // On the write path, we always start with calling `yolo_send`, because
        // it is very likely to success. It could be a waste if it already timed
        // out since the last `poll_write`, but it would not cost much more to
        // give it one last chance in this case.
        if let Some(result) = super::yolo_send(self.stream.as_raw_fd(), buf) {
            let reactor = self.reactor.upgrade().unwrap();
            self.write_timeout.cancel_timer(reactor.as_ref());
            self.source_tx.take();
            return Poll::Ready(result);
        }

        let reactor = self.reactor.upgrade().unwrap();
        let reactor = reactor.as_ref();
        poll_err!(self.write_timeout.check(reactor));

        let no_pending_poll = self
            .source_tx
            .as_ref()
            .map(|src| src.result().is_some())
            .unwrap_or(true);

        if no_pending_poll {
            self.source_tx = Some(reactor.poll_write_ready(self.stream.as_raw_fd()));
        }

        let source = self.source_tx.as_ref().unwrap();
        source.add_waiter_single(cx.waker());
        self.write_timeout.maybe_set_timer(reactor, cx.waker());
        Poll::Pending
    }

    pub(crate) fn poll_close(&mut self, _: &Context<'_>) -> Poll<io::Result<()>> {
        self.source_tx.take();
        Poll::Ready(sys::shutdown(self.stream.as_raw_fd(), Shutdown::Write))
    }

    /// io_uring has support for shutdown now, but it is not in any released
    /// kernel. Even with my "let's use latest" policy it would be crazy to
    /// mandate a kernel that doesn't even exist. So in preparation for that
    /// we'll sync-emulate this but already on an async wrapper
    pub(crate) fn poll_shutdown(
        &self,
        _cx: &mut Context<'_>,
        how: Shutdown,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(sys::shutdown(self.stream.as_raw_fd(), how))
    }
}

#[derive(Debug)]
pub(crate) struct GlommioStream<S, B> {
    stream: NonBufferedStream<S>,
    rx_buf: B,
    rx_done: Cell<bool>,
}

impl<S> From<socket2::Socket> for GlommioStream<S, NonBuffered>
where
    S: AsRawFd + From<socket2::Socket> + Unpin,
{
    fn from(socket: socket2::Socket) -> Self {
        let reactor = crate::executor().reactor();
        let mut stream = NonBufferedStream {
            reactor: Rc::downgrade(&reactor),
            stream: socket.into(),
            source_tx: None,
            source_rx: None,
            write_timeout: Timeout::new(reactor.register_timer()),
            read_timeout: Timeout::new(reactor.register_timer()),
            rx: UringRx::new(reactor.stream_pbuf().is_some()),
        };
        stream.init();
        GlommioStream {
            stream,
            rx_buf: NonBuffered,
            rx_done: Cell::new(false),
        }
    }
}

impl<S: AsRawFd> AsRawFd for GlommioStream<S, NonBuffered> {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.stream.as_raw_fd()
    }
}

impl<S> FromRawFd for GlommioStream<S, NonBuffered>
where
    S: AsRawFd + FromRawFd + From<socket2::Socket> + Unpin,
{
    unsafe fn from_raw_fd(fd: RawFd) -> Self {
        let socket = socket2::Socket::from_raw_fd(fd);
        GlommioStream::from(socket)
    }
}

impl<S> GlommioStream<S, NonBuffered> {
    pub(crate) fn buffered_with<B: Buffered>(self, rx_buf: B) -> GlommioStream<S, B> {
        GlommioStream {
            stream: self.stream,
            rx_buf,
            rx_done: self.rx_done,
        }
    }
}

impl<S: AsRawFd, B: RxBuf> GlommioStream<S, B> {
    /// Receives data on the socket from the remote address to which it is
    /// connected, without removing that data from the queue.
    ///
    /// On success, returns the number of bytes peeked.
    /// Successive calls return the same data. This is accomplished by passing
    /// `MSG_PEEK` as a flag to the underlying `recv` system call.
    pub(crate) async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pos = self.rx_buf.peek(buf);
        // pointsman patch 5: bytes a RECV already took from the socket come next;
        // with a RECV in flight the socket's queue is not next in line.
        pos += self.stream.peek_received(&mut buf[pos..]);
        if self.stream.recv_in_flight().is_some() {
            if pos > 0 || buf.is_empty() {
                return Ok(pos);
            }
            return self.stream.peek(buf).await;
        }
        if pos < buf.len() && !self.rx_done.get() {
            if let Some(result) = self.stream.try_peek(&mut buf[pos..]) {
                match result {
                    Err(e) => return Err(e),
                    Ok(len) => {
                        pos += len;
                        if len == 0 {
                            self.rx_done.set(true);
                        }
                    }
                }
            }
        }
        if pos > 0 || self.rx_done.get() {
            return Ok(pos);
        }
        self.stream.peek(buf).await
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.rx_buf.is_empty() {
            if buf.len() >= self.rx_buf.buffer_size() {
                return self.stream.poll_read(cx, buf);
            }
            if !self.rx_done.get() {
                poll_err!(ready!(self.poll_replenish_buffer(cx)));
            }
        }
        Poll::Ready(Ok(self.rx_buf.read(buf)))
    }

    fn poll_replenish_buffer(&mut self, cx: &Context<'_>) -> Poll<io::Result<usize>> {
        let result = poll_err!(ready!(self.stream.poll_read(cx, self.rx_buf.unfilled())));
        self.rx_buf.handle_result(result);
        if result == 0 {
            self.rx_done.set(true);
        }
        Poll::Ready(Ok(result))
    }

    /// pointsman patch 8: see [`NonBufferedStream::poll_received`].
    pub(crate) fn poll_received(&mut self, cx: &Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if !self.rx_buf.is_empty() || self.rx_done.get() {
            return Poll::Ready(Ok(()));
        }
        self.stream.poll_received(cx, len)
    }

    pub(crate) fn poll_write(&mut self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf)
    }

    pub(crate) fn poll_flush(&self, _cx: &Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    pub(crate) fn poll_close(&mut self, cx: &Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_close(cx)
    }

    pub(crate) fn poll_shutdown(
        &self,
        cx: &mut Context<'_>,
        how: Shutdown,
    ) -> Poll<io::Result<()>> {
        self.stream.poll_shutdown(cx, how)
    }

    pub(crate) fn set_write_timeout(&self, dur: Option<Duration>) -> Result<()> {
        self.stream.write_timeout.set(dur)
    }

    pub(crate) fn set_read_timeout(&self, dur: Option<Duration>) -> Result<()> {
        self.stream.read_timeout.set(dur)
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        self.stream.write_timeout.get()
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.stream.read_timeout.get()
    }

    pub(crate) fn stream(&self) -> &S {
        &self.stream.stream
    }
}

impl<S: AsRawFd, B: Buffered> GlommioStream<S, B> {
    pub(crate) fn poll_fill_buf(&mut self, cx: &Context<'_>) -> Poll<io::Result<&[u8]>> {
        if self.rx_buf.is_empty() {
            poll_err!(ready!(self.poll_replenish_buffer(cx)));
        }
        Poll::Ready(Ok(self.rx_buf.as_bytes()))
    }

    pub(crate) fn consume(&mut self, amt: usize) {
        self.rx_buf.consume(amt);
    }
}
