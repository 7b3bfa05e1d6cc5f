//! The TLS handshake of one accepted client connection, over any futures-io stream.
//!
//! Driven by futures-rustls (not a hand-driven `rustls::ServerConnection`): it is the same
//! rustls state machine and the same buffers either way, and its read/write/flush/close
//! handling is already right; a hand-driven loop would only save the wrapper's few branches.
//!
//! Before rustls sees a byte, the first five bytes must be a TLS handshake record header. A
//! plain HTTP request or random bytes on a TLS port then end with a close and nothing sent,
//! as HAProxy (OpenSSL) does, instead of rustls's alert; the five bytes are replayed to
//! rustls ([`Replayed`]) so nothing else changes.

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use futures_rustls::server::TlsStream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A TLS record header: content type, protocol version (2 bytes), length (2 bytes).
const RECORD_HEADER: usize = 5;
/// The content type of a handshake record, which a ClientHello travels in.
const HANDSHAKE: u8 = 0x16;
/// The longest record TLS allows (2^14 bytes of plaintext plus expansion).
const MAX_RECORD: usize = 16384 + 2048;

/// Why a handshake did not complete, in the words of HAProxy's connection log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The client closed before the handshake ended.
    Closed,
    /// Not TLS, or rustls refused it (no common version or cipher, a bad message).
    Refused,
    /// The time allowed ran out (the caller's timer, or a socket timeout).
    TimedOut,
}

impl Failure {
    /// HAProxy's text for it in the connection log line (`fe/1: SSL handshake failure`).
    pub fn log_text(self) -> &'static str {
        match self {
            Failure::Closed => "Connection closed during SSL handshake",
            Failure::Refused => "SSL handshake failure",
            Failure::TimedOut => "Timeout during SSL handshake",
        }
    }

    fn of(e: &io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe => Failure::Closed,
            io::ErrorKind::TimedOut => Failure::TimedOut,
            _ => Failure::Refused,
        }
    }
}

/// Completes the server side of a handshake on `io` with `config`. Sends nothing when the
/// first bytes are not a TLS handshake record.
pub async fn accept<IO>(
    mut io: IO,
    config: super::ServerConfig,
) -> Result<TlsStream<Replayed<IO>>, Failure>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut header = [0u8; RECORD_HEADER];
    io.read_exact(&mut header)
        .await
        .map_err(|e| Failure::of(&e))?;
    if !is_handshake_record(&header) {
        return Err(Failure::Refused);
    }
    let replayed = Replayed {
        io,
        header,
        replayed: 0,
    };
    futures_rustls::TlsAcceptor::from(config)
        .accept(replayed)
        .await
        .map_err(|e| Failure::of(&e))
}

/// Whether `header` opens a handshake record of a TLS version (SSL 3.0 to TLS 1.3 all say
/// 3.x in the record layer) with a plausible length.
fn is_handshake_record(header: &[u8; RECORD_HEADER]) -> bool {
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    header[0] == HANDSHAKE && header[1] == 3 && header[2] <= 4 && length > 0 && length <= MAX_RECORD
}

/// A stream whose first bytes were read to look at them: they are read again first.
pub struct Replayed<IO> {
    io: IO,
    header: [u8; RECORD_HEADER],
    /// How many of `header`'s bytes were read again.
    replayed: u8,
}

impl<IO> Replayed<IO> {
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Replayed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let at = usize::from(self.replayed);
        if at < RECORD_HEADER {
            let n = (RECORD_HEADER - at).min(buf.len());
            buf[..n].copy_from_slice(&self.header[at..at + n]);
            self.replayed += n as u8;
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Replayed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_tls_handshake_record_header_passes() {
        assert!(is_handshake_record(&[0x16, 3, 1, 0x02, 0x00]));
        assert!(is_handshake_record(&[0x16, 3, 3, 0x00, 0x10]));
        assert!(!is_handshake_record(b"GET /"), "plain HTTP");
        assert!(
            !is_handshake_record(&[0x17, 3, 3, 0, 16]),
            "application data"
        );
        assert!(!is_handshake_record(&[0x16, 3, 3, 0, 0]), "empty record");
        assert!(
            !is_handshake_record(&[0x16, 3, 3, 0xff, 0xff]),
            "oversized record"
        );
        assert!(
            !is_handshake_record(&[0x16, 2, 0, 0, 16]),
            "SSLv2-era version"
        );
    }

    #[test]
    fn the_header_is_read_again_before_the_stream() {
        let rest: &[u8] = b"rest";
        let mut replayed = Replayed {
            io: futures_lite::io::Cursor::new(rest.to_vec()),
            header: *b"HEADR",
            replayed: 0,
        };
        let mut all = Vec::new();
        futures_lite::future::block_on(replayed.read_to_end(&mut all)).unwrap();
        assert_eq!(all, b"HEADRrest");
    }
}
