//! The data plane of one shard: per-connection HTTP/1.1 and TCP forwarding, the idle
//! connection pool, and the [`Worker`] that holds the shard's replica of the state.

mod buffers;
mod http;
mod local;
pub mod observe;
mod persistence;
mod pool;
mod queue;
mod record;
mod retry;
mod settings;
mod tcp;
mod upstream;
mod worker;

pub use settings::{BackendSettings, FrontendSettings};
pub use worker::Worker;

use crate::config::Mode;
use glommio::net::TcpStream;
use std::rc::Rc;

/// Serves one accepted client connection on this shard until it closes.
pub async fn serve_connection(worker: Rc<Worker>, frontend: usize, stream: TcpStream) {
    // A client of a unix socket (`bind unix@…`) has no IP address: it counts as 0.0.0.0:0.
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = stream.set_nodelay(true);
    worker.with_frontend_counters(frontend, |c| c.session_started());
    worker.counters.borrow_mut().cum_conns += 1;
    worker.counters.borrow_mut().curr_conns += 1;
    worker.log_connect(frontend, peer, || stream.local_addr().ok());
    match worker.frontends[frontend].mode {
        Mode::Http => http::serve(worker.clone(), frontend, stream, peer).await,
        Mode::Tcp => tcp::serve(worker.clone(), frontend, stream, peer).await,
    }
    worker.counters.borrow_mut().curr_conns -= 1;
    worker.with_frontend_counters(frontend, |c| c.session_ended());
}
