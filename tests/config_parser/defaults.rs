//! `defaults` inheritance: what a proxy takes from the defaults before it, and overriding it.

use super::*;

#[test]
fn defaults_apply_to_every_proxy_after_them() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    balance leastconn",
        "    retries 5",
        "    maxconn 100",
        "    timeout client 11s",
        "    timeout server 12s",
        "    option redispatch",
        "    option httpchk GET /ping",
        "    http-check expect status 200",
        "    cookie SRV insert indirect",
        "    default_backend bk",
        "frontend fe",
        "    bind :80",
        "backend bk",
        "    server s 127.0.0.1:81",
    ]);
    let fe = proxy(&config, "fe");
    assert_eq!(fe.mode, Mode::Http);
    assert_eq!(fe.frontend.as_ref().unwrap().maxconn, Some(100));
    assert_eq!(
        fe.frontend.as_ref().unwrap().default_backend.as_deref(),
        Some("bk")
    );
    assert_eq!(fe.timeouts.client, Some(Duration::from_secs(11)));
    let bk = proxy(&config, "bk");
    let side = bk.backend.as_ref().unwrap();
    assert_eq!((side.balance, side.retries), (Algorithm::LeastConn, 5));
    assert!(bk.options.redispatch);
    let expect_200 = HttpCheckRule::Expect(CheckExpect {
        inverse: false,
        matcher: HttpMatch::Status(vec![(200, 200)]),
        comment: None,
    });
    assert_eq!(
        side.httpchk.as_ref().unwrap().rules.last(),
        Some(&expect_200)
    );
    assert_eq!(side.cookie.as_ref().unwrap().name, "SRV");
    assert_eq!(bk.timeouts.server, Some(Duration::from_secs(12)));
}

#[test]
fn proxy_lines_override_defaults() {
    let config = parse(&[
        "defaults",
        "  mode http",
        "  timeout server 12s",
        "  balance first",
        "backend bk",
        "  mode tcp",
        "  timeout server 1s",
        "  balance random",
        "listen l",
        "  bind :80",
    ]);
    let bk = proxy(&config, "bk");
    assert_eq!(
        (bk.mode, bk.timeouts.server),
        (Mode::Tcp, Some(Duration::from_secs(1)))
    );
    assert_eq!(bk.backend.as_ref().unwrap().balance, Algorithm::Random);
    let l = proxy(&config, "l");
    assert_eq!(
        (l.mode, l.timeouts.server),
        (Mode::Http, Some(Duration::from_secs(12))),
        "bk's lines do not leak"
    );
}

#[test]
fn a_later_defaults_section_replaces_the_earlier_one() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    timeout client 30s",
        "    option forwardfor",
        "    retries 7",
        "listen first",
        "    bind :80",
        "defaults named",
        "    timeout server 5s",
        "listen second",
        "    bind :81",
    ]);
    let first = proxy(&config, "first");
    assert_eq!(
        (first.mode, first.timeouts.client, first.options.forwardfor),
        (Mode::Http, Some(Duration::from_secs(30)), true)
    );
    let second = proxy(&config, "second");
    assert_eq!(second.mode, Mode::Tcp, "back to HAProxy's built-in default");
    assert_eq!(
        (second.timeouts.client, second.timeouts.server),
        (None, Some(Duration::from_secs(5)))
    );
    assert!(!second.options.forwardfor);
    assert_eq!(second.backend.as_ref().unwrap().retries, 3);
}
