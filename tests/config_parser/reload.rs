//! What reload and hand-over rely on: bind and `stats socket` address forms, and the reload
//! keywords with the defaults they come from.

use super::*;

#[test]
fn bind_and_stats_socket_address_forms_with_quotes_and_variables() {
    let config = parse(&[
        "global",
        "    stats socket fd@${PORT-4} level admin",
        "    stats socket \"unix@/run/a b.sock\" expose-fd listeners",
        "frontend fe",
        "    bind ipv4@127.0.0.1:${PORT},ipv6@[::1]:${UNSET-81}",
        "    bind 'unix@/run/fe.sock'",
        "    bind \"fd@${LISTEN_FD-3}\"",
        "    default_backend bk",
        "backend bk",
        "    server s 127.0.0.1:80",
    ]);
    let sockets = &config.global.stats_sockets;
    assert_eq!(sockets[0].address, SocketAddress::Fd(8080));
    assert_eq!(
        sockets[1].address,
        SocketAddress::Unix("/run/a b.sock".into())
    );
    assert!(sockets[1].expose_fd_listeners);
    let binds: Vec<String> = proxy(&config, "fe")
        .frontend
        .as_ref()
        .unwrap()
        .binds
        .iter()
        .map(|b| b.addr.to_string())
        .collect();
    assert_eq!(
        binds,
        ["127.0.0.1:8080", "[::1]:81", "unix@/run/fe.sock", "fd@3"]
    );
    assert_eq!(
        error(&["frontend fe", "    bind fd@${EMPTY}"]),
        "haproxy.cfg:2: 'bind': 'fd@': expected fd@<number> with a file descriptor number of 3 or more"
    );
    assert_eq!(
        error(&["global", "    stats socket fd@2"]),
        "haproxy.cfg:2: 'stats socket': 'fd@2': expected fd@<number> with a file descriptor number of 3 or more"
    );
}

#[test]
fn reload_keywords_and_the_defaults_they_come_from() {
    let config = parse(&[
        "global",
        "    hard-stop-after 30s",
        "    server-state-base /var/lib/pointsman",
        "global",
        "    server-state-file state",
        "    pidfile /run/pointsman.pid",
        "defaults",
        "    load-server-state-from-file global",
        "backend a",
        "    server s 127.0.0.1:80",
        "defaults",
        "    load-server-state-from-file local",
        "    server-state-file-name use-backend-name",
        "backend b",
        "    server-state-file-name b.state",
        "    server s 127.0.0.1:80",
        "backend c",
        "    load-server-state-from-file none",
        "    server s 127.0.0.1:80",
    ]);
    let g = &config.global;
    assert_eq!(g.hard_stop_after, Some(std::time::Duration::from_secs(30)));
    assert_eq!(
        g.server_state_base.as_deref(),
        Some(Path::new("/var/lib/pointsman"))
    );
    assert_eq!(g.server_state_file.as_deref(), Some(Path::new("state")));
    assert_eq!(g.pidfile.as_deref(), Some(Path::new("/run/pointsman.pid")));
    let side = |name: &str| proxy(&config, name).backend.clone().unwrap();
    assert_eq!(side("a").load_state, LoadServerState::Global);
    assert_eq!(side("b").load_state, LoadServerState::Local);
    assert_eq!(side("b").state_file_name.as_deref(), Some("b.state"));
    assert_eq!(side("c").load_state, LoadServerState::None);
    assert_eq!(
        error(&["defaults", "    load-server-state-from-file sometimes"]),
        "haproxy.cfg:2: 'load-server-state-from-file': unknown value 'sometimes': expected 'load-server-state-from-file global|local|none'"
    );
    assert_eq!(
        error(&["frontend f", "    hard-stop-after 1s"]),
        "haproxy.cfg:2: 'hard-stop-after' belongs in the global section, not in frontend 'f' section"
    );
}
