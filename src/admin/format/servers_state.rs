//! `show servers state` (format version 1, as HAProxy's server state file), `show servers
//! conn` (connection and idle-pool counts per server, one idle column per shard) and
//! `show backend`.

use crate::state::{AdminState, Backend, CheckStatus, OpState, Server, State};
use crate::stats::StatsSnapshot;
use std::fmt::Write as _;

/// `show backend`.
pub fn show_backend(state: &State) -> String {
    let mut out = String::from("# name\n");
    for b in &state.backends {
        out.push_str(&b.name);
        out.push('\n');
    }
    out
}

/// `show servers state [backend]`: format version 1.
pub fn show_servers_state(state: &State, backend: Option<usize>, now: u64) -> String {
    let mut out = String::from("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
    for (_, b) in selected_backends(state, backend) {
        for s in &b.servers {
            let stopped = s.admin == AdminState::Maint || s.op == OpState::Down;
            let op_state = match s.op {
                _ if stopped => 0,
                OpState::Stopping => 3,
                _ => 2,
            };
            let health = if stopped { 0 } else { s.check.health };
            let _ = writeln!(
                out,
                "{} {} {} {} {} {op_state} {} {} {} {} {} {} {health} {} 0 0 0 - {} - 0 0 - - 0",
                b.id,
                b.name,
                s.id,
                s.name,
                s.addr.ip(),
                admin_flags(s),
                s.weight,
                s.initial_weight,
                now.saturating_sub(s.last_change),
                check_status_number(s),
                check_result_number(s),
                check_state_flags(s),
                s.addr.port(),
            );
        }
    }
    out
}

fn selected_backends(
    state: &State,
    backend: Option<usize>,
) -> impl Iterator<Item = (usize, &Backend)> {
    state
        .backends
        .iter()
        .enumerate()
        .filter(move |(i, _)| backend.is_none_or(|b| b == *i))
}

/// HAProxy's `SRV_ADMF_*` bits: FMAINT 0x01, FDRAIN 0x08.
fn admin_flags(s: &Server) -> u32 {
    match s.admin {
        AdminState::Ready if s.deleting => 0x08,
        AdminState::Ready => 0,
        AdminState::Maint => 0x01,
        AdminState::Drain => 0x08,
    }
}

/// HAProxy's `HCHK_STATUS_*` numbers.
fn check_status_number(s: &Server) -> u32 {
    match s.check.status {
        CheckStatus::Init => 1,
        CheckStatus::Hana => 4,
        CheckStatus::SockErr => 5,
        CheckStatus::L4Ok => 6,
        CheckStatus::L4Tout => 7,
        CheckStatus::L4Con => 8,
        CheckStatus::L6Ok => 9,
        CheckStatus::L6Tout => 10,
        CheckStatus::L6Rsp => 11,
        CheckStatus::L7Tout => 12,
        CheckStatus::L7Rsp => 13,
        CheckStatus::L7Ok => 15,
        CheckStatus::L7OkC => 16,
        CheckStatus::L7Sts => 17,
    }
}

/// HAProxy's `CHK_RES_*`: 0 unknown, 2 failed, 3 passed.
fn check_result_number(s: &Server) -> u32 {
    match s.check.status {
        CheckStatus::Init => 0,
        status if status.is_ok() => 3,
        _ => 2,
    }
}

/// HAProxy's `CHK_ST_*` bits: CONFIGURED 0x02, ENABLED 0x04, PAUSED 0x08 (in maintenance).
fn check_state_flags(s: &Server) -> u32 {
    let check = &s.check;
    let mut flags = 0;
    if check.configured {
        flags |= 0x02;
        if check.enabled {
            flags |= 0x04;
            if s.admin == AdminState::Maint {
                flags |= 0x08;
            }
        }
    }
    flags
}

/// `show servers conn [backend]` from each shard's counters (shard 0 first): the totals, and
/// `idle_per_thr[N]` with one column per shard, as HAProxy has one per thread.
pub fn show_servers_conn(
    state: &State,
    shards: &[StatsSnapshot],
    backend: Option<usize>,
) -> String {
    let mut out = format!("# bkname/svname bkid/svid addr port - purge_delay used_cur used_max need_est unsafe_nb safe_nb idle_lim idle_cur idle_per_thr[{}]\n", shards.len());
    let mut total = StatsSnapshot::default();
    for shard in shards {
        total.add(shard);
    }
    for (i, b) in selected_backends(state, backend) {
        for s in &b.servers {
            let c = total.server(i, s.id);
            let _ = write!(
                out,
                "{}/{} {}/{} {} {} - {} {} {} {} 0 {} {} {}",
                b.name,
                s.name,
                b.id,
                s.id,
                s.addr.ip(),
                s.addr.port(),
                if s.dynamic { 0 } else { 5000 },
                c.scur,
                c.smax,
                c.scur + c.idle_conns,
                c.idle_conns,
                if s.dynamic { 0 } else { -1 },
                c.idle_conns,
            );
            // HAProxy prints no per-thread columns for a dynamic server.
            if !s.dynamic {
                for shard in shards {
                    let _ = write!(out, " {}", shard.server(i, s.id).idle_conns);
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::testutil::{after, capture_counters, capture_state, fixture, START};
    use crate::stats::Counters;

    /// `show servers state` rows without `srv_time_since_last_change` (column 9).
    fn servers_state_without_time(text: &str) -> Vec<String> {
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let mut words: Vec<&str> = l.split(' ').collect();
                if words.len() > 9 && !l.starts_with('#') {
                    words[9] = "T";
                }
                words.join(" ")
            })
            .collect()
    }

    #[test]
    fn servers_state_matches_the_captures() {
        let cases: [(&[&str], &str); 3] = [
            (&[], "show_servers_state.txt"),
            (
                &["disable server bk_app/nginx2"],
                "servers_state_after_disable.txt",
            ),
            (
                &["disable health bk_app/nginx2"],
                "servers_state_after_disable_health.txt",
            ),
        ];
        for (commands, capture) in cases {
            let state = after(commands, START + 7);
            let ours = show_servers_state(&state, None, START + 39);
            assert_eq!(
                servers_state_without_time(&ours),
                servers_state_without_time(&fixture(capture)),
                "{capture}"
            );
        }
        let state = capture_state();
        assert_eq!(
            show_servers_state(&state, Some(1), START).lines().count(),
            2
        );
    }

    #[test]
    fn servers_conn_and_backend_match_the_captures() {
        let state = capture_state();
        let mut stats = capture_counters();
        let nginx1 = Counters {
            smax: 1,
            ..Counters::default()
        };
        stats.servers[0].insert(1, nginx1);
        // The capture's second thread had nothing: an empty second shard.
        let ours = show_servers_conn(&state, &[stats, StatsSnapshot::default()], None);
        let capture = fixture("show_servers_conn.txt");
        let header = |t: &str| t.lines().next().unwrap().to_string();
        assert_eq!(header(&ours), header(&capture));
        let first_row = |t: &str| t.lines().nth(1).unwrap().to_string();
        // need_est is HAProxy's estimate; ours is in-flight plus idle.
        assert_eq!(
            first_row(&ours),
            first_row(&capture).replace(" 1 1 0 0 -1", " 1 0 0 0 -1")
        );
        assert_eq!(show_backend(&state) + "\n", fixture("show_backend.txt"));
    }
}
