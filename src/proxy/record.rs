//! Recording a finished request or TCP session besides its counters: its latency in the
//! shard's histograms and its line in the shard's access log buffer. Both are local stores;
//! the log line is formatted only when its frontend logs. (Passive health is `observe`.)

use super::worker::Worker;
use crate::logs::clock::Stamp;
use crate::logs::line::{self, Counts, HttpFields, TcpFields};
use crate::state::ServerRef;
use crate::stats::latency::Timing;
use crate::stats::trace::{micros, RequestTrace};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

/// Names of the log line's `%b/%s` for a request that reached no server.
const NO_SERVER: &str = "<NOSRV>";

/// What one TCP-mode session did, for [`Worker::finish_tcp`].
pub(super) struct TcpSession {
    pub client: SocketAddr,
    pub accepted: Instant,
    pub server: Option<ServerRef>,
    /// Microseconds to connect to `server`; `None` when no connect succeeded.
    pub connect_us: Option<u64>,
    /// Bytes the client sent (0 makes it a null connection for `option dontlognull`).
    pub bytes_in: u64,
    /// Bytes sent to the client.
    pub bytes_out: u64,
    pub retries: u32,
    /// The side whose `timeout client` / `timeout server` ended the session first
    /// (termination state `cD` / `sD`).
    pub timed_out: Option<Side>,
}

/// A side of a proxied session.
#[derive(Clone, Copy)]
pub(super) enum Side {
    Client,
    Server,
}

impl Side {
    /// The first letter of a termination state for this side.
    fn letter(self) -> u8 {
        match self {
            Side::Client => b'c',
            Side::Server => b's',
        }
    }
}

impl Worker {
    /// Records one finished HTTP request: latency (when it reached a server) and access log.
    /// `tls`: the client connection is TLS (`fe~` in the log line).
    pub(super) fn finish_http(
        &self,
        frontend: usize,
        (client, tls): (SocketAddr, bool),
        trace: &RequestTrace,
    ) {
        let end = Instant::now();
        let timing = trace.timing(end);
        if let (Some(server), Some(_)) = (trace.server, trace.connected) {
            self.latency.borrow_mut().record(server, &timing);
        }
        self.log.traffic(frontend, |out, clock| {
            let ms = |us: Option<u64>| us.map_or(-1, |us| (us / 1000) as i64);
            let head_ms = match (trace.first_byte, trace.head_done) {
                (Some(f), Some(h)) => Some(micros(f, h)),
                _ => None,
            };
            let connect_ms = trace.connected.map(|_| timing.connect_us.unwrap_or(0));
            let status = trace.status.map_or(-1, i64::from);
            let request: &[u8] = if trace.request_line.is_empty() {
                b"<BADREQ>"
            } else {
                &trace.request_line
            };
            self.with_names(frontend, trace.server, trace.local_service, |fe, be, sv| {
                let fields = HttpFields {
                    client,
                    received: received_at(trace.first_byte, end),
                    frontend: fe,
                    backend: be,
                    server: sv,
                    timers: [
                        ms(head_ms),
                        if trace.server.is_some() { 0 } else { -1 },
                        ms(connect_ms),
                        ms(timing.response_us),
                        ms(timing.total_us),
                    ],
                    status,
                    bytes: trace.bytes_out,
                    termination: trace.termination(),
                    counts: self.log_counts(frontend, trace.server, trace.retries),
                    request,
                    tls,
                };
                line::http(out, clock, &fields);
            });
        });
    }

    /// Records one finished TCP session: connect latency and the `tcplog` line. With
    /// `option dontlognull`, a session whose client sent nothing is not logged (HAProxy
    /// logs a stream only when its request channel carried bytes or the frontend lacks
    /// the option).
    pub(super) fn finish_tcp(&self, frontend: usize, session: &TcpSession) {
        let end = Instant::now();
        if let (Some(server), Some(us)) = (session.server, session.connect_us) {
            let timing = Timing {
                connect_us: Some(us),
                ..Timing::default()
            };
            self.latency.borrow_mut().record(server, &timing);
        }
        if session.bytes_in == 0 && self.frontends[frontend].dontlognull {
            return;
        }
        self.log.traffic(frontend, |out, clock| {
            self.with_names(frontend, session.server, None, |fe, be, sv| {
                let connected = session.connect_us.is_some();
                let fields = TcpFields {
                    client: session.client,
                    accepted: received_at(Some(session.accepted), end),
                    frontend: fe,
                    backend: be,
                    server: sv,
                    timers: [
                        if session.server.is_some() { 0 } else { -1 },
                        session.connect_us.map_or(-1, |us| (us / 1000) as i64),
                        (micros(session.accepted, end) / 1000) as i64,
                    ],
                    bytes: session.bytes_out,
                    termination: match (connected, session.timed_out) {
                        (false, _) => *b"SC",
                        (true, Some(side)) => [side.letter(), b'D'],
                        (true, None) => *b"--",
                    },
                    counts: self.log_counts(frontend, session.server, session.retries),
                };
                line::tcp(out, clock, &fields);
            });
        });
    }

    /// HAProxy's line for a client whose TLS handshake failed (`fe/1: SSL handshake
    /// failure`). With `option dontlognull`, one that closed without a word is not logged
    /// (HAProxy's `CO_ER_SSL_EMPTY`); a refused or timed-out handshake still is.
    pub(super) fn log_handshake_failure(
        &self,
        frontend: usize,
        (bind, accepted): (usize, Instant),
        client: SocketAddr,
        failure: crate::tls::Failure,
    ) {
        let silent = failure == crate::tls::Failure::Closed;
        self.log_connection_error(
            frontend,
            (bind, accepted),
            client,
            (failure.log_text(), silent),
        );
    }

    /// HAProxy's connection error line (`fe/1: <reason>`) for a connection that failed before
    /// its first request (TLS handshake, PROXY protocol header); `silent`: it sent nothing, so
    /// `option dontlognull` keeps it out of the log.
    pub(super) fn log_connection_error(
        &self,
        frontend: usize,
        (bind, accepted): (usize, Instant),
        client: SocketAddr,
        (reason, silent): (&str, bool),
    ) {
        if silent && self.frontends[frontend].dontlognull {
            return;
        }
        let state = self.state.borrow();
        let Some(fe) = state.frontends.get(frontend) else {
            return;
        };
        let at = received_at(Some(accepted), Instant::now());
        self.log.traffic(frontend, |out, clock| {
            line::handshake_failure(out, clock, client, at, &fe.name, bind + 1, reason)
        });
    }

    /// The `Connect from` line of a frontend without `option httplog|tcplog`. `local` is
    /// asked only when the line is written: it costs a `getsockname` per connection.
    pub(super) fn log_connect(
        &self,
        frontend: usize,
        client: SocketAddr,
        local: impl FnOnce() -> Option<SocketAddr>,
    ) {
        if self
            .log
            .frontend(frontend)
            .is_none_or(|f| f.format != crate::logs::LineFormat::Connect)
        {
            return;
        }
        let state = self.state.borrow();
        let Some(fe) = state.frontends.get(frontend) else {
            return;
        };
        let http = fe.mode == crate::config::Mode::Http;
        let Some(local) = local() else {
            return;
        };
        self.log.traffic(frontend, |out, _| {
            line::connect(out, client, local, &fe.name, http)
        });
    }

    /// Calls `f` with the frontend, backend and server names of a log line.
    fn with_names(
        &self,
        frontend: usize,
        server: Option<ServerRef>,
        local_service: Option<&'static str>,
        f: impl FnOnce(&str, &str, &str),
    ) {
        let state = self.state.borrow();
        let fe = state
            .frontends
            .get(frontend)
            .map_or("-", |f| f.name.as_str());
        let backend = server.and_then(|s| state.backends.get(s.backend));
        let be = backend.map_or(fe, |b| b.name.as_str());
        let sv = match (server, local_service) {
            (_, Some(service)) => service,
            (Some(s), None) => backend
                .and_then(|b| b.server(s.server))
                .map_or(NO_SERVER, |s| s.name.as_str()),
            (None, None) => NO_SERVER,
        };
        f(fe, be, sv);
    }

    /// The counts when the line is logged, this request included (as HAProxy counts them;
    /// ours already left the backend's and server's counts when it ended).
    fn log_counts(&self, frontend: usize, server: Option<ServerRef>, retries: u32) -> Counts {
        let counters = self.counters.borrow();
        Counts {
            process: counters.curr_conns,
            frontend: counters.frontend(frontend).scur,
            backend: server.map_or(0, |s| counters.backend(s.backend).scur + 1),
            server: server.map_or(0, |s| counters.server(s.backend, s.server).scur + 1),
            retries,
        }
    }
}

/// The wall-clock time of `at`, from an instant measured `end` ago.
fn received_at(at: Option<Instant>, end: Instant) -> Stamp {
    let now = SystemTime::now();
    let ago = at.map_or(std::time::Duration::ZERO, |a| {
        end.saturating_duration_since(a)
    });
    Stamp::from(now.checked_sub(ago).unwrap_or(now))
}
