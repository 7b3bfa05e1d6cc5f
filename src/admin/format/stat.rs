//! `show stat`: the rows of [`crate::stats::rows`] as CSV (the full 128-column header with
//! its `# ` prefix, a trailing comma on every line, the literal `-` column 103), typed
//! (`F.<iid>.<sid>.<pos>.<name>.1:<tags>:<type>:<value>`) or JSON, as HAProxy 2.6 prints
//! them. Which rows, which cells and their values are the rows' business; this file only
//! writes them out.

use super::{json_tags, json_value, Context};
use crate::state::State;
use crate::stats::rows::{self, Cell, Col, RowKind, Selection, StatRow, COLUMNS};
use crate::stats::StatsSnapshot;
use std::fmt::Write as _;

pub use crate::stats::rows::StatFilter;

/// Output form of `show stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatFormat {
    Csv,
    Typed,
    Json,
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

    /// The rows this request shows.
    pub fn selection(&self) -> Selection {
        Selection {
            filter: self.filter,
            hide_down: self.hide_down,
            hide_maint: self.hide_maint,
        }
    }
}

/// `show stat`.
pub fn show_stat(req: &StatRequest, state: &State, stats: &StatsSnapshot, ctx: Context) -> String {
    let rows = rows::build(&req.selection(), state, stats, ctx.rows());
    match req.format {
        StatFormat::Csv => stat_csv(&rows),
        StatFormat::Typed => stat_typed(&rows),
        StatFormat::Json => stat_json(&rows),
    }
}

/// The CSV header line.
pub fn stat_header() -> String {
    let mut out = String::from("# ");
    for column in COLUMNS {
        out.push_str(column.name);
        out.push(',');
    }
    out.push('\n');
    out
}

/// The header and one line per row, as `show stat` and the stats page's `;csv` print them.
pub fn stat_csv(rows: &[StatRow]) -> String {
    let mut out = stat_header();
    for row in rows {
        for cell in row.cells() {
            let _ = write!(out, "{cell},");
        }
        out.push('\n');
    }
    out
}

/// `F.<iid>.<sid>.<pos>.<name>.1:<tags>:<type>:<value>` for every non-empty cell. Typed
/// positions skip the `-` column.
fn stat_typed(rows: &[StatRow]) -> String {
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.cells().iter().enumerate() {
            if let Some((pos, name, tags, kind)) = typed_cell(row, i, cell) {
                let letter = ['F', 'B', 'S'][row.kind as usize];
                let _ = writeln!(
                    out,
                    "{letter}.{}.{}.{pos}.{name}.1:{tags}:{kind}:{cell}",
                    row.iid, row.sid
                );
            }
        }
    }
    out
}

fn stat_json(rows: &[StatRow]) -> String {
    let mut out = String::from("[");
    for (r, row) in rows.iter().enumerate() {
        out.push_str(if r == 0 { "[" } else { ",[" });
        let mut first = true;
        for (i, cell) in row.cells().iter().enumerate() {
            let Some((pos, name, tags, kind)) = typed_cell(row, i, cell) else {
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
                json_value(kind, &cell.to_string())
            );
        }
        out.push(']');
    }
    out.push_str("]\n");
    out
}

/// Position, name, tags and type of a non-empty cell for the typed and JSON forms.
fn typed_cell(
    row: &StatRow,
    i: usize,
    cell: &Cell,
) -> Option<(usize, &'static str, &'static str, &'static str)> {
    let column = COLUMNS[i];
    let reserved = Col::Reserved as usize;
    // HAProxy reports the (empty) last check output of a checked server in typed forms.
    let empty_check_output = i == Col::LastChk as usize && !row.get(Col::CheckStatus).is_empty();
    if (cell.is_empty() && !empty_check_output) || i == reserved {
        return None;
    }
    let pos = if i > reserved { i - 1 } else { i };
    // A BACKEND's act/bck are counts and its rates are gauges.
    let backend_gauge = [Col::Act, Col::Bck, Col::Rate, Col::RateMax]
        .iter()
        .any(|c| *c as usize == i);
    let tags = if row.kind == RowKind::Backend && backend_gauge {
        "MGP"
    } else {
        column.tags
    };
    Some((pos, column.name, tags, column.kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::testutil::{
        after, capture_counters, capture_state, fixture, nginx2, process_info, START,
    };
    use crate::state::{apply, AdminState, CheckDetail, CheckStatus, Mutation};
    use crate::stats::rows::server_status;

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
            for (i, column) in COLUMNS.iter().enumerate() {
                let name = &column.name;
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
        let mut disabled = spec;
        disabled.options.disabled = true;
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
}
