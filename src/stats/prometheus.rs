//! `/metrics`: the Prometheus text exposition format (version 0.0.4), with HAProxy's exporter
//! names (`haproxy_server_current_sessions`, `haproxy_server_status{state="UP"}`,
//! `haproxy_backend_http_responses_total{code="2xx"}` …) read from the `show stat` fields, so
//! existing dashboards work; plus what HAProxy never had: real latency histograms per backend
//! and per server (`haproxy_backend_response_time_seconds_bucket{le="0.005"}` …), merged from
//! every shard's HDR histograms.
//!
//! Written by hand: the values are snapshots of counters pointsman already keeps, not live
//! instruments to register, and the text format is a few lines; a real parser checks it in
//! the tests.

use super::latency::{Latency, LatencySnapshot, Series};
use super::rows::{Col, RowKind, StatRow, RESPONSE_COLUMNS};
use std::fmt::Write as _;

/// Histogram bucket bounds, seconds.
pub const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// The process-wide values.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessValues {
    pub nbthread: usize,
    pub start_time: u64,
    pub uptime: u64,
    pub current_connections: u64,
    pub connections_total: u64,
    pub requests_total: u64,
}

/// What one metric reads from a row.
enum Value {
    /// A `show stat` cell.
    Column(Col),
    /// `hrsp_<code>` per `code` label.
    Responses,
    /// 1 per `state` label that matches the server's status.
    ServerStates,
    /// 1 when the proxy is up (frontend OPEN, backend UP).
    Up,
    /// Average of a histogram, seconds.
    Average(fn(&Latency) -> &Series),
}

struct Metric {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: Value,
}

const fn m(name: &'static str, kind: &'static str, help: &'static str, value: Value) -> Metric {
    Metric {
        name,
        kind,
        help,
        value,
    }
}

use Value::{Average, Column, Responses, ServerStates, Up};

// Metrics that more than one family exports with the same name, help and value.
const CURRENT_SESSIONS: Metric = m(
    "current_sessions",
    "gauge",
    "Number of current sessions.",
    Column(Col::Scur),
);
const MAX_SESSIONS: Metric = m(
    "max_sessions",
    "gauge",
    "Maximum observed number of active sessions.",
    Column(Col::Smax),
);
const LIMIT_SESSIONS: Metric = m(
    "limit_sessions",
    "gauge",
    "Configured session limit.",
    Column(Col::Slim),
);
const SESSIONS_TOTAL: Metric = m(
    "sessions_total",
    "counter",
    "Total number of sessions.",
    Column(Col::Stot),
);
const BYTES_IN_TOTAL: Metric = m(
    "bytes_in_total",
    "counter",
    "Current total of incoming bytes.",
    Column(Col::Bin),
);
const BYTES_OUT_TOTAL: Metric = m(
    "bytes_out_total",
    "counter",
    "Current total of outgoing bytes.",
    Column(Col::Bout),
);
const REQUESTS_DENIED_TOTAL: Metric = m(
    "requests_denied_total",
    "counter",
    "Total number of denied requests.",
    Column(Col::Dreq),
);
const RESPONSES_DENIED_TOTAL: Metric = m(
    "responses_denied_total",
    "counter",
    "Total number of denied responses.",
    Column(Col::Dresp),
);
const HTTP_REQUESTS_TOTAL: Metric = m(
    "http_requests_total",
    "counter",
    "Total number of HTTP requests received.",
    Column(Col::ReqTot),
);
const HTTP_RESPONSES_TOTAL: Metric = m(
    "http_responses_total",
    "counter",
    "Total number of HTTP responses.",
    Responses,
);
const CURRENT_QUEUE: Metric = m(
    "current_queue",
    "gauge",
    "Current number of queued requests.",
    Column(Col::Qcur),
);
const CONNECTION_ERRORS_TOTAL: Metric = m(
    "connection_errors_total",
    "counter",
    "Total number of connection errors.",
    Column(Col::Econ),
);
const RESPONSE_ERRORS_TOTAL: Metric = m(
    "response_errors_total",
    "counter",
    "Total number of response errors.",
    Column(Col::Eresp),
);
const RETRY_WARNINGS_TOTAL: Metric = m(
    "retry_warnings_total",
    "counter",
    "Total number of retry warnings.",
    Column(Col::Wretr),
);
const REDISPATCH_WARNINGS_TOTAL: Metric = m(
    "redispatch_warnings_total",
    "counter",
    "Total number of redispatch warnings.",
    Column(Col::Wredis),
);
const WEIGHT: Metric = m("weight", "gauge", "Service weight.", Column(Col::Weight));
const LOADBALANCED_TOTAL: Metric = m(
    "loadbalanced_total",
    "counter",
    "Total number of times a service was selected.",
    Column(Col::Lbtot),
);
const CLIENT_ABORTS_TOTAL: Metric = m(
    "client_aborts_total",
    "counter",
    "Total number of data transfers aborted by the client.",
    Column(Col::CliAbrt),
);
const SERVER_ABORTS_TOTAL: Metric = m(
    "server_aborts_total",
    "counter",
    "Total number of data transfers aborted by the server.",
    Column(Col::SrvAbrt),
);
const CONNECTION_ATTEMPTS_TOTAL: Metric = m(
    "connection_attempts_total",
    "counter",
    "Total number of connection establishment attempts.",
    Column(Col::Connect),
);
const CONNECTION_REUSES_TOTAL: Metric = m(
    "connection_reuses_total",
    "counter",
    "Total number of connection reuses.",
    Column(Col::Reuse),
);
const CONNECT_TIME_AVERAGE_SECONDS: Metric = m(
    "connect_time_average_seconds",
    "gauge",
    "Average connect time (since start; the histogram has the distribution).",
    Average(|l| &l.connect),
);
const RESPONSE_TIME_AVERAGE_SECONDS: Metric = m(
    "response_time_average_seconds",
    "gauge",
    "Average response time (since start; the histogram has the distribution).",
    Average(|l| &l.response),
);
const TOTAL_TIME_AVERAGE_SECONDS: Metric = m(
    "total_time_average_seconds",
    "gauge",
    "Average total time (since start; the histogram has the distribution).",
    Average(|l| &l.total),
);

const FRONTEND_METRICS: &[Metric] = &[
    m(
        "status",
        "gauge",
        "Current status of the service (1 open, 0 stopped).",
        Up,
    ),
    CURRENT_SESSIONS,
    MAX_SESSIONS,
    LIMIT_SESSIONS,
    SESSIONS_TOTAL,
    BYTES_IN_TOTAL,
    BYTES_OUT_TOTAL,
    REQUESTS_DENIED_TOTAL,
    RESPONSES_DENIED_TOTAL,
    m(
        "request_errors_total",
        "counter",
        "Total number of request errors.",
        Column(Col::Ereq),
    ),
    m(
        "connections_total",
        "counter",
        "Total number of new connections.",
        Column(Col::ConnTot),
    ),
    HTTP_REQUESTS_TOTAL,
    HTTP_RESPONSES_TOTAL,
];

const BACKEND_METRICS: &[Metric] = &[
    m(
        "status",
        "gauge",
        "Current status of the service (1 up, 0 down).",
        Up,
    ),
    CURRENT_QUEUE,
    CURRENT_SESSIONS,
    MAX_SESSIONS,
    SESSIONS_TOTAL,
    BYTES_IN_TOTAL,
    BYTES_OUT_TOTAL,
    REQUESTS_DENIED_TOTAL,
    RESPONSES_DENIED_TOTAL,
    CONNECTION_ERRORS_TOTAL,
    RESPONSE_ERRORS_TOTAL,
    RETRY_WARNINGS_TOTAL,
    REDISPATCH_WARNINGS_TOTAL,
    WEIGHT,
    m(
        "active_servers",
        "gauge",
        "Current number of active servers.",
        Column(Col::Act),
    ),
    m(
        "backup_servers",
        "gauge",
        "Current number of backup servers.",
        Column(Col::Bck),
    ),
    LOADBALANCED_TOTAL,
    CLIENT_ABORTS_TOTAL,
    SERVER_ABORTS_TOTAL,
    CONNECTION_ATTEMPTS_TOTAL,
    CONNECTION_REUSES_TOTAL,
    HTTP_REQUESTS_TOTAL,
    HTTP_RESPONSES_TOTAL,
    CONNECT_TIME_AVERAGE_SECONDS,
    RESPONSE_TIME_AVERAGE_SECONDS,
    TOTAL_TIME_AVERAGE_SECONDS,
];

const SERVER_METRICS: &[Metric] = &[
    m(
        "status",
        "gauge",
        "Current status of the service, per state label value.",
        ServerStates,
    ),
    CURRENT_QUEUE,
    CURRENT_SESSIONS,
    MAX_SESSIONS,
    LIMIT_SESSIONS,
    SESSIONS_TOTAL,
    BYTES_IN_TOTAL,
    BYTES_OUT_TOTAL,
    RESPONSES_DENIED_TOTAL,
    CONNECTION_ERRORS_TOTAL,
    RESPONSE_ERRORS_TOTAL,
    RETRY_WARNINGS_TOTAL,
    REDISPATCH_WARNINGS_TOTAL,
    WEIGHT,
    m(
        "check_failures_total",
        "counter",
        "Total number of failed individual health checks.",
        Column(Col::Chkfail),
    ),
    m(
        "check_up_down_total",
        "counter",
        "Total number of UP->DOWN transitions.",
        Column(Col::Chkdown),
    ),
    m(
        "downtime_seconds_total",
        "counter",
        "Total downtime (in seconds) for the service.",
        Column(Col::Downtime),
    ),
    LOADBALANCED_TOTAL,
    CLIENT_ABORTS_TOTAL,
    SERVER_ABORTS_TOTAL,
    m(
        "idle_connections_current",
        "gauge",
        "Current number of idle connections available for reuse.",
        Column(Col::IdleConnCur),
    ),
    CONNECTION_ATTEMPTS_TOTAL,
    CONNECTION_REUSES_TOTAL,
    HTTP_RESPONSES_TOTAL,
    CONNECT_TIME_AVERAGE_SECONDS,
    RESPONSE_TIME_AVERAGE_SECONDS,
    TOTAL_TIME_AVERAGE_SECONDS,
];

/// pointsman's histograms, for backends and servers.
/// Picks one of a [`Latency`]'s series.
type Pick = fn(&Latency) -> &Series;

const HISTOGRAMS: &[(&str, &str, Pick)] = &[
    (
        "connect_time_seconds",
        "Time to open a new connection to the server (pooled connections are not counted).",
        |l| &l.connect,
    ),
    (
        "response_time_seconds",
        "Time from the server connection being ready to its response head (HAProxy's Tr).",
        |l| &l.response,
    ),
    (
        "total_time_seconds",
        "Whole request time, first byte in to last byte out (HAProxy's Ta).",
        |l| &l.total,
    ),
];

const SERVER_STATES: &[&str] = &["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];
/// The `code` label of each of [`RESPONSE_COLUMNS`].
const RESPONSE_CODES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The whole exposition: the process values, then each family of the rows' values, then
/// the histograms in `latency` (merged over every shard) of each BACKEND and server row.
pub fn render(rows: &[StatRow], process: &ProcessValues, latency: &LatencySnapshot) -> String {
    let mut out = String::with_capacity(64 * 1024);
    process_metrics(&mut out, process);
    let scope = |name, kind: RowKind, with_server| {
        let rows: Vec<&StatRow> = rows.iter().filter(|r| r.kind == kind).collect();
        Scope {
            name,
            latency: rows.iter().map(|r| r.latency(latency)).collect(),
            rows,
            with_server,
        }
    };
    let frontends = scope("frontend", RowKind::Frontend, false);
    let backends = scope("backend", RowKind::Backend, false);
    let servers = scope("server", RowKind::Server, true);
    for (metrics, scope) in [
        (FRONTEND_METRICS, &frontends),
        (BACKEND_METRICS, &backends),
        (SERVER_METRICS, &servers),
    ] {
        for metric in metrics {
            family(&mut out, scope, metric);
        }
    }
    for (suffix, help, series) in HISTOGRAMS {
        for scope in [&backends, &servers] {
            histogram(&mut out, scope, suffix, help, *series);
        }
    }
    out
}

/// The rows of one kind, with what their samples need: the metric name's scope, their
/// histograms, and whether the labels name the server.
struct Scope<'a> {
    name: &'static str,
    rows: Vec<&'a StatRow>,
    latency: Vec<Option<&'a Latency>>,
    with_server: bool,
}

fn process_metrics(out: &mut String, p: &ProcessValues) {
    for (name, kind, help, value) in [
        (
            "haproxy_process_nbthread",
            "gauge",
            "Number of started threads (shards).",
            p.nbthread as u64,
        ),
        (
            "haproxy_process_start_time_seconds",
            "gauge",
            "Start time in seconds.",
            p.start_time,
        ),
        (
            "haproxy_process_uptime_seconds",
            "gauge",
            "How long ago this worker process was started (seconds).",
            p.uptime,
        ),
        (
            "haproxy_process_current_connections",
            "gauge",
            "Number of active sessions.",
            p.current_connections,
        ),
        (
            "haproxy_process_connections_total",
            "counter",
            "Total number of created sessions.",
            p.connections_total,
        ),
        (
            "haproxy_process_requests_total",
            "counter",
            "Total number of requests (TCP or HTTP).",
            p.requests_total,
        ),
    ] {
        header(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labels(out: &mut String, row: &StatRow, with_server: bool, extra: Option<(&str, &str)>) {
    out.push_str("{proxy=\"");
    escape_label(out, row.proxy());
    out.push('"');
    if with_server {
        out.push_str(",server=\"");
        escape_label(out, row.name());
        out.push('"');
    }
    if let Some((name, value)) = extra {
        let _ = write!(out, ",{name}=\"");
        escape_label(out, value);
        out.push('"');
    }
    out.push('}');
}

fn family(out: &mut String, scope: &Scope, metric: &Metric) {
    let name = format!("haproxy_{}_{}", scope.name, metric.name);
    header(out, &name, metric.kind, metric.help);
    for (i, row) in scope.rows.iter().enumerate() {
        let mut sample = |extra: Option<(&str, &str)>, value: f64| {
            line(out, &name, scope, row, extra, number(value));
        };
        match &metric.value {
            Column(column) => {
                if let Some(v) = row.number(*column) {
                    sample(None, v);
                }
            }
            Responses => {
                for (code, column) in RESPONSE_CODES.iter().zip(RESPONSE_COLUMNS) {
                    sample(Some(("code", code)), row.number(column).unwrap_or(0.0));
                }
            }
            ServerStates => {
                let status = row.get(Col::Status).text();
                let state = status.split(' ').next().unwrap_or_default();
                let state = if state == "no" { "UP" } else { state };
                for s in SERVER_STATES {
                    sample(Some(("state", s)), f64::from(u8::from(*s == state)));
                }
            }
            Up => {
                let up = matches!(row.get(Col::Status).text(), "OPEN" | "UP");
                sample(None, f64::from(u8::from(up)));
            }
            Average(series) => {
                let s = scope.latency.get(i).copied().flatten().map(series);
                let average = s
                    .filter(|s| s.count() > 0)
                    .map_or(0.0, |s| s.sum_us as f64 / s.count() as f64 / 1e6);
                sample(None, average);
            }
        }
    }
}

fn histogram(out: &mut String, scope: &Scope, suffix: &str, help: &str, series: Pick) {
    let name = format!("haproxy_{}_{suffix}", scope.name);
    let (bucket, sum, count) = (
        format!("{name}_bucket"),
        format!("{name}_sum"),
        format!("{name}_count"),
    );
    header(out, &name, "histogram", help);
    let empty = Series::default();
    for (row, l) in scope.rows.iter().zip(&scope.latency) {
        let s = l.map_or(&empty, series);
        for bound in BUCKETS {
            let at_most = s.count_at_most((bound * 1e6).round() as u64);
            line(
                out,
                &bucket,
                scope,
                row,
                Some(("le", &number(*bound))),
                at_most,
            );
        }
        line(out, &bucket, scope, row, Some(("le", "+Inf")), s.count());
        line(out, &sum, scope, row, None, number(s.sum_us as f64 / 1e6));
        line(out, &count, scope, row, None, s.count());
    }
}

/// One sample line: `name{labels} value`.
fn line(
    out: &mut String,
    name: &str,
    scope: &Scope,
    row: &StatRow,
    extra: Option<(&str, &str)>,
    value: impl std::fmt::Display,
) {
    out.push_str(name);
    labels(out, row, scope.with_server, extra);
    let _ = writeln!(out, " {value}");
}

/// A sample value: integers without a fraction, others in plain decimal.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rows::{test_latency, test_row};

    /// A [`test_row`] with `status` and `hrsp_2xx`.
    fn row(kind: RowKind, name: &str, status: &str, responses_2xx: u64) -> StatRow {
        let mut row = test_row(kind, name);
        row.set(Col::Status, status);
        row.set(Col::Hrsp2xx, responses_2xx);
        row
    }

    #[test]
    fn families_are_contiguous_and_buckets_cumulative() {
        let rows = [
            row(RowKind::Frontend, "FRONTEND", "OPEN", 5),
            row(RowKind::Server, "s1", "DRAIN", 3),
            row(RowKind::Server, "s2", "no check", 2),
            row(RowKind::Backend, "BACKEND", "UP", 5),
        ];
        let latency = test_latency(&[200, 800, 3_000, 70_000_000]);
        let text = render(&rows, &ProcessValues::default(), &latency);
        assert!(
            text.contains("haproxy_server_status{proxy=\"bk\",server=\"s1\",state=\"DRAIN\"} 1\n")
        );
        assert!(text.contains("haproxy_server_status{proxy=\"bk\",server=\"s2\",state=\"UP\"} 1\n"));
        assert!(
            text.contains("haproxy_backend_http_responses_total{proxy=\"bk\",code=\"2xx\"} 5\n")
        );
        assert!(text.contains("haproxy_server_response_time_seconds_bucket{proxy=\"bk\",server=\"s1\",le=\"0.00025\"} 1\n"));
        assert!(text.contains("haproxy_server_response_time_seconds_bucket{proxy=\"bk\",server=\"s1\",le=\"0.001\"} 2\n"));
        assert!(text.contains(
            "haproxy_server_response_time_seconds_bucket{proxy=\"bk\",server=\"s1\",le=\"60\"} 3\n"
        ));
        assert!(text.contains("haproxy_server_response_time_seconds_bucket{proxy=\"bk\",server=\"s1\",le=\"+Inf\"} 4\n"));
        assert!(text.contains(
            "haproxy_server_response_time_seconds_count{proxy=\"bk\",server=\"s2\"} 0\n"
        ));
        // A BACKEND row finds its backend's own histograms (its servers' samples).
        assert!(text.contains("haproxy_backend_response_time_seconds_count{proxy=\"bk\"} 4\n"));
        // Each family's samples follow its TYPE line without another family in between.
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap().to_string();
                assert!(seen.insert(current.clone()), "{current} twice");
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&current), "{line} outside {current}");
            }
        }
    }
}
