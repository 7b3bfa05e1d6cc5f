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

#[cfg(test)]
mod tests {
    use super::*;

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
