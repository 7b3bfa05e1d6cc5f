//! Routing by ACLs and `use_backend`, side by side with the real HAProxy 2.6: one config, run by
//! both, the same requests to each, and every request must reach the same backend through
//! both (and the backend this file expects, so that two identical mistakes still fail).

mod common;

use common::haproxy::{assert_frontend_lines_refused_by_both, frontend_with, haproxy};
use common::{
    admin, backend, backends, check_config, free_port, pointsman, server_line, temp_dir, Backend,
    Client,
};
use std::path::Path;
use std::time::Duration;

/// The backends the rules route to; each answers its own name.
const BACKENDS: [&str; 6] = [
    "bk_api",
    "bk_shop",
    "bk_static",
    "bk_debug",
    "bk_admin",
    "bk_web",
];

/// The frontend's rules (indented lines), exercising fetches, match methods, flags, named and
/// anonymous ACLs, `!`, `||`/`or`, implicit AND, `unless`, predefined ACLs and a pattern file.
fn rules(hosts_file: &str) -> String {
    format!(
        "    acl is_api path_beg /api/\n\
         acl is_static path_end .css .js\n\
         acl static_dir path_dir static\n\
         acl host_shop hdr(host) -i -f {hosts_file}\n\
         acl host_dom hdr_dom(host) -i example.org\n\
         acl has_debug hdr(x-debug) -m found\n\
         acl beta url_param(beta) -m str 1\n\
         acl is_post method POST\n\
         acl admin path_reg ^/admin/[0-9]+$\n\
         acl many_fwd hdr_cnt(x-forwarded-for) gt 1\n\
         acl group_b cook(grp) b\n\
         acl long_path path_len gt 20\n\
         acl v10 req.ver 1.0\n\
         use_backend bk_api if is_api !is_post\n\
         use_backend bk_shop if host_shop || host_dom\n\
         use_backend bk_static if is_static or static_dir\n\
         use_backend bk_debug if has_debug beta\n\
         use_backend bk_admin if admin LOCALHOST\n\
         use_backend bk_api if {{ path -i /API }}\n\
         use_backend bk_shop if many_fwd\n\
         use_backend bk_static if group_b METH_GET\n\
         use_backend bk_debug if long_path\n\
         use_backend bk_admin if v10\n\
         use_backend bk_web unless {{ path_beg /x }}\n\
         default_backend bk_api\n"
    )
    .replace("\n", "\n    ")
    .trim_end()
    .to_string()
}

fn config(port: u16, rules: &str, servers: &[Backend]) -> String {
    let mut text = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n{rules}\n"
    );
    for b in servers {
        text.push_str(&format!(
            "backend {}\n{}",
            b.proc.name,
            server_line("s", b.port(), "")
        ));
    }
    text
}

/// A request (raw head lines after the request line) and the backend it must reach.
struct Case {
    request_line: &'static str,
    headers: &'static [&'static str],
    body: &'static str,
    expect: &'static str,
}

const fn case(
    request_line: &'static str,
    headers: &'static [&'static str],
    expect: &'static str,
) -> Case {
    Case {
        request_line,
        headers,
        body: "",
        expect,
    }
}

const CASES: &[Case] = &[
    case("GET /api/users HTTP/1.1", &["Host: a"], "bk_api"),
    Case {
        request_line: "POST /api/users HTTP/1.1",
        headers: &["Host: a", "Content-Length: 2"],
        body: "{}",
        expect: "bk_web",
    },
    case("GET /apix HTTP/1.1", &["Host: a"], "bk_web"),
    case("GET / HTTP/1.1", &["Host: SHOP.example.com"], "bk_shop"),
    case("GET / HTTP/1.1", &["Host: shop.example.com:8080"], "bk_web"),
    case("GET / HTTP/1.1", &["Host: www.Example.org"], "bk_shop"),
    case("GET / HTTP/1.1", &["Host: badexample.org"], "bk_web"),
    case("GET /a/b.css?v=2 HTTP/1.1", &["Host: a"], "bk_static"),
    case("GET /static/x HTTP/1.1", &["Host: a"], "bk_static"),
    case("GET /statics/x HTTP/1.1", &["Host: a"], "bk_web"),
    case(
        "GET /p?beta=1 HTTP/1.1",
        &["Host: a", "X-Debug: "],
        "bk_debug",
    ),
    case("GET /p?beta=1 HTTP/1.1", &["Host: a"], "bk_web"),
    case(
        "GET /p?beta=12 HTTP/1.1",
        &["Host: a", "X-Debug: y"],
        "bk_web",
    ),
    case("GET /admin/42 HTTP/1.1", &["Host: a"], "bk_admin"),
    case("GET /admin/42x HTTP/1.1", &["Host: a"], "bk_web"),
    case("GET /api HTTP/1.1", &["Host: a"], "bk_api"),
    case(
        "GET / HTTP/1.1",
        &["Host: a", "X-Forwarded-For: 1.1.1.1, 2.2.2.2"],
        "bk_shop",
    ),
    case(
        "GET / HTTP/1.1",
        &["Host: a", "X-Forwarded-For: 1.1.1.1"],
        "bk_web",
    ),
    case(
        "GET / HTTP/1.1",
        &["Host: a", "Cookie: x=1; grp=b"],
        "bk_static",
    ),
    case(
        "HEAD / HTTP/1.1",
        &["Host: a", "Cookie: grp=b"],
        "bk_static",
    ),
    case(
        "GET /xxxxxxxxxxxxxxxxxxxxxxxxx HTTP/1.1",
        &["Host: a"],
        "bk_debug",
    ),
    case("GET /x HTTP/1.0", &["Host: a"], "bk_admin"),
    case("GET /x HTTP/1.1", &["Host: a"], "bk_api"),
    case(
        "GET http://shop.example.com/api/x HTTP/1.1",
        &["Host: shop.example.com"],
        "bk_api",
    ),
    case("GET /api/x?y HTTP/1.1", &["Host: a"], "bk_api"),
    case("GET / HTTP/1.1", &["HOST: www.example.ORG"], "bk_shop"),
    case("GET / HTTP/1.1", &["Host: a", "Cookie: xgrp=b"], "bk_web"),
    case("GET /p?beta HTTP/1.1", &["Host: a", "X-Debug: 1"], "bk_web"),
    case(
        "GET /p?a=1&beta=1 HTTP/1.1",
        &["Host: a", "X-Debug: 1"],
        "bk_debug",
    ),
    case(
        "GET /p?a=1;beta=1 HTTP/1.1",
        &["Host: a", "X-Debug: 1"],
        "bk_debug",
    ),
    case(
        "GET / HTTP/1.1",
        &[
            "Host: a",
            "X-Forwarded-For: 1.1.1.1",
            "X-Forwarded-For: 2.2.2.2",
        ],
        "bk_shop",
    ),
    case("GET /static HTTP/1.1", &["Host: a"], "bk_static"),
    case("GET /a.CSS HTTP/1.1", &["Host: a"], "bk_web"),
    case("GET /admin/42?x=1 HTTP/1.1", &["Host: a"], "bk_admin"),
    case("GET /x HTTP/1.0", &[], "bk_admin"),
    // Raw non-ASCII bytes in the target: both refuse the request before any rule.
    case(
        "GET /\u{00e9}t\u{00e9} HTTP/1.1",
        &["Host: a"],
        "status 400",
    ),
];

/// Sends one case on a fresh connection; the backend that answered (its body), or the status
/// if it was not a 200.
fn reached(port: u16, c: &Case) -> String {
    let mut client = Client::connect(port);
    let mut raw = format!("{}\r\n", c.request_line);
    for h in c.headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("Connection: close\r\n\r\n");
    raw.push_str(c.body);
    client.send(raw.as_bytes());
    let head = c.request_line.starts_with("HEAD");
    let response = client.read_response(head).expect("a response");
    match (response.status, head) {
        (200, false) => response.text(),
        (200, true) => response.header("x-server").unwrap_or("?").to_string(),
        (status, _) => format!("status {status}"),
    }
}

#[test]
fn requests_reach_the_same_backend_as_through_haproxy() {
    let servers = backends(BACKENDS);
    let dir = temp_dir("routing");
    let hosts = dir.join("hosts.lst");
    std::fs::write(
        &hosts,
        "# shop hosts\nshop.example.com\n\n  store.example.com  \n",
    )
    .unwrap();
    let rules = rules(hosts.to_str().unwrap());
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&config(ours, &rules, &servers), 2, ours);
    let _h = haproxy(&config(theirs, &rules, &servers), theirs);
    let mut wrong = Vec::new();
    for c in CASES {
        let (pointsman_got, haproxy_got) = (reached(ours, c), reached(theirs, c));
        println!(
            "{:45} {:?}: pointsman {pointsman_got}, haproxy {haproxy_got}, expected {}",
            c.request_line, c.headers, c.expect
        );
        if pointsman_got != haproxy_got || pointsman_got != c.expect {
            wrong.push(format!(
                "{} {:?}: pointsman {pointsman_got}, haproxy {haproxy_got}, expected {}",
                c.request_line, c.headers, c.expect
            ));
        }
    }
    assert!(wrong.is_empty(), "routing differs:\n{}", wrong.join("\n"));
}

/// An empty condition matches nothing in HAProxy: `use_backend B if` takes no request and
/// `use_backend B unless` every one. The same through pointsman.
#[test]
fn an_empty_condition_matches_nothing_as_in_haproxy() {
    let servers = backends(BACKENDS);
    let rules =
        "    use_backend bk_api if\n    use_backend bk_shop unless\n    default_backend bk_web";
    let only_if = "    use_backend bk_api if\n    default_backend bk_web";
    for (rules, expect) in [(rules, "bk_shop"), (only_if, "bk_web")] {
        let (ours, theirs) = (free_port(), free_port());
        let _p = pointsman(&config(ours, rules, &servers), 1, ours);
        let _h = haproxy(&config(theirs, rules, &servers), theirs);
        let request = case("GET / HTTP/1.1", &["Host: a"], expect);
        let (pointsman_got, haproxy_got) = (reached(ours, &request), reached(theirs, &request));
        assert_eq!(
            (pointsman_got.as_str(), haproxy_got.as_str()),
            (expect, expect),
            "{rules}"
        );
    }
}

/// What HAProxy refuses, pointsman refuses, at the same line and in HAProxy's words.
#[test]
fn bad_rules_fail_at_their_line_as_in_haproxy() {
    let cases = [
        (
            "    use_backend bk if is_api\n    acl is_api path_beg /api\n",
            "no such ACL : 'is_api'",
        ),
        (
            "    use_backend bk_nope if TRUE\n",
            "unable to find required use_backend: 'bk_nope'",
        ),
        (
            "    acl a pathx_beg /a\n",
            "unknown fetch method 'pathx_beg'",
        ),
        ("    acl a path -m foo x\n", "unknown matching method 'foo'"),
        ("    acl a path_reg (/a\n", "regex '(/a' is invalid"),
        (
            "    use_backend bk if { path_beg /a\n",
            "missing closing '}'",
        ),
        (
            "    acl a hdr(host) -f /nonexistent/hosts.lst\n",
            "failed to open pattern file",
        ),
        (
            "    use_backend bk if { nbsrv(nope) lt 1 }\n",
            "unable to find backend 'nope' referenced in arg 1 of ACL keyword 'nbsrv' in proxy 'fe'.",
        ),
        (
            "    http-request set-header X %[srv_is_up(bk/zz)]\n",
            "unable to find server 'zz' in proxy 'bk', referenced in arg 1 of sample fetch keyword \
             'srv_is_up' in http-request expression in proxy 'fe'.",
        ),
        (
            "    use_backend bk if { srv_is_up(zz) }\n",
            "unable to find server 'zz' in proxy 'fe', referenced in arg 1 of ACL keyword 'srv_is_up' in proxy 'fe'.",
        ),
        (
            "    use_backend bk if { be_conn gt 1 }\n",
            "proxy 'fe', referenced in arg 1 of ACL keyword 'be_conn' in proxy 'fe', has not backend capability.",
        ),
    ];
    assert_frontend_lines_refused_by_both(&cases);
    let (code, output) = check_config(&frontend_with(
        "    acl a path_beg\n    use_backend bk if a\n",
    ));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("no pattern to match against"), "{output}");
}

/// The frontend of the proxy-fetch test: routing by `nbsrv`, `srv_is_up` and `base`, and the
/// facts themselves in a redirect's `Location` (`/f/NBSRV/UP/BE_CONN/BASE`).
const PROXY_FETCH_RULES: &str = "\
    http-request redirect location /f/%[nbsrv(bk_main)]/%[srv_is_up(bk_main/m2)]/%[be_conn(bk_slow)]/%[base] if { path_beg /facts }
    use_backend bk_slow if { path /slow }
    acl main_down nbsrv(bk_main) lt 1
    use_backend bk_spare if main_down
    use_backend bk_api if { srv_is_up(bk_main/m2) } { path_beg /api }
    use_backend bk_shop if { base_beg -i shop.example.com/cart }
    default_backend bk_main
";

fn proxy_fetch_config(port: u16, socket: &Path, servers: &[Backend]) -> String {
    let [main, spare, api, shop, slow] = servers else {
        panic!("five backends")
    };
    format!(
        "global\n    stats socket {socket} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n{PROXY_FETCH_RULES}\
         backend bk_main\n    balance first\n{m1}{m2}\
         backend bk_spare\n{spare}backend bk_api\n{api}backend bk_shop\n{shop}backend bk_slow\n{slow}",
        socket = socket.display(),
        m1 = server_line("m1", main.port(), ""),
        m2 = server_line("m2", main.port(), ""),
        spare = server_line("s", spare.port(), ""),
        api = server_line("s", api.port(), ""),
        shop = server_line("s", shop.port(), ""),
        slow = server_line("s", slow.port(), ""),
    )
}

/// What one request got: the backend that answered, or a redirect's location.
fn got(port: u16, target: &str, host: &str) -> String {
    let mut client = Client::connect(port);
    client.send(
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let response = client.read_response(false).expect("a response");
    match response.status {
        200 => response.text(),
        302 => response.header("location").unwrap_or("?").to_string(),
        status => format!("status {status}"),
    }
}

/// `nbsrv`, `srv_is_up`, `be_conn` and `base` read the running proxy as HAProxy's do: after
/// the same admin commands on each one's socket, the same facts and the same routes through
/// both (and the ones written here). One shard: `be_conn` counts this shard's connections.
#[test]
fn proxy_fetches_follow_runtime_changes_as_in_haproxy() {
    let servers = [
        backend("bk_main", "bk_main", &[]),
        backend("bk_spare", "bk_spare", &[]),
        backend("bk_api", "bk_api", &[]),
        backend("bk_shop", "bk_shop", &[]),
        backend("bk_slow", "bk_slow", &["--delay-ms", "1500"]),
    ];
    let dir = temp_dir("proxy-fetches");
    let (ours, theirs) = (free_port(), free_port());
    let (our_socket, their_socket) = (dir.join("ours.sock"), dir.join("theirs.sock"));
    let _p = pointsman(&proxy_fetch_config(ours, &our_socket, &servers), 1, ours);
    let _h = haproxy(&proxy_fetch_config(theirs, &their_socket, &servers), theirs);
    let steps: [(&[&str], [&str; 4]); 4] = [
        (&[], ["/f/2/1/0/a/facts", "bk_api", "bk_shop", "bk_main"]),
        (
            &["disable server bk_main/m2"],
            ["/f/1/0/0/a/facts", "bk_main", "bk_shop", "bk_main"],
        ),
        // A draining server is up, but not usable for new traffic.
        (
            &["set server bk_main/m2 state drain"],
            ["/f/1/1/0/a/facts", "bk_api", "bk_shop", "bk_main"],
        ),
        (
            &["disable server bk_main/m1", "disable server bk_main/m2"],
            ["/f/0/0/0/a/facts", "bk_spare", "bk_spare", "bk_spare"],
        ),
    ];
    let mut wrong = Vec::new();
    for (commands, expected) in steps {
        for command in commands {
            assert_eq!(admin(&our_socket, command).trim(), "", "{command}");
            assert_eq!(admin(&their_socket, command).trim(), "", "{command}");
        }
        let requests = [
            ("/facts", "a"),
            ("/api/x", "a"),
            ("/cart/1", "Shop.example.com"),
            ("/", "shop.example.com"),
        ];
        for ((target, host), expect) in requests.into_iter().zip(expected) {
            let (pointsman_got, haproxy_got) = (got(ours, target, host), got(theirs, target, host));
            if (pointsman_got.as_str(), haproxy_got.as_str()) != (expect, expect) {
                wrong.push(format!(
                    "after {commands:?}, {host}{target}: pointsman {pointsman_got}, haproxy {haproxy_got}, expected {expect}"
                ));
            }
        }
    }
    // A request held by the slow server counts in be_conn(bk_slow) while it is there.
    for (port, name) in [(ours, "pointsman"), (theirs, "haproxy")] {
        let held = std::thread::spawn(move || got(port, "/slow", "a"));
        std::thread::sleep(Duration::from_millis(500));
        let facts = got(port, "/facts", "a");
        if facts != "/f/0/0/1/a/facts" {
            wrong.push(format!("{name} with one request at bk_slow: {facts}"));
        }
        assert_eq!(held.join().unwrap(), "bk_slow");
    }
    assert!(
        wrong.is_empty(),
        "proxy fetches differ:\n{}",
        wrong.join("\n")
    );
}
