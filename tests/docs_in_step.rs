//! The documentation held against the code, both ways: every subcommand and flag in README's
//! command list is one the binaries take (`--help`), and every one they take is in the list;
//! every keyword of docs/config.md's tables is accepted by `pointsman -c` in each section it
//! is documented for, and every keyword the config parser knows (its tables in src/config/)
//! is documented there.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The text of every `` `…` `` span of `text`, in order.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The cells of a markdown table row (`\|` inside a cell is not a separator).
fn cells(row: &str) -> Vec<String> {
    row.replace("\\|", "\u{1}")
        .trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().replace('\u{1}', "|"))
        .collect()
}

// ---- README's command list ---------------------------------------------------------------

/// The options a `--help` text lists, each as its spellings (`-c` and `--connections`),
/// without `-h`/`--help`.
fn help_options(help: &str) -> Vec<Vec<String>> {
    let mut options = Vec::new();
    let mut in_options = false;
    for line in help.lines() {
        if line.starts_with("Options:") {
            in_options = true;
            continue;
        }
        if !in_options || !line.starts_with("  ") || !line.trim_start().starts_with('-') {
            continue;
        }
        // `-c, --connections <C>`; not a `- events: …` line of a possible-values list.
        let spellings: Vec<String> = line
            .split_whitespace()
            .map(|w| w.trim_end_matches(','))
            .take_while(|w| w.len() > 1 && w.starts_with('-') && !w.ends_with(':'))
            .map(str::to_string)
            .collect();
        if !spellings.is_empty() && !spellings.iter().any(|s| s == "--help") {
            options.push(spellings);
        }
    }
    options
}

/// The subcommands a `--help` text lists under Commands, without `help`.
fn help_commands(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

fn help_of(binary: &str, args: &[&str]) -> String {
    let out = Command::new(binary)
        .args(args)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success(), "{binary} {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The flags named in a piece of README text: words starting with `-`, brackets and
/// ellipses stripped, HAProxy's multi-letter spellings (`-sf`, `-vv`, `-Ws`) read as the
/// `--sf`, `--vv`, `--Ws` they are rewritten to.
fn readme_flags<'a>(spans: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for span in spans {
        for word in span.split([' ', '/']) {
            let word = word.trim_matches(|c| c == '[' || c == ']' || c == '…');
            if !word.starts_with('-') || word == "-" {
                continue;
            }
            let flag = match word {
                "-sf" | "-st" | "-vv" | "-Ws" => format!("-{word}"),
                _ => word.to_string(),
            };
            flags.insert(flag);
        }
    }
    flags
}

/// README's "Command line:" paragraph (up to "Subcommands:").
fn readme_command_line(readme: &str) -> &str {
    let start = readme
        .find("Command line:")
        .expect("README has a Command line paragraph");
    let end = start
        + readme[start..]
            .find("Subcommands:")
            .expect("then Subcommands");
    &readme[start..end]
}

/// README's subcommand table: (program, subcommand or "", the first cell's code span).
fn readme_subcommands(readme: &str) -> Vec<(String, String, String)> {
    let table = &readme[readme
        .find("| command | what it does |")
        .expect("the table")..];
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let first = cells(row).remove(0);
            let usage = code_spans(&first)[0].to_string();
            let mut words = usage.split_whitespace();
            let program = words.next().unwrap().to_string();
            let sub = if program == "pointsman" {
                words.next().unwrap().to_string()
            } else {
                String::new()
            };
            (program, sub, usage)
        })
        .collect()
}

/// Every option of the binary named in README (by any of its spellings), and every flag in
/// README an option of the binary.
fn compare_flags(what: &str, documented: &BTreeSet<String>, options: &[Vec<String>]) {
    let missing: Vec<&Vec<String>> = options
        .iter()
        .filter(|spellings| !spellings.iter().any(|s| documented.contains(s)))
        .collect();
    let unknown: Vec<&String> = documented
        .iter()
        .filter(|flag| !options.iter().any(|spellings| spellings.contains(flag)))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "{what}: taken by the binary but not in README: {missing:?}; in README but not taken: {unknown:?}"
    );
}

#[test]
fn readme_lists_every_flag_and_subcommand_the_binaries_take() {
    let readme = repo_file("README.md");
    let main_help = help_of(POINTSMAN, &[]);
    let documented = readme_flags(code_spans(readme_command_line(&readme)));
    compare_flags("pointsman", &documented, &help_options(&main_help));

    let rows = readme_subcommands(&readme);
    let subcommands: BTreeSet<String> = rows
        .iter()
        .filter(|(program, _, _)| program == "pointsman")
        .map(|(_, sub, _)| sub.clone())
        .collect();
    assert_eq!(
        subcommands,
        help_commands(&main_help),
        "README's subcommands"
    );
    for (program, sub, usage) in &rows {
        let (binary, args) = match program.as_str() {
            "pointsman" => (POINTSMAN, vec![sub.as_str()]),
            "pointsman-backend" => (BACKEND, vec![]),
            other => panic!("README names an unknown program {other}"),
        };
        let options = help_options(&help_of(binary, &args));
        compare_flags(
            &format!("{program} {sub}"),
            &readme_flags([usage.as_str()]),
            &options,
        );
    }
}

// ---- docs/config.md's keyword tables -----------------------------------------------------

/// Sections, as docs/config.md abbreviates them.
const SECTIONS: [(char, &str); 5] = [
    ('G', "global"),
    ('D', "defaults"),
    ('F', "frontend"),
    ('L', "listen"),
    ('B', "backend"),
];

/// One documented keyword: its words and the sections it is documented for ("server" for a
/// server option).
#[derive(Debug)]
struct Documented {
    keyword: String,
    sections: Vec<&'static str>,
}

/// The leading words of a usage that name the keyword (`stats socket` of `stats socket
/// PATH…`): lower-case words, up to the first placeholder or alternative.
fn keyword_of(usage: &str) -> String {
    usage
        .split_whitespace()
        .take_while(|w| {
            w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every keyword row of docs/config.md's tables (keywords, accepted and ignored, logs and
/// stats), and every server option (the rows "server `x` / `y`").
fn documented_keywords(doc: &str) -> Vec<Documented> {
    let mut all = Vec::new();
    let tables = &doc[doc.find("## Keywords").expect("a Keywords section")..];
    for row in tables
        .lines()
        .filter(|l| l.starts_with("| `") || l.starts_with("| server `"))
    {
        let cells = cells(row);
        if cells[0].starts_with("server `") {
            for option in code_spans(&cells[0]) {
                all.push(Documented {
                    keyword: keyword_of(option),
                    sections: vec!["server"],
                });
            }
            continue;
        }
        let sections: Vec<&str> = SECTIONS
            .iter()
            .filter(|(letter, _)| cells[1].split_whitespace().any(|w| w.starts_with(*letter)))
            .map(|(_, name)| *name)
            .collect();
        // A cell may name several keywords (`user …`, `group …`).
        for usage in code_spans(&cells[0]) {
            all.push(Documented {
                keyword: keyword_of(usage),
                sections: sections.clone(),
            });
        }
    }
    all
}

/// The string literals opening each tuple of the `const NAME … = &[ … ];` table in `source`.
fn table_keys(source: &str, name: &str) -> Vec<String> {
    let start = source
        .find(&format!("const {name}:"))
        .unwrap_or_else(|| panic!("no table {name}"));
    let body = &source[start..];
    let body = &body[..body.find("\n];").expect("end of table")];
    body.split('(')
        .skip(1)
        .filter_map(|part| part.trim_start().strip_prefix('"'))
        .filter_map(|rest| rest.split('"').next())
        .filter(|key| is_keyword(key))
        .map(str::to_string)
        .collect()
}

/// Keyword text (not a message that mentions one: `"'maxconn': {m}"`).
fn is_keyword(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || " ._-".contains(c))
}

/// The keys of the `"key" =>` arms between two markers of `source`.
fn match_arms(source: &str, from: &str, to: &str) -> Vec<String> {
    let start = source.find(from).expect("start marker");
    let end = start + source[start..].find(to).expect("end marker");
    source[start..end]
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix('"'))
        .filter_map(|rest| rest.split_once("\" =>").map(|(key, _)| key.to_string()))
        .collect()
}

/// Every keyword the config parser knows, read from its tables in src/config/: the global
/// section's match, the proxy keywords and `option` flags, `log` (parsed before the table),
/// the accepted-and-ignored list, the server options, and the rule keywords (`acl`,
/// `use_backend`, `http-request`, `redirect`, `monitor-uri`, `monitor fail`, read by
/// src/config/rules.rs).
fn parser_keywords() -> BTreeSet<String> {
    let global = repo_file("src/config/global.rs");
    let proxy = repo_file("src/config/proxy.rs");
    let ignored = repo_file("src/config/ignored.rs");
    let server = repo_file("src/config/server.rs");
    let mut keys: BTreeSet<String> = BTreeSet::new();
    keys.extend(match_arms(
        &global,
        "let result = match key.as_str() {",
        "_ => return accept_ignored_or_refuse",
    ));
    keys.extend(table_keys(&proxy, "KEYWORDS"));
    keys.extend(
        table_keys(&proxy, "FLAG_OPTIONS")
            .into_iter()
            .map(|o| format!("option {o}")),
    );
    assert!(
        proxy.contains("if key == \"log\" {"),
        "proxy.rs parses `log` first"
    );
    keys.insert("log".into());
    keys.extend(
        ignored
            .split("key: \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string),
    );
    keys.extend(table_keys(&server, "KEYWORDS"));
    let rules = repo_file("src/config/rules.rs");
    let rule_keys = [
        "acl",
        "use_backend",
        "http-request",
        "http-response",
        "http-after-response",
        "redirect",
        "monitor-uri",
        "monitor",
    ];
    let reader = rules
        .split("fn is_rule_keyword(")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("rules.rs has is_rule_keyword");
    for key in rule_keys {
        assert!(
            reader.contains(&format!("\"{key}\"")),
            "rules.rs's is_rule_keyword reads {key}"
        );
    }
    keys.extend(rule_keys.map(str::to_string));
    keys
}

#[test]
fn every_keyword_the_parser_knows_is_documented() {
    let parser = parser_keywords();
    assert!(
        parser.len() > 60,
        "the parser's tables were not found: {parser:?}"
    );
    let documented = documented_keywords(&repo_file("docs/config.md"));
    // A documented usage may name more words than the parser's key
    // (`http-check expect status` for `http-check expect`).
    let undocumented: Vec<&String> = parser
        .iter()
        .filter(|key| {
            !documented
                .iter()
                .any(|d| d.keyword == **key || d.keyword.starts_with(&format!("{key} ")))
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "keywords the parser takes but docs/config.md does not document: {undocumented:?}"
    );
}

/// A line that uses the documented `keyword` with valid arguments, for `pointsman -c`: the
/// example of its longest leading words that have one (`stats admin if` is `stats admin`'s).
fn example(keyword: &str) -> Option<String> {
    let words: Vec<&str> = keyword.split(' ').collect();
    (1..=words.len())
        .rev()
        .find_map(|n| example_of(&words[..n].join(" ")))
}

fn example_of(keyword: &str) -> Option<String> {
    if keyword.starts_with("timeout ") {
        return Some(format!("{keyword} 1s"));
    }
    if keyword.starts_with("option ")
        && !matches!(keyword, "option httpchk" | "option pgsql-check user")
    {
        return Some(keyword.to_string());
    }
    let line = match keyword {
        "nbthread" => "nbthread 2",
        "maxconn" => "maxconn 100",
        "stats socket" => "stats socket @DIR@/admin.sock mode 600 level admin",
        "stats timeout" => "stats timeout 5s",
        "stats maxconn" => "stats maxconn 5",
        "tune.bufsize" => "tune.bufsize 16384",
        "hard-stop-after" => "hard-stop-after 5s",
        "server-state-file" => "server-state-file state",
        "server-state-base" => "server-state-base @DIR@",
        "pidfile" => "pidfile @DIR@/pid",
        "ssl-default-server-options" => "ssl-default-server-options ssl-min-ver TLSv1.2",
        "ssl-default-server-ciphers" => "ssl-default-server-ciphers ECDHE-ECDSA-AES128-GCM-SHA256",
        "ssl-default-server-ciphersuites" => {
            "ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256"
        }
        "ssl-server-verify" => "ssl-server-verify none",
        "mode" => "mode http",
        "bind" => "bind 127.0.0.1:65020",
        "default_backend" => "default_backend bk",
        "acl" => "acl is_api path_beg /api/",
        "use_backend" => "use_backend bk if TRUE",
        "redirect" => "redirect location /moved if FALSE",
        "balance" => "balance leastconn",
        "retries" => "retries 2",
        "retry-on" => "retry-on conn-failure 503",
        "load-server-state-from-file" => "load-server-state-from-file none",
        "server-state-file-name" => "server-state-file-name use-backend-name",
        "no option" => "no option redispatch",
        "option httpchk" => "option httpchk GET /health",
        "http-check expect status" => "option httpchk\n    http-check expect status 200",
        "http-check expect" => "option httpchk\n    http-check expect ! hdr name X-Down",
        "http-check connect" => "option httpchk\n    http-check connect port 65022",
        "http-check send" => "option httpchk\n    http-check send meth GET uri /health",
        "http-check comment" => "option httpchk\n    http-check comment ready",
        "http-check disable-on-404" => "option httpchk\n    http-check disable-on-404",
        "tcp-check connect" => "option tcp-check\n    tcp-check connect port 65022",
        "tcp-check send" => "option tcp-check\n    tcp-check send PING\\r\\n",
        "tcp-check send-binary" => "option tcp-check\n    tcp-check send-binary 50494e47",
        "tcp-check expect" => "option tcp-check\n    tcp-check expect string +PONG",
        "tcp-check comment" => "option tcp-check\n    tcp-check comment ready",
        "option pgsql-check user" => "option pgsql-check user haproxy",
        "cookie" => "cookie SRV insert indirect nocache",
        "errorfile" => "errorfile 503 @DIR@/503.http",
        "default-server" => "default-server inter 1s rise 2",
        "server" => "server extra 127.0.0.1:65021",
        "daemon" => "daemon",
        "user" => "user nobody",
        "group" => "group nogroup",
        "uid" => "uid 65534",
        "gid" => "gid 65534",
        "chroot" => "chroot /var/empty",
        "description" => "description two words",
        "ca-base" => "ca-base /etc/ssl/certs",
        "ssl-default-bind-options" => "ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
        "ssl-default-bind-ciphers" => "ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256",
        "ssl-default-bind-ciphersuites" => "ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256",
        "ssl-default-bind-curves" => "ssl-default-bind-curves X25519:P-256",
        "tune.ssl.cachesize" => "tune.ssl.cachesize 1000",
        "tune.ssl.maxrecord" => "tune.ssl.maxrecord 1400",
        "tune.maxrewrite" => "tune.maxrewrite 1024",
        "monitor-uri" => "monitor-uri /health",
        "monitor fail" => "monitor fail if TRUE",
        "crt-base" => "crt-base /etc/ssl/private",
        "log" => "log stdout format raw local0",
        "log global" => "log global",
        "no log" => "no log",
        "log-tag" => "log-tag px",
        "stats enable" => "stats enable",
        "stats uri" => "stats uri /stats",
        "stats refresh" => "stats refresh 5s",
        "stats auth" => "stats auth admin:secret",
        "stats realm" => "stats realm pointsman",
        "stats admin" => "stats admin if TRUE",
        "stats hide-version" => "stats hide-version",
        "stats prometheus" => "stats prometheus /metrics",
        "http-request" => "http-request use-service prometheus-exporter if { path /metrics }",
        "http-response" => "http-response set-header X-A a if { status 200 }",
        "http-after-response" => "http-after-response set-header X-A a",
        _ => return None,
    };
    Some(line.to_string())
}

/// A server option with a valid value (`observe` needs `check`).
fn server_option_example(option: &str) -> Option<&'static str> {
    Some(match option {
        "check" | "no-check" | "backup" | "no-backup" | "disabled" | "enabled" => "",
        "send-proxy" | "send-proxy-v2" | "no-send-proxy" | "no-send-proxy-v2" => "",
        "ssl" => "ssl verify none",
        "no-ssl" => "",
        "weight" => "weight 2",
        "inter" => "inter 1s",
        "rise" => "rise 2",
        "fall" => "fall 2",
        "maxconn" => "maxconn 10",
        "cookie" => "cookie c1",
        "fastinter" => "fastinter 1s",
        "downinter" => "downinter 1s",
        "slowstart" => "slowstart 1s",
        "observe" => "check observe layer7",
        "error-limit" => "error-limit 5",
        "on-error" => "on-error mark-down",
        _ => return None,
    })
}

/// A small valid config with `line` added to `section` (or, for "server", to a server line).
fn config_with(section: &str, line: &str) -> String {
    let mut text = String::new();
    let add = |text: &mut String, name: &str| {
        if name == section {
            text.push_str(&format!("    {line}\n"));
        }
    };
    let server_options = if section == "server" { line } else { "" };
    text.push_str("global\n");
    add(&mut text, "global");
    text.push_str(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n",
    );
    add(&mut text, "defaults");
    text.push_str("frontend fe\n    bind 127.0.0.1:65010\n    default_backend bk\n");
    add(&mut text, "frontend");
    text.push_str(&format!(
        "backend bk\n    server s1 127.0.0.1:65011 {server_options}\n"
    ));
    add(&mut text, "backend");
    text.push_str(&format!(
        "listen li\n    bind 127.0.0.1:65012\n    server s2 127.0.0.1:65013 {server_options}\n"
    ));
    add(&mut text, "listen");
    text
}

/// `pointsman -c` on `text`: exit status and output.
fn check_config(dir: &Path, text: &str) -> (Option<i32>, String) {
    let path = dir.join("check.cfg");
    std::fs::write(&path, text.replace("@DIR@", dir.to_str().unwrap())).unwrap();
    let out = Command::new(POINTSMAN)
        .arg("-c")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("run pointsman -c");
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), output)
}

#[test]
fn every_documented_keyword_is_accepted_where_it_is_documented() {
    let dir = temp_dir("docs-keywords");
    // The file the `errorfile` example names.
    std::fs::write(
        dir.join("503.http"),
        "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\nbusy\n",
    )
    .unwrap();
    let documented = documented_keywords(&repo_file("docs/config.md"));
    assert!(documented.len() > 60, "the tables were not found");
    let (code, text) = check_config(&dir, &config_with("none", ""));
    assert_eq!(code, Some(0), "the skeleton config: {text}");
    let mut failures = Vec::new();
    for d in &documented {
        for &section in &d.sections {
            let line = if section == "server" {
                server_option_example(&d.keyword).map(|v| {
                    if v.is_empty() {
                        d.keyword.clone()
                    } else {
                        v.to_string()
                    }
                })
            } else {
                example(&d.keyword)
            };
            let Some(line) = line else {
                failures.push(format!(
                    "{}: no example in tests/docs_in_step.rs",
                    d.keyword
                ));
                continue;
            };
            let (code, text) = check_config(&dir, &config_with(section, &line));
            if code != Some(0) {
                failures.push(format!("`{line}` in {section}: {text}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "documented but refused:\n{}",
        failures.join("\n")
    );
    // And the check can say no: a keyword nobody documented is refused.
    let (code, text) = check_config(&dir, &config_with("backend", "frobnicate yes"));
    assert_eq!(code, Some(1), "{text}");
}
