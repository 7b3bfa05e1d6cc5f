//! The haproxy.cfg parser through its public API: every keyword of the subset, `defaults`
//! inheritance, every error message with its exact line, warnings, quoting and `${VAR}`, and
//! the operators' guides' configs (copied into `tests/fixtures/config/`).
//!
//! One file per part of a config, sharing the helpers below:
//! - `guides`: the operators' guides' and the reference captures' configs.
//! - `structure`: line numbers, ids, `listen`, several files or a directory.
//! - `global`, `stats_page`, `logs`: those sections and keywords.
//! - `proxy`, `server`, `defaults`: proxy keywords, `server` lines, `defaults` inheritance.
//! - `ignored`, `warnings`: what is accepted with a warning.
//! - `quoting`: quotes and `${VAR}`.
//! - `errors`: every error message with its line, and the fuzzer's regressions.
//! - `reload`: address forms and reload keywords.

mod defaults;
mod errors;
mod global;
mod guides;
mod ignored;
mod logs;
mod proxy;
mod quoting;
mod reload;
mod server;
mod stats_page;
mod structure;
mod warnings;

use pointsman::config::{
    parse_files, parse_str_with_env, Algorithm, BindSsl, CheckConnect, CheckExpect, Config,
    CookieMode, HttpCheck, HttpCheckRule, HttpCheckSend, HttpChkRequest, HttpMatch, Level,
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

/// (config lines, expected `file:line: message`)
fn assert_errors(cases: &[(&[&str], &str)]) {
    for (lines, expected) in cases {
        assert_eq!(error(lines), *expected, "config:\n{}", cfg(lines));
    }
}
