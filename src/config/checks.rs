//! `http-check` rule lists as HAProxy 2.6 reads them: `connect`, `send`, `expect`, `comment`
//! and `disable-on-404`, each line checked where it stands (HAProxy's order rules and its
//! words at file:line), and the finished list with HAProxy's implicit rules
//! ([`build_http_check`]): a connect first, `option httpchk`'s request merged into the first
//! send (or sent alone when no rule sends), and `expect status 200-399` after a final send.

use super::model::HttpCheck;
use super::parser::Line;
use super::proxy::Located;
use std::net::IpAddr;

/// The request of `option httpchk [METHOD] [URI] [VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpChkRequest {
    pub method: String,
    pub uri: String,
    pub version: String,
}

impl Default for HttpChkRequest {
    /// HAProxy's defaults: `OPTIONS / HTTP/1.0`.
    fn default() -> Self {
        HttpChkRequest {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
        }
    }
}

/// One step of an HTTP check, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpCheckRule {
    /// Open a new connection (to another port or address than the server's if given).
    Connect(CheckConnect),
    Send(HttpCheckSend),
    Expect(CheckExpect),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckConnect {
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    pub comment: Option<String>,
}

/// `http-check send`: the request, with `option httpchk`'s parts where it names none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpCheckSend {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub comment: Option<String>,
}

impl HttpCheckSend {
    /// The request bytes, `base` filling what this rule leaves out. A body gets its
    /// `Content-Length`, as HAProxy adds it.
    pub fn request(&self, base: &HttpChkRequest) -> Vec<u8> {
        let method = self.method.as_deref().unwrap_or(&base.method);
        let uri = self.uri.as_deref().unwrap_or(&base.uri);
        let version = self.version.as_deref().unwrap_or(&base.version);
        let mut out = format!("{method} {uri} {version}\r\n");
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = &self.body {
            out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        } else {
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

/// `http-check expect [!] <match> <pattern> [comment <msg>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckExpect {
    /// `!`: the check passes when the match fails.
    pub inverse: bool,
    pub matcher: HttpMatch,
    pub comment: Option<String>,
}

/// What an expect rule looks at in the response.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpMatch {
    /// `status 200,300-399`: inclusive ranges.
    Status(Vec<(u16, u16)>),
    RStatus(CheckRegex),
    /// `string S`: S appears in the body.
    String(String),
    RString(CheckRegex),
    /// `hdr name … [value …]` (each comma-separated value) or `fhdr` (the full value).
    Header {
        name: HeaderPattern,
        value: Option<HeaderPattern>,
        full: bool,
    },
}

/// A regex compiled once at load; equal when written the same.
#[derive(Debug, Clone)]
pub struct CheckRegex(pub regex::bytes::Regex);

impl PartialEq for CheckRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// `-m str|beg|end|sub|reg`; `str` when not given.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderPattern {
    Str(String),
    Beg(String),
    End(String),
    Sub(String),
    Reg(CheckRegex),
}

impl HeaderPattern {
    /// Header names match without regard to case, values exactly (as in HAProxy).
    pub fn matches(&self, text: &[u8], ignore_case: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if ignore_case {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        match self {
            HeaderPattern::Str(s) => eq(text, s.as_bytes()),
            HeaderPattern::Beg(s) => text.len() >= s.len() && eq(&text[..s.len()], s.as_bytes()),
            HeaderPattern::End(s) => {
                text.len() >= s.len() && eq(&text[text.len() - s.len()..], s.as_bytes())
            }
            HeaderPattern::Sub(s) => text.windows(s.len().max(1)).any(|w| eq(w, s.as_bytes())),
            HeaderPattern::Reg(r) => r.0.is_match(text),
        }
    }
}

/// One `http-check` line as read, before the list is finished.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ReadRule {
    Rule(HttpCheckRule),
    /// `http-check comment`: reported with the failure of the rules that follow.
    Comment(String),
}

impl ReadRule {
    /// The `http-check` word that wrote it.
    pub fn keyword(&self) -> &'static str {
        match self {
            ReadRule::Comment(_) => "comment",
            ReadRule::Rule(HttpCheckRule::Connect(_)) => "connect",
            ReadRule::Rule(HttpCheckRule::Send(_)) => "send",
            ReadRule::Rule(HttpCheckRule::Expect(_)) => "expect",
        }
    }
}

/// What the `http-check` lines of a section (and its defaults) said.
#[derive(Debug, Clone, Default)]
pub(super) struct HttpCheckLines {
    pub rules: Vec<Located<ReadRule>>,
    pub disable_on_404: bool,
}

impl HttpCheckLines {
    /// The steps so far, comments aside.
    fn steps(&self) -> impl Iterator<Item = &HttpCheckRule> {
        self.rules.iter().filter_map(|r| match &r.value {
            ReadRule::Rule(rule) => Some(rule),
            ReadRule::Comment(_) => None,
        })
    }

    /// Reads one `http-check <word> …` line (the word included in `args`).
    pub fn read(&mut self, line: &Line, word: &str, args: &[String]) -> Result<(), String> {
        let rule = match word {
            "disable-on-404" => {
                self.disable_on_404 = true;
                return Ok(());
            }
            "comment" => match args {
                [text] => ReadRule::Comment(text.clone()),
                _ => return Err("'http-check comment' : expects a string as argument.".into()),
            },
            "connect" => ReadRule::Rule(HttpCheckRule::Connect(self.read_connect(args)?)),
            "send" => ReadRule::Rule(HttpCheckRule::Send(self.read_send(args)?)),
            "expect" => ReadRule::Rule(HttpCheckRule::Expect(read_expect(args)?)),
            other => {
                return Err(format!(
                    "'http-check' only supports 'disable-on-404', 'comment', 'connect', \
                     'send', 'expect'. but got '{other}'"
                ))
            }
        };
        self.rules.push(Located {
            value: rule,
            location: line.location.clone(),
        });
        Ok(())
    }

    /// HAProxy's rule: when the list has a connect, its first step is one.
    fn read_connect(&self, args: &[String]) -> Result<CheckConnect, String> {
        let first = self.steps().next();
        if first.is_some_and(|rule| !matches!(rule, HttpCheckRule::Connect(_))) {
            return Err(
                "'http-check connect' : first step MUST also be a 'connect', \
                        optionally preceded by a 'set-var', an 'unset-var' or a 'comment', \
                        when there is a 'connect' step in the tcp-check ruleset."
                    .into(),
            );
        }
        self.read_connect_args(args)
    }

    fn read_connect_args(&self, args: &[String]) -> Result<CheckConnect, String> {
        let mut connect = CheckConnect::default();
        let mut words = args.iter();
        while let Some(word) = words.next() {
            let mut value = |what: &str| {
                words.next().cloned().ok_or(format!(
                    "'http-check connect' : '{word}' expects {what} as argument."
                ))
            };
            match word.as_str() {
                "port" => {
                    let text = value("a port number")?;
                    connect.port = Some(text.parse().ok().filter(|p| *p > 0).ok_or(format!(
                        "'http-check connect' : expects a valid TCP port (from range 1 to \
                         65535) or a sample expression, got {text}."
                    ))?);
                }
                "addr" => {
                    let text = value("<ipv4|ipv6>")?;
                    connect.addr = Some(text.parse().map_err(|_| {
                        format!(
                            "'http-check connect' : 'addr' : invalid address: '{text}' in '{text}'"
                        )
                    })?);
                }
                "comment" => connect.comment = Some(value("a string")?),
                other => {
                    return Err(format!(
                        "'http-check connect' : expects 'comment', 'port', 'addr' but got \
                         '{other}' as argument."
                    ))
                }
            }
        }
        Ok(connect)
    }

    /// HAProxy's rule: a send is the first step or follows a connect (one request per
    /// connection).
    fn read_send(&self, args: &[String]) -> Result<HttpCheckSend, String> {
        let steps: Vec<&HttpCheckRule> = self.steps().collect();
        if let Some(last) = steps.last() {
            if !matches!(last, HttpCheckRule::Connect(_)) {
                return Err(format!(
                    "'http-check send' : unable to add http-check send rule at step {} \
                     (missing connect rule).",
                    steps.len()
                ));
            }
        }
        read_send_args(args)
    }
}

fn read_send_args(args: &[String]) -> Result<HttpCheckSend, String> {
    let mut send = HttpCheckSend::default();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let mut value = |what: &str| {
            words.next().cloned().ok_or(format!(
                "'http-check send' : '{word}' expects {what} as argument."
            ))
        };
        match word.as_str() {
            "meth" => send.method = Some(value("<method>")?),
            "uri" => send.uri = Some(value("<uri>")?),
            "ver" => send.version = Some(value("<version>")?),
            "body" => send.body = Some(value("<string>")?),
            "comment" => send.comment = Some(value("<string>")?),
            "hdr" => {
                let (Some(name), Some(v)) = (words.next(), words.next()) else {
                    return Err(
                        "'http-check send' : 'hdr' expects <name> and <value> as arguments.".into(),
                    );
                };
                send.headers.push((name.clone(), v.clone()));
            }
            other => {
                return Err(format!(
                    "'http-check send' : expects 'comment', 'meth', 'uri', 'ver', 'hdr' or \
                     'body' but got '{other}' as argument."
                ))
            }
        }
    }
    Ok(send)
}

const EXPECT_KINDS: &str = "'only supports [!]string', '[!]rstring', '[!]status', \
                            '[!]rstatus', [!]hdr, [!]fhdr or comment";

/// `expect [!] status|rstatus|string|rstring <pattern> | hdr|fhdr name … [value …]`, then
/// `comment <msg>`.
fn read_expect(args: &[String]) -> Result<CheckExpect, String> {
    let (inverse, args) = match args.first().map(String::as_str) {
        Some("!") => (true, &args[1..]),
        _ => (false, args),
    };
    let Some((kind, rest)) = args.split_first() else {
        return Err(format!(
            "'http-check expect' : {EXPECT_KINDS} but got '' as argument."
        ));
    };
    let (kind, inverse) = match kind.strip_prefix('!') {
        Some(k) => (k, true),
        None => (kind.as_str(), inverse),
    };
    let (matcher, rest) = match kind {
        "status" | "rstatus" | "string" | "rstring" => {
            let Some((pattern, rest)) = rest.split_first() else {
                return Err(format!(
                    "'http-check expect' : '{kind}' expects a <pattern> as argument."
                ));
            };
            (read_pattern(kind, pattern)?, rest)
        }
        "hdr" | "fhdr" => read_header_match(kind, rest)?,
        other => {
            return Err(format!(
                "'http-check expect' : {EXPECT_KINDS} but got '{other}' as argument."
            ))
        }
    };
    let comment = match rest {
        [] => None,
        [c, text] if c == "comment" => Some(text.clone()),
        [other, ..] => {
            return Err(format!(
                "'http-check expect' : {EXPECT_KINDS} but got '{other}' as argument."
            ))
        }
    };
    Ok(CheckExpect {
        inverse,
        matcher,
        comment,
    })
}

fn read_pattern(kind: &str, pattern: &str) -> Result<HttpMatch, String> {
    Ok(match kind {
        "status" => HttpMatch::Status(read_status_list(pattern)?),
        "rstatus" => HttpMatch::RStatus(compile(pattern)?),
        "string" => HttpMatch::String(pattern.to_string()),
        _ => HttpMatch::RString(compile(pattern)?),
    })
}

/// `200`, `200,204`, `200-399`: HAProxy's list of codes and ranges.
fn read_status_list(text: &str) -> Result<Vec<(u16, u16)>, String> {
    if let Some(bad) = text
        .chars()
        .find(|c| !c.is_ascii_digit() && *c != ',' && *c != '-')
    {
        return Err(format!(
            "'http-check expect' : invalid character '{bad}' in the list of status codes."
        ));
    }
    text.split(',')
        .map(|part| {
            let (low, high) = part.split_once('-').unwrap_or((part, part));
            match (low.parse::<u16>(), high.parse::<u16>()) {
                (Ok(l), Ok(h)) if l <= h => Ok((l, h)),
                _ => Err(format!(
                    "'http-check expect' : invalid range of status codes '{part}'."
                )),
            }
        })
        .collect()
}

fn compile(pattern: &str) -> Result<CheckRegex, String> {
    regex::bytes::Regex::new(pattern)
        .map(CheckRegex)
        .map_err(|e| format!("'http-check expect' : regex '{pattern}' is invalid ({e})."))
}

/// `hdr name [-m meth] <name> [value [-m meth] <value>]`.
fn read_header_match<'a>(
    kind: &str,
    args: &'a [String],
) -> Result<(HttpMatch, &'a [String]), String> {
    let usage = format!(
        "'http-check expect' : '{kind}' expects at the name keyword as first argument \
         followed by a pattern."
    );
    let Some(("name", rest)) = args.split_first().map(|(w, r)| (w.as_str(), r)) else {
        return Err(usage);
    };
    let (name, rest) = read_header_pattern(rest).ok_or(usage)?;
    let (value, rest) = match rest.split_first() {
        Some((w, rest)) if w == "value" => {
            let (value, rest) = read_header_pattern(rest).ok_or(format!(
                "'http-check expect' : '{kind}' expects a pattern after the value keyword."
            ))?;
            (Some(value), rest)
        }
        _ => (None, rest),
    };
    let full = kind == "fhdr";
    Ok((HttpMatch::Header { name, value, full }, rest))
}

/// `[-m str|beg|end|sub|reg] <pattern>`; `None` when the pattern is missing or the method
/// unknown.
fn read_header_pattern(args: &[String]) -> Option<(HeaderPattern, &[String])> {
    let (method, args) = match args.split_first() {
        Some((m, rest)) if m == "-m" => (rest.first()?.as_str(), &rest[1..]),
        _ => ("str", args),
    };
    let (text, rest) = args.split_first()?;
    let pattern = match method {
        "str" => HeaderPattern::Str(text.clone()),
        "beg" => HeaderPattern::Beg(text.clone()),
        "end" => HeaderPattern::End(text.clone()),
        "sub" => HeaderPattern::Sub(text.clone()),
        "reg" => HeaderPattern::Reg(compile(text).ok()?),
        _ => return None,
    };
    Some((pattern, rest))
}

/// The finished list for a backend with `option httpchk`: HAProxy's implicit connect first,
/// the `option httpchk` request merged into the first send (or alone when no rule sends),
/// and `expect status 200-399` when the list ends on a send. Comments go to the rule after
/// them when it has none of its own.
pub(super) fn build_http_check(request: &HttpChkRequest, lines: &HttpCheckLines) -> HttpCheck {
    let mut rules = Vec::new();
    let mut pending_comment: Option<String> = None;
    for read in &lines.rules {
        match &read.value {
            ReadRule::Comment(text) => pending_comment = Some(text.clone()),
            ReadRule::Rule(rule) => {
                let mut rule = rule.clone();
                if let Some(text) = &pending_comment {
                    set_comment_if_none(&mut rule, text);
                }
                rules.push(rule);
            }
        }
    }
    if !matches!(rules.first(), Some(HttpCheckRule::Connect(_))) {
        rules.insert(0, HttpCheckRule::Connect(CheckConnect::default()));
    }
    if !rules.iter().any(|r| matches!(r, HttpCheckRule::Send(_))) {
        rules.insert(1, HttpCheckRule::Send(HttpCheckSend::default()));
    }
    if matches!(rules.last(), Some(HttpCheckRule::Send(_))) {
        rules.push(HttpCheckRule::Expect(CheckExpect {
            inverse: false,
            matcher: HttpMatch::Status(vec![(200, 399)]),
            comment: None,
        }));
    }
    HttpCheck {
        request: request.clone(),
        rules,
        disable_on_404: lines.disable_on_404,
    }
}

fn set_comment_if_none(rule: &mut HttpCheckRule, text: &str) {
    let comment = match rule {
        HttpCheckRule::Connect(c) => &mut c.comment,
        HttpCheckRule::Send(s) => &mut s.comment,
        HttpCheckRule::Expect(e) => &mut e.comment,
    };
    comment.get_or_insert_with(|| text.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn status_lists_and_ranges() {
        assert_eq!(read_status_list("200"), Ok(vec![(200, 200)]));
        assert_eq!(
            read_status_list("200,300-399"),
            Ok(vec![(200, 200), (300, 399)])
        );
        assert!(read_status_list("abc")
            .unwrap_err()
            .contains("invalid character 'a'"));
    }

    #[test]
    fn expect_forms() {
        let e = read_expect(&words("! status 404 comment gone")).unwrap();
        assert!(e.inverse);
        assert_eq!(e.matcher, HttpMatch::Status(vec![(404, 404)]));
        assert_eq!(e.comment.as_deref(), Some("gone"));
        let e = read_expect(&words("hdr name -m beg x-re value yes")).unwrap();
        assert_eq!(
            e.matcher,
            HttpMatch::Header {
                name: HeaderPattern::Beg("x-re".into()),
                value: Some(HeaderPattern::Str("yes".into())),
                full: false
            }
        );
        assert!(read_expect(&words("hdr name")).is_err());
        assert!(read_expect(&words("foo bar")).is_err());
        assert!(read_expect(&words("rstatus ("))
            .unwrap_err()
            .contains("regex '(' is invalid"));
    }

    #[test]
    fn the_request_merges_option_httpchk() {
        let base = HttpChkRequest {
            method: "GET".into(),
            uri: "/health".into(),
            version: "HTTP/1.0".into(),
        };
        let send = read_send_args(&words("uri /x hdr Host a body hi")).unwrap();
        assert_eq!(
            send.request(&base),
            b"GET /x HTTP/1.0\r\nHost: a\r\ncontent-length: 2\r\n\r\nhi".to_vec()
        );
    }
}
