//! Slow start: on the coordinator's shard, a task steps the ramp of every server warming up
//! (`Mutation::SetRamp`) so that its effective weight grows over `slowstart`.

use super::HealthSink;
use crate::proxy::Worker;
use crate::state::{Mutation, ServerRef, RAMP_FULL, RAMP_START};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often the slow-start task looks at the servers warming up.
const RAMP_TICK: Duration = Duration::from_millis(100);
/// The ramp moves in steps of at least this many percent (at most ~20 mutations a warm-up).
const RAMP_STEP: u32 = 5;

/// One server warming up, as the slow-start task follows it.
struct Warmup {
    since: Instant,
    /// The ramp this task last asked for.
    asked: u32,
}

/// On the coordinator's shard: steps the ramp of every server warming up, linearly from
/// [`RAMP_START`] to [`RAMP_FULL`] over its `slowstart`. A server that comes back UP again
/// (its ramp fell below what was asked) starts over.
pub(super) async fn drive_slow_starts<S: HealthSink>(worker: Rc<Worker>, sink: Rc<S>) {
    let mut warming: HashMap<ServerRef, Warmup> = HashMap::new();
    loop {
        glommio::timer::sleep(RAMP_TICK).await;
        let mut steps = Vec::new();
        {
            let state = worker.state.borrow();
            let mut seen = HashSet::new();
            for (b, backend) in state.backends.iter().enumerate() {
                for s in &backend.servers {
                    let (Some(slowstart), true) = (s.tuning.slowstart, s.ramp < RAMP_FULL) else {
                        continue;
                    };
                    let server = ServerRef {
                        backend: b,
                        server: s.id,
                    };
                    seen.insert(server);
                    let w = warming.entry(server).or_insert(Warmup {
                        since: Instant::now(),
                        asked: s.ramp,
                    });
                    if s.ramp < w.asked {
                        *w = Warmup {
                            since: Instant::now(),
                            asked: s.ramp,
                        };
                    }
                    let percent = ramp_at(w.since.elapsed(), slowstart);
                    if percent >= w.asked + RAMP_STEP || (percent == RAMP_FULL && w.asked < percent)
                    {
                        w.asked = percent;
                        steps.push(Mutation::SetRamp { server, percent });
                    }
                }
            }
            warming.retain(|server, _| seen.contains(server));
        }
        if !steps.is_empty() {
            sink.step(steps).await;
        }
    }
}

/// The ramp `elapsed` into a warm-up of `slowstart`.
fn ramp_at(elapsed: Duration, slowstart: Duration) -> u32 {
    if elapsed >= slowstart {
        return RAMP_FULL;
    }
    let fraction = elapsed.as_secs_f64() / slowstart.as_secs_f64();
    (RAMP_START + (f64::from(RAMP_FULL - RAMP_START) * fraction) as u32).min(RAMP_FULL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_grows_linearly_to_full() {
        let slow = Duration::from_secs(10);
        assert_eq!(ramp_at(Duration::ZERO, slow), RAMP_START);
        assert_eq!(ramp_at(Duration::from_secs(5), slow), 50);
        assert_eq!(ramp_at(Duration::from_secs(10), slow), RAMP_FULL);
        assert_eq!(ramp_at(Duration::from_secs(60), slow), RAMP_FULL);
    }
}
