//! The stats page: HAProxy's layout (a table per proxy, a FRONTEND row, one row per server
//! coloured by its state, a BACKEND row) read from the `show stat` rows ([`super::rows`]),
//! plus pointsman's latency columns (response time p50 / p99 per server and backend, from
//! the merged histograms). With `stats admin`, each backend's table is a form whose actions
//! run the runtime API's commands through the coordinator ([`admin_commands`]).
//!
//! The markup is written by hand: one fixed page whose every value goes through [`esc`], too
//! small for a template engine. The form body is decoded by the `form_urlencoded` crate.

use super::latency::{Latency, LatencySnapshot};
use super::rows::{Cell, Col, RowKind, StatRow};
use std::fmt::Write as _;

/// Response-time percentiles of one row, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowLatency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub count: u64,
}

impl RowLatency {
    /// The response-time percentiles of a row's histograms.
    pub fn of(latency: &Latency) -> RowLatency {
        let r = &latency.response;
        RowLatency {
            p50_ms: r.quantile_us(0.5) as f64 / 1000.0,
            p99_ms: r.quantile_us(0.99) as f64 / 1000.0,
            count: r.count(),
        }
    }
}

/// Everything the page shows besides the stat rows.
pub struct PageContext<'a> {
    /// The `stats uri` with the page's options (`;norefresh`), for links and the admin forms.
    pub uri: &'a str,
    pub refresh_secs: Option<u64>,
    /// This client may use the admin forms.
    pub admin: bool,
    /// The outcome of the last admin action (`;st=DONE` …).
    pub status: Option<&'a str>,
    /// None with `stats hide-version`.
    pub version: Option<&'a str>,
    pub pid: u32,
    pub nbthread: usize,
    pub uptime_secs: u64,
    pub current_conns: u64,
    pub total_requests: u64,
    /// The histograms merged over every shard (each row finds its own).
    pub latency: &'a LatencySnapshot,
}

const STYLE: &str = "body{font-family:arial,helvetica,sans-serif;font-size:12px;color:black;background:white}\
table.tbl{border-collapse:collapse;border-style:none;margin-bottom:1em}\
table.tbl td,table.tbl th{text-align:right;border:1px solid #aaa;padding:1px 4px;font-size:11px;white-space:nowrap}\
table.tbl th{background:#20d0d0}\
table.tbl td.ac,table.tbl td.name{text-align:left}\
.pxname{background:#b00040;color:#ffff40;font-weight:bold;padding:2px 6px;font-size:13px}\
.frontend{background:#e8e8d0}.backend{background:#e8e8d0}\
.active_down{background:#ff9090}.active_going_up{background:#ffd020}.active_going_down{background:#ffffa0}\
.active_up{background:#c0ffc0}.active_nolb{background:#20a0ff}.active_draining{background:#20a0ff}\
.active_no_check{background:#e0e0e0}.backup_down{background:#ff9090}.backup_going_up{background:#ff80ff}\
.backup_going_down{background:#c060ff}.backup_up{background:#b0d0ff}.backup_nolb{background:#90b0e0}\
.backup_draining{background:#cc9900}.backup_no_check{background:#e0e0e0}.maintain{background:#c07820}\
.lat{background:#f0f0ff}\
h1{font-size:16px;color:#fff;background:#20408f;padding:4px 8px}\
.msg{border:1px solid;padding:4px 8px;margin:6px 0;display:inline-block}\
.ok{background:#e8ffe8;border-color:#080}.err{background:#ffe8e8;border-color:#800}\
table.legend td{padding:1px 6px;font-size:11px}";

/// The row class of a server, HAProxy's names: `active_up`, `backup_down`, `maintain` …
pub fn server_class(status: &str, backup: bool) -> String {
    if status.starts_with("MAINT") {
        return "maintain".into();
    }
    let side = if backup { "backup" } else { "active" };
    let (word, going) = match status.split_once(' ') {
        Some((word, rest)) => (word, rest.contains('/')),
        None => (status, false),
    };
    let state = match (word, going) {
        ("UP", false) => "up",
        ("UP", true) => "going_down",
        ("DOWN", false) => "down",
        ("DOWN", true) => "going_up",
        ("NOLB", _) => "nolb",
        ("DRAIN", _) => "draining",
        ("no", _) => "no_check",
        _ => "down",
    };
    format!("{side}_{state}")
}

/// What a page column shows: a `show stat` cell, or a value made from several.
#[derive(Debug, Clone, Copy)]
enum Key {
    Cell(Col),
    P50,
    P99,
    Count,
    /// `check_status`, with `/check_code` when there is one.
    LastChk,
    /// `downtime`, as a duration.
    Downtime,
}

use Key::{Count, Downtime, LastChk, P50, P99};

/// Columns after the name: header group, then (title, what it shows).
const GROUPS: &[(&str, &[(&str, Key)])] = &[
    (
        "Queue",
        &[
            ("Cur", Key::Cell(Col::Qcur)),
            ("Max", Key::Cell(Col::Qmax)),
            ("Limit", Key::Cell(Col::Qlimit)),
        ],
    ),
    (
        "Sessions",
        &[
            ("Cur", Key::Cell(Col::Scur)),
            ("Max", Key::Cell(Col::Smax)),
            ("Limit", Key::Cell(Col::Slim)),
            ("Total", Key::Cell(Col::Stot)),
            ("LbTot", Key::Cell(Col::Lbtot)),
        ],
    ),
    (
        "Bytes",
        &[("In", Key::Cell(Col::Bin)), ("Out", Key::Cell(Col::Bout))],
    ),
    (
        "Denied",
        &[
            ("Req", Key::Cell(Col::Dreq)),
            ("Resp", Key::Cell(Col::Dresp)),
        ],
    ),
    (
        "Errors",
        &[
            ("Req", Key::Cell(Col::Ereq)),
            ("Conn", Key::Cell(Col::Econ)),
            ("Resp", Key::Cell(Col::Eresp)),
        ],
    ),
    (
        "Warnings",
        &[
            ("Retr", Key::Cell(Col::Wretr)),
            ("Redis", Key::Cell(Col::Wredis)),
        ],
    ),
    (
        "Response time (ms)",
        &[("p50", P50), ("p99", P99), ("Count", Count)],
    ),
    (
        "Server",
        &[
            ("Status", Key::Cell(Col::Status)),
            ("LastChk", LastChk),
            ("Wght", Key::Cell(Col::Weight)),
            ("Act", Key::Cell(Col::Act)),
            ("Bck", Key::Cell(Col::Bck)),
            ("Chk", Key::Cell(Col::Chkfail)),
            ("Dwn", Key::Cell(Col::Chkdown)),
            ("Dwntme", Downtime),
        ],
    ),
];

/// The whole page.
pub fn render(rows: &[StatRow], ctx: &PageContext) -> String {
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, ctx);
    let mut start = 0;
    while start < rows.len() {
        let proxy = rows[start].proxy();
        let end = rows[start..]
            .iter()
            .position(|r| r.proxy() != proxy)
            .map_or(rows.len(), |n| start + n);
        proxy_table(&mut out, &rows[start..end], ctx);
        start = end;
    }
    out.push_str("</body></html>\n");
    out
}

fn head(out: &mut String, ctx: &PageContext) {
    out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Statistics Report for pointsman</title>");
    if let Some(secs) = ctx.refresh_secs {
        let _ = write!(out, "<meta http-equiv=\"refresh\" content=\"{secs}\">");
    }
    let _ = write!(out, "<style>{STYLE}</style></head><body>\n<h1>pointsman");
    if let Some(v) = ctx.version {
        let _ = write!(out, " version {}", esc(v));
    }
    out.push_str("</h1>\n");
    let _ = writeln!(
        out,
        "<p id=\"info\">pid = {} (nbthread = {})<br>uptime = {}<br>current conns = {}; total requests = {}</p>",
        ctx.pid,
        ctx.nbthread,
        uptime(ctx.uptime_secs),
        ctx.current_conns,
        ctx.total_requests
    );
    if let Some(status) = ctx.status {
        let (class, text) = status_message(status);
        let _ = writeln!(out, "<p class=\"msg {class}\" id=\"status\">{text}</p>");
    }
    legend(out);
    let uri = esc(ctx.uri);
    let _ = writeln!(
        out,
        "<p><a href=\"{uri}\">Refresh now</a> &middot; <a href=\"{uri};csv\">CSV export</a></p>"
    );
}

fn legend(out: &mut String) {
    out.push_str("<table class=\"legend\"><tr>");
    for (class, text) in [
        ("active_up", "active UP"),
        ("backup_up", "backup UP"),
        ("active_going_down", "active UP, going down"),
        ("active_going_up", "active DOWN, going up"),
        ("active_down", "active or backup DOWN"),
        ("active_draining", "active or backup DRAIN / NOLB"),
        ("maintain", "MAINT"),
        ("active_no_check", "not checked"),
    ] {
        let _ = write!(out, "<td class=\"{class}\">&nbsp;</td><td>{text}</td>");
    }
    out.push_str("</tr></table>\n");
}

/// HAProxy's `;st=` codes.
fn status_message(status: &str) -> (&'static str, &'static str) {
    match status {
        "DONE" => ("ok", "Action processed successfully."),
        "NONE" => ("err", "Nothing has changed."),
        "PART" => (
            "err",
            "Action not processed: some servers could not be changed.",
        ),
        "ERRP" => ("err", "Action not processed because of invalid parameters."),
        "DENY" => ("err", "Action denied."),
        _ => ("err", "Unexpected result."),
    }
}

fn proxy_table(out: &mut String, rows: &[StatRow], ctx: &PageContext) {
    let Some(first) = rows.first() else { return };
    let proxy = esc(first.proxy());
    let has_servers = rows.iter().any(|r| r.kind == RowKind::Server);
    let form = ctx.admin && has_servers;
    if form {
        let _ = write!(out, "<form method=\"post\" action=\"{}\">", esc(ctx.uri));
    }
    let _ = write!(
        out,
        "<table class=\"tbl\" data-proxy=\"{proxy}\"><tr><th class=\"pxname\" colspan=\"{}\" style=\"text-align:left\">{proxy}</th></tr>\n<tr>",
        1 + usize::from(form) + GROUPS.iter().map(|(_, c)| c.len()).sum::<usize>()
    );
    if form {
        out.push_str("<th rowspan=\"2\"></th>");
    }
    out.push_str("<th rowspan=\"2\"></th>");
    for (group, columns) in GROUPS {
        let _ = write!(out, "<th colspan=\"{}\">{group}</th>", columns.len());
    }
    out.push_str("</tr>\n<tr>");
    for (_, columns) in GROUPS {
        for (title, _) in *columns {
            let _ = write!(out, "<th>{title}</th>");
        }
    }
    out.push_str("</tr>\n");
    for kind in [RowKind::Frontend, RowKind::Server, RowKind::Backend] {
        for row in rows.iter().filter(|r| r.kind == kind) {
            stat_row(out, row, form, ctx);
        }
    }
    out.push_str("</table>\n");
    if form {
        admin_controls(out, first.proxy());
        out.push_str("</form>\n");
    }
}

fn stat_row(out: &mut String, row: &StatRow, form: bool, ctx: &PageContext) {
    let name = row.name();
    let class = match row.kind {
        RowKind::Frontend => "frontend".to_string(),
        RowKind::Backend => "backend".to_string(),
        RowKind::Server => server_class(
            row.get(Col::Status).text(),
            *row.get(Col::Bck) == Cell::Uint(1),
        ),
    };
    let _ = write!(
        out,
        "<tr class=\"{class}\" data-server=\"{}/{}\">",
        esc(row.proxy()),
        esc(name)
    );
    if form {
        if row.kind == RowKind::Server {
            let _ = write!(
                out,
                "<td><input type=\"checkbox\" name=\"s\" value=\"{}\"></td>",
                esc(name)
            );
        } else {
            out.push_str("<td></td>");
        }
    }
    let _ = write!(out, "<td class=\"name\">{}</td>", esc(name));
    let latency = row.latency(ctx.latency).map(RowLatency::of);
    for (_, columns) in GROUPS {
        for (_, key) in *columns {
            let text = cell(row, *key, latency);
            let _ = write!(out, "<td>{}</td>", esc(&text));
        }
    }
    out.push_str("</tr>\n");
}

fn cell(row: &StatRow, key: Key, latency: Option<RowLatency>) -> String {
    match key {
        P50 => latency
            .filter(|l| l.count > 0)
            .map_or(String::new(), |l| ms(l.p50_ms)),
        P99 => latency
            .filter(|l| l.count > 0)
            .map_or(String::new(), |l| ms(l.p99_ms)),
        Count => latency.map_or(String::new(), |l| l.count.to_string()),
        LastChk => {
            let status = row.get(Col::CheckStatus);
            match row.get(Col::CheckCode) {
                Cell::Empty => status.to_string(),
                code => format!("{status}/{code}"),
            }
        }
        Downtime => row
            .number(Col::Downtime)
            .map_or(String::new(), |s| human_secs(s as u64)),
        Key::Cell(Col::Status) if row.kind == RowKind::Server => {
            let since = row.number(Col::Lastchg).map(|s| human_secs(s as u64));
            match since {
                Some(since) => format!("{since} {}", row.get(Col::Status)),
                None => row.get(Col::Status).to_string(),
            }
        }
        Key::Cell(col) => row.get(col).to_string(),
    }
}

fn admin_controls(out: &mut String, proxy: &str) {
    let _ = writeln!(
        out,
        "<p class=\"admin\">Choose the action to perform on the checked servers: \
         <input type=\"hidden\" name=\"b\" value=\"{}\">\
         <select name=\"action\">\
         <option value=\"\"></option>\
         <option value=\"ready\">Set state to READY</option>\
         <option value=\"drain\">Set state to DRAIN</option>\
         <option value=\"maint\">Set state to MAINT</option>\
         <option value=\"dhlth\">Health: disable checks</option>\
         <option value=\"ehlth\">Health: enable checks</option>\
         <option value=\"hrunn\">Health: force UP</option>\
         <option value=\"hnolb\">Health: force NOLB</option>\
         <option value=\"hdown\">Health: force DOWN</option>\
         <option value=\"weight\">Set weight to:</option>\
         <option value=\"shutdown\">Kill sessions</option>\
         </select> <input type=\"number\" name=\"weight\" min=\"0\" max=\"256\" size=\"4\" placeholder=\"weight\"> \
         <input type=\"submit\" value=\"Apply\"></p>",
        esc(proxy)
    );
}

/// An admin form turned into runtime API commands, one per checked server. Errors are
/// HAProxy's `;st=` codes: `ERRP` for a form that does not make sense.
pub fn admin_commands(form: &[u8]) -> Result<Vec<String>, &'static str> {
    let mut backend = None;
    let mut action = None;
    let mut weight = None;
    let mut servers = Vec::new();
    for (key, value) in form_urlencoded::parse(form) {
        let value = value.into_owned();
        match &*key {
            "b" => backend = Some(value),
            "action" => action = Some(value),
            "weight" if !value.is_empty() => weight = Some(value),
            "s" => servers.push(value),
            _ => {}
        }
    }
    let (Some(backend), Some(action)) = (backend, action) else {
        return Err("ERRP");
    };
    let plain_name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    if !plain_name(&backend) || servers.iter().any(|s| !plain_name(s)) {
        return Err("ERRP");
    }
    if servers.is_empty() {
        return Err("NONE");
    }
    let weight = match (action.as_str(), weight) {
        ("weight", Some(w)) => match w.parse::<u32>() {
            Ok(w) if w <= 256 => Some(w),
            _ => return Err("ERRP"),
        },
        ("weight", None) => return Err("ERRP"),
        _ => None,
    };
    servers
        .iter()
        .map(|s| {
            let target = format!("{backend}/{s}");
            Ok(match action.as_str() {
                "ready" | "drain" | "maint" => format!("set server {target} state {action}"),
                "dhlth" => format!("disable health {target}"),
                "ehlth" => format!("enable health {target}"),
                "hrunn" => format!("set server {target} health up"),
                "hnolb" => format!("set server {target} health stopping"),
                "hdown" => format!("set server {target} health down"),
                "shutdown" => format!("shutdown sessions server {target}"),
                "weight" => format!("set weight {target} {}", weight.unwrap_or(0)),
                _ => return Err("ERRP"),
            })
        })
        .collect()
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// `2h3m`, `5m12s`, `7s`, as HAProxy's page prints durations.
fn human_secs(s: u64) -> String {
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m{sec}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

fn uptime(s: u64) -> String {
    format!(
        "{}d {}h{:02}m{:02}s",
        s / 86400,
        s / 3600 % 24,
        s / 60 % 60,
        s % 60
    )
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rows::{test_latency, test_row};

    /// A [`test_row`] with `scur`, `status` and `bck`; s1's check passed 12 s ago, and it
    /// was never down.
    fn row(kind: RowKind, name: &str, cells: &[Cell; 3]) -> StatRow {
        let mut row = test_row(kind, name);
        for (col, cell) in [Col::Scur, Col::Status, Col::Bck].into_iter().zip(cells) {
            row.set(col, cell.clone());
        }
        if kind == RowKind::Server && name == "s1" {
            row.set(Col::Lastchg, 12u64);
            row.set(Col::CheckStatus, "L4OK");
            row.set(Col::Downtime, 0u64);
        }
        row
    }

    #[test]
    fn classes_follow_haproxys_names() {
        assert_eq!(server_class("UP", false), "active_up");
        assert_eq!(server_class("UP 1/3", false), "active_going_down");
        assert_eq!(server_class("DOWN 1/2", true), "backup_going_up");
        assert_eq!(server_class("DOWN", false), "active_down");
        assert_eq!(server_class("MAINT", true), "maintain");
        assert_eq!(server_class("DRAIN", false), "active_draining");
        assert_eq!(server_class("DRAIN 1/3", false), "active_draining");
        assert_eq!(server_class("no check", true), "backup_no_check");
        assert_eq!(server_class("NOLB", false), "active_nolb");
    }

    #[test]
    fn admin_forms_become_runtime_api_commands() {
        assert_eq!(
            admin_commands(b"s=nginx1&s=nginx2&action=drain&b=bk_app").unwrap(),
            vec![
                "set server bk_app/nginx1 state drain",
                "set server bk_app/nginx2 state drain"
            ]
        );
        assert_eq!(
            admin_commands(b"b=bk&s=a&action=weight&weight=50").unwrap(),
            vec!["set weight bk/a 50"]
        );
        assert_eq!(admin_commands(b"b=bk&action=maint"), Err("NONE"));
        assert_eq!(
            admin_commands(b"b=bk&s=a&action=weight&weight=300"),
            Err("ERRP")
        );
        assert_eq!(admin_commands(b"b=bk&s=a&action=explode"), Err("ERRP"));
        assert_eq!(admin_commands(b"b=bk%3Bshow&s=a&action=maint"), Err("ERRP"));
        assert_eq!(admin_commands(b"b=bk&s=a%20b&action=maint"), Err("ERRP"));
        assert_eq!(admin_commands(b"%"), Err("ERRP"));
        assert_eq!(admin_commands(b"b=bk&s=x%4&action=maint"), Err("ERRP"));
        // Names arrive percent-encoded; `+` is a space, which no server name has.
        assert_eq!(
            admin_commands(b"b=bk%5Fapp&s=s%31&action=ready").unwrap(),
            vec!["set server bk_app/s1 state ready"]
        );
        assert_eq!(admin_commands(b"b=bk&s=a+b&action=maint"), Err("ERRP"));
    }

    #[test]
    fn renders_rows_with_classes_and_escapes() {
        use Cell::{Empty, Text, Uint};
        let rows = [
            row(
                RowKind::Frontend,
                "FRONTEND",
                &[Uint(1), Text("OPEN".into()), Empty],
            ),
            row(
                RowKind::Server,
                "s1",
                &[Uint(0), Text("UP".into()), Uint(0)],
            ),
            row(
                RowKind::Server,
                "s2",
                &[Uint(0), Text("MAINT".into()), Uint(1)],
            ),
            row(
                RowKind::Backend,
                "BACKEND",
                &[Uint(0), Text("UP".into()), Uint(0)],
            ),
        ];
        let latency = test_latency(&[1500, 1500, 1500, 12_000]);
        let ctx = PageContext {
            uri: "/stats<x>",
            refresh_secs: Some(5),
            admin: true,
            status: Some("DONE"),
            version: None,
            pid: 1,
            nbthread: 2,
            uptime_secs: 3661,
            current_conns: 1,
            total_requests: 9,
            latency: &latency,
        };
        let page = render(&rows, &ctx);
        assert!(
            page.contains("<tr class=\"active_up\" data-server=\"bk/s1\">"),
            "{page}"
        );
        assert!(page.contains("<tr class=\"maintain\" data-server=\"bk/s2\">"));
        assert!(page.contains("<td>12s UP</td>"));
        assert!(page.contains("<td>1.50</td><td>12</td><td>4</td>"));
        // The backend's own histograms hold its servers' samples; a frontend has none.
        assert_eq!(
            page.matches("<td>1.50</td><td>12</td><td>4</td>").count(),
            2
        );
        assert!(page.contains("action=\"/stats&lt;x&gt;\""));
        assert!(page.contains("content=\"5\""));
        assert!(page.contains("Action processed successfully."));
        assert!(page.contains("0d 1h01m01s"));
        assert_eq!(
            page.matches("<form").count(),
            1,
            "only the backend with servers"
        );
    }
}
