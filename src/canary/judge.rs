//! The verdict of one window: the canary server's requests against the other servers' of the
//! same backend in the same window, from two gatherings of the shards' counters and latency
//! histograms (the ones `show stat` and `show latency` read). Pure.

use super::plan::Plan;
use crate::state::ServerRef;
use crate::stats::latency::{LatencySnapshot, Series};
use crate::stats::{Counters, StatsSnapshot};
use std::collections::BTreeMap;

/// The shards' counters and histograms at one moment.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub stats: StatsSnapshot,
    pub latency: LatencySnapshot,
}

/// What one side (the canary, or the others together) did in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    /// Requests that ended: responses of every class, plus connection and response errors.
    pub requests: u64,
    /// 5xx responses, plus connection and response errors.
    pub bad: u64,
    /// p99 of the whole request time (`Ta`), in microseconds; 0 without a sample.
    pub p99_us: u64,
}

impl Figures {
    /// The 5xx-and-failed ratio in percent (0 without requests).
    pub fn bad_percent(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        100.0 * self.bad as f64 / self.requests as f64
    }
}

/// Both sides of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    pub canary: Figures,
    pub others: Figures,
}

/// How a window ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    /// Too few canary requests yet: the step goes on.
    Extend,
    /// The step failed; the text says which figures decided it.
    Fail(String),
}

/// The window between `start` and `end` for `canary` in its backend.
pub fn window(start: &Gathered, end: &Gathered, canary: ServerRef) -> Window {
    let mut w = Window::default();
    let ids = server_ids(end, canary.backend);
    let mut others_latency = Series::default();
    for id in ids {
        let server = ServerRef {
            backend: canary.backend,
            server: id,
        };
        let (counts, latency) = side(start, end, server);
        if id == canary.server {
            w.canary = figures(counts, &latency);
        } else {
            w.others.requests += counts.0;
            w.others.bad += counts.1;
            let _ = others_latency.histogram.add(&latency.histogram);
        }
    }
    w.others.p99_us = p99(&others_latency);
    w
}

/// Judges a window. `reference` stands in for the others when they had no request in it (at
/// the 100 % step they take no traffic): the others' figures of the last window where they had
/// some. `extendable` is false once the step reached its longest (3T).
pub fn verdict(plan: &Plan, w: &Window, reference: Option<&Figures>, extendable: bool) -> Verdict {
    if w.canary.requests < plan.min_requests {
        if extendable {
            return Verdict::Extend;
        }
        return Verdict::Fail(format!(
            "too few requests: {} in the longest window (3 x every), min-requests {}",
            w.canary.requests, plan.min_requests
        ));
    }
    let others = match (w.others.requests, reference) {
        (0, Some(reference)) => *reference,
        _ => w.others,
    };
    let excess = w.canary.bad_percent() - others.bad_percent();
    if excess > plan.max_errors_pp {
        return Verdict::Fail(format!(
            "errors: {:.2}% ({}/{}) against the others' {:.2}% ({}/{}), more than {} points above",
            w.canary.bad_percent(),
            w.canary.bad,
            w.canary.requests,
            others.bad_percent(),
            others.bad,
            others.requests,
            plan.max_errors_pp
        ));
    }
    if others.p99_us > 0 && w.canary.p99_us as f64 > plan.max_p99 * others.p99_us as f64 {
        return Verdict::Fail(format!(
            "p99: {} us against the others' {} us, more than {}x",
            w.canary.p99_us, others.p99_us, plan.max_p99
        ));
    }
    Verdict::Pass
}

fn server_ids(g: &Gathered, backend: usize) -> Vec<u32> {
    let mut ids: Vec<u32> = g
        .stats
        .servers
        .get(backend)
        .map(|m| m.keys().copied().collect())
        .unwrap_or_default();
    if let Some(servers) = g.latency.servers.get(backend) {
        ids.extend(servers.keys().copied());
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// One server's (requests, bad) and request-time histogram between the two gatherings.
fn side(start: &Gathered, end: &Gathered, server: ServerRef) -> ((u64, u64), Series) {
    let counters = |g: &Gathered| counters_of(&g.stats.servers, server);
    let (before, after) = (counters(start), counters(end));
    let requests = ended(&after).saturating_sub(ended(&before));
    let bad = bad(&after).saturating_sub(bad(&before));
    let mut latency = end
        .latency
        .server(server)
        .map(|l| l.total.clone())
        .unwrap_or_default();
    if let Some(earlier) = start.latency.server(server) {
        // The later histogram holds every sample of the earlier one (same server, same
        // shards), so the difference is the window's.
        let _ = latency.histogram.subtract(&earlier.total.histogram);
    }
    ((requests, bad), latency)
}

fn counters_of(servers: &[BTreeMap<u32, Counters>], server: ServerRef) -> Counters {
    servers
        .get(server.backend)
        .and_then(|m| m.get(&server.server))
        .copied()
        .unwrap_or_default()
}

fn ended(c: &Counters) -> u64 {
    c.hrsp.iter().sum::<u64>() + c.econ + c.eresp
}

fn bad(c: &Counters) -> u64 {
    c.hrsp[4] + c.econ + c.eresp
}

fn figures((requests, bad): (u64, u64), latency: &Series) -> Figures {
    Figures {
        requests,
        bad,
        p99_us: p99(latency),
    }
}

fn p99(series: &Series) -> u64 {
    if series.count() == 0 {
        return 0;
    }
    series.quantile_us(0.99)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::latency::Timing;
    use std::time::Duration;

    const CANARY: ServerRef = ServerRef {
        backend: 0,
        server: 3,
    };

    fn plan() -> Plan {
        Plan {
            steps: vec![10, 100],
            every: Duration::from_secs(1),
            max_errors_pp: 1.0,
            max_p99: 2.0,
            min_requests: 100,
        }
    }

    /// Records `n` requests on server `id` answering `status` after `us` microseconds.
    fn record(g: &mut Gathered, id: u32, n: u64, status: u16, us: u64) {
        let server = ServerRef {
            backend: 0,
            server: id,
        };
        if g.stats.servers.is_empty() {
            g.stats.servers.push(BTreeMap::new());
        }
        let c = g.stats.servers[0].entry(id).or_default();
        c.hrsp[usize::from(status / 100 - 1)] += n;
        for _ in 0..n {
            g.latency.record(
                server,
                &Timing {
                    connect_us: None,
                    response_us: Some(us),
                    total_us: Some(us),
                },
            );
        }
    }

    #[test]
    fn the_window_counts_only_what_happened_between_the_gatherings() {
        let mut start = Gathered::default();
        record(&mut start, 1, 500, 200, 50_000); // slow before the window: not in it
        record(&mut start, 3, 10, 503, 1_000);
        let mut end = start.clone();
        record(&mut end, 1, 900, 200, 1_000);
        record(&mut end, 1, 100, 502, 1_000);
        record(&mut end, 3, 97, 200, 4_000);
        record(&mut end, 3, 3, 503, 4_000);
        let w = window(&start, &end, CANARY);
        assert_eq!((w.canary.requests, w.canary.bad), (100, 3));
        assert_eq!((w.others.requests, w.others.bad), (1000, 100));
        assert!(
            (3_900..=4_100).contains(&w.canary.p99_us),
            "{}",
            w.canary.p99_us
        );
        assert!(
            (990..=1_010).contains(&w.others.p99_us),
            "{}",
            w.others.p99_us
        );
    }

    fn side(requests: u64, bad: u64, p99_us: u64) -> Figures {
        Figures {
            requests,
            bad,
            p99_us,
        }
    }

    #[test]
    fn errors_above_the_others_by_more_than_r_points_fail() {
        let w = |bad| Window {
            canary: side(100, bad, 1_000),
            others: side(1000, 10, 1_000),
        };
        // Others at 1 %: the canary may reach 2 %.
        assert_eq!(verdict(&plan(), &w(2), None, true), Verdict::Pass);
        let Verdict::Fail(why) = verdict(&plan(), &w(3), None, true) else {
            panic!("3% against 1% with R=1 must fail");
        };
        assert!(
            why.starts_with("errors: 3.00% (3/100) against the others' 1.00% (10/1000)"),
            "{why}"
        );
    }

    #[test]
    fn p99_above_x_times_the_others_fails() {
        let w = |p99| Window {
            canary: side(100, 0, p99),
            others: side(1000, 0, 1_000),
        };
        assert_eq!(verdict(&plan(), &w(2_000), None, true), Verdict::Pass);
        assert!(
            matches!(verdict(&plan(), &w(2_100), None, true), Verdict::Fail(why) if why.starts_with("p99: 2100 us"))
        );
    }

    #[test]
    fn too_few_requests_extend_the_step_until_its_longest() {
        let w = Window {
            canary: side(99, 99, 1_000_000),
            others: side(1000, 0, 1_000),
        };
        assert_eq!(verdict(&plan(), &w, None, true), Verdict::Extend);
        assert!(
            matches!(verdict(&plan(), &w, None, false), Verdict::Fail(why) if why.starts_with("too few requests: 99"))
        );
    }

    #[test]
    fn without_traffic_on_the_others_the_last_reference_judges() {
        let w = Window {
            canary: side(1000, 0, 5_000),
            others: side(0, 0, 0),
        };
        assert_eq!(verdict(&plan(), &w, None, true), Verdict::Pass);
        let reference = side(1000, 0, 1_000);
        assert!(
            matches!(verdict(&plan(), &w, Some(&reference), true), Verdict::Fail(why) if why.starts_with("p99: 5000 us"))
        );
    }
}
