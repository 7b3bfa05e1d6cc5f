//! Cookie persistence end to end (`cookie SERVERID insert|rewrite|prefix [indirect]
//! [nocache]`, `server … cookie s1`): a client with the cookie keeps its server while it is
//! READY or DRAIN; MAINT or DOWN sends it elsewhere with a fresh cookie; DRAIN takes no new
//! client. What the server receives is checked on the server (`/echo`, nginx's `$http_cookie`).

mod common;

use common::*;

/// One request on a fresh connection, with `cookie` when given.
fn request(port: u16, path: &str, cookie: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", *c)).collect();
    Client::connect(port)
        .request("GET", path, &headers, b"")
        .expect("response")
}

/// pointsman with `cookie SERVERID {mode}` in front of `servers` (name, port), each with its
/// name as its cookie value: it and its port.
fn cookie_proxy(mode: &str, servers: [(&str, u16); 2]) -> (Pointsman, u16) {
    let mut lines = format!("    cookie SERVERID {mode}\n");
    for (name, port) in servers {
        lines.push_str(&server_line(name, port, &format!("cookie {name}")));
    }
    let port = free_port();
    (pointsman(&proxy_config(port, &lines), 1, port), port)
}

fn two_servers(mode: &str) -> (Backend, Backend, Pointsman, u16) {
    let [s1, s2] = backends(["s1", "s2"]);
    let (p, port) = cookie_proxy(mode, [("s1", s1.port()), ("s2", s2.port())]);
    (s1, s2, p, port)
}

#[test]
fn insert_indirect_nocache_sticks_and_hides_the_cookie_from_the_server() {
    let (_s1, _s2, _p, port) = two_servers("insert indirect nocache");
    let first = request(port, "/", None);
    let server = first.header("x-server").unwrap().to_string();
    assert_eq!(
        first.header("set-cookie"),
        Some(format!("SERVERID={server}; path=/").as_str())
    );
    assert_eq!(first.header("cache-control"), Some("private"));
    let cookie = format!("lang=fr; SERVERID={server}; theme=dark");
    for _ in 0..6 {
        let r = request(port, "/echo", Some(&cookie));
        assert_eq!(r.header("x-server"), Some(server.as_str()));
        assert_eq!(
            r.header("set-cookie"),
            None,
            "a valid cookie is not sent again"
        );
        let seen = r.text();
        assert!(seen.contains("Cookie: lang=fr; theme=dark\r\n"), "{seen}");
        assert!(!seen.contains("SERVERID"), "{seen}");
    }
}

#[test]
fn drain_keeps_its_clients_maint_and_down_send_them_elsewhere() {
    let (_s1, _s2, p, port) = two_servers("insert indirect");
    assert_eq!(p.admin("set server bk/s1 state drain"), "\n");
    // Cookie clients of s1 stay; new clients all go to s2.
    for _ in 0..4 {
        let r = request(port, "/", Some("SERVERID=s1"));
        assert_eq!(r.header("x-server"), Some("s1"));
        assert_eq!(r.header("set-cookie"), None);
        assert_eq!(request(port, "/", None).header("x-server"), Some("s2"));
    }
    // MAINT: elsewhere, with a fresh cookie.
    assert_eq!(p.admin("set server bk/s1 state maint"), "\n");
    let r = request(port, "/", Some("SERVERID=s1"));
    assert_eq!(r.header("x-server"), Some("s2"));
    assert_eq!(r.header("set-cookie"), Some("SERVERID=s2; path=/"));
    // Back to READY: the cookie works again.
    assert_eq!(p.admin("set server bk/s1 state ready"), "\n");
    assert_eq!(
        request(port, "/", Some("SERVERID=s1")).header("x-server"),
        Some("s1")
    );
    // DOWN (here set from the CLI; the same for a failed check): elsewhere.
    assert_eq!(p.admin("set server bk/s1 health down"), "\n");
    let r = request(port, "/", Some("SERVERID=s1"));
    assert_eq!(r.header("x-server"), Some("s2"));
    assert_eq!(r.header("set-cookie"), Some("SERVERID=s2; path=/"));
    // An unknown value is a new client.
    let r = request(port, "/", Some("SERVERID=nope"));
    assert_eq!(r.header("set-cookie"), Some("SERVERID=s2; path=/"));
}

#[test]
fn weight_zero_keeps_persistent_clients() {
    let (_s1, _s2, p, port) = two_servers("insert indirect");
    assert_eq!(p.admin("set server bk/s2 weight 0"), "\n");
    assert_eq!(
        request(port, "/", Some("SERVERID=s2")).header("x-server"),
        Some("s2")
    );
    assert_eq!(request(port, "/", None).header("x-server"), Some("s1"));
}

/// An nginx that sets its own `SERVERID=app` cookie and tells which cookie it received.
fn cookie_setting_nginx(name: &str, port: u16) -> Nginx {
    nginx_with(
        name,
        port,
        "",
        &format!(
            "add_header X-Server {name}; add_header X-Seen-Cookie \"$http_cookie\"; \
             add_header Set-Cookie \"SERVERID=app; Path=/\"; return 200 \"{name}\";"
        ),
    )
}

fn two_nginx(mode: &str) -> (Nginx, Nginx, Pointsman, u16) {
    let (p1, p2) = (free_port(), free_port());
    let n1 = cookie_setting_nginx("n1", p1);
    let n2 = cookie_setting_nginx("n2", p2);
    let (p, port) = cookie_proxy(mode, [("n1", p1), ("n2", p2)]);
    (n1, n2, p, port)
}

#[test]
fn rewrite_mode_puts_the_server_value_in_the_servers_cookie() {
    let (_n1, _n2, _p, port) = two_nginx("rewrite");
    let r = request(port, "/", None);
    let server = r.header("x-server").unwrap().to_string();
    assert_eq!(
        r.header("set-cookie"),
        Some(format!("SERVERID={server}; Path=/").as_str())
    );
    for _ in 0..4 {
        let again = request(port, "/", Some(&format!("SERVERID={server}")));
        assert_eq!(again.header("x-server"), Some(server.as_str()));
        assert_eq!(
            again.header("x-seen-cookie"),
            Some(format!("SERVERID={server}").as_str())
        );
    }
}

#[test]
fn prefix_mode_prefixes_the_servers_cookie_and_strips_it_on_the_way_back() {
    let (_n1, _n2, _p, port) = two_nginx("prefix");
    let r = request(port, "/", None);
    let server = r.header("x-server").unwrap().to_string();
    assert_eq!(
        r.header("set-cookie"),
        Some(format!("SERVERID={server}~app; Path=/").as_str())
    );
    for _ in 0..4 {
        let again = request(port, "/", Some(&format!("a=1; SERVERID={server}~app")));
        assert_eq!(again.header("x-server"), Some(server.as_str()));
        assert_eq!(again.header("x-seen-cookie"), Some("a=1; SERVERID=app"));
    }
}
