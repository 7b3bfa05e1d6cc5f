//! Proxy keywords: modes and timeouts, frontend keywords, balance algorithms, options, retries,
//! `retry-on`, `option httpchk` and `cookie`.

use super::*;

#[test]
fn mode_and_every_timeout() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 30000",
        "    timeout server 1m",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 500ms",
        "    timeout queue 2h",
        "    timeout check 1500us",
        "listen l",
        "    bind :80",
    ]);
    let l = proxy(&config, "l");
    assert_eq!(l.mode, Mode::Http);
    let t = l.timeouts;
    assert_eq!(t.connect, Some(Duration::from_secs(5)));
    assert_eq!(t.client, Some(Duration::from_secs(30)));
    assert_eq!(t.server, Some(Duration::from_secs(60)));
    assert_eq!(t.http_request, Some(Duration::from_secs(10)));
    assert_eq!(t.http_keep_alive, Some(Duration::from_millis(500)));
    assert_eq!(t.queue, Some(Duration::from_secs(7200)));
    assert_eq!(t.check, Some(Duration::from_micros(1500)));
}

/// `proto h1` names what every pointsman bind speaks: accepted, as HAProxy accepts it.
#[test]
fn bind_proto_h1_is_accepted() {
    let config = parse(&[
        "frontend fe",
        "    bind :80 proto h1",
        "    default_backend bk",
        "backend bk",
    ]);
    assert_eq!(
        proxy(&config, "fe").frontend.as_ref().unwrap().binds.len(),
        1
    );
}

#[test]
fn bind_ssl_options_apply_to_each_address_of_the_line() {
    let config = parse(&[
        "frontend fe",
        "    bind :80",
        "    bind :443,:8443 ssl crt /etc/site.pem crt /etc/other.pem alpn h2,http/1.1",
        "    bind :9443 crt /etc/unused.pem",
        "    default_backend bk",
        "backend bk",
    ]);
    let binds = &proxy(&config, "fe").frontend.as_ref().unwrap().binds;
    let tls = BindSsl {
        crts: vec!["/etc/site.pem".into(), "/etc/other.pem".into()],
        alpn: vec!["h2".into(), "http/1.1".into()],
        ..BindSsl::default()
    };
    let ssl: Vec<Option<&BindSsl>> = binds.iter().map(|b| b.ssl.as_ref()).collect();
    // `crt` without `ssl` is accepted and unused, as in HAProxy.
    assert_eq!(ssl, [None, Some(&tls), Some(&tls), None]);
}

#[test]
fn frontend_keywords() {
    let config = parse(&[
        "frontend fe",
        "    mode tcp",
        "    bind :80",
        "    bind *:81",
        "    bind 0.0.0.0:82,127.0.0.1:83",
        "    bind [::1]:84",
        "    bind ipv4@127.0.0.1:85",
        "    bind ipv6@[::1]:86",
        "    maxconn 500",
        "    timeout client 5s",
        "    default_backend bk",
        "backend bk",
        "    mode tcp",
    ]);
    let fe = proxy(&config, "fe");
    let side = fe.frontend.as_ref().unwrap();
    let binds: Vec<(SocketAddr, usize)> = side
        .binds
        .iter()
        .map(|b| (b.addr.tcp().unwrap(), b.location.line))
        .collect();
    assert_eq!(
        binds,
        [
            (addr("0.0.0.0:80"), 3),
            (addr("0.0.0.0:81"), 4),
            (addr("0.0.0.0:82"), 5),
            (addr("127.0.0.1:83"), 5),
            (addr("[::1]:84"), 6),
            (addr("127.0.0.1:85"), 7),
            (addr("[::1]:86"), 8),
        ]
    );
    assert_eq!(
        (side.maxconn, side.default_backend.as_deref()),
        (Some(500), Some("bk"))
    );
    assert!(fe.backend.is_none());
    assert_eq!(fe.timeouts.client, Some(Duration::from_secs(5)));
}

#[test]
fn every_balance_algorithm() {
    for (word, algorithm) in [
        ("roundrobin", Algorithm::RoundRobin),
        ("static-rr", Algorithm::StaticRr),
        ("leastconn", Algorithm::LeastConn),
        ("first", Algorithm::First),
        ("source", Algorithm::Source),
        ("random", Algorithm::Random),
    ] {
        let balance = format!("balance {word}");
        let config = parse(&as_strs(&backend_with(&[&balance])));
        assert_eq!(
            proxy(&config, "bk").backend.as_ref().unwrap().balance,
            algorithm
        );
    }
}

#[test]
fn every_flag_option_and_its_negation() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    option allbackups",
        "    option redispatch",
        "    option forwardfor",
        "    option httplog",
        "    option httpclose",
        "listen a",
        "    bind :80",
        "listen b",
        "    bind :81",
        "    no option allbackups",
        "    no option redispatch",
        "    no option forwardfor",
        "    option tcplog",
        "    option http-keep-alive",
    ]);
    let a = proxy(&config, "a").options;
    assert!(a.allbackups && a.redispatch && a.forwardfor && a.httplog && a.httpclose);
    assert!(!a.tcplog && !a.http_keep_alive);
    let b = proxy(&config, "b").options;
    assert!(!b.allbackups && !b.redispatch && !b.forwardfor && !b.httplog && !b.httpclose);
    assert!(b.tcplog && b.http_keep_alive);
}

#[test]
fn no_option_clears_httplog_and_http_modes() {
    let config = parse(&[
        "defaults",
        "  mode http",
        "  option httplog",
        "  option http-keep-alive",
        "listen a",
        "  bind :80",
        "  no option httplog",
        "  no option http-keep-alive",
    ]);
    let a = proxy(&config, "a").options;
    assert!(!a.httplog && !a.tcplog && !a.http_keep_alive && !a.httpclose);
}

#[test]
fn dontlognull_and_http_ignore_probes_are_frontend_flags() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    option dontlognull",
        "    option http-ignore-probes",
        "frontend both",
        "    bind :80",
        "    default_backend bk",
        "frontend neither",
        "    bind :81",
        "    no option dontlognull",
        "    no option http-ignore-probes",
        "    default_backend bk",
        "listen l",
        "    bind :82",
        "    no option http-ignore-probes",
        "backend bk",
        "    option dontlognull",
        "    option http-ignore-probes",
        "    server s 127.0.0.1:81",
    ]);
    let both = proxy(&config, "both").options;
    assert!(both.dontlognull && both.http_ignore_probes);
    let neither = proxy(&config, "neither").options;
    assert!(!neither.dontlognull && !neither.http_ignore_probes);
    let l = proxy(&config, "l").options;
    assert!(l.dontlognull && !l.http_ignore_probes);
    // HAProxy ignores them in a backend with a warning ("no frontend capability").
    assert_eq!(
        config.warnings,
        [
            "haproxy.cfg:17: 'option dontlognull' is ignored in backend 'bk' section: it needs a frontend",
            "haproxy.cfg:18: 'option http-ignore-probes' is ignored in backend 'bk' section: it needs a frontend",
        ]
    );
    assert_eq!(
        error(&["frontend f", "  bind :80", "  option dontlognull x"]),
        "haproxy.cfg:3: 'option dontlognull' takes no argument, found 'x'"
    );
    assert_eq!(
        error(&["backend b", "  option http-ignore-probes x"]),
        "haproxy.cfg:2: 'option http-ignore-probes' takes no argument, found 'x'"
    );
    // http-ignore-probes needs `mode http`, as in HAProxy; dontlognull does not.
    let tcp = parse(&[
        "defaults",
        "    option dontlognull",
        "    option http-ignore-probes",
        "frontend fe",
        "    bind :80",
        "    default_backend bk",
        "backend bk",
        "    server s 127.0.0.1:81",
    ]);
    assert_eq!(
        tcp.warnings,
        ["haproxy.cfg:4: 'option http-ignore-probes' is ignored for tcp frontend 'fe': it needs 'mode http'"]
    );
    let fe = proxy(&tcp, "fe").options;
    assert!(fe.dontlognull && !fe.http_ignore_probes);
}

#[test]
fn retries_default_to_3() {
    let config = parse(&as_strs(&backend_with(&[])));
    assert_eq!(proxy(&config, "bk").backend.as_ref().unwrap().retries, 3);
    let config = parse(&as_strs(&backend_with(&["retries 0"])));
    assert_eq!(proxy(&config, "bk").backend.as_ref().unwrap().retries, 0);
}

#[test]
fn retry_on_keywords() {
    let retry_on = |lines: &[&str]| {
        let config = parse(&as_strs(&backend_with(lines)));
        let side = proxy(&config, "bk").backend.clone().unwrap();
        side.retry_on
    };
    assert_eq!(retry_on(&[]), RetryOn::default());
    assert!(retry_on(&[]).conn_failure && retry_on(&[]).empty_response);
    assert_eq!(retry_on(&["retry-on none"]), RetryOn::NONE);
    let some = retry_on(&["retry-on conn-failure 503 response-timeout"]);
    assert!(some.conn_failure && some.response_timeout && !some.empty_response);
    assert!(some.status(503) && !some.status(502));
    let all = retry_on(&["retry-on all-retryable-errors"]);
    assert!(all.conn_failure && all.empty_response && all.junk_response && all.response_timeout);
    assert!(all.status(500) && all.status(502) && all.status(503) && all.status(504));
    assert!(!all.status(404) && !all.status(501));
    // Inherited from defaults.
    let config = parse(&[
        "defaults",
        "    retry-on 502",
        "backend bk",
        "    server s 127.0.0.1:81",
    ]);
    assert!(proxy(&config, "bk")
        .backend
        .as_ref()
        .unwrap()
        .retry_on
        .status(502));
}

#[test]
fn httpchk_forms_and_expect_status() {
    let check = |lines: &[&str]| {
        let config = parse(&as_strs(&backend_with(lines)));
        proxy(&config, "bk")
            .backend
            .as_ref()
            .unwrap()
            .httpchk
            .clone()
    };
    // HAProxy's implicit rules around `option httpchk`'s request: connect, send, and the
    // expected status (2xx or 3xx when no rule names one).
    let http = |method: &str, uri: &str, expect_status: Option<u16>| {
        let (low, high) = expect_status.map_or((200, 399), |s| (s, s));
        HttpCheck {
            request: HttpChkRequest {
                method: method.into(),
                uri: uri.into(),
                version: "HTTP/1.0".into(),
            },
            rules: vec![
                HttpCheckRule::Connect(CheckConnect::default()),
                HttpCheckRule::Send(HttpCheckSend::default()),
                HttpCheckRule::Expect(CheckExpect {
                    inverse: false,
                    matcher: HttpMatch::Status(vec![(low, high)]),
                    comment: None,
                }),
            ],
            disable_on_404: false,
        }
    };
    assert_eq!(check(&[]), None);
    assert_eq!(check(&["option httpchk"]), Some(http("OPTIONS", "/", None)));
    assert_eq!(
        check(&["option httpchk /health"]),
        Some(http("OPTIONS", "/health", None))
    );
    assert_eq!(
        check(&["option httpchk GET /health"]),
        Some(http("GET", "/health", None))
    );
    assert_eq!(
        check(&["http-check expect status 204", "option httpchk HEAD /"]),
        Some(http("HEAD", "/", Some(204)))
    );
}

#[test]
fn cookie_forms() {
    let cookie = |line: &str| {
        let config = parse(&[
            "defaults",
            "  mode http",
            "backend bk",
            &format!("  {line}"),
            "frontend fe",
            "  bind :80",
            "  default_backend bk",
        ]);
        let c = proxy(&config, "bk")
            .backend
            .as_ref()
            .unwrap()
            .cookie
            .clone()
            .unwrap();
        (c.name, c.mode, c.indirect, c.nocache)
    };
    assert_eq!(
        cookie("cookie SRV insert"),
        ("SRV".into(), CookieMode::Insert, false, false)
    );
    assert_eq!(
        cookie("cookie SRV rewrite"),
        ("SRV".into(), CookieMode::Rewrite, false, false)
    );
    assert_eq!(
        cookie("cookie JSESSIONID prefix indirect"),
        ("JSESSIONID".into(), CookieMode::Prefix, true, false)
    );
    assert_eq!(
        cookie("cookie SERVERID insert indirect nocache"),
        ("SERVERID".into(), CookieMode::Insert, true, true)
    );
    assert_eq!(
        cookie("cookie SERVERID nocache insert"),
        ("SERVERID".into(), CookieMode::Insert, false, true)
    );
}
