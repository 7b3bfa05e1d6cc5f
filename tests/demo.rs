//! `pointsman demo`, the README's first command: it must finish with zero errors and show the
//! switch to the backup and back, in both of its variants.

mod common;

use common::POINTSMAN;
use std::process::Command;

fn demo(args: &[&str]) -> (bool, String) {
    let dir = common::temp_dir("demo");
    let plot = dir.join("demo.svg");
    let out = Command::new(POINTSMAN)
        .arg("demo")
        .args(args)
        .arg("--plot")
        .arg(&plot)
        .output()
        .expect("run pointsman demo");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let svg = std::fs::read_to_string(&plot).unwrap_or_default();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "no SVG plot written"
    );
    (out.status.success(), text)
}

#[test]
fn the_guides_demo_switches_to_the_backup_and_back_with_zero_errors() {
    let (ok, text) = demo(&["--every", "100ms"]);
    assert!(ok, "{text}");
    assert!(text.contains("OK: zero failed requests"), "{text}");
    // Before the switch nginx2 ("nginx 1.18.0") answers, the backup after it, nginx2 again after.
    let lines: Vec<&str> = text.lines().collect();
    let disable = lines
        .iter()
        .position(|l| l.contains(">>> disable server bk_app/nginx2"))
        .expect("disable line");
    let enable = lines
        .iter()
        .position(|l| l.contains(">>> enable server bk_app/nginx2"))
        .expect("enable line");
    let requests = |range: std::ops::Range<usize>| -> Vec<&str> {
        lines[range]
            .iter()
            .copied()
            .filter(|l| l.contains(" req#"))
            .collect()
    };
    let before = requests(0..disable);
    let during = requests(disable..enable);
    let after = requests(enable..lines.len());
    assert!(
        !before.is_empty() && before.iter().all(|l| l.contains(" 200 nginx 1.18.0")),
        "{before:?}"
    );
    assert!(
        !during.is_empty() && during.iter().all(|l| l.contains(" 200 nginx 1.19.8")),
        "{during:?}"
    );
    assert!(
        !after.is_empty() && after.iter().all(|l| l.contains(" 200 nginx 1.18.0")),
        "{after:?}"
    );
}

#[test]
fn the_high_rate_demo_flips_under_load_with_zero_errors() {
    let (ok, text) = demo(&["--rate", "400", "--duration", "7s"]);
    assert!(ok, "{text}");
    assert!(text.contains("OK: zero failed requests"), "{text}");
    assert!(
        text.contains("server nginx 1.19.8") && text.contains("server nginx 1.18.0"),
        "{text}"
    );
}
