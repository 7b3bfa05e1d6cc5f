//! The haproxy.cfg parser through its public API: every keyword of the subset, `defaults`
//! inheritance, every error message with its exact line, warnings, quoting and `${VAR}`, and
//! the operators' guides' configs (copied into `tests/fixtures/config/`).

use pointsman::config::{
    parse_files, parse_str_with_env, Algorithm, Config, CookieMode, HttpCheck, Level,
    LoadServerState, LogDestination, LogFormat, Mode, Observe, OnError, Proxy, RetryOn,
    ServerConfig, SocketAddress, StatsAdmin,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment the tests see: fixed, so tests never touch the process environment.
fn env(name: &str) -> Option<String> {
    match name {
        "PORT" => Some("8080".into()),
        "BACKEND_IP" => Some("10.0.0.7".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// Joins lines, so that a line's number in the config is its index + 1.
fn cfg(lines: &[&str]) -> String {
    lines.join("\n")
}

fn parse(lines: &[&str]) -> Config {
    parse_str_with_env("haproxy.cfg", &cfg(lines), &env)
        .unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

/// The error, as displayed (`file:line: message`).
fn error(lines: &[&str]) -> String {
    match parse_str_with_env("haproxy.cfg", &cfg(lines), &env) {
        Ok(_) => panic!("config accepted, expected an error:\n{}", cfg(lines)),
        Err(e) => e.to_string(),
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn proxy<'a>(config: &'a Config, name: &str) -> &'a Proxy {
    config
        .proxy(name)
        .unwrap_or_else(|| panic!("no proxy '{name}'"))
}

fn servers<'a>(config: &'a Config, backend: &str) -> &'a [ServerConfig] {
    &proxy(config, backend)
        .backend
        .as_ref()
        .expect("not a backend")
        .servers
}

/// A minimal valid config around some backend lines (backend at line 1, its lines from 2).
fn backend_with(lines: &[&str]) -> Vec<String> {
    let mut all = vec!["backend bk".to_string()];
    all.extend(lines.iter().map(|l| format!("    {l}")));
    all.extend([
        "frontend fe".to_string(),
        "    bind :80".into(),
        "    default_backend bk".into(),
    ]);
    all
}

fn as_strs(lines: &[String]) -> Vec<&str> {
    lines.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------- the guides' configs

#[test]
fn guide_001_hatop_config_is_accepted() {
    let config =
        parse_str_with_env("haproxy.cfg", &read_fixture("guide-001-hatop.cfg"), &env).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let names: Vec<(&str, u32)> = config
        .proxies
        .iter()
        .map(|p| (p.name.as_str(), p.id))
        .collect();
    assert_eq!(names, [("bk_app", 2), ("app", 3)]);

    let bk_app = proxy(&config, "bk_app");
    assert!(bk_app.frontend.is_none());
    assert_eq!(bk_app.mode, Mode::Tcp, "no 'mode' means tcp, as in HAProxy");
    let nginx = servers(&config, "bk_app");
    assert_eq!(nginx.len(), 2);
    assert_eq!(
        (
            nginx[0].name.as_str(),
            nginx[0].addr,
            nginx[0].options.check,
            nginx[0].options.backup
        ),
        ("nginx1", addr("127.0.0.1:81"), true, true)
    );
    assert_eq!(
        (
            nginx[1].name.as_str(),
            nginx[1].addr,
            nginx[1].options.check,
            nginx[1].options.backup
        ),
        ("nginx2", addr("127.0.0.1:82"), true, false)
    );
    assert_eq!((nginx[0].location.line, nginx[1].location.line), (2, 3));

    let app = proxy(&config, "app").frontend.as_ref().unwrap();
    assert_eq!(app.binds[0].addr.tcp(), Some(addr("0.0.0.0:80")));
    assert_eq!(app.binds[0].location.line, 6);
    assert_eq!(app.default_backend.as_deref(), Some("bk_app"));
}

#[test]
fn guide_000_server_without_address_is_rejected_at_line_2() {
    let err = parse_str_with_env("guide-000.cfg", &read_fixture("guide-000-noaddr.cfg"), &env)
        .unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("guide-000.cfg", 2));
    assert_eq!(
        err.to_string(),
        "guide-000.cfg:2: server 'nginx1' in backend 'bk_app' has no address: \
         expected 'server <name> <addr>:<port> [options]', found 'check'"
    );
}

#[test]
fn guide_000_through_parse_files_names_the_path() {
    let err = parse_files(&[fixture("guide-000-noaddr.cfg")]).unwrap_err();
    assert!(
        err.file
            .ends_with("tests/fixtures/config/guide-000-noaddr.cfg"),
        "{}",
        err.file
    );
    assert_eq!(err.line, 2);
}

#[test]
fn guide_004_runtime_api_config_is_accepted_with_global_last() {
    let config = parse_str_with_env(
        "haproxy.cfg",
        &read_fixture("guide-004-runtime-api.cfg"),
        &env,
    )
    .unwrap();
    let socket = &config.global.stats_sockets[0];
    assert_eq!(
        socket.address,
        SocketAddress::Unix("/var/run/haproxy.sock".into())
    );
    assert_eq!(
        (socket.mode, socket.level, socket.location.line),
        (Some(0o660), Level::Admin, 11)
    );
    let webservers = proxy(&config, "webservers").backend.as_ref().unwrap();
    assert_eq!(webservers.balance, Algorithm::RoundRobin);
    assert_eq!(webservers.servers[1].addr, addr("192.168.1.11:80"));
    assert_eq!(
        proxy(&config, "http_in").frontend.as_ref().unwrap().binds[0]
            .addr
            .tcp(),
        Some(addr("0.0.0.0:80"))
    );
}

#[test]
fn reference_capture_configs_without_stats_page_are_accepted() {
    for name in [
        "reference-setup-haproxy2.cfg",
        "reference-setup-haproxy4.cfg",
    ] {
        let config = parse_files(&[fixture(name)]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.global.stats_sockets.len(), 1, "{name}");
    }
    let config = parse_files(&[fixture("reference-setup-haproxy4.cfg")]).unwrap();
    let bk = servers(&config, "bk");
    assert!(bk[3].options.disabled && bk[3].options.check);
    assert!(!bk[2].options.check);
}

#[test]
fn reference_capture_stats_page_and_logs() {
    let config = parse_files(&[fixture("reference-setup-haproxy.cfg")]).unwrap();
    let stats = proxy(&config, "stats").frontend.as_ref().unwrap();
    let page = stats.stats.as_ref().expect("stats page");
    assert_eq!(page.uri, "/stats");
    assert_eq!(page.refresh, Some(Duration::from_secs(5)));
    let target = &config.global.logs[0];
    assert_eq!(target.destination, LogDestination::Stdout);
    assert_eq!(
        (target.format, target.facility, target.max_level),
        (LogFormat::Raw, 16, 6)
    );
    // `log global` in defaults reaches every proxy.
    assert_eq!(proxy(&config, "app").logs, config.global.logs);
    assert!(proxy(&config, "app").options.httplog);
}

#[test]
fn reference_capture_hash_type_is_outside_the_subset() {
    let err = parse_files(&[fixture("reference-setup-haproxy3.cfg")]).unwrap_err();
    assert_eq!(err.line, 19);
    assert_eq!(
        err.message,
        "unknown keyword 'hash-type' in backend 'b_source_consistent' section"
    );
}

#[test]
fn example_configs_are_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    for name in [
        "hatop-guide.cfg",
        "runtime-api-guide.cfg",
        "restart-guide.cfg",
        "quickstart.cfg",
    ] {
        let config = parse_files(&[dir.join(name)]).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.warnings.is_empty(), "{name}: {:?}", config.warnings);
        for p in &config.proxies {
            assert_eq!(p.mode, Mode::Http, "{name}");
            for bind in p.frontend.iter().flat_map(|f| &f.binds) {
                assert!(
                    bind.addr
                        .tcp()
                        .is_some_and(|a| a.ip().is_loopback() && a.port() > 1024),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn hatop_guide_example_matches_the_captures_ids() {
    let config =
        parse_files(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/hatop-guide.cfg")])
            .unwrap();
    assert_eq!(
        (proxy(&config, "app").id, proxy(&config, "bk_app").id),
        (2, 3)
    );
    let nginx = servers(&config, "bk_app");
    assert_eq!(
        (nginx[0].addr, nginx[0].options.backup),
        (addr("127.0.0.1:8081"), true)
    );
    assert_eq!(
        (nginx[1].addr, nginx[1].options.backup),
        (addr("127.0.0.1:8082"), false)
    );
    assert_eq!(
        config.global.stats_sockets[0].address,
        SocketAddress::Unix("/tmp/pointsman.sock".into())
    );
}

#[test]
fn restart_guide_example_lists_one_server_twice_with_one_cookie() {
    let config =
        parse_files(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/restart-guide.cfg")])
            .unwrap();
    let backend = proxy(&config, "bk_app").backend.as_ref().unwrap();
    let cookie = backend.cookie.as_ref().unwrap();
    assert_eq!(
        (
            cookie.name.as_str(),
            cookie.mode,
            cookie.indirect,
            cookie.nocache
        ),
        ("SERVERID", CookieMode::Insert, true, true)
    );
    let s = &backend.servers;
    assert_eq!(
        (
            s[0].addr.port(),
            s[0].options.backup,
            s[0].options.cookie.as_deref()
        ),
        (8181, false, Some("app1"))
    );
    assert_eq!(
        (
            s[1].addr.port(),
            s[1].options.backup,
            s[1].options.cookie.as_deref()
        ),
        (8180, true, Some("app1"))
    );
}

// ---------------------------------------------------------------- structure, ids, files

#[test]
fn comments_blank_lines_and_indentation_keep_line_numbers_exact() {
    let config = parse(&[
        "# header comment",
        "",
        "backend bk   # trailing comment",
        "\t\t",
        "      server s1 127.0.0.1:81 check  # comment",
        "   # indented comment",
        "server s2 127.0.0.1:82",
        "frontend fe",
        "    bind :80",
        "    default_backend bk",
    ]);
    let s = servers(&config, "bk");
    assert_eq!((s[0].location.line, s[1].location.line), (5, 7));
    assert_eq!(proxy(&config, "bk").location.line, 3);
    assert_eq!(s[0].location.file, "haproxy.cfg");
}

#[test]
fn crlf_files_are_read() {
    let text = "backend bk\r\n  server s1 127.0.0.1:81\r\nfrontend fe\r\n  bind :80\r\n  default_backend bk\r\n";
    let config = parse_str_with_env("win.cfg", text, &env).unwrap();
    assert_eq!(servers(&config, "bk")[0].name, "s1");
}

#[test]
fn proxy_ids_count_from_2_in_config_order() {
    let config = parse(&[
        "frontend app",
        "  bind :80",
        "  default_backend bk_app",
        "backend bk_app",
        "  server s 127.0.0.1:81",
        "listen stats",
        "  bind :81",
        "  server s 127.0.0.1:82",
    ]);
    let ids: Vec<(&str, u32)> = config
        .proxies
        .iter()
        .map(|p| (p.name.as_str(), p.id))
        .collect();
    assert_eq!(ids, [("app", 2), ("bk_app", 3), ("stats", 4)]);
}

#[test]
fn listen_has_both_sides_and_defaults_to_itself() {
    let config = parse(&[
        "listen web",
        "  bind 127.0.0.1:80,127.0.0.1:81",
        "  balance leastconn",
        "  server s 127.0.0.1:82",
    ]);
    let web = proxy(&config, "web");
    let frontend = web.frontend.as_ref().unwrap();
    assert_eq!(frontend.default_backend.as_deref(), Some("web"));
    assert_eq!(frontend.binds.len(), 2);
    assert_eq!(web.backend.as_ref().unwrap().balance, Algorithm::LeastConn);
}

#[test]
fn parse_files_reads_files_in_order_as_one_config() {
    let dir = tempdir("in-order");
    let first = dir.join("a.cfg");
    let second = dir.join("b.conf");
    std::fs::write(
        &first,
        "global\n  nbthread 2\ndefaults\n  mode http\n  timeout client 7s\n",
    )
    .unwrap();
    std::fs::write(
        &second,
        "frontend fe\n  bind :80\n  default_backend bk\nbackend bk\n  server s 127.0.0.1:81\n",
    )
    .unwrap();
    let config = parse_files(&[first, second]).unwrap();
    assert_eq!(config.global.nbthread, Some(2));
    let fe = proxy(&config, "fe");
    assert_eq!(
        (fe.mode, fe.timeouts.client),
        (Mode::Http, Some(Duration::from_secs(7))),
        "defaults carry over"
    );
    assert!(fe.location.file.ends_with("b.conf"));
    assert_eq!(fe.location.line, 1);
}

#[test]
fn each_file_starts_outside_any_section() {
    let dir = tempdir("reset");
    let first = dir.join("a.cfg");
    let second = dir.join("b.cfg");
    std::fs::write(&first, "backend bk\n  server s 127.0.0.1:81\n").unwrap();
    std::fs::write(&second, "\n  server t 127.0.0.1:82\n").unwrap();
    let err = parse_files(&[first, second.clone()]).unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.line),
        (second.display().to_string().as_str(), 2)
    );
    assert!(
        err.message.starts_with("'server' found before any section"),
        "{}",
        err.message
    );
}

#[test]
fn a_directory_loads_its_cfg_files_in_name_order() {
    let dir = tempdir("dir");
    std::fs::write(
        dir.join("20-backend.cfg"),
        "backend bk\n  server s 127.0.0.1:81\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("10-frontend.cfg"),
        "frontend fe\n  bind :80\n  default_backend bk\n",
    )
    .unwrap();
    std::fs::write(dir.join("99-notes.txt"), "not a config").unwrap();
    let config = parse_files(&[dir]).unwrap();
    let order: Vec<&str> = config.proxies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(order, ["fe", "bk"]);
}

#[test]
fn missing_files_and_empty_lists_are_errors() {
    let err = parse_files(&[PathBuf::from("/nonexistent/pointsman.cfg")]).unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.line),
        ("/nonexistent/pointsman.cfg", 0)
    );
    assert!(err.message.starts_with("cannot read: "), "{}", err.message);
    assert_eq!(
        parse_files(&[]).unwrap_err().message,
        "no configuration file given"
    );
}

/// A fresh directory under the target dir (tests must not write to /tmp shared paths).
fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("config-parser-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------- global

#[test]
fn global_keywords() {
    let config = parse(&[
        "global",
        "    nbthread 4",
        "    maxconn 20000",
        "    stats socket /run/pointsman/admin.sock mode 600 level admin expose-fd listeners",
        "    stats socket ipv4@127.0.0.1:9999 level user",
        "    stats socket ./local.sock",
        "    stats socket ./owned.sock user root group root mode 660 maxconn 3",
        "    stats socket ./numeric.sock uid 4242 gid 4343",
        "    stats timeout 1m",
        "    stats maxconn 5",
        "    tune.bufsize 32768",
        "listen l",
        "  bind :80",
    ]);
    let g = &config.global;
    assert_eq!(
        (g.nbthread, g.maxconn, g.stats_timeout),
        (Some(4), Some(20000), Some(Duration::from_secs(60)))
    );
    assert_eq!((g.stats_maxconn, g.tune_bufsize), (Some(5), Some(32768)));
    let s = &g.stats_sockets;
    assert_eq!(s.len(), 5);
    assert_eq!(
        (s[3].uid, s[3].gid, s[3].mode, s[3].maxconn),
        (Some(0), Some(0), Some(0o660), Some(3))
    );
    assert_eq!(
        (s[4].uid, s[4].gid, s[4].maxconn),
        (Some(4242), Some(4343), None)
    );
    assert_eq!((s[0].uid, s[0].gid, s[0].maxconn), (None, None, None));
    assert_eq!(
        s[0].address,
        SocketAddress::Unix("/run/pointsman/admin.sock".into())
    );
    assert_eq!(
        (
            s[0].mode,
            s[0].level,
            s[0].expose_fd_listeners,
            s[0].location.line
        ),
        (Some(0o600), Level::Admin, true, 4)
    );
    assert_eq!(s[1].address, SocketAddress::Tcp(addr("127.0.0.1:9999")));
    assert_eq!(
        (s[1].mode, s[1].level, s[1].expose_fd_listeners),
        (None, Level::User, false)
    );
    assert_eq!(
        s[2].level,
        Level::Operator,
        "HAProxy's default level is operator"
    );
}

#[test]
fn global_errors() {
    let cases: &[(&str, &str)] = &[
        ("nbthread 0", "'nbthread' must be at least 1"),
        ("nbthread two", "'nbthread': 'two' is not a number"),
        ("nbthread", "'nbthread' needs a value: expected 'nbthread <number>'"),
        ("maxconn 1 2", "'maxconn' takes one value, found extra '2': expected 'maxconn <number>'"),
        ("stats socket", "'stats socket' needs an address: expected 'stats socket <path>|ipv4@<addr>:<port>|fd@<n> [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>] [level user|operator|admin] [maxconn <n>] [expose-fd listeners]'"),
        ("stats socket /s level root", "'stats socket': unknown level 'root': expected user, operator or admin"),
        ("stats socket /s mode 999", "'stats socket' mode: '999' is not an octal file mode such as 660"),
        ("stats socket /s mode", "'stats socket': 'mode' needs a value: expected 'stats socket <path>|ipv4@<addr>:<port>|fd@<n> [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>] [level user|operator|admin] [maxconn <n>] [expose-fd listeners]'"),
        ("stats socket /s user no-such-user-here", "'stats socket': unknown user 'no-such-user-here'"),
        ("stats socket /s group no-such-group-here", "'stats socket': unknown group 'no-such-group-here'"),
        ("stats socket /s uid x", "'stats socket' uid: 'x' is not a number"),
        ("stats socket /s maxconn 0", "'stats socket' 'maxconn' must be at least 1"),
        ("stats socket /s backlog 10", "unsupported stats socket option 'backlog': expected 'stats socket <path>|ipv4@<addr>:<port>|fd@<n> [mode <octal>] [user <name>] [group <name>] [uid <n>] [gid <n>] [level user|operator|admin] [maxconn <n>] [expose-fd listeners]'"),
        ("stats maxconn 0", "'stats maxconn' must be at least 1"),
        ("stats socket /s expose-fd all", "'stats socket': 'expose-fd all' is not supported: expected 'expose-fd listeners'"),
        ("stats socket ipv4@127.0.0.1", "'stats socket': address 'ipv4@127.0.0.1' has no port: expected <addr>:<port>"),
        ("stats timeout 0", "'stats timeout' must be greater than 0"),
        ("stats timeout 10x", "'stats timeout': invalid time '10x': expected a number with an optional unit us, ms, s, m, h or d (default ms)"),
        ("stats enable", "'stats enable' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("tune.bufsize 512", "'tune.bufsize' must be between 1024 and 16777216 bytes, found 512"),
        ("tune.bufsize 16k", "'tune.bufsize': '16k' is not a number"),
        ("tune.bufsize", "'tune.bufsize' needs a value: expected 'tune.bufsize <bytes>'"),
        ("tune.maxrewrite 1024", "unknown keyword 'tune.maxrewrite' in global section"),
        ("server s 127.0.0.1:80", "'server' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("timeout client 5s", "'timeout client' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("option redispatch", "'option redispatch' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
        ("option dontlognull", "'option dontlognull' is not allowed in global section: it belongs in defaults, frontend, backend or listen sections"),
    ];
    for (line, message) in cases {
        assert_eq!(
            error(&["global", "    maxconn 10", line]),
            format!("haproxy.cfg:3: {message}"),
            "{line}"
        );
    }
}

#[test]
fn global_sections_merge() {
    let config = parse(&[
        "global",
        "  nbthread 2",
        "global",
        "  maxconn 5",
        "listen l",
        "  bind :80",
    ]);
    assert_eq!(
        (config.global.nbthread, config.global.maxconn),
        (Some(2), Some(5))
    );
}

// ---------------------------------------------------------------- ignored keywords

#[test]
fn ignored_keywords_are_accepted_with_a_warning_naming_file_and_line() {
    let config = parse(&[
        "global",
        "    log stdout format raw local0 info",
        "    daemon",
        "    user haproxy",
        "    group haproxy",
        "    chroot /var/lib/haproxy",
        "    pidfile /run/haproxy.pid",
        "    description \"edge balancer\"",
        "    ca-base /etc/ssl/certs",
        "    crt-base /etc/ssl/private",
        "defaults",
        "    log global",
        "    option dontlognull",
        "listen l",
        "    description web",
        "    bind :80",
    ]);
    // `option dontlognull` (line 13) is real too.
    let lines: Vec<&str> = config
        .warnings
        .iter()
        .map(|w| w.split(' ').next().unwrap())
        .collect();
    // `log` (line 2 and 12) is real and `pidfile` (line 7) is honoured: the pid file of `-p`.
    let expected: Vec<String> = [3, 4, 5, 6, 8, 9, 10, 15]
        .iter()
        .map(|n| format!("haproxy.cfg:{n}:"))
        .collect();
    assert_eq!(lines, expected);
    assert!(proxy(&config, "l").options.dontlognull);
}

#[test]
fn ignored_keywords_still_respect_their_sections() {
    assert_eq!(
        error(&["listen l", "  bind :80", "  daemon"]),
        "haproxy.cfg:3: 'daemon' belongs in the global section, not in listen 'l' section"
    );
    assert_eq!(
        error(&["defaults", "  description x"]),
        "haproxy.cfg:2: 'description' is not allowed in defaults section"
    );
}

#[test]
fn stats_page_keywords() {
    let config = parse(&[
        "frontend stats",
        "  mode http",
        "  bind :8404",
        "  stats enable",
        "  stats uri /stats",
        "  stats refresh 5s",
        "  stats auth admin:s3cr:et",
        "  stats auth ops:pw",
        "  stats realm Pointsman",
        "  stats admin if TRUE",
        "  stats hide-version",
        "  http-request use-service prometheus-exporter if { path /metrics }",
    ]);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let fe = proxy(&config, "stats").frontend.as_ref().unwrap();
    let page = fe.stats.as_ref().unwrap();
    assert_eq!(page.uri, "/stats");
    assert_eq!(page.refresh, Some(Duration::from_secs(5)));
    assert_eq!(
        page.auth,
        vec![
            ("admin".to_string(), "s3cr:et".to_string()),
            ("ops".to_string(), "pw".to_string())
        ]
    );
    assert_eq!(page.realm, "Pointsman");
    assert_eq!(page.admin, StatsAdmin::Always);
    assert!(page.hide_version);
    assert_eq!(fe.prometheus.as_deref(), Some("/metrics"));
    assert_eq!(fe.default_backend, None);

    // Any stats keyword turns the page on, with HAProxy's default uri.
    let config = parse(&[
        "listen l",
        "  mode http",
        "  bind :80",
        "  stats admin if LOCALHOST",
        "  stats prometheus",
    ]);
    let fe = proxy(&config, "l").frontend.as_ref().unwrap();
    let page = fe.stats.as_ref().unwrap();
    assert_eq!(
        (page.uri.as_str(), page.admin),
        ("/haproxy?stats", StatsAdmin::Localhost)
    );
    assert_eq!(fe.prometheus.as_deref(), Some("/metrics"));
}

#[test]
fn stats_page_errors() {
    assert_errors(&[
        (&["listen stats", "  mode http", "  bind :8404", "  stats auth admin"], "haproxy.cfg:4: 'stats auth': 'admin' has no ':': expected 'stats auth <user>:<password>'"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats admin if { src 10.0.0.1 }"], "haproxy.cfg:4: 'stats admin if { src 10.0.0.1 }': only the predefined conditions TRUE and LOCALHOST are supported: expected 'stats admin if TRUE|LOCALHOST'"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats refresh 0"], "haproxy.cfg:4: 'stats refresh' must be at least 1s"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats uri stats"], "haproxy.cfg:4: 'stats uri': 'stats' must start with '/'"),
        (&["listen stats", "  mode http", "  bind :8404", "  stats scope bk"], "haproxy.cfg:4: 'stats scope' is not supported: the stats page takes 'stats enable', 'uri', 'refresh', 'auth', 'realm', 'admin if TRUE|LOCALHOST', 'hide-version' and 'prometheus'"),
        (&["backend b", "  stats enable"], "haproxy.cfg:2: 'stats enable' is not allowed in backend 'b' section (allowed in: defaults, frontend, listen)"),
        (&["frontend f", "  bind :80", "  stats enable"], "haproxy.cfg:1: frontend 'f' serves the stats page ('stats …'), which needs 'mode http'"),
        (&["frontend f", "  mode http", "  bind :80", "  http-request deny"], "haproxy.cfg:4: 'http-request deny' is not supported: the only http-request rule is 'http-request use-service prometheus-exporter if { path <path> }'"),
        (&["frontend f", "  mode http", "  bind :80", "  http-request use-service prometheus-exporter"], "haproxy.cfg:4: 'http-request use-service prometheus-exporter' needs the condition '{ path <path> }': expected 'http-request use-service prometheus-exporter if { path <path> }'"),
    ]);
    assert_eq!(
        error(&["defaults", "  stats socket /x"]),
        "haproxy.cfg:2: 'stats socket' belongs in the global section, not in defaults section"
    );
}

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

// ---------------------------------------------------------------- proxy keywords

#[test]
fn mode_and_every_timeout() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 30000",
        "    timeout server 1m",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 500ms",
        "    timeout queue 2h",
        "    timeout check 1500us",
        "listen l",
        "    bind :80",
    ]);
    let l = proxy(&config, "l");
    assert_eq!(l.mode, Mode::Http);
    let t = l.timeouts;
    assert_eq!(t.connect, Some(Duration::from_secs(5)));
    assert_eq!(t.client, Some(Duration::from_secs(30)));
    assert_eq!(t.server, Some(Duration::from_secs(60)));
    assert_eq!(t.http_request, Some(Duration::from_secs(10)));
    assert_eq!(t.http_keep_alive, Some(Duration::from_millis(500)));
    assert_eq!(t.queue, Some(Duration::from_secs(7200)));
    assert_eq!(t.check, Some(Duration::from_micros(1500)));
}

#[test]
fn frontend_keywords() {
    let config = parse(&[
        "frontend fe",
        "    mode tcp",
        "    bind :80",
        "    bind *:81",
        "    bind 0.0.0.0:82,127.0.0.1:83",
        "    bind [::1]:84",
        "    bind ipv4@127.0.0.1:85",
        "    bind ipv6@[::1]:86",
        "    maxconn 500",
        "    timeout client 5s",
        "    default_backend bk",
        "backend bk",
        "    mode tcp",
    ]);
    let fe = proxy(&config, "fe");
    let side = fe.frontend.as_ref().unwrap();
    let binds: Vec<(SocketAddr, usize)> = side
        .binds
        .iter()
        .map(|b| (b.addr.tcp().unwrap(), b.location.line))
        .collect();
    assert_eq!(
        binds,
        [
            (addr("0.0.0.0:80"), 3),
            (addr("0.0.0.0:81"), 4),
            (addr("0.0.0.0:82"), 5),
            (addr("127.0.0.1:83"), 5),
            (addr("[::1]:84"), 6),
            (addr("127.0.0.1:85"), 7),
            (addr("[::1]:86"), 8),
        ]
    );
    assert_eq!(
        (side.maxconn, side.default_backend.as_deref()),
        (Some(500), Some("bk"))
    );
    assert!(fe.backend.is_none());
    assert_eq!(fe.timeouts.client, Some(Duration::from_secs(5)));
}

#[test]
fn every_balance_algorithm() {
    for (word, algorithm) in [
        ("roundrobin", Algorithm::RoundRobin),
        ("static-rr", Algorithm::StaticRr),
        ("leastconn", Algorithm::LeastConn),
        ("first", Algorithm::First),
        ("source", Algorithm::Source),
        ("random", Algorithm::Random),
    ] {
        let balance = format!("balance {word}");
        let config = parse(&as_strs(&backend_with(&[&balance])));
        assert_eq!(
            proxy(&config, "bk").backend.as_ref().unwrap().balance,
            algorithm
        );
    }
}

#[test]
fn every_flag_option_and_its_negation() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    option allbackups",
        "    option redispatch",
        "    option forwardfor",
        "    option httplog",
        "    option httpclose",
        "listen a",
        "    bind :80",
        "listen b",
        "    bind :81",
        "    no option allbackups",
        "    no option redispatch",
        "    no option forwardfor",
        "    option tcplog",
        "    option http-keep-alive",
    ]);
    let a = proxy(&config, "a").options;
    assert!(a.allbackups && a.redispatch && a.forwardfor && a.httplog && a.httpclose);
    assert!(!a.tcplog && !a.http_keep_alive);
    let b = proxy(&config, "b").options;
    assert!(!b.allbackups && !b.redispatch && !b.forwardfor && !b.httplog && !b.httpclose);
    assert!(b.tcplog && b.http_keep_alive);
}

#[test]
fn no_option_clears_httplog_and_http_modes() {
    let config = parse(&[
        "defaults",
        "  mode http",
        "  option httplog",
        "  option http-keep-alive",
        "listen a",
        "  bind :80",
        "  no option httplog",
        "  no option http-keep-alive",
    ]);
    let a = proxy(&config, "a").options;
    assert!(!a.httplog && !a.tcplog && !a.http_keep_alive && !a.httpclose);
}

#[test]
fn dontlognull_and_http_ignore_probes_are_frontend_flags() {
    let config = parse(&[
        "defaults",
        "    mode http",
        "    option dontlognull",
        "    option http-ignore-probes",
        "frontend both",
        "    bind :80",
        "    default_backend bk",
        "frontend neither",
        "    bind :81",
        "    no option dontlognull",
        "    no option http-ignore-probes",
        "    default_backend bk",
        "listen l",
        "    bind :82",
        "    no option http-ignore-probes",
        "backend bk",
        "    option dontlognull",
        "    option http-ignore-probes",
        "    server s 127.0.0.1:81",
    ]);
    let both = proxy(&config, "both").options;
    assert!(both.dontlognull && both.http_ignore_probes);
    let neither = proxy(&config, "neither").options;
    assert!(!neither.dontlognull && !neither.http_ignore_probes);
    let l = proxy(&config, "l").options;
    assert!(l.dontlognull && !l.http_ignore_probes);
    // HAProxy ignores them in a backend with a warning ("no frontend capability").
    assert_eq!(
        config.warnings,
        [
            "haproxy.cfg:17: 'option dontlognull' is ignored in backend 'bk' section: it needs a frontend",
            "haproxy.cfg:18: 'option http-ignore-probes' is ignored in backend 'bk' section: it needs a frontend",
        ]
    );
    assert_eq!(
        error(&["frontend f", "  bind :80", "  option dontlognull x"]),
        "haproxy.cfg:3: 'option dontlognull' takes no argument, found 'x'"
    );
    assert_eq!(
        error(&["backend b", "  option http-ignore-probes x"]),
        "haproxy.cfg:2: 'option http-ignore-probes' takes no argument, found 'x'"
    );
    // http-ignore-probes needs `mode http`, as in HAProxy; dontlognull does not.
    let tcp = parse(&[
        "defaults",
        "    option dontlognull",
        "    option http-ignore-probes",
        "frontend fe",
        "    bind :80",
        "    default_backend bk",
        "backend bk",
        "    server s 127.0.0.1:81",
    ]);
    assert_eq!(
        tcp.warnings,
        ["haproxy.cfg:4: 'option http-ignore-probes' is ignored for tcp frontend 'fe': it needs 'mode http'"]
    );
    let fe = proxy(&tcp, "fe").options;
    assert!(fe.dontlognull && !fe.http_ignore_probes);
}

#[test]
fn retries_default_to_3() {
    let config = parse(&as_strs(&backend_with(&[])));
    assert_eq!(proxy(&config, "bk").backend.as_ref().unwrap().retries, 3);
    let config = parse(&as_strs(&backend_with(&["retries 0"])));
    assert_eq!(proxy(&config, "bk").backend.as_ref().unwrap().retries, 0);
}

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
fn retry_on_keywords() {
    let retry_on = |lines: &[&str]| {
        let config = parse(&as_strs(&backend_with(lines)));
        let side = proxy(&config, "bk").backend.clone().unwrap();
        side.retry_on
    };
    assert_eq!(retry_on(&[]), RetryOn::default());
    assert!(retry_on(&[]).conn_failure && retry_on(&[]).empty_response);
    assert_eq!(retry_on(&["retry-on none"]), RetryOn::NONE);
    let some = retry_on(&["retry-on conn-failure 503 response-timeout"]);
    assert!(some.conn_failure && some.response_timeout && !some.empty_response);
    assert!(some.status(503) && !some.status(502));
    let all = retry_on(&["retry-on all-retryable-errors"]);
    assert!(all.conn_failure && all.empty_response && all.junk_response && all.response_timeout);
    assert!(all.status(500) && all.status(502) && all.status(503) && all.status(504));
    assert!(!all.status(404) && !all.status(501));
    // Inherited from defaults.
    let config = parse(&[
        "defaults",
        "    retry-on 502",
        "backend bk",
        "    server s 127.0.0.1:81",
    ]);
    assert!(proxy(&config, "bk")
        .backend
        .as_ref()
        .unwrap()
        .retry_on
        .status(502));
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

#[test]
fn httpchk_forms_and_expect_status() {
    let check = |lines: &[&str]| {
        let config = parse(&as_strs(&backend_with(lines)));
        proxy(&config, "bk")
            .backend
            .as_ref()
            .unwrap()
            .httpchk
            .clone()
    };
    let http = |method: &str, uri: &str, expect_status| HttpCheck {
        method: method.into(),
        uri: uri.into(),
        expect_status,
    };
    assert_eq!(check(&[]), None);
    assert_eq!(check(&["option httpchk"]), Some(http("OPTIONS", "/", None)));
    assert_eq!(
        check(&["option httpchk /health"]),
        Some(http("OPTIONS", "/health", None))
    );
    assert_eq!(
        check(&["option httpchk GET /health"]),
        Some(http("GET", "/health", None))
    );
    assert_eq!(
        check(&["http-check expect status 204", "option httpchk HEAD /"]),
        Some(http("HEAD", "/", Some(204)))
    );
}

#[test]
fn cookie_forms() {
    let cookie = |line: &str| {
        let config = parse(&[
            "defaults",
            "  mode http",
            "backend bk",
            &format!("  {line}"),
            "frontend fe",
            "  bind :80",
            "  default_backend bk",
        ]);
        let c = proxy(&config, "bk")
            .backend
            .as_ref()
            .unwrap()
            .cookie
            .clone()
            .unwrap();
        (c.name, c.mode, c.indirect, c.nocache)
    };
    assert_eq!(
        cookie("cookie SRV insert"),
        ("SRV".into(), CookieMode::Insert, false, false)
    );
    assert_eq!(
        cookie("cookie SRV rewrite"),
        ("SRV".into(), CookieMode::Rewrite, false, false)
    );
    assert_eq!(
        cookie("cookie JSESSIONID prefix indirect"),
        ("JSESSIONID".into(), CookieMode::Prefix, true, false)
    );
    assert_eq!(
        cookie("cookie SERVERID insert indirect nocache"),
        ("SERVERID".into(), CookieMode::Insert, true, true)
    );
    assert_eq!(
        cookie("cookie SERVERID nocache insert"),
        ("SERVERID".into(), CookieMode::Insert, false, true)
    );
}

// ---------------------------------------------------------------- defaults inheritance

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
    assert_eq!(side.httpchk.as_ref().unwrap().expect_status, Some(200));
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

// ---------------------------------------------------------------- quoting and environment

#[test]
fn quoted_arguments_and_environment_variables() {
    let config = parse(&[
        "global",
        "    stats socket \"/tmp/with space.sock\"",
        "    stats socket '/tmp/${NOT_EXPANDED}.sock'",
        "frontend fe",
        "    bind :${PORT}",
        "    bind \"127.0.0.1:${UNSET-9090}\"",
        "    default_backend \"bk\"",
        "backend bk",
        "    server s ${BACKEND_IP}:80 cookie \"a \\\"b\\\" \\\\c\"",
        "    server t ${UNSET-127.0.0.1}:${UNSET2-81}",
    ]);
    let sockets = &config.global.stats_sockets;
    assert_eq!(
        sockets[0].address,
        SocketAddress::Unix("/tmp/with space.sock".into())
    );
    assert_eq!(
        sockets[1].address,
        SocketAddress::Unix("/tmp/${NOT_EXPANDED}.sock".into())
    );
    let binds: Vec<SocketAddr> = proxy(&config, "fe")
        .frontend
        .as_ref()
        .unwrap()
        .binds
        .iter()
        .map(|b| b.addr.tcp().unwrap())
        .collect();
    assert_eq!(binds, [addr("0.0.0.0:8080"), addr("127.0.0.1:9090")]);
    let s = servers(&config, "bk");
    assert_eq!(
        (s[0].addr, s[0].options.cookie.as_deref()),
        (addr("10.0.0.7:80"), Some("a \"b\" \\c"))
    );
    assert_eq!(s[1].addr, addr("127.0.0.1:81"));
}

#[test]
fn an_unset_variable_without_default_is_empty() {
    assert_eq!(
        error(&["backend bk", "    server s ${UNSET}"]),
        "haproxy.cfg:2: server 's' in backend 'bk' has no address: \
         expected 'server <name> <addr>:<port> [options]', found nothing"
    );
    assert_eq!(
        error(&["backend bk", "    server s \"${EMPTY}\""]),
        "haproxy.cfg:2: server 's' in backend 'bk': address '' has no port: expected <addr>:<port>"
    );
}

#[test]
fn quoting_errors_name_the_line() {
    assert_eq!(
        error(&["global", "  stats socket \"/tmp/x.sock"]),
        "haproxy.cfg:2: missing closing double quote (\")"
    );
    assert_eq!(
        error(&["global", "", "  stats socket '/tmp/x.sock"]),
        "haproxy.cfg:3: missing closing single quote (')"
    );
    assert_eq!(
        error(&["frontend fe", "  bind :${PORT"]),
        "haproxy.cfg:2: invalid variable '${PORT': expected '}' or '-default}'"
    );
}

// ---------------------------------------------------------------- warnings

#[test]
fn http_only_settings_in_tcp_proxies_are_dropped_with_a_warning() {
    let config = parse(&[
        "defaults",
        "    option httplog",
        "    option forwardfor",
        "backend bk",
        "    cookie SRV insert",
        "    server s 127.0.0.1:81",
        "frontend fe",
        "    bind :80",
        "    default_backend bk",
    ]);
    assert_eq!(
        config.warnings,
        [
            "haproxy.cfg:4: 'option httplog' falls back to 'option tcplog' for tcp backend 'bk': it needs 'mode http'",
            "haproxy.cfg:4: 'option forwardfor' is ignored for tcp backend 'bk': it needs 'mode http'",
            "haproxy.cfg:5: 'cookie' is ignored for tcp backend 'bk': it needs 'mode http'",
            "haproxy.cfg:7: 'option httplog' falls back to 'option tcplog' for tcp frontend 'fe': it needs 'mode http'",
            "haproxy.cfg:7: 'option forwardfor' is ignored for tcp frontend 'fe': it needs 'mode http'",
        ]
    );
    let bk = proxy(&config, "bk");
    assert!(bk.backend.as_ref().unwrap().cookie.is_none());
    assert!(bk.options.tcplog && !bk.options.httplog && !bk.options.forwardfor);
}

#[test]
fn other_warnings() {
    let config = parse(&[
        "frontend lonely",
        "    bind :80",
        "backend bk",
        "    http-check expect status 200",
        "listen l",
        "    bind :81",
        "    default_backend bk",
        "    server s 127.0.0.1:81",
    ]);
    assert_eq!(
        config.warnings,
        [
            "haproxy.cfg:1: frontend 'lonely' has no 'default_backend': it has nowhere to send traffic",
            "haproxy.cfg:4: 'http-check expect' is ignored for backend 'bk': it needs 'option httpchk'",
            "haproxy.cfg:7: in listen 'l', 'default_backend' takes precedence over the servers, which will never be used",
        ]
    );
    assert_eq!(
        proxy(&config, "lonely")
            .frontend
            .as_ref()
            .unwrap()
            .default_backend,
        None
    );
    assert_eq!(
        proxy(&config, "l")
            .frontend
            .as_ref()
            .unwrap()
            .default_backend
            .as_deref(),
        Some("bk")
    );
}

// ---------------------------------------------------------------- errors

/// (config lines, expected `file:line: message`)
fn assert_errors(cases: &[(&[&str], &str)]) {
    for (lines, expected) in cases {
        assert_eq!(error(lines), *expected, "config:\n{}", cfg(lines));
    }
}

#[test]
fn unknown_keywords_name_file_line_and_section() {
    assert_errors(&[
        (&["backend bk_app", "    server s 127.0.0.1:80", "    foo bar"], "haproxy.cfg:3: unknown keyword 'foo' in backend 'bk_app' section"),
        (&["frontend fe", "    use-server s if x"], "haproxy.cfg:2: unknown keyword 'use-server' in frontend 'fe' section"),
        (&["backend b", "    use_backend bk if TRUE"], "haproxy.cfg:2: 'use_backend' is not allowed in backend 'b' (allowed in: frontend, listen)"),
        (&["defaults", "    acl a path /"], "haproxy.cfg:2: 'acl' is not allowed in defaults section (allowed in: frontend, listen, backend)"),
        (&["defaults", "    timeout tunnel 1h"], "haproxy.cfg:2: unknown keyword 'timeout tunnel' in defaults section"),
        (&["listen l", "    option http-server-close"], "haproxy.cfg:2: unknown option 'http-server-close' in listen 'l' section"),
        (&["backend b", "    no balance"], "haproxy.cfg:2: 'no balance' is not supported: only 'no option <name>' and 'no log' are"),
        (&["backend b", "    no option httpchk"], "haproxy.cfg:2: 'no option httpchk' is not supported: only boolean options can be negated"),
        (&["backend b", "    no"], "haproxy.cfg:2: 'no' needs a keyword: expected 'no option <name>'"),
        (&["backend b", "    timeout"], "haproxy.cfg:2: 'timeout' needs a second word, e.g. 'timeout client 30s'"),
        (&["backend b", "    option"], "haproxy.cfg:2: 'option' needs a second word, e.g. 'option redispatch'"),
        (&["listen l", "    stats"], "haproxy.cfg:2: 'stats' needs a second word, e.g. 'stats enable', or 'stats socket <path>' in the global section"),
        (&["listen l", "    stats foo"], "haproxy.cfg:2: unknown keyword 'stats foo' in listen 'l' section"),
    ]);
}

#[test]
fn section_errors() {
    assert_errors(&[
        (&["", "  bind :80"], "haproxy.cfg:2: 'bind' found before any section: a config starts with 'global', 'defaults', 'frontend <name>', 'backend <name>' or 'listen <name>'"),
        (&["userlist admins", "  user a password x"], "haproxy.cfg:1: 'userlist' sections are not supported"),
        (&["resolvers dns"], "haproxy.cfg:1: 'resolvers' sections are not supported"),
        (&["frontend"], "haproxy.cfg:1: 'frontend' needs a name: expected 'frontend <name>'"),
        (&["backend a b"], "haproxy.cfg:1: 'backend a' takes no other argument, found 'b'"),
        (&["listen web 0.0.0.0:80"], "haproxy.cfg:1: 'listen web 0.0.0.0:80': the old address-on-the-header form is not supported; write 'bind 0.0.0.0:80' on its own line"),
        (&["frontend fe from web"], "haproxy.cfg:1: 'frontend fe from <defaults>' is not supported: named defaults are not inherited"),
        (&["defaults web from base"], "haproxy.cfg:1: 'defaults <name> from <other>' is not supported: write the values out in this section"),
        (&["global extra"], "haproxy.cfg:1: 'global' takes no argument, found 'extra'"),
        (&["backend bk/app"], "haproxy.cfg:1: character '/' is not permitted in backend name 'bk/app' (use letters, digits, '-', '_', '.' and ':')"),
    ]);
}

#[test]
fn keywords_in_the_wrong_section() {
    assert_errors(&[
        (&["backend bk", "  bind :80"], "haproxy.cfg:2: 'bind' is not allowed in backend 'bk' section (allowed in: frontend, listen)"),
        (&["defaults", "  bind :80"], "haproxy.cfg:2: 'bind' is not allowed in defaults section (allowed in: frontend, listen)"),
        (&["frontend fe", "  server s 127.0.0.1:80"], "haproxy.cfg:2: 'server' is not allowed in frontend 'fe' section (allowed in: listen, backend)"),
        (&["defaults", "  server s 127.0.0.1:80"], "haproxy.cfg:2: 'server' is not allowed in defaults section (allowed in: listen, backend)"),
        (&["frontend fe", "  balance roundrobin"], "haproxy.cfg:2: 'balance' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  option allbackups"], "haproxy.cfg:2: 'option allbackups' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  timeout server 5s"], "haproxy.cfg:2: 'timeout server' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["backend bk", "  timeout client 5s"], "haproxy.cfg:2: 'timeout client' is not allowed in backend 'bk' section (allowed in: defaults, frontend, listen)"),
        (&["backend bk", "  maxconn 5"], "haproxy.cfg:2: 'maxconn' is not allowed in backend 'bk' section (allowed in: defaults, frontend, listen)"),
        (&["backend bk", "  default_backend x"], "haproxy.cfg:2: 'default_backend' is not allowed in backend 'bk' section (allowed in: defaults, frontend, listen)"),
        (&["frontend fe", "  option httpchk"], "haproxy.cfg:2: 'option httpchk' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  cookie S insert"], "haproxy.cfg:2: 'cookie' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  default-server check"], "haproxy.cfg:2: 'default-server' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["backend bk", "  nbthread 2"], "haproxy.cfg:2: 'nbthread' belongs in the global section, not in backend 'bk' section"),
    ]);
}

#[test]
fn server_errors() {
    let at_line_2 = |server_line: &str| error(&as_strs(&backend_with(&[server_line])));
    let cases: &[(&str, &str)] = &[
        ("server nginx1 check backup", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found 'check'"),
        ("server nginx1 weight 3", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found 'weight'"),
        ("server nginx1 sni req.hdr(host)", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found 'sni'"),
        ("server nginx1", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found nothing"),
        ("server", "'server' in backend 'bk' needs a name and an address: expected 'server <name> <addr>:<port> [options]'"),
        ("server s 127.0.0.1", "server 's' in backend 'bk': address '127.0.0.1' has no port: expected <addr>:<port>"),
        ("server s localhost", "server 's' in backend 'bk': address 'localhost' has no port: expected <addr>:<port>"),
        ("server s web1.example.com:80", "server 's' in backend 'bk': 'web1.example.com' is not an IP address (host names other than 'localhost' are not resolved)"),
        ("server s 127.0.0.1:0", "server 's' in backend 'bk': invalid port '0': expected a number from 1 to 65535"),
        ("server s 127.0.0.1:80 weight 257", "server 's' in backend 'bk': weight 257 is out of range: expected 0 to 256"),
        ("server s 127.0.0.1:80 weight heavy", "server 's' in backend 'bk': 'weight': 'heavy' is not a number"),
        ("server s 127.0.0.1:80 weight", "server 's' in backend 'bk': 'weight' needs a value"),
        ("server s 127.0.0.1:80 inter 2sec", "server 's' in backend 'bk': 'inter': invalid time '2sec': expected a number with an optional unit us, ms, s, m, h or d (default ms)"),
        ("server s 127.0.0.1:80 inter 0", "server 's' in backend 'bk': 'inter' must be greater than 0"),
        ("server s 127.0.0.1:80 rise 0", "server 's' in backend 'bk': 'rise' must be at least 1"),
        ("server s 127.0.0.1:80 fall -1", "server 's' in backend 'bk': 'fall': '-1' is not a number"),
        ("server s 127.0.0.1:80 maxconn x", "server 's' in backend 'bk': 'maxconn': 'x' is not a number"),
        ("server s 127.0.0.1:80 ssl verify none", "server 's' in backend 'bk': unknown server option 'ssl' (supported: check, backup, weight, disabled, inter, rise, fall, maxconn, cookie, no-check, no-backup, enabled, fastinter, downinter, slowstart, observe, error-limit, on-error)"),
        ("server s 127.0.0.1:80 observe layer3", "server 's' in backend 'bk': 'observe' expects 'layer4' or 'layer7', not 'layer3'"),
        ("server s 127.0.0.1:80 on-error reboot", "server 's' in backend 'bk': 'on-error' expects 'fastinter', 'fail-check', 'sudden-death' or 'mark-down', not 'reboot'"),
        ("server s 127.0.0.1:80 error-limit 0", "server 's' in backend 'bk': 'error-limit' must be at least 1"),
        ("server s 127.0.0.1:80 fastinter 0", "server 's' in backend 'bk': 'fastinter' must be greater than 0"),
        ("server s 127.0.0.1:80 downinter", "server 's' in backend 'bk': 'downinter' needs a value"),
        ("retry-on", "'retry-on' needs at least one keyword: expected 'retry-on none|conn-failure|empty-response|junk-response|response-timeout|0rtt-rejected|404|408|425|500|501|502|503|504|all-retryable-errors ...'"),
        ("retry-on 505", "'retry-on': unknown keyword '505': expected 'retry-on none|conn-failure|empty-response|junk-response|response-timeout|0rtt-rejected|404|408|425|500|501|502|503|504|all-retryable-errors ...'"),
        ("retry-on none 503", "'retry-on none' may not be combined with other keywords"),
        ("server s! 127.0.0.1:80", "character '!' is not permitted in server name 's!' (use letters, digits, '-', '_', '.' and ':')"),
        ("default-server weight 300", "'default-server' in backend 'bk': weight 300 is out of range: expected 0 to 256"),
        ("default-server port 81", "'default-server' in backend 'bk': unknown server option 'port' (supported: check, backup, weight, disabled, inter, rise, fall, maxconn, cookie, no-check, no-backup, enabled, fastinter, downinter, slowstart, observe, error-limit, on-error)"),
    ];
    for (line, message) in cases {
        assert_eq!(
            at_line_2(line),
            format!("haproxy.cfg:2: {message}"),
            "{line}"
        );
    }
    assert_eq!(
        error(&["defaults", "  default-server rise x"]),
        "haproxy.cfg:2: 'default-server' in defaults section: 'rise': 'x' is not a number"
    );
}

#[test]
fn duplicate_server_names_in_a_backend() {
    assert_eq!(
        error(&[
            "backend bk_app",
            "  server nginx1 127.0.0.1:81",
            "  server nginx2 127.0.0.1:82",
            "  server nginx1 127.0.0.1:83"
        ]),
        "haproxy.cfg:4: server 'nginx1' in backend 'bk_app' is already declared at haproxy.cfg:2"
    );
    // The same server name in two backends is fine.
    parse(&[
        "backend a",
        "  server s 127.0.0.1:81",
        "backend b",
        "  server s 127.0.0.1:81",
    ]);
}

#[test]
fn duplicate_proxy_names_follow_haproxy() {
    assert_errors(&[
        (&["backend app", "frontend x", "  bind :80", "backend app"], "haproxy.cfg:4: backend 'app' has the same name as backend 'app' declared at haproxy.cfg:1"),
        (&["frontend app", "  bind :80", "frontend app"], "haproxy.cfg:3: frontend 'app' has the same name as frontend 'app' declared at haproxy.cfg:1"),
        (&["listen app", "  bind :80", "backend app"], "haproxy.cfg:3: backend 'app' has the same name as listen 'app' declared at haproxy.cfg:1"),
        (&["frontend app", "  bind :80", "listen app"], "haproxy.cfg:3: listen 'app' has the same name as frontend 'app' declared at haproxy.cfg:1"),
    ]);
    // A frontend and a backend may share a name, as in HAProxy.
    let config = parse(&[
        "frontend app",
        "  bind :80",
        "  default_backend app",
        "backend app",
        "  server s 127.0.0.1:81",
    ]);
    assert_eq!(config.proxies.len(), 2);
    assert_eq!(
        proxy(&config, "app")
            .frontend
            .as_ref()
            .unwrap()
            .default_backend
            .as_deref(),
        Some("app")
    );
}

#[test]
fn default_backend_errors_point_at_the_default_backend_line() {
    assert_errors(&[
        (&["frontend app", "  bind :80", "  default_backend bk_ap", "backend bk_app"], "haproxy.cfg:3: 'default_backend bk_ap' in frontend 'app': there is no backend or listen section named 'bk_ap'"),
        (&["frontend app", "  bind :80", "  default_backend other", "frontend other", "  bind :81", "  default_backend app"], "haproxy.cfg:3: 'default_backend other' in frontend 'app': 'other' is a frontend, not a backend"),
        (&["listen l", "  bind :80", "  default_backend l"], "haproxy.cfg:3: listen 'l' names itself as 'default_backend': a listen section uses its own servers, remove this line"),
        (&["defaults", "  default_backend missing", "frontend app", "  bind :80"], "haproxy.cfg:2: 'default_backend missing' in frontend 'app': there is no backend or listen section named 'missing'"),
        (&["frontend fe", "  default_backend bk", "  default_backend"], "haproxy.cfg:3: 'default_backend' needs a value: expected 'default_backend <backend name>'"),
    ]);
}

#[test]
fn a_frontend_needs_a_bind() {
    assert_errors(&[
        (&["backend bk", "frontend app", "  default_backend bk"], "haproxy.cfg:2: frontend 'app' has no 'bind' line, so it would never receive a connection (write 'bind <addr>:<port>', or make it a backend)"),
        (&["listen l", "  server s 127.0.0.1:80"], "haproxy.cfg:1: listen 'l' has no 'bind' line, so it would never receive a connection (write 'bind <addr>:<port>', or make it a backend)"),
    ]);
}

#[test]
fn modes_must_be_compatible_like_in_haproxy() {
    assert_eq!(
        error(&["frontend fe", "  mode http", "  bind :80", "  default_backend bk", "backend bk", "  mode tcp"]),
        "haproxy.cfg:4: http frontend 'fe' (haproxy.cfg:1) cannot use tcp backend 'bk' (haproxy.cfg:5) as its default_backend: both need the same 'mode'"
    );
    // HAProxy lets a tcp frontend hand its connections to an http backend (implicit upgrade).
    let config = parse(&[
        "frontend fe",
        "  mode tcp",
        "  bind :80",
        "  default_backend bk",
        "backend bk",
        "  mode http",
    ]);
    assert_eq!(proxy(&config, "bk").mode, Mode::Http);
}

#[test]
fn bad_values_name_the_keyword() {
    assert_errors(&[
        (&["defaults", "  timeout client 30sec"], "haproxy.cfg:2: 'timeout client': invalid time '30sec': expected a number with an optional unit us, ms, s, m, h or d (default ms)"),
        (&["defaults", "  timeout connect"], "haproxy.cfg:2: 'timeout connect' needs a value: expected 'timeout connect <time>'"),
        (&["defaults", "  timeout connect 5s 10s"], "haproxy.cfg:2: 'timeout connect' takes one value, found extra '10s': expected 'timeout connect <time>'"),
        (&["defaults", "  mode health"], "haproxy.cfg:2: unsupported mode 'health': expected 'http' or 'tcp'"),
        (&["defaults", "  maxconn lots"], "haproxy.cfg:2: 'maxconn': 'lots' is not a number"),
        (&["defaults", "  retries -1"], "haproxy.cfg:2: 'retries': '-1' is not a number"),
        (&["defaults", "  balance uri"], "haproxy.cfg:2: unsupported balance algorithm 'uri': expected 'balance roundrobin|static-rr|leastconn|first|source|random'"),
        (&["defaults", "  option redispatch 1"], "haproxy.cfg:2: 'option redispatch' takes no argument, found '1'"),
        (&["defaults", "  option httpchk GET / HTTP/1.1"], "haproxy.cfg:2: 'option httpchk': the HTTP version argument ('HTTP/1.1') is not supported: expected 'option httpchk [<method>] [<uri>]'"),
        (&["defaults", "  http-check expect string OK"], "haproxy.cfg:2: 'http-check expect string' is not supported: only 'http-check expect status <code>' is"),
        (&["defaults", "  http-check expect status 42"], "haproxy.cfg:2: 'http-check expect status': '42' is not an HTTP status code (100 to 599)"),
        (&["defaults", "  http-check expect status"], "haproxy.cfg:2: only 'http-check expect status <code>' is supported"),
        (&["defaults", "  http-check send meth GET"], "haproxy.cfg:2: unknown keyword 'http-check send' in defaults section"),
        (&["defaults", "  cookie"], "haproxy.cfg:2: 'cookie' needs a name: expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
        (&["defaults", "  cookie SRV"], "haproxy.cfg:2: 'cookie SRV' needs 'insert', 'rewrite' or 'prefix' (a passive cookie is not supported): expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
        (&["defaults", "  cookie SRV insert prefix"], "haproxy.cfg:2: 'cookie': only one of 'insert', 'rewrite' and 'prefix' may be given: expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
        (&["defaults", "  cookie SRV insert secure"], "haproxy.cfg:2: unsupported cookie option 'secure': expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
    ]);
}

#[test]
fn bind_errors() {
    assert_errors(&[
        (&["frontend fe", "  bind"], "haproxy.cfg:2: 'bind' needs an address: expected 'bind <addr>:<port>[,<addr>:<port>...]'"),
        (&["frontend fe", "  bind :443 ssl crt /etc/x.pem"], "haproxy.cfg:2: unknown bind option 'ssl': pointsman supports no bind options"),
        (&["frontend fe", "  bind 127.0.0.1"], "haproxy.cfg:2: 'bind': address '127.0.0.1' has no port: expected <addr>:<port>"),
        (&["frontend fe", "  bind :80,:8o"], "haproxy.cfg:2: 'bind': invalid port '8o': expected a number from 1 to 65535"),
        (&["frontend fe", "  bind :8000-8010"], "haproxy.cfg:2: 'bind': port ranges ('8000-8010') are not supported"),
        (&["frontend fe", "  bind run/web.sock"], "haproxy.cfg:2: 'bind': address 'run/web.sock' has no port: expected <addr>:<port>"),
        (&["frontend fe", "  bind abns@web"], "haproxy.cfg:2: 'bind': address family 'abns@' is not supported here (use an IP address, 'ipv4@', 'ipv6@', 'unix@' or 'fd@')"),
    ]);
}

#[test]
fn error_display_is_file_colon_line_colon_message() {
    let err = parse_str_with_env("conf/site.cfg", "backend b\n  bogus", &env).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("conf/site.cfg", 2));
    assert_eq!(
        err.message,
        "unknown keyword 'bogus' in backend 'b' section"
    );
    assert_eq!(
        err.to_string(),
        "conf/site.cfg:2: unknown keyword 'bogus' in backend 'b' section"
    );
}

// ---------------------------------------------------------------- reload and hand-over

#[test]
fn bind_and_stats_socket_address_forms_with_quotes_and_variables() {
    let config = parse(&[
        "global",
        "    stats socket fd@${PORT-4} level admin",
        "    stats socket \"unix@/run/a b.sock\" expose-fd listeners",
        "frontend fe",
        "    bind ipv4@127.0.0.1:${PORT},ipv6@[::1]:${UNSET-81}",
        "    bind 'unix@/run/fe.sock'",
        "    bind \"fd@${LISTEN_FD-3}\"",
        "    default_backend bk",
        "backend bk",
        "    server s 127.0.0.1:80",
    ]);
    let sockets = &config.global.stats_sockets;
    assert_eq!(sockets[0].address, SocketAddress::Fd(8080));
    assert_eq!(
        sockets[1].address,
        SocketAddress::Unix("/run/a b.sock".into())
    );
    assert!(sockets[1].expose_fd_listeners);
    let binds: Vec<String> = proxy(&config, "fe")
        .frontend
        .as_ref()
        .unwrap()
        .binds
        .iter()
        .map(|b| b.addr.to_string())
        .collect();
    assert_eq!(
        binds,
        ["127.0.0.1:8080", "[::1]:81", "unix@/run/fe.sock", "fd@3"]
    );
    assert_eq!(
        error(&["frontend fe", "    bind fd@${EMPTY}"]),
        "haproxy.cfg:2: 'bind': 'fd@': expected fd@<number> with a file descriptor number of 3 or more"
    );
    assert_eq!(
        error(&["global", "    stats socket fd@2"]),
        "haproxy.cfg:2: 'stats socket': 'fd@2': expected fd@<number> with a file descriptor number of 3 or more"
    );
}

#[test]
fn reload_keywords_and_the_defaults_they_come_from() {
    let config = parse(&[
        "global",
        "    hard-stop-after 30s",
        "    server-state-base /var/lib/pointsman",
        "global",
        "    server-state-file state",
        "    pidfile /run/pointsman.pid",
        "defaults",
        "    load-server-state-from-file global",
        "backend a",
        "    server s 127.0.0.1:80",
        "defaults",
        "    load-server-state-from-file local",
        "    server-state-file-name use-backend-name",
        "backend b",
        "    server-state-file-name b.state",
        "    server s 127.0.0.1:80",
        "backend c",
        "    load-server-state-from-file none",
        "    server s 127.0.0.1:80",
    ]);
    let g = &config.global;
    assert_eq!(g.hard_stop_after, Some(std::time::Duration::from_secs(30)));
    assert_eq!(
        g.server_state_base.as_deref(),
        Some(Path::new("/var/lib/pointsman"))
    );
    assert_eq!(g.server_state_file.as_deref(), Some(Path::new("state")));
    assert_eq!(g.pidfile.as_deref(), Some(Path::new("/run/pointsman.pid")));
    let side = |name: &str| proxy(&config, name).backend.clone().unwrap();
    assert_eq!(side("a").load_state, LoadServerState::Global);
    assert_eq!(side("b").load_state, LoadServerState::Local);
    assert_eq!(side("b").state_file_name.as_deref(), Some("b.state"));
    assert_eq!(side("c").load_state, LoadServerState::None);
    assert_eq!(
        error(&["defaults", "    load-server-state-from-file sometimes"]),
        "haproxy.cfg:2: 'load-server-state-from-file': unknown value 'sometimes': expected 'load-server-state-from-file global|local|none'"
    );
    assert_eq!(
        error(&["frontend f", "    hard-stop-after 1s"]),
        "haproxy.cfg:2: 'hard-stop-after' belongs in the global section, not in frontend 'f' section"
    );
}

// ---------------------------------------------------------------- fuzz regressions

/// Inputs the fuzzer (`scripts/fuzz.sh config_parser`) found crashing the parser: each must be
/// a clean file:line error.
#[test]
fn fuzz_regressions_are_clean_errors() {
    // A quoted keyword with a space in it: its words were counted by splitting the key again.
    assert_eq!(
        error(&["global", "' '"]),
        "haproxy.cfg:2: unknown keyword ' ' in global section"
    );
}
