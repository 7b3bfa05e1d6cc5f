//! Replies of the real binary compared with HAProxy 2.6's, byte for byte: the whole reply
//! catalogue (`replies_table.json`, replayed in order on one instance so the state carries
//! from row to row), `help` and the "unknown command" texts, and the `show …` outputs in each
//! server state the captures recorded.

use super::*;

/// `replies_table.json`: `[{"cmd": "...", "reply": "..."}, ...]`.
fn replies_table() -> Vec<(String, String)> {
    let text = fixture("replies_table.json");
    let mut rows = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\"cmd\": ") {
        let (cmd, after) = json_string(&rest[at + 7..]);
        let at = after.find("\"reply\": ").expect("reply");
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
            '\\' => match chars.next().expect("escape").1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = (0..4).map(|_| chars.next().expect("hex").1).collect();
                    let code = u32::from_str_radix(&hex, 16).expect("hex");
                    out.push(char::from_u32(code).expect("char"));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    panic!("unterminated JSON string");
}

/// pointsman's reply where it deliberately differs from HAProxy (see docs/runtime-api.md).
fn pointsman_differs(row: usize) -> Option<String> {
    let text = match row {
        // pointsman's own version.
        1 => format!("{}\n\n", version()),
        // `del server` is graceful in pointsman: a READY server with no request in flight is
        // removed at once (HAProxy refuses anything not in MAINT), so nginx3 is gone after
        // row 40 and rows 41–43 find no server.
        40 => "Server deleted.\n".into(),
        41 | 42 => "No such server.\n\n".into(),
        43 => "No such server.\n".into(),
        // Same for the backup nginx1, UP and idle.
        50 => "Server deleted.\n".into(),
        _ => return None,
    };
    Some(text)
}

#[test]
fn reply_catalogue_byte_for_byte() {
    let s = Setup::start(Options::default());
    let rows = replies_table();
    assert_eq!(rows.len(), 99);
    for (i, (command, haproxy)) in rows.iter().enumerate() {
        let row = i + 1;
        let command = s.ports(command);
        let expected = pointsman_differs(row).unwrap_or_else(|| s.ports(haproxy));
        let reply = s.admin(&command);
        assert_eq!(reply, expected, "row {row}: {command}");
    }
    // The state the catalogue left behind, on the real data plane: nginx2 serves (its
    // address went to nginx3's port and back), nginx1 and nginx3 are gone.
    assert_eq!(s.served_by(), "nginx2");
    let state = s.admin("show servers state bk_app");
    let names: Vec<&str> = state
        .lines()
        .skip(2)
        .filter_map(|l| l.split(' ').nth(3))
        .collect();
    assert_eq!(names, ["nginx2"], "{state}");
}

#[test]
fn help_and_unknown_commands_byte_for_byte() {
    let s = Setup::start(Options::default());
    assert_eq!(s.admin("help"), fixture("help.txt"));
    assert_eq!(s.admin("foo bar"), fixture("unknown_cmd.txt"));
    assert_eq!(s.admin(""), fixture("empty_line.txt"));
    assert_eq!(s.admin("show foo"), fixture("unknown_show.txt"));
    let filtered = s.admin("help set server");
    assert_eq!(filtered, fixture("help_set_server.txt"));
    // More than 64 words: the rest is ignored.
    let many = format!("show version {}", "a ".repeat(100));
    assert_eq!(s.admin(&many), format!("{}\n\n", version()));
    // A HAProxy command pointsman does not implement says so.
    assert_eq!(
        s.admin("show sess"),
        "This command is not supported by pointsman.\n\n"
    );
}

#[test]
fn show_outputs_match_the_captures() {
    let s = Setup::start(Options::default());
    assert_eq!(s.admin("show backend"), fixture("show_backend.txt"));
    assert_eq!(s.admin("show cli level"), "admin\n\n");
    assert_eq!(s.admin("show version"), format!("{}\n\n", version()));

    // show servers state: the capture's lines, our ports, the time since the last change
    // (field 10) left out.
    let without_time = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| {
                let mut f: Vec<&str> = l.split(' ').collect();
                if f.len() > 20 && !l.starts_with('#') {
                    f[9] = "T";
                }
                f.join(" ")
            })
            .collect()
    };
    let capture = s.ports(&fixture("show_servers_state.txt"));
    assert_eq!(
        without_time(&s.admin("show servers state")),
        without_time(&capture)
    );
    assert_eq!(
        without_time(&s.admin("show servers state bk_app")),
        without_time(&capture)
    );
    assert_eq!(
        s.admin("show servers state nope"),
        "Can't find backend.\n\n"
    );

    // show servers conn: header with one idle column per shard, one row per server.
    let conn = s.admin("show servers conn");
    let capture = s.ports(&fixture("show_servers_conn.txt"));
    assert_eq!(conn.lines().next(), capture.lines().next());
    assert_eq!(conn.lines().count(), capture.lines().count());
    assert!(conn.ends_with("\n\n"), "{conn:?}");
    assert!(conn.contains(&format!(
        "bk_app/nginx2 3/2 127.0.0.1 {} - 5000 ",
        s.nginx2.port()
    )));

    // show info: every HAProxy 2.6 key, in order; the blank line at the end.
    let info = s.admin("show info");
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.split_once(": ").map(|(k, _)| k.to_string()))
            .collect()
    };
    assert_eq!(keys(&info), keys(&fixture("show_info.txt")));
    assert!(info.starts_with("Name: pointsman\n"), "{info}");
    assert!(info.contains("\nNbthread: 2\n"), "{info}");
    assert!(info.contains(&format!("\nPid: {}\n", s.p.proc.child.id())));
    assert!(info.ends_with("\n\n"));
    let typed = s.admin("show info typed");
    assert!(typed.starts_with("0.Name.1:POS:str:pointsman\n"), "{typed}");
    assert_eq!(typed.lines().count(), info.lines().count());
    let json = s.admin("show info json");
    assert!(
        json.starts_with("[{\"field\":{\"pos\":0,\"name\":\"Name\"}"),
        "{json}"
    );
}

/// The columns that show a row's state (counters and times vary between runs).
const STATE_COLUMNS: &[&str] = &[
    "pxname",
    "svname",
    "status",
    "weight",
    "act",
    "bck",
    "pid",
    "iid",
    "sid",
    "type",
    "check_status",
    "check_desc",
    "check_rise",
    "check_fall",
    "check_health",
    "addr",
    "mode",
    "algo",
    "uweight",
];

/// Our `show stat` and a capture agree on the state columns of every row, in order.
fn assert_stat_like(s: &Setup, ours: &str, capture: &str) {
    let capture = s.ports(&fixture(capture));
    let ours: Vec<&str> = ours.lines().filter(|l| !l.is_empty()).collect();
    let theirs: Vec<&str> = capture.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(ours[0], STAT_HEADER);
    assert_eq!(ours[0], theirs[0]);
    assert_eq!(ours.len(), theirs.len(), "rows:\n{}", ours.join("\n"));
    for (o, t) in ours.iter().zip(&theirs).skip(1) {
        assert_eq!(
            o.split(',').count(),
            129,
            "128 columns and a trailing comma: {o}"
        );
        assert!(o.ends_with(','));
        for name in STATE_COLUMNS {
            assert_eq!(
                column(o, name),
                column(t, name),
                "{}/{} column {name}\nours:   {o}\nhaproxy: {t}",
                column(t, "pxname"),
                column(t, "svname"),
            );
        }
    }
}

#[test]
fn show_stat_in_each_state_matches_the_captures() {
    // Checks every 30 s: after the first one, no check changes a state during the test.
    let s = Setup::start(Options {
        server: " inter 30s",
        ..Options::default()
    });
    let stat = s.admin("show stat");
    assert!(stat.ends_with(",\n\n"), "{stat:?}");
    assert_stat_like(&s, &stat, "show_stat.txt");
    // The captures' order is kept where a state depends on the one before: `drain` from a
    // settled UP (after `enable`, HAProxy and pointsman show "UP 1/3" until the next check).
    let steps: &[(&[&str], &str)] = &[
        (
            &["set server bk_app/nginx2 state drain"],
            "stat_after_drain.txt",
        ),
        (
            &[
                "set server bk_app/nginx2 state ready",
                "set weight bk_app/nginx2 0",
            ],
            "stat_after_weight0.txt",
        ),
        (
            &[
                "set weight bk_app/nginx2 100%",
                "disable server bk_app/nginx2",
            ],
            "stat_after_disable.txt",
        ),
        (&["enable server bk_app/nginx2"], "stat_after_enable.txt"),
        (
            &[
                "set server bk_app/nginx2 health up",
                "disable health bk_app/nginx2",
            ],
            "stat_after_disable_health.txt",
        ),
        (
            &[
                "enable health bk_app/nginx2",
                "set server bk_app/nginx2 health down",
            ],
            "stat_after_health_down.txt",
        ),
        (
            &["set server bk_app/nginx2 health stopping"],
            "stat_after_health_stopping.txt",
        ),
        (
            &[
                "set server bk_app/nginx2 health up",
                "disable server bk_app/nginx1",
                "disable server bk_app/nginx2",
            ],
            "stat_all_maint.txt",
        ),
    ];
    for (commands, capture) in steps {
        for command in *commands {
            assert_eq!(s.admin(command), "\n", "{command}");
        }
        assert_stat_like(&s, &s.admin("show stat"), capture);
    }
    // All servers in maintenance: HAProxy's 503 page.
    let r = get(s.port, "/").unwrap();
    assert_eq!(r.status, 503);
}

#[test]
fn show_stat_filters_and_options() {
    let s = Setup::start(Options::default());
    let rows = |command: &str| -> Vec<String> {
        let out = s.admin(command);
        assert!(
            out.starts_with(&format!("{STAT_HEADER}\n")),
            "{command}: {out}"
        );
        assert!(out.ends_with("\n\n"), "{command}: {out:?}");
        out.lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| format!("{},{}", column(l, "pxname"), column(l, "svname")))
            .collect()
    };
    assert_eq!(
        rows("show stat"),
        [
            "app,FRONTEND",
            "bk_app,nginx1",
            "bk_app,nginx2",
            "bk_app,BACKEND",
            "stats,FRONTEND",
            "stats,BACKEND"
        ]
    );
    assert_eq!(
        rows("show stat -1 4 -1"),
        ["bk_app,nginx1", "bk_app,nginx2"]
    );
    let backend = ["bk_app,nginx1", "bk_app,nginx2", "bk_app,BACKEND"];
    assert_eq!(rows("show stat 3 -1 -1"), backend);
    assert_eq!(rows("show stat bk_app -1 -1"), backend);
    assert_eq!(rows("show stat 3 4 2"), ["bk_app,nginx2"]);
    assert_eq!(
        rows("show stat -1 1 -1"),
        ["app,FRONTEND", "stats,FRONTEND"]
    );
    assert_eq!(
        rows("show stat -1 2 -1"),
        ["bk_app,BACKEND", "stats,BACKEND"]
    );
    // Unknown option words are ignored.
    assert_eq!(rows("show stat foo").len(), 6);
    assert_eq!(s.admin("show stat nope -1 -1"), "No such proxy.\n\n");
    assert_eq!(s.admin("show stat typed 3 4 2"), "No such proxy.\n\n");

    // typed: one line per non-empty field, HAProxy's names, tags and types.
    let typed = s.admin("show stat 3 4 2 typed");
    let capture = fixture("show_stat_3_4_2_typed.txt");
    let names = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| l.split(':').next().map(str::to_string))
            .collect()
    };
    for wanted in [
        "S.3.2.0.pxname.1:KNS:str:bk_app",
        "S.3.2.1.svname.1:KNS:str:nginx2",
        "S.3.2.17.status.1:SGP:str:UP",
        "S.3.2.18.weight.1:MaP:u32:1",
        "S.3.2.36.check_status.1:MOP:str:L4OK",
    ] {
        assert!(typed.lines().any(|l| l == wanted), "{wanted}\n{typed}");
    }
    assert_eq!(names(&typed).len(), names(&capture).len(), "{typed}");
    let json = s.admin("show stat 3 4 2 json");
    assert!(json.starts_with('['), "{json}");

    // up / no-maint: the DOWN (resp. MAINT) servers are hidden, the BACKEND counts.
    assert_eq!(s.admin("disable server bk_app/nginx2"), "\n");
    let no_maint = s.admin("show stat no-maint");
    assert!(
        stat_row(&no_maint, "bk_app", "nginx2").is_none(),
        "{no_maint}"
    );
    let backend = stat_row(&no_maint, "bk_app", "BACKEND").unwrap();
    assert_eq!(column(backend, "status"), "UP (1/2)");
    assert_eq!(
        column(stat_row(&no_maint, "stats", "BACKEND").unwrap(), "status"),
        "UP (0/0)"
    );
    assert_eq!(s.admin("enable server bk_app/nginx2"), "\n");
    assert_eq!(s.admin("set server bk_app/nginx2 health down"), "\n");
    let up = s.admin("show stat up");
    assert!(stat_row(&up, "bk_app", "nginx2").is_none(), "{up}");
    assert!(stat_row(&up, "bk_app", "nginx1").is_some(), "{up}");
    assert_eq!(
        column(stat_row(&up, "bk_app", "BACKEND").unwrap(), "status"),
        "UP (1/2)"
    );
}
