//! HAProxy 2.6's CLI keyword table and its usage messages: `help [words]`, the reply to an
//! empty line ("Unknown command. Please enter …") and to an unknown command (the "closest
//! match" list), reproducing `cli_gen_usage_msg` of HAProxy's `src/cli.c` byte for byte.
//!
//! The table lists every keyword HAProxy 2.6 shows in `help`, in HAProxy's *registration*
//! order (the link order of the source files that register them). The order matters: when two
//! keywords are equally close to an unknown command, HAProxy keeps the one registered first.
//! The order below reproduces every capture (`foo bar`, `foo`, `xyz`, `show foo`,
//! `disable foo`, `show version\;x`). Output lines are sorted by usage text, as HAProxy does.
//!
//! pointsman accepts `wait … srv-removable` (HAProxy 2.7+) without listing it, so that
//! `help` stays identical to HAProxy 2.6's.

/// One CLI keyword: the words that select it and its help line (`None`: not listed).
#[derive(Debug)]
pub struct Keyword {
    pub words: &'static [&'static str],
    pub usage: Option<&'static str>,
}

const fn kw(words: &'static [&'static str], usage: &'static str) -> Keyword {
    Keyword {
        words,
        usage: Some(usage),
    }
}

const fn hidden(words: &'static [&'static str]) -> Keyword {
    Keyword { words, usage: None }
}

/// HAProxy matches at most this many leading words of a keyword (`CLI_PREFIX_KW_NB`).
const PREFIX_KW_NB: usize = 5;
/// At most this many fuzzy candidates are kept (`CLI_MAX_MATCHES`).
const MAX_MATCHES: usize = 5;

const ALWAYS_SHOWN: &str = "  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n";

/// Every keyword, in HAProxy 2.6's registration order.
pub static KEYWORDS: &[Keyword] = &[
    // ssl_*.c (OPTIONS_OBJS, linked first)
    kw(&["abort", "ssl", "ca-file"], "abort ssl ca-file <cafile>              : abort a transaction for a CA file"),
    kw(&["abort", "ssl", "cert"], "abort ssl cert <certfile>               : abort a transaction for a certificate file"),
    kw(&["abort", "ssl", "crl-file"], "abort ssl crl-file <crlfile>            : abort a transaction for a CRL file"),
    kw(&["add", "ssl", "crt-list"], "add ssl crt-list <list> <cert> [opts]*  : add to crt-list file <list> a line <cert> or a payload"),
    kw(&["commit", "ssl", "ca-file"], "commit ssl ca-file <cafile>             : commit a CA file"),
    kw(&["commit", "ssl", "cert"], "commit ssl cert <certfile>              : commit a certificate file"),
    kw(&["commit", "ssl", "crl-file"], "commit ssl crl-file <crlfile>           : commit a CRL file"),
    kw(&["del", "ssl", "ca-file"], "del ssl ca-file <cafile>                : delete an unused CA file"),
    kw(&["del", "ssl", "cert"], "del ssl cert <certfile>                 : delete an unused certificate file"),
    kw(&["del", "ssl", "crl-file"], "del ssl crl-file <crlfile>              : delete an unused CRL file"),
    kw(&["del", "ssl", "crt-list"], "del ssl crt-list <list> <cert[:line]>   : delete a line <cert> from crt-list file <list>"),
    kw(&["new", "ssl", "ca-file"], "new ssl ca-file <cafile>                : create a new CA file to be used in a crt-list"),
    kw(&["new", "ssl", "cert"], "new ssl cert <certfile>                 : create a new certificate file to be used in a crt-list or a directory"),
    kw(&["new", "ssl", "crl-file"], "new ssl crlfile <crlfile>               : create a new CRL file to be used in a crt-list"),
    kw(&["set", "ssl", "ca-file"], "set ssl ca-file <cafile> <payload>      : replace a CA file"),
    kw(&["set", "ssl", "cert"], "set ssl cert <certfile> <payload>       : replace a certificate file"),
    kw(&["set", "ssl", "crl-file"], "set ssl crl-file <crlfile> <payload>    : replace a CRL file"),
    kw(&["set", "ssl", "ocsp-response"], "set ssl ocsp-response <resp|payload>    : update a certificate's OCSP Response from a base64-encode DER"),
    kw(&["set", "ssl", "tls-key"], "set ssl tls-key [id|file] <key>         : set the next TLS key for the <id> or <file> listener to <key>"),
    kw(&["show", "ssl", "ca-file"], "show ssl ca-file [<cafile>[:<index>]]   : display the SSL CA files used in memory, or the details of a <cafile>, or a single certificate of index <index> of a CA file <cafile>"),
    kw(&["show", "ssl", "cert"], "show ssl cert [<certfile>]              : display the SSL certificates used in memory, or the details of a file"),
    kw(&["show", "ssl", "crl-file"], "show ssl crl-file [<crlfile[:<index>>]] : display the SSL CRL files used in memory, or the details of a <crlfile>, or a single CRL of index <index> of CRL file <crlfile>"),
    kw(&["show", "ssl", "crt-list"], "show ssl crt-list [-n] [<list>]         : show the list of crt-lists or the content of a crt-list file <list>"),
    kw(&["show", "ssl", "ocsp-response"], "show ssl ocsp-response [id]             : display the IDs of the OCSP responses used in memory, or the details of a single OCSP response"),
    kw(&["show", "ssl", "providers"], "show ssl providers                      : show loaded SSL providers"),
    kw(&["show", "tls-keys"], "show tls-keys [id|*]                    : show tls keys references or dump tls ticket keys when id specified"),
    // stream.c
    kw(&["show", "sess"], "show sess [id]                          : report the list of current sessions or dump this exact session"),
    kw(&["shutdown", "session"], "shutdown session [id]                   : kill a specific session"),
    kw(&["shutdown", "sessions", "server"], "shutdown sessions server <bk>/<srv>     : kill sessions on a server"),
    // stats.c
    kw(&["clear", "counters"], "clear counters [all]                    : clear max statistics counters (or all counters)"),
    kw(&["show", "info"], "show info [desc|json|typed|float]*      : report information about the running process"),
    kw(&["show", "schema", "json"], "show schema json                        : report schema used for stats"),
    kw(&["show", "stat"], "show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server"),
    // server.c
    kw(&["add", "server"], "add server <bk>/<srv>                   : create a new server"),
    kw(&["del", "server"], "del server <bk>/<srv>                   : remove a dynamically added server"),
    kw(&["disable", "agent"], "disable agent                           : disable agent checks"),
    kw(&["disable", "health"], "disable health                          : disable health checks"),
    kw(&["disable", "server"], "disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)"),
    kw(&["enable", "agent"], "enable agent                            : enable agent checks"),
    kw(&["enable", "health"], "enable health                           : enable health checks"),
    kw(&["enable", "server"], "enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)"),
    kw(&["get", "weight"], "get weight <bk>/<srv>                   : report a server's current weight"),
    kw(&["set", "maxconn", "server"], "set maxconn server <bk>/<srv>           : change a server's maxconn setting"),
    kw(&["set", "server"], "set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl"),
    kw(&["set", "weight"], "set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)"),
    // stick_table.c
    kw(&["clear", "table"], "clear table <table> [<filter>]*         : remove an entry from a table (filter: data/key)"),
    kw(&["set", "table"], "set table <table> key <k> [data.* <v>]* : update or create a table entry's data"),
    kw(&["show", "table"], "show table <table> [<filter>]*          : report table usage stats or dump this table's contents (filter: data/key)"),
    // tools.c
    kw(&["show", "libs"], "show libs                               : show loaded object files and libraries"),
    // peers.c
    kw(&["show", "peers"], "show peers [dict|-] [section]           : dump some information about all the peers or this peers section"),
    // resolvers.c
    kw(&["show", "resolvers"], "show resolvers [id]                     : dumps counters from all resolvers section and associated name servers"),
    // cli.c
    kw(&["operator"], "operator                                : lower the level of the current CLI session to operator"),
    kw(&["set", "maxconn", "global"], "set maxconn global <value>              : change the per-process maxconn setting"),
    kw(&["set", "rate-limit"], "set rate-limit <setting> <value>        : change a rate limiting value"),
    kw(&["set", "severity-output"], "set severity-output [none|number|string]: set presence of severity level in feedback information"),
    kw(&["set", "timeout"], "set timeout [cli] <delay>               : change a timeout setting"),
    kw(&["show", "activity"], "show activity                           : show per-thread activity stats (for support/developers)"),
    kw(&["show", "cli", "level"], "show cli level                          : display the level of the current CLI session"),
    kw(&["show", "cli", "sockets"], "show cli sockets                        : dump list of cli sockets"),
    kw(&["show", "env"], "show env [var]                          : dump environment variables known to the process"),
    kw(&["show", "fd"], "show fd [num]                           : dump list of file descriptors in use or a specific one"),
    kw(&["show", "version"], "show version                            : show version of the current process"),
    kw(&["user"], "user                                    : lower the level of the current CLI session to user"),
    hidden(&["help"]),
    hidden(&["prompt"]),
    hidden(&["quit"]),
    // proxy.c
    kw(&["disable", "dynamic-cookie", "backend"], "disable dynamic-cookie backend <bk>     : disable dynamic cookies on a specific backend"),
    kw(&["disable", "frontend"], "disable frontend <frontend>             : temporarily disable specific frontend"),
    kw(&["enable", "dynamic-cookie", "backend"], "enable dynamic-cookie backend <bk>      : enable dynamic cookies on a specific backend"),
    kw(&["enable", "frontend"], "enable frontend <frontend>              : re-enable specific frontend"),
    kw(&["set", "dynamic-cookie-key", "backend"], "set dynamic-cookie-key backend <bk> <k> : change a backend secret key for dynamic cookies"),
    kw(&["set", "maxconn", "frontend"], "set maxconn frontend <frontend> <value> : change a frontend's maxconn setting"),
    kw(&["show", "backend"], "show backend                            : list backends in the current running config"),
    kw(&["show", "errors"], "show errors [<px>] [request|response]   : report last request and/or response errors for each proxy"),
    kw(&["show", "servers", "conn"], "show servers conn [<backend>]           : dump server connections status (all or for a single backend)"),
    kw(&["shutdown", "frontend"], "shutdown frontend <frontend>            : stop a specific frontend"),
    // cache.c
    kw(&["show", "cache"], "show cache                              : show cache status"),
    // vars.c
    kw(&["get", "var"], "get var <name>                          : retrieve contents of a process-wide variable"),
    // debug.c
    kw(&["show", "threads"], "show threads                            : show some threads debugging information"),
    // sink.c
    kw(&["show", "events"], "show events [<sink>] [-w] [-n]          : show event sink state"),
    // server_state.c
    kw(&["show", "servers", "state"], "show servers state [<backend>]          : dump volatile server information (all or for a single backend)"),
    // map.c
    kw(&["add", "acl"], "add acl [@<ver>] <acl> <pattern>        : add an acl entry"),
    kw(&["add", "map"], "add map [@<ver>] <map> <key> <val>      : add a map entry (payload supported instead of key/val)"),
    kw(&["clear", "acl"], "clear acl [@<ver>] <acl>                : clear the contents of this acl"),
    kw(&["clear", "map"], "clear map [@<ver>] <map>                : clear the contents of this map"),
    kw(&["commit", "acl"], "commit acl @<ver> <acl>                 : commit the ACL at this version"),
    kw(&["commit", "map"], "commit map @<ver> <map>                 : commit the map at this version"),
    kw(&["del", "acl"], "del acl <acl> [<key>|#<ref>]            : delete acl entries matching <key>"),
    kw(&["del", "map"], "del map <map> [<key>|#<ref>]            : delete map entries matching <key>"),
    kw(&["get", "acl"], "get acl <acl> <value>                   : report the patterns matching a sample for an ACL"),
    kw(&["get", "map"], "get map <acl> <value>                   : report the keys and values matching a sample for a map"),
    kw(&["prepare", "acl"], "prepare acl <acl>                       : prepare a new version for atomic ACL replacement"),
    kw(&["prepare", "map"], "prepare map <acl>                       : prepare a new version for atomic map replacement"),
    kw(&["set", "map"], "set map <map> [<key>|#<ref>] <value>    : modify a map entry"),
    kw(&["show", "acl"], "show acl [@<ver>] <acl>]                : report available acls or dump an acl's contents"),
    kw(&["show", "map"], "show map [@ver] [map]                   : report available maps or dump a map's contents"),
    // pool.c
    kw(&["show", "pools"], "show pools                              : report information about the memory pools usage"),
    // trace.c
    kw(&["show", "trace"], "show trace [<module>]                   : show live tracing state"),
    kw(&["trace"], "trace [<module>|0] [cmd [args...]]      : manage live tracing (empty to list, 0 to stop all)"),
    // errors.c
    kw(&["show", "startup-logs"], "show startup-logs                       : report logs emitted during HAProxy startup"),
    // activity.c
    kw(&["set", "profiling"], "set profiling <what> {auto|on|off}      : enable/disable resource profiling (tasks,memory)"),
    kw(&["show", "profiling"], "show profiling [<what>|<#lines>|byaddr]*: show profiling state (all,status,tasks,memory)"),
    kw(&["show", "tasks"], "show tasks                              : show running tasks"),
];

/// The keyword selected by the leading words of a command line, as `cli_find_kw`: the first
/// registered keyword whose words all equal the first words of the line (extra words are
/// the command's arguments).
pub fn find(args: &[String]) -> Option<&'static Keyword> {
    KEYWORDS
        .iter()
        .find(|k| k.words.len() <= args.len() && k.words.iter().zip(args).all(|(w, a)| *w == a))
}

/// The reply to `help [words]` (`args` starting with `help`), to an empty line or to an
/// unknown command: HAProxy's `cli_gen_usage_msg`.
pub fn usage_message(args: &[String]) -> String {
    let (is_help, args) = match args.first() {
        Some(first) if first == "help" => (true, &args[1..]),
        _ => (false, args),
    };
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let length = matching_words(args);

    let mut out = String::from(if is_help {
        "The following commands are valid at this level:\n"
    } else if length == 0 && arg(0).is_empty() {
        "Unknown command. Please enter one of the following commands only:\n"
    } else {
        "Unknown command, but maybe one of the following ones is a better match:\n"
    });

    let matches = if arg(length).is_empty() {
        Vec::new()
    } else {
        fuzzy_matches(args, length)
    };
    let mut entries: Vec<&str> = if matches.is_empty() {
        KEYWORDS
            .iter()
            .filter(|k| shares_prefix(k, args, length))
            .filter_map(|k| k.usage)
            .collect()
    } else {
        let best = matches[0].1;
        matches
            .iter()
            .take_while(|(_, dist)| *dist <= 5 * best / 2)
            .filter_map(|(k, _)| k.usage)
            .collect()
    };
    entries.sort_unstable();
    for usage in entries {
        out.push_str("  ");
        out.push_str(usage);
        out.push('\n');
    }
    out.push_str(ALWAYS_SHOWN);
    out
}

/// The largest number of leading words of `args` that some keyword matches exactly.
fn matching_words(args: &[String]) -> usize {
    KEYWORDS
        .iter()
        .map(|k| {
            k.words
                .iter()
                .zip(args)
                .take(PREFIX_KW_NB)
                .take_while(|(w, a)| !a.is_empty() && **w == a.as_str())
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// The keyword has at least `length` words and they equal the first `length` args.
fn shares_prefix(k: &Keyword, args: &[String], length: usize) -> bool {
    k.words.len() >= length && k.words.iter().zip(args).take(length).all(|(w, a)| *w == a)
}

/// Up to [`MAX_MATCHES`] keywords whose remaining words look like the remaining args, best
/// first; on equal distance the keyword registered first wins (HAProxy's insertion order).
fn fuzzy_matches(args: &[String], length: usize) -> Vec<(&'static Keyword, usize)> {
    let mut word_sig = [0u8; 1024];
    let mut word_len = 0;
    for a in args.iter().take(PREFIX_KW_NB).skip(length) {
        if a.is_empty() {
            break;
        }
        update_fingerprint(&mut word_sig, a);
        word_len += a.len();
    }
    let mut matches: Vec<(&'static Keyword, usize)> = Vec::new();
    for k in KEYWORDS.iter().filter(|k| k.usage.is_some()) {
        if !shares_prefix(k, args, length) {
            continue;
        }
        let mut list_sig = [0u8; 1024];
        let mut total = word_len;
        for w in k.words.iter().take(PREFIX_KW_NB).skip(length) {
            update_fingerprint(&mut list_sig, w);
            total += w.len();
        }
        let dist = fingerprint_distance(&word_sig, &list_sig);
        let worst = if matches.len() == MAX_MATCHES {
            matches[MAX_MATCHES - 1].1
        } else {
            usize::MAX
        };
        if dist < 5 * total / 2 && dist < worst {
            matches.truncate(MAX_MATCHES - 1);
            let at = matches.partition_point(|(_, d)| *d <= dist);
            matches.insert(at, (k, dist));
        }
    }
    matches
}

/// HAProxy's `update_word_fingerprint`: counts the transitions between character classes
/// (letters, digit, other/begin/end) of a word into a 32×32 table; row 0 marks presence.
pub(crate) fn update_fingerprint(fp: &mut [u8; 1024], word: &str) {
    let class = |c: u8| match c.to_ascii_lowercase() {
        c @ b'a'..=b'z' => (c - b'a' + 1) as usize,
        b'0'..=b'9' => 27,
        _ => 28,
    };
    let mut from = 28;
    for &c in word.as_bytes() {
        let to = class(c);
        fp[to] = 1;
        fp[32 * from + to] = fp[32 * from + to].wrapping_add(1);
        from = to;
    }
    fp[32 * from + 28] = fp[32 * from + 28].wrapping_add(1);
}

pub(crate) fn fingerprint_distance(a: &[u8; 1024], b: &[u8; 1024]) -> usize {
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as usize).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/haproxy-2.6/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap()
    }

    /// The capture is the reply plus the session's "\n" terminator.
    fn assert_usage(line: &str, capture: &str) {
        let expected = fixture(capture);
        assert_eq!(usage_message(&words(line)) + "\n", expected, "{line}");
    }

    #[test]
    fn help_lists_every_command_verbatim() {
        assert_usage("help", "help.txt");
    }

    #[test]
    fn help_filters_by_words() {
        assert_usage("help set server", "help_set_server.txt");
        assert_usage("help show stat", "help_show.txt");
    }

    #[test]
    fn empty_line_lists_everything() {
        assert_usage("", "empty_line.txt");
    }

    #[test]
    fn unknown_commands_get_the_closest_matches() {
        assert_usage("foo bar", "unknown_cmd.txt");
        assert_usage("xyz", "unknown_cmd_xyz.txt");
        assert_usage("show foo", "unknown_show.txt");
        assert_usage("disable foo", "disable_foo.txt");
    }

    #[test]
    fn an_escaped_semicolon_stays_in_the_word() {
        let reply = usage_message(&["show".into(), "version;x".into()]);
        let expected =
            "Unknown command, but maybe one of the following ones is a better match:\n  \
             show version                            : show version of the current process\n";
        assert_eq!(reply, expected.to_string() + ALWAYS_SHOWN);
    }

    #[test]
    fn find_matches_leading_words() {
        let first = |line: &str| find(&words(line)).map(|k| k.words);
        assert_eq!(first("show stat 3 4 2"), Some(&["show", "stat"][..]));
        assert_eq!(
            first("show servers state x"),
            Some(&["show", "servers", "state"][..])
        );
        assert_eq!(first("show"), None);
        assert_eq!(first("foo"), None);
    }
}
