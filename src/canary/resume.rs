//! A canary across a reload or an `-x` upgrade: the running canaries of the book as records
//! of the state hand-over, and those records back as canaries of the next process, at the
//! step they were holding (the step's window starts again there: the old process's counters
//! do not come along).

use super::judge::Window;
use super::plan::Plan;
use super::runner::{Book, Canary, Status};
use crate::reload::state_dump::CanaryRecord;
use crate::state::{ServerRef, State};

/// Every running canary of `book`, by server names.
pub fn records(book: &Book, state: &State) -> Vec<CanaryRecord> {
    book.all()
        .into_iter()
        .filter(|c| c.status == Status::Running && !c.abort_requested)
        .filter_map(|c| record(&c, state))
        .collect()
}

fn record(c: &Canary, state: &State) -> Option<CanaryRecord> {
    let backend = state.backends.get(c.server.backend)?;
    let server = backend.server(c.server.server)?;
    let before = c
        .before
        .iter()
        .filter_map(|(id, w)| Some((backend.server(*id)?.name.clone(), *w)))
        .collect();
    Some(CanaryRecord {
        backend: backend.name.clone(),
        server: server.name.clone(),
        steps: c.plan.steps.clone(),
        every: c.plan.every,
        max_errors_pp: c.plan.max_errors_pp,
        max_p99: c.plan.max_p99,
        min_requests: c.plan.min_requests,
        step: c.step,
        before,
    })
}

/// The canary a record describes, in this process's server ids; `None` when its backend or
/// server is not in this process (the new config dropped it), or its step is out of its plan.
pub fn canary_from(record: &CanaryRecord, state: &State) -> Option<Canary> {
    let index = state.backend_index(&record.backend)?;
    let backend = &state.backends[index];
    let id_of = |name: &str| {
        backend
            .servers
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.id)
    };
    let server = ServerRef {
        backend: index,
        server: id_of(&record.server)?,
    };
    if record.step >= record.steps.len() {
        return None;
    }
    let before = record
        .before
        .iter()
        .filter_map(|(name, w)| Some((id_of(name)?, *w)))
        .collect();
    Some(Canary {
        server,
        name: format!("{}/{}", record.backend, record.server),
        plan: Plan {
            steps: record.steps.clone(),
            every: record.every,
            max_errors_pp: record.max_errors_pp,
            max_p99: record.max_p99,
            min_requests: record.min_requests,
        },
        before,
        step: record.step,
        real_share: 0.0,
        window: Window::default(),
        window_ms: 0,
        reference: None,
        status: Status::Running,
        verdict: "resumed after a reload".into(),
        abort_requested: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CONFIG: &str = "frontend f\n mode http\n bind 127.0.0.1:1\n default_backend b\n\
        backend b\n mode http\n server v1 127.0.0.1:81 weight 7\n server v2 127.0.0.1:82 weight 0\n";

    fn record(server: &str) -> CanaryRecord {
        CanaryRecord {
            backend: "b".into(),
            server: server.into(),
            steps: vec![10, 50, 100],
            every: Duration::from_secs(2),
            max_errors_pp: 1.0,
            max_p99: 2.0,
            min_requests: 20,
            step: 1,
            before: vec![("v1".into(), 7), ("gone".into(), 3), ("v2".into(), 0)],
        }
    }

    #[test]
    fn a_record_comes_back_at_its_step_in_this_process_ids_and_back_to_the_same_record() {
        let config = crate::config::parse_str("t.cfg", CONFIG).unwrap();
        let state = State::from_config(&config, 100);
        let canary = canary_from(&record("v2"), &state).expect("resumed");
        assert_eq!(canary.step, 1);
        assert_eq!(canary.name, "b/v2");
        assert_eq!(canary.status, Status::Running);
        let v1 = state.backends[0]
            .servers
            .iter()
            .find(|s| s.name == "v1")
            .unwrap()
            .id;
        assert_eq!(canary.before, vec![(v1, 7), (canary.server.server, 0)]);
        let book = Book::default();
        book.open(canary).unwrap();
        let mut expected = record("v2");
        expected.before.remove(1);
        assert_eq!(records(&book, &state), vec![expected]);
    }

    #[test]
    fn a_record_whose_server_or_step_is_not_here_is_not_resumed() {
        let config = crate::config::parse_str("t.cfg", CONFIG).unwrap();
        let state = State::from_config(&config, 100);
        assert!(canary_from(&record("v3"), &state).is_none());
        let mut beyond = record("v2");
        beyond.step = 3;
        assert!(canary_from(&beyond, &state).is_none());
    }
}
