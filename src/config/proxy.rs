//! The keywords of `defaults`, `frontend`, `backend` and `listen` sections.
//!
//! A [`ProxySection`] is one section being read. `defaults` is one too: a proxy opens as a
//! copy of the last `defaults` ([`ProxySection::open`]) and its own lines override it. Which
//! keyword is valid in which section follows HAProxy's keyword matrix (configuration manual
//! 4.1); where HAProxy only warns that a keyword is ignored on the wrong side (`bind` in a
//! backend), pointsman refuses it, because the operator clearly meant something else.

use super::checks::HttpCheckLines;
use super::ignored::{find_ignored, not_supported, Ignored, IgnoredIn, UNSUPPORTED_STATS_KEYWORDS};
use super::logs::{parse_log, LogLine};
use super::model::{
    Algorithm, Bind, BindSsl, CookieConfig, CookieMode, HttpChkRequest, LoadServerState, Location,
    Mode, Options, RetryOn, ServerConfig, ServerOptions, StatsPage, Timeouts, Verify,
    RETRYABLE_STATUSES,
};
use super::parser::{ConfigError, Line};
use super::rules;
use super::server::{self, Numbers};
use super::stats_page;
use super::tcp_checks::{self, TcpCheckLines, TcpCheckOption};
use super::tls_options::apply_tls_option;
use super::values::{parse_bind_addr, parse_time, parse_u32};
use crate::rules::{ErrorFiles, HttpRules, Reply, ResponseRules, Switching, ERRORFILE_STATUSES};

/// Which kind of section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProxyKind {
    Defaults,
    Frontend,
    Backend,
    Listen,
}

impl ProxyKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ProxyKind::Defaults => "defaults",
            ProxyKind::Frontend => "frontend",
            ProxyKind::Backend => "backend",
            ProxyKind::Listen => "listen",
        }
    }

    pub fn has_frontend(self) -> bool {
        matches!(self, ProxyKind::Frontend | ProxyKind::Listen)
    }

    pub fn has_backend(self) -> bool {
        matches!(self, ProxyKind::Backend | ProxyKind::Listen)
    }

    pub fn shares_a_side_with(self, other: ProxyKind) -> bool {
        (self.has_frontend() && other.has_frontend()) || (self.has_backend() && other.has_backend())
    }
}

/// A value and the line that set it, so that a later check can point at that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Located<T> {
    pub value: T,
    pub location: Location,
}

/// Everything a `defaults` section can set, i.e. what a proxy inherits.
#[derive(Debug, Clone)]
pub(super) struct ProxySettings {
    pub mode: Mode,
    pub timeouts: Timeouts,
    pub options: Options,
    pub maxconn: Option<u32>,
    pub default_backend: Option<Located<String>>,
    pub balance: Algorithm,
    pub retries: u32,
    pub retry_on: RetryOn,
    pub httpchk: Option<HttpChkRequest>,
    /// `http-check` lines, in order.
    pub http_checks: HttpCheckLines,
    /// `option tcp-check` or a ready-made tcp check (`smtpchk` …); the last check option wins.
    pub tcpchk: Option<TcpCheckOption>,
    /// `tcp-check` lines, in order.
    pub tcp_checks: TcpCheckLines,
    pub cookie: Option<Located<CookieConfig>>,
    pub server_defaults: ServerOptions,
    pub load_state: LoadServerState,
    pub state_file_name: Option<String>,
    /// `stats …` keywords: the stats page this frontend serves.
    pub stats: Option<StatsPage>,
    /// The metrics path (`http-request use-service prometheus-exporter`, `stats prometheus`).
    pub prometheus: Option<Located<String>>,
    /// `log` lines, in order; `no log` clears the inherited ones.
    pub logs: Vec<LogLine>,
    /// `errorfile STATUS FILE`: the reply sent instead of HAProxy's page for that status.
    pub error_files: ErrorFiles,
}

impl Default for ProxySettings {
    /// HAProxy's built-in values: `mode tcp` (HAProxy's default when no `mode` is given),
    /// `balance roundrobin`, `retries 3`.
    fn default() -> Self {
        ProxySettings {
            mode: Mode::Tcp,
            timeouts: Timeouts::default(),
            options: Options::default(),
            maxconn: None,
            default_backend: None,
            balance: Algorithm::RoundRobin,
            retries: 3,
            retry_on: RetryOn::default(),
            httpchk: None,
            http_checks: HttpCheckLines::default(),
            tcpchk: None,
            tcp_checks: TcpCheckLines::default(),
            cookie: None,
            server_defaults: ServerOptions::default(),
            load_state: LoadServerState::None,
            state_file_name: None,
            stats: None,
            prometheus: None,
            logs: Vec::new(),
            error_files: ErrorFiles::default(),
        }
    }
}

/// One `defaults`, `frontend`, `backend` or `listen` section being read.
#[derive(Debug, Clone)]
pub(super) struct ProxySection {
    pub kind: ProxyKind,
    /// Empty for an unnamed `defaults`.
    pub name: String,
    /// 0 for `defaults`.
    pub id: u32,
    pub location: Location,
    pub settings: ProxySettings,
    pub binds: Vec<Bind>,
    pub servers: Vec<ServerConfig>,
    /// `acl` and `use_backend` lines (not inherited from `defaults`, as in HAProxy).
    pub switching: Switching<Located<String>>,
    /// `http-request` and `redirect` rules; their conditions name ACLs of `switching.acls`.
    pub http_rules: HttpRules,
    /// `http-response` rules; their conditions name ACLs of `switching.acls`.
    pub response_rules: ResponseRules,
}

impl ProxySection {
    /// The values in force before any `defaults` section.
    pub fn builtin_defaults() -> Self {
        ProxySection {
            kind: ProxyKind::Defaults,
            name: String::new(),
            id: 0,
            location: Location::default(),
            settings: ProxySettings::default(),
            binds: Vec::new(),
            servers: Vec::new(),
            switching: Switching::default(),
            http_rules: HttpRules::default(),
            response_rules: ResponseRules::default(),
        }
    }

    /// A new proxy section starting from the values of `defaults`.
    pub fn open(
        kind: ProxyKind,
        name: &str,
        id: u32,
        location: Location,
        defaults: &ProxySection,
    ) -> Self {
        ProxySection {
            kind,
            name: name.to_string(),
            id,
            location,
            settings: defaults.settings.clone(),
            binds: Vec::new(),
            servers: Vec::new(),
            switching: Switching::default(),
            http_rules: HttpRules::default(),
            response_rules: ResponseRules::default(),
        }
    }

    /// `backend 'bk_app'`, or `defaults section`.
    pub fn describe(&self) -> String {
        match self.kind {
            ProxyKind::Defaults => "defaults section".to_string(),
            kind => format!("{} '{}'", kind.keyword(), self.name),
        }
    }

    /// `in backend 'bk_app' section`, or `in defaults section`.
    fn in_section(&self) -> String {
        match self.kind {
            ProxyKind::Defaults => "in defaults section".to_string(),
            kind => format!("in {} '{}' section", kind.keyword(), self.name),
        }
    }
}

/// Characters HAProxy accepts in proxy and server names.
pub(super) fn check_name(name: &str, what: &str) -> Result<(), String> {
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')));
    match bad {
        Some(c) => Err(format!(
            "character '{c}' is not permitted in {what} name '{name}' (use letters, digits, '-', '_', '.' and ':')"
        )),
        None if name.is_empty() => Err(format!("{what} name is empty")),
        None => Ok(()),
    }
}

/// The sections (besides `listen`, which takes every proxy keyword) a keyword is valid in.
#[derive(Debug, Clone, Copy)]
struct Allowed {
    defaults: bool,
    frontend: bool,
    backend: bool,
}

const EVERY_PROXY: Allowed = Allowed {
    defaults: true,
    frontend: true,
    backend: true,
};
const FRONT: Allowed = Allowed {
    defaults: true,
    frontend: true,
    backend: false,
};
const BACK: Allowed = Allowed {
    defaults: true,
    frontend: false,
    backend: true,
};
const FRONT_NOT_DEFAULTS: Allowed = Allowed {
    defaults: false,
    frontend: true,
    backend: false,
};
const BACK_NOT_DEFAULTS: Allowed = Allowed {
    defaults: false,
    frontend: false,
    backend: true,
};

impl Allowed {
    fn permits(self, kind: ProxyKind) -> bool {
        match kind {
            ProxyKind::Defaults => self.defaults,
            ProxyKind::Frontend => self.frontend,
            ProxyKind::Backend => self.backend,
            ProxyKind::Listen => true,
        }
    }

    fn section_list(self) -> String {
        let sections = [
            (self.defaults, "defaults"),
            (self.frontend, "frontend"),
            (true, "listen"),
            (self.backend, "backend"),
        ];
        let names: Vec<&str> = sections
            .iter()
            .filter(|(ok, _)| *ok)
            .map(|(_, name)| *name)
            .collect();
        names.join(", ")
    }
}

/// Handles the arguments (words after the keyword) of one line.
type Handler = fn(&mut ProxySection, &Line, &[String]) -> Result<(), String>;

/// The proxy keywords of the subset. Boolean `option`s are in [`FLAG_OPTIONS`].
const KEYWORDS: &[(&str, Allowed, Handler)] = &[
    ("mode", EVERY_PROXY, parse_mode),
    ("timeout connect", BACK, parse_timeout),
    ("timeout client", FRONT, parse_timeout),
    ("timeout server", BACK, parse_timeout),
    ("timeout http-request", EVERY_PROXY, parse_timeout),
    ("timeout http-keep-alive", EVERY_PROXY, parse_timeout),
    ("timeout queue", BACK, parse_timeout),
    ("timeout check", BACK, parse_timeout),
    ("timeout tunnel", BACK, parse_timeout),
    ("maxconn", FRONT, parse_maxconn),
    ("bind", FRONT_NOT_DEFAULTS, parse_bind),
    ("default_backend", FRONT, parse_default_backend),
    ("balance", BACK, parse_balance),
    ("retries", BACK, parse_retries),
    ("retry-on", BACK, parse_retry_on),
    ("option httpchk", BACK, parse_httpchk),
    ("http-check connect", BACK, parse_http_check),
    ("http-check send", BACK, parse_http_check),
    ("http-check expect", BACK, parse_http_check),
    ("http-check comment", BACK, parse_http_check),
    ("http-check disable-on-404", BACK, parse_http_check),
    ("option tcp-check", BACK, parse_tcpchk_option),
    ("option smtpchk", BACK, parse_tcpchk_option),
    ("option redis-check", BACK, parse_tcpchk_option),
    ("option mysql-check", BACK, parse_tcpchk_option),
    ("option pgsql-check", BACK, parse_tcpchk_option),
    ("option ldap-check", BACK, parse_tcpchk_option),
    ("tcp-check connect", BACK, parse_tcp_check),
    ("tcp-check send", BACK, parse_tcp_check),
    ("tcp-check send-binary", BACK, parse_tcp_check),
    ("tcp-check expect", BACK, parse_tcp_check),
    ("tcp-check comment", BACK, parse_tcp_check),
    ("errorfile", EVERY_PROXY, parse_errorfile),
    ("cookie", BACK, parse_cookie),
    ("default-server", BACK, parse_default_server),
    ("server", BACK_NOT_DEFAULTS, parse_server),
    ("load-server-state-from-file", BACK, parse_load_server_state),
    ("server-state-file-name", BACK, parse_state_file_name),
    ("stats enable", FRONT, stats_page::parse_enable),
    ("stats uri", FRONT, stats_page::parse_uri),
    ("stats refresh", FRONT, stats_page::parse_refresh),
    ("stats auth", FRONT, stats_page::parse_auth),
    ("stats realm", FRONT, stats_page::parse_realm),
    ("stats admin", FRONT, stats_page::parse_admin),
    ("stats hide-version", FRONT, stats_page::parse_hide_version),
    (
        "stats prometheus",
        FRONT,
        stats_page::parse_stats_prometheus,
    ),
];

/// Sets (`true`) or clears (`false`) one flag of [`Options`].
type SetFlag = fn(&mut Options, bool);

/// `option X` / `no option X` flags: name, sections, and how to set or clear it.
const FLAG_OPTIONS: &[(&str, Allowed, SetFlag)] = &[
    ("allbackups", BACK, |o, on| o.allbackups = on),
    ("redispatch", BACK, |o, on| o.redispatch = on),
    ("forwardfor", EVERY_PROXY, |o, on| o.forwardfor = on),
    // httpclose and http-keep-alive pick one HTTP connection mode: the last one wins.
    ("httpclose", EVERY_PROXY, |o, on| {
        o.httpclose = on;
        o.http_keep_alive &= !on;
    }),
    ("http-keep-alive", EVERY_PROXY, |o, on| {
        o.http_keep_alive = on;
        o.httpclose &= !on;
    }),
    // httplog and tcplog pick one log format: the last one wins.
    ("httplog", EVERY_PROXY, |o, on| {
        o.httplog = on;
        o.tcplog &= !on;
    }),
    ("tcplog", EVERY_PROXY, |o, on| {
        o.tcplog = on;
        o.httplog &= !on;
    }),
    // Frontend-only, as in HAProxy: in a backend they are ignored with a warning.
    ("dontlognull", FRONT, |o, on| o.dontlognull = on),
    ("http-ignore-probes", FRONT, |o, on| {
        o.http_ignore_probes = on
    }),
];

/// Keywords that only the `global` section takes.
const GLOBAL_ONLY: &[&str] = &[
    "nbthread",
    "stats socket",
    "stats timeout",
    "daemon",
    "user",
    "group",
    "chroot",
    "pidfile",
    "hard-stop-after",
    "server-state-file",
    "server-state-base",
    "ca-base",
    "crt-base",
];

/// Words that take a second word to make a keyword (`timeout client`, `option redispatch`).
const TWO_WORD_KEYWORDS: &[&str] = &["timeout", "option", "http-check", "tcp-check", "stats"];

/// Whether `key` is a keyword of proxy sections (for "wrong section" errors in `global`).
pub(super) fn is_proxy_keyword(key: &str) -> bool {
    KEYWORDS.iter().any(|(k, _, _)| *k == key)
        || key
            .strip_prefix("option ")
            .is_some_and(|name| FLAG_OPTIONS.iter().any(|(n, _, _)| *n == name))
}

/// The keyword a line starts with, whether it was negated by `no`, and its arguments.
struct Keyword<'a> {
    key: String,
    negated: bool,
    args: &'a [String],
}

fn split_keyword(line: &Line) -> Result<Keyword<'_>, ConfigError> {
    let words = &line.words[..];
    let (negated, words) = match words[0].as_str() {
        "no" => (true, &words[1..]),
        _ => (false, words),
    };
    let Some(first) = words.first() else {
        return Err(line.error("'no' needs a keyword: expected 'no option <name>'"));
    };
    if negated && first != "option" && first != "log" {
        return Err(line.error(format!(
            "'no {first}' is not supported: only 'no option <name>' and 'no log' are"
        )));
    }
    if !TWO_WORD_KEYWORDS.contains(&first.as_str()) {
        return Ok(Keyword {
            key: first.clone(),
            negated,
            args: &words[1..],
        });
    }
    match words.get(1) {
        Some(second) => Ok(Keyword {
            key: format!("{first} {second}"),
            negated,
            args: &words[2..],
        }),
        None => Err(line.error(format!(
            "'{first}' needs a second word, e.g. {}",
            example_of(first)
        ))),
    }
}

fn example_of(first: &str) -> &'static str {
    match first {
        "timeout" => "'timeout client 30s'",
        "option" => "'option redispatch'",
        "http-check" => "'http-check expect status 200'",
        "tcp-check" => "'tcp-check expect string +PONG'",
        _ => "'stats enable', or 'stats socket <path>' in the global section",
    }
}

/// Parses one line of a `defaults`, `frontend`, `backend` or `listen` section.
pub(super) fn parse_line(
    section: &mut ProxySection,
    line: &Line,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let keyword = split_keyword(line)?;
    let key = keyword.key.as_str();
    if key == "log" {
        return parse_log_line(section, line, &keyword);
    }
    if rules::is_rule_keyword(key) && !keyword.negated {
        return rules::parse_rule_line(section, line, key, keyword.args, warnings);
    }
    if let Some(ignored) = find_ignored(key) {
        return accept_ignored(section, line, key, ignored, warnings);
    }
    if let Some(message) = refused_here(section, key) {
        return Err(line.error(message));
    }
    if let Some((_, allowed, set)) = find_flag_option(key) {
        if section.kind == ProxyKind::Backend && allowed.frontend && !allowed.backend {
            no_arguments(key, keyword.args).map_err(|m| line.error(m))?;
            warnings.push(line.warning(format_args!(
                "'{key}' is ignored {}: it needs a frontend",
                section.in_section()
            )));
            return Ok(());
        }
        check_allowed(section, line, key, *allowed)?;
        no_arguments(key, keyword.args).map_err(|m| line.error(m))?;
        set(&mut section.settings.options, !keyword.negated);
        return Ok(());
    }
    let Some((_, allowed, handler)) = KEYWORDS.iter().find(|(k, _, _)| *k == key) else {
        return Err(line.error(unknown_keyword(section, key)));
    };
    check_allowed(section, line, key, *allowed)?;
    if keyword.negated {
        return Err(line.error(format!(
            "'no {key}' is not supported: only boolean options can be negated"
        )));
    }
    handler(section, line, keyword.args).map_err(|message| line.error(message))
}

/// `log …` adds a target (or `log global`); `no log` drops the inherited ones.
fn parse_log_line(
    section: &mut ProxySection,
    line: &Line,
    keyword: &Keyword,
) -> Result<(), ConfigError> {
    if keyword.negated {
        no_arguments("no log", keyword.args).map_err(|m| line.error(m))?;
        section.settings.logs.clear();
        return Ok(());
    }
    let parsed = parse_log(keyword.args, &line.location, true).map_err(|m| line.error(m))?;
    section.settings.logs.push(parsed);
    Ok(())
}

/// Known keywords that a proxy section never takes: the stats page options outside the
/// subset and the global ones.
fn refused_here(section: &ProxySection, key: &str) -> Option<String> {
    if let Some(sub) = key.strip_prefix("stats ") {
        if UNSUPPORTED_STATS_KEYWORDS.contains(&sub) {
            return Some(not_supported(key));
        }
    }
    GLOBAL_ONLY.contains(&key).then(|| {
        format!(
            "'{key}' belongs in the global section, not {}",
            section.in_section()
        )
    })
}

fn find_flag_option(key: &str) -> Option<&'static (&'static str, Allowed, SetFlag)> {
    let name = key.strip_prefix("option ")?;
    FLAG_OPTIONS.iter().find(|(n, _, _)| *n == name)
}

fn unknown_keyword(section: &ProxySection, key: &str) -> String {
    match key.strip_prefix("option ") {
        Some(name) => format!("unknown option '{name}' {}", section.in_section()),
        None => format!("unknown keyword '{key}' {}", section.in_section()),
    }
}

fn check_allowed(
    section: &ProxySection,
    line: &Line,
    key: &str,
    allowed: Allowed,
) -> Result<(), ConfigError> {
    if allowed.permits(section.kind) {
        return Ok(());
    }
    Err(line.error(format!(
        "'{key}' is not allowed {} (allowed in: {})",
        section.in_section(),
        allowed.section_list()
    )))
}

fn accept_ignored(
    section: &ProxySection,
    line: &Line,
    key: &str,
    ignored: &Ignored,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match ignored.allowed {
        IgnoredIn::Global => Err(line.error(format!(
            "'{key}' belongs in the global section, not {}",
            section.in_section()
        ))),
        IgnoredIn::NamedSections if section.kind == ProxyKind::Defaults => {
            Err(line.error(format!("'{key}' is not allowed {}", section.in_section())))
        }
        _ => {
            let reason = ignored.reason;
            warnings.push(line.warning(format_args!("'{key}' is ignored: {reason}")));
            Ok(())
        }
    }
}

fn no_arguments(key: &str, args: &[String]) -> Result<(), String> {
    match args.first() {
        Some(extra) => Err(format!("'{key}' takes no argument, found '{extra}'")),
        None => Ok(()),
    }
}

/// The single argument of `key`, or an error showing `usage`.
fn single_argument<'a>(key: &str, args: &'a [String], usage: &str) -> Result<&'a str, String> {
    match args {
        [value] => Ok(value),
        [] => Err(format!("'{key}' needs a value: expected '{usage}'")),
        [_, extra, ..] => Err(format!(
            "'{key}' takes one value, found extra '{extra}': expected '{usage}'"
        )),
    }
}

fn parse_mode(section: &mut ProxySection, _line: &Line, args: &[String]) -> Result<(), String> {
    section.settings.mode = match single_argument("mode", args, "mode http|tcp")? {
        "http" => Mode::Http,
        "tcp" => Mode::Tcp,
        other => {
            return Err(format!(
                "unsupported mode '{other}': expected 'http' or 'tcp'"
            ))
        }
    };
    Ok(())
}

fn parse_timeout(section: &mut ProxySection, line: &Line, args: &[String]) -> Result<(), String> {
    let key = format!("timeout {}", line_second_word(line));
    let value = single_argument(&key, args, &format!("{key} <time>"))?;
    let time = parse_time(value).map_err(|m| format!("'{key}': {m}"))?;
    let timeouts = &mut section.settings.timeouts;
    let slot = match line_second_word(line) {
        "connect" => &mut timeouts.connect,
        "client" => &mut timeouts.client,
        "server" => &mut timeouts.server,
        "http-request" => &mut timeouts.http_request,
        "http-keep-alive" => &mut timeouts.http_keep_alive,
        "queue" => &mut timeouts.queue,
        "check" => &mut timeouts.check,
        "tunnel" => &mut timeouts.tunnel,
        other => return Err(format!("unknown timeout '{other}'")),
    };
    *slot = Some(time);
    Ok(())
}

/// `client` in `timeout client 30s`: which timeout a line sets.
fn line_second_word(line: &Line) -> &str {
    line.words.get(1).map(String::as_str).unwrap_or_default()
}

fn parse_maxconn(section: &mut ProxySection, _line: &Line, args: &[String]) -> Result<(), String> {
    let value = single_argument("maxconn", args, "maxconn <number>")?;
    section.settings.maxconn = Some(parse_u32(value).map_err(|m| format!("'maxconn': {m}"))?);
    Ok(())
}

/// `bind ADDR[,ADDR...] [accept-proxy] [ssl crt FILE [crt FILE…] [alpn LIST]]`: one [`Bind`]
/// per address.
/// Any other bind option is an error naming it.
fn parse_bind(section: &mut ProxySection, line: &Line, args: &[String]) -> Result<(), String> {
    let Some((addresses, options)) = args.split_first() else {
        return Err(
            "'bind' needs an address: expected 'bind <addr>:<port>[,<addr>:<port>...]'".into(),
        );
    };
    // `accept-proxy` takes no value and concerns the connection, not TLS: taken out here so
    // that the TLS options parse as they would without it.
    let accept_proxy = options.iter().any(|o| o == "accept-proxy");
    let options: Vec<String> = options
        .iter()
        .filter(|o| *o != "accept-proxy")
        .cloned()
        .collect();
    let ssl = parse_bind_options(addresses, &options)?;
    for text in addresses.split(',') {
        let addr = parse_bind_addr(text).map_err(|m| format!("'bind': {m}"))?;
        section.binds.push(Bind {
            addr,
            location: line.location.clone(),
            ssl: ssl.clone(),
            accept_proxy,
        });
    }
    Ok(())
}

/// The bind options pointsman supports: `ssl`, `crt FILE|DIR` (repeatable), `alpn LIST`,
/// `strict-sni`, the TLS options of [`apply_tls_option`], `ca-file`, `verify`, `crl-file`,
/// `tls-ticket-keys`.
/// `crt` without `ssl` is accepted and unused, as HAProxy does; `ssl` needs a `crt`.
fn parse_bind_options(addresses: &str, options: &[String]) -> Result<Option<BindSsl>, String> {
    let mut ssl = false;
    let mut settings = BindSsl::default();
    let mut words = options.iter();
    while let Some(option) = words.next() {
        let mut value = || {
            words
                .next()
                .cloned()
                .ok_or_else(|| format!("'{option}' : missing value for bind '{addresses}'"))
        };
        match option.as_str() {
            "ssl" => ssl = true,
            "crt" => settings.crts.push(value()?.into()),
            "alpn" => settings.alpn = value()?.split(',').map(str::to_string).collect(),
            "strict-sni" => settings.strict_sni = true,
            "ca-file" => settings.ca_file = Some(value()?.into()),
            "crl-file" => settings.crl_file = Some(value()?.into()),
            "verify" => settings.verify = Some(parse_verify(&value()?)?),
            "tls-ticket-keys" => settings.ticket_keys = Some(value()?.into()),
            "proto" => check_bind_proto(&value()?)?,
            _ if apply_tls_option(&mut settings.tls, option, &mut value)? => {}
            _ => {
                return Err(format!(
                    "unknown bind option '{option}': pointsman supports 'proto h1', 'ssl', 'crt', 'alpn', 'strict-sni', \
                     'ssl-min-ver', 'ssl-max-ver', 'no-tlsv1x', 'force-tlsv1x', 'ciphers', 'ciphersuites', \
                     'curves', 'no-tls-tickets', 'prefer-client-ciphers', 'ca-file', 'verify', 'crl-file' and \
                     'tls-ticket-keys'"
                ))
            }
        }
    }
    if !ssl {
        return Ok(None);
    }
    if settings.crts.is_empty() {
        return Err(format!(
            "bind '{addresses}' : 'ssl' needs a certificate: add 'crt <file>'"
        ));
    }
    Ok(Some(settings))
}

/// `proto NAME`: `h1` is what every pointsman bind speaks; `h2` waits for HTTP/2 (issue 20);
/// anything else is refused in HAProxy's words.
fn check_bind_proto(name: &str) -> Result<(), String> {
    match name {
        "h1" => Ok(()),
        "h2" => Err("'proto' : 'h2' is not supported yet: pointsman speaks HTTP/1.1".into()),
        other => Err(format!("'proto' :  unknown MUX protocol '{other}'")),
    }
}

/// `errorfile STATUS FILE`, in HAProxy's words when it fails. The file is read and checked
/// now: a reply that cannot be sent is a start-up error, not a surprise at the first 503.
fn parse_errorfile(
    section: &mut ProxySection,
    _line: &Line,
    args: &[String],
) -> Result<(), String> {
    let [status, path, ..] = args else {
        return Err("errorfile : expects <status_code> and <file> as arguments.".into());
    };
    let status: u16 = status.parse().unwrap_or(0);
    if !ERRORFILE_STATUSES.contains(&status) {
        return Err(format!("errorfile : status code '{status}' not handled."));
    }
    let text =
        std::fs::read(path).map_err(|_| format!("errorfile : error opening file '{path}'."))?;
    let reply = Reply::errorfile(path, &text).map_err(|e| format!("errorfile : {e}"))?;
    section.settings.error_files.set(status, reply);
    Ok(())
}

fn parse_verify(value: &str) -> Result<Verify, String> {
    match value {
        "none" => Ok(Verify::None),
        "optional" => Ok(Verify::Optional),
        "required" => Ok(Verify::Required),
        _ => Err(format!(
            "'verify' : unknown verify setting '{value}', expected 'none', 'optional' or 'required'"
        )),
    }
}

fn parse_default_backend(
    section: &mut ProxySection,
    line: &Line,
    args: &[String],
) -> Result<(), String> {
    let name = single_argument("default_backend", args, "default_backend <backend name>")?;
    section.settings.default_backend = Some(Located {
        value: name.to_string(),
        location: line.location.clone(),
    });
    Ok(())
}

fn parse_balance(section: &mut ProxySection, _line: &Line, args: &[String]) -> Result<(), String> {
    const USAGE: &str = "balance roundrobin|static-rr|leastconn|first|source|random";
    section.settings.balance = match single_argument("balance", args, USAGE)? {
        "roundrobin" => Algorithm::RoundRobin,
        "static-rr" => Algorithm::StaticRr,
        "leastconn" => Algorithm::LeastConn,
        "first" => Algorithm::First,
        "source" => Algorithm::Source,
        "random" => Algorithm::Random,
        other => {
            return Err(format!(
                "unsupported balance algorithm '{other}': expected '{USAGE}'"
            ))
        }
    };
    Ok(())
}

/// `load-server-state-from-file global|local|none`.
fn parse_load_server_state(
    section: &mut ProxySection,
    _line: &Line,
    args: &[String],
) -> Result<(), String> {
    let usage = "load-server-state-from-file global|local|none";
    section.settings.load_state = match single_argument("load-server-state-from-file", args, usage)?
    {
        "global" => LoadServerState::Global,
        "local" => LoadServerState::Local,
        "none" => LoadServerState::None,
        other => {
            return Err(format!(
                "'load-server-state-from-file': unknown value '{other}': expected '{usage}'"
            ))
        }
    };
    Ok(())
}

/// `server-state-file-name [use-backend-name|NAME]`: the file `local` reads.
fn parse_state_file_name(
    section: &mut ProxySection,
    _line: &Line,
    args: &[String],
) -> Result<(), String> {
    section.settings.state_file_name = match args {
        [] => None,
        [name] if name == "use-backend-name" => None,
        [name] => Some(name.clone()),
        [_, extra, ..] => {
            return Err(format!(
                "'server-state-file-name' takes one value, found extra '{extra}'"
            ))
        }
    };
    Ok(())
}

fn parse_retries(section: &mut ProxySection, _line: &Line, args: &[String]) -> Result<(), String> {
    let value = single_argument("retries", args, "retries <number>")?;
    section.settings.retries = parse_u32(value).map_err(|m| format!("'retries': {m}"))?;
    Ok(())
}

/// `retry-on KEYWORD...`: `none`, `conn-failure`, `empty-response`, `junk-response`,
/// `response-timeout`, `0rtt-rejected` (no TLS here: accepted, never happens), a status among
/// [`RETRYABLE_STATUSES`], or `all-retryable-errors`.
fn parse_retry_on(section: &mut ProxySection, _line: &Line, args: &[String]) -> Result<(), String> {
    const USAGE: &str = "retry-on none|conn-failure|empty-response|junk-response|\
                         response-timeout|0rtt-rejected|404|408|425|500|501|502|503|504|\
                         all-retryable-errors ...";
    if args.is_empty() {
        return Err(format!(
            "'retry-on' needs at least one keyword: expected '{USAGE}'"
        ));
    }
    let mut on = RetryOn::NONE;
    let status_bit = |code: u16| {
        RETRYABLE_STATUSES
            .iter()
            .position(|&s| s == code)
            .map(|i| 1u8 << i)
    };
    for word in args {
        match word.as_str() {
            "none" if args.len() == 1 => {}
            "none" => return Err("'retry-on none' may not be combined with other keywords".into()),
            "conn-failure" => on.conn_failure = true,
            "empty-response" => on.empty_response = true,
            "junk-response" => on.junk_response = true,
            "response-timeout" => on.response_timeout = true,
            "0rtt-rejected" => {}
            "all-retryable-errors" => {
                on.conn_failure = true;
                on.empty_response = true;
                on.junk_response = true;
                on.response_timeout = true;
                for code in [500, 502, 503, 504] {
                    on.statuses |= status_bit(code).unwrap_or(0);
                }
            }
            other => match other.parse::<u16>().ok().and_then(status_bit) {
                Some(bit) => on.statuses |= bit,
                None => {
                    return Err(format!(
                        "'retry-on': unknown keyword '{other}': expected '{USAGE}'"
                    ))
                }
            },
        }
    }
    section.settings.retry_on = on;
    Ok(())
}

/// `option httpchk`, `option httpchk URI`, `option httpchk METHOD URI` or with a VERSION
/// after them; HAProxy's defaults are `OPTIONS / HTTP/1.0`.
fn parse_httpchk(section: &mut ProxySection, _line: &Line, args: &[String]) -> Result<(), String> {
    let mut request = HttpChkRequest::default();
    match args {
        [] => {}
        [uri] => request.uri = uri.clone(),
        [method, uri] => (request.method, request.uri) = (method.clone(), uri.clone()),
        [method, uri, version] => {
            // The old trick of headers after the version (`HTTP/1.1\r\nHost:\ www`).
            if version.contains(['\r', '\n']) || version.contains("\\r") {
                // Shown as written: the lexer turned its `\r\n` into the real characters.
                let written = version.replace('\r', "\\r").replace('\n', "\\n");
                return Err(format!(
                    "'option httpchk': the version ('{written}') carries headers: write them \
                     as 'http-check send hdr <name> <value>'"
                ));
            }
            (request.method, request.uri, request.version) =
                (method.clone(), uri.clone(), version.clone());
        }
        [_, _, _, extra, ..] => {
            return Err(format!(
                "'option httpchk': unexpected '{extra}': expected 'option httpchk [<method>] \
                 [<uri>] [<version>]'"
            ))
        }
    }
    section.settings.httpchk = Some(request);
    section.settings.tcpchk = None;
    Ok(())
}

/// `option tcp-check`, or a ready-made tcp check (`smtpchk`, `redis-check`, `mysql-check`,
/// `pgsql-check`, `ldap-check`); it replaces any `option httpchk`, as in HAProxy.
fn parse_tcpchk_option(
    section: &mut ProxySection,
    line: &Line,
    args: &[String],
) -> Result<(), String> {
    let name = line.words.get(1).map_or("", String::as_str);
    let no_args = |option| match args.first() {
        None => Ok(option),
        Some(extra) => Err(format!(
            "'option {name}' cannot handle more than 0 arguments (got '{extra}')."
        )),
    };
    let option = match name {
        "tcp-check" => no_args(TcpCheckOption::Rules)?,
        "redis-check" => no_args(TcpCheckOption::Redis)?,
        "ldap-check" => no_args(TcpCheckOption::Ldap)?,
        "smtpchk" => tcp_checks::read_smtpchk(args)?,
        "mysql-check" => tcp_checks::read_mysql_check(args)?,
        _ => tcp_checks::read_pgsql_check(args)?,
    };
    section.settings.tcpchk = Some(option);
    section.settings.httpchk = None;
    Ok(())
}

/// `tcp-check connect|send|send-binary|expect|comment …`, in [`super::tcp_checks`].
fn parse_tcp_check(section: &mut ProxySection, line: &Line, args: &[String]) -> Result<(), String> {
    let word = line.words.get(1).map_or("", String::as_str);
    section.settings.tcp_checks.read(line, word, args)
}

/// `http-check connect|send|expect|comment|disable-on-404 …`, in [`super::checks`].
fn parse_http_check(
    section: &mut ProxySection,
    line: &Line,
    args: &[String],
) -> Result<(), String> {
    let word = line.words.get(1).map_or("", String::as_str);
    section.settings.http_checks.read(line, word, args)
}

/// `cookie NAME insert|rewrite|prefix [indirect] [nocache]`.
fn parse_cookie(section: &mut ProxySection, line: &Line, args: &[String]) -> Result<(), String> {
    const USAGE: &str = "cookie <name> insert|rewrite|prefix [indirect] [nocache]";
    let Some((name, words)) = args.split_first() else {
        return Err(format!("'cookie' needs a name: expected '{USAGE}'"));
    };
    let mut mode = None;
    let (mut indirect, mut nocache) = (false, false);
    for word in words {
        let chosen = match word.as_str() {
            "insert" => CookieMode::Insert,
            "rewrite" => CookieMode::Rewrite,
            "prefix" => CookieMode::Prefix,
            "indirect" => {
                indirect = true;
                continue;
            }
            "nocache" => {
                nocache = true;
                continue;
            }
            other => {
                return Err(format!(
                    "unsupported cookie option '{other}': expected '{USAGE}'"
                ))
            }
        };
        if mode.is_some_and(|m| m != chosen) {
            return Err(format!("'cookie': only one of 'insert', 'rewrite' and 'prefix' may be given: expected '{USAGE}'"));
        }
        mode = Some(chosen);
    }
    let Some(mode) = mode else {
        return Err(format!("'cookie {name}' needs 'insert', 'rewrite' or 'prefix' (a passive cookie is not supported): expected '{USAGE}'"));
    };
    let cookie = CookieConfig {
        name: name.clone(),
        mode,
        indirect,
        nocache,
    };
    section.settings.cookie = Some(Located {
        value: cookie,
        location: line.location.clone(),
    });
    Ok(())
}

fn parse_default_server(
    section: &mut ProxySection,
    _line: &Line,
    args: &[String],
) -> Result<(), String> {
    let owner = section.describe();
    server::apply_options(&mut section.settings.server_defaults, args, Numbers::Strict)
        .map_err(|error| format!("'default-server' in {owner}: {error}"))
}

fn parse_server(section: &mut ProxySection, line: &Line, args: &[String]) -> Result<(), String> {
    let server = server::parse_server(
        &section.describe(),
        &section.settings.server_defaults,
        line,
        args,
    )?;
    if let Some(previous) = section.servers.iter().find(|s| s.name == server.name) {
        return Err(format!(
            "server '{}' in {} is already declared at {}",
            server.name,
            section.describe(),
            previous.location
        ));
    }
    section.servers.push(server);
    Ok(())
}
