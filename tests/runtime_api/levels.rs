//! Privilege levels of `stats socket … level`: `user` may only read, `operator` also changes
//! states and weights, `admin` may do everything; a refused command gets HAProxy's
//! "Permission denied" and changes nothing. The socket file gets the line's `mode`.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

const DENIED: &str = "Permission denied\n\n";

fn setup() -> Setup {
    Setup::start(Options {
        global: "    stats socket @DIR@/operator.sock mode 640 level operator\n    stats socket @DIR@/user.sock mode 600 level user\n".into(),
        ..Options::default()
    })
}

fn socket(s: &Setup, name: &str) -> PathBuf {
    s.p.dir.join(name)
}

fn mode(path: &PathBuf) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn user_reads_operator_switches_admin_changes_the_topology() {
    let s = setup();
    let (admin, operator, user) = (
        s.p.socket.clone(),
        socket(&s, "operator.sock"),
        socket(&s, "user.sock"),
    );
    assert_eq!(mode(&admin), 0o660);
    assert_eq!(mode(&operator), 0o640);
    assert_eq!(mode(&user), 0o600);
    assert_eq!(common::admin(&admin, "show cli level"), "admin\n\n");
    assert_eq!(common::admin(&operator, "show cli level"), "operator\n\n");
    assert_eq!(common::admin(&user, "show cli level"), "user\n\n");

    // user: every read works, every change is refused and changes nothing.
    let p3 = s.nginx3.port();
    let add = format!("add server bk_app/nginx3 127.0.0.1:{p3}");
    let set_addr = format!("set server bk_app/nginx2 addr 127.0.0.1 port {p3}");
    let changes = [
        "disable server bk_app/nginx2",
        "enable server bk_app/nginx2",
        "set server bk_app/nginx2 state maint",
        "set server bk_app/nginx2 weight 0",
        "set weight bk_app/nginx2 0",
        "set server bk_app/nginx2 health down",
        "disable health bk_app/nginx2",
        "shutdown sessions server bk_app/nginx2",
        add.as_str(),
        "del server bk_app/nginx2",
        set_addr.as_str(),
        "disable frontend app",
        "wait 10 srv-removable bk_app/nginx2",
        "operator",
        // The level is checked before the arguments.
        "disable server",
        "set weight",
    ];
    for command in changes {
        assert_eq!(common::admin(&user, command), DENIED, "user: {command}");
    }
    for command in [
        "show stat",
        "show info",
        "show servers state",
        "show servers conn",
        "show backend",
        "show version",
        "get weight bk_app/nginx2",
        "help",
    ] {
        let reply = common::admin(&user, command);
        assert_ne!(reply, DENIED, "user: {command}");
        assert!(reply.ends_with('\n'));
    }
    assert_eq!(s.served_by(), "nginx2", "nothing changed");
    assert_eq!(s.admin("get weight bk_app/nginx2"), "1 (initial 1)\n\n");

    // operator: states, weights, health; not the topology, addresses or frontends.
    for command in [
        add.as_str(),
        "del server bk_app/nginx2",
        set_addr.as_str(),
        "disable frontend app",
        "enable frontend app",
        "wait 10 srv-removable bk_app/nginx2",
    ] {
        assert_eq!(
            common::admin(&operator, command),
            DENIED,
            "operator: {command}"
        );
    }
    assert!(s
        .admin("show servers state")
        .contains(" nginx2 127.0.0.1 2 0 1 1 "));
    assert_eq!(
        common::admin(&operator, "disable server bk_app/nginx2"),
        "\n"
    );
    assert_eq!(s.served_by(), "nginx1");
    assert_eq!(
        common::admin(&operator, "enable server bk_app/nginx2"),
        "\n"
    );
    assert_eq!(s.served_by(), "nginx2");
    assert_eq!(common::admin(&operator, "set weight bk_app/nginx2 0"), "\n");
    assert_eq!(s.served_by(), "nginx1");
    assert_eq!(
        common::admin(&operator, "set server bk_app/nginx2 weight 3"),
        "\n"
    );
    assert_eq!(s.admin("get weight bk_app/nginx2"), "3 (initial 1)\n\n");
    assert_eq!(
        common::admin(&operator, "set server bk_app/nginx2 state drain"),
        "\n"
    );
    assert_eq!(s.served_by(), "nginx1");
    assert_eq!(
        common::admin(&operator, "set server bk_app/nginx2 state ready"),
        "\n"
    );
    assert_eq!(
        common::admin(&operator, "set server bk_app/nginx2 health down"),
        "\n"
    );
    assert_eq!(s.served_by(), "nginx1");
    assert_eq!(
        common::admin(&operator, "set server bk_app/nginx2 health up"),
        "\n"
    );
    assert_eq!(s.served_by(), "nginx2");
    assert_eq!(
        common::admin(&operator, "shutdown sessions server bk_app/nginx2"),
        "\n"
    );

    // admin: the topology too.
    assert_eq!(s.admin(&add), "New server registered.\n\n");
    assert_eq!(s.admin("del server bk_app/nginx3"), "Server deleted.\n");
    assert_eq!(s.admin("disable frontend app"), "\n");
    assert_eq!(s.admin("enable frontend app"), "\n");

    // `operator` / `user` lower the level of the session they are typed in, never raise it.
    assert_eq!(
        String::from_utf8(admin_raw(
            &admin,
            b"operator;show cli level;add server bk_app/x 127.0.0.1:1;user;show cli level;operator\n",
            Duration::from_secs(5),
        ))
        .unwrap(),
        format!("\noperator\n\n{DENIED}\nuser\n\n{DENIED}")
    );
    assert_eq!(common::admin(&admin, "show cli level"), "admin\n\n");
}
