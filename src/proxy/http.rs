//! HTTP/1.1 mode: the keep-alive loop of one client connection.
//!
//! Each request is routed on its own (a switch acts on the very next request, even on a client
//! connection that stays open): read and parse the head, pick a server, take a pooled
//! connection or connect, forward head and body, read the response head, stream the body back,
//! return the server connection to the pool. Bodies are streamed raw through fixed buffers, so
//! memory stays flat whatever their size.
//!
//! Retries (rules in [`retry`]): a connect failure is always retried (nothing reached a server);
//! a failure after the request was sent is retried only for GET/HEAD/OPTIONS whose body is
//! fully buffered, and only for the failures `retry-on` lists; a pooled connection the server
//! had closed is replaced by a fresh one without counting a retry. Persistence cookies are
//! read before the pick and written into the forwarded heads ([`Persistence`]); every
//! exchange's outcome goes to passive health (`observe`).
//!
//! A first request of which nothing arrives within `timeout http-request` gets HAProxy's 408
//! (`option http-ignore-probes`: a silent close); an idle keep-alive connection that times out
//! closes silently, as in HAProxy.
//!
//! Limits: each direction has one buffer of twice `tune.bufsize` (a full head plus room for
//! body), so a connection never holds more than that whatever its peers do; a reader that
//! stops reading stalls the relay (writes wait) until `timeout client` / `timeout server`
//! ends it. A server at its `maxconn` makes requests queue (see `queue`).

use super::actions;
use super::buffers::{buffer_len, Buffer, BufferPool};
use super::client_stream::ClientStream;
use super::observe::Observed;
use super::persistence::Persistence;
use super::queue;
use super::retry::{self, Failure};
use super::routing;
use super::server_stream::ServerStream;
use super::tunnel::{self, EarlyBytes};
use super::upstream::{self, Upstream};
use super::worker::Worker;
use super::Session;
use crate::http::{
    self, client_keep_alive, errors, write_edited_response_head, write_request_head,
    write_response_head, BodyTracker, Framing, Request, RequestForward, Response, ResponseForward,
};
use crate::rules::{ConnectionField, EditedHead, EditedResponse, Reply, ResponseView};
use crate::state::ServerRef;
use crate::stats::trace::{Ending, RequestTrace};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A client connection between requests: all an idle keep-alive connection holds.
struct Connection {
    stream: ClientStream,
    /// Released (no bytes held) while the connection waits for a request.
    input: Buffer,
    peer: SocketAddr,
    buffers: Rc<BufferPool>,
}

/// The client side of the request being served: the connection, plus what only a request
/// needs. Its scratch vectors come from the shard's [`BufferPool`] and go back there when it
/// is dropped, whatever way the request ended.
struct Client<'c> {
    stream: &'c mut ClientStream,
    input: &'c mut Buffer,
    peer: SocketAddr,
    /// Scratch space for serialized heads.
    out: Vec<u8>,
    /// What this request went through, for the latency histograms and the access log.
    trace: RequestTrace,
    buffers: &'c BufferPool,
}

impl<'c> Client<'c> {
    fn new(connection: &'c mut Connection) -> Client<'c> {
        let buffers = &*connection.buffers;
        Client {
            stream: &mut connection.stream,
            input: &mut connection.input,
            peer: connection.peer,
            out: buffers.scratch(),
            trace: RequestTrace {
                request_line: buffers.scratch(),
                ..RequestTrace::default()
            },
            buffers,
        }
    }
}

impl Drop for Client<'_> {
    fn drop(&mut self) {
        self.buffers.give_back(std::mem::take(&mut self.out));
        self.buffers
            .give_back(std::mem::take(&mut self.trace.request_line));
    }
}

/// How reading a request head ended.
enum HeadRead {
    /// Parsed into the request slot.
    Ready,
    /// The client closed in the middle of a head.
    Closed,
    /// The client sent part of a head and stopped: 408.
    TimedOut,
    Invalid(http::RequestError),
}

/// Serves one client connection of a `mode http` frontend in a task of its own.
///
/// Between requests the connection idles in [`wait_for_request`], whose state is the
/// [`Connection`] alone: no buffer (glommio patch 8 waits for bytes without one), no request slot,
/// no scratch vector. Everything a request needs lives in [`serve_request`]'s future, which
/// is boxed: glommio sizes a task by its largest await state, so an inline request would make
/// every idle connection pay for it (one allocation per request buys that; see
/// docs/performance.md).
pub fn spawn<H: 'static>(
    worker: Rc<Worker>,
    frontend: usize,
    stream: ClientStream,
    peer: SocketAddr,
    held: H,
) {
    let settings = &worker.frontends[frontend];
    // A client that stops reading its response must not hold the connection forever.
    let _ = stream.set_write_timeout(Some(settings.client_timeout));
    let buffers = worker.buffers.clone();
    let connection = Connection {
        stream,
        input: buffers.released(buffer_len(&settings.limits)),
        peer,
        buffers,
    };
    glommio::spawn_local(serve(worker, frontend, connection, held)).detach();
}

/// The connection's task. Not an `async fn`: one stores each argument twice (as given, and
/// moved into the body), and here that is the whole `Connection`; the captures of an `async move`
/// block are stored once and used in place.
#[allow(clippy::manual_async_fn)]
fn serve<H>(
    worker: Rc<Worker>,
    frontend: usize,
    mut connection: Connection,
    held: H,
) -> impl Future<Output = ()> {
    async move {
        let _held = &held;
        let _session = Session::open(&worker, frontend, connection.peer, &connection.stream).await;
        // The first request's `timeout http-request` runs from here, later ones' from their
        // first byte.
        let accepted = Instant::now();
        let mut first = true;
        loop {
            match wait_for_request(&worker, frontend, &mut connection, first).await {
                Waited::Request => {}
                Waited::Silence if first => {
                    // Boxed: inline, this rare path's `Client` and write would make every
                    // connection's task 240 bytes larger (528 → 768), idle ones included.
                    Box::pin(refuse_empty_connection(
                        &worker,
                        frontend,
                        &mut connection,
                        accepted,
                    ))
                    .await;
                    return;
                }
                Waited::Silence | Waited::Closed => return,
            }
            let head_deadline = if first { accepted } else { Instant::now() }
                + worker.frontends[frontend].http_request_timeout;
            first = false;
            let keep_open = Box::pin(serve_request(
                &worker,
                frontend,
                &mut connection,
                head_deadline,
            ))
            .await;
            // At soft stop, a connection whose last response promised keep-alive stays open:
            // the client may be sending its next request right now. That request is answered
            // with `Connection: close` (see `keep_client`); an idle one ends at its
            // keep-alive timeout.
            if !keep_open {
                return;
            }
        }
    }
}

/// How waiting for the first bytes of a request ended.
enum Waited {
    /// Bytes arrived (or a pipelined request was already buffered).
    Request,
    /// The client closed (or the connection failed).
    Closed,
    /// Nothing came before the timeout.
    Silence,
}

/// Waits for the first bytes of the next request: up to `timeout http-request` for the
/// connection's first request, `timeout http-keep-alive` for later ones.
async fn wait_for_request(
    worker: &Worker,
    frontend: usize,
    connection: &mut Connection,
    first: bool,
) -> Waited {
    if connection.input.filled > 0 {
        return Waited::Request;
    }
    let settings = &worker.frontends[frontend];
    let idle = if first {
        settings.http_request_timeout
    } else {
        settings.keep_alive_timeout
    };
    connection.input.release_while_empty();
    let _ = connection
        .stream
        .set_read_timeout(Some(idle.max(Duration::from_millis(1))));
    match connection.input.fill_from(&mut connection.stream).await {
        Ok(n) if n > 0 => Waited::Request,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Waited::Silence,
        _ => Waited::Closed,
    }
}

/// A connection that sent nothing before `timeout http-request`: HAProxy's 408, counted and
/// logged like a head that came too slowly (`<BADREQ>`, `cR--`, its timers from the accept),
/// unless `option http-ignore-probes` (a browser's pre-connect, closed without a word). An
/// idle keep-alive connection that times out is closed silently by the caller instead.
async fn refuse_empty_connection(
    worker: &Worker,
    frontend: usize,
    connection: &mut Connection,
    accepted: Instant,
) {
    if worker.frontends[frontend].ignore_probes {
        return;
    }
    let mut client = Client::new(connection);
    client.trace.first_byte = Some(accepted);
    refuse(worker, frontend, &mut client, errors::page(408)).await;
}

/// Reads the rest of one request's head, serves the request and logs it; returns whether the
/// client connection stays open. Takes a request slot and the scratch vectors from the pool
/// and gives them back at the end.
async fn serve_request(
    worker: &Worker,
    frontend: usize,
    connection: &mut Connection,
    head_deadline: Instant,
) -> bool {
    let mut client = Client::new(connection);
    let client = &mut client;
    let mut request = client.buffers.request_slot();
    let keep_open =
        match read_request_head(worker, frontend, client, head_deadline, &mut request).await {
            HeadRead::Ready => serve_parsed(worker, frontend, client, &request).await,
            HeadRead::Closed => false,
            HeadRead::TimedOut => {
                refuse(worker, frontend, client, errors::page(408)).await;
                false
            }
            HeadRead::Invalid(e) => {
                refuse(worker, frontend, client, e.page()).await;
                false
            }
        };
    client.buffers.give_back_request_slot(request);
    keep_open
}

/// Serves a request whose head is parsed, counts its time and logs it.
async fn serve_parsed(
    worker: &Worker,
    frontend: usize,
    client: &mut Client<'_>,
    request: &Request,
) -> bool {
    // The body (if any) is read under `timeout client`, not the head's deadline.
    let _ = client
        .stream
        .set_read_timeout(Some(worker.frontends[frontend].client_timeout));
    worker.in_flight.set(worker.in_flight.get() + 1);
    let started = Instant::now();
    let data = client.input.data();
    let (method, target) = (request.method_token(data), request.target(data));
    client
        .trace
        .head_received(method, target, request.minor_version());
    let keep_open = handle_request(worker, frontend, client, request).await;
    worker.in_flight.set(worker.in_flight.get() - 1);
    let elapsed = started.elapsed().as_millis() as u64;
    worker.with_frontend_counters(frontend, |c| c.ttime_sum_ms += elapsed);
    let tls = client.stream.tls().is_some();
    worker.finish_http(frontend, (client.peer, tls), &client.trace);
    keep_open
}

/// Answers an invalid or timed-out request with HAProxy's error page, counts it and logs it,
/// unless the client sent nothing and the frontend has `option dontlognull` (HAProxy's
/// `h1_handle_req_tout`: it logs when its input buffer holds data or the frontend lacks
/// PR_O_NULLNOLOG). The log line has the status and 0 bytes, as HAProxy's.
async fn refuse(worker: &Worker, frontend: usize, client: &mut Client<'_>, page: &'static [u8]) {
    let status = status_of_page(page);
    worker.with_frontend_counters(frontend, |c| {
        c.ereq += 1;
        c.count_status(status);
    });
    let _ = client.stream.write_all(page).await;
    client.trace.ending = Ending::BadRequest(status);
    client.trace.status = Some(status);
    if client.input.filled > 0 || !worker.frontends[frontend].dontlognull {
        let tls = client.stream.tls().is_some();
        worker.finish_http(frontend, (client.peer, tls), &client.trace);
    }
}

fn status_of_page(page: &[u8]) -> u16 {
    page.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

/// Reads until a complete request head is buffered (some of it already is), up to
/// `deadline` (`timeout http-request`).
async fn read_request_head(
    worker: &Worker,
    frontend: usize,
    client: &mut Client<'_>,
    deadline: Instant,
    request: &mut Request,
) -> HeadRead {
    let limits = worker.frontends[frontend].limits;
    loop {
        client.trace.saw_bytes();
        match request.parse_into(client.input.data(), &limits) {
            Ok(true) => return HeadRead::Ready,
            Ok(false) => {}
            Err(e) => return HeadRead::Invalid(e),
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        let _ = client
            .stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        match client.input.fill_from(client.stream).await {
            Ok(0) if client.input.is_full() => {
                return HeadRead::Invalid(http::RequestError::HeadTooLarge)
            }
            Ok(0) => return HeadRead::Closed,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return HeadRead::TimedOut,
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
    client: &mut Client<'_>,
    request: &Request,
) -> bool {
    worker.counters.borrow_mut().cum_req += 1;
    worker.with_frontend_counters(frontend, |c| c.req_tot += 1);
    let mut edited = None;
    if let Some(keep_open) = answer_by_rules(worker, frontend, client, request, &mut edited).await {
        return keep_open;
    }
    if let Some(kind) = worker
        .routes
        .route(frontend, request.target(client.input.data()))
    {
        let (stream, data, trace) = (&mut client.stream, client.input.data(), &mut client.trace);
        let (keep_open, consumed) =
            super::local::answer(worker, frontend, stream, data, request, kind, trace).await;
        client.input.consume(consumed);
        return keep_open;
    }
    let Some(edited) = edited else {
        return forward(worker, frontend, client, request, None).await;
    };
    // The rewritten head goes through the codec like a received one, so that it is forwarded
    // by the same rules (hop-by-hop fields, framing).
    let buffers = client.buffers;
    let mut head = buffers.scratch();
    edited.write_head(&mut head);
    let mut slot = buffers.request_slot();
    let keep_open = match slot.parse_into(&head, &worker.frontends[frontend].limits) {
        Ok(true) => forward(worker, frontend, client, request, Some((&slot, &head))).await,
        // A rewrite made the head invalid: HAProxy answers 500 when a rule fails.
        _ => answer_error(worker, (frontend, None), client, 500).await,
    };
    buffers.give_back(head);
    buffers.give_back_request_slot(slot);
    keep_open
}

/// Routes and forwards a request; `forwarded` is its rewritten head, if rules rewrote it.
async fn forward(
    worker: &Worker,
    frontend: usize,
    client: &mut Client<'_>,
    request: &Request,
    forwarded: Option<(&Request, &[u8])>,
) -> bool {
    let (routed, data) = forwarded.unwrap_or((request, client.input.data()));
    let backend = routing::choose_backend(
        worker,
        frontend,
        routed,
        data,
        (client.peer, &*client.stream),
    );
    let Some(backend) = backend else {
        return answer_error(worker, (frontend, None), client, 503).await;
    };
    worker.count_request_on_backend(backend);
    let keep_open = forward_to_backend(worker, frontend, client, request, forwarded, backend).await;
    worker.count_request_left_backend(backend);
    keep_open
}

/// Forwards a request routed to `backend`, answering the client when every attempt failed.
async fn forward_to_backend(
    worker: &Worker,
    frontend: usize,
    client: &mut Client<'_>,
    request: &Request,
    forwarded: Option<(&Request, &[u8])>,
    backend: usize,
) -> bool {
    let Ok(body) = buffered_body(client, request) else {
        worker.with_backend_counters(backend, |c| c.count_status(400));
        return answer_error(worker, (frontend, Some(backend)), client, 400).await;
    };
    if request.expect_continue() && !body.tracker.is_complete() {
        // The client waits for this before it sends the body we are about to stream.
        let _ = client.stream.write_all(errors::CONTINUE).await;
    }
    let mut exchange = Exchange {
        worker,
        frontend,
        client,
        request,
        forwarded,
    };
    let outcome = exchange.forward_with_retries(backend, body).await;
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
            client.trace.ending = Ending::Failed(status);
            if !sent_anything {
                worker.with_backend_counters(backend, |c| c.count_status(status));
                answer_error(worker, (frontend, Some(backend)), client, status).await;
            }
            false
        }
    }
}

/// Applies the frontend's `http-request` and `redirect` rules: when one answers, sends its
/// reply and returns whether the connection stays open. As in HAProxy, it stays open when the
/// client wants it and its request body is already read in full (the body is dropped).
async fn answer_by_rules(
    worker: &Worker,
    frontend: usize,
    client: &mut Client<'_>,
    request: &Request,
    edited: &mut Option<EditedHead>,
) -> Option<bool> {
    if worker.frontends[frontend].http_rules.is_empty() {
        return None;
    }
    let body = buffered_body(client, request).ok();
    let body_end = body
        .as_ref()
        .filter(|b| b.tracker.is_complete())
        .map(|b| b.buffered_end);
    let keep = body_end.is_some()
        && request.keep_alive()
        && !request.has_conflicting_framing()
        && !worker.frontends[frontend].httpclose
        && !worker.stopping.get();
    let connection = if keep {
        ConnectionField::KeepAlive {
            http10: request.minor_version() == 0,
        }
    } else {
        ConnectionField::Close
    };
    client.out.clear();
    let answered = actions::apply_rules(
        worker,
        frontend,
        (request, client.input.data()),
        (client.peer, &*client.stream),
        (connection, edited),
        &mut client.out,
    )?;
    let status = answered.status;
    worker.with_frontend_counters(frontend, |c| {
        c.count_status(status);
        if answered.denied {
            c.dreq += 1;
        } else {
            c.intercepted += 1;
        }
    });
    client.trace.status = Some(status);
    client.trace.bytes_out = client.out.len() as u64;
    let written = client.stream.write_all(&client.out).await.is_ok();
    if let (Some(end), true) = (body_end, keep) {
        client.input.consume(end);
    }
    Some(keep && answered.keeps_connection && written)
}

/// How far the body of `request` is already in the client buffer.
fn buffered_body(client: &Client<'_>, request: &Request) -> Result<RequestBody, http::BodyError> {
    let mut tracker = BodyTracker::new(request.framing());
    let head = request.head_len();
    let progress = tracker.advance(&client.input.data()[head..])?;
    Ok(RequestBody {
        tracker,
        buffered_end: head + progress.consumed,
    })
}

/// Sends HAProxy's error page for `status` and closes.
async fn answer_error(
    worker: &Worker,
    (frontend, backend): (usize, Option<usize>),
    client: &mut Client<'_>,
    status: u16,
) -> bool {
    worker.with_frontend_counters(frontend, |c| c.count_status(status));
    let error_file = backend
        .and_then(|b| worker.backends[b].error_files.get(status))
        .or_else(|| worker.frontends[frontend].error_files.get(status));
    let mut written = Vec::new();
    let page = match error_file {
        Some(reply) => {
            reply.write(&mut written, ConnectionField::Close, false);
            &written[..]
        }
        None => errors::page(status),
    };
    client.trace.status = Some(status);
    client.trace.bytes_out = page.len() as u64;
    let _ = client.stream.write_all(page).await;
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
    /// Failed before any response byte reached the client: [`retry::may_retry`] decides.
    /// `stale_pooled`: it was a pooled connection the server had closed meanwhile.
    Failed {
        failure: Failure,
        stale_pooled: bool,
    },
    /// The response broke after it started reaching the client, or the client went away.
    Aborted {
        status: u16,
        sent_anything: bool,
    },
}

/// Where one attempt goes and how it may end.
struct Target<'p> {
    server: ServerRef,
    addr: SocketAddr,
    /// Connect afresh: the request could not be replayed if a pooled connection were stale.
    fresh_only: bool,
    /// A response whose status `retry-on` lists is not forwarded: the attempt fails instead
    /// (only while another attempt may follow).
    retry_statuses: bool,
    /// The backend's cookie persistence, read from this request.
    persistence: Option<&'p Persistence<'p>>,
}

/// One request on its way to a server: the shard, the frontend, the client and the parsed
/// request that every step of forwarding it reads, carried as one value so that each step's
/// parameters are only what is its own (the backend, the body, the target, the upstream).
struct Exchange<'e, 'c> {
    worker: &'e Worker,
    frontend: usize,
    client: &'e mut Client<'c>,
    request: &'e Request,
    /// The head `http-request` rules rewrote, and its buffer; None: the request's own.
    forwarded: Option<(&'e Request, &'e [u8])>,
}

impl Exchange<'_, '_> {
    /// Picks a server and exchanges the request, retrying as the backend's `retries`,
    /// `retry-on` and `option redispatch` allow (rules in [`retry`]).
    async fn forward_with_retries(&mut self, backend: usize, body: RequestBody) -> Outcome {
        let (worker, request) = (self.worker, self.request);
        let (retries, redispatch) = {
            let state = worker.state.borrow();
            (
                state.backends[backend].retries,
                state.backends[backend].redispatch,
            )
        };
        let settings = &worker.backends[backend];
        let persistence = settings
            .cookie
            .as_ref()
            .map(|c| Persistence::of_request(c, request, self.client.input.data()));
        let replayable = request.is_safe_to_retry() && body.tracker.is_complete();
        let mut avoid = None;
        let mut attempt = 0;
        let mut fresh_only = !replayable;
        // Whether the balancer's choice is new (`lbtot`): the first attempt and a redispatch,
        // not a retry on the same terms, as HAProxy counts picks.
        let mut new_pick = true;
        loop {
            let chosen =
                choose_server(worker, backend, self.client, persistence.as_ref(), avoid).await;
            let Some((id, addr)) = chosen else {
                log::debug!("no server available in backend {backend}");
                // HAProxy counts a request no server could take as a connection error.
                worker.with_backend_counters(backend, |c| c.econ += 1);
                return Outcome::Failed {
                    status: 503,
                    sent_anything: false,
                };
            };
            let target = Target {
                server: ServerRef {
                    backend,
                    server: id,
                },
                addr,
                fresh_only,
                retry_statuses: attempt < retries && replayable && settings.retry_on.statuses != 0,
                persistence: persistence.as_ref(),
            };
            begin_on_server(worker, target.server, new_pick);
            new_pick = false;
            self.client.trace.attempt_on(target.server);
            let result = self.attempt(&body, &target).await;
            end_on_server(worker, target.server);
            let failure = match result {
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
                Attempt::Failed {
                    stale_pooled: true, ..
                } if replayable => {
                    // The server closed an idle pooled connection as we used it: not its fault,
                    // not a retry. Go again on a fresh connection.
                    fresh_only = true;
                    avoid = None;
                    continue;
                }
                Attempt::Failed { failure, .. } => failure,
            };
            observe_failure(worker, target.server, failure);
            if attempt >= retries || !retry::may_retry(&settings.retry_on, failure, replayable) {
                count_final_failure(worker, target.server, failure);
                return Outcome::Failed {
                    status: failure.status(),
                    sent_anything: false,
                };
            }
            attempt += 1;
            self.client.trace.retries = attempt;
            if redispatch {
                avoid = Some(id);
                new_pick = true;
                worker.count_redispatch(target.server);
            } else {
                worker.count_retry(target.server);
            }
        }
    }
}

/// The server for the next attempt: the one the persistence cookie names while it takes
/// persistent traffic (after a failure with redispatch, another one with the same cookie),
/// else the balancer's pick.
async fn choose_server(
    worker: &Worker,
    backend: usize,
    client: &Client<'_>,
    persistence: Option<&Persistence<'_>>,
    avoid: Option<u32>,
) -> Option<(u32, SocketAddr)> {
    if let Some(p) = persistence {
        let state = worker.state.borrow();
        let b = state.backends.get(backend)?;
        if let Some(pos) = p.server(b, avoid) {
            let s = &b.servers[pos];
            return Some((s.id, s.addr));
        }
    }
    // No persistence: balance, queueing while every eligible server is at its maxconn.
    let queue_timeout = worker.backends[backend].queue_timeout;
    queue::pick(worker, backend, client.peer.ip(), avoid, queue_timeout).await
}

/// Tells passive health about a failed attempt (every attempt, retried or not).
fn observe_failure(worker: &Worker, server: ServerRef, failure: Failure) {
    let observed = match failure {
        Failure::ConnectFailed => Observed::ConnectFailed,
        Failure::Status(status) => Observed::of_status(status),
        Failure::ResponseTimeout => Observed::Timeout,
        Failure::JunkResponse => Observed::ServerError,
        _ => Observed::EmptyResponse,
    };
    worker.observe(server, observed);
}

/// Counts the failure that ends a request's attempts on its server and backend (`econ`,
/// `eresp`). As HAProxy counts them, a failed attempt that is retried counts only as a
/// retry or a redispatch.
fn count_final_failure(worker: &Worker, server: ServerRef, failure: Failure) {
    match failure {
        Failure::ConnectFailed => worker.count_connect_error(server),
        Failure::Status(_) => {}
        _ => worker.count_response_error(server),
    }
}

/// Counts a request starting on a server; done in the same step as the pick (no await in
/// between) so `del server` never misses a request that chose the server.
fn begin_on_server(worker: &Worker, server: ServerRef, new_pick: bool) {
    worker.count_attempt_started(server, new_pick);
}

fn end_on_server(worker: &Worker, server: ServerRef) {
    worker.count_attempt_ended(server);
    if let Some(queue) = worker.queue(server.backend) {
        queue.slot_freed();
    }
}

impl<'e> Exchange<'e, '_> {
    /// Sends the request to one server and streams its response back.
    async fn attempt(&mut self, body: &RequestBody, target: &Target<'_>) -> Attempt {
        let (worker, frontend, request) = (self.worker, self.frontend, self.request);
        let (server, addr) = (target.server, target.addr);
        let settings = &worker.backends[server.backend];
        let tls = self.tls_target(server);
        let connecting = Instant::now();
        let connected = if target.fresh_only {
            upstream::connect(addr, settings.connect_timeout, tls.as_ref())
                .await
                .map(|stream| {
                    worker.with_server_counters(server, |c| c.connect += 1);
                    Upstream {
                        stream,
                        reused: false,
                    }
                })
        } else {
            upstream::acquire(worker, server, addr, settings.connect_timeout, tls.as_ref()).await
        };
        let client = &mut *self.client;
        let Ok(Upstream {
            stream: mut upstream,
            reused,
        }) = connected
        else {
            return Attempt::Failed {
                failure: Failure::ConnectFailed,
                stale_pooled: false,
            };
        };
        client.trace.connected(connecting, reused);
        let kill_generation = worker.kill_generation(server);
        let _ = upstream.set_read_timeout(Some(settings.server_timeout));
        let _ = upstream.set_write_timeout(Some(settings.server_timeout));
        let mut tracker = body.tracker.clone();
        let buffered_end = body.buffered_end;
        let body_buffered = tracker.is_complete();
        let fe = &worker.frontends[frontend];
        let forward = RequestForward {
            x_forwarded_for: (fe.forwardfor || settings.forwardfor).then_some(client.peer.ip()),
            close_server: fe.httpclose || settings.httpclose,
        };
        client.out.clear();
        let plain = matches!(upstream, ServerStream::Plain(_));
        if let (Some(version), false, true) = (upstream::sends_proxy(worker, server), reused, plain)
        {
            let local = client.stream.local_addr().ok();
            upstream::push_proxy_header(version, client.peer, local, &mut client.out);
        }
        let (head, buf) = self.forwarded.unwrap_or((request, client.input.data()));
        write_request_head(head, buf, &mut client.out, &forward);
        if let Some(p) = target.persistence {
            p.edit_request(&mut client.out);
        }
        client
            .out
            .extend_from_slice(&client.input.data()[request.head_len()..buffered_end]);
        if upstream.write_all(&client.out).await.is_err() {
            return Attempt::Failed {
                failure: Failure::EmptyResponse,
                stale_pooled: reused,
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
        worker.count_bytes(frontend, server, consumed as u64, 0);
        self.relay_response(target, upstream, (reused, consumed, kill_generation))
            .await
    }

    /// How a new connection to `server` starts if it is a TLS server: the name its `sni`
    /// expression gives for this request (as forwarded), and the PROXY header of
    /// `send-proxy`, which goes before the handshake.
    fn tls_target(&self, server: ServerRef) -> Option<upstream::TlsTarget> {
        let worker = self.worker;
        let connector = upstream::connector(worker, server)?;
        let client = &*self.client;
        let sni = connector.has_sni().then(|| {
            let (request, buf) = self
                .forwarded
                .unwrap_or((self.request, client.input.data()));
            let state = worker.state.borrow();
            let view = routing::HeadView {
                request,
                buf,
                peer: client.peer,
                stream: client.stream,
                maps: &state.maps,
                facts: routing::ShardFacts::new(worker, &state),
            };
            connector.sni_of(&view)
        });
        let mut proxy_header = Vec::new();
        if let Some(version) = upstream::sends_proxy(worker, server) {
            let local = client.stream.local_addr().ok();
            upstream::push_proxy_header(version, client.peer, local, &mut proxy_header);
        }
        Some(upstream::TlsTarget {
            connector,
            sni: sni.flatten(),
            proxy_header,
        })
    }

    /// Reads the response head (forwarding 1xx), sends it and the body to the client, and pools the
    /// server connection when the exchange ended cleanly. `(reused, consumed, kill_generation)`:
    /// whether the connection came from the pool, the request bytes to drop from the client buffer
    /// once answered, and the `shutdown sessions` generation the request started under.
    async fn relay_response(
        &mut self,
        target: &Target<'_>,
        mut upstream: ServerStream,
        (reused, consumed, kill_generation): (bool, usize, u64),
    ) -> Attempt {
        let (worker, frontend, request) = (self.worker, self.frontend, self.request);
        let server = target.server;
        let limits = worker.frontends[frontend].limits;
        // From the shard's free list (no allocation per request), and only once response bytes
        // are there: a request waiting for its server holds no response buffer, so a burst of
        // thousands of requests in flight does not take (and leave in the heap) a buffer each.
        let mut input = worker.buffers.released(buffer_len(&limits));
        let is_head = request.method() == http::Method::Head;
        let mut sent_anything = false;
        // Nothing reached the client yet: the attempt may still be retried.
        let failed = |failure: Failure, sent_anything: bool| {
            if sent_anything {
                worker.with_server_counters(server, |c| c.eresp += 1);
                Attempt::Aborted {
                    status: failure.status(),
                    sent_anything,
                }
            } else {
                Attempt::Failed {
                    failure,
                    stale_pooled: false,
                }
            }
        };
        // Every head of the exchange (1xx ones included) is parsed into this one slot.
        let mut response = Response::answering(request);
        loop {
            let Ok(parsed) = response.parse_into(input.data(), is_head, &limits) else {
                return failed(Failure::JunkResponse, sent_anything);
            };
            match parsed {
                true if response.is_interim() => {
                    let client = &mut *self.client;
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
                true => {
                    self.client.trace.response_started(response.status());
                    break;
                }
                false => match input.fill_from(&mut upstream).await {
                    Ok(n) if n > 0 => {}
                    Ok(_) if input.is_full() => {
                        return failed(Failure::JunkResponse, sent_anything);
                    }
                    result => {
                        let timed_out =
                            matches!(&result, Err(e) if e.kind() == std::io::ErrorKind::TimedOut);
                        // `shutdown sessions server` closed this connection under us: HAProxy's
                        // 502, never a retry on another server.
                        if worker.kill_generation(server) != kill_generation {
                            return Attempt::Aborted {
                                status: 502,
                                sent_anything,
                            };
                        }
                        if sent_anything || input.filled > 0 {
                            let failure = if timed_out {
                                Failure::ResponseTimeout
                            } else {
                                Failure::JunkResponse
                            };
                            return failed(failure, sent_anything);
                        }
                        return Attempt::Failed {
                            failure: if timed_out {
                                Failure::ResponseTimeout
                            } else {
                                Failure::EmptyResponse
                            },
                            stale_pooled: reused && !timed_out,
                        };
                    }
                },
            }
        }
        if response.is_switching() {
            return self
                .switch_protocols(server, upstream, (input, consumed), &response)
                .await;
        }
        if target.retry_statuses
            && !sent_anything
            && worker.backends[server.backend]
                .retry_on
                .status(response.status())
        {
            // Dropped unread: the connection closes with it and the request goes again.
            return Attempt::Failed {
                failure: Failure::Status(response.status()),
                stale_pooled: false,
            };
        }
        self.send_response(
            target,
            upstream,
            input,
            &response,
            (consumed, kill_generation),
        )
        .await
    }

    /// Forwards the server's 101 to an upgrade request, then relays the connection as a
    /// [`tunnel`] until both sides closed: the client connection leaves the keep-alive loop
    /// and the server connection is never pooled. The bytes after the request (the client's
    /// first frames) and after the 101 (the server's) go through first.
    async fn switch_protocols(
        &mut self,
        server: ServerRef,
        mut upstream: ServerStream,
        (input, consumed): (Buffer, usize),
        response: &Response,
    ) -> Attempt {
        let (worker, frontend) = (self.worker, self.frontend);
        worker.count_server_response(server, 101);
        let client = &mut *self.client;
        client.out.clear();
        let forward = ResponseForward {
            client_keep_alive: false,
            client_minor_version: 1,
        };
        write_response_head(response, input.data(), &mut client.out, &forward);
        if client.stream.write_all(&client.out).await.is_err() {
            client.trace.client_aborted = true;
            return Attempt::Aborted {
                status: 101,
                sent_anything: true,
            };
        }
        worker.count_reply(frontend, Some(server.backend), 101);
        worker.observe(server, Observed::of_status(101));
        let head_len = client.out.len() as u64;
        let idle = tunnel::idle_timeout(worker, frontend, server.backend);
        let buffer_len = buffer_len(&worker.frontends[frontend].limits);
        let early = EarlyBytes {
            from_client: &client.input.data()[consumed..],
            from_server: &input.data()[response.head_len()..],
        };
        let streams = (&mut *client.stream, &mut upstream);
        let relayed = tunnel::relay(worker, streams, early, (idle, buffer_len)).await;
        let bytes_out = head_len + relayed.to_client;
        worker.count_bytes(frontend, server, relayed.from_client, bytes_out);
        client.trace.bytes_out = bytes_out;
        Attempt::Done {
            keep_client: false,
            consumed: client.input.filled,
        }
    }

    /// Runs the frontend's `http-response` rules on `response` (in `buf`), reading the request
    /// as it was forwarded; see [`actions::apply_response_rules`].
    fn response_rules(
        &self,
        response: &Response,
        buf: &[u8],
        edited: &mut Option<EditedResponse>,
    ) -> Option<&'e Reply> {
        let client = &*self.client;
        let request = self
            .forwarded
            .unwrap_or((self.request, client.input.data()));
        actions::apply_response_rules(
            self.worker,
            self.frontend,
            request,
            (client.peer, client.stream),
            (response, buf),
            edited,
        )
    }

    /// Forwards the response head and streams its body; pools the server connection if clean.
    async fn send_response(
        &mut self,
        target: &Target<'_>,
        mut upstream: ServerStream,
        mut input: Buffer,
        response: &Response,
        (consumed, kill_generation): (usize, u64),
    ) -> Attempt {
        let (worker, frontend, request) = (self.worker, self.frontend, self.request);
        worker.count_server_response(target.server, response.status());
        let mut edited = None;
        let denied = self.response_rules(response, input.data(), &mut edited);
        let client = &mut *self.client;
        let (server, addr) = (target.server, target.addr);
        let fe = &worker.frontends[frontend];
        let keep_client = client_keep_alive(request, response)
            && !fe.httpclose
            && !request.has_conflicting_framing()
            && !worker.stopping.get();
        if let Some(reply) = denied {
            let keep_client =
                (keep_client && reply.keeps_connection()).then_some(request.minor_version() == 0);
            return deny_response(
                (worker, frontend, server),
                client,
                request,
                reply,
                keep_client,
                consumed,
            )
            .await;
        }
        let status = response.status();
        client.out.clear();
        let forward = ResponseForward {
            client_keep_alive: keep_client,
            client_minor_version: request.minor_version(),
        };
        match &edited {
            None => write_response_head(response, input.data(), &mut client.out, &forward),
            Some(head) => {
                client.trace.status = Some(head.status);
                write_edited_response_head(
                    response.minor_version(),
                    (head.status, &head.reason),
                    head.fields(),
                    &mut client.out,
                    &forward,
                );
            }
        }
        if let Some(p) = target.persistence {
            let state = worker.state.borrow();
            let cookie = state.server(server).and_then(|s| s.cookie.as_deref());
            p.edit_response(&mut client.out, cookie);
        }
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
            client.trace.client_aborted = true;
            worker.with_server_counters(server, |c| c.cli_abrt += 1);
            return Attempt::Aborted {
                status,
                sent_anything: true,
            };
        }
        worker.count_reply(frontend, Some(server.backend), status);
        worker.observe(server, Observed::of_status(status));
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
                    worker.count_bytes(frontend, server, 0, sent);
                    client.trace.bytes_out = sent;
                    return Attempt::Aborted {
                        status,
                        sent_anything: true,
                    };
                }
            }
        }
        worker.count_bytes(frontend, server, 0, sent);
        client.trace.bytes_out = sent;
        let reusable = clean
            && upstream::sends_proxy(worker, server).is_none()
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
}

/// Sends the reply of an `http-response deny` in place of the server's response, which is
/// dropped unread with its connection (never pooled: its body is still coming). The client
/// connection stays open as the response's would have (`keep_client`: Some(whether the
/// client speaks HTTP/1.0)), as HAProxy keeps it.
async fn deny_response(
    (worker, frontend, server): (&Worker, usize, ServerRef),
    client: &mut Client<'_>,
    request: &Request,
    reply: &Reply,
    keep_client: Option<bool>,
    consumed: usize,
) -> Attempt {
    let status = reply.status();
    let connection = match keep_client {
        Some(http10) => ConnectionField::KeepAlive { http10 },
        None => ConnectionField::Close,
    };
    client.out.clear();
    reply.write(
        &mut client.out,
        connection,
        request.method() == http::Method::Head,
    );
    worker.count_reply(frontend, Some(server.backend), status);
    // `dresp` on the three rows, as HAProxy counts a denied response.
    worker.count_on_server_and_backend(server, |c| c.dresp += 1);
    worker.with_frontend_counters(frontend, |c| c.dresp += 1);
    client.trace.status = Some(status);
    client.trace.bytes_out = client.out.len() as u64;
    if client.stream.write_all(&client.out).await.is_err() {
        client.trace.client_aborted = true;
    }
    Attempt::Done {
        keep_client: keep_client.is_some(),
        consumed,
    }
}

/// Streams the rest of a request body that did not fit in the first read. Returns where the
/// bytes after the body start in the client buffer, or None if the client or server failed.
async fn stream_request_body(
    client: &mut Client<'_>,
    upstream: &mut ServerStream,
    tracker: &mut BodyTracker,
    buffered_end: usize,
) -> Option<usize> {
    // Everything up to `buffered_end` was sent with the head.
    client.input.filled = 0;
    let _ = buffered_end;
    loop {
        if client.input.fill_from(client.stream).await.ok()? == 0 {
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

/// Streams the response body after the first read. Returns the bytes sent and whether the
/// server sent bytes past the end of the body (then its connection is not reused), or None if
/// either side failed, the body was cut short, or `shutdown sessions` killed the request.
async fn stream_response_body(
    worker: &Worker,
    server: ServerRef,
    client: &mut Client<'_>,
    upstream: &mut ServerStream,
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
