//! `--json FILE`: the report as one compact JSON document, from `Serialize` derived on the
//! report types. This file holds what a derive cannot say: the fields computed from a report
//! (`failed`, `verdict`, `failed_switches`, a summary's `error_count`, a switch's
//! `round_trip_us` and `outcome`), durations in microseconds (`*_us`: an integer when whole,
//! else up to three decimals), error classes as stable keys (`http_503`, `reset`). Each switch
//! carries its reply text (`null` when none came), its round trip, its `outcome` (`ok`,
//! `refused`, `no_reply`) and, when it failed, the `error`.

use std::time::Duration;

use serde::{Serialize, Serializer};

use super::outcome::ErrorClass;
use super::report::{Report, Summary};
use super::switches::{SwitchError, SwitchEvent};

/// The whole report (without raw samples) as a JSON document.
pub fn to_json(report: &Report) -> String {
    let document = Document {
        failed: report.failed(),
        verdict: report.verdict(),
        failed_switches: report.failed_switches().count(),
        report,
    };
    serde_json::to_string(&document).expect("a report has only string map keys")
}

/// The verdict first, then the report's own fields.
#[derive(Serialize)]
struct Document<'a> {
    failed: bool,
    verdict: String,
    failed_switches: usize,
    #[serde(flatten)]
    report: &'a Report,
}

/// A [`Summary`] with its `error_count` (`serialize_with` on the fields that hold one).
pub fn summary<S: Serializer>(summary: &Summary, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Counted<'a> {
        #[serde(flatten)]
        summary: &'a Summary,
        error_count: u64,
    }
    let error_count = summary.error_count();
    Counted {
        summary,
        error_count,
    }
    .serialize(serializer)
}

/// Microseconds: an integer when whole, else up to three decimals (no float noise beyond
/// the nanosecond the duration holds).
pub fn micros<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    let ns = duration.as_nanos();
    if ns.is_multiple_of(1000) {
        serializer.serialize_u128(ns / 1000)
    } else {
        serializer.serialize_f64(ns as f64 / 1000.0)
    }
}

/// An error class is its stable key, also as a map key (`"errors":{"http_503":2}`).
impl Serialize for ErrorClass {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.key())
    }
}

/// A switch as it reads in the report: its timings, its outcome and the reply text, apart.
impl Serialize for SwitchEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Switch<'a> {
            command: &'a str,
            #[serde(serialize_with = "micros")]
            sent_us: Duration,
            #[serde(serialize_with = "micros")]
            replied_us: Duration,
            #[serde(serialize_with = "micros")]
            round_trip_us: Duration,
            outcome: &'static str,
            reply: Option<&'a str>,
            error: Option<String>,
        }
        Switch {
            command: &self.command,
            sent_us: self.sent,
            replied_us: self.replied,
            round_trip_us: self.round_trip(),
            outcome: match &self.reply {
                Ok(_) => "ok",
                Err(SwitchError::Refused(_)) => "refused",
                Err(SwitchError::NoReply(_)) => "no_reply",
            },
            reply: self.reply_text(),
            error: self.reply.as_ref().err().map(ToString::to_string),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::loadtest::report::{Percentiles, ScheduleCheck, Second, Window};

    /// A report with every kind of value the document holds: fractional and whole
    /// microseconds, error classes, each switch outcome, a window, an invalid schedule.
    fn every_shape() -> Report {
        let ms = Duration::from_millis;
        let latency = Percentiles {
            p50: Duration::from_nanos(410_050),
            p90: ms(1),
            p99: ms(2),
            p999: ms(3),
            p9999: ms(4),
            max: Duration::from_nanos(5_000_001),
            mean: Duration::from_nanos(700_500),
        };
        let whole = Summary {
            requests: 10,
            ok: 7,
            errors: BTreeMap::from([(ErrorClass::Status(503), 2), (ErrorClass::Reset, 1)]),
            servers: BTreeMap::from([("s1".to_string(), 6), ("s\"2".to_string(), 3)]),
            latency,
            service: Percentiles::default(),
        };
        let switch = |command: &str, reply| SwitchEvent {
            sent: ms(100),
            replied: Duration::from_nanos(100_410_050),
            command: command.to_string(),
            reply,
        };
        Report {
            url: "http://127.0.0.1:8080/".into(),
            mode: "every 100ms".into(),
            planned: 10,
            elapsed: ms(1_000),
            whole: whole.clone(),
            windows: vec![Window {
                command: "disable server bk/s1".into(),
                from: ms(0),
                to: ms(1_100),
                summary: whole,
            }],
            timeline: vec![Second {
                second: 0,
                requests: 10,
                errors: 3,
                p50: ms(1),
                p99: Duration::from_nanos(2_000_300),
                servers: BTreeMap::from([("s1".to_string(), 6)]),
                switches: vec!["disable server bk/s1".into()],
                max_send_lag: Duration::from_nanos(1_500),
            }],
            switches: vec![
                switch("disable server bk/s1", Ok(String::new())),
                switch(
                    "disable server bk/x",
                    Err(SwitchError::Refused("No such server.".into())),
                ),
                switch(
                    "show info",
                    Err(SwitchError::NoReply("connect /x: refused\n".into())),
                ),
            ],
            schedule: ScheduleCheck {
                late: 1,
                max_lag: ms(12),
                longest_behind: Duration::ZERO,
                unsent: 0,
                invalid: Some("the sender fell behind".into()),
            },
            samples: Vec::new(),
            server_names: Vec::new(),
        }
    }

    #[test]
    fn the_document_holds_every_field_once_with_its_type() {
        let text = to_json(&every_shape());
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let expected = "elapsed_us failed failed_switches mode planned schedule switches \
                        timeline url verdict whole windows";
        assert_eq!(
            keys.join(" "),
            expected.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(json["failed"], true);
        assert_eq!(json["failed_switches"], 2);
        assert!(json["verdict"]
            .as_str()
            .unwrap()
            .starts_with("FAILED: 3 of 10"));
        assert_eq!(json["elapsed_us"].as_u64(), Some(1_000_000));
        let whole = &json["whole"];
        assert_eq!(whole["error_count"], 3);
        assert_eq!(
            whole["errors"],
            serde_json::json!({"http_503": 2, "reset": 1})
        );
        assert_eq!(whole["servers"], serde_json::json!({"s1": 6, "s\"2": 3}));
        assert_eq!(whole["latency"]["p50_us"].as_f64(), Some(410.05));
        assert_eq!(whole["latency"]["p99_9_us"].as_u64(), Some(3_000));
        assert_eq!(whole["latency"]["max_us"].as_f64(), Some(5_000.001));
        assert_eq!(json["windows"][0]["summary"], *whole);
        assert_eq!(json["windows"][0]["to_us"], 1_100_000);
        let second = &json["timeline"][0];
        assert_eq!(second["p99_us"].as_f64(), Some(2_000.3));
        assert_eq!(second["max_send_lag_us"].as_f64(), Some(1.5));
        assert_eq!(
            second["switches"],
            serde_json::json!(["disable server bk/s1"])
        );
        let schedule = serde_json::json!({"late": 1, "max_lag_us": 12_000,
            "longest_behind_us": 0, "unsent": 0, "invalid": "the sender fell behind"});
        assert_eq!(json["schedule"], schedule);
    }

    #[test]
    fn each_switch_outcome_has_its_reply_and_error() {
        let json: serde_json::Value = serde_json::from_str(&to_json(&every_shape())).unwrap();
        let switch = |i: usize| &json["switches"][i];
        let ok = serde_json::json!({"command": "disable server bk/s1", "sent_us": 100_000,
            "replied_us": 100_410.05, "round_trip_us": 410.05, "outcome": "ok",
            "reply": "", "error": null});
        assert_eq!(*switch(0), ok);
        assert_eq!(switch(1)["outcome"], "refused");
        assert_eq!(switch(1)["reply"], "No such server.");
        assert_eq!(
            switch(1)["error"],
            "refused by the proxy: \"No such server.\""
        );
        assert_eq!(switch(2)["outcome"], "no_reply");
        assert_eq!(switch(2)["reply"], serde_json::Value::Null);
        assert_eq!(switch(2)["error"], "no reply: connect /x: refused\n");
    }

    /// Whole microseconds stay integers; a fraction keeps its nanoseconds and nothing more.
    #[test]
    fn micros_keep_nanoseconds() {
        #[derive(Serialize)]
        struct Us(#[serde(serialize_with = "micros")] Duration);
        let text = |d| serde_json::to_string(&Us(d)).unwrap();
        assert_eq!(text(Duration::from_micros(410)), "410");
        assert_eq!(text(Duration::from_nanos(410_050)), "410.05");
        assert_eq!(text(Duration::from_nanos(5_000_001)), "5000.001");
    }
}
