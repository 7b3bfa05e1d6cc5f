//! Reading the PROXY protocol header that starts every connection of an `accept-proxy` bind,
//! before anything else (TLS included), within `timeout client`. Only the header's own bytes
//! are taken from the socket: they are peeked, handed to [`proxy_protocol::parse`], and
//! consumed once it says they belong to the header, so what follows (a request, a TLS
//! ClientHello) stays in the socket for whoever reads next.

use super::proxy_protocol::{self, Parsed, V2_MAX_LEN};
use futures_lite::io::AsyncReadExt;
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::time::Duration;

/// Why a connection of an `accept-proxy` bind is closed before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Closed before sending anything.
    Closed,
    /// Closed in the middle of a header.
    Truncated,
    TimedOut,
    Invalid(proxy_protocol::Error),
}

impl Failure {
    /// HAProxy's words for it in the connection error log line.
    pub fn log_text(self) -> &'static str {
        match self {
            Failure::Closed => "Connection closed while waiting for PROXY protocol header",
            Failure::Truncated => "Truncated PROXY protocol header received",
            Failure::TimedOut => "Timeout while waiting for PROXY protocol header",
            Failure::Invalid(error) => error.log_text(),
        }
    }

    /// The client sent nothing (`option dontlognull` leaves it out of the log).
    pub fn is_silent(self) -> bool {
        self == Failure::Closed
    }
}

/// Reads the header; the client's address it carries (None: the connection's own stays).
pub async fn read(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<Option<SocketAddr>, Failure> {
    let expiry = async {
        glommio::timer::sleep(timeout).await;
        Err(Failure::TimedOut)
    };
    futures_lite::future::or(read_header(stream), expiry).await
}

async fn read_header(stream: &mut TcpStream) -> Result<Option<SocketAddr>, Failure> {
    let mut header = vec![0u8; V2_MAX_LEN];
    // Bytes taken from the socket so far: all of them belong to the header (the parser said
    // it was incomplete), so taking them keeps what follows it in the socket.
    let mut taken = 0;
    loop {
        let peeked = stream.peek(&mut header[taken..]).await.unwrap_or(0);
        if peeked == 0 {
            return Err(if taken == 0 {
                Failure::Closed
            } else {
                Failure::Truncated
            });
        }
        let seen = taken + peeked;
        match proxy_protocol::parse(&header[..seen]).map_err(Failure::Invalid)? {
            Parsed::Header { len, addresses } => {
                stream
                    .read_exact(&mut header[taken..len])
                    .await
                    .map_err(|_| Failure::Truncated)?;
                return Ok(addresses.map(|(source, _)| source));
            }
            Parsed::Incomplete => {
                stream
                    .read_exact(&mut header[taken..seen])
                    .await
                    .map_err(|_| Failure::Truncated)?;
                taken = seen;
                if taken == header.len() {
                    return Err(Failure::Invalid(proxy_protocol::Error::BadHeader));
                }
            }
        }
    }
}
