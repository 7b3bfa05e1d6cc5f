//! The stats page keywords (`stats enable`, `stats uri`, ...) and their errors.

use super::*;

#[test]
fn stats_page_keywords() {
    let config = parse(&[
        "frontend stats",
        "  mode http",
        "  bind :8404",
        "  stats enable",
        "  stats uri /stats",
        "  stats refresh 5s",
        "  stats auth admin:s3cr:et",
        "  stats auth ops:pw",
        "  stats realm Pointsman",
        "  stats admin if TRUE",
        "  stats hide-version",
        "  http-request use-service prometheus-exporter if { path /metrics }",
    ]);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let fe = proxy(&config, "stats").frontend.as_ref().unwrap();
    let page = fe.stats.as_ref().unwrap();
    assert_eq!(page.uri, "/stats");
    assert_eq!(page.refresh, Some(Duration::from_secs(5)));
    assert_eq!(
        page.auth,
        vec![
            ("admin".to_string(), "s3cr:et".to_string()),
            ("ops".to_string(), "pw".to_string())
        ]
    );
    assert_eq!(page.realm, "Pointsman");
    assert_eq!(page.admin, StatsAdmin::Always);
    assert!(page.hide_version);
    assert_eq!(fe.prometheus.as_deref(), Some("/metrics"));
    assert_eq!(fe.default_backend, None);

    // Any stats keyword turns the page on, with HAProxy's default uri.
    let config = parse(&[
        "listen l",
        "  mode http",
        "  bind :80",
        "  stats admin if LOCALHOST",
        "  stats prometheus",
    ]);
    let fe = proxy(&config, "l").frontend.as_ref().unwrap();
    let page = fe.stats.as_ref().unwrap();
    assert_eq!(
        (page.uri.as_str(), page.admin),
        ("/haproxy?stats", StatsAdmin::Localhost)
    );
    assert_eq!(fe.prometheus.as_deref(), Some("/metrics"));
}

#[test]
fn stats_page_errors() {
    assert_errors(&[
        (&["listen stats", "  mode http", "  bind :8404", "  stats auth admin"], "haproxy.cfg:4: 'stats auth': 'admin' has no ':': expected 'stats auth <user>:<password>'"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats admin if { src 10.0.0.1 }"], "haproxy.cfg:4: 'stats admin if { src 10.0.0.1 }': only the predefined conditions TRUE and LOCALHOST are supported: expected 'stats admin if TRUE|LOCALHOST'"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats refresh 0"], "haproxy.cfg:4: 'stats refresh' must be at least 1s"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats uri stats"], "haproxy.cfg:4: 'stats uri': 'stats' must start with '/'"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats scope bk"], "haproxy.cfg:4: 'stats scope' is not supported: the stats page takes 'stats enable', 'uri', 'refresh', 'auth', 'realm', 'admin if TRUE|LOCALHOST', 'hide-version' and 'prometheus'"),
        (&["backend b", "  stats enable"], "haproxy.cfg:2: 'stats enable' is not allowed in backend 'b' section (allowed in: defaults, frontend, listen)"),
        (&["frontend f", "  bind :80", "  stats enable"], "haproxy.cfg:1: frontend 'f' serves the stats page ('stats …'), which needs 'mode http'"),
        (&["frontend f", "  mode http", "  bind :80", "  http-request tarpit"], "haproxy.cfg:4: 'http-request tarpit' is not supported (supported: 'allow', 'deny', 'return', 'redirect', 'set-header', 'add-header', 'del-header', 'replace-header', 'replace-value', 'set-path', 'set-query', 'set-uri', 'set-method', and 'use-service prometheus-exporter')."),
        (&["frontend f", "  mode http", "  bind :80", "  http-request use-service prometheus-exporter"], "haproxy.cfg:4: 'http-request use-service prometheus-exporter' needs the condition '{ path <path> }': expected 'http-request use-service prometheus-exporter if { path <path> }'"),
    ]);
    assert_eq!(
        error(&["defaults", "  stats socket /x"]),
        "haproxy.cfg:2: 'stats socket' belongs in the global section, not in defaults section"
    );
}
