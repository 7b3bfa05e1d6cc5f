//! `log` lines (destinations, formats, `log global`) and their errors.

use super::*;

#[test]
fn log_lines() {
    let config = parse(&[
        "global",
        "  log stdout format raw local0",
        "  log 127.0.0.1 local1 notice err",
        "  log udp@127.0.0.1:1514 len 2048 format short local2",
        "  log /dev/log daemon",
        "  log-tag haproxy",
        "defaults",
        "  mode http",
        "  log global",
        "frontend a",
        "  bind :80",
        "  log stderr local7",
        "frontend b",
        "  bind :81",
        "  no log",
        "  log 127.0.0.1:600 user",
    ]);
    let g = &config.global.logs;
    assert_eq!(g.len(), 4);
    assert_eq!(
        (
            g[0].destination.clone(),
            g[0].format,
            g[0].facility,
            g[0].max_level,
            g[0].min_level
        ),
        (LogDestination::Stdout, LogFormat::Raw, 16, 7, 0)
    );
    assert_eq!(
        (
            g[1].destination.clone(),
            g[1].format,
            g[1].facility,
            g[1].max_level,
            g[1].min_level
        ),
        (
            LogDestination::Udp(addr("127.0.0.1:514")),
            LogFormat::Rfc3164,
            17,
            5,
            3
        )
    );
    assert_eq!(
        (g[2].destination.clone(), g[2].format, g[2].max_len),
        (
            LogDestination::Udp(addr("127.0.0.1:1514")),
            LogFormat::Short,
            2048
        )
    );
    assert_eq!(g[3].destination, LogDestination::Unix("/dev/log".into()));
    assert_eq!(config.global.log_tag.as_deref(), Some("haproxy"));
    let a = &proxy(&config, "a").logs;
    assert_eq!(a.len(), 5);
    assert_eq!(a[4].destination, LogDestination::Stderr);
    let b = &proxy(&config, "b").logs;
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].destination.clone(), b[0].facility),
        (LogDestination::Udp(addr("127.0.0.1:600")), 1)
    );
}

#[test]
fn log_errors() {
    assert_errors(&[
        (&["global", "  log global"], "haproxy.cfg:2: 'log global' is only valid in defaults, frontend, backend and listen sections"),
        (&["global", "  log stdout"], "haproxy.cfg:2: 'log stdout' needs a facility (e.g. local0): expected 'log <target> [len <length>] [format raw|short|rfc3164] <facility> [<level> [<minlevel>]] (target: stdout, stderr, <ip>[:<port>], udp@<ip>[:<port>], /dev/log)'"),
        (&["global", "  log stdout local9"], "haproxy.cfg:2: 'log': unknown facility 'local9': expected one of kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, auth2, ftp, ntp, audit, alert, cron2, local0, local1, local2, local3, local4, local5, local6, local7"),
        (&["global", "  log stdout local0 loud"], "haproxy.cfg:2: 'log': unknown level 'loud': expected one of emerg, alert, crit, err, warning, notice, info, debug"),
        (&["global", "  log stdout format rfc5424 local0"], "haproxy.cfg:2: 'log': format 'rfc5424' is not supported: expected raw, short or rfc3164"),
        (&["global", "  log ring@buf local0"], "haproxy.cfg:2: 'log': target 'ring@buf' is not supported: use stdout, stderr, a UDP syslog address or a unix socket path"),
        (&["global", "  log stdout local0 err info"], "haproxy.cfg:2: 'log': the minimum level 'info' is more verbose than the level 'err'"),
        (&["backend b", "  no log x"], "haproxy.cfg:2: 'no log' takes no argument, found 'x'"),
    ]);
}
