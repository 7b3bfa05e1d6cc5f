//! A canary's plan, as `canary server B/S steps P1,P2,…,100 every T [max-errors R%]
//! [max-p99 X] [min-requests N]` gives it, and the weights that give the canary server a
//! share of its backend while the other servers keep their relative weights. Pure.

use crate::config::{parse_time_in, TimeUnit};
use std::time::Duration;

/// The usage line every parse error ends with.
pub const USAGE: &str = "Usage: canary server <backend>/<server> steps <P1>,<P2>,...,100 every <T> [max-errors <R>%] [max-p99 <X>] [min-requests <N>]\n";

/// Largest weight a server can have (HAProxy's `SRV_UWGHT_MAX`).
const MAX_WEIGHT: u32 = 256;

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Shares in percent, strictly increasing, the last one 100.
    pub steps: Vec<u32>,
    /// How long each step holds before it is judged.
    pub every: Duration,
    /// How many percentage points the canary's 5xx-and-failed ratio may exceed the others'.
    pub max_errors_pp: f64,
    /// How many times the others' p99 the canary's p99 may reach.
    pub max_p99: f64,
    /// Requests the canary needs in a window before the window is judged.
    pub min_requests: u64,
}

/// Defaults of the optional knobs (docs/canary.md explains each).
pub const DEFAULT_MAX_ERRORS_PP: f64 = 1.0;
pub const DEFAULT_MAX_P99: f64 = 2.0;
pub const DEFAULT_MIN_REQUESTS: u64 = 50;

/// Parses the words after `canary server B/S`.
pub fn parse_plan(words: &[String]) -> Result<Plan, String> {
    let mut steps = None;
    let mut every = None;
    let mut plan = Plan {
        steps: Vec::new(),
        every: Duration::ZERO,
        max_errors_pp: DEFAULT_MAX_ERRORS_PP,
        max_p99: DEFAULT_MAX_P99,
        min_requests: DEFAULT_MIN_REQUESTS,
    };
    let mut words = words.iter().map(String::as_str);
    while let Some(keyword) = words.next() {
        let value = words
            .next()
            .ok_or_else(|| format!("'{keyword}' expects a value.\n{USAGE}"))?;
        match keyword {
            "steps" => steps = Some(parse_steps(value)?),
            "every" => every = Some(parse_every(value)?),
            "max-errors" => plan.max_errors_pp = parse_percent(value)?,
            "max-p99" => plan.max_p99 = parse_factor(value)?,
            "min-requests" => plan.min_requests = parse_count(value)?,
            other => return Err(format!("Unknown canary option '{other}'.\n{USAGE}")),
        }
    }
    plan.steps = steps.ok_or_else(|| format!("Missing 'steps'.\n{USAGE}"))?;
    plan.every = every.ok_or_else(|| format!("Missing 'every'.\n{USAGE}"))?;
    Ok(plan)
}

fn parse_steps(text: &str) -> Result<Vec<u32>, String> {
    let bad = || {
        format!("'steps' expects increasing percentages from 1 to 100, ending with 100 (got '{text}').\n{USAGE}")
    };
    let steps: Vec<u32> = text
        .split(',')
        .map(|p| p.trim_end_matches('%').parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let increasing = steps.windows(2).all(|w| w[0] < w[1]);
    let in_range = steps.iter().all(|p| (1..=100).contains(p));
    if !increasing || !in_range || steps.last() != Some(&100) {
        return Err(bad());
    }
    Ok(steps)
}

fn parse_every(text: &str) -> Result<Duration, String> {
    parse_time_in(text, TimeUnit::Milliseconds)
        .ok()
        .filter(|d| *d >= Duration::from_millis(100))
        .ok_or_else(|| {
            format!("'every' expects a duration of at least 100ms (got '{text}').\n{USAGE}")
        })
}

fn parse_percent(text: &str) -> Result<f64, String> {
    text.strip_suffix('%')
        .unwrap_or(text)
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 100.0)
        .ok_or_else(|| {
            format!("'max-errors' expects a percentage from 0% to 100% (got '{text}').\n{USAGE}")
        })
}

fn parse_factor(text: &str) -> Result<f64, String> {
    text.strip_suffix('x')
        .unwrap_or(text)
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 1.0)
        .ok_or_else(|| format!("'max-p99' expects a factor of at least 1 (got '{text}').\n{USAGE}"))
}

fn parse_count(text: &str) -> Result<u64, String> {
    text.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
        format!("'min-requests' expects a count of at least 1 (got '{text}').\n{USAGE}")
    })
}

/// The weights of one step: the canary gets `share` percent of the traffic the backend's
/// servers in `before` share (their weights before the canary, by server id), the others keep
/// their relative weights (all multiplied by one factor). Returns every server's new weight
/// (the canary's included) and the share those integer weights really give, in percent.
pub fn step_weights(before: &[(u32, u32)], canary: u32, share: u32) -> (Vec<(u32, u32)>, f64) {
    let others: Vec<(u32, u32)> = before
        .iter()
        .copied()
        .filter(|(id, _)| *id != canary)
        .collect();
    let others_total: u32 = others.iter().map(|(_, w)| w).sum();
    let canary_before = before
        .iter()
        .find(|(id, _)| *id == canary)
        .map_or(0, |(_, w)| *w);
    if share >= 100 || others_total == 0 {
        let mut weights: Vec<(u32, u32)> = others.iter().map(|(id, _)| (*id, 0)).collect();
        weights.push((canary, canary_before.max(1)));
        return (weights, 100.0);
    }
    let heaviest = others.iter().map(|(_, w)| *w).max().unwrap_or(1).max(1);
    let (factor, canary_weight) = (1..=MAX_WEIGHT / heaviest)
        .map(|k| (k, canary_weight_for(others_total * k, share)))
        .min_by(|a, b| {
            let error =
                |(k, w): &(u32, u32)| (real_share(*w, others_total * k) - f64::from(share)).abs();
            error(a).total_cmp(&error(b))
        })
        .unwrap_or((1, canary_weight_for(others_total, share)));
    let mut weights: Vec<(u32, u32)> = others.iter().map(|(id, w)| (*id, w * factor)).collect();
    weights.push((canary, canary_weight));
    (weights, real_share(canary_weight, others_total * factor))
}

/// The canary weight closest to `share` percent beside `others` (at least 1, at most 256).
fn canary_weight_for(others: u32, share: u32) -> u32 {
    let exact = f64::from(share) * f64::from(others) / f64::from(100 - share);
    (exact.round() as u32).clamp(1, MAX_WEIGHT)
}

fn real_share(canary: u32, others: u32) -> f64 {
    100.0 * f64::from(canary) / f64::from(canary + others)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_full_plan_parses_and_defaults_fill_the_rest() {
        let plan = parse_plan(&words(
            "steps 1,5,25,100 every 30s max-errors 2% max-p99 1.5 min-requests 200",
        ))
        .unwrap();
        assert_eq!(plan.steps, vec![1, 5, 25, 100]);
        assert_eq!(plan.every, Duration::from_secs(30));
        assert_eq!(
            (plan.max_errors_pp, plan.max_p99, plan.min_requests),
            (2.0, 1.5, 200)
        );
        let plan = parse_plan(&words("every 500ms steps 100")).unwrap();
        assert_eq!(plan.every, Duration::from_millis(500));
        assert_eq!(
            (plan.max_errors_pp, plan.max_p99, plan.min_requests),
            (DEFAULT_MAX_ERRORS_PP, DEFAULT_MAX_P99, DEFAULT_MIN_REQUESTS)
        );
    }

    #[test]
    fn malformed_plans_say_what_is_wrong() {
        let error = |text: &str| parse_plan(&words(text)).unwrap_err();
        assert!(error("steps 1,5,25 every 1s").contains("ending with 100"));
        assert!(error("steps 5,1,100 every 1s").contains("increasing"));
        assert!(error("steps 0,100 every 1s").contains("from 1 to 100"));
        assert!(error("steps 1,x,100 every 1s").contains("'steps'"));
        assert!(error("steps 1,100").contains("Missing 'every'"));
        assert!(error("every 1s").contains("Missing 'steps'"));
        assert!(error("steps 100 every 10ms").contains("at least 100ms"));
        assert!(error("steps 100 every 1s max-errors 101%").contains("'max-errors'"));
        assert!(error("steps 100 every 1s max-p99 0.5").contains("'max-p99'"));
        assert!(error("steps 100 every 1s min-requests 0").contains("'min-requests'"));
        assert!(error("steps 100 every 1s colour blue").contains("Unknown canary option 'colour'"));
        assert!(error("steps 100 every").contains("'every' expects a value"));
        assert!(error("steps").ends_with(USAGE));
    }

    #[test]
    fn the_canary_gets_its_share_and_the_others_keep_their_ratio() {
        // Two old servers at 1 and 3, the canary (id 3) at 0 before.
        let before = [(1, 1), (2, 3), (3, 0)];
        for share in [1, 5, 10, 25, 50, 75, 90] {
            let (weights, real) = step_weights(&before, 3, share);
            let w = |id| weights.iter().find(|(i, _)| *i == id).unwrap().1;
            assert_eq!(w(2), 3 * w(1), "share {share}: the others keep 1:3");
            assert!(w(1) <= MAX_WEIGHT && w(2) <= MAX_WEIGHT && w(3) <= MAX_WEIGHT);
            let total = f64::from(w(1) + w(2) + w(3));
            assert!((100.0 * f64::from(w(3)) / total - real).abs() < 1e-9);
            assert!(
                (real - f64::from(share)).abs() < 0.5,
                "share {share}: got {real}"
            );
        }
    }

    #[test]
    fn at_100_the_canary_takes_everything() {
        let (weights, real) = step_weights(&[(1, 10), (2, 10), (3, 5)], 3, 100);
        assert_eq!(real, 100.0);
        assert_eq!(weights, vec![(1, 0), (2, 0), (3, 5)]);
        // A canary added at weight 0 still gets traffic.
        let (weights, _) = step_weights(&[(1, 10), (3, 0)], 3, 100);
        assert_eq!(weights, vec![(1, 0), (3, 1)]);
    }

    #[test]
    fn heavy_others_cap_the_canary_at_256() {
        let (weights, real) = step_weights(&[(1, 256), (2, 256)], 3, 90);
        assert_eq!(weights, vec![(1, 256), (2, 256), (3, 256)]);
        assert!((real - 100.0 / 3.0).abs() < 1e-9);
    }
}
