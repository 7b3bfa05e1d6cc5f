//! The `global` section: its keywords, their errors, and several global sections merging.

use super::*;

#[test]
fn global_keywords() {
    let config = parse(&[
        "global",
        "    nbthread 4",
        "    maxconn 20000",
        "    stats socket /run/pointsman/admin.sock mode 600 level admin expose-fd listeners",
        "    stats socket ipv4@127.0.0.1:9999 level user",
        "    stats socket ./local.sock",
        "    stats socket ./owned.sock user root group root mode 660 maxconn 3",
        "    stats socket ./numeric.sock uid 4242 gid 4343",
        "    stats timeout 1m",
        "    stats maxconn 5",
        "    tune.bufsize 32768",
        "listen l",
        "  bind :80",
    ]);
    let g = &config.global;
    assert_eq!(
        (g.nbthread, g.maxconn, g.stats_timeout),
        (Some(4), Some(20000), Some(Duration::from_secs(60)))
    );
    assert_eq!((g.stats_maxconn, g.tune_bufsize), (Some(5), Some(32768)));
    let s = &g.stats_sockets;
    assert_eq!(s.len(), 5);
    assert_eq!(
        (s[3].uid, s[3].gid, s[3].mode, s[3].maxconn),
        (Some(0), Some(0), Some(0o660), Some(3))
    );
    assert_eq!(
        (s[4].uid, s[4].gid, s[4].maxconn),
        (Some(4242), Some(4343), None)
    );
    assert_eq!((s[0].uid, s[0].gid, s[0].maxconn), (None, None, None));
    assert_eq!(
        s[0].address,
        SocketAddress::Unix("/run/pointsman/admin.sock".into())
    );
    assert_eq!(
        (
            s[0].mode,
            s[0].level,
            s[0].expose_fd_listeners,
            s[0].location.line
        ),
        (Some(0o600), Level::Admin, true, 4)
    );
    assert_eq!(s[1].address, SocketAddress::Tcp(addr("127.0.0.1:9999")));
    assert_eq!(
        (s[1].mode, s[1].level, s[1].expose_fd_listeners),
        (None, Level::User, false)
    );
    assert_eq!(
        s[2].level,
        Level::Operator,
        "HAProxy's default level is operator"
    );
}

#[test]
fn global_errors() {
    let cases: &[(&str, &str)] = &[
        ("nbthread 0", "'nbthread' must be at least 1"),
        ("nbthread two", "'nbthread': 'two' is not a number"),
        ("nbthread", "'nbthread' needs a value: expected 'nbthread <number>'"),
        ("maxconn 1 2", "'maxconn' takes one value, found extra '2': expected 'maxconn <number>'"),
        ("stats socket", "'stats socket' needs an address: expected 'stats socket <path>|ipv4@<addr>:<port>|fd@<n> [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>] [level user|operator|admin] [maxconn <n>] [expose-fd listeners]'"),
        ("stats socket /s level root", "'stats socket': unknown level 'root': expected user, operator or admin"),
        ("stats socket /s mode 999", "'stats socket' mode: '999' is not an octal file mode such as 660"),
        ("stats socket /s mode", "'stats socket': 'mode' needs a value: expected 'stats socket <path>|ipv4@<addr>:<port>|fd@<n> [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>] [level user|operator|admin] [maxconn <n>] [expose-fd listeners]'"),
        ("stats socket /s user no-such-user-here", "'stats socket': unknown user 'no-such-user-here'"),
        ("stats socket /s group no-such-group-here", "'stats socket': unknown group 'no-such-group-here'"),
        ("stats socket /s uid x", "'stats socket' uid: 'x' is not a number"),
        ("stats socket /s maxconn 0", "'stats socket' 'maxconn' must be at least 1"),
        ("stats socket /s backlog 10", "unsupported stats socket option 'backlog': expected 'stats socket <path>|ipv4@<addr>:<port>|fd@<n> [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>] [level user|operator|admin] [maxconn <n>] [expose-fd listeners]'"),
        ("stats maxconn 0", "'stats maxconn' must be at least 1"),
        ("stats socket /s expose-fd all", "'stats socket': 'expose-fd all' is not supported: expected 'expose-fd listeners'"),
        ("stats socket ipv4@127.0.0.1", "'stats socket': address 'ipv4@127.0.0.1' has no port: expected <addr>:<port>"),
        ("stats timeout 0", "'stats timeout' must be greater than 0"),
        ("stats timeout 10x", "'stats timeout': invalid time '10x': expected a number with an optional unit us, ms, s, m, h or d (default ms)"),
        ("stats enable", "'stats enable' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("tune.bufsize 512", "'tune.bufsize' must be between 1024 and 16777216 bytes, found 512"),
        ("tune.bufsize 16k", "'tune.bufsize': '16k' is not a number"),
        ("tune.bufsize", "'tune.bufsize' needs a value: expected 'tune.bufsize <bytes>'"),
        ("tune.nope 1024", "unknown keyword 'tune.nope' in global section"),
        ("server s 127.0.0.1:80", "'server' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("timeout client 5s", "'timeout client' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("option redispatch", "'option redispatch' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("option dontlognull", "'option dontlognull' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
    ];
    for (line, message) in cases {
        assert_eq!(
            error(&["global", "    maxconn 10", line]),
            format!("haproxy.cfg:3: {message}"),
            "{line}"
        );
    }
}

#[test]
fn global_sections_merge() {
    let config = parse(&[
        "global",
        "  nbthread 2",
        "global",
        "  maxconn 5",
        "listen l",
        "  bind :80",
    ]);
    assert_eq!(
        (config.global.nbthread, config.global.maxconn),
        (Some(2), Some(5))
    );
}
