//! Errors: every message with its exact `file:line`, and the fuzzer's regressions.

use super::*;

#[test]
fn unknown_keywords_name_file_line_and_section() {
    assert_errors(&[
        (&["backend bk_app", "    server s 127.0.0.1:80", "    foo bar"], "haproxy.cfg:3: unknown keyword 'foo' in backend 'bk_app' section"),
        (&["frontend fe", "    use-server s if x"], "haproxy.cfg:2: unknown keyword 'use-server' in frontend 'fe' section"),
        (&["backend b", "    use_backend bk if TRUE"], "haproxy.cfg:2: 'use_backend' is not allowed in backend 'b' (allowed in: frontend, listen)"),
        (&["defaults", "    acl a path /"], "haproxy.cfg:2: 'acl' is not allowed in defaults section (allowed in: frontend, listen, backend)"),
        (&["frontend fe", "    mode tcp", "    bind 127.0.0.1:1", "    use_backend bk if TRUE", "backend bk", "    mode tcp"], "haproxy.cfg:4: 'use_backend' in mode tcp frontend 'fe' is not supported yet: TCP sessions go to its default_backend"),
        (&["defaults", "    timeout tarpit 1h"], "haproxy.cfg:2: unknown keyword 'timeout tarpit' in defaults section"),
        (&["listen l", "    option http-server-close"], "haproxy.cfg:2: unknown option 'http-server-close' in listen 'l' section"),
        (&["backend b", "    no balance"], "haproxy.cfg:2: 'no balance' is not supported: only 'no option <name>' and 'no log' are"),
        (&["backend b", "    no option httpchk"], "haproxy.cfg:2: 'no option httpchk' is not supported: only boolean options can be negated"),
        (&["backend b", "    no"], "haproxy.cfg:2: 'no' needs a keyword: expected 'no option <name>'"),
        (&["backend b", "    timeout"], "haproxy.cfg:2: 'timeout' needs a second word, e.g. 'timeout client 30s'"),
        (&["backend b", "    option"], "haproxy.cfg:2: 'option' needs a second word, e.g. 'option redispatch'"),
        (&["listen l", "    stats"], "haproxy.cfg:2: 'stats' needs a second word, e.g. 'stats enable', or 'stats socket <path>' in the global section"),
        (&["listen l", "    stats foo"], "haproxy.cfg:2: unknown keyword 'stats foo' in listen 'l' section"),
    ]);
}

#[test]
fn section_errors() {
    assert_errors(&[
        (&["", "  bind :80"], "haproxy.cfg:2: 'bind' found before any section: a config starts with 'global', 'defaults', 'frontend <name>', 'backend <name>' or 'listen <name>'"),
        (&["userlist admins", "  user a password x"], "haproxy.cfg:1: 'userlist' sections are not supported"),
        (&["resolvers dns"], "haproxy.cfg:1: 'resolvers' sections are not supported"),
        (&["frontend"], "haproxy.cfg:1: 'frontend' needs a name: expected 'frontend <name>'"),
        (&["backend a b"], "haproxy.cfg:1: 'backend a' takes no other argument, found 'b'"),
        (&["listen web 0.0.0.0:80"], "haproxy.cfg:1: 'listen web 0.0.0.0:80': the old address-on-the-header form is not supported; write 'bind 0.0.0.0:80' on its own line"),
        (&["frontend fe from web"], "haproxy.cfg:1: 'frontend fe from <defaults>' is not supported: named defaults are not inherited"),
        (&["defaults web from base"], "haproxy.cfg:1: 'defaults <name> from <other>' is not supported: write the values out in this section"),
        (&["global extra"], "haproxy.cfg:1: 'global' takes no argument, found 'extra'"),
        (&["backend bk/app"], "haproxy.cfg:1: character '/' is not permitted in backend name 'bk/app' (use letters, digits, '-', '_', '.' and ':')"),
    ]);
}

#[test]
fn keywords_in_the_wrong_section() {
    assert_errors(&[
        (&["backend bk", "  bind :80"], "haproxy.cfg:2: 'bind' is not allowed in backend 'bk' section (allowed in: frontend, listen)"),
        (&["defaults", "  bind :80"], "haproxy.cfg:2: 'bind' is not allowed in defaults section (allowed in: frontend, listen)"),
        (&["frontend fe", "  server s 127.0.0.1:80"], "haproxy.cfg:2: 'server' is not allowed in frontend 'fe' section (allowed in: listen, backend)"),
        (&["defaults", "  server s 127.0.0.1:80"], "haproxy.cfg:2: 'server' is not allowed in defaults section (allowed in: listen, backend)"),
        (&["frontend fe", "  balance roundrobin"], "haproxy.cfg:2: 'balance' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  option allbackups"], "haproxy.cfg:2: 'option allbackups' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  timeout server 5s"], "haproxy.cfg:2: 'timeout server' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["backend bk", "  timeout client 5s"], "haproxy.cfg:2: 'timeout client' is not allowed in backend 'bk' section (allowed in: defaults, frontend, listen)"),
        (&["backend bk", "  maxconn 5"], "haproxy.cfg:2: 'maxconn' is not allowed in backend 'bk' section (allowed in: defaults, frontend, listen)"),
        (&["backend bk", "  default_backend x"], "haproxy.cfg:2: 'default_backend' is not allowed in backend 'bk' section (allowed in: defaults, frontend, listen)"),
        (&["frontend fe", "  option httpchk"], "haproxy.cfg:2: 'option httpchk' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  cookie S insert"], "haproxy.cfg:2: 'cookie' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["frontend fe", "  default-server check"], "haproxy.cfg:2: 'default-server' is not allowed in frontend 'fe' section (allowed in: defaults, listen, backend)"),
        (&["backend bk", "  nbthread 2"], "haproxy.cfg:2: 'nbthread' belongs in the global section, not in backend 'bk' section"),
    ]);
}

#[test]
fn server_errors() {
    let at_line_2 = |server_line: &str| error(&as_strs(&backend_with(&[server_line])));
    let cases: &[(&str, &str)] = &[
        ("server nginx1 check backup", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found 'check'"),
        ("server nginx1 weight 3", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found 'weight'"),
        ("server nginx1 sni req.hdr(host)", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found 'sni'"),
        ("server nginx1", "server 'nginx1' in backend 'bk' has no address: expected 'server <name> <addr>:<port> [options]', found nothing"),
        ("server", "'server' in backend 'bk' needs a name and an address: expected 'server <name> <addr>:<port> [options]'"),
        ("server s 127.0.0.1", "server 's' in backend 'bk': address '127.0.0.1' has no port: expected <addr>:<port>"),
        ("server s localhost", "server 's' in backend 'bk': address 'localhost' has no port: expected <addr>:<port>"),
        ("server s web1.example.com:80", "server 's' in backend 'bk': 'web1.example.com' is not an IP address (host names other than 'localhost' are not resolved)"),
        ("server s 127.0.0.1:0", "server 's' in backend 'bk': invalid port '0': expected a number from 1 to 65535"),
        ("server s 127.0.0.1:80 weight 257", "server 's' in backend 'bk': weight 257 is out of range: expected 0 to 256"),
        ("server s 127.0.0.1:80 weight heavy", "server 's' in backend 'bk': 'weight': 'heavy' is not a number"),
        ("server s 127.0.0.1:80 weight", "server 's' in backend 'bk': 'weight' needs a value"),
        ("server s 127.0.0.1:80 inter 2sec", "server 's' in backend 'bk': 'inter': invalid time '2sec': expected a number with an optional unit us, ms, s, m, h or d (default ms)"),
        ("server s 127.0.0.1:80 inter 0", "server 's' in backend 'bk': 'inter' must be greater than 0"),
        ("server s 127.0.0.1:80 rise 0", "server 's' in backend 'bk': 'rise' must be at least 1"),
        ("server s 127.0.0.1:80 fall -1", "server 's' in backend 'bk': 'fall': '-1' is not a number"),
        ("server s 127.0.0.1:80 maxconn x", "server 's' in backend 'bk': 'maxconn': 'x' is not a number"),
        ("server s 127.0.0.1:80 npn http/1.1", "server 's' in backend 'bk': unknown server option 'npn' (supported: check, backup, weight, disabled, inter, rise, fall, maxconn, cookie, no-check, no-backup, enabled, fastinter, downinter, slowstart, observe, error-limit, on-error, send-proxy, send-proxy-v2, no-send-proxy, no-send-proxy-v2, ssl, no-ssl, verify, ca-file, crt, sni, alpn, verifyhost, no-verifyhost, check-ssl, no-check-ssl, check-sni, no-ssl-reuse, ssl-reuse, no-tls-tickets, tls-tickets, ssl-min-ver, ssl-max-ver, ciphers, ciphersuites)"),
        ("server s 127.0.0.1:80 observe layer3", "server 's' in backend 'bk': 'observe' expects 'layer4' or 'layer7', not 'layer3'"),
        ("server s 127.0.0.1:80 on-error reboot", "server 's' in backend 'bk': 'on-error' expects 'fastinter', 'fail-check', 'sudden-death' or 'mark-down', not 'reboot'"),
        ("server s 127.0.0.1:80 error-limit 0", "server 's' in backend 'bk': 'error-limit' must be at least 1"),
        ("server s 127.0.0.1:80 fastinter 0", "server 's' in backend 'bk': 'fastinter' must be greater than 0"),
        ("server s 127.0.0.1:80 downinter", "server 's' in backend 'bk': 'downinter' needs a value"),
        ("retry-on", "'retry-on' needs at least one keyword: expected 'retry-on none|conn-failure|empty-response|junk-response|response-timeout|0rtt-rejected|404|408|425|500|501|502|503|504|all-retryable-errors ...'"),
        ("retry-on 505", "'retry-on': unknown keyword '505': expected 'retry-on none|conn-failure|empty-response|junk-response|response-timeout|0rtt-rejected|404|408|425|500|501|502|503|504|all-retryable-errors ...'"),
        ("retry-on none 503", "'retry-on none' may not be combined with other keywords"),
        ("server s! 127.0.0.1:80", "character '!' is not permitted in server name 's!' (use letters, digits, '-', '_', '.' and ':')"),
        ("default-server weight 300", "'default-server' in backend 'bk': weight 300 is out of range: expected 0 to 256"),
        ("default-server port 81", "'default-server' in backend 'bk': unknown server option 'port' (supported: check, backup, weight, disabled, inter, rise, fall, maxconn, cookie, no-check, no-backup, enabled, fastinter, downinter, slowstart, observe, error-limit, on-error, send-proxy, send-proxy-v2, no-send-proxy, no-send-proxy-v2, ssl, no-ssl, verify, ca-file, crt, sni, alpn, verifyhost, no-verifyhost, check-ssl, no-check-ssl, check-sni, no-ssl-reuse, ssl-reuse, no-tls-tickets, tls-tickets, ssl-min-ver, ssl-max-ver, ciphers, ciphersuites)"),
    ];
    for (line, message) in cases {
        assert_eq!(
            at_line_2(line),
            format!("haproxy.cfg:2: {message}"),
            "{line}"
        );
    }
    assert_eq!(
        error(&["defaults", "  default-server rise x"]),
        "haproxy.cfg:2: 'default-server' in defaults section: 'rise': 'x' is not a number"
    );
}

#[test]
fn duplicate_server_names_in_a_backend() {
    assert_eq!(
        error(&[
            "backend bk_app",
            "  server nginx1 127.0.0.1:81",
            "  server nginx2 127.0.0.1:82",
            "  server nginx1 127.0.0.1:83"
        ]),
        "haproxy.cfg:4: server 'nginx1' in backend 'bk_app' is already declared at haproxy.cfg:2"
    );
    // The same server name in two backends is fine.
    parse(&[
        "backend a",
        "  server s 127.0.0.1:81",
        "backend b",
        "  server s 127.0.0.1:81",
    ]);
}

#[test]
fn duplicate_proxy_names_follow_haproxy() {
    assert_errors(&[
        (&["backend app", "frontend x", "  bind :80", "backend app"], "haproxy.cfg:4: backend 'app' has the same name as backend 'app' declared at haproxy.cfg:1"),
        (&["frontend app", "  bind :80", "frontend app"], "haproxy.cfg:3: frontend 'app' has the same name as frontend 'app' declared at haproxy.cfg:1"),
        (&["listen app", "  bind :80", "backend app"], "haproxy.cfg:3: backend 'app' has the same name as listen 'app' declared at haproxy.cfg:1"),
        (&["frontend app", "  bind :80", "listen app"], "haproxy.cfg:3: listen 'app' has the same name as frontend 'app' declared at haproxy.cfg:1"),
    ]);
    // A frontend and a backend may share a name, as in HAProxy.
    let config = parse(&[
        "frontend app",
        "  bind :80",
        "  default_backend app",
        "backend app",
        "  server s 127.0.0.1:81",
    ]);
    assert_eq!(config.proxies.len(), 2);
    assert_eq!(
        proxy(&config, "app")
            .frontend
            .as_ref()
            .unwrap()
            .default_backend
            .as_deref(),
        Some("app")
    );
}

#[test]
fn default_backend_errors_point_at_the_default_backend_line() {
    assert_errors(&[
        (&["frontend app", "  bind :80", "  default_backend bk_ap", "backend bk_app"], "haproxy.cfg:3: 'default_backend bk_ap' in frontend 'app': there is no backend or listen section named 'bk_ap'"),
        (&["frontend app", "  bind :80", "  default_backend other", "frontend other", "  bind :81", "  default_backend app"], "haproxy.cfg:3: 'default_backend other' in frontend 'app': 'other' is a frontend, not a backend"),
        (&["listen l", "  bind :80", "  default_backend l"], "haproxy.cfg:3: listen 'l' names itself as 'default_backend': a listen section uses its own servers, remove this line"),
        (&["defaults", "  default_backend missing", "frontend app", "  bind :80"], "haproxy.cfg:2: 'default_backend missing' in frontend 'app': there is no backend or listen section named 'missing'"),
        (&["frontend fe", "  default_backend bk", "  default_backend"], "haproxy.cfg:3: 'default_backend' needs a value: expected 'default_backend <backend name>'"),
    ]);
}

#[test]
fn a_frontend_needs_a_bind() {
    assert_errors(&[
        (&["backend bk", "frontend app", "  default_backend bk"], "haproxy.cfg:2: frontend 'app' has no 'bind' line, so it would never receive a connection (write 'bind <addr>:<port>', or make it a backend)"),
        (&["listen l", "  server s 127.0.0.1:80"], "haproxy.cfg:1: listen 'l' has no 'bind' line, so it would never receive a connection (write 'bind <addr>:<port>', or make it a backend)"),
    ]);
}

#[test]
fn modes_must_be_compatible_like_in_haproxy() {
    assert_eq!(
        error(&["frontend fe", "  mode http", "  bind :80", "  default_backend bk", "backend bk", "  mode tcp"]),
        "haproxy.cfg:4: http frontend 'fe' (haproxy.cfg:1) cannot use tcp backend 'bk' (haproxy.cfg:5) as its default_backend: both need the same 'mode'"
    );
    // HAProxy lets a tcp frontend hand its connections to an http backend (implicit upgrade).
    let config = parse(&[
        "frontend fe",
        "  mode tcp",
        "  bind :80",
        "  default_backend bk",
        "backend bk",
        "  mode http",
    ]);
    assert_eq!(proxy(&config, "bk").mode, Mode::Http);
}

#[test]
fn bad_values_name_the_keyword() {
    assert_errors(&[
        (&["defaults", "  timeout client 30sec"], "haproxy.cfg:2: 'timeout client': invalid time '30sec': expected a number with an optional unit us, ms, s, m, h or d (default ms)"),
        (&["defaults", "  timeout connect"], "haproxy.cfg:2: 'timeout connect' needs a value: expected 'timeout connect <time>'"),
        (&["defaults", "  timeout connect 5s 10s"], "haproxy.cfg:2: 'timeout connect' takes one value, found extra '10s': expected 'timeout connect <time>'"),
        (&["defaults", "  mode health"], "haproxy.cfg:2: unsupported mode 'health': expected 'http' or 'tcp'"),
        (&["defaults", "  maxconn lots"], "haproxy.cfg:2: 'maxconn': 'lots' is not a number"),
        (&["defaults", "  retries -1"], "haproxy.cfg:2: 'retries': '-1' is not a number"),
        (&["defaults", "  balance uri"], "haproxy.cfg:2: unsupported balance algorithm 'uri': expected 'balance roundrobin|static-rr|leastconn|first|source|random'"),
        (&["defaults", "  option redispatch 1"], "haproxy.cfg:2: 'option redispatch' takes no argument, found '1'"),
        (&["defaults", "  option httpchk GET / HTTP/1.1\\r\\nHost:\\ www"], "haproxy.cfg:2: 'option httpchk': the version ('HTTP/1.1\\r\\nHost: www') carries headers: write them as 'http-check send hdr <name> <value>'"),
        (&["defaults", "  http-check expect foo bar"], "haproxy.cfg:2: 'http-check expect' : 'only supports [!]string', '[!]rstring', '[!]status', '[!]rstatus', [!]hdr, [!]fhdr or comment but got 'foo' as argument."),
        (&["defaults", "  http-check expect status abc"], "haproxy.cfg:2: 'http-check expect' : invalid character 'a' in the list of status codes."),
        (&["defaults", "  http-check expect status"], "haproxy.cfg:2: 'http-check expect' : 'status' expects a <pattern> as argument."),
        (&["defaults", "  http-check send foo bar"], "haproxy.cfg:2: 'http-check send' : expects 'comment', 'meth', 'uri', 'ver', 'hdr' or 'body' but got 'foo' as argument."),
        (&["defaults", "  http-check send meth GET", "  http-check send meth GET"], "haproxy.cfg:3: 'http-check send' : unable to add http-check send rule at step 1 (missing connect rule)."),
        (&["defaults", "  http-check expect status 200", "  http-check connect"], "haproxy.cfg:3: 'http-check connect' : first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset."),
        (&["defaults", "  cookie"], "haproxy.cfg:2: 'cookie' needs a name: expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
        (&["defaults", "  cookie SRV"], "haproxy.cfg:2: 'cookie SRV' needs 'insert', 'rewrite' or 'prefix' (a passive cookie is not supported): expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
        (&["defaults", "  cookie SRV insert prefix"], "haproxy.cfg:2: 'cookie': only one of 'insert', 'rewrite' and 'prefix' may be given: expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
        (&["defaults", "  cookie SRV insert secure"], "haproxy.cfg:2: unsupported cookie option 'secure': expected 'cookie <name> insert|rewrite|prefix [indirect] [nocache]'"),
    ]);
}

#[test]
fn bind_errors() {
    assert_errors(&[
        (&["frontend fe", "  bind"], "haproxy.cfg:2: 'bind' needs an address: expected 'bind <addr>:<port>[,<addr>:<port>...]'"),
        (&["frontend fe", "  bind :80 proto foo"], "haproxy.cfg:2: 'proto' :  unknown MUX protocol 'foo'"),
        (&["frontend fe", "  bind :80 proto h2"], "haproxy.cfg:2: 'proto' : 'h2' is not supported yet: pointsman speaks HTTP/1.1"),
        (&["frontend fe", "  bind :443 ssl crt /etc/x.pem ca-ignore-err all"], "haproxy.cfg:2: unknown bind option 'ca-ignore-err': pointsman supports 'proto h1', 'ssl', 'crt', 'alpn', 'strict-sni', 'ssl-min-ver', 'ssl-max-ver', 'no-tlsv1x', 'force-tlsv1x', 'ciphers', 'ciphersuites', 'curves', 'no-tls-tickets', 'prefer-client-ciphers', 'ca-file', 'verify', 'crl-file' and 'tls-ticket-keys'"),
        (&["frontend fe", "  bind :443 ssl crt /etc/x.pem ssl-min-ver TLSv2"], "haproxy.cfg:2: 'ssl-min-ver' : unknown value 'TLSv2', expected SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3"),
        (&["frontend fe", "  bind :443 ssl crt /etc/x.pem verify"], "haproxy.cfg:2: 'verify' : missing value for bind ':443'"),
        (&["frontend fe", "  bind :443 ssl"], "haproxy.cfg:2: bind ':443' : 'ssl' needs a certificate: add 'crt <file>'"),
        (&["frontend fe", "  bind :443 ssl crt"], "haproxy.cfg:2: 'crt' : missing value for bind ':443'"),
        (&["frontend fe", "  bind 127.0.0.1"], "haproxy.cfg:2: 'bind': address '127.0.0.1' has no port: expected <addr>:<port>"),
        (&["frontend fe", "  bind :80,:8o"], "haproxy.cfg:2: 'bind': invalid port '8o': expected a number from 1 to 65535"),
        (&["frontend fe", "  bind :8000-8010"], "haproxy.cfg:2: 'bind': port ranges ('8000-8010') are not supported"),
        (&["frontend fe", "  bind run/web.sock"], "haproxy.cfg:2: 'bind': address 'run/web.sock' has no port: expected <addr>:<port>"),
        (&["frontend fe", "  bind abns@web"], "haproxy.cfg:2: 'bind': address family 'abns@' is not supported here (use an IP address, 'ipv4@', 'ipv6@', 'unix@' or 'fd@')"),
    ]);
}

#[test]
fn error_display_is_file_colon_line_colon_message() {
    let err = parse_str_with_env("conf/site.cfg", "backend b\n  bogus", &env).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("conf/site.cfg", 2));
    assert_eq!(
        err.message,
        "unknown keyword 'bogus' in backend 'b' section"
    );
    assert_eq!(
        err.to_string(),
        "conf/site.cfg:2: unknown keyword 'bogus' in backend 'b' section"
    );
}

// ---------------------------------------------------------------- fuzz regressions

/// Inputs the fuzzer (`scripts/fuzz.sh config_parser`) found crashing the parser: each must be
/// a clean file:line error.
#[test]
fn fuzz_regressions_are_clean_errors() {
    // A quoted keyword with a space in it: its words were counted by splitting the key again.
    assert_eq!(
        error(&["global", "' '"]),
        "haproxy.cfg:2: unknown keyword ' ' in global section"
    );
}
