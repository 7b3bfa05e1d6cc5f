//! Requests a frontend answers itself (the stats page, `/metrics`): read the small body, hand
//! the request to the shard's [`LocalService`](crate::stats::service::LocalService), write
//! its reply. Not the proxied path: these requests may allocate and may wait for shard 0,
//! which renders them.

use super::client_stream::ClientStream;
use super::worker::Worker;
use crate::http::{Framing, Method, Request};
use crate::stats::service::{ServiceKind, ServiceReply, ServiceRequest, MAX_BODY};
use crate::stats::trace::RequestTrace;
use futures_lite::io::AsyncReadExt;

/// Answers one local-service request. `data` is the client buffer (head first). Returns
/// whether the connection stays open and how many bytes of `data` the request used.
pub(super) async fn answer(
    worker: &Worker,
    frontend: usize,
    stream: &mut ClientStream,
    data: &[u8],
    request: &Request,
    kind: ServiceKind,
    trace: &mut RequestTrace,
) -> (bool, usize) {
    trace.local_service = Some(match kind {
        ServiceKind::StatsPage => "<STATS>",
        ServiceKind::Metrics => "<PROMEX>",
    });
    let head = request.head_len();
    let length = match request.framing() {
        Framing::NoBody => 0,
        Framing::ContentLength(n) if n <= MAX_BODY as u64 => n as usize,
        Framing::ContentLength(_) => return refuse(worker, frontend, stream, trace, 413).await,
        _ => return refuse(worker, frontend, stream, trace, 400).await,
    };
    let buffered = &data[head..];
    let whole = buffered.len() >= length;
    let body = if whole {
        buffered[..length].to_vec()
    } else {
        match read_rest(worker, frontend, stream, buffered, length).await {
            Some(body) => body,
            None => return refuse(worker, frontend, stream, trace, 400).await,
        }
    };
    let service = worker.services.borrow().clone();
    let reply = match service {
        Some(service) => {
            service
                .handle(service_request(stream, data, request, kind, frontend, body))
                .await
        }
        None => ServiceReply::text(503, "The stats service is not running.\n"),
    };
    let keep_open = request.keep_alive() && !worker.stopping.get();
    let bytes = reply.to_http(keep_open, request.method() == Method::Head);
    let _ = stream.write_all(&bytes).await;
    worker.with_frontend_counters(frontend, |c| {
        c.count_status(reply.status);
        c.intercepted += 1;
        c.bout += bytes.len() as u64;
    });
    trace.status = Some(reply.status);
    trace.bytes_out = bytes.len() as u64;
    // A body read past the buffer: the buffer held the head and the body's start, nothing
    // after it, and the socket is now just past the body.
    let consumed = if whole { head + length } else { data.len() };
    (keep_open, consumed)
}

fn service_request(
    stream: &ClientStream,
    data: &[u8],
    request: &Request,
    kind: ServiceKind,
    frontend: usize,
    body: Vec<u8>,
) -> ServiceRequest {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    ServiceRequest {
        kind,
        frontend,
        method: text(request.method_token(data)),
        target: text(request.target(data)),
        authorization: request.header(data, "authorization").map(text),
        body,
        client: stream
            .peer_addr()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip()),
    }
}

/// Reads the part of a body that was not in the first read, within the frontend's
/// `timeout http-request`.
async fn read_rest(
    worker: &Worker,
    frontend: usize,
    stream: &mut ClientStream,
    buffered: &[u8],
    length: usize,
) -> Option<Vec<u8>> {
    let mut body = buffered.to_vec();
    body.resize(length, 0);
    let _ = stream.set_read_timeout(Some(worker.frontends[frontend].http_request_timeout));
    stream.read_exact(&mut body[buffered.len()..]).await.ok()?;
    Some(body)
}

async fn refuse(
    worker: &Worker,
    frontend: usize,
    stream: &mut ClientStream,
    trace: &mut RequestTrace,
    status: u16,
) -> (bool, usize) {
    let why = match status {
        413 => "The request body is too large for the stats page.\n",
        _ => "The request body could not be read.\n",
    };
    let bytes = ServiceReply::text(status, why).to_http(false, false);
    let _ = stream.write_all(&bytes).await;
    worker.with_frontend_counters(frontend, |c| c.count_status(status));
    trace.status = Some(status);
    trace.bytes_out = bytes.len() as u64;
    (false, 0)
}
