//! Warnings: settings dropped or ignored, each naming file and line.

use super::*;

#[test]
fn http_only_settings_in_tcp_proxies_are_dropped_with_a_warning() {
    let config = parse(&[
        "defaults",
        "    option httplog",
        "    option forwardfor",
        "backend bk",
        "    cookie SRV insert",
        "    server s 127.0.0.1:81",
        "frontend fe",
        "    bind :80",
        "    default_backend bk",
    ]);
    assert_eq!(
        config.warnings,
        [
            "haproxy.cfg:4: 'option httplog' falls back to 'option tcplog' for tcp backend 'bk': it needs 'mode http'",
            "haproxy.cfg:4: 'option forwardfor' is ignored for tcp backend 'bk': it needs 'mode http'",
            "haproxy.cfg:5: 'cookie' is ignored for tcp backend 'bk': it needs 'mode http'",
            "haproxy.cfg:7: 'option httplog' falls back to 'option tcplog' for tcp frontend 'fe': it needs 'mode http'",
            "haproxy.cfg:7: 'option forwardfor' is ignored for tcp frontend 'fe': it needs 'mode http'",
        ]
    );
    let bk = proxy(&config, "bk");
    assert!(bk.backend.as_ref().unwrap().cookie.is_none());
    assert!(bk.options.tcplog && !bk.options.httplog && !bk.options.forwardfor);
}

#[test]
fn other_warnings() {
    let config = parse(&[
        "frontend lonely",
        "    bind :80",
        "backend bk",
        "    http-check expect status 200",
        "listen l",
        "    bind :81",
        "    default_backend bk",
        "    server s 127.0.0.1:81",
    ]);
    assert_eq!(
        config.warnings,
        [
            "haproxy.cfg:1: frontend 'lonely' has no 'default_backend': it has nowhere to send traffic",
            "haproxy.cfg:4: 'http-check expect' is ignored for backend 'bk': it needs 'option httpchk'",
            "haproxy.cfg:7: in listen 'l', 'default_backend' takes precedence over the servers, which will never be used",
        ]
    );
    assert_eq!(
        proxy(&config, "lonely")
            .frontend
            .as_ref()
            .unwrap()
            .default_backend,
        None
    );
    assert_eq!(
        proxy(&config, "l")
            .frontend
            .as_ref()
            .unwrap()
            .default_backend
            .as_deref(),
        Some("bk")
    );
}
