//! The stats page and `/metrics` on every shard. A request for them is served by the shard
//! that accepted it, like any request, but rendered on shard 0, which has the coordinator:
//! the state admin commands are validated against, the counters and histograms summed over
//! every shard, and the one path for mutations. Shard k sends the request over its own channel
//! mesh (two meshes, one per direction, as the design notes require) and waits for the reply;
//! shard 0 calls the renderer directly. Admin buttons become runtime API command lines, planned
//! and applied exactly as if they came from the admin socket.

use super::coordinator::Coordinator;
use super::mesh::{self, Receivers, Senders};
use crate::admin::command::plan;
use crate::admin::format::{self, Context};
use crate::admin::{Action, AdminBackend};
use crate::config::{Config, Level, StatsPage};
use crate::logs::flush_loop;
use crate::logs::writer::{Batch, LogWriter};
use crate::proxy::Worker;
use crate::stats::html::{self, PageContext};
use crate::stats::prometheus::{self, ProcessValues};
use crate::stats::rows::{self, Selection};
use crate::stats::service::{
    admin_allowed, authorized, unauthorized, LocalService, Routes, ServiceKind, ServiceReply,
    ServiceRequest,
};
use futures_lite::future::BoxedLocal;
use glommio::sync::Semaphore;
use std::rc::Rc;
use std::sync::mpsc::SyncSender;

/// Requests in flight between one shard and shard 0.
const CAPACITY: usize = 16;

/// One shard's ends of the two meshes, made before the shards start (only when some frontend
/// serves the stats page or metrics).
pub struct Meshes {
    calls: mesh::Ends<ServiceRequest>,
    replies: mesh::Ends<ServiceReply>,
}

impl Meshes {
    /// Every shard's ends (shard k's at position k), or None when no frontend needs them.
    pub fn for_config(config: &Config, shards: usize) -> Option<Vec<Meshes>> {
        let serves = config
            .proxies
            .iter()
            .filter_map(|p| p.frontend.as_ref())
            .any(|f| f.stats.is_some() || f.prometheus.is_some());
        serves.then(|| {
            let calls = mesh::full(shards, CAPACITY);
            let replies = mesh::full(shards, CAPACITY);
            calls
                .into_iter()
                .zip(replies)
                .map(|(calls, replies)| Meshes { calls, replies })
                .collect()
        })
    }
}

/// What one shard needs to log and to serve the stats page, made before the shards start.
pub struct Wiring {
    pub log: Option<SyncSender<Batch>>,
    pub meshes: Option<Meshes>,
}

impl Wiring {
    /// Starts the log writer (when the config logs anywhere) and makes the meshes (when a
    /// frontend serves the stats page or metrics): one `Wiring` per shard, shard k's at k.
    pub fn new(config: &Config, shards: usize) -> Result<(Vec<Wiring>, Option<LogWriter>), String> {
        let targets = crate::logs::targets_of(config);
        let writer = if targets.is_empty() {
            None
        } else {
            Some(LogWriter::start(&targets)?)
        };
        let log = writer.as_ref().map(LogWriter::sender);
        let mut meshes = Meshes::for_config(config, shards).map(Vec::into_iter);
        let wirings = (0..shards)
            .map(|_| Wiring {
                log: log.clone(),
                meshes: meshes.as_mut().and_then(Iterator::next),
            })
            .collect();
        Ok((wirings, writer))
    }

    /// On one shard: connect its log buffers to the writer and start flushing them, then
    /// connect the meshes and install its stats service. `coordinator` is Some on shard 0.
    pub async fn start_shard(
        self,
        worker: &Rc<Worker>,
        coordinator: Option<Rc<Coordinator>>,
        queue: glommio::TaskQueueHandle,
    ) -> Result<(), String> {
        if let Some(sender) = self.log {
            worker.log.connect(sender);
            let flushing = glommio::spawn_local_into(flush_loop(worker.log.clone()), queue)
                .map_err(|e| format!("cannot start the log flusher: {e}"))?;
            flushing.detach();
        }
        match self.meshes {
            Some(meshes) => start(meshes, worker, coordinator, queue).await,
            None => Ok(()),
        }
    }
}

/// Connects the meshes and installs this shard's [`LocalService`] in its worker. On shard 0,
/// `coordinator` is Some and one task per other shard answers its requests in `queue`.
async fn start(
    meshes: Meshes,
    worker: &Rc<Worker>,
    coordinator: Option<Rc<Coordinator>>,
    queue: glommio::TaskQueueHandle,
) -> Result<(), String> {
    let index = meshes.calls.index();
    log::debug!("shard {index}: connecting the stats service meshes");
    let ((call_tx, call_rx), (reply_tx, reply_rx)) =
        futures_lite::future::zip(meshes.calls.connect(), meshes.replies.connect()).await;
    log::debug!("shard {index}: stats service meshes connected");
    let service: Rc<dyn LocalService> = match coordinator {
        Some(coordinator) => {
            let renderer = Rc::new(Renderer {
                coordinator,
                routes: worker.routes.clone(),
            });
            serve_other_shards(renderer.clone(), call_rx, Rc::new(reply_tx), queue);
            Rc::new(LocalRenderer(renderer))
        }
        None => Rc::new(RemoteService(Rc::new(Remote {
            calls: call_tx,
            replies: reply_rx,
            one_at_a_time: Semaphore::new(1),
        }))),
    };
    *worker.services.borrow_mut() = Some(service);
    Ok(())
}

/// On shard 0: one task per other shard, answering its requests in order.
fn serve_other_shards(
    renderer: Rc<Renderer>,
    mut calls: Receivers<ServiceRequest>,
    replies: Rc<Senders<ServiceReply>>,
    queue: glommio::TaskQueueHandle,
) {
    for (peer, stream) in calls.streams() {
        let (renderer, replies) = (renderer.clone(), replies.clone());
        let task = glommio::spawn_local_into(
            async move {
                while let Some(request) = stream.recv().await {
                    let reply = renderer.render(request).await;
                    if replies.send_to(peer, reply).await.is_err() {
                        break;
                    }
                }
            },
            queue,
        );
        if let Ok(task) = task {
            task.detach();
        }
    }
}

/// Shards other than 0: ask shard 0, one request at a time so replies match requests.
struct Remote {
    calls: Senders<ServiceRequest>,
    replies: Receivers<ServiceReply>,
    one_at_a_time: Semaphore,
}

impl Remote {
    async fn ask(self: Rc<Self>, request: ServiceRequest) -> ServiceReply {
        let _permit = self.one_at_a_time.acquire_permit(1).await;
        if self.calls.send_to(0, request).await.is_err() {
            return ServiceReply::text(503, "shard 0 is gone\n");
        }
        match self.replies.recv_from(0).await {
            Ok(Some(reply)) => reply,
            _ => ServiceReply::text(503, "shard 0 did not answer\n"),
        }
    }
}

/// The installed service of a shard other than 0.
struct RemoteService(Rc<Remote>);

impl LocalService for RemoteService {
    fn handle(&self, request: ServiceRequest) -> BoxedLocal<ServiceReply> {
        Box::pin(self.0.clone().ask(request))
    }
}

/// Shard 0: renders pages and metrics from the coordinator.
struct Renderer {
    coordinator: Rc<Coordinator>,
    routes: Routes,
}

/// The installed service of shard 0.
struct LocalRenderer(Rc<Renderer>);

impl LocalService for LocalRenderer {
    fn handle(&self, request: ServiceRequest) -> BoxedLocal<ServiceReply> {
        let renderer = self.0.clone();
        Box::pin(async move { renderer.render(request).await })
    }
}

impl Renderer {
    async fn render(&self, request: ServiceRequest) -> ServiceReply {
        let Some(services) = self.routes.services(request.frontend) else {
            return ServiceReply::text(404, "Not Found\n");
        };
        match (request.kind, &services.stats) {
            (ServiceKind::Metrics, _) => self.metrics().await,
            (ServiceKind::StatsPage, Some(page)) => self.page(page, &request).await,
            (ServiceKind::StatsPage, None) => ServiceReply::text(404, "Not Found\n"),
        }
    }

    async fn metrics(&self) -> ServiceReply {
        let c = &*self.coordinator;
        let stats = c.gather().await;
        let latency = c.gather_latency().await;
        let info = c.process_info();
        let now = c.now();
        let ctx = Context { info: &info, now }.rows();
        let rows = c.with_state(|state| rows::build(&Selection::default(), state, &stats, ctx));
        let process = ProcessValues {
            nbthread: info.nbthread,
            start_time: info.start_time,
            uptime: now.saturating_sub(info.start_time),
            current_connections: stats.curr_conns,
            connections_total: stats.cum_conns,
            requests_total: stats.cum_req,
        };
        let text = prometheus::render(&rows, &process, &latency);
        ServiceReply::new(200, "text/plain; version=0.0.4; charset=utf-8", text)
    }

    async fn page(&self, page: &StatsPage, request: &ServiceRequest) -> ServiceReply {
        if !authorized(page, request.authorization.as_deref()) {
            return unauthorized(page);
        }
        let options = PageOptions::parse(&request.target, &page.uri);
        let admin = admin_allowed(page, request.client);
        if request.method == "POST" {
            let status = if admin {
                self.run_admin_form(&request.body).await
            } else {
                "DENY"
            };
            let back = format!("{}{};st={status}", page.uri, options.suffix());
            return ServiceReply::see_other(back);
        }
        let c = &*self.coordinator;
        let stats = c.gather().await;
        let info = c.process_info();
        let now = c.now();
        let selection = Selection {
            hide_down: options.up,
            ..Selection::default()
        };
        let ctx = Context { info: &info, now }.rows();
        let rows = c.with_state(|state| rows::build(&selection, state, &stats, ctx));
        if options.csv {
            return ServiceReply::new(200, "text/plain", format::stat_csv(&rows));
        }
        let latency = c.gather_latency().await;
        let self_uri = format!("{}{}", page.uri, options.suffix());
        let ctx = PageContext {
            uri: &self_uri,
            refresh_secs: page
                .refresh
                .filter(|_| !options.norefresh)
                .map(|r| r.as_secs()),
            admin,
            status: options.status.as_deref(),
            version: (!page.hide_version).then_some(env!("CARGO_PKG_VERSION")),
            pid: info.pid,
            nbthread: info.nbthread,
            uptime_secs: now.saturating_sub(info.start_time),
            current_conns: stats.curr_conns,
            total_requests: stats.cum_req,
            latency: &latency,
        };
        let body = html::render(&rows, &ctx);
        ServiceReply::new(200, "text/html; charset=utf-8", body)
    }

    /// Runs the form's commands through the coordinator; returns HAProxy's `;st=` code.
    async fn run_admin_form(&self, form: &[u8]) -> &'static str {
        let lines = match html::admin_commands(form) {
            Ok(lines) => lines,
            Err(code) => return code,
        };
        let c = &*self.coordinator;
        let mut done = 0;
        for line in &lines {
            let action = c.with_state(|state| plan(line, state, Level::Admin));
            let ok = match action {
                Action::Mutate { mutations, .. } => c.mutate(mutations).await.is_ok(),
                Action::ShutdownSessions(server) => {
                    AdminBackend::shutdown_sessions(c, server).await;
                    true
                }
                _ => false,
            };
            done += usize::from(ok);
        }
        match done {
            0 => "ERRP",
            n if n == lines.len() => "DONE",
            _ => "PART",
        }
    }
}

/// The `;csv`, `;up`, `;norefresh` and `;st=CODE` suffixes of a stats page request.
#[derive(Debug, Default, PartialEq, Eq)]
struct PageOptions {
    csv: bool,
    up: bool,
    norefresh: bool,
    status: Option<String>,
}

impl PageOptions {
    /// The options a page keeps across its forms and links (`;up`, `;norefresh`).
    fn suffix(&self) -> String {
        let mut suffix = String::new();
        if self.up {
            suffix.push_str(";up");
        }
        if self.norefresh {
            suffix.push_str(";norefresh");
        }
        suffix
    }

    fn parse(target: &str, uri: &str) -> PageOptions {
        let rest = target.strip_prefix(uri).unwrap_or_default();
        let mut options = PageOptions::default();
        for part in rest.split(';') {
            let part = part.split('?').next().unwrap_or_default();
            match part {
                "csv" => options.csv = true,
                "up" => options.up = true,
                "norefresh" => options.norefresh = true,
                _ => {
                    if let Some(code) = part.strip_prefix("st=") {
                        if code.len() <= 8 && code.bytes().all(|b| b.is_ascii_uppercase()) {
                            options.status = Some(code.to_string());
                        }
                    }
                }
            }
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_options() {
        assert_eq!(
            PageOptions::parse("/stats", "/stats"),
            PageOptions::default()
        );
        let o = PageOptions::parse("/stats;csv;up;norefresh;st=DONE", "/stats");
        assert!(o.csv && o.up && o.norefresh);
        assert_eq!(o.suffix(), ";up;norefresh");
        assert_eq!(o.status.as_deref(), Some("DONE"));
        let o = PageOptions::parse("/stats;st=<script>", "/stats");
        assert_eq!(o.status, None);
    }
}
