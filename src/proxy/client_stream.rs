//! The client side of a proxied connection: plain TCP or TLS, one type, so the HTTP
//! keep-alive loop, the stats page and the `mode tcp` relay serve both alike.
//!
//! A TLS stream may hold bytes written but not yet sent (rustls encrypts into its own
//! buffer): [`ClientStream::write_all`] flushes, and the relay flushes after each write.

use crate::tls::Replayed;
use futures_lite::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A TLS client connection after its handshake.
pub type TlsStream = futures_rustls::server::TlsStream<Replayed<TcpStream>>;

/// An accepted client connection. The TLS side is boxed: rustls's connection state is
/// kilobytes, and a plain connection's task must not pay for it.
pub enum ClientStream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl ClientStream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(tcp) => tcp,
            ClientStream::Tls(tls) => tls.get_ref().0.get_ref(),
        }
    }

    fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            ClientStream::Plain(tcp) => tcp,
            ClientStream::Tls(tls) => tls.get_mut().0.get_mut(),
        }
    }

    /// The TLS session, on a TLS connection.
    pub fn tls(&self) -> Option<&rustls::ServerConnection> {
        match self {
            ClientStream::Plain(_) => None,
            ClientStream::Tls(tls) => Some(tls.get_ref().1),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> glommio::Result<(), ()> {
        self.tcp().set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> glommio::Result<(), ()> {
        self.tcp().set_write_timeout(timeout)
    }

    pub fn peer_addr(&self) -> glommio::Result<SocketAddr, ()> {
        self.tcp().peer_addr()
    }

    pub fn local_addr(&self) -> glommio::Result<SocketAddr, ()> {
        self.tcp().local_addr()
    }

    /// Writes all of `bytes` and, on TLS, sends what rustls still holds of them.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        AsyncWriteExt::write_all(self, bytes).await?;
        if let ClientStream::Tls(tls) = self {
            tls.flush().await?;
        }
        Ok(())
    }

    /// Waits until there is something to read without holding a buffer (glommio patch 8):
    /// on TLS, plaintext rustls already decrypted is something too.
    pub fn poll_received(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if let ClientStream::Tls(tls) = self {
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

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            ClientStream::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            ClientStream::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            ClientStream::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_close(cx),
            ClientStream::Tls(tls) => Pin::new(&mut **tls).poll_close(cx),
        }
    }
}
