//! Maps and converters, side by side with the real HAProxy 2.6: one config and one map file,
//! run by both; the same requests must reach the same backend through both (and the backend
//! this file expects, so that two identical mistakes still fail).

mod common;

use common::haproxy::haproxy;
use common::{
    admin, admin_raw, backends, check_config, free_port, pointsman, server_line, temp_dir, Backend,
    Client,
};
use std::path::Path;

const BACKENDS: [&str; 6] = ["bk_a", "bk_b", "bk_c", "bk_site", "bk_default", "bk_web"];

/// Host map: exact hosts, a domain, a host whose backend does not exist.
const HOSTS: &str = "# hosts\n\
                     app.example.com bk_a\n\
                     \x20 api.example.com   bk_b  \n\
                     example.org bk_c\n\
                     ghost.example.com bk_nope\n";

/// Path prefixes (`map_beg`: the longest wins).
const PATHS: &str = "/api bk_a\n/api/v2 bk_b\n/static bk_c\n";

fn rules(dir: &Path) -> String {
    let hosts = dir.join("hosts.map");
    let paths = dir.join("paths.map");
    let (hosts, paths) = (hosts.display(), paths.display());
    format!(
        "    acl v2 path,map_beg({paths}) -m str bk_b\n\
         acl known_host req.hdr(host),lower,map_dom({hosts}) -m found\n\
         acl shouting hdr(x-name),upper -m beg ABC\n\
         acl second_word hdr(x-name),word(2,-) -m str two\n\
         use_backend bk_c if v2 shouting\n\
         use_backend bk_site if second_word\n\
         use_backend bk_%[req.hdr(x-site),lower] if {{ req.hdr(x-site) -m found }}\n\
         use_backend %[path,map_beg({paths})] if {{ path,map_beg({paths}) -m found }} !known_host\n\
         use_backend %[req.hdr(host),lower,field(1,:),map({hosts},bk_default)] if known_host\n\
         default_backend bk_web\n"
    )
    .replace("\n", "\n    ")
    .trim_end()
    .to_string()
}

fn config(port: u16, rules: &str, servers: &[Backend], extra_global: &str) -> String {
    let mut text = format!(
        "global\n{extra_global}defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
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

/// Request target, headers, and the backend it must reach.
const CASES: &[(&str, &[&str], &str)] = &[
    ("/", &["Host: APP.example.com"], "bk_a"),
    ("/", &["Host: app.example.com:8080"], "bk_a"),
    ("/", &["Host: api.example.com"], "bk_b"),
    ("/", &["Host: www.example.org"], "bk_default"),
    ("/", &["Host: example.org"], "bk_c"),
    // The map names a backend that does not exist: default_backend, as HAProxy.
    ("/", &["Host: ghost.example.com"], "bk_web"),
    ("/", &["Host: unknown.test"], "bk_web"),
    ("/api/x", &["Host: unknown.test"], "bk_a"),
    ("/api/v2/x", &["Host: unknown.test"], "bk_b"),
    ("/static/a.css", &["Host: unknown.test"], "bk_c"),
    ("/api/v2/x", &["Host: app.example.com"], "bk_a"),
    ("/api/v2/x", &["Host: a", "X-Name: abcdef"], "bk_c"),
    ("/api/x", &["Host: a", "X-Name: abcdef"], "bk_a"),
    ("/", &["Host: a", "X-Name: one--two-three"], "bk_site"),
    ("/", &["Host: a", "X-Name: one-three"], "bk_web"),
    ("/", &["Host: a", "X-Site: SITE"], "bk_site"),
    ("/", &["Host: a", "X-Site: nope"], "bk_web"),
    // Outside an ACL a header reads its last value.
    ("/", &["Host: a", "X-Site: nope", "X-Site: site"], "bk_site"),
    ("/", &["Host: a", "X-Site: site, nope"], "bk_web"),
    // Two Host fields: both refuse the request before any rule.
    ("/", &["Host: app.example.com", "Host: b"], "status 400"),
];

fn reached(port: u16, target: &str, headers: &[&str]) -> String {
    let mut client = Client::connect(port);
    let mut raw = format!("GET {target} HTTP/1.1\r\n");
    for h in headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("Connection: close\r\n\r\n");
    client.send(raw.as_bytes());
    let response = client.read_response(false).expect("a response");
    match response.status {
        200 => response.text(),
        status => format!("status {status}"),
    }
}

fn write_maps(dir: &Path) {
    std::fs::write(dir.join("hosts.map"), HOSTS).unwrap();
    std::fs::write(dir.join("paths.map"), PATHS).unwrap();
}

#[test]
fn requests_reach_the_same_backend_through_maps_as_through_haproxy() {
    let servers = backends(BACKENDS);
    let dir = temp_dir("maps");
    write_maps(&dir);
    let rules = rules(&dir);
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&config(ours, &rules, &servers, ""), 2, ours);
    let _h = haproxy(&config(theirs, &rules, &servers, ""), theirs);
    let mut wrong = Vec::new();
    for (target, headers, expect) in CASES {
        let (pointsman_got, haproxy_got) = (
            reached(ours, target, headers),
            reached(theirs, target, headers),
        );
        println!("{target:12} {headers:?}: pointsman {pointsman_got}, haproxy {haproxy_got}");
        if pointsman_got != haproxy_got || pointsman_got != *expect {
            wrong.push(format!(
                "{target} {headers:?}: pointsman {pointsman_got}, haproxy {haproxy_got}, expected {expect}"
            ));
        }
    }
    assert!(wrong.is_empty(), "routing differs:\n{}", wrong.join("\n"));
}

/// A map file that cannot load is an error at the line of the converter that reads it.
#[test]
fn a_map_that_cannot_load_is_an_error_at_its_line() {
    let dir = temp_dir("maps-bad");
    let bad_regex = dir.join("bad.map");
    std::fs::write(&bad_regex, "^/a bk\n(x bk\n").unwrap();
    let head = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
                frontend fe\n    bind 127.0.0.1:1\n";
    let tail = "    default_backend bk\nbackend bk\n    server s 127.0.0.1:2\n";
    let cases = [
        (
            "    use_backend %[req.hdr(host),map(/nonexistent/h.map)]\n".to_string(),
            "unable to load map file '/nonexistent/h.map'".to_string(),
        ),
        (
            format!("    acl a path,map_reg({}) -m found\n", bad_regex.display()),
            format!("{}:2: regex '(x' is invalid", bad_regex.display()),
        ),
        (
            "    acl a path,nope -m found\n".to_string(),
            "unknown converter 'nope'".to_string(),
        ),
    ];
    for (lines, message) in cases {
        let (code, output) = check_config(&format!("{head}{lines}{tail}"));
        assert_eq!(code, 1, "pointsman accepted:\n{lines}");
        assert!(output.contains(&message), "{lines}: {output}");
        assert!(
            output.contains("t.cfg:8"),
            "{lines}: not at line 8: {output}"
        );
    }
}

/// Map commands, in an order that exercises every reply: listing, dumps, lookups by each
/// match kind, additions (a duplicate key too), changes by key and by `#<ref>`, deletions,
/// clearing, unknown maps and missing arguments. `{hosts}` and `{paths}` are the map files,
/// `{ref}` the second entry of the hosts map as `show map` printed it.
const COMMANDS: &[&str] = &[
    "show map",
    "show map {hosts}",
    "show map #7",
    "get map {paths} /api/v2/x",
    "get map {hosts} www.example.org",
    "get map {hosts} nope",
    "add map {hosts} new.example.com bk_b",
    "add map #2 app.example.com bk_dup",
    "show map {hosts}",
    "set map {hosts} app.example.com bk_c",
    "set map {hosts} {ref} bk_a",
    "show map {hosts}",
    "set map {hosts} nope.example.com bk_c",
    "set map {hosts} #0x1 bk_c",
    "del map {hosts} app.example.com",
    "del map {hosts} app.example.com",
    "del map {hosts} {ref}",
    "del map {hosts} #0xdeadbeef",
    "show map {hosts}",
    "show map",
    "clear map {paths}",
    "show map {paths}",
    "get map {paths} /api",
    "add map #99 a b",
    "show map /nope",
    "get map {hosts}",
    "add map {hosts} onlykey",
    "set map {hosts}",
    "del map {hosts}",
    "clear map",
    "add map {hosts} k v extra",
    "show map {hosts}",
];

/// What differs between two processes: entry addresses become `ADDR`, config file names `CFG`.
fn normalized(reply: &str) -> String {
    let mut out = String::new();
    let mut rest = reply;
    while let Some(at) = rest.find("at file '") {
        out.push_str(&rest[..at + 9]);
        let after = &rest[at + 9..];
        let close = after.find('\'').unwrap_or(after.len());
        out.push_str("CFG");
        rest = &after[close..];
    }
    out.push_str(rest);
    out.split('\n')
        .map(|line| {
            line.split(' ')
                .map(|w| if w.starts_with("0x") { "ADDR" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `#<ref>` of the `n`th entry in a `show map` dump.
fn entry_ref(dump: &str, n: usize) -> String {
    let address = dump.lines().nth(n).and_then(|l| l.split(' ').next());
    format!("#{}", address.expect("a dump with that many entries"))
}

#[test]
fn map_commands_reply_byte_for_byte_as_haproxy() {
    let servers = backends(BACKENDS);
    let rules_dir = temp_dir("maps-cli-rules");
    let rules = rules(&rules_dir);
    let hosts = rules_dir.join("hosts.map").display().to_string();
    let paths = rules_dir.join("paths.map").display().to_string();
    assert_same_replies(
        &|port, global| config(port, &rules, &servers, global),
        // Each side starts from the same files: the commands change nothing on disk, but
        // the two runs must not see each other's changes.
        &|| write_maps(&rules_dir),
        &|ask| {
            let second = entry_ref(&ask(&format!("show map {hosts}")), 1);
            COMMANDS
                .iter()
                .map(|command| {
                    let command = command
                        .replace("{hosts}", &hosts)
                        .replace("{paths}", &paths)
                        .replace("{ref}", &second);
                    let reply = normalized(&ask(&command));
                    (command, reply)
                })
                .collect()
        },
        |reply| reply,
    );
}

/// One side's admin socket: a command in, its reply out.
type Ask<'a> = &'a dyn Fn(&str) -> String;

/// Runs the same admin commands on a pointsman and on a haproxy, each started on
/// `config_of(port, its global section)` after `reset()` (the files as at the start), and
/// asserts that every reply `replies(ask)` lists is the same; `haproxy_reply` drops what only
/// haproxy has.
fn assert_same_replies(
    config_of: &dyn Fn(u16, &str) -> String,
    reset: &dyn Fn(),
    replies: &dyn Fn(Ask) -> Vec<(String, String)>,
    haproxy_reply: fn(String) -> String,
) {
    let (ours, theirs) = (free_port(), free_port());
    let haproxy_socket = temp_dir("replies-haproxy").join("admin.sock");
    let global = |socket: &str| format!("    stats socket {socket} level admin\n");
    reset();
    let p = pointsman(&config_of(ours, &global("@SOCKET@")), 2, ours);
    let pointsman_replies = replies(&|c| p.admin(c));
    drop(p);
    reset();
    let h = haproxy(
        &config_of(theirs, &global(&haproxy_socket.display().to_string())),
        theirs,
    );
    let haproxy_replies = replies(&|c| haproxy_reply(admin(&haproxy_socket, c)));
    drop(h);
    let mut wrong = Vec::new();
    for ((command, ours), (_, theirs)) in pointsman_replies.iter().zip(&haproxy_replies) {
        println!("{command}\n  pointsman {ours:?}\n  haproxy   {theirs:?}");
        if ours != theirs {
            wrong.push(format!(
                "{command}\n  pointsman {ours:?}\n  haproxy   {theirs:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "replies differ:\n{}", wrong.join("\n"));
}

/// Asks on an open (keep-alive) connection which backend `host` goes to.
fn ask(client: &mut Client, host: &str) -> String {
    client.send(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    let response = client.read_response(false).expect("a response");
    assert_eq!(response.status, 200, "{}", response.text());
    response.text()
}

/// `set map` is a blue/green switch: once the reply came, every request routes by the new
/// entry, on both shards, on new connections and on connections opened before the change.
#[test]
fn a_request_sent_after_set_map_replied_is_routed_by_the_new_entry() {
    let servers = backends(["bk_blue", "bk_green", "bk_default"]);
    let dir = temp_dir("maps-switch");
    let hosts = dir.join("hosts.map");
    std::fs::write(&hosts, "app.example.com bk_blue\n").unwrap();
    let rules = format!(
        "    use_backend %[req.hdr(host),lower,map({},bk_default)]",
        hosts.display()
    );
    let port = free_port();
    let global = "    stats socket @SOCKET@ level admin\n";
    let p = pointsman(&config(port, &rules, &servers, global), 2, port);
    let mut kept: Vec<Client> = (0..8).map(|_| Client::connect(port)).collect();
    for client in &mut kept {
        assert_eq!(ask(client, "app.example.com"), "bk_blue");
    }
    let mut wrong = Vec::new();
    for flip in 0..10 {
        let colour = if flip % 2 == 0 { "bk_green" } else { "bk_blue" };
        let command = format!("set map {} app.example.com {colour}", hosts.display());
        assert_eq!(p.admin(&command), "\n", "{command}");
        for client in &mut kept {
            let got = ask(client, "APP.example.com");
            if got != colour {
                wrong.push(format!(
                    "flip {flip}, kept connection: {got}, expected {colour}"
                ));
            }
        }
        for _ in 0..16 {
            let got = ask(&mut Client::connect(port), "app.example.com");
            if got != colour {
                wrong.push(format!(
                    "flip {flip}, new connection: {got}, expected {colour}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        p.admin(&format!("del map {} app.example.com", hosts.display())),
        "\n"
    );
    assert_eq!(ask(&mut kept[0], "app.example.com"), "bk_default");
}

/// A map read by an `http-request` rewrite, and a map read by a later rule's condition on
/// the rewritten request: both are the runtime maps (the rewritten copy of the head carries
/// none of its own), so `add|del|set map` moves a request through them. The same config
/// routes the same way through the real haproxy before any change.
#[test]
fn rewrites_and_rules_after_them_read_the_runtime_maps() {
    let servers = backends(["bk_blue", "bk_green", "bk_default"]);
    let dir = temp_dir("maps-rewrite");
    let hosts = dir.join("hosts.map");
    let colours = dir.join("colours.map");
    std::fs::write(&hosts, "app.example.com blue\n").unwrap();
    std::fs::write(&colours, "teal x\n").unwrap();
    let (hosts, colours) = (hosts.display(), colours.display());
    let rules = format!(
        "    http-request set-header X-Colour %[req.hdr(host),lower,map({hosts},none)]\n\
         \x20   http-request set-header X-Green yes if {{ req.hdr(x-colour),map({colours}) -m found }}\n\
         \x20   use_backend bk_green if {{ req.hdr(x-green) -m found }}\n\
         \x20   use_backend bk_%[req.hdr(x-colour)]\n\
         \x20   default_backend bk_default"
    );
    let (port, theirs) = (free_port(), free_port());
    let global = "    stats socket @SOCKET@ level admin\n";
    let p = pointsman(&config(port, &rules, &servers, global), 2, port);
    let _h = haproxy(&config(theirs, &rules, &servers, ""), theirs);
    for (host, expect) in [("APP.example.com", "bk_blue"), ("other", "bk_default")] {
        let ours = ask(&mut Client::connect(port), host);
        let haproxy_got = ask(&mut Client::connect(theirs), host);
        assert_eq!(
            (ours.as_str(), haproxy_got.as_str()),
            (expect, expect),
            "{host}"
        );
    }
    let mut kept = Client::connect(port);
    let steps = [
        (format!("add map {colours} blue x"), "bk_green"),
        (format!("del map {colours} blue"), "bk_blue"),
        (format!("set map {hosts} app.example.com teal"), "bk_green"),
        (
            format!("set map {hosts} app.example.com default"),
            "bk_default",
        ),
    ];
    for (command, expect) in steps {
        assert_eq!(p.admin(&command), "\n", "{command}");
        assert_eq!(ask(&mut kept, "app.example.com"), expect, "after {command}");
        assert_eq!(
            ask(&mut Client::connect(port), "app.example.com"),
            expect,
            "after {command}, new connection"
        );
    }
}

/// ACL rules whose patterns come from files, inline words, a predefined ACL and an anonymous
/// one, beside a map: every kind of HAProxy pattern reference, numbered together.
fn acl_rules(dir: &Path) -> String {
    let (ips, paths, hosts) = (
        dir.join("ips.lst"),
        dir.join("paths.lst"),
        dir.join("hosts.map"),
    );
    let (ips, paths, hosts) = (ips.display(), paths.display(), hosts.display());
    format!(
        "    acl blocked src -f {ips}\n\
         \x20   acl secret path_beg -f {paths} -i\n\
         \x20   acl secret2 path_beg -f {paths}\n\
         \x20   acl is_api path_beg /api /v2\n\
         \x20   acl host_ok req.hdr(host),map({hosts}) -m found\n\
         \x20   acl both path -f {paths} -f {ips} /x\n\
         \x20   acl shouting hdr(x-name) -i -m sub ABC\n\
         \x20   http-request deny if blocked || secret\n\
         \x20   http-request deny if METH_POST {{ path_end .php }}\n\
         \x20   use_backend bk_a if is_api host_ok secret2 both shouting\n\
         \x20   default_backend bk_web"
    )
}

fn write_acl_files(dir: &Path) {
    std::fs::write(dir.join("ips.lst"), "# blocked\n10.0.0.0/8\n192.168.1.1\n").unwrap();
    std::fs::write(dir.join("paths.lst"), "/admin\n\n/secret\n").unwrap();
    std::fs::write(dir.join("hosts.map"), "app.example.com bk_a\n").unwrap();
}

/// ACL commands in an order that exercises every reply. `{ips}` and `{paths}` are the
/// pattern files, `{ref}` the first entry of `#5` as `show acl #5` printed it. A command
/// marked `~` is compared with its `entry_cnt` figures masked: after runtime changes,
/// HAProxy 2.6 counts them by its indexes' own accounting (an IPv6 address added to an
/// `ip` list counts nothing), which pointsman does not reproduce (docs say so).
const ACL_COMMANDS: &[&str] = &[
    "show acl",
    "show acl {ips}",
    "show acl #1",
    "show acl #5",
    "show acl #6",
    "show acl #99",
    "get acl {paths} /admin/x",
    "get acl {paths} /nope",
    "get acl #0 10.1.2.3",
    "get acl #3 /ADMIN",
    "get acl #5 /api/x",
    "get acl #11 index.php",
    "get acl #9 xABCx",
    "get acl",
    "get acl #0",
    "add acl",
    "add acl #0",
    "add acl #0 notanip",
    "add acl #1 10.0.0.0/33",
    "add acl #0 172.16.0.0/12",
    "add acl #1 ::1",
    "get acl #1 ::1",
    "get acl #0 172.16.0.0/12",
    "add acl #5 /img",
    "add acl #5 /img",
    "show acl #5",
    "get acl #5 /img/a",
    "add acl #6 x",
    "add acl {hosts} x",
    "add acl #99 x",
    "del acl #5 /img",
    "del acl #5 /nope",
    "del acl #5 {ref}",
    "del acl #5 #0xdeadbeef",
    "show acl #5",
    "del acl #5",
    "del acl",
    "del acl #99 x",
    "clear acl",
    "clear acl #99",
    "clear acl {paths}",
    "show acl {paths}",
    "get acl {paths} /admin",
    "add acl #3 /Q",
    "get acl #3 /q",
    "~show acl",
];

/// `file 'X.cfg'` becomes `file 'CFG'`; entry addresses become `ADDR`.
fn acl_normalized(reply: &str) -> String {
    let mut out = String::new();
    let mut rest = reply;
    while let Some(at) = rest.find("file '") {
        out.push_str(&rest[..at + 6]);
        let after = &rest[at + 6..];
        let close = after.find('\'').unwrap_or(after.len());
        let name = &after[..close];
        out.push_str(if name.ends_with(".cfg") { "CFG" } else { name });
        rest = &after[close..];
    }
    out.push_str(rest);
    normalized(&out)
}

/// `entry_cnt=N` becomes `entry_cnt=N?`.
fn masked_counts(reply: &str) -> String {
    reply
        .split('\n')
        .map(|line| match line.find("entry_cnt=") {
            Some(at) => format!("{}entry_cnt=N?", &line[..at]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// HAProxy lists the ACLs of its internal `httpclient` proxy too; pointsman has none.
fn without_httpclient(reply: String) -> String {
    reply
        .split_inclusive('\n')
        .filter(|line| !line.contains("file 'httpclient'"))
        .collect()
}

#[test]
fn acl_commands_reply_byte_for_byte_as_haproxy() {
    let servers = backends(BACKENDS);
    let dir = temp_dir("acls-cli");
    let rules = acl_rules(&dir);
    let file = |name: &str| dir.join(name).display().to_string();
    assert_same_replies(
        &|port, global| config(port, &rules, &servers, global),
        &|| write_acl_files(&dir),
        &|ask| {
            let first = entry_ref(&ask("show acl #5"), 0);
            ACL_COMMANDS
                .iter()
                .map(|command| {
                    let command = command
                        .replace("{ips}", &file("ips.lst"))
                        .replace("{paths}", &file("paths.lst"))
                        .replace("{hosts}", &file("hosts.map"))
                        .replace("{ref}", &first);
                    let (masked, command) = match command.strip_prefix('~') {
                        Some(command) => (true, command.to_string()),
                        None => (false, command),
                    };
                    let mut reply = acl_normalized(&ask(&command));
                    if masked {
                        reply = masked_counts(&reply);
                    }
                    (command, reply)
                })
                .collect()
        },
        without_httpclient,
    );
}

/// The status of `GET target` on an open connection.
fn status_of(client: &mut Client, target: &str) -> u16 {
    client.send(format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    client.read_response(false).expect("a response").status
}

/// `add acl` is a switch like `set map`: once the reply came, every request is matched by
/// the new pattern, on both shards, on new connections and on connections opened before.
#[test]
fn a_request_sent_after_add_acl_replied_is_matched_by_the_new_pattern() {
    let servers = backends(["bk_web"]);
    let dir = temp_dir("acls-switch");
    let blocked = dir.join("blocked.lst");
    std::fs::write(&blocked, "/admin\n").unwrap();
    let rules = format!(
        "    acl blocked path_beg -f {}\n    http-request deny if blocked\n    default_backend bk_web",
        blocked.display()
    );
    let port = free_port();
    let global = "    stats socket @SOCKET@ level admin\n";
    let p = pointsman(&config(port, &rules, &servers, global), 2, port);
    let mut kept: Vec<Client> = (0..8).map(|_| Client::connect(port)).collect();
    let blocked = blocked.display();
    let steps = [
        (format!("add acl {blocked} /shop"), 403, 403),
        (format!("del acl {blocked} /admin"), 200, 403),
        (format!("clear acl {blocked}"), 200, 200),
        ("add acl #0 /admin".to_string(), 403, 200),
    ];
    let mut wrong = Vec::new();
    for (command, admin_status, shop_status) in steps {
        assert_eq!(p.admin(&command), "\n", "{command}");
        let mut fresh: Vec<Client> = (0..16).map(|_| Client::connect(port)).collect();
        for client in kept.iter_mut().chain(&mut fresh) {
            let got = (status_of(client, "/admin/x"), status_of(client, "/shop"));
            if got != (admin_status, shop_status) {
                wrong.push(format!(
                    "after {command}: {got:?}, expected {:?}",
                    (admin_status, shop_status)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `add map MAP <<` payloads, sent raw as socat sends them: well-formed lines, odd blanks,
/// a key without a value (the lines before it are added, the reply is HAProxy's error), an
/// empty payload, a key and value on the line besides a payload, a payload to a command that
/// takes none; then the map as each side holds it.
const PAYLOADS: &[&str] = &[
    "add map {hosts} <<\nk1 v1\nk2   v2 with spaces\n\n",
    "add map {hosts} <<\nk3 v3\nonlykey\nk4 v4\n\n",
    "add map {hosts} <<\n   k7 v7\n\tk8\tv8\n\n",
    "add map {hosts} <<\nk10 v10\nk9\n\n",
    "add map {hosts} <<\n\n",
    "add map {hosts} k5 v5 <<\nk6 v6\n\n",
    "add map #99 <<\nk11 v11\n\n",
    "show map {paths} <<\nk v\n\n",
    "show map {hosts}\n",
];

#[test]
fn add_map_payloads_read_as_haproxy_reads_them() {
    let servers = backends(BACKENDS);
    let rules_dir = temp_dir("maps-payload-rules");
    let rules = rules(&rules_dir);
    let (ours, theirs) = (free_port(), free_port());
    let haproxy_socket = temp_dir("maps-payload-haproxy").join("admin.sock");
    let run = |port: u16, socket: &str| {
        let global = format!("    stats socket {socket} level admin\n");
        config(port, &rules, &servers, &global)
    };
    let send = |socket: &Path, input: &str| {
        let bytes = admin_raw(socket, input.as_bytes(), std::time::Duration::from_secs(5));
        normalized(&String::from_utf8_lossy(&bytes))
    };
    let mut replies = Vec::new();
    for side in ["pointsman", "haproxy"] {
        write_maps(&rules_dir);
        let _p;
        let _h;
        let socket = if side == "pointsman" {
            _p = pointsman(&run(ours, "@SOCKET@"), 2, ours);
            _p.socket.clone()
        } else {
            _h = haproxy(&run(theirs, &haproxy_socket.display().to_string()), theirs);
            haproxy_socket.clone()
        };
        let hosts = rules_dir.join("hosts.map").display().to_string();
        let paths = rules_dir.join("paths.map").display().to_string();
        let side_replies: Vec<(String, String)> = PAYLOADS
            .iter()
            .map(|input| {
                let input = input.replace("{hosts}", &hosts).replace("{paths}", &paths);
                (input.clone(), send(&socket, &input))
            })
            .collect();
        replies.push(side_replies);
    }
    let mut wrong = Vec::new();
    for ((input, ours), (_, theirs)) in replies[0].iter().zip(&replies[1]) {
        println!("{input:?}\n  pointsman {ours:?}\n  haproxy   {theirs:?}");
        if ours != theirs {
            wrong.push(format!(
                "{input:?}\n  pointsman {ours:?}\n  haproxy   {theirs:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "replies differ:\n{}", wrong.join("\n"));
}
