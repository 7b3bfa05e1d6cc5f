//! The operators' guides' configs and the HAProxy reference captures' configs (copied into
//! `tests/fixtures/config/`): accepted as written, with the ids and lines the guides rely on.

use super::*;

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
