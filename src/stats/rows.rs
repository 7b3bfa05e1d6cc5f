//! The `show stat` rows, typed: HAProxy 2.6's 128 columns ([`Col`], [`COLUMNS`]) and the
//! builder that fills them from the state and the summed counters ([`build`]). One source for
//! every view of them: the admin socket renders these rows as CSV, typed and JSON, and the
//! stats page and `/metrics` read the same cells, so the three can never disagree (as in
//! HAProxy, whose page and exporter read the same stats fields).
//!
//! Which columns are empty and which are 0 for each row type follows the captures. Values
//! pointsman does not measure are 0 (rates, queues, compression, SSL, HTTP/2, timings other
//! than `ttime`); `lastsess` is -1 before the first session and 0 after (no timestamp kept).
//! A BACKEND row's `lastchg` counts from process start (backend transitions are not tracked).

use super::latency::{Latency, LatencySnapshot};
use super::{Counters, StatsSnapshot};
use crate::config::Mode;
use crate::state::{AdminState, Backend, Frontend, OpState, Server, ServerRef, State};
use std::fmt::{self, Write as _};

/// One column's header name, typed-output tags and type (from the captures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub tags: &'static str,
    pub kind: &'static str,
}

/// Declares [`Col`] and [`COLUMNS`] from one list, so that a column's name and its position
/// cannot drift apart.
macro_rules! columns {
    ($($col:ident = $name:literal $tags:literal $kind:literal,)*) => {
        /// A `show stat` column; `col as usize` is its position in HAProxy's header.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Col {
            $($col,)*
        }

        /// Every column, by position.
        pub const COLUMNS: &[ColumnSpec] = &[
            $(ColumnSpec { name: $name, tags: $tags, kind: $kind },)*
        ];
    };
}

// HAProxy 2.6's `show stat` columns, in order. `Reserved` is the literal `-` column 103.
columns! {
    Pxname = "pxname" "KNS" "str",
    Svname = "svname" "KNS" "str",
    Qcur = "qcur" "MGP" "u32",
    Qmax = "qmax" "MMP" "u32",
    Scur = "scur" "MGP" "u32",
    Smax = "smax" "MMP" "u32",
    Slim = "slim" "CLP" "u32",
    Stot = "stot" "MCP" "u64",
    Bin = "bin" "MCP" "u64",
    Bout = "bout" "MCP" "u64",
    Dreq = "dreq" "MCP" "u64",
    Dresp = "dresp" "MCP" "u64",
    Ereq = "ereq" "MCP" "u64",
    Econ = "econ" "MCP" "u64",
    Eresp = "eresp" "MCP" "u64",
    Wretr = "wretr" "MCP" "u64",
    Wredis = "wredis" "MCP" "u64",
    Status = "status" "SGP" "str",
    Weight = "weight" "MaP" "u32",
    Act = "act" "SGP" "u32",
    Bck = "bck" "SGP" "u32",
    Chkfail = "chkfail" "MCP" "u64",
    Chkdown = "chkdown" "MCP" "u64",
    Lastchg = "lastchg" "MAP" "u32",
    Downtime = "downtime" "MCP" "u32",
    Qlimit = "qlimit" "CLP" "u32",
    Pid = "pid" "KGP" "u32",
    Iid = "iid" "KGS" "u32",
    Sid = "sid" "KGS" "u32",
    Throttle = "throttle" "MAP" "u32",
    Lbtot = "lbtot" "MCP" "u64",
    Tracked = "tracked" "CNP" "str",
    Type = "type" "CGS" "u32",
    Rate = "rate" "MRP" "u32",
    RateLim = "rate_lim" "CLP" "u32",
    RateMax = "rate_max" "MMP" "u32",
    CheckStatus = "check_status" "MOP" "str",
    CheckCode = "check_code" "MOP" "u32",
    CheckDuration = "check_duration" "MDP" "u64",
    Hrsp1xx = "hrsp_1xx" "MCP" "u64",
    Hrsp2xx = "hrsp_2xx" "MCP" "u64",
    Hrsp3xx = "hrsp_3xx" "MCP" "u64",
    Hrsp4xx = "hrsp_4xx" "MCP" "u64",
    Hrsp5xx = "hrsp_5xx" "MCP" "u64",
    HrspOther = "hrsp_other" "MCP" "u64",
    Hanafail = "hanafail" "MCP" "u64",
    ReqRate = "req_rate" "MRP" "u32",
    ReqRateMax = "req_rate_max" "MMP" "u32",
    ReqTot = "req_tot" "MCP" "u64",
    CliAbrt = "cli_abrt" "MCP" "u64",
    SrvAbrt = "srv_abrt" "MCP" "u64",
    CompIn = "comp_in" "MCP" "u64",
    CompOut = "comp_out" "MCP" "u64",
    CompByp = "comp_byp" "MCP" "u64",
    CompRsp = "comp_rsp" "MCP" "u64",
    Lastsess = "lastsess" "MAP" "s32",
    LastChk = "last_chk" "MOP" "str",
    LastAgt = "last_agt" "MOP" "str",
    Qtime = "qtime" "MaP" "u32",
    Ctime = "ctime" "MaP" "u32",
    Rtime = "rtime" "MaP" "u32",
    Ttime = "ttime" "MaP" "u32",
    AgentStatus = "agent_status" "MOP" "str",
    AgentCode = "agent_code" "MOP" "u32",
    AgentDuration = "agent_duration" "MDP" "u64",
    CheckDesc = "check_desc" "MOP" "str",
    AgentDesc = "agent_desc" "MOP" "str",
    CheckRise = "check_rise" "CGS" "u32",
    CheckFall = "check_fall" "CGS" "u32",
    CheckHealth = "check_health" "CGS" "u32",
    AgentRise = "agent_rise" "MaP" "u32",
    AgentFall = "agent_fall" "MaP" "u32",
    AgentHealth = "agent_health" "MaP" "u32",
    Addr = "addr" "CGS" "str",
    Cookie = "cookie" "CNP" "str",
    Mode = "mode" "CGS" "str",
    Algo = "algo" "CGS" "str",
    ConnRate = "conn_rate" "MRP" "u32",
    ConnRateMax = "conn_rate_max" "MMP" "u32",
    ConnTot = "conn_tot" "MCP" "u64",
    Intercepted = "intercepted" "MCP" "u64",
    Dcon = "dcon" "MCP" "u64",
    Dses = "dses" "MCP" "u64",
    Wrew = "wrew" "MCP" "u64",
    Connect = "connect" "MCP" "u64",
    Reuse = "reuse" "MCP" "u64",
    CacheLookups = "cache_lookups" "MCP" "u64",
    CacheHits = "cache_hits" "MCP" "u64",
    SrvIcur = "srv_icur" "MGP" "u32",
    SrcIlim = "src_ilim" "MaP" "u32",
    QtimeMax = "qtime_max" "MMP" "u32",
    CtimeMax = "ctime_max" "MMP" "u32",
    RtimeMax = "rtime_max" "MMP" "u32",
    TtimeMax = "ttime_max" "MMP" "u32",
    Eint = "eint" "MCP" "u64",
    IdleConnCur = "idle_conn_cur" "MGP" "u32",
    SafeConnCur = "safe_conn_cur" "MGP" "u32",
    UsedConnCur = "used_conn_cur" "MGP" "u32",
    NeedConnEst = "need_conn_est" "MGP" "u32",
    Uweight = "uweight" "MaP" "u32",
    AggServerStatus = "agg_server_status" "MGP" "u32",
    AggServerCheckStatus = "agg_server_check_status" "MGP" "u32",
    AggCheckStatus = "agg_check_status" "MGP" "u32",
    Reserved = "-" "" "",
    SslSess = "ssl_sess" "MCP" "u64",
    SslReusedSess = "ssl_reused_sess" "MCP" "u64",
    SslFailedHandshake = "ssl_failed_handshake" "MCP" "u64",
    H2HeadersRcvd = "h2_headers_rcvd" "MCP" "u64",
    H2DataRcvd = "h2_data_rcvd" "MCP" "u64",
    H2SettingsRcvd = "h2_settings_rcvd" "MCP" "u64",
    H2RstStreamRcvd = "h2_rst_stream_rcvd" "MCP" "u64",
    H2GoawayRcvd = "h2_goaway_rcvd" "MCP" "u64",
    H2DetectedConnProtocolErrors = "h2_detected_conn_protocol_errors" "MCP" "u64",
    H2DetectedStrmProtocolErrors = "h2_detected_strm_protocol_errors" "MCP" "u64",
    H2RstStreamResp = "h2_rst_stream_resp" "MCP" "u64",
    H2GoawayResp = "h2_goaway_resp" "MCP" "u64",
    H2OpenConnections = "h2_open_connections" "MGP" "u64",
    H2BackendOpenStreams = "h2_backend_open_streams" "MGP" "u64",
    H2TotalConnections = "h2_total_connections" "MCP" "u64",
    H2BackendTotalStreams = "h2_backend_total_streams" "MCP" "u64",
    H1OpenConnections = "h1_open_connections" "MGP" "u64",
    H1OpenStreams = "h1_open_streams" "MGP" "u64",
    H1TotalConnections = "h1_total_connections" "MCP" "u64",
    H1TotalStreams = "h1_total_streams" "MCP" "u64",
    H1BytesIn = "h1_bytes_in" "MCP" "u64",
    H1BytesOut = "h1_bytes_out" "MCP" "u64",
    H1SplicedBytesIn = "h1_spliced_bytes_in" "MCP" "u64",
    H1SplicedBytesOut = "h1_spliced_bytes_out" "MCP" "u64",
}

/// `hrsp_1xx` … `hrsp_other`, in the order of [`Counters::hrsp`].
pub const RESPONSE_COLUMNS: [Col; 6] = [
    Col::Hrsp1xx,
    Col::Hrsp2xx,
    Col::Hrsp3xx,
    Col::Hrsp4xx,
    Col::Hrsp5xx,
    Col::HrspOther,
];

/// A row's type, as the `type` column numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Frontend = 0,
    Backend = 1,
    Server = 2,
}

/// One cell: empty, a number or text. It prints as the CSV prints it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cell {
    #[default]
    Empty,
    Uint(u64),
    /// Only `lastsess` goes below 0 (-1 before the first session).
    Int(i64),
    Text(String),
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        *self == Cell::Empty
    }

    /// The value of a numeric cell.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Uint(n) => Some(*n as f64),
            Cell::Int(n) => Some(*n as f64),
            Cell::Empty | Cell::Text(_) => None,
        }
    }

    /// The text of a text cell ("" for any other).
    pub fn text(&self) -> &str {
        match self {
            Cell::Text(text) => text,
            _ => "",
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Empty => Ok(()),
            Cell::Uint(n) => write!(f, "{n}"),
            Cell::Int(n) => write!(f, "{n}"),
            Cell::Text(text) => f.write_str(text),
        }
    }
}

/// `From` for the number types the builder sets cells from (each fits in the cast).
macro_rules! number_cells {
    ($variant:ident as $wide:ty: $($t:ty),*) => {
        $(impl From<$t> for Cell {
            #[allow(clippy::unnecessary_cast)] // for u64 as u64 and i64 as i64
            fn from(n: $t) -> Cell {
                Cell::$variant(n as $wide)
            }
        })*
    };
}
number_cells!(Uint as u64: u8, u16, u32, u64, usize);
number_cells!(Int as i64: i32, i64);

/// `From` for the types of text cells (names, statuses, addresses).
macro_rules! text_cells {
    ($($t:ty),*) => {
        $(impl From<$t> for Cell {
            fn from(text: $t) -> Cell {
                Cell::Text(text.to_string())
            }
        })*
    };
}
text_cells!(&str, &String, String, std::net::SocketAddr);

/// One `show stat` row: 128 cells, empty unless set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    pub kind: RowKind,
    /// The proxy's id (`iid`) and the server's (`sid`, 0 for FRONTEND and BACKEND rows).
    pub iid: u32,
    pub sid: u32,
    /// The backend's index in `State::backends`, for BACKEND and server rows: where the row's
    /// latency histograms are.
    pub backend: Option<usize>,
    cells: Vec<Cell>,
}

impl StatRow {
    pub fn new(kind: RowKind, iid: u32, sid: u32, backend: Option<usize>) -> StatRow {
        let mut cells = vec![Cell::Empty; COLUMNS.len()];
        cells[Col::Reserved as usize] = Cell::from("-");
        StatRow {
            kind,
            iid,
            sid,
            backend,
            cells,
        }
    }

    pub fn set(&mut self, col: Col, value: impl Into<Cell>) {
        self.cells[col as usize] = value.into();
    }

    /// Sets these columns to 0.
    fn zero(&mut self, cols: &[Col]) {
        for col in cols {
            self.set(*col, 0u64);
        }
    }

    /// Sets the columns from `from` to `to`, both included, to 0.
    fn zero_range(&mut self, from: Col, to: Col) {
        for cell in &mut self.cells[from as usize..=to as usize] {
            *cell = Cell::Uint(0);
        }
    }

    pub fn get(&self, col: Col) -> &Cell {
        &self.cells[col as usize]
    }

    /// The cells in column order.
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// `pxname`.
    pub fn proxy(&self) -> &str {
        self.get(Col::Pxname).text()
    }

    /// `svname`: the server's name, or `FRONTEND` / `BACKEND`.
    pub fn name(&self) -> &str {
        self.get(Col::Svname).text()
    }

    pub fn number(&self, col: Col) -> Option<f64> {
        self.get(col).number()
    }

    /// The merged histograms of this BACKEND or server row (None for a FRONTEND).
    pub fn latency<'a>(&self, latency: &'a LatencySnapshot) -> Option<&'a Latency> {
        let backend = self.backend?;
        match self.kind {
            RowKind::Frontend => None,
            RowKind::Backend => latency.backend(backend),
            RowKind::Server => latency.server(ServerRef {
                backend,
                server: self.sid,
            }),
        }
    }
}

/// `show stat <iid> <type> <sid>`: -1 means any; `types` is a mask (1 frontends,
/// 2 backends, 4 servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFilter {
    pub iid: i64,
    pub types: i64,
    pub sid: i64,
}

/// Which rows to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    pub filter: Option<StatFilter>,
    /// `up`: hide DOWN and MAINT servers.
    pub hide_down: bool,
    /// `no-maint`: hide MAINT servers.
    pub hide_maint: bool,
}

/// The clock and the process facts some cells show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowContext {
    /// Unix seconds now.
    pub now: u64,
    /// Unix seconds at start (a BACKEND's `lastchg`).
    pub start_time: u64,
    /// The process's `maxconn` (FRONTEND `slim`; a BACKEND's is a tenth of it).
    pub maxconn: u32,
}

/// Every row the request selects, in HAProxy's order: for each proxy by id, its FRONTEND,
/// its servers, its BACKEND.
pub fn build(
    select: &Selection,
    state: &State,
    stats: &StatsSnapshot,
    ctx: RowContext,
) -> Vec<StatRow> {
    let filter = select.filter.unwrap_or(StatFilter {
        iid: -1,
        types: -1,
        sid: -1,
    });
    let wants = |kind: RowKind| filter.types & (1 << kind as i64) != 0;
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
        if let (Some(i), true) = (frontend, wants(RowKind::Frontend)) {
            rows.push(frontend_row(&state.frontends[i], stats.frontend(i), ctx));
        }
        let Some(b) = state.backends.iter().position(|b| b.id == id) else {
            continue;
        };
        let backend = &state.backends[b];
        if wants(RowKind::Server) {
            for server in backend.servers.iter().filter(|s| shown(select, s)) {
                if filter.sid == -1 || filter.sid == i64::from(server.id) {
                    rows.push(server_row(
                        b,
                        backend,
                        server,
                        stats.server(b, server.id),
                        ctx,
                    ));
                }
            }
        }
        if wants(RowKind::Backend) {
            rows.push(backend_row(b, backend, stats.backend(b), select, ctx));
        }
    }
    rows
}

/// `up` hides DOWN and MAINT servers, `no-maint` hides MAINT ones.
fn shown(select: &Selection, server: &Server) -> bool {
    let maint = server.admin == AdminState::Maint;
    let down = maint || server.op == OpState::Down;
    let hidden = (select.hide_maint && maint) || (select.hide_down && down);
    !hidden
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Http => "http",
        Mode::Tcp => "tcp",
    }
}

/// Counters every row type shows the same way.
fn set_traffic(row: &mut StatRow, c: &Counters) {
    row.set(Col::Scur, c.scur);
    row.set(Col::Smax, c.smax);
    row.set(Col::Stot, c.stot);
    row.set(Col::Bin, c.bin);
    row.set(Col::Bout, c.bout);
    row.set(Col::Dresp, c.dresp);
    row.set(Col::Pid, 1);
    for (i, n) in c.hrsp.iter().enumerate() {
        row.set(RESPONSE_COLUMNS[i], *n);
    }
    row.set(Col::ReqTot, c.req_tot);
    row.zero(&[Col::Rate, Col::RateMax, Col::Wrew, Col::Eint]);
    // The SSL module columns exist on every row.
    row.zero_range(Col::SslSess, Col::SslFailedHandshake);
}

/// Counters of rows that talk to servers (server and BACKEND rows).
fn set_server_side(row: &mut StatRow, c: &Counters) {
    row.set(Col::Qcur, c.qcur);
    row.set(Col::Qmax, c.qmax);
    row.zero(&[Col::Qtime, Col::Ctime, Col::Rtime]);
    row.zero(&[Col::QtimeMax, Col::CtimeMax, Col::RtimeMax]);
    row.set(Col::Econ, c.econ);
    row.set(Col::Eresp, c.eresp);
    row.set(Col::Wretr, c.wretr);
    row.set(Col::Wredis, c.wredis);
    row.set(Col::Lbtot, c.lbtot);
    row.set(Col::CliAbrt, c.cli_abrt);
    row.set(Col::SrvAbrt, c.srv_abrt);
    row.set(Col::Lastsess, if c.stot == 0 { -1 } else { 0 });
    row.set(Col::Ttime, c.ttime_sum_ms.checked_div(c.stot).unwrap_or(0));
    row.set(Col::TtimeMax, c.ttime_max_ms);
    row.set(Col::Connect, c.connect);
    row.set(Col::Reuse, c.reuse);
}

fn frontend_row(f: &Frontend, c: Counters, ctx: RowContext) -> StatRow {
    let mut row = StatRow::new(RowKind::Frontend, f.id, 0, None);
    row.set(Col::Pxname, &f.name);
    row.set(Col::Svname, "FRONTEND");
    set_traffic(&mut row, &c);
    row.set(Col::Slim, ctx.maxconn);
    row.set(Col::Dreq, c.dreq);
    row.set(Col::Ereq, c.ereq);
    row.set(Col::Status, if f.enabled { "OPEN" } else { "PAUSED" });
    row.set(Col::Iid, f.id);
    row.set(Col::Sid, 0);
    row.set(Col::Type, RowKind::Frontend as u64);
    row.zero(&[
        Col::RateLim,
        Col::ReqRate,
        Col::ReqRateMax,
        Col::ConnRate,
        Col::ConnRateMax,
    ]);
    row.zero(&[Col::CompIn, Col::CompOut, Col::CompByp, Col::CompRsp]);
    row.set(Col::Intercepted, c.intercepted);
    row.zero(&[Col::Dcon, Col::Dses, Col::CacheLookups, Col::CacheHits]);
    row.set(Col::ConnTot, c.stot);
    row.set(Col::Mode, mode_name(f.mode));
    set_proxy_modules(&mut row, &c);
    row
}

/// The HTTP/2 and HTTP/1 module columns of FRONTEND and BACKEND rows (HTTP/1 only).
fn set_proxy_modules(row: &mut StatRow, c: &Counters) {
    row.zero_range(Col::H2HeadersRcvd, Col::H1SplicedBytesOut);
    row.set(Col::H1OpenConnections, c.scur);
    row.set(Col::H1TotalConnections, c.stot);
    row.set(Col::H1TotalStreams, c.req_tot);
    row.set(Col::H1BytesIn, c.bin);
    row.set(Col::H1BytesOut, c.bout);
}

fn server_row(index: usize, b: &Backend, s: &Server, c: Counters, ctx: RowContext) -> StatRow {
    let mut row = StatRow::new(RowKind::Server, b.id, s.id, Some(index));
    row.set(Col::Pxname, &b.name);
    row.set(Col::Svname, &s.name);
    set_traffic(&mut row, &c);
    set_server_side(&mut row, &c);
    if let Some(maxconn) = s.maxconn {
        row.set(Col::Slim, maxconn);
    }
    row.set(Col::Status, server_status(s));
    // HAProxy's `weight` is the effective one (slow start), `uweight` the user's.
    row.set(Col::Weight, s.effective_weight());
    row.set(Col::Uweight, s.weight);
    row.set(Col::Act, u8::from(!s.backup));
    row.set(Col::Bck, u8::from(s.backup));
    row.set(Col::Lastchg, ctx.now.saturating_sub(s.last_change));
    if s.check.active() {
        row.set(Col::Chkfail, s.check.failures);
        row.set(Col::Chkdown, s.check.downs);
        row.set(Col::Downtime, downtime(s, ctx.now));
    }
    if s.check.active() && s.admin != AdminState::Maint {
        set_check_columns(&mut row, s);
    }
    row.set(Col::Iid, b.id);
    row.set(Col::Sid, s.id);
    row.set(Col::Type, RowKind::Server as u64);
    row.set(Col::Addr, s.addr);
    if let Some(cookie) = &s.cookie {
        row.set(Col::Cookie, cookie);
    }
    row.set(Col::Mode, mode_name(b.mode));
    row.set(Col::SrvIcur, c.idle_conns);
    if s.dynamic {
        row.set(Col::SrcIlim, 0);
    }
    row.set(Col::IdleConnCur, c.idle_conns);
    row.set(Col::SafeConnCur, 0);
    row.set(Col::UsedConnCur, c.scur);
    row.set(Col::NeedConnEst, c.scur + c.idle_conns);
    row
}

fn set_check_columns(row: &mut StatRow, s: &Server) {
    let check = &s.check;
    row.set(Col::CheckStatus, check.status.code());
    if let Some(code) = check.code {
        row.set(Col::CheckCode, code);
    }
    if let Some(ms) = check.duration_ms {
        row.set(Col::CheckDuration, ms);
    }
    row.set(Col::CheckDesc, check.status.description());
    row.set(Col::CheckRise, check.rise);
    row.set(Col::CheckFall, check.fall);
    row.set(Col::CheckHealth, check.health);
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

fn backend_row(
    index: usize,
    b: &Backend,
    c: Counters,
    select: &Selection,
    ctx: RowContext,
) -> StatRow {
    let mut row = StatRow::new(RowKind::Backend, b.id, 0, Some(index));
    row.set(Col::Pxname, &b.name);
    row.set(Col::Svname, "BACKEND");
    set_traffic(&mut row, &c);
    set_server_side(&mut row, &c);
    row.set(Col::Slim, ctx.maxconn.div_ceil(10));
    row.set(Col::Dreq, c.dreq);
    let weight: u32 = b.eligible().map(|(_, s)| s.weight).sum();
    let mut status = if weight > 0 || b.servers.is_empty() {
        "UP".to_string()
    } else {
        "DOWN".to_string()
    };
    if select.hide_down || select.hide_maint {
        let up = b
            .servers
            .iter()
            .filter(|s| s.admin != AdminState::Maint && s.op != OpState::Down)
            .count();
        let _ = write!(status, " ({up}/{})", b.servers.len());
    }
    row.set(Col::Status, status);
    row.set(Col::Weight, weight);
    row.set(Col::Uweight, weight);
    let usable = |backup: bool| {
        let servers = b.servers.iter();
        servers
            .filter(|s| s.backup == backup && s.takes_new_traffic())
            .count()
    };
    row.set(Col::Act, usable(false));
    row.set(Col::Bck, usable(true));
    row.set(Col::Chkdown, 0);
    row.set(Col::Lastchg, ctx.now.saturating_sub(ctx.start_time));
    if !b.servers.is_empty() {
        row.set(Col::Downtime, 0);
    }
    row.set(Col::Iid, b.id);
    row.set(Col::Sid, 0);
    row.set(Col::Type, RowKind::Backend as u64);
    row.zero(&[Col::CompIn, Col::CompOut, Col::CompByp, Col::CompRsp]);
    row.zero(&[Col::CacheLookups, Col::CacheHits]);
    row.set(Col::Mode, mode_name(b.mode));
    row.set(Col::Algo, b.algorithm.name());
    if let Some(cookie) = &b.cookie {
        row.set(Col::Cookie, &cookie.name);
    }
    row.zero(&[
        Col::AggServerStatus,
        Col::AggServerCheckStatus,
        Col::AggCheckStatus,
    ]);
    set_proxy_modules(&mut row, &c);
    row
}

/// A row of proxy `fe` (a FRONTEND) or `bk` (its servers `s1`, `s2` … with ids 1, 2 …, and
/// its BACKEND; backend index 0), with only `pxname` and `svname` set.
#[cfg(test)]
pub fn test_row(kind: RowKind, name: &str) -> StatRow {
    let (proxy, sid) = match kind {
        RowKind::Frontend => ("fe", 0),
        RowKind::Backend => ("bk", 0),
        RowKind::Server => ("bk", name[1..].parse().unwrap()),
    };
    let backend = (kind != RowKind::Frontend).then_some(0);
    let mut row = StatRow::new(kind, 1, sid, backend);
    row.set(Col::Pxname, proxy);
    row.set(Col::Svname, name);
    row
}

/// Merged histograms in which server `s1` of backend 0 (and so the backend) answered once
/// after each of these response times.
#[cfg(test)]
pub fn test_latency(response_us: &[u64]) -> LatencySnapshot {
    let mut latency = LatencySnapshot::default();
    for us in response_us {
        let timing = super::latency::Timing {
            connect_us: None,
            response_us: Some(*us),
            total_us: None,
        };
        latency.record(
            ServerRef {
                backend: 0,
                server: 1,
            },
            &timing,
        );
    }
    latency
}
