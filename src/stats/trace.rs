//! [`RequestTrace`]: what the request path notes about one request as it goes (instants,
//! server, status, bytes), kept in the client connection and reused for every request. At the
//! end it becomes the latency [`Timing`] and the fields of the access log line. Noting is a
//! store of an `Instant` or a number: nothing allocates.

use super::latency::Timing;
use crate::state::ServerRef;
use std::time::Instant;

/// How a request ended, for the termination state of the log line (HAProxy's two letters:
/// who ended it, and in which phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ending {
    /// The response went out whole.
    #[default]
    Complete,
    /// pointsman answered with an error page of this status.
    Failed(u16),
    /// The request head was invalid (400) or too slow (408).
    BadRequest(u16),
}

#[derive(Debug, Clone, Default)]
pub struct RequestTrace {
    /// First byte of the request head.
    pub first_byte: Option<Instant>,
    /// The whole head received.
    pub head_done: Option<Instant>,
    /// The server of the last attempt.
    pub server: Option<ServerRef>,
    /// The last attempt's connection to the server is ready.
    pub connected: Option<Instant>,
    /// Time a new connection took (None: a pooled one was reused).
    pub connect_us: Option<u64>,
    /// The last attempt's final response head arrived.
    pub response_head: Option<Instant>,
    /// Status sent to the client.
    pub status: Option<u16>,
    /// Bytes sent to the client.
    pub bytes_out: u64,
    pub retries: u32,
    /// The client went away while the response was being sent.
    pub client_aborted: bool,
    pub ending: Ending,
    /// `GET /path HTTP/1.1`, kept for the log line (the head leaves the buffer before the
    /// request ends); its capacity is reused from request to request.
    pub request_line: Vec<u8>,
    /// The frontend answered it itself: `<STATS>` or `<PROMEX>` in the log's server field.
    pub local_service: Option<&'static str>,
}

/// The longest request line kept for the log (HAProxy's default log line is 1024 bytes).
const REQUEST_LINE_MAX: usize = 1024;

impl RequestTrace {
    /// Starts the next request of the connection.
    pub fn reset(&mut self) {
        let mut line = std::mem::take(&mut self.request_line);
        line.clear();
        *self = RequestTrace {
            request_line: line,
            ..RequestTrace::default()
        };
    }

    /// Bytes of the request are buffered: the first time, its clock starts.
    pub fn saw_bytes(&mut self) {
        if self.first_byte.is_none() {
            self.first_byte = Some(Instant::now());
        }
    }

    /// The head is complete: its clock stops and its request line is kept.
    pub fn head_received(&mut self, method: &[u8], target: &[u8], minor_version: u8) {
        self.saw_bytes();
        self.head_done = Some(Instant::now());
        let line = &mut self.request_line;
        line.clear();
        line.extend_from_slice(method);
        line.push(b' ');
        line.extend_from_slice(&target[..target.len().min(REQUEST_LINE_MAX)]);
        line.extend_from_slice(b" HTTP/1.");
        line.push(b'0' + minor_version.min(9));
    }

    /// An attempt starts on `server`: what an earlier attempt reached no longer counts.
    pub fn attempt_on(&mut self, server: ServerRef) {
        self.server = Some(server);
        self.connected = None;
        self.connect_us = None;
        self.response_head = None;
    }

    /// The attempt got its connection; `began` is when it asked for one.
    pub fn connected(&mut self, began: Instant, reused: bool) {
        let now = Instant::now();
        self.connected = Some(now);
        self.connect_us = (!reused).then(|| micros(began, now));
    }

    pub fn response_started(&mut self, status: u16) {
        self.response_head = Some(Instant::now());
        self.status = Some(status);
    }

    /// The latency of the finished request (`end`: its last byte out).
    pub fn timing(&self, end: Instant) -> Timing {
        let response_us = match (self.connected, self.response_head) {
            (Some(c), Some(r)) => Some(micros(c, r)),
            _ => None,
        };
        Timing {
            connect_us: self.connect_us,
            response_us,
            total_us: self.first_byte.map(|f| micros(f, end)),
        }
    }

    /// HAProxy's termination state, the two letters of `%ts` (`--` when all went well).
    pub fn termination(&self) -> [u8; 2] {
        match self.ending {
            Ending::BadRequest(408) => *b"cR",
            Ending::BadRequest(_) => *b"PR",
            Ending::Complete if self.client_aborted => *b"CD",
            Ending::Complete => *b"--",
            Ending::Failed(_) if self.client_aborted => *b"CD",
            Ending::Failed(400) => *b"CD",
            Ending::Failed(_) if self.response_head.is_some() => *b"SD",
            Ending::Failed(_) if self.connected.is_none() => *b"SC",
            Ending::Failed(504) => *b"sH",
            Ending::Failed(_) => *b"SH",
        }
    }
}

/// Microseconds from `from` to `to` (0 if `to` is earlier).
pub fn micros(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timing_and_termination_follow_the_attempt() {
        let mut t = RequestTrace::default();
        t.head_received(b"GET", b"/x", 1);
        assert_eq!(t.request_line, b"GET /x HTTP/1.1");
        assert_eq!(t.termination(), *b"--");
        t.ending = Ending::Failed(503);
        assert_eq!(t.termination(), *b"SC");
        let server = ServerRef {
            backend: 0,
            server: 1,
        };
        t.attempt_on(server);
        assert_eq!(t.termination(), *b"SC");
        t.connected(Instant::now(), true);
        assert_eq!(t.connect_us, None);
        assert_eq!(t.termination(), *b"SH");
        t.ending = Ending::Failed(504);
        assert_eq!(t.termination(), *b"sH");
        t.response_started(200);
        assert_eq!(t.termination(), *b"SD");
        t.ending = Ending::Complete;
        let end = Instant::now() + Duration::from_millis(5);
        let timing = t.timing(end);
        assert!(timing.response_us.is_some());
        assert!(timing.total_us.unwrap() >= 5_000);
        t.reset();
        assert_eq!(t.timing(end), Timing::default());
        assert!(t.request_line.is_empty() && t.request_line.capacity() > 0);
    }
}
