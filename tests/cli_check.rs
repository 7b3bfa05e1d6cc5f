//! `pointsman -c` and start-up errors: the guides' configs are accepted, the broken ones are
//! refused with file:line and exit 1, a port in use is a clear error.

mod common;

use common::*;
use std::process::Command;

fn check(path: &str) -> (i32, String) {
    let out = Command::new(POINTSMAN)
        .args(["-c", "-f", path])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bundled_configs_are_valid() {
    for cfg in [
        "configs/hatop-guide.cfg",
        "configs/runtime-api-guide.cfg",
        "configs/restart-guide.cfg",
        "configs/quickstart.cfg",
    ] {
        let (code, text) = check(cfg);
        assert_eq!(code, 0, "{cfg}: {text}");
        assert!(
            text.contains("Configuration file is valid"),
            "{cfg}: {text}"
        );
    }
}

#[test]
fn guide_000_without_addresses_is_refused_with_its_line() {
    let (code, text) = check("tests/fixtures/config/guide-000-noaddr.cfg");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("guide-000-noaddr.cfg:2:"), "{text}");
    assert!(text.contains("nginx1"), "{text}");
}

#[test]
fn unknown_keyword_is_refused_with_file_and_line() {
    let dir = temp_dir("check");
    let path = dir.join("bad.cfg");
    std::fs::write(
        &path,
        "frontend f\n    bind 127.0.0.1:1\n    frobnicate yes\n",
    )
    .unwrap();
    let (code, text) = check(path.to_str().unwrap());
    assert_eq!(code, 1);
    assert!(text.contains("bad.cfg:3:"), "{text}");
    assert!(text.contains("frobnicate"), "{text}");
}

#[test]
fn a_port_in_use_is_a_clear_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = temp_dir("inuse");
    let path = dir.join("inuse.cfg");
    std::fs::write(&path, format!("frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\nbackend b\n    server s 127.0.0.1:9\n")).unwrap();
    let out = Command::new(POINTSMAN)
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("inuse.cfg:2:"), "{text}");
    assert!(text.to_lowercase().contains("in use"), "{text}");
}
