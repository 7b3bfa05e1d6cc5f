//! Retries and redispatch end to end (`retries`, `retry-on`, `option redispatch`): what is sent
//! again, to which server, and what never is — a request that may already have run (a POST
//! that reached a server) is answered 502, not replayed. Backends count what they received, so
//! "sent once" is measured at the server, not inferred.

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

/// Requests a `pointsman-backend` served, by its `/count` endpoint.
fn served(b: &Backend) -> u64 {
    let reply = loadtest_support::exchange(
        b.addr,
        b"GET /count HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let (_, body) = loadtest_support::split(&reply);
    String::from_utf8_lossy(&body).trim().parse().unwrap()
}

#[test]
fn a_get_the_server_dropped_is_retried_a_post_is_not() {
    let s1 = backend("s1", "s1", &[]);
    let s2 = backend("s2", "s2", &[]);
    let port = free_port();
    let p = pointsman(
        &config(
            port,
            &format!(
                "    retries 2\n    option redispatch\n\
                 \x20   server s1 127.0.0.1:{}\n    server s2 127.0.0.1:{}\n",
                s1.port(),
                s2.port()
            ),
        ),
        1,
        port,
    );
    // `/close` makes the server reset the connection without answering: an empty response.
    let get = get(port, "/close").unwrap();
    assert_eq!(get.status, 502);
    assert_eq!(
        served(&s1) + served(&s2),
        3,
        "a GET goes to the servers 1 + retries times"
    );
    assert_eq!(p.stat_number("bk", "BACKEND", "wredis"), 2);
    let post = Client::connect(port)
        .request("POST", "/close", &[], b"pay once")
        .unwrap();
    assert_eq!(post.status, 502);
    assert_eq!(
        served(&s1) + served(&s2),
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
    let p = pointsman(
        &config(
            port,
            &format!(
                "    retries 1\n    option redispatch\n    balance first\n\
                 \x20   server dead {dead}\n    server alive 127.0.0.1:{}\n",
                alive.port()
            ),
        ),
        1,
        port,
    );
    let post = Client::connect(port)
        .request("POST", "/", &[], b"sent once")
        .unwrap();
    assert_eq!(post.status, 200);
    assert_eq!(post.header("x-server"), Some("alive"));
    assert_eq!(post.header("x-received-bytes"), Some("9"));
    assert_eq!(served(&alive), 1);
    assert_eq!(p.stat_number("bk", "dead", "econ"), 1);
    assert_eq!(p.stat_number("bk", "dead", "wredis"), 1);
}

#[test]
fn retry_on_none_and_without_redispatch() {
    let s1 = backend("s1", "s1", &[]);
    let port = free_port();
    let p = pointsman(
        &config(
            port,
            &format!(
                "    retries 3\n    retry-on none\n    server s1 127.0.0.1:{}\n",
                s1.port()
            ),
        ),
        1,
        port,
    );
    assert_eq!(get(port, "/close").unwrap().status, 502);
    assert_eq!(served(&s1), 1, "retry-on none: no retry");
    assert_eq!(p.stat_number("bk", "s1", "eresp"), 1);

    let port = free_port();
    let p = pointsman(
        &config(
            port,
            &format!(
                "    retries 2\n    retry-on empty-response\n    server s1 127.0.0.1:{}\n",
                s1.port()
            ),
        ),
        1,
        port,
    );
    assert_eq!(get(port, "/close").unwrap().status, 502);
    assert_eq!(served(&s1), 4, "the same server, 1 + retries times");
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
        "    option redispatch\n    balance first\n\
         \x20   server failing 127.0.0.1:{failing_port}\n    server ok 127.0.0.1:{}\n",
        ok.port()
    );
    // By default a 503 answer is the answer.
    let p = pointsman(&config(port, &lines), 1, port);
    let r = get(port, "/").unwrap();
    assert_eq!((r.status, r.header("x-server")), (503, Some("failing")));
    assert_eq!(p.stat_number("bk", "failing", "wredis"), 0);
    // With `retry-on 503`, a GET goes to the next server; a POST still gets the 503.
    let port = free_port();
    let p = pointsman(
        &config(port, &format!("    retry-on conn-failure 503\n{lines}")),
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
    let p = pointsman(
        &config(
            port,
            &format!("    retries 0\n    server n 127.0.0.1:{nginx_port}\n"),
        ),
        1,
        port,
    );
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
    let p = pointsman(
        &config(
            port,
            &format!(
                "    retries 1\n    option redispatch\n\
                 \x20   server active {dead}\n    server backup 127.0.0.1:{} backup\n",
                backup.port()
            ),
        ),
        1,
        port,
    );
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
    assert_eq!(served(&backup), 4);
}
