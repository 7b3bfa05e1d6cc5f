//! What one request produced: a [`Sample`] with its timings and either a status or an
//! [`ErrorClass`]. Error classes are coarse on purpose: each names a different failure an
//! operator would chase (nothing listening, a reset, a stall, a body cut short, a bad status).

use std::fmt;
use std::io;

/// Why a request failed. A response with a non-2xx status is a failure too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// Nothing listens on the port (ECONNREFUSED).
    ConnectRefused,
    /// The TCP handshake did not finish within the timeout.
    ConnectTimeout,
    /// Any other connect failure (unreachable, no route, out of ports...).
    ConnectError,
    /// ECONNRESET / EPIPE: the peer aborted the connection.
    Reset,
    /// The peer closed cleanly before sending any byte of the response.
    Closed,
    /// No complete response within the timeout.
    Timeout,
    /// The connection ended inside the response head or body.
    Truncated,
    /// Bytes that are not a valid HTTP/1.x response.
    BadResponse,
    /// Any other I/O error.
    Io,
    /// A complete response with a status outside 2xx.
    Status(u16),
}

impl ErrorClass {
    /// Maps an I/O error during the exchange (after connect) to its class.
    pub fn from_io(err: &io::Error) -> ErrorClass {
        use io::ErrorKind::*;
        match err.kind() {
            ConnectionReset | ConnectionAborted | BrokenPipe => ErrorClass::Reset,
            // std's read timeouts surface as WouldBlock on Linux.
            TimedOut | WouldBlock => ErrorClass::Timeout,
            UnexpectedEof => ErrorClass::Truncated,
            InvalidData => ErrorClass::BadResponse,
            _ => ErrorClass::Io,
        }
    }

    /// Maps a failed connect to its class.
    pub fn from_connect(err: &io::Error) -> ErrorClass {
        match err.kind() {
            io::ErrorKind::ConnectionRefused => ErrorClass::ConnectRefused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorClass::ConnectTimeout,
            _ => ErrorClass::ConnectError,
        }
    }

    /// Stable key used in JSON and tables.
    pub fn key(&self) -> String {
        match self {
            ErrorClass::ConnectRefused => "connect_refused".into(),
            ErrorClass::ConnectTimeout => "connect_timeout".into(),
            ErrorClass::ConnectError => "connect_error".into(),
            ErrorClass::Reset => "reset".into(),
            ErrorClass::Closed => "closed_before_response".into(),
            ErrorClass::Timeout => "timeout".into(),
            ErrorClass::Truncated => "truncated".into(),
            ErrorClass::BadResponse => "bad_response".into(),
            ErrorClass::Io => "io_error".into(),
            ErrorClass::Status(code) => format!("http_{code}"),
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ErrorClass::ConnectRefused => "connect refused",
            ErrorClass::ConnectTimeout => "connect timeout",
            ErrorClass::ConnectError => "connect error",
            ErrorClass::Reset => "reset",
            ErrorClass::Closed => "closed before response",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Truncated => "truncated",
            ErrorClass::BadResponse => "bad response",
            ErrorClass::Io => "I/O error",
            ErrorClass::Status(code) => return write!(f, "HTTP {code}"),
        };
        f.write_str(text)
    }
}

/// One request as measured. Times are nanoseconds from the start of the run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Sequence number (0-based), also its slot in the schedule.
    pub seq: u64,
    /// When the schedule said to send it.
    pub intended_ns: u64,
    /// When it was actually sent (connect started or request written).
    pub sent_ns: u64,
    /// When the last byte of the response arrived, or the failure was seen.
    pub done_ns: u64,
    /// HTTP status, when a response head arrived.
    pub status: Option<u16>,
    pub error: Option<ErrorClass>,
    /// Index into the run's server names, when the answering server is known.
    pub server: Option<u16>,
}

impl Sample {
    /// Latency as a client waiting on the schedule sees it: from the intended send time,
    /// so a stalled sender cannot hide a slow server (no coordinated omission).
    pub fn latency_ns(&self) -> u64 {
        self.done_ns.saturating_sub(self.intended_ns)
    }

    /// Time from the actual send to the end of the response.
    pub fn service_ns(&self) -> u64 {
        self.done_ns.saturating_sub(self.sent_ns)
    }

    /// How far behind schedule the sender was when it sent this request.
    pub fn send_lag_ns(&self) -> u64 {
        self.sent_ns.saturating_sub(self.intended_ns)
    }
}

/// When one request was due, sent and answered, as instants.
pub struct Timing {
    pub start: std::time::Instant,
    pub intended: std::time::Instant,
    pub sent: std::time::Instant,
    pub done: std::time::Instant,
}

impl Timing {
    /// A request due at `intended` and sent at `sent` whose exchange has just ended.
    pub fn ended_now(
        start: std::time::Instant,
        intended: std::time::Instant,
        sent: std::time::Instant,
    ) -> Timing {
        Timing {
            start,
            intended,
            sent,
            done: std::time::Instant::now(),
        }
    }
}

impl Sample {
    /// The sample of one exchange, whichever engine ran it: a non-2xx status is an error
    /// too, and the server is named by the response's identity.
    pub fn of(
        seq: u64,
        timing: Timing,
        result: Result<super::client::Response, ErrorClass>,
        names: &super::identify::ServerNames,
    ) -> Sample {
        let since_start =
            |t: std::time::Instant| t.saturating_duration_since(timing.start).as_nanos() as u64;
        let (status, error, server) = match result {
            Ok(response) => {
                let error = (!(200..300).contains(&response.status))
                    .then_some(ErrorClass::Status(response.status));
                (
                    Some(response.status),
                    error,
                    names.intern(&response.identity),
                )
            }
            Err(class) => (None, Some(class), None),
        };
        Sample {
            seq,
            intended_ns: since_start(timing.intended),
            sent_ns: since_start(timing.sent),
            done_ns: since_start(timing.done),
            status,
            error,
            server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_classes() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(ErrorClass::from_io(&reset), ErrorClass::Reset);
        let blocked = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(ErrorClass::from_io(&blocked), ErrorClass::Timeout);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ErrorClass::from_connect(&refused),
            ErrorClass::ConnectRefused
        );
        assert_eq!(ErrorClass::Status(503).key(), "http_503");
        assert_eq!(ErrorClass::Status(503).to_string(), "HTTP 503");
    }
}
