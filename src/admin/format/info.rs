//! `show info` (plain, `typed`, `json`): HAProxy 2.6's fields in order, with the values
//! pointsman has (process facts, connection and request totals) and 0 for the rest.

use super::{json_tags, json_value, Context};
use crate::admin::command::VERSION;
use crate::stats::StatsSnapshot;
use std::fmt::Write as _;

/// Output form of `show info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoFormat {
    Plain,
    Typed,
    Json,
}

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
    use crate::admin::testutil::{capture_counters, fixture, process_info, START};

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
}
