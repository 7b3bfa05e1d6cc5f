//! The runtime API's output formats, as HAProxy 2.6 prints them. Pure: state, counters and
//! process facts in, text out (without the session's terminator). One file per family:
//!
//! - `stat`: `show stat` (CSV, `typed`, `json`, filters, `up` / `no-maint`).
//! - `info`: `show info` (plain, `typed`, `json`).
//! - `servers_state`: `show servers state`, `show servers conn`, `show backend`.
//!
//! The typed and JSON forms of `show stat` and `show info` share HAProxy's field encoding
//! (tags, typed values), kept here. Hand-written rather than serde: the JSON must match
//! HAProxy's byte for byte (key order, no spaces, numbers unquoted only for numeric types).

use super::ProcessInfo;
use crate::stats::rows::RowContext;
use std::fmt::Write as _;

mod info;
mod servers_state;
mod stat;

pub use info::{show_info, InfoFormat};
pub use servers_state::{show_backend, show_servers_conn, show_servers_state};
pub use stat::{show_stat, stat_csv, stat_header, StatFilter, StatFormat, StatRequest};

/// The clock and process facts every format may need.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub info: &'a ProcessInfo,
    /// Unix seconds now.
    pub now: u64,
}

impl Context<'_> {
    /// What the `show stat` rows take from the process and the clock.
    pub fn rows(&self) -> RowContext {
        RowContext {
            now: self.now,
            start_time: self.info.start_time,
            maxconn: self.info.maxconn,
        }
    }
}

/// The `"tags"` object of a typed field (`KNS` ─▶ Key, Name, Service).
pub(super) fn json_tags(tags: &str) -> String {
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

pub(super) fn json_value(kind: &str, value: &str) -> String {
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
