//! Active health checks end to end: TCP and HTTP checks (`option httpchk`, `http-check expect
//! status`), `timeout check`, a dead server at start, and checks run once per server whatever
//! the number of shards. The backends count the check requests they receive.

mod common;
mod loadtest_support;

use common::*;
use std::time::Duration;

fn config(port: u16, backend: &str) -> String {
    format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n{backend}"
    )
}

fn wait_status(p: &Pointsman, server: &str, wanted: &str) {
    wait_for(Duration::from_secs(10), || p.status("bk", server) == wanted);
}

#[test]
fn a_dead_server_at_start_goes_down_after_one_failed_check() {
    let dead = loadtest_support::closed_port();
    let alive = backend("alive", "alive", &[]);
    let port = free_port();
    // One check at start, the next one 30 s later: DOWN can only come from the first.
    let p = pointsman_logged(
        &config(
            port,
            &format!(
                "    default-server check inter 30s\n    server dead {dead}\n\
                 \x20   server alive 127.0.0.1:{}\n",
                alive.port()
            ),
        ),
        1,
        port,
    );
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
    assert_eq!(p.status("bk", "alive"), "UP");
    assert!(p
        .log()
        .contains("Server bk/dead is DOWN, reason: Layer4 connection problem"));
    // Its traffic goes to the live one.
    assert_eq!(get(port, "/").unwrap().header("x-server"), Some("alive"));
}

#[test]
fn http_checks_judge_the_status() {
    let s = backend("s", "s", &[]);
    let port = free_port();
    // `/status/503` answers 503: a wrong status for the default expectation (2xx/3xx).
    let p = pointsman(
        &config(
            port,
            &format!(
                "    option httpchk GET /status/503\n\
                 \x20   server s 127.0.0.1:{} check inter 100ms\n",
                s.port()
            ),
        ),
        1,
        port,
    );
    wait_status(&p, "s", "DOWN");
    assert_eq!(p.stat("bk", "s")["check_status"], "L7STS");
    drop(p);
    let port = free_port();
    let p = pointsman(
        &config(
            port,
            &format!(
                "    option httpchk GET /status/503\n    http-check expect status 503\n\
                 \x20   server s 127.0.0.1:{} check inter 100ms\n",
                s.port()
            ),
        ),
        1,
        port,
    );
    wait_status(&p, "s", "UP");
    assert_eq!(p.stat("bk", "s")["check_status"], "L7OK");
}

#[test]
fn timeout_check_bounds_the_wait_for_the_response() {
    let slow = backend("slow", "slow", &["--delay-ms", "800"]);
    let port = free_port();
    let p = pointsman(
        &config(
            port,
            &format!(
                "    timeout check 100ms\n    option httpchk GET /\n\
                 \x20   server slow 127.0.0.1:{} check inter 200ms fall 1\n",
                slow.port()
            ),
        ),
        1,
        port,
    );
    wait_status(&p, "slow", "DOWN");
    assert_eq!(p.stat("bk", "slow")["check_status"], "L7TOUT");
}

#[test]
fn each_server_is_checked_once_whatever_the_shards() {
    let s = backend("s", "s", &[]);
    let port = free_port();
    let p = pointsman(
        &config(
            port,
            &format!(
                "    option httpchk GET /health\n    server s 127.0.0.1:{} check inter 100ms\n",
                s.port()
            ),
        ),
        2,
        port,
    );
    wait_status(&p, "s", "UP");
    let count = || -> u64 {
        let reply = loadtest_support::exchange(
            s.addr,
            b"GET /count HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        let (_, body) = loadtest_support::split(&reply);
        String::from_utf8_lossy(&body).trim().parse().unwrap()
    };
    let before = count();
    std::thread::sleep(Duration::from_millis(1000));
    let checks = count() - before;
    // One shard checking every 100 ms makes about 10 checks a second; two would make 20.
    assert!((1..=14).contains(&checks), "{checks} checks in one second");
}
