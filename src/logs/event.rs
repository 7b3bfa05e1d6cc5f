//! Server state-change lines in HAProxy 2.6's words (its `srv_update_status`), so that
//! operators' log searches and alerts keep matching:
//!
//! - a server that stops taking traffic (maintenance, DOWN): `… N active and M backup servers
//!   left.[ Running on backup.] K sessions active, 0 requeued, 0 remaining in queue.`
//! - one that starts taking traffic again, or enters drain / stopping: `… servers online.[
//!   Running on backup.] 0 sessions requeued, 0 total in queue.`
//! - leaving forced maintenance or drain: the reason alone (`is UP/READY (leaving forced
//!   maintenance).`).
//!
//! pointsman never requeues (a request that waits for a server stays in its own queue), hence
//! the zeros.
//!
//! A 404 under `http-check disable-on-404` reads `is stopping, reason: Layer7 check
//! conditionally passed, code: 404, …` and counts as online.
//!
//! The reason a line gives comes from the mutation that caused it ([`transition_change`]): an
//! admin command, a check result ([`transition_reason`]), `set server … health`.

use crate::state::{AdminState, CheckDetail, CheckStatus, Mutation, OpState};

/// How HAProxy words one transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Out of the traffic: `is going DOWN for maintenance`, `is DOWN, reason: …`.
    Down(String),
    /// Into the traffic, or out of it softly: `is UP, reason: …`, `enters drain state`,
    /// `is stopping, changed from CLI`.
    Up(String),
    /// `is UP/READY (leaving forced maintenance)`, `is UP (leaving forced drain)`: no counts.
    Left(String),
}

/// The backend as the change left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usable {
    /// Active servers taking new traffic.
    pub active: usize,
    /// Backup servers taking new traffic.
    pub backup: usize,
}

/// One state-change line. `sessions` is the server's requests in flight at the change
/// (printed for [`Change::Down`] only, as HAProxy does).
pub fn server_change(
    backend: &str,
    server: &str,
    is_backup: bool,
    change: &Change,
    usable: Usable,
    sessions: u64,
) -> String {
    let kind = if is_backup { "Backup Server" } else { "Server" };
    let running = if usable.active == 0 && usable.backup > 0 {
        " Running on backup."
    } else {
        ""
    };
    let Usable { active, backup } = usable;
    match change {
        Change::Down(why) => format!(
            "{kind} {backend}/{server} {why}. {active} active and {backup} backup servers left.\
             {running} {sessions} sessions active, 0 requeued, 0 remaining in queue."
        ),
        Change::Up(why) => format!(
            "{kind} {backend}/{server} {why}. {active} active and {backup} backup servers online.\
             {running} 0 sessions requeued, 0 total in queue."
        ),
        Change::Left(why) => format!("{kind} {backend}/{server} {why}."),
    }
}

/// How HAProxy words what `mutation` did to a server (`before`: its administrative state
/// before a `SetAdminState`).
pub fn transition_change(
    mutation: &Mutation,
    before: Option<AdminState>,
    now_usable: bool,
) -> Change {
    let soft_or_up = |why: String| {
        if now_usable {
            Change::Up(why)
        } else {
            Change::Down(why)
        }
    };
    match mutation {
        Mutation::SetAdminState {
            state: AdminState::Maint,
            ..
        } => Change::Down("is going DOWN for maintenance".into()),
        Mutation::SetAdminState {
            state: AdminState::Drain,
            ..
        } => Change::Up("enters drain state".into()),
        Mutation::SetAdminState { .. } if before == Some(AdminState::Drain) => {
            Change::Left("is UP (leaving forced drain)".into())
        }
        Mutation::SetAdminState { .. } => {
            Change::Left("is UP/READY (leaving forced maintenance)".into())
        }
        // `disable-on-404`: out of new traffic, worded like a drain ("online").
        Mutation::CheckResult {
            status: CheckStatus::L7OkC,
            detail,
            ..
        } => Change::Up(transition_reason(CheckStatus::L7OkC, detail, false)),
        Mutation::CheckResult { status, detail, .. } => {
            soft_or_up(transition_reason(*status, detail, now_usable))
        }
        Mutation::SetHealth { op, .. } => {
            let why = cli_health_reason(*op);
            match op {
                // HAProxy words `stopping` like a drain: out of new traffic, "online".
                OpState::Stopping => Change::Up(why),
                _ => soft_or_up(why),
            }
        }
        Mutation::SetWeight { .. } => soft_or_up("changed its weight".into()),
        Mutation::MarkDeleting { .. } => Change::Down("is being deleted (draining)".into()),
        _ => soft_or_up("changed state".into()),
    }
}

/// The log text of a transition a check result caused, in HAProxy 2.6's order
/// (`srv_append_status`): `is DOWN, reason: Layer4 connection problem, info: "Connection
/// refused", check duration: 0ms`, with `code: N` after the reason for an HTTP check. A
/// verdict on live traffic (`Health analyze`) ran no check: reason alone.
pub fn transition_reason(status: CheckStatus, detail: &CheckDetail, now_usable: bool) -> String {
    let state = match (status, now_usable) {
        (CheckStatus::L7OkC, _) => "stopping",
        (_, true) => "UP",
        (_, false) => "DOWN",
    };
    let mut line = format!("is {state}, reason: {}", status.description());
    if status == CheckStatus::Hana {
        return line;
    }
    if let Some(code) = detail.code {
        line.push_str(&format!(", code: {code}"));
    }
    if let Some(info) = &detail.info {
        line.push_str(&format!(", info: \"{info}\""));
    }
    line.push_str(&format!(", check duration: {}ms", detail.duration_ms));
    line
}

/// The log text of `set server … health up|stopping|down`.
pub fn cli_health_reason(op: OpState) -> String {
    let state = match op {
        OpState::Up => "UP",
        OpState::Stopping => "stopping",
        OpState::Down => "DOWN",
    };
    format!("is {state}, changed from CLI")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two lines HAProxy 2.6 logged when nginx2 was killed and restarted
    /// (reference capture), rebuilt from the check results.
    #[test]
    fn check_transitions_read_like_haproxy() {
        let refused = CheckDetail {
            code: None,
            info: Some("Connection refused".into()),
            duration_ms: 0,
        };
        let down = Change::Down(transition_reason(CheckStatus::L4Con, &refused, false));
        let backup_only = Usable {
            active: 0,
            backup: 1,
        };
        assert_eq!(
            server_change("bk_app", "nginx2", false, &down, backup_only, 0),
            "Server bk_app/nginx2 is DOWN, reason: Layer4 connection problem, info: \
             \"Connection refused\", check duration: 0ms. 0 active and 1 backup servers left. \
             Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let up = Change::Up(transition_reason(
            CheckStatus::L4Ok,
            &CheckDetail::default(),
            true,
        ));
        let both = Usable {
            active: 1,
            backup: 1,
        };
        assert_eq!(
            server_change("bk_app", "nginx2", false, &up, both, 0),
            "Server bk_app/nginx2 is UP, reason: Layer4 check passed, check duration: 0ms. \
             1 active and 1 backup servers online. 0 sessions requeued, 0 total in queue."
        );
        // `http-check disable-on-404` (HAProxy 2.6's line, its duration aside).
        let drained = CheckDetail {
            code: Some(404),
            info: None,
            duration_ms: 3,
        };
        let none = Usable::default();
        assert_eq!(
            server_change(
                "b5",
                "s",
                false,
                &transition_change(
                    &Mutation::CheckResult {
                        server: crate::state::ServerRef {
                            backend: 0,
                            server: 1
                        },
                        status: CheckStatus::L7OkC,
                        detail: drained
                    },
                    None,
                    false
                ),
                none,
                0
            ),
            "Server b5/s is stopping, reason: Layer7 check conditionally passed, code: 404, \
             check duration: 3ms. 0 active and 0 backup servers online. 0 sessions requeued, \
             0 total in queue."
        );
        // A verdict on live traffic ran no check: no duration.
        assert_eq!(
            transition_reason(CheckStatus::Hana, &CheckDetail::default(), false),
            "is DOWN, reason: Health analyze"
        );
    }

    /// Lines HAProxy 2.6 logged for the same transitions (its stdout, `format raw`).
    #[test]
    fn lines_match_haproxy_word_for_word() {
        let backup_only = Usable {
            active: 0,
            backup: 1,
        };
        let both = Usable {
            active: 1,
            backup: 1,
        };
        let maint = Change::Down("is going DOWN for maintenance".into());
        assert_eq!(
            server_change("bk_app", "nginx2", false, &maint, backup_only, 0),
            "Server bk_app/nginx2 is going DOWN for maintenance. 0 active and 1 backup servers \
             left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        assert_eq!(
            server_change("bk_app", "nginx3", false, &maint, backup_only, 1),
            "Server bk_app/nginx3 is going DOWN for maintenance. 0 active and 1 backup servers \
             left. Running on backup. 1 sessions active, 0 requeued, 0 remaining in queue."
        );
        let no_backup = Usable {
            active: 1,
            backup: 0,
        };
        assert_eq!(
            server_change("bk_app", "nginx1", true, &maint, no_backup, 0),
            "Backup Server bk_app/nginx1 is going DOWN for maintenance. 1 active and 0 backup \
             servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        assert_eq!(
            server_change(
                "bk_app",
                "nginx2",
                false,
                &Change::Up("enters drain state".into()),
                backup_only,
                0
            ),
            "Server bk_app/nginx2 enters drain state. 0 active and 1 backup servers online. \
             Running on backup. 0 sessions requeued, 0 total in queue."
        );
        assert_eq!(
            server_change(
                "bk_app",
                "nginx2",
                false,
                &Change::Up("is UP, changed from CLI".into()),
                both,
                0
            ),
            "Server bk_app/nginx2 is UP, changed from CLI. 1 active and 1 backup servers \
             online. 0 sessions requeued, 0 total in queue."
        );
        assert_eq!(
            server_change(
                "bk_app",
                "nginx2",
                true,
                &Change::Left("is UP/READY (leaving forced maintenance)".into()),
                both,
                0
            ),
            "Backup Server bk_app/nginx2 is UP/READY (leaving forced maintenance)."
        );
    }
}
