//! The shard's free lists of I/O buffers, scratch vectors and request slots, so that a request
//! (and, once the lists are warm, a client connection) allocates nothing but its boxed future:
//! a [`Buffer`] goes back to its list when dropped, whatever way the request ended.
//!
//! Why a shard-wide list rather than buffers owned by each connection: a keep-alive client that
//! sits idle holds none of them (its input buffer is released while it waits, see
//! [`Buffer::release_while_empty`]), the response buffer serves whichever request is in flight, and a `Connection: close` client no longer pays a zeroed 32 KiB allocation (a
//! calloc, its page faults, and the allocator's trim) per connection. The lists are bounded,
//! so a burst of connections does not pin its peak memory for ever.

use crate::http::Request;
use futures_lite::io::AsyncReadExt;
use glommio::net::TcpStream;
use std::cell::RefCell;
use std::rc::Rc;

/// How many of each are kept for reuse. A request in flight holds two buffers (its client's
/// input and the response relay), a request slot and two scratch vectors, all given back when
/// it ends; the lists cover 128 requests in flight per shard (with 64, more than 32 concurrent
/// keep-alive clients made requests allocate and zero 32 KiB buffers: 4.4 % of the CPU in
/// `memset` at 64 connections). Bounded, so a burst does not pin its peak for ever: at most
/// 8 MiB of buffers per shard.
const MAX_FREE_BUFFERS: usize = 256;
const MAX_FREE_SCRATCH: usize = 256;
const MAX_FREE_SLOTS: usize = 128;
/// A scratch vector that grew past this (a huge head) is not kept.
const MAX_SCRATCH_CAPACITY: usize = 64 << 10;

/// The size of every I/O buffer of a frontend: a full head (`tune.bufsize`, 16 KiB by
/// default) plus as much again for body bytes. One size for HTTP and TCP mode alike, so that
/// every buffer can serve any connection from the free list.
pub fn buffer_len(limits: &crate::http::Limits) -> usize {
    2 * limits.max_head_len
}

/// One shard's free lists. Single-threaded: `RefCell`s, no locks.
#[derive(Default)]
pub struct BufferPool {
    buffers: RefCell<Vec<Box<[u8]>>>,
    scratch: RefCell<Vec<Vec<u8>>>,
    /// A parsed head's field table is a few KiB: a request takes a slot while it is served
    /// rather than building (or, idle, holding) one of its own. Boxed: a slot moves in and out
    /// as a pointer, not as kilobytes.
    #[allow(clippy::vec_box)]
    request_slots: RefCell<Vec<Box<Request>>>,
}

impl BufferPool {
    /// An empty buffer of `len` bytes, from the free list when one of that size is there.
    pub fn buffer(self: &Rc<Self>, len: usize) -> Buffer {
        Buffer {
            bytes: self.bytes(len),
            len,
            filled: 0,
            pool: self.clone(),
        }
    }

    /// A buffer of `len` bytes that holds none until its first [`Buffer::fill_from`].
    pub fn released(self: &Rc<Self>, len: usize) -> Buffer {
        Buffer {
            bytes: Box::default(),
            len,
            filled: 0,
            pool: self.clone(),
        }
    }

    fn bytes(&self, len: usize) -> Box<[u8]> {
        let reused = self.buffers.borrow_mut().pop().filter(|b| b.len() == len);
        reused.unwrap_or_else(|| vec![0u8; len].into_boxed_slice())
    }

    /// An empty scratch vector (serialized heads, log request lines).
    pub fn scratch(&self) -> Vec<u8> {
        self.scratch
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(1024))
    }

    /// Gives a scratch vector back for the next request (one that never had room is not kept).
    pub fn give_back(&self, mut scratch: Vec<u8>) {
        let mut free = self.scratch.borrow_mut();
        let capacity = scratch.capacity();
        if free.len() < MAX_FREE_SCRATCH && capacity > 0 && capacity <= MAX_SCRATCH_CAPACITY {
            scratch.clear();
            free.push(scratch);
        }
    }

    /// A slot to parse a request head into (its old contents are overwritten by the parse).
    pub fn request_slot(&self) -> Box<Request> {
        self.request_slots
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Box::new(Request::empty()))
    }

    pub fn give_back_request_slot(&self, slot: Box<Request>) {
        let mut free = self.request_slots.borrow_mut();
        if free.len() < MAX_FREE_SLOTS {
            free.push(slot);
        }
    }

    fn give_back_buffer(&self, bytes: Box<[u8]>) {
        let mut free = self.buffers.borrow_mut();
        if free.len() < MAX_FREE_BUFFERS && !bytes.is_empty() {
            free.push(bytes);
        }
    }
}

/// A byte buffer with a fill level, read into from a socket; back to its pool when dropped.
/// While empty it may be released ([`Buffer::release_while_empty`]): an idle keep-alive
/// connection then holds no buffer at all, and takes one again when bytes arrive.
pub struct Buffer {
    /// Empty while released.
    bytes: Box<[u8]>,
    len: usize,
    pub filled: usize,
    pool: Rc<BufferPool>,
}

impl Buffer {
    pub fn is_full(&self) -> bool {
        self.filled == self.len
    }

    /// Gives the bytes back to the pool if nothing is buffered; the next
    /// [`Buffer::fill_from`] takes them again once data arrives.
    pub fn release_while_empty(&mut self) {
        if self.filled == 0 && !self.bytes.is_empty() {
            self.pool.give_back_buffer(std::mem::take(&mut self.bytes));
        }
    }

    /// Holding no bytes (released while empty, or never filled).
    pub fn is_released(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The size it is (or will be, once taken again).
    pub fn size(&self) -> usize {
        self.len
    }

    pub fn data(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    /// Drops the first `n` bytes, keeping what follows (a pipelined next message).
    pub fn consume(&mut self, n: usize) {
        self.bytes.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// The unfilled part, to read into (taking the bytes again if they were released).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.bytes.is_empty() {
            self.bytes = self.pool.bytes(self.len);
        }
        &mut self.bytes[self.filled..]
    }

    /// Reads more bytes from `stream`; `Ok(0)` at EOF or when full.
    pub async fn fill_from<S: Source>(&mut self, stream: &mut S) -> std::io::Result<usize> {
        if self.bytes.is_empty() {
            // Released: wait for bytes holding no buffer (glommio patch 8: they land in the
            // reactor's provided-buffer ring), then take one and read them into it.
            futures_lite::future::poll_fn(|cx| stream.poll_received(cx, self.len)).await?;
        }
        if self.is_full() {
            return Ok(0);
        }
        let n = stream.read(self.spare()).await?;
        self.filled += n;
        Ok(n)
    }
}

/// A stream a [`Buffer`] reads from: a server's connection or a client's (plain or TLS).
pub trait Source: futures_lite::AsyncRead + Unpin {
    /// Ready once there are bytes to read, without a buffer to read them into.
    fn poll_received(
        &mut self,
        cx: &mut std::task::Context<'_>,
        len: usize,
    ) -> std::task::Poll<std::io::Result<()>>;
}

impl Source for TcpStream {
    fn poll_received(
        &mut self,
        cx: &mut std::task::Context<'_>,
        len: usize,
    ) -> std::task::Poll<std::io::Result<()>> {
        TcpStream::poll_received(self, cx, len)
    }
}

impl Source for super::client_stream::ClientStream {
    fn poll_received(
        &mut self,
        cx: &mut std::task::Context<'_>,
        len: usize,
    ) -> std::task::Poll<std::io::Result<()>> {
        super::client_stream::ClientStream::poll_received(self, cx, len)
    }
}

impl Source for super::server_stream::ServerStream {
    fn poll_received(
        &mut self,
        cx: &mut std::task::Context<'_>,
        len: usize,
    ) -> std::task::Poll<std::io::Result<()>> {
        super::server_stream::ServerStream::poll_received(self, cx, len)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.pool.give_back_buffer(std::mem::take(&mut self.bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused_without_allocating() {
        let pool = Rc::new(BufferPool::default());
        let mut first = pool.buffer(32);
        first.spare()[..3].copy_from_slice(b"abc");
        first.filled = 3;
        let address = first.bytes.as_ptr();
        drop(first);
        let second = pool.buffer(32);
        assert_eq!(second.bytes.as_ptr(), address);
        assert_eq!(second.filled, 0, "a reused buffer starts empty");
        // Another size is not served from the list.
        drop(second);
        assert_eq!(pool.buffer(64).bytes.len(), 64);
    }

    #[test]
    fn a_released_buffer_goes_back_to_the_pool_and_returns_on_use() {
        let pool = Rc::new(BufferPool::default());
        let mut buffer = pool.buffer(32);
        buffer.release_while_empty();
        assert_eq!(pool.buffers.borrow().len(), 1, "released while idle");
        assert!(!buffer.is_full() && buffer.data().is_empty());
        assert_eq!(buffer.spare().len(), 32, "taken again for the next read");
        assert!(pool.buffers.borrow().is_empty());
        buffer.filled = 1;
        buffer.release_while_empty();
        assert_eq!(buffer.data().len(), 1, "a buffer holding bytes is kept");
    }

    #[test]
    fn the_free_lists_are_bounded() {
        let pool = Rc::new(BufferPool::default());
        let many: Vec<Buffer> = (0..MAX_FREE_BUFFERS + 10).map(|_| pool.buffer(8)).collect();
        drop(many);
        assert_eq!(pool.buffers.borrow().len(), MAX_FREE_BUFFERS);
        pool.give_back(Vec::with_capacity(MAX_SCRATCH_CAPACITY + 1));
        assert!(
            pool.scratch.borrow().is_empty(),
            "an oversized scratch is not kept"
        );
        let mut s = pool.scratch();
        s.extend_from_slice(b"head");
        pool.give_back(s);
        assert!(pool.scratch().is_empty(), "a reused scratch starts empty");
    }
}
