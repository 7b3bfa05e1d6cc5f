//! `--json FILE`: the report as JSON, written by hand. The shape is small and flat, so a
//! tiny writer with correct string escaping is less than pulling serde into the crate.
//! Durations are in microseconds (`*_us`); error classes use stable keys (`http_503`, `reset`).
//! Each switch carries its reply text (`null` when none came), its round trip, its `outcome`
//! (`ok`, `refused`, `no_reply`) and, when it failed, the `error`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::report::{Percentiles, Report, ScheduleCheck, Second, Summary, Window};
use super::switches::{SwitchError, SwitchEvent};

/// The whole report (without raw samples) as a JSON document.
pub fn to_json(report: &Report) -> String {
    let mut o = Obj::new();
    o.str("url", &report.url);
    o.str("mode", &report.mode);
    o.num("planned", report.planned);
    o.raw("elapsed_us", &micros(report.elapsed));
    o.raw("failed", if report.failed() { "true" } else { "false" });
    o.str("verdict", &report.verdict());
    o.num("failed_switches", report.failed_switches().count() as u64);
    o.raw("whole", &summary(&report.whole));
    o.raw("schedule", &schedule(&report.schedule));
    o.raw("switches", &array(report.switches.iter().map(switch)));
    o.raw("windows", &array(report.windows.iter().map(window)));
    o.raw("timeline", &array(report.timeline.iter().map(second)));
    o.finish()
}

fn summary(s: &Summary) -> String {
    let mut o = Obj::new();
    o.num("requests", s.requests);
    o.num("ok", s.ok);
    o.num("error_count", s.error_count());
    let errors: BTreeMap<String, u64> = s.errors.iter().map(|(c, n)| (c.key(), *n)).collect();
    o.raw("errors", &counts(&errors));
    o.raw("servers", &counts(&s.servers));
    o.raw("latency", &percentiles(&s.latency));
    o.raw("service", &percentiles(&s.service));
    o.finish()
}

fn percentiles(p: &Percentiles) -> String {
    let mut o = Obj::new();
    for (name, value) in [
        ("p50_us", p.p50),
        ("p90_us", p.p90),
        ("p99_us", p.p99),
        ("p99_9_us", p.p999),
        ("p99_99_us", p.p9999),
        ("max_us", p.max),
        ("mean_us", p.mean),
    ] {
        o.raw(name, &micros(value));
    }
    o.finish()
}

fn schedule(s: &ScheduleCheck) -> String {
    let mut o = Obj::new();
    o.num("late", s.late);
    o.raw("max_lag_us", &micros(s.max_lag));
    o.raw("longest_behind_us", &micros(s.longest_behind));
    o.num("unsent", s.unsent);
    match &s.invalid {
        Some(reason) => o.str("invalid", reason),
        None => o.raw("invalid", "null"),
    }
    o.finish()
}

fn switch(s: &SwitchEvent) -> String {
    let mut o = Obj::new();
    o.str("command", &s.command);
    o.raw("sent_us", &micros(s.sent));
    o.raw("replied_us", &micros(s.replied));
    o.raw("round_trip_us", &micros(s.round_trip()));
    o.str(
        "outcome",
        match &s.reply {
            Ok(_) => "ok",
            Err(SwitchError::Refused(_)) => "refused",
            Err(SwitchError::NoReply(_)) => "no_reply",
        },
    );
    o.raw("reply", &s.reply_text().map_or("null".into(), quote));
    match &s.reply {
        Ok(_) => o.raw("error", "null"),
        Err(err) => o.str("error", &err.to_string()),
    }
    o.finish()
}

fn window(w: &Window) -> String {
    let mut o = Obj::new();
    o.str("command", &w.command);
    o.raw("from_us", &micros(w.from));
    o.raw("to_us", &micros(w.to));
    o.raw("summary", &summary(&w.summary));
    o.finish()
}

fn second(s: &Second) -> String {
    let mut o = Obj::new();
    o.num("second", s.second);
    o.num("requests", s.requests);
    o.num("errors", s.errors);
    o.raw("p50_us", &micros(s.p50));
    o.raw("p99_us", &micros(s.p99));
    o.raw("servers", &counts(&s.servers));
    o.raw("switches", &array(s.switches.iter().map(|c| quote(c))));
    o.raw("max_send_lag_us", &micros(s.max_send_lag));
    o.finish()
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    let mut o = Obj::new();
    for (key, value) in map {
        o.num(key, *value);
    }
    o.finish()
}

/// Microseconds with up to three decimals (nanosecond precision, no float noise).
fn micros(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns.is_multiple_of(1000) {
        (ns / 1000).to_string()
    } else {
        format!("{}.{:03}", ns / 1000, ns % 1000)
    }
}

fn array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(","))
}

/// A JSON string literal (RFC 8259 escaping).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builds one JSON object field by field.
struct Obj {
    out: String,
}

impl Obj {
    fn new() -> Obj {
        Obj {
            out: String::from("{"),
        }
    }

    fn raw(&mut self, key: &str, value: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.out.push_str(&quote(key));
        self.out.push(':');
        self.out.push_str(value);
    }

    fn str(&mut self, key: &str, value: &str) {
        self.raw(key, &quote(value));
    }

    fn num(&mut self, key: &str, value: u64) {
        self.raw(key, &value.to_string());
    }

    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
    }

    #[test]
    fn micros_keep_nanoseconds() {
        assert_eq!(micros(Duration::from_micros(410)), "410");
        assert_eq!(micros(Duration::from_nanos(410_050)), "410.050");
    }

    #[test]
    fn objects_join_fields() {
        let mut o = Obj::new();
        o.num("a", 1);
        o.str("b", "x");
        assert_eq!(o.finish(), r#"{"a":1,"b":"x"}"#);
    }
}
