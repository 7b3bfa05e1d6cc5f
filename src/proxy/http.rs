//! HTTP/1.1 mode: the keep-alive loop of one client connection.
//!
//! Each request is routed on its own (a switch acts on the very next request, even on a client
//! connection that stays open): read and parse the head, pick a server, take a pooled
//! connection or connect, forward head and body, read the response head, stream the body back,
//! return the server connection to the pool. Bodies are streamed raw through fixed buffers, so
//! memory stays flat whatever their size.
//!
//! Retries: a connect failure is always retried (nothing reached a server); a failure after the
//! request was sent is retried only for GET/HEAD/OPTIONS whose body is fully buffered; a pooled
//! connection the server had closed is replaced by a fresh one without counting a retry.
//!
//! Limits: each direction has one buffer of twice `tune.bufsize` (a full head plus room for
//! body), so a connection never holds more than that whatever its peers do; a reader that
//! stops reading stalls the relay (writes wait) until `timeout client` / `timeout server`
//! ends it. A server at its `maxconn` makes requests queue (see `queue`).

use super::queue;
use super::upstream::{self, Upstream};
use super::worker::Worker;
use crate::http::{
    self, client_keep_alive, errors, parse_request, parse_response, write_request_head,
    write_response_head, BodyTracker, Framing, Limits, Request, RequestForward, Response,
    ResponseForward,
};
use crate::state::ServerRef;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Per-direction buffer: a full head (`tune.bufsize`, 16 KiB by default) plus as much again
/// for body bytes.
fn buffer_len(limits: &Limits) -> usize {
    2 * limits.max_head_len
}

/// A byte buffer with a fill level, read into from a socket.
struct Buffer {
    bytes: Box<[u8]>,
    filled: usize,
}

impl Buffer {
    fn new(len: usize) -> Buffer {
        Buffer {
            bytes: vec![0u8; len].into_boxed_slice(),
            filled: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.filled == self.bytes.len()
    }

    fn data(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }

    /// Drops the first `n` bytes, keeping what follows (a pipelined next message).
    fn consume(&mut self, n: usize) {
        self.bytes.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Reads more bytes from `stream`; `Ok(0)` at EOF or when full.
    async fn fill_from(&mut self, stream: &mut TcpStream) -> std::io::Result<usize> {
        if self.filled == self.bytes.len() {
            return Ok(0);
        }
        let n = stream.read(&mut self.bytes[self.filled..]).await?;
        self.filled += n;
        Ok(n)
    }
}

/// The client side of the connection.
struct Client {
    stream: TcpStream,
    input: Buffer,
    peer: SocketAddr,
    /// Scratch space for serialized heads, reused across requests.
    out: Vec<u8>,
}

/// How reading a request head ended. (The parsed head is large, but it lives on the stack for
/// one request: boxing it would cost an allocation per request.)
#[allow(clippy::large_enum_variant)]
enum HeadRead {
    Ready(Request),
    /// The client closed (or went idle past the keep-alive timeout) between requests.
    Closed,
    /// The client sent part of a head and stopped: 408.
    TimedOut,
    Invalid(http::RequestError),
}

/// Serves one client connection of a `mode http` frontend.
pub async fn serve(worker: Rc<Worker>, frontend: usize, stream: TcpStream, peer: SocketAddr) {
    let settings = &worker.frontends[frontend];
    // A client that stops reading its response must not hold the connection forever.
    let _ = stream.set_write_timeout(Some(settings.client_timeout));
    let mut client = Client {
        stream,
        input: Buffer::new(buffer_len(&settings.limits)),
        peer,
        out: Vec::with_capacity(1024),
    };
    let mut first = true;
    loop {
        let head = read_request_head(&worker, frontend, &mut client, first).await;
        first = false;
        let request = match head {
            HeadRead::Ready(request) => {
                // The body (if any) is read under `timeout client`, not the head's deadline.
                let idle = worker.frontends[frontend].client_timeout;
                let _ = client.stream.set_read_timeout(Some(idle));
                request
            }
            HeadRead::Closed => return,
            HeadRead::TimedOut => {
                return refuse(&worker, frontend, &mut client, errors::page(408)).await
            }
            HeadRead::Invalid(e) => return refuse(&worker, frontend, &mut client, e.page()).await,
        };
        worker.in_flight.set(worker.in_flight.get() + 1);
        let started = Instant::now();
        let keep_open = handle_request(&worker, frontend, &mut client, &request).await;
        worker.in_flight.set(worker.in_flight.get() - 1);
        let elapsed = started.elapsed().as_millis() as u64;
        worker.with_frontend_counters(frontend, |c| c.ttime_sum_ms += elapsed);
        if !keep_open || worker.stopping.get() {
            return;
        }
    }
}

/// Answers an invalid or timed-out request with HAProxy's error page and counts it.
async fn refuse(worker: &Worker, frontend: usize, client: &mut Client, page: &'static [u8]) {
    worker.with_frontend_counters(frontend, |c| {
        c.ereq += 1;
        c.count_status(status_of_page(page));
    });
    let _ = client.stream.write_all(page).await;
}

fn status_of_page(page: &[u8]) -> u16 {
    page.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

/// Reads until a complete request head is buffered. The first request of a connection has
/// `timeout http-request`; later ones wait up to `timeout http-keep-alive` for their first byte.
async fn read_request_head(
    worker: &Worker,
    frontend: usize,
    client: &mut Client,
    first: bool,
) -> HeadRead {
    let settings = &worker.frontends[frontend];
    let limits = settings.limits;
    let idle = if first {
        settings.http_request_timeout
    } else {
        settings.keep_alive_timeout
    };
    let deadline = Instant::now() + settings.http_request_timeout;
    loop {
        if client.input.filled > 0 {
            match parse_request(client.input.data(), &limits) {
                Ok(Some(request)) => return HeadRead::Ready(request),
                Ok(None) => {}
                Err(e) => return HeadRead::Invalid(e),
            }
        }
        let waiting_for_first_byte = client.input.filled == 0;
        let timeout = if waiting_for_first_byte {
            idle
        } else {
            deadline.saturating_duration_since(Instant::now())
        };
        let _ = client
            .stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        match client.input.fill_from(&mut client.stream).await {
            Ok(0) if client.input.is_full() => {
                return HeadRead::Invalid(http::RequestError::HeadTooLarge)
            }
            Ok(0) => return HeadRead::Closed,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut && !waiting_for_first_byte => {
                return HeadRead::TimedOut
            }
            Err(_) => return HeadRead::Closed,
        }
    }
}

/// Where the request body stands before the first attempt.
struct RequestBody {
    tracker: BodyTracker,
    /// Body bytes buffered right after the head.
    buffered_end: usize,
}

/// Serves one request; returns whether the client connection stays open.
async fn handle_request(
    worker: &Worker,
    frontend: usize,
    client: &mut Client,
    request: &Request,
) -> bool {
    worker.counters.borrow_mut().cum_req += 1;
    worker.with_frontend_counters(frontend, |c| c.req_tot += 1);
    let backend = worker.state.borrow().frontends[frontend].default_backend;
    let Some(backend) = backend else {
        return answer_error(worker, frontend, client, 503).await;
    };
    let Ok(body) = buffered_body(client, request) else {
        return answer_error(worker, frontend, client, 400).await;
    };
    if request.expect_continue() && !body.tracker.is_complete() {
        // The client waits for this before it sends the body we are about to stream.
        let _ = client.stream.write_all(errors::CONTINUE).await;
    }
    let outcome = forward_with_retries(worker, frontend, backend, client, request, body).await;
    match outcome {
        Outcome::Done {
            keep_client,
            consumed,
        } => {
            client.input.consume(consumed);
            keep_client
        }
        Outcome::Failed {
            status,
            sent_anything,
        } => {
            if !sent_anything {
                answer_error(worker, frontend, client, status).await;
            }
            false
        }
    }
}

/// How far the body of `request` is already in the client buffer.
fn buffered_body(client: &Client, request: &Request) -> Result<RequestBody, http::BodyError> {
    let mut tracker = BodyTracker::new(request.framing());
    let head = request.head_len();
    let progress = tracker.advance(&client.input.data()[head..])?;
    Ok(RequestBody {
        tracker,
        buffered_end: head + progress.consumed,
    })
}

/// Sends HAProxy's error page for `status` and closes.
async fn answer_error(worker: &Worker, frontend: usize, client: &mut Client, status: u16) -> bool {
    worker.with_frontend_counters(frontend, |c| c.count_status(status));
    let _ = client.stream.write_all(errors::page(status)).await;
    false
}

enum Outcome {
    /// The response was sent; `consumed` request bytes (head + body) leave the client buffer.
    Done { keep_client: bool, consumed: usize },
    /// Nothing usable came back: answer `status` unless part of a response was already sent.
    Failed { status: u16, sent_anything: bool },
}

/// One try at one server.
enum Attempt {
    Done {
        keep_client: bool,
        consumed: usize,
    },
    /// Could not connect: nothing reached the server, always safe to retry.
    ConnectFailed,
    /// The request was sent (maybe partly) and no response byte came back.
    NoResponse {
        timed_out: bool,
        stale_pooled: bool,
        replayable: bool,
    },
    /// The response broke after it started reaching the client, or the client went away.
    Aborted {
        status: u16,
        sent_anything: bool,
    },
}

/// Picks a server and exchanges the request, retrying as the backend's `retries` and
/// `option redispatch` allow.
async fn forward_with_retries(
    worker: &Worker,
    frontend: usize,
    backend: usize,
    client: &mut Client,
    request: &Request,
    body: RequestBody,
) -> Outcome {
    let (retries, redispatch) = {
        let state = worker.state.borrow();
        (
            state.backends[backend].retries,
            state.backends[backend].redispatch,
        )
    };
    let mut avoid = None;
    let mut attempt = 0;
    let mut fresh_only = !request.is_safe_to_retry();
    loop {
        let queue_timeout = worker.backends[backend].queue_timeout;
        let picked = queue::pick(worker, backend, client.peer.ip(), avoid, queue_timeout).await;
        let Some((id, addr)) = picked else {
            log::debug!("no server available in backend {backend}");
            return Outcome::Failed {
                status: 503,
                sent_anything: false,
            };
        };
        let server = ServerRef {
            backend,
            server: id,
        };
        begin_on_server(worker, server);
        let result = exchange(
            worker, frontend, server, addr, client, request, &body, fresh_only,
        )
        .await;
        end_on_server(worker, server);
        let status = match result {
            Attempt::Done {
                keep_client,
                consumed,
            } => {
                return Outcome::Done {
                    keep_client,
                    consumed,
                }
            }
            Attempt::Aborted {
                status,
                sent_anything,
            } => {
                return Outcome::Failed {
                    status,
                    sent_anything,
                }
            }
            Attempt::ConnectFailed => {
                worker.with_server_counters(server, |c| c.econ += 1);
                503
            }
            Attempt::NoResponse {
                stale_pooled: true,
                replayable: true,
                ..
            } => {
                // The server closed an idle pooled connection as we used it: not its fault,
                // not a retry. Go again on a fresh connection to the same server.
                fresh_only = true;
                avoid = None;
                continue;
            }
            Attempt::NoResponse {
                timed_out,
                replayable,
                ..
            } => {
                worker.with_server_counters(server, |c| c.eresp += 1);
                let status = if timed_out { 504 } else { 502 };
                if !replayable {
                    return Outcome::Failed {
                        status,
                        sent_anything: false,
                    };
                }
                status
            }
        };
        if attempt >= retries {
            return Outcome::Failed {
                status,
                sent_anything: false,
            };
        }
        attempt += 1;
        if redispatch {
            avoid = Some(id);
            worker.with_server_counters(server, |c| c.wredis += 1);
        } else {
            worker.with_server_counters(server, |c| c.wretr += 1);
        }
    }
}

/// Counts a request starting on a server; done in the same step as the pick (no await in
/// between) so `del server` never misses a request that chose the server.
fn begin_on_server(worker: &Worker, server: ServerRef) {
    worker.with_server_counters(server, |c| {
        c.lbtot += 1;
        c.session_started();
    });
    worker.with_backend_counters(server.backend, |c| c.session_started());
}

fn end_on_server(worker: &Worker, server: ServerRef) {
    worker.with_server_counters(server, |c| c.session_ended());
    worker.with_backend_counters(server.backend, |c| c.session_ended());
    if let Some(queue) = worker.queue(server.backend) {
        queue.slot_freed();
    }
}

/// Sends the request to one server and streams its response back.
#[allow(clippy::too_many_arguments)]
async fn exchange(
    worker: &Worker,
    frontend: usize,
    server: ServerRef,
    addr: SocketAddr,
    client: &mut Client,
    request: &Request,
    body: &RequestBody,
    fresh_only: bool,
) -> Attempt {
    let settings = &worker.backends[server.backend];
    let connected = if fresh_only {
        upstream::connect(addr, settings.connect_timeout)
            .await
            .map(|stream| {
                worker.with_server_counters(server, |c| c.connect += 1);
                Upstream {
                    stream,
                    reused: false,
                }
            })
    } else {
        upstream::acquire(worker, server, addr, settings.connect_timeout).await
    };
    let Ok(Upstream {
        stream: mut upstream,
        reused,
    }) = connected
    else {
        return Attempt::ConnectFailed;
    };
    let kill_generation = worker.kill_generation(server);
    let _ = upstream.set_read_timeout(Some(settings.server_timeout));
    let _ = upstream.set_write_timeout(Some(settings.server_timeout));
    let mut tracker = body.tracker.clone();
    let buffered_end = body.buffered_end;
    let body_buffered = tracker.is_complete();
    let replayable = request.is_safe_to_retry() && body_buffered;
    let fe = &worker.frontends[frontend];
    let forward = RequestForward {
        x_forwarded_for: (fe.forwardfor || settings.forwardfor).then_some(client.peer.ip()),
        close_server: fe.httpclose || settings.httpclose,
    };
    client.out.clear();
    write_request_head(request, client.input.data(), &mut client.out, &forward);
    client
        .out
        .extend_from_slice(&client.input.data()[request.head_len()..buffered_end]);
    if upstream.write_all(&client.out).await.is_err() {
        return Attempt::NoResponse {
            timed_out: false,
            stale_pooled: reused,
            replayable,
        };
    }
    let mut consumed = buffered_end;
    if !body_buffered {
        match stream_request_body(client, &mut upstream, &mut tracker, buffered_end).await {
            Some(leftover_start) => consumed = leftover_start,
            None => {
                return Attempt::Aborted {
                    status: 400,
                    sent_anything: false,
                }
            }
        }
    }
    worker.with_server_counters(server, |c| c.bin += consumed as u64);
    relay_response(
        worker,
        frontend,
        server,
        addr,
        client,
        request,
        upstream,
        reused,
        replayable,
        consumed,
        kill_generation,
    )
    .await
}

/// Streams the rest of a request body that did not fit in the first read. Returns where the
/// bytes after the body start in the client buffer, or None if the client or server failed.
async fn stream_request_body(
    client: &mut Client,
    upstream: &mut TcpStream,
    tracker: &mut BodyTracker,
    buffered_end: usize,
) -> Option<usize> {
    // Everything up to `buffered_end` was sent with the head.
    client.input.filled = 0;
    let _ = buffered_end;
    loop {
        if client.input.fill_from(&mut client.stream).await.ok()? == 0 {
            return None;
        }
        let progress = tracker.advance(client.input.data()).ok()?;
        upstream
            .write_all(&client.input.data()[..progress.consumed])
            .await
            .ok()?;
        if progress.complete {
            // Keep a pipelined next request that came in the same read.
            return Some(progress.consumed);
        }
        client.input.filled = 0;
    }
}

/// Reads the response head (forwarding 1xx), sends it and the body to the client, and pools the
/// server connection when the exchange ended cleanly.
#[allow(clippy::too_many_arguments)]
async fn relay_response(
    worker: &Worker,
    frontend: usize,
    server: ServerRef,
    addr: SocketAddr,
    client: &mut Client,
    request: &Request,
    mut upstream: TcpStream,
    reused: bool,
    replayable: bool,
    consumed: usize,
    kill_generation: u64,
) -> Attempt {
    let limits = worker.frontends[frontend].limits;
    let mut input = Buffer::new(buffer_len(&limits));
    let is_head = request.method() == http::Method::Head;
    let mut sent_anything = false;
    let response = loop {
        let parsed = match parse_response(input.data(), is_head, &limits) {
            Ok(p) => p,
            Err(_) => {
                worker.with_server_counters(server, |c| c.eresp += 1);
                return Attempt::Aborted {
                    status: 502,
                    sent_anything,
                };
            }
        };
        match parsed {
            Some(response) if response.is_interim() => {
                client.out.clear();
                let forward = ResponseForward {
                    client_keep_alive: true,
                    client_minor_version: request.minor_version(),
                };
                write_response_head(&response, input.data(), &mut client.out, &forward);
                if client.stream.write_all(&client.out).await.is_err() {
                    return Attempt::Aborted {
                        status: 502,
                        sent_anything: true,
                    };
                }
                sent_anything = true;
                input.consume(response.head_len());
            }
            Some(response) => break response,
            None => match input.fill_from(&mut upstream).await {
                Ok(n) if n > 0 => {}
                Ok(_) if input.is_full() => {
                    worker.with_server_counters(server, |c| c.eresp += 1);
                    return Attempt::Aborted {
                        status: 502,
                        sent_anything,
                    };
                }
                result => {
                    let timed_out =
                        matches!(&result, Err(e) if e.kind() == std::io::ErrorKind::TimedOut);
                    if sent_anything || input.filled > 0 {
                        worker.with_server_counters(server, |c| c.eresp += 1);
                        let status = if timed_out { 504 } else { 502 };
                        return Attempt::Aborted {
                            status,
                            sent_anything,
                        };
                    }
                    return Attempt::NoResponse {
                        timed_out,
                        stale_pooled: reused && !timed_out,
                        replayable,
                    };
                }
            },
        }
    };
    send_response(
        worker,
        frontend,
        server,
        addr,
        client,
        request,
        upstream,
        input,
        response,
        consumed,
        kill_generation,
    )
    .await
}

/// Forwards the response head and streams its body; pools the server connection if clean.
#[allow(clippy::too_many_arguments)]
async fn send_response(
    worker: &Worker,
    frontend: usize,
    server: ServerRef,
    addr: SocketAddr,
    client: &mut Client,
    request: &Request,
    mut upstream: TcpStream,
    mut input: Buffer,
    response: Response,
    consumed: usize,
    kill_generation: u64,
) -> Attempt {
    let fe = &worker.frontends[frontend];
    let keep_client = client_keep_alive(request, &response)
        && !fe.httpclose
        && !request.has_conflicting_framing()
        && !worker.stopping.get();
    let status = response.status();
    client.out.clear();
    let forward = ResponseForward {
        client_keep_alive: keep_client,
        client_minor_version: request.minor_version(),
    };
    write_response_head(&response, input.data(), &mut client.out, &forward);
    let mut tracker = BodyTracker::new(response.framing());
    let head_len = response.head_len();
    let Ok(first) = tracker.advance(&input.data()[head_len..]) else {
        return Attempt::Aborted {
            status: 502,
            sent_anything: false,
        };
    };
    client
        .out
        .extend_from_slice(&input.data()[head_len..head_len + first.consumed]);
    let mut sent = client.out.len() as u64;
    let leftover = input.filled - head_len - first.consumed;
    if client.stream.write_all(&client.out).await.is_err() {
        worker.with_server_counters(server, |c| c.cli_abrt += 1);
        return Attempt::Aborted {
            status,
            sent_anything: true,
        };
    }
    count_response(worker, frontend, server, status);
    let mut clean = leftover == 0;
    if !first.complete {
        let close_delimited = response.framing() == Framing::CloseDelimited;
        let streamed = stream_response_body(
            worker,
            server,
            client,
            &mut upstream,
            &mut input,
            &mut tracker,
            (kill_generation, close_delimited),
        )
        .await;
        match streamed {
            Some((bytes, extra)) => {
                sent += bytes;
                clean = !extra;
            }
            None => {
                worker.with_server_counters(server, |c| c.bout += sent);
                return Attempt::Aborted {
                    status,
                    sent_anything: true,
                };
            }
        }
    }
    worker.with_server_counters(server, |c| c.bout += sent);
    worker.with_frontend_counters(frontend, |c| c.bout += sent);
    let reusable = clean
        && tracker.is_complete()
        && response.server_keep_alive()
        && !response.has_conflicting_framing()
        && worker.kill_generation(server) == kill_generation
        && worker
            .state
            .borrow()
            .server(server)
            .is_some_and(|s| s.addr == addr);
    if reusable {
        worker.pool.borrow_mut().put(server, addr, upstream);
    }
    let keep_client =
        keep_client && (tracker.is_complete() || response.framing() == Framing::NoBody);
    Attempt::Done {
        keep_client,
        consumed,
    }
}

fn count_response(worker: &Worker, frontend: usize, server: ServerRef, status: u16) {
    worker.with_server_counters(server, |c| c.count_status(status));
    worker.with_backend_counters(server.backend, |c| c.count_status(status));
    worker.with_frontend_counters(frontend, |c| c.count_status(status));
}

/// Streams the response body after the first read. Returns the bytes sent and whether the
/// server sent bytes past the end of the body (then its connection is not reused), or None if
/// either side failed, the body was cut short, or `shutdown sessions` killed the request.
async fn stream_response_body(
    worker: &Worker,
    server: ServerRef,
    client: &mut Client,
    upstream: &mut TcpStream,
    input: &mut Buffer,
    tracker: &mut BodyTracker,
    (kill_generation, close_delimited): (u64, bool),
) -> Option<(u64, bool)> {
    let mut sent = 0u64;
    loop {
        input.filled = 0;
        let n = input.fill_from(upstream).await.ok()?;
        if worker.kill_generation(server) != kill_generation {
            return None;
        }
        if n == 0 {
            // EOF ends a close-delimited body; any other body was cut short.
            return close_delimited.then_some((sent, false));
        }
        let progress = tracker.advance(input.data()).ok()?;
        client
            .stream
            .write_all(&input.data()[..progress.consumed])
            .await
            .ok()?;
        sent += progress.consumed as u64;
        if progress.complete {
            return Some((sent, progress.consumed < input.filled));
        }
    }
}
