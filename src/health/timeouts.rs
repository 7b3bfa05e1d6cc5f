//! How long each phase of a check may take, by HAProxy's rule (`timeout check`, `timeout
//! connect`, `inter`).

use std::time::Duration;

/// How long each phase of a check may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTimeouts {
    pub connect: Duration,
    /// From the request written to the status line read (HTTP checks).
    pub response: Duration,
    /// Connect and response share one budget (`response` counts from the start).
    pub shared: bool,
}

/// HAProxy's rule: with `timeout check`, connect within min(`timeout connect`, `inter`) and
/// read for `timeout check`; without it, `inter` bounds the whole check.
pub fn timeouts(inter: Duration, connect: Duration, check: Option<Duration>) -> CheckTimeouts {
    match check {
        Some(check) => CheckTimeouts {
            connect: connect.min(inter),
            response: check,
            shared: false,
        },
        None => CheckTimeouts {
            connect: inter,
            response: inter,
            shared: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_timeouts_follow_haproxy() {
        let s = Duration::from_secs;
        // No `timeout check`: `inter` bounds the whole check.
        assert_eq!(
            timeouts(s(2), s(5), None),
            CheckTimeouts {
                connect: s(2),
                response: s(2),
                shared: true
            }
        );
        // `timeout check`: connect within min(connect, inter), then the check timeout.
        assert_eq!(
            timeouts(s(2), s(1), Some(s(3))),
            CheckTimeouts {
                connect: s(1),
                response: s(3),
                shared: false
            }
        );
        assert_eq!(timeouts(s(2), s(5), Some(s(3))).connect, s(2));
    }
}
