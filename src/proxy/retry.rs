//! When a failed attempt is sent again (`retries`, `retry-on`, `option redispatch`), in one
//! pure function so the rules that keep the promise fit on one screen:
//!
//! - Only before any byte of the response reached the client (the caller guarantees it).
//! - A connect failure is safe for every request: nothing reached a server, and a body not yet
//!   buffered is still unread on the client socket.
//! - Once the request was sent, only a request that cannot run twice harmfully is sent again:
//!   GET, HEAD or OPTIONS, with its whole body still buffered. A POST that reached a server
//!   which then died is answered 502, never replayed.
//! - The failure must be one `retry-on` names.

use crate::config::RetryOn;

/// Why one attempt failed before anything was sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection to the server.
    ConnectFailed,
    /// The server closed or reset the connection without a byte of response.
    EmptyResponse,
    /// Bytes that are not an HTTP response.
    JunkResponse,
    /// `timeout server` expired before the response head.
    ResponseTimeout,
    /// A complete response head with a status `retry-on` lists (not forwarded).
    Status(u16),
}

impl Failure {
    /// The status the client gets when this failure is final.
    pub fn status(self) -> u16 {
        match self {
            Failure::ConnectFailed => 503,
            Failure::EmptyResponse | Failure::JunkResponse => 502,
            Failure::ResponseTimeout => 504,
            Failure::Status(status) => status,
        }
    }

    fn listed_in(self, on: &RetryOn) -> bool {
        match self {
            Failure::ConnectFailed => on.conn_failure,
            Failure::EmptyResponse => on.empty_response,
            Failure::JunkResponse => on.junk_response,
            Failure::ResponseTimeout => on.response_timeout,
            Failure::Status(status) => on.status(status),
        }
    }
}

/// Whether a request that failed this way may be sent again. `replayable`: the request may
/// run twice without harm (GET/HEAD/OPTIONS with its whole body buffered).
pub fn may_retry(on: &RetryOn, failure: Failure, replayable: bool) -> bool {
    failure.listed_in(on) && (failure == Failure::ConnectFailed || replayable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_failure_is_safe_for_any_request() {
        let on = RetryOn::default();
        assert!(may_retry(&on, Failure::ConnectFailed, false));
        assert!(may_retry(&on, Failure::ConnectFailed, true));
        assert!(!may_retry(&RetryOn::NONE, Failure::ConnectFailed, true));
    }

    #[test]
    fn after_sending_only_replayable_requests_go_again() {
        let on = RetryOn::default();
        assert!(may_retry(&on, Failure::EmptyResponse, true));
        assert!(!may_retry(&on, Failure::EmptyResponse, false));
        // Not in the default list.
        assert!(!may_retry(&on, Failure::ResponseTimeout, true));
        assert!(!may_retry(&on, Failure::Status(503), true));
    }

    #[test]
    fn statuses_follow_the_list() {
        let on = RetryOn {
            statuses: 1 << 6, // 503
            ..RetryOn::NONE
        };
        assert!(may_retry(&on, Failure::Status(503), true));
        assert!(!may_retry(&on, Failure::Status(503), false));
        assert!(!may_retry(&on, Failure::Status(502), true));
        assert_eq!(Failure::Status(503).status(), 503);
        assert_eq!(Failure::ResponseTimeout.status(), 504);
    }
}
