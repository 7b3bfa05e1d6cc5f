//! Passive health (`observe layer4|layer7`, `error-limit`, `on-error`): the request path tells
//! the [`Observer`] how each exchange with a server ended; `error-limit` consecutive errors
//! queue one report, which the health module (same shard) forwards to the coordinator as a
//! "Health analyze" check result. The server's `on-error` decides there what it does.
//!
//! Counts are per shard (no cross-core traffic on the request path): with N shards, a server
//! failing every request reaches the limit on each shard that sends it traffic.

use crate::config::Observe;
use crate::state::{ServerRef, State};
use glommio::channels::local_channel::{self, LocalReceiver, LocalSender};
use std::cell::RefCell;
use std::collections::HashMap;

/// How one exchange with a server ended, as `observe` classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// A response came back and was not a layer7 error.
    Success,
    /// The connection could not be established.
    ConnectFailed,
    /// The server closed or reset the connection without a byte of response.
    EmptyResponse,
    /// `timeout server` expired before the response.
    Timeout,
    /// A 5xx response other than 501 and 505 (HAProxy's layer7 errors).
    ServerError,
}

impl Observed {
    /// The class of a response status.
    pub fn of_status(status: u16) -> Observed {
        if (500..=599).contains(&status) && status != 501 && status != 505 {
            Observed::ServerError
        } else {
            Observed::Success
        }
    }

    /// Whether `observe <level>` counts this as an error.
    fn is_error_at(self, level: Observe) -> bool {
        match self {
            Observed::Success => false,
            Observed::ConnectFailed | Observed::EmptyResponse => true,
            Observed::Timeout | Observed::ServerError => level == Observe::Layer7,
        }
    }
}

/// Consecutive errors per observed server on this shard, and the queue of reports.
pub struct Observer {
    consecutive: RefCell<HashMap<ServerRef, u32>>,
    reports: LocalSender<ServerRef>,
    receiver: RefCell<Option<LocalReceiver<ServerRef>>>,
}

impl Default for Observer {
    fn default() -> Self {
        let (reports, receiver) = local_channel::new_unbounded();
        Observer {
            consecutive: RefCell::new(HashMap::new()),
            reports,
            receiver: RefCell::new(Some(receiver)),
        }
    }
}

impl Observer {
    /// Records how an exchange with `server` ended. Cheap when nothing is observed: one state
    /// lookup, and a map lookup only after an error.
    /// Forgets a removed server's count of consecutive errors.
    pub fn forget(&self, server: ServerRef) {
        self.consecutive.borrow_mut().remove(&server);
    }

    pub fn record(&self, state: &State, server: ServerRef, outcome: Observed) {
        let Some(s) = state.server(server) else {
            return;
        };
        // HAProxy's observe needs checks: they are what brings the server back.
        let Some(level) = s.tuning.observe.filter(|_| s.check.active()) else {
            return;
        };
        let mut consecutive = self.consecutive.borrow_mut();
        if !outcome.is_error_at(level) {
            if !consecutive.is_empty() {
                consecutive.remove(&server);
            }
            return;
        }
        let count = consecutive.entry(server).or_insert(0);
        *count += 1;
        if *count >= s.tuning.error_limit {
            *count = 0;
            // Unbounded: cannot be full; closed only if the health task is gone.
            let _ = self.reports.try_send(server);
        }
    }

    /// The queue of servers that reached their error limit (taken once, by the health task).
    pub fn take_reports(&self) -> Option<LocalReceiver<ServerRef>> {
        self.receiver.borrow_mut().take()
    }
}
