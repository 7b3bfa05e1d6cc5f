//! Turns the raw samples of a run into the figures of a [`Report`]: HDR percentiles for the
//! whole run and for ±1 s around each switch, a per-second timeline, and the schedule check
//! that marks a run invalid when the sender could not keep the requested rate.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::outcome::Sample;
use super::report::{Percentiles, ScheduleCheck, Second, Summary, Window};
use super::switches::SwitchEvent;

/// A request sent later than this after its intended time counts as late.
pub const LATE_BOUND: Duration = Duration::from_millis(50);
/// Being late for this long without a break means the rate cannot be sustained.
pub const SUSTAINED: Duration = Duration::from_secs(1);
/// Half-width of the window reported around each switch.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Counts, servers and latency percentiles over `samples`.
pub fn summarize<'a>(samples: impl IntoIterator<Item = &'a Sample>, names: &[String]) -> Summary {
    let mut summary = Summary::default();
    let mut latency = new_histogram();
    let mut service = new_histogram();
    for sample in samples {
        summary.requests += 1;
        match sample.error {
            Some(class) => *summary.errors.entry(class).or_default() += 1,
            None => summary.ok += 1,
        }
        if let Some(name) = server_of(sample, names) {
            *summary.servers.entry(name.to_string()).or_default() += 1;
        }
        latency.saturating_record(sample.latency_ns().max(1));
        service.saturating_record(sample.service_ns().max(1));
    }
    summary.latency = percentiles(&latency);
    summary.service = percentiles(&service);
    summary
}

/// The windows of ±1 s (by intended send time) around each switch.
pub fn windows(samples: &[Sample], switches: &[SwitchEvent], names: &[String]) -> Vec<Window> {
    switches
        .iter()
        .map(|switch| {
            let from = switch.sent.saturating_sub(WINDOW);
            let to = switch.sent + WINDOW;
            let inside = samples.iter().filter(|s| {
                let due = Duration::from_nanos(s.intended_ns);
                due >= from && due <= to
            });
            Window {
                command: switch.command.clone(),
                from,
                to,
                summary: summarize(inside, names),
            }
        })
        .collect()
}

/// One row per second of the schedule, with the switches sent in it.
pub fn timeline(samples: &[Sample], switches: &[SwitchEvent], names: &[String]) -> Vec<Second> {
    let last_sample = samples.iter().map(|s| s.intended_ns / 1_000_000_000).max();
    let last_switch = switches.iter().map(|s| s.sent.as_secs()).max();
    let Some(last) = last_sample.max(last_switch) else {
        return Vec::new();
    };
    let mut seconds: Vec<Second> = (0..=last)
        .map(|second| Second {
            second,
            ..Second::default()
        })
        .collect();
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); seconds.len()];
    for sample in samples {
        let index = (sample.intended_ns / 1_000_000_000) as usize;
        let row = &mut seconds[index];
        row.requests += 1;
        row.errors += u64::from(sample.error.is_some());
        if let Some(name) = server_of(sample, names) {
            *row.servers.entry(name.to_string()).or_default() += 1;
        }
        row.max_send_lag = row
            .max_send_lag
            .max(Duration::from_nanos(sample.send_lag_ns()));
        latencies[index].push(sample.latency_ns());
    }
    for (row, values) in seconds.iter_mut().zip(&mut latencies) {
        values.sort_unstable();
        row.p50 = Duration::from_nanos(exact_quantile(values, 0.50));
        row.p99 = Duration::from_nanos(exact_quantile(values, 0.99));
    }
    for switch in switches {
        seconds[switch.sent.as_secs() as usize]
            .switches
            .push(switch.command.clone());
    }
    seconds
}

/// Did the sender keep the schedule? Invalid when some stretch of at least `SUSTAINED` had
/// every request go out more than `LATE_BOUND` late, or when requests were never sent: the
/// latency would then measure queueing inside the load generator, not the server.
pub fn check_schedule(
    samples: &[Sample],
    unsent: u64,
    interval: Duration,
    connections: usize,
) -> ScheduleCheck {
    let mut check = ScheduleCheck {
        unsent,
        ..ScheduleCheck::default()
    };
    let bound = LATE_BOUND.as_nanos() as u64;
    let mut stretch_start: Option<u64> = None;
    for sample in samples {
        let lag = sample.send_lag_ns();
        check.max_lag = check.max_lag.max(Duration::from_nanos(lag));
        if lag <= bound {
            stretch_start = None;
            continue;
        }
        check.late += 1;
        let start = *stretch_start.get_or_insert(sample.intended_ns);
        let stretch = Duration::from_nanos(sample.intended_ns - start) + interval;
        check.longest_behind = check.longest_behind.max(stretch);
    }
    check.invalid = invalid_reason(&check, interval, connections);
    check
}

fn invalid_reason(check: &ScheduleCheck, interval: Duration, connections: usize) -> Option<String> {
    // The interval is whole nanoseconds; round so 15000/s does not print as 14999.9/s.
    let rate = (100.0 / interval.as_secs_f64()).round() / 100.0;
    let advice = format!(
        "the requested {rate} req/s cannot be sustained over {connections} connection(s); \
         the latency figures would show queueing in the load generator. \
         Use more --connections or a lower --rate"
    );
    if check.unsent > 0 {
        return Some(format!(
            "{} requests were never sent because the sender was still behind schedule when the run ended: {advice}",
            check.unsent
        ));
    }
    if check.longest_behind >= SUSTAINED && check.late >= 2 {
        return Some(format!(
            "the sender was more than {} ms behind schedule for {:.1} s in a row (worst {:.3} s): {advice}",
            LATE_BOUND.as_millis(),
            check.longest_behind.as_secs_f64(),
            check.max_lag.as_secs_f64()
        ));
    }
    None
}

fn server_of<'a>(sample: &Sample, names: &'a [String]) -> Option<&'a str> {
    sample
        .server
        .and_then(|id| names.get(usize::from(id)))
        .map(String::as_str)
}

/// 1 ns to 1 hour at 3 significant digits: exact enough and bounded in memory.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

fn percentiles(histogram: &Histogram<u64>) -> Percentiles {
    if histogram.is_empty() {
        return Percentiles::default();
    }
    let at = |q: f64| Duration::from_nanos(histogram.value_at_quantile(q));
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        p9999: at(0.9999),
        max: Duration::from_nanos(histogram.max()),
        mean: Duration::from_nanos(histogram.mean() as u64),
    }
}

/// Nearest-rank quantile of sorted values; 0 when empty.
fn exact_quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadtest::outcome::ErrorClass;

    fn sample(seq: u64, intended_ms: u64, lag_ms: u64, latency_ms: u64) -> Sample {
        let ms = 1_000_000;
        Sample {
            seq,
            intended_ns: intended_ms * ms,
            sent_ns: (intended_ms + lag_ms) * ms,
            done_ns: (intended_ms + latency_ms) * ms,
            status: Some(200),
            error: None,
            server: Some((seq % 2) as u16),
        }
    }

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn summary_counts_servers_errors_and_percentiles() {
        let mut samples: Vec<Sample> = (0..100).map(|i| sample(i, i * 10, 0, i + 1)).collect();
        samples[7].error = Some(ErrorClass::Reset);
        samples[7].server = None;
        let summary = summarize(&samples, &names());
        assert_eq!(summary.requests, 100);
        assert_eq!(summary.ok, 99);
        assert_eq!(summary.errors[&ErrorClass::Reset], 1);
        assert_eq!(summary.servers["a"], 50);
        assert_eq!(summary.servers["b"], 49);
        let p50 = summary.latency.p50.as_secs_f64() * 1e3;
        assert!((p50 - 50.0).abs() < 0.1, "p50 {p50}");
        assert_eq!(summary.latency.max.as_millis(), 100);
    }

    #[test]
    fn timeline_buckets_by_intended_second_and_marks_switches() {
        let samples: Vec<Sample> = (0..30).map(|i| sample(i, i * 100, 0, 5)).collect();
        let switch = SwitchEvent {
            sent: Duration::from_millis(1500),
            replied: Duration::from_millis(1501),
            command: "disable server bk/a".into(),
            reply: Ok(String::new()),
        };
        let rows = timeline(&samples, std::slice::from_ref(&switch), &names());
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.requests == 10));
        assert_eq!(rows[1].switches, vec!["disable server bk/a".to_string()]);
        assert_eq!(rows[0].p50, Duration::from_millis(5));
        let around = windows(&samples, &[switch], &names());
        assert_eq!(around[0].summary.requests, 21); // 0.5 s ..= 2.5 s
    }

    #[test]
    fn short_hiccup_is_latency_but_sustained_lag_is_invalid() {
        let interval = Duration::from_millis(10);
        let hiccup: Vec<Sample> = (0..200)
            .map(|i| sample(i, i * 10, if (50..60).contains(&i) { 80 } else { 0 }, 1))
            .collect();
        let check = check_schedule(&hiccup, 0, interval, 1);
        assert_eq!(check.late, 10);
        assert!(check.invalid.is_none());

        let behind: Vec<Sample> = (0..200).map(|i| sample(i, i * 10, 60 + i, 1)).collect();
        let check = check_schedule(&behind, 0, interval, 1);
        assert!(check.invalid.is_some(), "{check:?}");
        assert!(check_schedule(&hiccup, 3, interval, 1).invalid.is_some());
    }

    #[test]
    fn exact_quantile_is_nearest_rank() {
        assert_eq!(exact_quantile(&[1, 2, 3, 4], 0.5), 2);
        assert_eq!(exact_quantile(&[1, 2, 3, 4], 0.99), 4);
        assert_eq!(exact_quantile(&[], 0.5), 0);
    }
}
