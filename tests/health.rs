//! Active health checks end to end: TCP and HTTP checks (`option httpchk`, `http-check expect
//! status`), `timeout check`, a dead server at start, and checks run once per server whatever
//! the number of shards. The backends count the check requests they receive.

mod common;
mod loadtest_support;

use common::*;
use std::time::Duration;

fn wait_status(p: &Pointsman, server: &str, wanted: &str) {
    wait_for(Duration::from_secs(10), || p.status("bk", server) == wanted);
}

#[test]
fn a_dead_server_at_start_goes_down_after_one_failed_check() {
    let dead = loadtest_support::closed_port();
    let alive = backend("alive", "alive", &[]);
    let port = free_port();
    // One check at start, the next one 30 s later: DOWN can only come from the first.
    let lines = format!(
        "    default-server check inter 30s\n    server dead {dead}\n{}",
        server_lines([&alive], "")
    );
    let p = pointsman_logged(&proxy_config(port, &lines), 1, port);
    wait_status(&p, "dead", "DOWN");
    let stat = p.stat("bk", "dead");
    assert_eq!(
        (
            &stat["check_status"][..],
            &stat["chkfail"][..],
            &stat["chkdown"][..]
        ),
        ("L4CON", "1", "1"),
        "{stat:?}"
    );
    // L4 checks have no code; the duration is there (HAProxy's 0 ms on loopback, a few on a
    // busy machine).
    assert_eq!(stat["check_code"], "", "{stat:?}");
    assert!(stat["check_duration"].parse::<u64>().is_ok(), "{stat:?}");
    assert_eq!(p.status("bk", "alive"), "UP");
    // HAProxy 2.6's line, its check duration aside.
    let log = p.log();
    let (before, after) = log
        .split_once("ms. 1 active and 0 backup servers left.")
        .unwrap_or_else(|| panic!("no DOWN line with its counts: {log}"));
    let head = "Server bk/dead is DOWN, reason: Layer4 connection problem, \
                info: \"Connection refused\", check duration: ";
    let ms = before
        .rsplit_once(head)
        .unwrap_or_else(|| panic!("not HAProxy's DOWN line: {log}"))
        .1;
    assert!(ms.parse::<u64>().is_ok(), "duration {ms:?} in {log}");
    assert!(
        after.starts_with(" 0 sessions active, 0 requeued, 0 remaining in queue."),
        "{log}"
    );
    // Its traffic goes to the live one.
    assert_eq!(get(port, "/").unwrap().header("x-server"), Some("alive"));
}

#[test]
fn http_checks_judge_the_status() {
    let [s] = backends(["s"]);
    let checked = server_lines([&s], "check inter 100ms");
    let port = free_port();
    // `/status/503` answers 503: a wrong status for the default expectation (2xx/3xx).
    let lines = format!("    option httpchk GET /status/503\n{checked}");
    let p = pointsman_logged(&proxy_config(port, &lines), 1, port);
    wait_status(&p, "s", "DOWN");
    let stat = p.stat("bk", "s");
    assert_eq!(
        (&stat["check_status"][..], &stat["check_code"][..]),
        ("L7STS", "503"),
        "{stat:?}"
    );
    assert!(
        p.log()
            .contains("Server bk/s is DOWN, reason: Layer7 wrong status, code: 503, "),
        "{}",
        p.log()
    );
    drop(p);
    let port = free_port();
    let lines =
        format!("    option httpchk GET /status/503\n    http-check expect status 503\n{checked}");
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    wait_status(&p, "s", "UP");
    assert_eq!(p.stat("bk", "s")["check_status"], "L7OK");
}

#[test]
fn timeout_check_bounds_the_wait_for_the_response() {
    let slow = backend("slow", "slow", &["--delay-ms", "800"]);
    let port = free_port();
    let lines = format!(
        "    timeout check 100ms\n    option httpchk GET /\n{}",
        server_lines([&slow], "check inter 200ms fall 1")
    );
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    wait_status(&p, "slow", "DOWN");
    assert_eq!(p.stat("bk", "slow")["check_status"], "L7TOUT");
}

#[test]
fn each_server_is_checked_once_whatever_the_shards() {
    let [s] = backends(["s"]);
    let port = free_port();
    let lines = format!(
        "    option httpchk GET /health\n{}",
        server_lines([&s], "check inter 100ms")
    );
    let p = pointsman(&proxy_config(port, &lines), 2, port);
    wait_status(&p, "s", "UP");
    let before = s.count();
    std::thread::sleep(Duration::from_millis(1000));
    let checks = s.count() - before;
    // One shard checking every 100 ms makes about 10 checks a second; two would make 20.
    assert!((1..=14).contains(&checks), "{checks} checks in one second");
}
