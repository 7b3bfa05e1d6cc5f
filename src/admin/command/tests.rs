//! The commands end to end on a captured state: every reply of HAProxy's catalogue byte for
//! byte, the privilege levels, and each family's errors in HAProxy's order.

use super::words::MAX_ARGS;
use super::*;
use crate::admin::format::StatFormat;
use crate::admin::testutil::{self, capture_state, fixture, nginx2};
use crate::config::Algorithm;
use crate::state::apply;

const NOW: u64 = testutil::START + 7;

/// Carries out an action the way the server does, with the test coordinator.
fn run(state: &mut State, line: &str, level: Level) -> String {
    match plan(line, state, level) {
        Action::Reply(text) => text,
        Action::Mutate { mutations, reply } => {
            for m in &mutations {
                apply(state, m, NOW).unwrap();
            }
            reply
        }
        Action::DeleteServer(server) => testutil::delete_server(state, server, NOW).reply().into(),
        Action::ShutdownSessions(_)
        | Action::SetTimeout(_)
        | Action::SetLevel(_)
        | Action::Wait(_)
        | Action::WaitRemovable { .. }
        | Action::TogglePrompt => String::new(),
        other => panic!("{line}: {other:?} needs the backend"),
    }
}

fn admin(state: &mut State, line: &str) -> String {
    run(state, line, Level::Admin)
}

/// `replies_table.json`: `[{"cmd": "...", "reply": "..."}, ...]`.
fn replies_table() -> Vec<(String, String)> {
    let text = fixture("replies_table.json");
    let mut rows = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\"cmd\": ") {
        let (cmd, after) = json_string(&rest[at + 7..]);
        let at = after.find("\"reply\": ").unwrap();
        let (reply, after) = json_string(&after[at + 9..]);
        rows.push((cmd, reply));
        rest = after;
    }
    rows
}

/// A JSON string literal at the start of `s`, and what follows it.
fn json_string(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => match chars.next().unwrap().1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = (0..4).map(|_| chars.next().unwrap().1).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    panic!("unterminated JSON string");
}

/// Every reply of the catalogue, replayed in order on one state, byte for byte (the
/// capture is the reply plus the "\n" terminator).
#[test]
fn replies_table_byte_for_byte() {
    let rows = replies_table();
    assert_eq!(rows.len(), 99);
    let mut state = capture_state();
    for (i, (cmd, expected)) in rows.iter().enumerate() {
        let row = i + 1;
        let reply = admin(&mut state, cmd);
        match row {
            // pointsman's own version string.
            1 => assert_eq!(reply, format!("{VERSION}\n")),
            // pointsman starts an added server READY, so `del server` right after `add
            // server` refuses (HAProxy's server is in MAINT and goes), and the next
            // `add server` finds it still there.
            37 => assert_eq!(reply, "Only servers in maintenance mode can be deleted."),
            38 => assert_eq!(
                reply,
                "Already exists a server with the same name in backend.\n"
            ),
            _ => assert_eq!(reply + "\n", *expected, "row {row}: {cmd}"),
        }
    }
}

#[test]
fn prompt_and_quit_and_timeout_are_session_actions() {
    let state = capture_state();
    assert_eq!(plan("prompt", &state, Level::User), Action::TogglePrompt);
    assert_eq!(plan("quit", &state, Level::User), Action::Quit);
    assert_eq!(
        plan("set timeout cli 60", &state, Level::User),
        Action::SetTimeout(Duration::from_secs(60))
    );
    assert_eq!(
        plan("set timeout cli 2m", &state, Level::User),
        Action::SetTimeout(Duration::from_secs(120))
    );
    assert_eq!(
        plan("set timeout cli", &state, Level::User),
        Action::Reply("Expects an integer value.\n".into())
    );
}

#[test]
fn user_level_may_only_read() {
    let mut state = capture_state();
    for line in [
        "disable server bk_app/nginx2",
        "set weight bk_app/nginx2 10",
        "set server bk_app/nginx2 state drain",
        "enable health bk_app/nginx2",
        "shutdown sessions server bk_app/nginx2",
        "add server bk_app/x 127.0.0.1:1",
        "disable frontend app",
        // The level check comes before HAProxy's argument checks.
        "set weight",
        "disable server",
    ] {
        assert_eq!(
            run(&mut state, line, Level::User),
            PERMISSION_DENIED,
            "{line}"
        );
    }
    assert_eq!(
        run(&mut state, "get weight bk_app/nginx2", Level::User),
        "1 (initial 1)\n"
    );
    assert_eq!(run(&mut state, "show cli level", Level::User), "user\n");
    assert!(matches!(
        plan("show stat", &state, Level::User),
        Action::ShowStat(_)
    ));
    assert!(matches!(
        plan("show info", &state, Level::User),
        Action::ShowInfo(_)
    ));
}

#[test]
fn operator_changes_states_and_weights_but_not_the_topology() {
    let mut state = capture_state();
    let op = Level::Operator;
    assert_eq!(run(&mut state, "disable server bk_app/nginx2", op), "");
    assert_eq!(state.server(nginx2()).unwrap().admin, AdminState::Maint);
    assert_eq!(run(&mut state, "set server bk_app/nginx2 weight 7", op), "");
    assert_eq!(
        run(&mut state, "set server bk_app/nginx2 health down", op),
        ""
    );
    assert_eq!(run(&mut state, "disable health bk_app/nginx2", op), "");
    for line in [
        "add server bk_app/x 127.0.0.1:1",
        "del server bk_app/nginx2",
        "set server bk_app/nginx2 addr 127.0.0.2",
        "enable frontend app",
        "wait 10 srv-removable bk_app/nginx2",
    ] {
        assert_eq!(run(&mut state, line, op), PERMISSION_DENIED, "{line}");
    }
}

#[test]
fn operator_and_user_commands_lower_the_level() {
    let state = capture_state();
    assert_eq!(
        plan("user", &state, Level::Admin),
        Action::SetLevel(Level::User)
    );
    assert_eq!(
        plan("operator", &state, Level::User),
        Action::Reply(PERMISSION_DENIED.into())
    );
}

#[test]
fn percent_weights_are_relative_to_the_initial_weight_rounded_down() {
    let mut state = capture_state();
    let server = nginx2();
    state.server_mut(server).unwrap().initial_weight = 3;
    for (line, expected) in [
        ("set weight bk_app/nginx2 50%", 1),
        ("set weight bk_app/nginx2 200%", 6),
    ] {
        admin(&mut state, line);
        assert_eq!(state.server(server).unwrap().weight, expected, "{line}");
    }
    admin(&mut state, "set weight bk_app/nginx2 100000%");
    assert_eq!(state.server(server).unwrap().weight, 256);
}

#[test]
fn weight_errors_in_haproxy_order() {
    let mut state = capture_state();
    let cases = [
        ("set weight bk_app/nope abc", "No such server.\n"),
        ("set weight nope/nginx2 abc", "No such backend.\n"),
        ("set weight bk_app 1", "Require 'backend/server'.\n"),
        (
            "set weight bk_app/nginx2 300abc",
            "Absolute weight can only be between 0 and 256 inclusive.\n",
        ),
        ("set weight bk_app/nginx2 +5", ""),
        (
            "set weight bk_app/nginx2 0x10",
            "Trailing garbage in weight string",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(admin(&mut state, line), expected, "{line}");
    }
}

#[test]
fn static_algorithms_refuse_dynamic_weights_and_servers() {
    let mut state = capture_state();
    state.backends[0].algorithm = Algorithm::StaticRr;
    assert_eq!(
        admin(&mut state, "set weight bk_app/nginx2 5"),
        "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
    );
    assert_eq!(admin(&mut state, "set weight bk_app/nginx2 0%"), "");
    assert_eq!(admin(&mut state, "set weight bk_app/nginx2 100%"), "");
    assert_eq!(
        admin(&mut state, "add server bk_app/nginx3 127.0.0.1:28083"),
        testutil::fixture("add_server_static_rr.txt").trim_end_matches('\n')
    );
}

#[test]
fn add_server_starts_ready_unless_disabled() {
    let mut state = capture_state();
    let reply = admin(&mut state, "add server bk_app/nginx3 127.0.0.1:28083 weight 5 backup cookie c3 maxconn 10 inter 3s rise 1 fall 2 check");
    assert_eq!(reply, "New server registered.\n");
    let s = state.backends[0].server_by_name("nginx3").unwrap();
    assert_eq!(
        (s.admin, s.weight, s.backup, s.dynamic),
        (AdminState::Ready, 5, true, true)
    );
    assert_eq!((s.cookie.as_deref(), s.maxconn), (Some("c3"), Some(10)));
    assert_eq!(
        (s.check.inter, s.check.rise, s.check.fall),
        (Duration::from_secs(3), 1, 2)
    );
    admin(&mut state, "add server bk_app/nginx4 [::1]:28084 disabled");
    let s = state.backends[0].server_by_name("nginx4").unwrap();
    assert_eq!(s.admin, AdminState::Maint);
    assert_eq!(s.addr, "[::1]:28084".parse().unwrap());
}

#[test]
fn add_server_takes_the_check_tuning_keywords_of_a_server_line() {
    let mut state = capture_state();
    let reply = admin(
        &mut state,
        "add server bk_app/n5 127.0.0.1:28085 check fastinter 500ms downinter 5s slowstart 10s error-limit 4",
    );
    assert_eq!(reply, "New server registered.\n");
    let s = state.backends[0].server_by_name("n5").unwrap();
    assert_eq!(
        (s.tuning.fastinter, s.tuning.downinter, s.tuning.slowstart),
        (
            Some(Duration::from_millis(500)),
            Some(Duration::from_secs(5)),
            Some(Duration::from_secs(10))
        )
    );
    assert_eq!(s.tuning.error_limit, 4);
    let reply = admin(&mut state, "add server bk_app/n6 127.0.0.1:1 fastinter");
    assert_eq!(reply, "'fastinter' expects <value> as argument.\n");
    let reply = admin(&mut state, "add server bk_app/n6 127.0.0.1:1 error-limit 0");
    assert!(reply.contains("error-limit"), "{reply}");
    assert!(state.backends[0].server_by_name("n6").is_none());
}

/// `add server` reads numbers as HAProxy's `atoi` does (checked against haproxy 2.6: `weight
/// 7abc` registers a server of weight 7), where a config line refuses them.
#[test]
fn add_server_reads_numbers_as_haproxy_does() {
    let mut state = capture_state();
    let reply = admin(
        &mut state,
        "add server bk_app/n7 127.0.0.1:1 weight 7abc maxconn -5 error-limit 5x",
    );
    assert_eq!(reply, "New server registered.\n");
    let s = state.backends[0].server_by_name("n7").unwrap();
    assert_eq!((s.weight, s.maxconn, s.tuning.error_limit), (7, Some(0), 5));
    assert_eq!(
        admin(&mut state, "add server bk_app/n8 127.0.0.1:1 weight x300"),
        "New server registered.\n",
        "no digit at all reads as 0"
    );
    assert_eq!(state.backends[0].server_by_name("n8").unwrap().weight, 0);
}

#[test]
fn add_server_keyword_errors() {
    let mut state = capture_state();
    let cases = [
        (
            "add server bk_app/n 127.0.0.1:1 foo",
            "unknown keyword 'foo'; did you mean 'tfo' maybe ?\n",
        ),
        (
            "add server bk_app/n 127.0.0.1:1 weight",
            "'weight' expects an integer argument.\n",
        ),
        (
            "add server bk_app/n 127.0.0.1:1 rise 0",
            "'rise' has to be > 0.\n",
        ),
        (
            "add server bk_app/n 127.0.0.1:1 ssl",
            "'ssl' is not supported by pointsman's 'add server'.\n",
        ),
        (
            "add server bk_app/n notanaddr:80",
            "Invalid address 'notanaddr:80': pointsman needs a numeric IP and a port.\n",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(admin(&mut state, line), expected, "{line}");
    }
}

#[test]
fn set_addr_reports_like_haproxy() {
    let mut state = capture_state();
    let cases = [
        (
            "set server bk_app/nginx2 addr 127.0.0.2",
            "set_addr_noport_change.txt",
        ),
        (
            "set server bk_app/nginx2 addr 127.0.0.1 port 28082",
            "set_addr_back2.txt",
        ),
        (
            "set server bk_app/nginx2 addr 127.0.0.1 port +1",
            "set_addr_port_plus.txt",
        ),
        (
            "set server bk_app/nginx2 port 28083",
            "set_addr_port_only.txt",
        ),
    ];
    for (line, capture) in cases {
        let expected = fixture(capture);
        let reply = admin(&mut state, line);
        // set_addr_noport_change.txt moved 127.0.0.1 to 127.0.0.2; we start at .1.
        assert_eq!(reply + "\n", expected, "{line}");
        if capture == "set_addr_noport_change.txt" {
            admin(&mut state, "set server bk_app/nginx2 addr 127.0.0.1");
        }
    }
    admin(
        &mut state,
        "set server bk_app/nginx2 addr 127.0.0.2 port 28083",
    );
    assert_eq!(
        state.server(nginx2()).unwrap().addr,
        "127.0.0.2:28083".parse().unwrap()
    );
    assert_eq!(
        admin(
            &mut state,
            "set server bk_app/nginx2 addr 127.0.0.1 port 28082"
        ) + "\n",
        fixture("set_addr_back.txt")
    );
}

#[test]
fn servers_and_backends_by_id() {
    let mut state = capture_state();
    assert_eq!(admin(&mut state, "get weight #3/#2"), "1 (initial 1)\n");
    assert_eq!(admin(&mut state, "get weight #3/#9"), "No such server.\n");
    assert_eq!(
        plan("show servers state #3", &state, Level::User),
        Action::ShowServersState(Some(0))
    );
}

#[test]
fn show_stat_filters() {
    let state = capture_state();
    let filter = |line: &str| match plan(line, &state, Level::User) {
        Action::ShowStat(req) => (req.filter.map(|f| (f.iid, f.types, f.sid)), req.format),
        other => panic!("{other:?}"),
    };
    assert_eq!(filter("show stat"), (None, StatFormat::Csv));
    assert_eq!(
        filter("show stat bk_app -1 -1"),
        (Some((3, -1, -1)), StatFormat::Csv)
    );
    assert_eq!(
        filter("show stat 3 4 2 typed"),
        (Some((3, 4, 2)), StatFormat::Typed)
    );
    assert_eq!(
        filter("show stat -1 4 -1 json"),
        (Some((-1, 4, -1)), StatFormat::Json)
    );
    assert_eq!(filter("show stat foo"), (None, StatFormat::Csv));
    assert_eq!(
        filter("show stat 99 -1 -1"),
        (Some((99, -1, -1)), StatFormat::Csv)
    );
    assert_eq!(
        plan("show stat typed 3 4 2", &state, Level::User),
        Action::Reply("No such proxy.\n".into())
    );
}

#[test]
fn health_agent_and_frontend_replies() {
    let mut state = capture_state();
    state.server_mut(nginx2()).unwrap().check.configured = false;
    let cases = [
        (
            "enable health bk_app/nginx2",
            "Health checks are not configured on this server, cannot enable.\n",
        ),
        (
            "enable agent bk_app/nginx2",
            "Agent was not configured on this server, cannot enable.\n",
        ),
        ("disable agent bk_app/nginx2", ""),
        (
            "set server bk_app/nginx2 agent up",
            "agent checks are not enabled on this server.\n",
        ),
        ("disable frontend", "A frontend name is expected.\n"),
        ("disable frontend app", ""),
        (
            "disable frontend app",
            "All sockets are already disabled.\n",
        ),
        ("enable frontend app", ""),
        ("enable frontend app", "All sockets are already enabled.\n"),
        ("show sess", NOT_SUPPORTED),
    ];
    for (line, expected) in cases {
        assert_eq!(admin(&mut state, line), expected, "{line}");
    }
}

#[test]
fn wait_commands() {
    let state = capture_state();
    let p = |line: &str| plan(line, &state, Level::Admin);
    assert_eq!(p("wait 100"), Action::Wait(Duration::from_millis(100)));
    assert_eq!(
        p("wait 2s srv-removable bk_app/nginx2"),
        Action::WaitRemovable {
            server: nginx2(),
            timeout: Duration::from_secs(2)
        }
    );
    assert_eq!(
        p("wait"),
        Action::Reply("Expects a duration in milliseconds.\n".into())
    );
    assert_eq!(p("wait abc"), Action::Reply("Invalid duration.\n".into()));
    assert_eq!(
        p("wait 10 srv-removable"),
        Action::Reply("Missing server name (<backend>/<server>).\n".into())
    );
    assert_eq!(
        p("wait 10 srv-removable bk_app/nope"),
        Action::Reply("No such server.\n".into())
    );
}

#[test]
fn words_split_like_haproxy() {
    assert_eq!(split_args("  show\t stat  "), ["show", "stat"]);
    assert_eq!(split_args("show version\\;x"), ["show", "version;x"]);
    assert_eq!(split_args("a\\ b c\\\\d"), ["a b", "c\\d"]);
    let many = "show version ".to_string() + &"a ".repeat(100);
    assert_eq!(split_args(&many).len(), MAX_ARGS);
    let state = capture_state();
    assert_eq!(
        plan(&many, &state, Level::User),
        Action::Reply(format!("{VERSION}\n"))
    );
}

#[test]
fn never_panics_on_odd_input() {
    let mut state = capture_state();
    let odd = [
        "set weight bk_app/nginx2 99999999999999999999999%",
        "set weight bk_app/nginx2 -99999999999999999999999",
        "set server bk_app/nginx2 addr ::1 port 99999999999999",
        "set server / state ready",
        "add server / 1",
        "add server bk_app/x 127.0.0.1:1 inter 99999999999999999999d",
        "show stat -99999999999999999999 4 -1",
        "wait 99999999999999999999d",
        "set timeout cli 99999999999999999999d",
        "\u{1F600} \\",
        "help \u{e9}\u{e8}",
    ];
    for line in odd {
        let _ = plan(line, &state, Level::Admin);
    }
    admin(
        &mut state,
        "add server bk_app/x 127.0.0.1:1 inter 99999999999999999999d",
    );
}
