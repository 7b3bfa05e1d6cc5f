//! HAProxy's command line spelled the way clap reads it.
//!
//! HAProxy has multi-letter flags behind a single dash (`-sf PID…`, `-st PID…`, `-vv`, `-Ws`)
//! that clap would read as bundles of one-letter flags (`-s -f`). Before clap sees the
//! arguments, each of these exact words becomes a long option: `-sf` → `--sf`, `-st` →
//! `--st`, `-vv` → `--vv`, `-Ws` → `--Ws`. Only the proxy's own command line is rewritten:
//! a subcommand (`ctl`, `load`, `demo`, `help`) keeps its arguments as they are.

use std::ffi::OsString;

/// The subcommands, whose arguments are never rewritten.
const SUBCOMMANDS: &[&str] = &["ctl", "load", "demo", "generate-manuals", "help"];

/// The words rewritten, and what they become.
const REWRITES: &[(&str, &str)] = &[
    ("-sf", "--sf"),
    ("-st", "--st"),
    ("-vv", "--vv"),
    ("-Ws", "--Ws"),
];

/// `args` (program name first) with HAProxy's multi-letter flags as long options.
pub fn haproxy_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let is_subcommand = args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| SUBCOMMANDS.contains(&a));
    if is_subcommand {
        return args;
    }
    for arg in args.iter_mut().skip(1) {
        if let Some((_, long)) = REWRITES
            .iter()
            .find(|(short, _)| arg.to_str() == Some(short))
        {
            *arg = OsString::from(long);
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(line: &str) -> Vec<String> {
        haproxy_args(line.split(' ').map(OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn multi_letter_flags_become_long_options() {
        assert_eq!(
            rewrite("pointsman -f a.cfg -x /run/s.sock -sf 12 13"),
            [
                "pointsman",
                "-f",
                "a.cfg",
                "-x",
                "/run/s.sock",
                "--sf",
                "12",
                "13"
            ]
        );
        assert_eq!(rewrite("pointsman -st 7"), ["pointsman", "--st", "7"]);
        assert_eq!(rewrite("pointsman -vv"), ["pointsman", "--vv"]);
        assert_eq!(
            rewrite("pointsman -Ws -f x"),
            ["pointsman", "--Ws", "-f", "x"]
        );
    }

    #[test]
    fn other_words_and_subcommands_are_left_alone() {
        assert_eq!(rewrite("pointsman -f -sfx"), ["pointsman", "-f", "-sfx"]);
        assert_eq!(rewrite("pointsman -W -v"), ["pointsman", "-W", "-v"]);
        assert_eq!(
            rewrite("pointsman load -st http://x/"),
            ["pointsman", "load", "-st", "http://x/"]
        );
    }
}
