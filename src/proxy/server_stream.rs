//! The server side of a proxied connection: plain TCP or TLS (`server … ssl`), one type, so
//! the HTTP exchange, the pool, tunnels and the `mode tcp` relay serve both alike.
//!
//! A TLS stream may hold bytes written but not yet sent (rustls encrypts into its own
//! buffer): [`ServerStream::write_all`] flushes, and the relay flushes after each write.

use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A TLS connection to a server after its handshake.
pub type TlsStream = crate::tls::upstream::TlsStream<TcpStream>;

/// A connection to a server. The TLS side is boxed: rustls's connection state is
/// kilobytes, and a plain connection must not pay for it. It keeps the server name it was
/// made with (`sni EXPR`), which the pool matches.
pub enum ServerStream {
    Plain(TcpStream),
    Tls(Box<TlsStream>, Option<String>),
}

impl ServerStream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ServerStream::Plain(tcp) => tcp,
            ServerStream::Tls(tls, _) => tls.get_ref().0,
        }
    }

    fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            ServerStream::Plain(tcp) => tcp,
            ServerStream::Tls(tls, _) => tls.get_mut().0,
        }
    }

    /// The TLS session, on a TLS connection.
    pub fn tls(&self) -> Option<&rustls::ClientConnection> {
        match self {
            ServerStream::Plain(_) => None,
            ServerStream::Tls(tls, _) => Some(tls.get_ref().1),
        }
    }

    /// The server name a TLS connection was made with.
    pub fn sni(&self) -> Option<&str> {
        match self {
            ServerStream::Plain(_) => None,
            ServerStream::Tls(_, sni) => sni.as_deref(),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> glommio::Result<(), ()> {
        self.tcp().set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> glommio::Result<(), ()> {
        self.tcp().set_write_timeout(timeout)
    }

    /// Writes all of `bytes` and, on TLS, sends what rustls still holds of them.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        AsyncWriteExt::write_all(self, bytes).await?;
        if let ServerStream::Tls(tls, _) = self {
            tls.flush().await?;
        }
        Ok(())
    }

    /// Waits until there is something to read without holding a buffer (glommio patch 8):
    /// on TLS, plaintext rustls already decrypted is something too.
    pub fn poll_received(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if let ServerStream::Tls(tls, _) = self {
            let holds_plaintext = tls
                .get_mut()
                .1
                .process_new_packets()
                .map_or(true, |state| state.plaintext_bytes_to_read() > 0);
            if holds_plaintext {
                return Poll::Ready(Ok(()));
            }
        }
        self.tcp_mut().poll_received(cx, len)
    }
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            ServerStream::Tls(tls, _) => Pin::new(&mut **tls).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            ServerStream::Tls(tls, _) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            ServerStream::Tls(tls, _) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerStream::Plain(tcp) => Pin::new(tcp).poll_close(cx),
            ServerStream::Tls(tls, _) => Pin::new(&mut **tls).poll_close(cx),
        }
    }
}
