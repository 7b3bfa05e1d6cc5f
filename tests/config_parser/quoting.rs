//! Quoting and `${VAR}` environment variables, and their errors.

use super::*;

#[test]
fn quoted_arguments_and_environment_variables() {
    let config = parse(&[
        "global",
        "    stats socket \"/tmp/with space.sock\"",
        "    stats socket '/tmp/${NOT_EXPANDED}.sock'",
        "frontend fe",
        "    bind :${PORT}",
        "    bind \"127.0.0.1:${UNSET-9090}\"",
        "    default_backend \"bk\"",
        "backend bk",
        "    server s ${BACKEND_IP}:80 cookie \"a \\\"b\\\" \\\\c\"",
        "    server t ${UNSET-127.0.0.1}:${UNSET2-81}",
    ]);
    let sockets = &config.global.stats_sockets;
    assert_eq!(
        sockets[0].address,
        SocketAddress::Unix("/tmp/with space.sock".into())
    );
    assert_eq!(
        sockets[1].address,
        SocketAddress::Unix("/tmp/${NOT_EXPANDED}.sock".into())
    );
    let binds: Vec<SocketAddr> = proxy(&config, "fe")
        .frontend
        .as_ref()
        .unwrap()
        .binds
        .iter()
        .map(|b| b.addr.tcp().unwrap())
        .collect();
    assert_eq!(binds, [addr("0.0.0.0:8080"), addr("127.0.0.1:9090")]);
    let s = servers(&config, "bk");
    assert_eq!(
        (s[0].addr, s[0].options.cookie.as_deref()),
        (addr("10.0.0.7:80"), Some("a \"b\" \\c"))
    );
    assert_eq!(s[1].addr, addr("127.0.0.1:81"));
}

#[test]
fn an_unset_variable_without_default_is_empty() {
    assert_eq!(
        error(&["backend bk", "    server s ${UNSET}"]),
        "haproxy.cfg:2: server 's' in backend 'bk' has no address: \
         expected 'server <name> <addr>:<port> [options]', found nothing"
    );
    assert_eq!(
        error(&["backend bk", "    server s \"${EMPTY}\""]),
        "haproxy.cfg:2: server 's' in backend 'bk': address '' has no port: expected <addr>:<port>"
    );
}

#[test]
fn quoting_errors_name_the_line() {
    assert_eq!(
        error(&["global", "  stats socket \"/tmp/x.sock"]),
        "haproxy.cfg:2: missing closing double quote (\")"
    );
    assert_eq!(
        error(&["global", "", "  stats socket '/tmp/x.sock"]),
        "haproxy.cfg:3: missing closing single quote (')"
    );
    assert_eq!(
        error(&["frontend fe", "  bind :${PORT"]),
        "haproxy.cfg:2: invalid variable '${PORT': expected '}' or '-default}'"
    );
}
