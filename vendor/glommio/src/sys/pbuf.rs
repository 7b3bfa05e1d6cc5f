// Unless explicitly stated otherwise all files in this repository are licensed
// under the MIT/Apache-2.0 License, at your convenience
//
//! pointsman patch 7: a provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux
//! 5.19) on a reactor's main ring, from which stream RECVs (patch 5) take a buffer
//! only when data arrives (`IOSQE_BUFFER_SELECT`). Without it a stream with a read
//! waiting holds a buffer of its own for its whole life, i.e. an idle keep-alive
//! connection costs a receive buffer.
//!
//! Ownership: a buffer is either in the kernel's ring or owned by exactly one
//! [`ProvidedBuf`], created from the completion that carries its id
//! (`IORING_CQE_F_BUFFER`); dropping that handle writes the buffer back at the
//! ring's tail. A completion of a source nobody waits for any more (a stream
//! dropped with a RECV in flight) still creates the handle, attaches it to the
//! orphan source, and the source's drop gives the buffer back: no leak, no double
//! return.
//!
//! The bundled liburing has no buf_ring helpers, so the ring is set up here with
//! the kernel uapi layouts (`struct io_uring_buf`, `struct io_uring_buf_reg`).

use std::{
    cell::Cell,
    io,
    os::unix::io::RawFd,
    rc::Rc,
    sync::atomic::{AtomicBool, AtomicU16, Ordering},
};

/// `io_uring_register` opcode (include/uapi/linux/io_uring.h).
const IORING_REGISTER_PBUF_RING: libc::c_uint = 22;
/// `cqe->flags`: the completion carries a buffer id in its upper 16 bits.
pub(crate) const IORING_CQE_F_BUFFER: u32 = 1;
pub(crate) const IORING_CQE_BUFFER_SHIFT: u32 = 16;
/// The buffer group of stream RECVs (one group per io_uring instance).
pub(crate) const STREAM_BUF_GROUP: u16 = 0x5053; // "PS"

/// Default number of buffers per reactor (a power of two, at most 32768).
const DEFAULT_COUNT: usize = 256;
/// Default size of one buffer: the largest RECV patch 5 submits, so RECVs ask
/// what they asked before. Only the pages the kernel writes to become resident.
const DEFAULT_SIZE: usize = 16 << 10;

/// `struct io_uring_buf`: one ring entry. In entry 0, `resv` is the ring's tail.
#[repr(C)]
struct IoUringBuf {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// `struct io_uring_buf_reg`.
#[repr(C)]
struct IoUringBufReg {
    ring_addr: u64,
    ring_entries: u32,
    bgid: u16,
    flags: u16,
    resv: [u64; 3],
}

/// Whether stream RECVs use provided buffers: `GLOMMIO_SOCKET_PBUF=0` (read once
/// per process) keeps patch 5's buffer per stream, for A/B measurements. Only
/// meaningful with patch 5 on (`GLOMMIO_STOCK_SOCKET_IO` unset).
pub(crate) fn pbuf_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GLOMMIO_SOCKET_PBUF").map_or(true, |v| v != "0"))
}

/// `GLOMMIO_SOCKET_PBUF_COUNT` / `GLOMMIO_SOCKET_PBUF_SIZE`: measurement knobs.
fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

/// Registration failed once (an old kernel): later reactors do not retry.
static REFUSED: AtomicBool = AtomicBool::new(false);

/// A reactor's provided-buffer ring and the buffers it hands out.
#[derive(Debug)]
pub(crate) struct PbufRing {
    /// `count` ring entries (`IoUringBuf`), page-aligned, shared with the kernel.
    ring: *mut IoUringBuf,
    ring_bytes: usize,
    /// `count` buffers of `size` bytes, one mapping.
    bufs: *mut u8,
    bufs_bytes: usize,
    count: usize,
    size: usize,
    /// Our copy of the ring's tail (the kernel only reads it).
    tail: Cell<u16>,
    /// Buffers not in the ring (in a completion or a stream's leftover).
    out: Cell<usize>,
    /// Completions that carried a buffer, in all (a diagnostic).
    taken: Cell<u64>,
    /// RECVs that found the ring empty (`ENOBUFS`), in all (a diagnostic).
    empty: Cell<u64>,
}

impl PbufRing {
    /// Sets up and registers a ring on the io_uring `ring_fd`; `None` (after one
    /// `warn!` per process) if the kernel refuses, or if it is switched off.
    pub(crate) fn new(ring_fd: RawFd) -> Option<Rc<Self>> {
        if !pbuf_enabled() || super::stock_socket_io() || REFUSED.load(Ordering::Relaxed) {
            return None;
        }
        let count = knob("GLOMMIO_SOCKET_PBUF_COUNT", DEFAULT_COUNT)
            .next_power_of_two()
            .min(32768);
        let size = knob("GLOMMIO_SOCKET_PBUF_SIZE", DEFAULT_SIZE).min(1 << 30);
        match Self::register(ring_fd, count, size) {
            Ok(ring) => Some(Rc::new(ring)),
            Err(err) => {
                if !REFUSED.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "io_uring provided-buffer ring refused ({err}): stream reads keep a \
                         buffer per stream"
                    );
                }
                None
            }
        }
    }

    fn register(ring_fd: RawFd, count: usize, size: usize) -> io::Result<Self> {
        let ring_bytes = page_align(count * std::mem::size_of::<IoUringBuf>());
        let bufs_bytes = page_align(count * size);
        let ring = map(ring_bytes)? as *mut IoUringBuf;
        let bufs = match map(bufs_bytes) {
            Ok(b) => b,
            Err(e) => {
                unsafe { libc::munmap(ring as _, ring_bytes) };
                return Err(e);
            }
        };
        let this = PbufRing {
            ring,
            ring_bytes,
            bufs,
            bufs_bytes,
            count,
            size,
            tail: Cell::new(0),
            out: Cell::new(count),
            taken: Cell::new(0),
            empty: Cell::new(0),
        };
        let reg = IoUringBufReg {
            ring_addr: ring as u64,
            ring_entries: count as u32,
            bgid: STREAM_BUF_GROUP,
            flags: 0,
            resv: [0; 3],
        };
        let ret = unsafe {
            crate::uring_sys::syscalls::io_uring_register(
                ring_fd,
                IORING_REGISTER_PBUF_RING,
                &reg as *const IoUringBufReg as *const libc::c_void,
                1,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error()); // `this` unmaps on drop
        }
        for bid in 0..count {
            this.give_back(bid as u16);
        }
        Ok(this)
    }

    /// The size of one buffer: the most a provided-buffer RECV asks for.
    pub(crate) fn buf_size(&self) -> usize {
        self.size
    }

    /// How many buffers are out of the ring, in all, and were ever taken.
    pub(crate) fn usage(&self) -> crate::net::StreamRecvBuffers {
        crate::net::StreamRecvBuffers {
            in_use: self.out.get(),
            total: self.count,
            size: self.size,
            taken: self.taken.get(),
            empty: self.empty.get(),
        }
    }

    /// A RECV completed with `ENOBUFS`: the ring was empty.
    pub(crate) fn note_empty(&self) {
        self.empty.set(self.empty.get() + 1);
    }

    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        unsafe { self.bufs.add(bid as usize * self.size) }
    }

    /// Writes buffer `bid` at the ring's tail and publishes it to the kernel.
    fn give_back(&self, bid: u16) {
        let tail = self.tail.get();
        let mask = self.count - 1;
        unsafe {
            // Field by field: entry 0's `resv` is the ring's tail.
            let entry = self.ring.add(tail as usize & mask);
            std::ptr::addr_of_mut!((*entry).addr).write(self.buf_ptr(bid) as u64);
            std::ptr::addr_of_mut!((*entry).len).write(self.size as u32);
            std::ptr::addr_of_mut!((*entry).bid).write(bid);
            let tail_ptr = (self.ring as *mut u8).add(14) as *mut u16;
            AtomicU16::from_ptr(tail_ptr).store(tail.wrapping_add(1), Ordering::Release);
        }
        self.tail.set(tail.wrapping_add(1));
        self.out.set(self.out.get() - 1);
    }
}

impl Drop for PbufRing {
    fn drop(&mut self) {
        // The last handle is gone, and the reactor's ring (which holds one) was
        // closed before: the kernel no longer writes to these pages.
        unsafe {
            libc::munmap(self.bufs as _, self.bufs_bytes);
            libc::munmap(self.ring as _, self.ring_bytes);
        }
    }
}

fn page_align(bytes: usize) -> usize {
    (bytes + 4095) & !4095
}

fn map(bytes: usize) -> io::Result<*mut u8> {
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p as *mut u8)
}

/// A buffer the kernel picked for a completed RECV; back to the ring when dropped.
#[derive(Debug)]
pub(crate) struct ProvidedBuf {
    ring: Rc<PbufRing>,
    bid: u16,
}

impl ProvidedBuf {
    /// The handle of the buffer a completion with `cqe_flags` carries, if any.
    pub(crate) fn from_cqe(ring: &Rc<PbufRing>, cqe_flags: u32) -> Option<Self> {
        if cqe_flags & IORING_CQE_F_BUFFER == 0 {
            return None;
        }
        let bid = (cqe_flags >> IORING_CQE_BUFFER_SHIFT) as u16;
        if bid as usize >= ring.count {
            log::error!("provided buffer id {bid} out of range: ignored");
            return None;
        }
        ring.out.set(ring.out.get() + 1);
        ring.taken.set(ring.taken.get() + 1);
        Some(ProvidedBuf {
            ring: ring.clone(),
            bid,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.ring.buf_ptr(self.bid), self.ring.size) }
    }
}

impl Drop for ProvidedBuf {
    fn drop(&mut self) {
        self.ring.give_back(self.bid);
    }
}
