//! Build facts for `pointsman -vv` (HAProxy's "Build options"): the target, the profile and
//! its settings, the compiler, and the TLS library's version. Cargo gives a build script the
//! target, optimisation level, debug info and panic strategy; the profile's name comes from
//! the output directory (Cargo's `PROFILE` says `release` for every profile that inherits
//! it), LTO and codegen units from the profile's section of Cargo.toml, versions from
//! Cargo.lock.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| "?".into());
    let profile = profile_name().unwrap_or_else(|| env("PROFILE"));
    let settings = profile_settings(&profile);
    let lto = settings_value(&settings, "lto").unwrap_or_else(|| "false".into());
    let units = settings_value(&settings, "codegen-units").unwrap_or_else(|| "default".into());
    let facts = [
        ("POINTSMAN_BUILD_TARGET", env("TARGET")),
        ("POINTSMAN_BUILD_PROFILE", profile),
        ("POINTSMAN_BUILD_OPT_LEVEL", env("OPT_LEVEL")),
        ("POINTSMAN_BUILD_DEBUG", env("DEBUG")),
        ("POINTSMAN_BUILD_PANIC", env("CARGO_CFG_PANIC")),
        ("POINTSMAN_BUILD_LTO", lto),
        ("POINTSMAN_BUILD_CODEGEN_UNITS", units),
        ("POINTSMAN_BUILD_RUSTC", rustc_version()),
        ("POINTSMAN_BUILD_RUSTLS", locked_version("rustls")),
        ("POINTSMAN_BUILD_RING", locked_version("ring")),
        ("POINTSMAN_BUILD_GLOMMIO", locked_version("glommio")),
    ];
    for (name, value) in facts {
        println!("cargo:rustc-env={name}={value}");
    }
}

/// `release-lto` from `target/release-lto/build/pointsman-HASH/out`.
fn profile_name() -> Option<String> {
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR")?);
    let profile_dir = out_dir.ancestors().nth(3)?;
    Some(profile_dir.file_name()?.to_str()?.to_string())
}

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".into(), |v| v.trim().to_string())
}

/// The lines of `[profile.NAME]` in Cargo.toml (`release` for `--release`).
fn profile_settings(profile: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string("Cargo.toml").unwrap_or_default();
    let header = format!("[profile.{profile}]");
    manifest
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(str::to_string)
        .collect()
}

fn settings_value(settings: &[String], key: &str) -> Option<String> {
    settings.iter().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The version Cargo.lock pins for package `name` (the first entry of that name).
fn locked_version(name: &str) -> String {
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = ")) {
                return version.trim_matches('"').to_string();
            }
        }
    }
    "?".into()
}
