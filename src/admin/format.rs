//! The runtime API's output formats, as HAProxy 2.6 prints them. Pure: state, counters and
//! process facts in, text out (without the session's terminator).
//!
//! - `show stat`: CSV with the full 128-column header (`# ` prefix, trailing comma on every
//!   line, a literal `-` column 103), FRONTEND / servers / BACKEND rows per proxy in config
//!   order, the `<iid|name> <type> <sid>` filter, `up` / `no-maint`, `typed` and `json`.
//! - `show info` (plain, `typed`, `json`), `show servers state`, `show servers conn`,
//!   `show backend`.
//!
//! Which columns are empty and which are 0 for each row type follows the captures. Values
//! pointsman does not measure are 0 (rates, queues, compression, SSL, HTTP/2, timings other
//! than `ttime`); `lastsess` is -1 before the first session and 0 after (no timestamp kept).
//! A BACKEND row's `lastchg` counts from process start (backend transitions are not tracked).

use super::command::VERSION;
use super::ProcessInfo;
use crate::config::Mode;
use crate::state::{AdminState, Backend, CheckStatus, Frontend, OpState, Server, State};
use crate::stats::{Counters, StatsSnapshot};
use std::fmt::Write as _;

/// Output form of `show stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatFormat {
    Csv,
    Typed,
    Json,
}

/// `show stat <iid> <type> <sid>`: -1 means any; `types` is a mask (1 frontends,
/// 2 backends, 4 servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFilter {
    pub iid: i64,
    pub types: i64,
    pub sid: i64,
}

/// A resolved `show stat` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRequest {
    pub filter: Option<StatFilter>,
    pub format: StatFormat,
    /// `up`: hide DOWN and MAINT servers.
    pub hide_down: bool,
    /// `no-maint`: hide MAINT servers.
    pub hide_maint: bool,
}

impl StatRequest {
    /// Plain `show stat`.
    pub fn all() -> StatRequest {
        StatRequest {
            filter: None,
            format: StatFormat::Csv,
            hide_down: false,
            hide_maint: false,
        }
    }
}

/// Output form of `show info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoFormat {
    Plain,
    Typed,
    Json,
}

/// The clock and process facts every format may need.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub info: &'a ProcessInfo,
    /// Unix seconds now.
    pub now: u64,
}

/// HAProxy 2.6's `show stat` columns: name, typed-output tags and type (from the captures).
const COLUMNS: [(&str, &str, &str); 128] = [
    ("pxname", "KNS", "str"),
    ("svname", "KNS", "str"),
    ("qcur", "MGP", "u32"),
    ("qmax", "MMP", "u32"),
    ("scur", "MGP", "u32"),
    ("smax", "MMP", "u32"),
    ("slim", "CLP", "u32"),
    ("stot", "MCP", "u64"),
    ("bin", "MCP", "u64"),
    ("bout", "MCP", "u64"),
    ("dreq", "MCP", "u64"),
    ("dresp", "MCP", "u64"),
    ("ereq", "MCP", "u64"),
    ("econ", "MCP", "u64"),
    ("eresp", "MCP", "u64"),
    ("wretr", "MCP", "u64"),
    ("wredis", "MCP", "u64"),
    ("status", "SGP", "str"),
    ("weight", "MaP", "u32"),
    ("act", "SGP", "u32"),
    ("bck", "SGP", "u32"),
    ("chkfail", "MCP", "u64"),
    ("chkdown", "MCP", "u64"),
    ("lastchg", "MAP", "u32"),
    ("downtime", "MCP", "u32"),
    ("qlimit", "CLP", "u32"),
    ("pid", "KGP", "u32"),
    ("iid", "KGS", "u32"),
    ("sid", "KGS", "u32"),
    ("throttle", "MAP", "u32"),
    ("lbtot", "MCP", "u64"),
    ("tracked", "CNP", "str"),
    ("type", "CGS", "u32"),
    ("rate", "MRP", "u32"),
    ("rate_lim", "CLP", "u32"),
    ("rate_max", "MMP", "u32"),
    ("check_status", "MOP", "str"),
    ("check_code", "MOP", "u32"),
    ("check_duration", "MDP", "u64"),
    ("hrsp_1xx", "MCP", "u64"),
    ("hrsp_2xx", "MCP", "u64"),
    ("hrsp_3xx", "MCP", "u64"),
    ("hrsp_4xx", "MCP", "u64"),
    ("hrsp_5xx", "MCP", "u64"),
    ("hrsp_other", "MCP", "u64"),
    ("hanafail", "MCP", "u64"),
    ("req_rate", "MRP", "u32"),
    ("req_rate_max", "MMP", "u32"),
    ("req_tot", "MCP", "u64"),
    ("cli_abrt", "MCP", "u64"),
    ("srv_abrt", "MCP", "u64"),
    ("comp_in", "MCP", "u64"),
    ("comp_out", "MCP", "u64"),
    ("comp_byp", "MCP", "u64"),
    ("comp_rsp", "MCP", "u64"),
    ("lastsess", "MAP", "s32"),
    ("last_chk", "MOP", "str"),
    ("last_agt", "MOP", "str"),
    ("qtime", "MaP", "u32"),
    ("ctime", "MaP", "u32"),
    ("rtime", "MaP", "u32"),
    ("ttime", "MaP", "u32"),
    ("agent_status", "MOP", "str"),
    ("agent_code", "MOP", "u32"),
    ("agent_duration", "MDP", "u64"),
    ("check_desc", "MOP", "str"),
    ("agent_desc", "MOP", "str"),
    ("check_rise", "CGS", "u32"),
    ("check_fall", "CGS", "u32"),
    ("check_health", "CGS", "u32"),
    ("agent_rise", "MaP", "u32"),
    ("agent_fall", "MaP", "u32"),
    ("agent_health", "MaP", "u32"),
    ("addr", "CGS", "str"),
    ("cookie", "CNP", "str"),
    ("mode", "CGS", "str"),
    ("algo", "CGS", "str"),
    ("conn_rate", "MRP", "u32"),
    ("conn_rate_max", "MMP", "u32"),
    ("conn_tot", "MCP", "u64"),
    ("intercepted", "MCP", "u64"),
    ("dcon", "MCP", "u64"),
    ("dses", "MCP", "u64"),
    ("wrew", "MCP", "u64"),
    ("connect", "MCP", "u64"),
    ("reuse", "MCP", "u64"),
    ("cache_lookups", "MCP", "u64"),
    ("cache_hits", "MCP", "u64"),
    ("srv_icur", "MGP", "u32"),
    ("src_ilim", "MaP", "u32"),
    ("qtime_max", "MMP", "u32"),
    ("ctime_max", "MMP", "u32"),
    ("rtime_max", "MMP", "u32"),
    ("ttime_max", "MMP", "u32"),
    ("eint", "MCP", "u64"),
    ("idle_conn_cur", "MGP", "u32"),
    ("safe_conn_cur", "MGP", "u32"),
    ("used_conn_cur", "MGP", "u32"),
    ("need_conn_est", "MGP", "u32"),
    ("uweight", "MaP", "u32"),
    ("agg_server_status", "MGP", "u32"),
    ("agg_server_check_status", "MGP", "u32"),
    ("agg_check_status", "MGP", "u32"),
    ("-", "", ""),
    ("ssl_sess", "MCP", "u64"),
    ("ssl_reused_sess", "MCP", "u64"),
    ("ssl_failed_handshake", "MCP", "u64"),
    ("h2_headers_rcvd", "MCP", "u64"),
    ("h2_data_rcvd", "MCP", "u64"),
    ("h2_settings_rcvd", "MCP", "u64"),
    ("h2_rst_stream_rcvd", "MCP", "u64"),
    ("h2_goaway_rcvd", "MCP", "u64"),
    ("h2_detected_conn_protocol_errors", "MCP", "u64"),
    ("h2_detected_strm_protocol_errors", "MCP", "u64"),
    ("h2_rst_stream_resp", "MCP", "u64"),
    ("h2_goaway_resp", "MCP", "u64"),
    ("h2_open_connections", "MGP", "u64"),
    ("h2_backend_open_streams", "MGP", "u64"),
    ("h2_total_connections", "MCP", "u64"),
    ("h2_backend_total_streams", "MCP", "u64"),
    ("h1_open_connections", "MGP", "u64"),
    ("h1_open_streams", "MGP", "u64"),
    ("h1_total_connections", "MCP", "u64"),
    ("h1_total_streams", "MCP", "u64"),
    ("h1_bytes_in", "MCP", "u64"),
    ("h1_bytes_out", "MCP", "u64"),
    ("h1_spliced_bytes_in", "MCP", "u64"),
    ("h1_spliced_bytes_out", "MCP", "u64"),
];

/// HAProxy 2.6's `show info` fields in order: position, name, typed-output tags and type.
const INFO_FIELDS: [(u32, &str, &str, &str); 69] = [
    (0, "Name", "POS", "str"),
    (1, "Version", "POS", "str"),
    (2, "Release_date", "POS", "str"),
    (3, "Nbthread", "CGS", "u32"),
    (4, "Nbproc", "CGS", "u32"),
    (5, "Process_num", "KGP", "u32"),
    (6, "Pid", "SGP", "u32"),
    (7, "Uptime", "MDP", "str"),
    (8, "Uptime_sec", "MDP", "u32"),
    (9, "Memmax_MB", "CLP", "u32"),
    (10, "PoolAlloc_MB", "MGP", "u32"),
    (11, "PoolUsed_MB", "MGP", "u32"),
    (12, "PoolFailed", "MCP", "u32"),
    (13, "Ulimit-n", "CLP", "u32"),
    (14, "Maxsock", "CLP", "u32"),
    (15, "Maxconn", "CLP", "u32"),
    (16, "Hard_maxconn", "CLP", "u32"),
    (17, "CurrConns", "MGP", "u32"),
    (18, "CumConns", "MCP", "u32"),
    (19, "CumReq", "MCP", "u32"),
    (20, "MaxSslConns", "MMP", "u32"),
    (21, "CurrSslConns", "MGP", "u32"),
    (22, "CumSslConns", "MCP", "u32"),
    (23, "Maxpipes", "CLP", "u32"),
    (24, "PipesUsed", "MGP", "u32"),
    (25, "PipesFree", "MGP", "u32"),
    (26, "ConnRate", "MRP", "u32"),
    (27, "ConnRateLimit", "CLP", "u32"),
    (28, "MaxConnRate", "MMP", "u32"),
    (29, "SessRate", "MRP", "u32"),
    (30, "SessRateLimit", "CLP", "u32"),
    (31, "MaxSessRate", "MRP", "u32"),
    (32, "SslRate", "MRP", "u32"),
    (33, "SslRateLimit", "CLP", "u32"),
    (34, "MaxSslRate", "MMP", "u32"),
    (35, "SslFrontendKeyRate", "MGP", "u32"),
    (36, "SslFrontendMaxKeyRate", "MMP", "u32"),
    (37, "SslFrontendSessionReuse_pct", "MGP", "u32"),
    (38, "SslBackendKeyRate", "MRP", "u32"),
    (39, "SslBackendMaxKeyRate", "MMP", "u32"),
    (40, "SslCacheLookups", "MCP", "u32"),
    (41, "SslCacheMisses", "MCP", "u32"),
    (42, "CompressBpsIn", "MRP", "u32"),
    (43, "CompressBpsOut", "MRP", "u32"),
    (44, "CompressBpsRateLim", "CLP", "u32"),
    (47, "Tasks", "MGP", "u32"),
    (48, "Run_queue", "MGP", "u32"),
    (49, "Idle_pct", "MaP", "u32"),
    (50, "node", "COS", "str"),
    (52, "Stopping", "MGP", "u32"),
    (53, "Jobs", "MGP", "u32"),
    (54, "Unstoppable Jobs", "MGP", "u32"),
    (55, "Listeners", "MGP", "u32"),
    (56, "ActivePeers", "MGP", "u32"),
    (57, "ConnectedPeers", "MGP", "u32"),
    (58, "DroppedLogs", "MGP", "u32"),
    (59, "BusyPolling", "MGP", "u32"),
    (60, "FailedResolutions", "MGP", "u32"),
    (61, "TotalBytesOut", "MGP", "u64"),
    (62, "TotalSplicdedBytesOut", "MGP", "u64"),
    (63, "BytesOutRate", "MRP", "u64"),
    (64, "DebugCommandsIssued", "MGP", "u32"),
    (65, "CumRecvLogs", "MCP", "u32"),
    (66, "Build info", "POS", "str"),
    (67, "Memmax_bytes", "CLP", "u32"),
    (68, "PoolAlloc_bytes", "MGP", "u64"),
    (69, "PoolUsed_bytes", "MGP", "u64"),
    (70, "Start_time_sec", "MDP", "u32"),
    (71, "Tainted", "SGP", "str"),
];

const TYPE_FRONTEND: i64 = 0;
const TYPE_BACKEND: i64 = 1;
const TYPE_SERVER: i64 = 2;

/// One `show stat` row: 128 cells, empty unless set.
struct Row {
    kind: i64,
    iid: u32,
    sid: u32,
    cells: Vec<String>,
}

impl Row {
    fn new(kind: i64, iid: u32, sid: u32) -> Row {
        let mut cells = vec![String::new(); COLUMNS.len()];
        cells[103] = "-".to_string();
        Row {
            kind,
            iid,
            sid,
            cells,
        }
    }

    /// Sets the column with this name (names are HAProxy's header names).
    fn set(&mut self, name: &str, value: impl ToString) {
        match COLUMNS.iter().position(|(n, _, _)| *n == name) {
            Some(i) => self.cells[i] = value.to_string(),
            None => debug_assert!(false, "unknown stat column {name}"),
        }
    }

    /// Sets these columns to 0.
    fn zero(&mut self, names: &[&str]) {
        for name in names {
            self.set(name, 0);
        }
    }

    fn zero_range(&mut self, from: usize, to: usize) {
        for cell in &mut self.cells[from..=to] {
            *cell = "0".to_string();
        }
    }

    fn csv(&self, out: &mut String) {
        for cell in &self.cells {
            out.push_str(cell);
            out.push(',');
        }
        out.push('\n');
    }
}

/// `show stat`.
pub fn show_stat(req: &StatRequest, state: &State, stats: &StatsSnapshot, ctx: Context) -> String {
    let rows = stat_rows(req, state, stats, ctx);
    match req.format {
        StatFormat::Csv => stat_csv(&rows),
        StatFormat::Typed => stat_typed(&rows),
        StatFormat::Json => stat_json(&rows),
    }
}

/// The CSV header line, as the stats page also serves it.
pub fn stat_header() -> String {
    let mut out = String::from("# ");
    for (name, _, _) in COLUMNS.iter() {
        out.push_str(name);
        out.push(',');
    }
    out.push('\n');
    out
}

fn stat_csv(rows: &[Row]) -> String {
    let mut out = stat_header();
    for row in rows {
        row.csv(&mut out);
    }
    out
}

/// `F.<iid>.<sid>.<pos>.<name>.1:<tags>:<type>:<value>` for every non-empty cell. Typed
/// positions skip the `-` column.
fn stat_typed(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        for (i, value) in row.cells.iter().enumerate() {
            if let Some((pos, name, tags, kind)) = typed_cell(row, i, value) {
                let letter = ['F', 'B', 'S'][row.kind as usize];
                let _ = writeln!(
                    out,
                    "{letter}.{}.{}.{pos}.{name}.1:{tags}:{kind}:{value}",
                    row.iid, row.sid
                );
            }
        }
    }
    out
}

fn stat_json(rows: &[Row]) -> String {
    let mut out = String::from("[");
    for (r, row) in rows.iter().enumerate() {
        out.push_str(if r == 0 { "[" } else { ",[" });
        let mut first = true;
        for (i, value) in row.cells.iter().enumerate() {
            let Some((pos, name, tags, kind)) = typed_cell(row, i, value) else {
                continue;
            };
            if !first {
                out.push(',');
            }
            first = false;
            let obj = ["Frontend", "Backend", "Server"][row.kind as usize];
            let _ = write!(
                out,
                "{{\"objType\":\"{obj}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{pos},\"name\":\"{name}\"}},\"processNum\":1,{},{}}}",
                row.iid,
                row.sid,
                json_tags(tags),
                json_value(kind, value)
            );
        }
        out.push(']');
    }
    out.push_str("]\n");
    out
}

/// Position, name, tags and type of a non-empty cell for the typed and JSON forms.
fn typed_cell<'a>(row: &Row, i: usize, value: &str) -> Option<(usize, &'a str, &'a str, &'a str)> {
    let (name, tags, kind) = COLUMNS[i];
    // HAProxy reports the (empty) last check output of a checked server in typed forms.
    let empty_check_output = name == "last_chk" && !row.cells[36].is_empty();
    if (value.is_empty() && !empty_check_output) || i == 103 {
        return None;
    }
    let pos = if i > 103 { i - 1 } else { i };
    // A BACKEND's act/bck are counts and its rates are gauges.
    let backend_gauge = ["act", "bck", "rate", "rate_max"].contains(&name);
    let tags = if row.kind == TYPE_BACKEND && backend_gauge {
        "MGP"
    } else {
        tags
    };
    Some((pos, name, tags, kind))
}

/// The `"tags"` object of a typed field (`KNS` ─▶ Key, Name, Service).
fn json_tags(tags: &str) -> String {
    let mut letters = tags.chars();
    let origin = match letters.next() {
        Some('K') => "Key",
        Some('M') => "Metric",
        Some('S') => "Status",
        Some('C') => "Config",
        Some('P') => "Product",
        _ => "Unknown",
    };
    let nature = match letters.next() {
        Some('A') => "Age",
        Some('a') => "Avg",
        Some('C') => "Counter",
        Some('D') => "Duration",
        Some('G') => "Gauge",
        Some('L') => "Limit",
        Some('M') => "Max",
        Some('N') => "Name",
        Some('O') => "Output",
        Some('R') => "Rate",
        Some('T') => "Time",
        _ => "Unknown",
    };
    let scope = match letters.next() {
        Some('P') => "Process",
        Some('S') => "Service",
        Some('s') => "System",
        Some('C') => "Cluster",
        _ => "Unknown",
    };
    format!("\"tags\":{{\"origin\":\"{origin}\",\"nature\":\"{nature}\",\"scope\":\"{scope}\"}}")
}

fn json_value(kind: &str, value: &str) -> String {
    let numeric = kind != "str" && value.parse::<i64>().is_ok();
    if numeric {
        format!("\"value\":{{\"type\":\"{kind}\",\"value\":{value}}}")
    } else {
        format!(
            "\"value\":{{\"type\":\"{kind}\",\"value\":\"{}\"}}",
            json_escape(value)
        )
    }
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Every row the request selects, in HAProxy's order: for each proxy by id, its FRONTEND,
/// its servers, its BACKEND.
fn stat_rows(req: &StatRequest, state: &State, stats: &StatsSnapshot, ctx: Context) -> Vec<Row> {
    let filter = req.filter.unwrap_or(StatFilter {
        iid: -1,
        types: -1,
        sid: -1,
    });
    let wants = |kind: i64| filter.types & (1 << kind) != 0;
    let mut ids: Vec<u32> = state.frontends.iter().map(|f| f.id).collect();
    ids.extend(state.backends.iter().map(|b| b.id));
    ids.sort_unstable();
    ids.dedup();

    let mut rows = Vec::new();
    for id in ids
        .into_iter()
        .filter(|id| filter.iid == -1 || filter.iid == i64::from(*id))
    {
        let frontend = state.frontends.iter().position(|f| f.id == id);
        if let (Some(i), true) = (frontend, wants(TYPE_FRONTEND)) {
            rows.push(frontend_row(&state.frontends[i], stats.frontend(i), ctx));
        }
        let Some(b) = state.backends.iter().position(|b| b.id == id) else {
            continue;
        };
        let backend = &state.backends[b];
        if wants(TYPE_SERVER) {
            for server in backend.servers.iter().filter(|s| shown(req, s)) {
                if filter.sid == -1 || filter.sid == i64::from(server.id) {
                    rows.push(server_row(backend, server, stats.server(b, server.id), ctx));
                }
            }
        }
        if wants(TYPE_BACKEND) {
            rows.push(backend_row(backend, stats.backend(b), req, ctx));
        }
    }
    rows
}

/// `up` hides DOWN and MAINT servers, `no-maint` hides MAINT ones.
fn shown(req: &StatRequest, server: &Server) -> bool {
    let maint = server.admin == AdminState::Maint;
    let down = maint || server.op == OpState::Down;
    let hidden = (req.hide_maint && maint) || (req.hide_down && down);
    !hidden
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Http => "http",
        Mode::Tcp => "tcp",
    }
}

/// Counters every row type shows the same way.
fn set_traffic(row: &mut Row, c: &Counters) {
    row.set("scur", c.scur);
    row.set("smax", c.smax);
    row.set("stot", c.stot);
    row.set("bin", c.bin);
    row.set("bout", c.bout);
    row.set("dresp", c.dresp);
    row.set("pid", 1);
    for (i, n) in c.hrsp.iter().enumerate() {
        let name = [
            "hrsp_1xx",
            "hrsp_2xx",
            "hrsp_3xx",
            "hrsp_4xx",
            "hrsp_5xx",
            "hrsp_other",
        ][i];
        row.set(name, n);
    }
    row.set("req_tot", c.req_tot);
    row.zero(&["rate", "rate_max", "wrew", "eint"]);
    // The SSL module columns exist on every row.
    row.zero_range(104, 106);
}

/// Counters of rows that talk to servers (server and BACKEND rows).
fn set_server_side(row: &mut Row, c: &Counters) {
    row.set("qcur", c.qcur);
    row.set("qmax", c.qmax);
    row.zero(&["qtime", "ctime", "rtime"]);
    row.zero(&["qtime_max", "ctime_max", "rtime_max"]);
    row.set("econ", c.econ);
    row.set("eresp", c.eresp);
    row.set("wretr", c.wretr);
    row.set("wredis", c.wredis);
    row.set("lbtot", c.lbtot);
    row.set("cli_abrt", c.cli_abrt);
    row.set("srv_abrt", c.srv_abrt);
    row.set("lastsess", if c.stot == 0 { -1 } else { 0 });
    row.set("ttime", c.ttime_sum_ms.checked_div(c.stot).unwrap_or(0));
    row.set("ttime_max", c.ttime_max_ms);
    row.set("connect", c.connect);
    row.set("reuse", c.reuse);
}

fn frontend_row(f: &Frontend, c: Counters, ctx: Context) -> Row {
    let mut row = Row::new(TYPE_FRONTEND, f.id, 0);
    row.set("pxname", &f.name);
    row.set("svname", "FRONTEND");
    set_traffic(&mut row, &c);
    row.set("slim", ctx.info.maxconn);
    row.set("dreq", c.dreq);
    row.set("ereq", c.ereq);
    row.set("status", if f.enabled { "OPEN" } else { "PAUSED" });
    row.set("iid", f.id);
    row.set("sid", 0);
    row.set("type", TYPE_FRONTEND);
    row.zero(&[
        "rate_lim",
        "req_rate",
        "req_rate_max",
        "conn_rate",
        "conn_rate_max",
    ]);
    row.zero(&["comp_in", "comp_out", "comp_byp", "comp_rsp"]);
    row.zero(&["intercepted", "dcon", "dses", "cache_lookups", "cache_hits"]);
    row.set("conn_tot", c.stot);
    row.set("mode", mode_name(f.mode));
    set_proxy_modules(&mut row, &c);
    row
}

/// The HTTP/2 and HTTP/1 module columns of FRONTEND and BACKEND rows (HTTP/1 only).
fn set_proxy_modules(row: &mut Row, c: &Counters) {
    row.zero_range(107, 127);
    row.set("h1_open_connections", c.scur);
    row.set("h1_total_connections", c.stot);
    row.set("h1_total_streams", c.req_tot);
    row.set("h1_bytes_in", c.bin);
    row.set("h1_bytes_out", c.bout);
}

fn server_row(b: &Backend, s: &Server, c: Counters, ctx: Context) -> Row {
    let mut row = Row::new(TYPE_SERVER, b.id, s.id);
    row.set("pxname", &b.name);
    row.set("svname", &s.name);
    set_traffic(&mut row, &c);
    set_server_side(&mut row, &c);
    if let Some(maxconn) = s.maxconn {
        row.set("slim", maxconn);
    }
    row.set("status", server_status(s));
    // HAProxy's `weight` is the effective one (slow start), `uweight` the user's.
    row.set("weight", s.effective_weight());
    row.set("uweight", s.weight);
    row.set("act", u8::from(!s.backup));
    row.set("bck", u8::from(s.backup));
    row.set("lastchg", ctx.now.saturating_sub(s.last_change));
    if s.check.active() {
        row.set("chkfail", s.check.failures);
        row.set("chkdown", s.check.downs);
        row.set("downtime", downtime(s, ctx.now));
    }
    if s.check.active() && s.admin != AdminState::Maint {
        set_check_columns(&mut row, s);
    }
    row.set("iid", b.id);
    row.set("sid", s.id);
    row.set("type", TYPE_SERVER);
    row.set("addr", s.addr);
    if let Some(cookie) = &s.cookie {
        row.set("cookie", cookie);
    }
    row.set("mode", mode_name(b.mode));
    row.set("srv_icur", c.idle_conns);
    if s.dynamic {
        row.set("src_ilim", 0);
    }
    row.set("idle_conn_cur", c.idle_conns);
    row.set("safe_conn_cur", 0);
    row.set("used_conn_cur", c.scur);
    row.set("need_conn_est", c.scur + c.idle_conns);
    row
}

fn set_check_columns(row: &mut Row, s: &Server) {
    let check = &s.check;
    row.set("check_status", check.status.code());
    if let Some(code) = check.code {
        row.set("check_code", code);
    }
    if let Some(ms) = check.duration_ms {
        row.set("check_duration", ms);
    }
    row.set("check_desc", check.status.description());
    row.set("check_rise", check.rise);
    row.set("check_fall", check.fall);
    row.set("check_health", check.health);
}

/// Seconds DOWN: past stretches plus the current one.
fn downtime(s: &Server, now: u64) -> u64 {
    let current = if s.op == OpState::Down {
        now.saturating_sub(s.last_change)
    } else {
        0
    };
    s.downtime + current
}

/// A server's `status` column: HAProxy's `srv_hlt_st` chosen as `srv_get_stats_state`.
pub fn server_status(s: &Server) -> String {
    if s.admin == AdminState::Maint {
        return "MAINT".to_string();
    }
    let check = &s.check;
    let checked = check.active();
    let draining = s.admin == AdminState::Drain || s.deleting;
    let (health, rise, fall) = (
        i64::from(check.health),
        i64::from(check.rise),
        i64::from(check.fall),
    );
    let going = |label: &str| match s.op {
        OpState::Down => format!("{label} {health}/{rise}"),
        _ => format!("{label} {}/{fall}", health - rise + 1),
    };
    match s.op {
        OpState::Up => {
            let going_down = checked && check.health < check.max_health();
            match (draining, going_down) {
                (true, true) => going("DRAIN"),
                (true, false) => "DRAIN".to_string(),
                (false, true) => going("UP"),
                (false, false) if checked => "UP".to_string(),
                (false, false) => "no check".to_string(),
            }
        }
        OpState::Stopping if !checked || check.health == check.max_health() => "NOLB".to_string(),
        OpState::Stopping => going("NOLB"),
        OpState::Down if checked && check.health > 0 => going("DOWN"),
        OpState::Down => "DOWN".to_string(),
    }
}

fn backend_row(b: &Backend, c: Counters, req: &StatRequest, ctx: Context) -> Row {
    let mut row = Row::new(TYPE_BACKEND, b.id, 0);
    row.set("pxname", &b.name);
    row.set("svname", "BACKEND");
    set_traffic(&mut row, &c);
    set_server_side(&mut row, &c);
    row.set("slim", ctx.info.maxconn.div_ceil(10));
    row.set("dreq", c.dreq);
    let weight: u32 = b.eligible().map(|(_, s)| s.weight).sum();
    let mut status = if weight > 0 || b.servers.is_empty() {
        "UP".to_string()
    } else {
        "DOWN".to_string()
    };
    if req.hide_down || req.hide_maint {
        let up = b
            .servers
            .iter()
            .filter(|s| s.admin != AdminState::Maint && s.op != OpState::Down)
            .count();
        let _ = write!(status, " ({up}/{})", b.servers.len());
    }
    row.set("status", status);
    row.set("weight", weight);
    row.set("uweight", weight);
    let usable = |backup: bool| {
        let servers = b.servers.iter();
        servers
            .filter(|s| s.backup == backup && s.takes_new_traffic())
            .count()
    };
    row.set("act", usable(false));
    row.set("bck", usable(true));
    row.set("chkdown", 0);
    row.set("lastchg", ctx.now.saturating_sub(ctx.info.start_time));
    if !b.servers.is_empty() {
        row.set("downtime", 0);
    }
    row.set("iid", b.id);
    row.set("sid", 0);
    row.set("type", TYPE_BACKEND);
    row.zero(&["comp_in", "comp_out", "comp_byp", "comp_rsp"]);
    row.zero(&["cache_lookups", "cache_hits"]);
    row.set("mode", mode_name(b.mode));
    row.set("algo", b.algorithm.name());
    if let Some(cookie) = &b.cookie {
        row.set("cookie", &cookie.name);
    }
    row.zero(&[
        "agg_server_status",
        "agg_server_check_status",
        "agg_check_status",
    ]);
    set_proxy_modules(&mut row, &c);
    row
}

/// `show backend`.
pub fn show_backend(state: &State) -> String {
    let mut out = String::from("# name\n");
    for b in &state.backends {
        out.push_str(&b.name);
        out.push('\n');
    }
    out
}

/// `show servers state [backend]`: format version 1.
pub fn show_servers_state(state: &State, backend: Option<usize>, now: u64) -> String {
    let mut out = String::from("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
    for (_, b) in selected_backends(state, backend) {
        for s in &b.servers {
            let stopped = s.admin == AdminState::Maint || s.op == OpState::Down;
            let op_state = match s.op {
                _ if stopped => 0,
                OpState::Stopping => 3,
                _ => 2,
            };
            let health = if stopped { 0 } else { s.check.health };
            let _ = writeln!(
                out,
                "{} {} {} {} {} {op_state} {} {} {} {} {} {} {health} {} 0 0 0 - {} - 0 0 - - 0",
                b.id,
                b.name,
                s.id,
                s.name,
                s.addr.ip(),
                admin_flags(s),
                s.weight,
                s.initial_weight,
                now.saturating_sub(s.last_change),
                check_status_number(s),
                check_result_number(s),
                check_state_flags(s),
                s.addr.port(),
            );
        }
    }
    out
}

fn selected_backends(
    state: &State,
    backend: Option<usize>,
) -> impl Iterator<Item = (usize, &Backend)> {
    state
        .backends
        .iter()
        .enumerate()
        .filter(move |(i, _)| backend.is_none_or(|b| b == *i))
}

/// HAProxy's `SRV_ADMF_*` bits: FMAINT 0x01, FDRAIN 0x08.
fn admin_flags(s: &Server) -> u32 {
    match s.admin {
        AdminState::Ready if s.deleting => 0x08,
        AdminState::Ready => 0,
        AdminState::Maint => 0x01,
        AdminState::Drain => 0x08,
    }
}

/// HAProxy's `HCHK_STATUS_*` numbers.
fn check_status_number(s: &Server) -> u32 {
    match s.check.status {
        CheckStatus::Init => 1,
        CheckStatus::Hana => 4,
        CheckStatus::L4Ok => 6,
        CheckStatus::L4Tout => 7,
        CheckStatus::L4Con => 8,
        CheckStatus::L7Tout => 12,
        CheckStatus::L7Rsp => 13,
        CheckStatus::L7Ok => 15,
        CheckStatus::L7Sts => 17,
    }
}

/// HAProxy's `CHK_RES_*`: 0 unknown, 2 failed, 3 passed.
fn check_result_number(s: &Server) -> u32 {
    match s.check.status {
        CheckStatus::Init => 0,
        status if status.is_ok() => 3,
        _ => 2,
    }
}

/// HAProxy's `CHK_ST_*` bits: CONFIGURED 0x02, ENABLED 0x04, PAUSED 0x08 (in maintenance).
fn check_state_flags(s: &Server) -> u32 {
    let check = &s.check;
    let mut flags = 0;
    if check.configured {
        flags |= 0x02;
        if check.enabled {
            flags |= 0x04;
            if s.admin == AdminState::Maint {
                flags |= 0x08;
            }
        }
    }
    flags
}

/// `show servers conn [backend]` from each shard's counters (shard 0 first): the totals, and
/// `idle_per_thr[N]` with one column per shard, as HAProxy has one per thread.
pub fn show_servers_conn(
    state: &State,
    shards: &[StatsSnapshot],
    backend: Option<usize>,
) -> String {
    let mut out = format!("# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[{}]\n", shards.len());
    let mut total = StatsSnapshot::default();
    for shard in shards {
        total.add(shard);
    }
    for (i, b) in selected_backends(state, backend) {
        for s in &b.servers {
            let c = total.server(i, s.id);
            let _ = write!(
                out,
                "{}/{} {}/{} {} {} - {} {} {} {} 0 {} {} {}",
                b.name,
                s.name,
                b.id,
                s.id,
                s.addr.ip(),
                s.addr.port(),
                if s.dynamic { 0 } else { 5000 },
                c.scur,
                c.smax,
                c.scur + c.idle_conns,
                c.idle_conns,
                if s.dynamic { 0 } else { -1 },
                c.idle_conns,
            );
            // HAProxy prints no per-thread columns for a dynamic server.
            if !s.dynamic {
                for shard in shards {
                    let _ = write!(out, " {}", shard.server(i, s.id).idle_conns);
                }
            }
            out.push('\n');
        }
    }
    out
}

/// `show info` in the requested form.
pub fn show_info(format: InfoFormat, stats: &StatsSnapshot, ctx: Context) -> String {
    let values = info_values(stats, ctx);
    let mut out = String::new();
    match format {
        InfoFormat::Plain => {
            for ((_, name, _, _), value) in INFO_FIELDS.iter().zip(&values) {
                let _ = writeln!(out, "{name}: {value}");
            }
        }
        InfoFormat::Typed => {
            for ((pos, name, tags, kind), value) in INFO_FIELDS.iter().zip(&values) {
                let _ = writeln!(out, "{pos}.{name}.1:{tags}:{kind}:{value}");
            }
        }
        InfoFormat::Json => {
            out.push('[');
            for (i, ((pos, name, tags, kind), value)) in INFO_FIELDS.iter().zip(&values).enumerate()
            {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    "{{\"field\":{{\"pos\":{pos},\"name\":\"{name}\"}},\"processNum\":1,{},{}}}",
                    json_tags(tags),
                    json_value(kind, value)
                );
            }
            out.push_str("]\n");
        }
    }
    out
}

/// `0d 0h00m29s`.
fn uptime(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86400,
        seconds % 86400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    format!("{d}d {h}h{m:02}m{s:02}s")
}

/// The values of [`INFO_FIELDS`], in order.
fn info_values(stats: &StatsSnapshot, ctx: Context) -> Vec<String> {
    let info = ctx.info;
    let up = ctx.now.saturating_sub(info.start_time);
    let bytes_out: u64 = stats.frontends.iter().map(|c| c.bout).sum();
    let jobs = stats.curr_conns + info.listeners as u64;
    INFO_FIELDS
        .iter()
        .map(|(_, name, _, _)| match *name {
            "Name" => "pointsman".to_string(),
            "Version" => env!("CARGO_PKG_VERSION").to_string(),
            "Release_date" => "-".to_string(),
            "Nbthread" => info.nbthread.to_string(),
            "Nbproc" | "Process_num" => "1".to_string(),
            "Pid" => info.pid.to_string(),
            "Uptime" => uptime(up),
            "Uptime_sec" => up.to_string(),
            "Ulimit-n" | "Maxsock" => info.ulimit_n.to_string(),
            "Maxconn" | "Hard_maxconn" => info.maxconn.to_string(),
            "CurrConns" => stats.curr_conns.to_string(),
            "CumConns" => stats.cum_conns.to_string(),
            "CumReq" => stats.cum_req.to_string(),
            "Tasks" | "Jobs" => jobs.to_string(),
            "Idle_pct" => info.idle_pct.to_string(),
            "node" => info.node.clone(),
            "Listeners" => info.listeners.to_string(),
            "TotalBytesOut" => bytes_out.to_string(),
            "Build info" => VERSION.to_string(),
            "Start_time_sec" => info.start_time.to_string(),
            _ => "0".to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::command::plan;
    use crate::admin::testutil::{capture_state, fixture, nginx2, process_info, START};
    use crate::admin::Action;
    use crate::state::{apply, CheckDetail, Mutation, ServerSpec};
    use std::collections::BTreeMap;

    /// Columns whose values come from measurements pointsman does not take (rates, maxima
    /// of rates, time since the last session, HTTP/1 module byte counts that include
    /// HAProxy's own framing) or from HAProxy internals (connection-reuse estimate).
    const MEASURED_ELSEWHERE: &[&str] = &[
        "rate_max",
        "req_rate_max",
        "conn_rate_max",
        "lastsess",
        "need_conn_est",
        "h1_open_connections",
        "h1_bytes_in",
        "h1_bytes_out",
    ];

    /// Counters equal to those of the capture's first `show stat` (one request to nginx2).
    fn capture_counters() -> StatsSnapshot {
        let request = Counters {
            smax: 1,
            stot: 1,
            bin: 82,
            bout: 136,
            lbtot: 1,
            hrsp: [0, 1, 0, 0, 0, 0],
            req_tot: 1,
            connect: 1,
            ..Counters::default()
        };
        let mut nginx2 = request;
        nginx2.idle_conns = 1;
        StatsSnapshot {
            frontends: vec![request, Counters::default()],
            backends: vec![request, Counters::default()],
            servers: vec![BTreeMap::from([(2, nginx2)]), BTreeMap::new()],
            cum_conns: 10,
            cum_req: 3,
            curr_conns: 0,
            busy_ns: 0,
        }
    }

    fn csv(state: &State, stats: &StatsSnapshot, req: &StatRequest, now: u64) -> String {
        let info = process_info();
        show_stat(req, state, stats, Context { info: &info, now })
    }

    /// Column `i` of the row starting with `prefix`.
    fn cell(text: &str, prefix: &str, i: usize) -> String {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap();
        cells(line)[i].to_string()
    }

    fn cells(line: &str) -> Vec<&str> {
        line.split(',').collect()
    }

    /// Compares our CSV with a capture, cell by cell, on the given columns (all when empty).
    fn assert_same_cells(ours: &str, capture: &str, columns: &[&str], skip: &[&str]) {
        let ours: Vec<&str> = ours.lines().collect();
        let theirs: Vec<&str> = capture.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(ours.len(), theirs.len(), "row count\n{}", ours.join("\n"));
        assert_eq!(ours[0], theirs[0], "header");
        for (o, t) in ours.iter().zip(&theirs).skip(1) {
            let (o, t) = (cells(o), cells(t));
            assert_eq!(o.len(), t.len());
            for (i, (name, _, _)) in COLUMNS.iter().enumerate() {
                let wanted = columns.is_empty() || columns.contains(name);
                if wanted && !skip.contains(name) {
                    assert_eq!(o[i], t[i], "{}/{} column {i} {name}", t[0], t[1]);
                }
            }
        }
    }

    #[test]
    fn show_stat_matches_the_initial_capture() {
        let state = capture_state();
        let ours = csv(&state, &capture_counters(), &StatRequest::all(), START + 7);
        let capture = fixture("show_stat.txt");
        assert!(ours.lines().all(|l| l.ends_with(',')));
        assert_same_cells(&ours, &capture, &[], MEASURED_ELSEWHERE);
    }

    /// The columns that show a server's and a backend's state.
    const STATE_COLUMNS: &[&str] = &[
        "status",
        "weight",
        "act",
        "bck",
        "chkfail",
        "chkdown",
        "check_status",
        "check_duration",
        "check_desc",
        "check_rise",
        "check_fall",
        "check_health",
        "addr",
        "uweight",
        "iid",
        "sid",
        "type",
        "mode",
        "algo",
    ];

    /// Runs admin commands on the capture state (mutations applied at `now`).
    fn after(commands: &[&str], now: u64) -> State {
        let mut state = capture_state();
        for line in commands {
            match plan(line, &state, crate::config::Level::Admin) {
                Action::Mutate { mutations, .. } => {
                    for m in &mutations {
                        apply(&mut state, m, now).unwrap();
                    }
                }
                Action::Reply(r) => assert_eq!(r, "", "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        state
    }

    /// Same state columns as the capture; `chkfail`/`chkdown` are skipped because the
    /// captures carry the counts of earlier transitions of the capture session.
    fn assert_state_like(state: &State, capture: &str) {
        let ours = csv(state, &capture_counters(), &StatRequest::all(), START + 7);
        assert_same_cells(
            &ours,
            &fixture(capture),
            STATE_COLUMNS,
            &["chkfail", "chkdown"],
        );
    }

    #[test]
    fn server_states_match_the_captures() {
        let now = START + 7;
        let disabled = after(&["disable server bk_app/nginx2"], now);
        assert_state_like(&disabled, "stat_after_disable.txt");
        // The first capture after start: entering maintenance counts as one "down".
        let ours = csv(&disabled, &capture_counters(), &StatRequest::all(), now);
        let chk = ["chkfail", "chkdown", "lastchg", "downtime"];
        assert_same_cells(
            &ours,
            &fixture("stat_after_disable.txt"),
            &chk,
            &["lastchg"],
        );
        assert_state_like(
            &after(&["set server bk_app/nginx2 state drain"], now),
            "stat_after_drain.txt",
        );
        assert_state_like(
            &after(&["set server bk_app/nginx2 weight 0"], now),
            "stat_after_weight0.txt",
        );
        assert_state_like(
            &after(
                &[
                    "disable server bk_app/nginx2",
                    "enable server bk_app/nginx2",
                ],
                now,
            ),
            "stat_after_enable.txt",
        );
    }

    #[test]
    fn checks_and_health_match_the_captures() {
        let now = START + 7;
        let state = after(&["disable health bk_app/nginx2"], now);
        assert_state_like(&state, "stat_after_disable_health.txt");

        // The capture had earlier failures: 11 failed checks, 11 downs before this one.
        let mut state = after(&["set server bk_app/nginx2 health down"], now);
        let s = state.server_mut(nginx2()).unwrap();
        s.check.failures = 11;
        s.check.downs = 12;
        s.check.status = CheckStatus::L4Ok;
        state.backends[0].servers[0].check.downs = 1;
        let ours = csv(&state, &capture_counters(), &StatRequest::all(), START + 7);
        let only: Vec<&str> = STATE_COLUMNS.to_vec();
        // pointsman does not count a backend's own DOWN transitions (BACKEND chkdown).
        assert_same_cells(
            &ours,
            &fixture("stat_after_health_down.txt"),
            &only,
            &["chkdown"],
        );
        assert_eq!(
            cell(&ours, "bk_app,nginx2", 22),
            cell(&fixture("stat_after_health_down.txt"), "bk_app,nginx2", 22)
        );

        let mut state = after(&["set server bk_app/nginx2 health stopping"], now);
        let s = state.server_mut(nginx2()).unwrap();
        s.check.failures = 11;
        s.check.downs = 12;
        state.backends[0].servers[0].check.downs = 1;
        let ours = csv(&state, &capture_counters(), &StatRequest::all(), START + 7);
        // pointsman does not count a backend's own DOWN transitions (BACKEND chkdown).
        assert_same_cells(
            &ours,
            &fixture("stat_after_health_stopping.txt"),
            &only,
            &["chkdown"],
        );
        assert_eq!(
            cell(&ours, "bk_app,nginx2", 22),
            cell(
                &fixture("stat_after_health_stopping.txt"),
                "bk_app,nginx2",
                22
            )
        );
    }

    #[test]
    fn all_servers_in_maintenance_take_the_backend_down() {
        let mut state = after(
            &[
                "disable server bk_app/nginx1",
                "disable server bk_app/nginx2",
            ],
            START + 7,
        );
        let s = state.server_mut(nginx2()).unwrap();
        s.check.failures = 11;
        s.check.downs = 11;
        let s = state.backends[0].servers.get_mut(0).unwrap();
        s.check.downs = 1;
        assert_state_like(&state, "stat_all_maint.txt");
    }

    #[test]
    fn a_dynamic_server_added_disabled_looks_like_haproxys() {
        let mut state = capture_state();
        let spec = crate::admin::testutil::spec("nginx3", 28083, false);
        let disabled = ServerSpec {
            disabled: true,
            ..spec
        };
        let add = Mutation::AddServer {
            backend: 0,
            spec: disabled,
        };
        apply(&mut state, &add, START + 7).unwrap();
        // HAProxy does not start the checks of a dynamic server until `enable health`.
        state.backends[0].servers[2].check.enabled = false;
        let ours = csv(&state, &capture_counters(), &StatRequest::all(), START + 7);
        let mut columns = STATE_COLUMNS.to_vec();
        columns.extend(["downtime", "src_ilim", "lastchg"]);
        let capture = fixture("stat_after_add.txt");
        let nginx3 = |text: &str| {
            let line = text
                .lines()
                .find(|l| l.starts_with("bk_app,nginx3"))
                .unwrap();
            line.to_string()
        };
        let header = stat_header();
        assert_same_cells(
            &format!("{header}{}\n", nginx3(&ours)),
            &format!("{header}{}\n", nginx3(&capture)),
            &columns,
            &[],
        );
    }

    #[test]
    fn status_strings() {
        let mut state = capture_state();
        let server = nginx2();
        let status = |state: &State| server_status(state.server(server).unwrap());
        assert_eq!(status(&state), "UP");
        let fail = Mutation::CheckResult {
            server,
            status: CheckStatus::L4Con,
            detail: CheckDetail::default(),
        };
        apply(&mut state, &fail, START).unwrap();
        assert_eq!(status(&state), "UP 2/3");
        apply(&mut state, &fail, START).unwrap();
        assert_eq!(status(&state), "UP 1/3");
        apply(&mut state, &fail, START).unwrap();
        assert_eq!(status(&state), "DOWN");
        let ok = Mutation::CheckResult {
            server,
            status: CheckStatus::L4Ok,
            detail: CheckDetail::default(),
        };
        apply(&mut state, &ok, START).unwrap();
        assert_eq!(status(&state), "DOWN 1/2");
        apply(&mut state, &ok, START).unwrap();
        assert_eq!(status(&state), "UP");
        let s = state.server_mut(server).unwrap();
        s.check.configured = false;
        assert_eq!(status(&state), "no check");
        let s = state.server_mut(server).unwrap();
        s.admin = AdminState::Drain;
        assert_eq!(status(&state), "DRAIN");
        let s = state.server_mut(server).unwrap();
        s.check.configured = true;
        s.check.health = 0;
        s.admin = AdminState::Ready;
        assert_eq!(status(&state), "UP -1/3");
    }

    #[test]
    fn up_and_no_maint_hide_servers_and_count_them() {
        let state = after(
            &[
                "disable server bk_app/nginx1",
                "set server bk_app/nginx2 health down",
            ],
            START + 7,
        );
        for (option, capture) in [(true, "show_stat_up.txt"), (false, "show_stat_nomaint.txt")] {
            let req = StatRequest {
                hide_down: option,
                hide_maint: !option,
                ..StatRequest::all()
            };
            let ours = csv(&state, &capture_counters(), &req, START + 7);
            let columns = ["pxname", "svname", "status", "weight", "act", "bck"];
            let skip_down_server = !option;
            if skip_down_server {
                // no-maint keeps the DOWN nginx2, which the capture (both MAINT) hides.
                let statuses: Vec<&str> = ours.lines().skip(1).map(|l| cells(l)[17]).collect();
                assert_eq!(statuses, ["OPEN", "DOWN", "DOWN (0/2)", "OPEN", "UP (0/0)"]);
                continue;
            }
            assert_same_cells(&ours, &fixture(capture), &columns, &[]);
        }
    }

    #[test]
    fn filters_select_rows() {
        let state = capture_state();
        let rows = |filter: StatFilter| {
            let req = StatRequest {
                filter: Some(filter),
                ..StatRequest::all()
            };
            let out = csv(&state, &StatsSnapshot::default(), &req, START);
            let names: Vec<String> = out
                .lines()
                .skip(1)
                .map(|l| {
                    let c = cells(l);
                    format!("{}/{}", c[0], c[1])
                })
                .collect();
            names
        };
        let f = |iid, types, sid| StatFilter { iid, types, sid };
        assert_eq!(rows(f(-1, 4, -1)), ["bk_app/nginx1", "bk_app/nginx2"]);
        assert_eq!(
            rows(f(3, -1, -1)),
            ["bk_app/nginx1", "bk_app/nginx2", "bk_app/BACKEND"]
        );
        assert_eq!(rows(f(3, 4, 2)), ["bk_app/nginx2"]);
        assert_eq!(rows(f(2, -1, -1)), ["app/FRONTEND"]);
        assert_eq!(rows(f(4, 3, -1)), ["stats/FRONTEND", "stats/BACKEND"]);
        assert!(rows(f(99, -1, -1)).is_empty());
    }

    #[test]
    fn typed_row_has_haproxys_fields_tags_and_types() {
        let state = capture_state();
        let req = StatRequest {
            filter: Some(StatFilter {
                iid: 3,
                types: 4,
                sid: 2,
            }),
            format: StatFormat::Typed,
            ..StatRequest::all()
        };
        let ours = csv(&state, &capture_counters(), &req, START + 30);
        let key = |line: &str| {
            let (field, rest) = line.split_once(':').unwrap();
            let (tags, rest) = rest.split_once(':').unwrap();
            let kind = rest.split_once(':').unwrap().0;
            format!("{field}:{tags}:{kind}")
        };
        let ours: Vec<String> = ours.lines().map(key).collect();
        let capture = fixture("show_stat_3_4_2_typed.txt");
        let theirs: Vec<String> = capture.lines().filter(|l| !l.is_empty()).map(key).collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn json_has_haproxys_shape() {
        let state = capture_state();
        let req = StatRequest {
            format: StatFormat::Json,
            ..StatRequest::all()
        };
        let ours = csv(&state, &capture_counters(), &req, START + 7);
        let capture = fixture("show_stat_json.txt");
        assert!(ours.starts_with("[[{\"objType\":\"Frontend\",\"proxyId\":2,\"id\":0,\"field\":{\"pos\":0,\"name\":\"pxname\"},\"processNum\":1,\"tags\":{\"origin\":\"Key\",\"nature\":\"Name\",\"scope\":\"Service\"},\"value\":{\"type\":\"str\",\"value\":\"app\"}}"));
        assert!(ours.ends_with("}]]\n"));
        assert_eq!(ours.matches("],[").count(), capture.matches("],[").count());
    }

    #[test]
    fn show_info_has_every_field_in_order() {
        let info = process_info();
        let ctx = Context {
            info: &info,
            now: START + 29,
        };
        let ours = show_info(InfoFormat::Plain, &capture_counters(), ctx);
        let keys = |text: &str| -> Vec<String> {
            let lines = text.lines().filter(|l| !l.is_empty());
            lines
                .map(|l| l.split_once(": ").unwrap().0.to_string())
                .collect()
        };
        assert_eq!(keys(&ours), keys(&fixture("show_info.txt")));
        for line in [
            "Name: pointsman",
            "Uptime: 0d 0h00m29s",
            "node: vm",
            "Pid: 6720",
        ] {
            assert!(ours.contains(&format!("{line}\n")), "{line}");
        }
        let typed = show_info(InfoFormat::Typed, &capture_counters(), ctx);
        let prefix = |text: &str| -> Vec<String> {
            let lines = text.lines().filter(|l| !l.is_empty());
            lines
                .map(|l| l.rsplit_once(':').unwrap().0.to_string())
                .collect()
        };
        let theirs = fixture("show_info_typed.txt");
        let names = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|p| p.split_once(':').unwrap().0.to_string())
                .collect()
        };
        assert_eq!(names(prefix(&typed)), names(prefix(&theirs)));
        let json = show_info(InfoFormat::Json, &capture_counters(), ctx);
        assert!(json.starts_with("[{\"field\":{\"pos\":0,\"name\":\"Name\"},\"processNum\":1,\"tags\":{\"origin\":\"Product\",\"nature\":\"Output\",\"scope\":\"Service\"},\"value\":{\"type\":\"str\",\"value\":\"pointsman\"}}"));
        assert!(json.ends_with("\"value\":{\"type\":\"str\",\"value\":\"0\"}}]\n"));
    }

    /// `show servers state` rows without `srv_time_since_last_change` (column 9).
    fn servers_state_without_time(text: &str) -> Vec<String> {
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut words: Vec<&str> = l.split(' ').collect();
                if words.len() > 9 && !l.starts_with('#') {
                    words[9] = "T";
                }
                words.join(" ")
            })
            .collect()
    }

    #[test]
    fn servers_state_matches_the_captures() {
        let cases: [(&[&str], &str); 3] = [
            (&[], "show_servers_state.txt"),
            (
                &["disable server bk_app/nginx2"],
                "servers_state_after_disable.txt",
            ),
            (
                &["disable health bk_app/nginx2"],
                "servers_state_after_disable_health.txt",
            ),
        ];
        for (commands, capture) in cases {
            let state = after(commands, START + 7);
            let ours = show_servers_state(&state, None, START + 39);
            assert_eq!(
                servers_state_without_time(&ours),
                servers_state_without_time(&fixture(capture)),
                "{capture}"
            );
        }
        let state = capture_state();
        assert_eq!(
            show_servers_state(&state, Some(1), START).lines().count(),
            2
        );
    }

    #[test]
    fn servers_conn_and_backend_match_the_captures() {
        let state = capture_state();
        let mut stats = capture_counters();
        let nginx1 = Counters {
            smax: 1,
            ..Counters::default()
        };
        stats.servers[0].insert(1, nginx1);
        // The capture's second thread had nothing: an empty second shard.
        let ours = show_servers_conn(&state, &[stats, StatsSnapshot::default()], None);
        let capture = fixture("show_servers_conn.txt");
        let header = |t: &str| t.lines().next().unwrap().to_string();
        assert_eq!(header(&ours), header(&capture));
        let first_row = |t: &str| t.lines().nth(1).unwrap().to_string();
        // need_est is HAProxy's estimate; ours is in-flight plus idle.
        assert_eq!(
            first_row(&ours),
            first_row(&capture).replace(" 1 1 0 0 -1", " 1 0 0 0 -1")
        );
        assert_eq!(show_backend(&state) + "\n", fixture("show_backend.txt"));
    }
}
