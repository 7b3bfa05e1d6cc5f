//! `server` lines: every option and its default, health options, `default-server`.

use super::*;

#[test]
fn server_options_and_defaults() {
    let config = parse(&as_strs(&backend_with(&[
        "server plain 127.0.0.1:81",
        "server full [::1]:82 check backup weight 256 disabled inter 500ms rise 5 fall 1 maxconn 100 cookie s2",
        "server local localhost:83 weight 0",
        "server v4 ipv4@127.0.0.1:84",
    ])));
    let s = servers(&config, "bk");
    let plain = &s[0];
    assert_eq!(plain.addr, addr("127.0.0.1:81"));
    assert!(!plain.options.check && !plain.options.backup && !plain.options.disabled);
    assert_eq!(
        (
            plain.options.weight,
            plain.options.inter,
            plain.options.rise,
            plain.options.fall
        ),
        (1, Duration::from_secs(2), 2, 3)
    );
    assert_eq!(
        (plain.options.maxconn, plain.options.cookie.as_deref()),
        (None, None)
    );
    let full = &s[1];
    assert_eq!(full.addr, addr("[::1]:82"));
    assert!(full.options.check && full.options.backup && full.options.disabled);
    assert_eq!(
        (
            full.options.weight,
            full.options.inter,
            full.options.rise,
            full.options.fall
        ),
        (256, Duration::from_millis(500), 5, 1)
    );
    assert_eq!(
        (full.options.maxconn, full.options.cookie.as_deref()),
        (Some(100), Some("s2"))
    );
    assert_eq!((s[2].addr, s[2].options.weight), (addr("127.0.0.1:83"), 0));
    assert_eq!(s[3].addr, addr("127.0.0.1:84"));
}

#[test]
fn health_options_of_servers() {
    let config = parse(&as_strs(&backend_with(&[
        "default-server fastinter 500ms downinter 5s",
        "server plain 127.0.0.1:81",
        "server tuned 127.0.0.1:82 check slowstart 10s observe layer4 error-limit 5 on-error mark-down",
        "server l7 127.0.0.1:83 observe layer7 on-error sudden-death slowstart 0",
    ])));
    let s = servers(&config, "bk");
    let plain = &s[0].options.tuning;
    assert_eq!(
        (
            plain.fastinter,
            plain.downinter,
            plain.slowstart,
            plain.observe
        ),
        (
            Some(Duration::from_millis(500)),
            Some(Duration::from_secs(5)),
            None,
            None
        )
    );
    assert_eq!(
        (plain.error_limit, plain.on_error),
        (10, OnError::Fastinter)
    );
    let tuned = &s[1].options.tuning;
    assert_eq!(
        (
            tuned.slowstart,
            tuned.observe,
            tuned.error_limit,
            tuned.on_error
        ),
        (
            Some(Duration::from_secs(10)),
            Some(Observe::Layer4),
            5,
            OnError::MarkDown
        )
    );
    let l7 = &s[2].options.tuning;
    assert_eq!(
        (l7.observe, l7.on_error, l7.slowstart),
        (Some(Observe::Layer7), OnError::SuddenDeath, None)
    );
}

#[test]
fn default_server_applies_to_later_servers_and_can_be_undone() {
    let config = parse(&[
        "defaults",
        "    default-server inter 3s fall 5",
        "backend bk",
        "    server before 127.0.0.1:81",
        "    default-server check weight 10 backup",
        "    server after 127.0.0.1:82",
        "    server opt_out 127.0.0.1:83 no-check no-backup weight 2",
        "    default-server disabled",
        "    server off 127.0.0.1:84",
        "    server on 127.0.0.1:85 enabled",
        "frontend fe",
        "  bind :80",
        "  default_backend bk",
    ]);
    let s = servers(&config, "bk");
    assert_eq!(
        (
            s[0].options.check,
            s[0].options.weight,
            s[0].options.inter,
            s[0].options.fall
        ),
        (false, 1, Duration::from_secs(3), 5)
    );
    assert_eq!(
        (
            s[1].options.check,
            s[1].options.backup,
            s[1].options.weight,
            s[1].options.inter
        ),
        (true, true, 10, Duration::from_secs(3))
    );
    assert_eq!(
        (s[2].options.check, s[2].options.backup, s[2].options.weight),
        (false, false, 2)
    );
    assert!(s[3].options.disabled && !s[4].options.disabled);
}
