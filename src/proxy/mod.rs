//! The data plane of one shard: per-connection HTTP/1.1 and TCP forwarding, the idle
//! connection pool, and the [`Worker`] that holds the shard's replica of the state.
//!
//! A request's way through it: `http` (the keep-alive loop: read and parse the head) ─▶
//! `routing` (the frontend's `use_backend` rules, then `default_backend`) ─▶ `http`'s
//! `Exchange` (server pick with `persistence` and the `queue`, `upstream` connection from the
//! `pool`, `retry` rules) ─▶ the response streamed back, counted on the `worker` and logged
//! (`record`); an exchange the server upgrades (101) becomes a `tunnel`. `tcp` is the
//! `mode tcp` relay, `local` the stats page and `/metrics`, `observe`
//! passive health, `buffers` the shard's pooled buffers, `settings` the per-proxy knobs.
//! `proxy_protocol` is the PROXY header codec, `proxy_header` its reading on an `accept-proxy`
//! bind (before TLS and before any request).

mod actions;
mod buffers;
mod client_stream;
mod http;
mod local;
pub mod observe;
mod persistence;
mod pool;
mod proxy_header;
pub mod proxy_protocol;
mod queue;
mod record;
mod retry;
mod routing;
mod server_stream;
mod settings;
mod tcp;
mod tunnel;
mod upstream;
mod worker;

pub use server_stream::ServerStream;
pub use settings::{BackendSettings, FrontendSettings};
pub use upstream::check_connector;
pub use worker::Worker;

use crate::config::Mode;
use client_stream::ClientStream;
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Serves one accepted client connection (of the frontend's `bind`th address) in a task of
/// its own on this shard until it closes; `held` (the connection's places in the connection
/// limits) is dropped with it. On an `accept-proxy` bind the PROXY header comes first, then on
/// a TLS bind the handshake, in a task of their own.
pub fn spawn_connection<H: 'static>(
    worker: Rc<Worker>,
    frontend: usize,
    bind: usize,
    stream: TcpStream,
    held: H,
) {
    // A client of a unix socket (`bind unix@…`) has no IP address: it counts as 0.0.0.0:0.
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    let settings = &worker.frontends[frontend];
    let accept_proxy = settings.accept_proxy.get(bind).copied().unwrap_or(false);
    let tls = settings.tls.get(bind).cloned().flatten();
    if !accept_proxy && tls.is_none() {
        return serve_client(worker, frontend, ClientStream::Plain(stream), peer, held);
    }
    let accepted = Instant::now();
    glommio::spawn_local(async move {
        let mut stream = stream;
        let mut peer = peer;
        if accept_proxy {
            let timeout = worker.frontends[frontend].client_timeout;
            match proxy_header::read(&mut stream, timeout).await {
                Ok(Some(source)) => peer = source,
                Ok(None) => {}
                Err(failure) => {
                    let reason = (failure.log_text(), failure.is_silent());
                    return worker.log_connection_error(frontend, (bind, accepted), peer, reason);
                }
            }
        }
        match tls {
            None => serve_client(worker, frontend, ClientStream::Plain(stream), peer, held),
            Some(config) => match handshake(&worker, frontend, stream, config).await {
                Ok(tls) => serve_client(worker, frontend, tls, peer, held),
                Err(failure) => {
                    worker.log_handshake_failure(frontend, (bind, accepted), peer, failure)
                }
            },
        }
    })
    .detach();
}

/// One task type per mode, each built around state made here: glommio sizes a task by its
/// future, and a future stores what it was given apart from what it awaits, so a value
/// handed down through layers of `async fn` is stored once per layer (an idle HTTP
/// connection's task was 11.3 KB with both modes under one `match`, and the stream stored
/// three times).
fn serve_client<H: 'static>(
    worker: Rc<Worker>,
    frontend: usize,
    stream: ClientStream,
    peer: SocketAddr,
    held: H,
) {
    match worker.frontends[frontend].mode {
        Mode::Http => http::spawn(worker, frontend, stream, peer, held),
        Mode::Tcp => {
            glommio::spawn_local(async move {
                let _held = held;
                let _session = Session::open(&worker, frontend, peer, &stream).await;
                tcp::serve(worker.clone(), frontend, stream, peer).await;
            })
            .detach();
        }
    }
}

/// The TLS handshake of a client of a TLS bind, within `timeout client` as HAProxy bounds it
/// (a client that sends nothing, or too little, costs only its own connection until then).
async fn handshake(
    worker: &Worker,
    frontend: usize,
    stream: TcpStream,
    config: crate::tls::ServerConfig,
) -> Result<ClientStream, crate::tls::Failure> {
    let timeout = worker.frontends[frontend].client_timeout;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let handshake = async {
        let tls = crate::tls::accept(stream, config).await?;
        Ok(ClientStream::Tls(Box::new(tls)))
    };
    let expiry = async {
        glommio::timer::sleep(timeout).await;
        Err(crate::tls::Failure::TimedOut)
    };
    futures_lite::future::or(handshake, expiry).await
}

/// A client connection, counted in the frontend's sessions and the process's `curr_conns`
/// from [`Session::open`] until dropped.
struct Session {
    worker: Rc<Worker>,
    frontend: usize,
}

impl Session {
    /// Waits while the frontend is paused (`disable frontend` holds new connections unserved
    /// until it is enabled again, as HAProxy does), then counts and logs the connection.
    async fn open(
        worker: &Rc<Worker>,
        frontend: usize,
        peer: SocketAddr,
        stream: &ClientStream,
    ) -> Session {
        while !worker.state.borrow().frontends[frontend].enabled {
            glommio::timer::sleep(Duration::from_millis(50)).await;
        }
        worker.with_frontend_counters(frontend, |c| c.session_started());
        worker.counters.borrow_mut().cum_conns += 1;
        worker.counters.borrow_mut().curr_conns += 1;
        worker.log_connect(frontend, peer, || stream.local_addr().ok());
        Session {
            worker: worker.clone(),
            frontend,
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.worker.counters.borrow_mut().curr_conns -= 1;
        self.worker
            .with_frontend_counters(self.frontend, |c| c.session_ended());
    }
}
