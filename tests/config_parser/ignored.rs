//! Keywords outside the subset that are accepted with a warning, still in their own sections.

use super::*;

#[test]
fn ignored_keywords_are_accepted_with_a_warning_naming_file_and_line() {
    let config = parse(&[
        "global",
        "    log stdout format raw local0 info",
        "    daemon",
        "    user nobody",
        "    group nogroup",
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
    // `log` (line 2 and 12) is real, `user` and `group` (lines 4 and 5) are honoured (the
    // workers drop to them), `pidfile` (line 7) too (the pid file of `-p`), and so are
    // `ca-base` (line 9) and `crt-base` (line 10: where relative `ca-file` and `crt` files are).
    let expected: Vec<String> = [3, 6, 8, 15]
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
