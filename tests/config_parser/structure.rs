//! Structure of a config: comments and line numbers, CRLF, proxy ids, `listen`, and several
//! files or a directory read as one config.

use super::*;

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
