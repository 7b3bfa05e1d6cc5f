//! Retries and redispatch end to end (`retries`, `retry-on`, `option redispatch`): what is sent
//! again, to which server, and what never is — a request that may already have run (a POST
//! that reached a server) is answered 502, not replayed. Backends count what they received, so
//! "sent once" is measured at the server, not inferred.

mod common;
mod loadtest_support;

use common::*;
use std::time::Duration;

#[test]
fn a_get_the_server_dropped_is_retried_a_post_is_not() {
    let [s1, s2] = backends(["s1", "s2"]);
    let port = free_port();
    let lines = format!(
        "    retries 2\n    option redispatch\n{}",
        server_lines([&s1, &s2], "")
    );
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    // `/close` makes the server reset the connection without answering: an empty response.
    let get = get(port, "/close").unwrap();
    assert_eq!(get.status, 502);
    assert_eq!(
        s1.count() + s2.count(),
        3,
        "a GET goes to the servers 1 + retries times"
    );
    assert_eq!(p.stat_number("bk", "BACKEND", "wredis"), 2);
    let post = Client::connect(port)
        .request("POST", "/close", &[], b"pay once")
        .unwrap();
    assert_eq!(post.status, 502);
    assert_eq!(
        s1.count() + s2.count(),
        4,
        "the POST reached one server, once"
    );
    assert_eq!(p.stat_number("bk", "BACKEND", "wredis"), 2);
}

#[test]
fn a_connect_failure_is_retried_even_for_a_post() {
    let dead = loadtest_support::closed_port();
    let alive = backend("alive", "alive", &[]);
    let port = free_port();
    let lines = format!(
        "    retries 1\n    option redispatch\n    balance first\n    server dead {dead}\n{}",
        server_lines([&alive], "")
    );
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    let post = Client::connect(port)
        .request("POST", "/", &[], b"sent once")
        .unwrap();
    assert_eq!(post.status, 200);
    assert_eq!(post.header("x-server"), Some("alive"));
    assert_eq!(post.header("x-received-bytes"), Some("9"));
    assert_eq!(alive.count(), 1);
    // As haproxy 2.6.12 counts it: a connection failure that is redispatched is a
    // redispatch, not a connection error (`econ` counts the failure that gives up).
    assert_eq!(p.stat_number("bk", "dead", "econ"), 0);
    assert_eq!(p.stat_number("bk", "dead", "wredis"), 1);
}

#[test]
fn retry_on_none_and_without_redispatch() {
    let [s1] = backends(["s1"]);
    let server = server_lines([&s1], "");
    let port = free_port();
    let lines = format!("    retries 3\n    retry-on none\n{server}");
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    assert_eq!(get(port, "/close").unwrap().status, 502);
    assert_eq!(s1.count(), 1, "retry-on none: no retry");
    assert_eq!(p.stat_number("bk", "s1", "eresp"), 1);

    let port = free_port();
    let lines = format!("    retries 2\n    retry-on empty-response\n{server}");
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    assert_eq!(get(port, "/close").unwrap().status, 502);
    assert_eq!(s1.count(), 4, "the same server, 1 + retries times");
    assert_eq!(p.stat_number("bk", "s1", "wretr"), 2);
    assert_eq!(p.stat_number("bk", "s1", "wredis"), 0);
}

#[test]
fn retry_on_status_sends_a_get_to_another_server() {
    let failing_port = free_port();
    let _failing = nginx_with(
        "failing",
        failing_port,
        "",
        "add_header X-Server failing always; return 503 \"busy\";",
    );
    let ok = backend("ok", "ok", &[]);
    let port = free_port();
    let lines = format!(
        "    option redispatch\n    balance first\n{}{}",
        server_line("failing", failing_port, ""),
        server_lines([&ok], "")
    );
    // By default a 503 answer is the answer.
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    let r = get(port, "/").unwrap();
    assert_eq!((r.status, r.header("x-server")), (503, Some("failing")));
    assert_eq!(p.stat_number("bk", "failing", "wredis"), 0);
    // With `retry-on 503`, a GET goes to the next server; a POST still gets the 503.
    let port = free_port();
    let p = pointsman(
        &proxy_config(port, &format!("    retry-on conn-failure 503\n{lines}")),
        1,
        port,
    );
    let r = get(port, "/").unwrap();
    assert_eq!((r.status, r.header("x-server")), (200, Some("ok")));
    assert_eq!(p.stat_number("bk", "failing", "wredis"), 1);
    let post = Client::connect(port)
        .request("POST", "/", &[], b"x")
        .unwrap();
    assert_eq!(post.status, 503);
}

#[test]
fn a_pooled_connection_the_server_closed_is_not_an_error() {
    let nginx_port = free_port();
    let _n = nginx_with(
        "short-keepalive",
        nginx_port,
        "keepalive_timeout 300ms;",
        "add_header X-Server n; return 200 \"n\";",
    );
    let port = free_port();
    let lines = format!("    retries 0\n{}", server_line("n", nginx_port, ""));
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    for _ in 0..3 {
        // Each request finds the previous one's pooled connection, which nginx closed since.
        let r = get(port, "/").unwrap();
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(700));
    }
    let stat = p.stat("bk", "n");
    assert_eq!(
        (&stat["eresp"][..], &stat["econ"][..], &stat["wretr"][..]),
        ("0", "0", "0"),
        "{stat:?}"
    );
    assert_eq!(stat["hrsp_2xx"], "3");
}

#[test]
fn a_redispatch_reaches_the_backup_when_the_only_active_server_is_dead() {
    let dead = loadtest_support::closed_port();
    let backup = backend("backup", "backup", &[]);
    let port = free_port();
    // No checks: the dead server stays "UP", only the redispatch can save the requests.
    let lines = format!(
        "    retries 1\n    option redispatch\n    server active {dead}\n{}",
        server_lines([&backup], "backup")
    );
    let p = pointsman(&proxy_config(port, &lines), 1, port);
    for _ in 0..3 {
        let r = get(port, "/").unwrap();
        assert_eq!((r.status, r.header("x-server")), (200, Some("backup")));
    }
    let post = Client::connect(port)
        .request("POST", "/", &[], b"x")
        .unwrap();
    assert_eq!(
        (post.status, post.header("x-server")),
        (200, Some("backup"))
    );
    assert_eq!(p.stat_number("bk", "active", "wredis"), 4);
    assert_eq!(backup.count(), 4);
}
