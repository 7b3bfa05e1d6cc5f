//! Requests a frontend answers itself: the stats page (`stats uri`) and the Prometheus
//! metrics (`http-request use-service prometheus-exporter`). The proxy only recognises them
//! ([`Routes::route`]) and hands a [`ServiceRequest`] to whatever implements
//! [`LocalService`] (the shard layer, which can reach the coordinator); it never renders
//! anything itself, and it never imports `admin`.

use crate::config::{Config, StatsAdmin, StatsPage};
use crate::state::State;
use base64::Engine;
use futures_lite::future::BoxedLocal;
use std::net::IpAddr;

/// The largest request body a local service reads (an admin form is a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;

/// Which local service a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    StatsPage,
    Metrics,
}

/// What a frontend serves itself.
#[derive(Debug, Clone, Default)]
pub struct FrontendServices {
    pub stats: Option<StatsPage>,
    pub metrics_path: Option<String>,
}

/// The local services of every frontend, by frontend index.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    frontends: Vec<Option<FrontendServices>>,
}

impl Routes {
    pub fn from_config(config: &Config, state: &State) -> Routes {
        let frontends = state
            .frontends
            .iter()
            .map(|f| {
                let side = config.proxy_with_frontend(&f.name)?.frontend.as_ref()?;
                (side.stats.is_some() || side.prometheus.is_some()).then(|| FrontendServices {
                    stats: side.stats.clone(),
                    metrics_path: side.prometheus.clone(),
                })
            })
            .collect();
        Routes { frontends }
    }

    /// Whether any frontend serves something itself.
    pub fn any(&self) -> bool {
        self.frontends.iter().any(Option::is_some)
    }

    pub fn services(&self, frontend: usize) -> Option<&FrontendServices> {
        self.frontends.get(frontend)?.as_ref()
    }

    /// The service for a request target on `frontend`, if it is one: the metrics path exactly
    /// (query aside), or anything under the stats uri.
    #[inline]
    pub fn route(&self, frontend: usize, target: &[u8]) -> Option<ServiceKind> {
        let services = self.frontends.get(frontend)?.as_ref()?;
        let path = target.split(|&b| b == b'?').next().unwrap_or_default();
        if services
            .metrics_path
            .as_ref()
            .is_some_and(|m| m.as_bytes() == path)
        {
            return Some(ServiceKind::Metrics);
        }
        services
            .stats
            .as_ref()
            .filter(|page| target.starts_with(page.uri.as_bytes()))
            .map(|_| ServiceKind::StatsPage)
    }
}

/// A request for a local service, owned (it may travel to shard 0).
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    pub kind: ServiceKind,
    pub frontend: usize,
    pub method: String,
    /// The request target as sent (`/stats;csv`, `/metrics?x`).
    pub target: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
    pub client: IpAddr,
}

/// The answer: status, content type, extra headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceReply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ServiceReply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        ServiceReply {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> Self {
        ServiceReply::new(status, "text/plain", body)
    }

    /// `303 See Other` to `location` (after an admin action, as HAProxy does).
    pub fn see_other(location: String) -> Self {
        let mut reply = ServiceReply::text(303, "");
        reply.headers.push(("Location".into(), location));
        reply
    }

    /// The whole HTTP/1.1 response.
    pub fn to_http(&self, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-cache\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if !keep_alive {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Renders local services. Implemented by the shard layer; the proxy holds it as a trait
/// object so that it does not depend on who answers.
pub trait LocalService {
    fn handle(&self, request: ServiceRequest) -> BoxedLocal<ServiceReply>;
}

/// Whether the `Authorization` header carries one of the page's `stats auth` pairs (always
/// true when the page has none).
pub fn authorized(page: &StatsPage, authorization: Option<&str>) -> bool {
    if page.auth.is_empty() {
        return true;
    }
    let Some(encoded) = authorization.and_then(|h| {
        let (scheme, rest) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
    }) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let Some((user, password)) = std::str::from_utf8(&decoded)
        .ok()
        .and_then(|s| s.split_once(':'))
    else {
        return false;
    };
    page.auth.iter().any(|(u, p)| u == user && p == password)
}

/// HAProxy's 401 answer, with the page's realm.
pub fn unauthorized(page: &StatsPage) -> ServiceReply {
    let mut reply = ServiceReply::new(
        401,
        "text/html",
        "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n",
    );
    reply.headers.push((
        "WWW-Authenticate".into(),
        format!("Basic realm=\"{}\"", page.realm),
    ));
    reply
}

/// Whether this client may use the admin buttons.
pub fn admin_allowed(page: &StatsPage, client: IpAddr) -> bool {
    match page.admin {
        StatsAdmin::Never => false,
        StatsAdmin::Always => true,
        StatsAdmin::Localhost => {
            client.is_loopback()
                || matches!(client, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn routes() -> (Routes, StatsPage) {
        let config = parse_str(
            "t.cfg",
            "frontend stats\n mode http\n bind 127.0.0.1:1\n stats uri /stats\n stats auth admin:pw\n \
             stats prometheus /metrics\nfrontend app\n mode http\n bind 127.0.0.1:2\n",
        )
        .unwrap();
        let state = State::from_config(&config, 0);
        let routes = Routes::from_config(&config, &state);
        let page = routes.services(0).unwrap().stats.clone().unwrap();
        (routes, page)
    }

    #[test]
    fn routes_by_frontend_and_path() {
        let (routes, _) = routes();
        assert_eq!(routes.route(0, b"/stats"), Some(ServiceKind::StatsPage));
        assert_eq!(routes.route(0, b"/stats;csv"), Some(ServiceKind::StatsPage));
        assert_eq!(routes.route(0, b"/metrics?x=1"), Some(ServiceKind::Metrics));
        assert_eq!(routes.route(0, b"/metricsx"), None);
        assert_eq!(routes.route(0, b"/"), None);
        assert_eq!(routes.route(1, b"/stats"), None);
        assert_eq!(routes.route(7, b"/stats"), None);
    }

    #[test]
    fn basic_auth() {
        let (_, page) = routes();
        let header = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert!(authorized(&page, Some(&header("admin:pw"))));
        assert!(authorized(
            &page,
            Some(&format!("basic  {}", &header("admin:pw")[6..]))
        ));
        assert!(!authorized(&page, Some(&header("admin:nope"))));
        assert!(!authorized(&page, Some("Basic !!!")));
        assert!(!authorized(&page, Some("Bearer x")));
        assert!(!authorized(&page, None));
        let reply = unauthorized(&page);
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.headers[0],
            (
                "WWW-Authenticate".to_string(),
                "Basic realm=\"HAProxy Statistics\"".to_string()
            )
        );
    }
}
