//! `option tcp-check` and its `tcp-check connect|send|send-binary|expect|comment` rule lists
//! as HAProxy 2.6 reads them, and the ready-made protocol checks that HAProxy builds from the
//! same rules: `option smtpchk`, `redis-check`, `mysql-check`, `pgsql-check`, `ldap-check`
//! ([`TcpCheckOption::build`]). Errors are HAProxy's words (`'tcp-check expect' : …`).

use super::checks::CheckRegex;
use super::parser::Line;
use super::proxy::Located;
use std::net::IpAddr;

/// Which check a backend runs when it chose a tcp-check (the last `option` wins, as in HAProxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpCheckOption {
    /// `option tcp-check`: the section's `tcp-check` lines.
    Rules,
    /// `option smtpchk [EHLO|HELO domain]`: the command sent after the greeting.
    Smtp(String),
    Redis,
    /// `option mysql-check [user U [post-41|pre-41]]`.
    Mysql(Option<(String, bool)>),
    /// `option pgsql-check user U`.
    Pgsql(String),
    Ldap,
}

/// Which protocol a rule list speaks: the generic one reports HAProxy's `TCPCHK …` texts, a
/// protocol check only its own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpCheckProtocol {
    Generic,
    Smtp,
    Redis,
    Mysql,
    Pgsql,
    Ldap,
}

/// A finished tcp-check: the rules in order, the first a connect.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpCheck {
    pub protocol: TcpCheckProtocol,
    pub rules: Vec<TcpCheckRule>,
    /// HAProxy's step number of each rule, for its messages: 0 for the implicit connect,
    /// then the line's place in the list counting from 1 (`tcp-check comment` lines count).
    pub steps: Vec<usize>,
}

/// One step of a tcp-check.
#[derive(Debug, Clone, PartialEq)]
pub enum TcpCheckRule {
    Connect(TcpConnect),
    Send {
        data: Vec<u8>,
        comment: Option<String>,
    },
    Expect(TcpExpect),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcpConnect {
    pub port: Option<u16>,
    pub addr: Option<IpAddr>,
    /// Starts the connection with a PROXY protocol v1 header.
    pub send_proxy: bool,
    pub comment: Option<String>,
    /// Added by HAProxy in front of a list that starts otherwise (step 0, reported quietly).
    pub implicit: bool,
}

/// `tcp-check expect [min-recv N] [!] <match> <pattern> [comment C] [error-status S]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpExpect {
    pub inverse: bool,
    pub matcher: TcpMatch,
    /// `min-recv`: wait for this many bytes; a mismatch then is final. Without it a
    /// mismatch waits for more until the response ends.
    pub min_recv: Option<usize>,
    pub comment: Option<String>,
    /// `error-status L7STS`: the status of a failure (else `L7RSP`).
    pub error_sts: bool,
    /// The `info` of a failure, replacing HAProxy's generic text.
    pub on_error: Option<CheckText>,
    /// The `info` of a success when this is the last rule.
    pub on_success: Option<CheckText>,
    /// The check code is the response's first three digits (`smtpchk`).
    pub code_from_payload: bool,
}

/// What an expect rule looks for in the bytes read.
#[derive(Debug, Clone, PartialEq)]
pub enum TcpMatch {
    String(Vec<u8>),
    RString(CheckRegex),
    Binary(Vec<u8>),
    /// A regex over the response written in upper-case hex.
    RBinary(CheckRegex),
    /// MySQL's handshake packet (`first`), or the OK packet after it.
    MysqlPacket {
        after_handshake: bool,
    },
    /// LDAP's bind response.
    LdapBind,
}

/// A message built from the response, as HAProxy's protocol checks write them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckText {
    Fixed(String),
    /// `res.payload(from,0)[,ltrim(' ')],cut_crlf`: the response from `from`, to its first
    /// CR or LF.
    Line {
        from: usize,
        ltrim: bool,
    },
    /// `res.payload(from,0)`: the response from `from` (to its first NUL).
    Rest {
        from: usize,
    },
}

impl CheckText {
    pub fn render(&self, response: &[u8]) -> String {
        match self {
            CheckText::Fixed(text) => text.clone(),
            CheckText::Line { from, ltrim } => {
                let mut rest = response.get(*from..).unwrap_or_default();
                if *ltrim {
                    while let [b' ', tail @ ..] = rest {
                        rest = tail;
                    }
                }
                let end = rest
                    .iter()
                    .position(|b| *b == b'\r' || *b == b'\n')
                    .unwrap_or(rest.len());
                String::from_utf8_lossy(&rest[..end]).into_owned()
            }
            CheckText::Rest { from } => {
                let rest = response.get(*from..).unwrap_or_default();
                let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
                String::from_utf8_lossy(&rest[..end]).into_owned()
            }
        }
    }
}

/// One `tcp-check` line as read: a step, or a comment for the step after it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ReadTcpRule {
    Rule(TcpCheckRule),
    Comment(String),
}

/// The `tcp-check` lines of a section (and its defaults), in order.
#[derive(Debug, Clone, Default)]
pub(super) struct TcpCheckLines {
    pub rules: Vec<Located<ReadTcpRule>>,
}

impl TcpCheckLines {
    fn steps(&self) -> impl Iterator<Item = &TcpCheckRule> {
        self.rules.iter().filter_map(|r| match &r.value {
            ReadTcpRule::Rule(rule) => Some(rule),
            ReadTcpRule::Comment(_) => None,
        })
    }

    /// Reads one `tcp-check <word> …` line (`args` after the word).
    pub fn read(&mut self, line: &Line, word: &str, args: &[String]) -> Result<(), String> {
        let rule = match word {
            "comment" => match args {
                [text] => ReadTcpRule::Comment(text.clone()),
                _ => return Err("'tcp-check comment' : expects a string as argument.".into()),
            },
            "connect" => ReadTcpRule::Rule(TcpCheckRule::Connect(self.read_connect(args)?)),
            "send" | "send-binary" => ReadTcpRule::Rule(read_send(word, args)?),
            "expect" => ReadTcpRule::Rule(TcpCheckRule::Expect(read_expect(args)?)),
            other => {
                return Err(format!(
                    "'tcp-check' only supports 'comment', 'connect', 'send', 'send-binary', \
                     'expect'. but got '{other}'"
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
    fn read_connect(&self, args: &[String]) -> Result<TcpConnect, String> {
        if self
            .steps()
            .next()
            .is_some_and(|rule| !matches!(rule, TcpCheckRule::Connect(_)))
        {
            return Err(
                "'tcp-check connect' : first step MUST also be a 'connect', optionally \
                 preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a \
                 'connect' step in the tcp-check ruleset."
                    .into(),
            );
        }
        let mut connect = TcpConnect::default();
        let mut words = args.iter();
        while let Some(word) = words.next() {
            let mut value = |what: &str| {
                words.next().cloned().ok_or(format!(
                    "'tcp-check connect' : '{word}' expects {what} as argument."
                ))
            };
            match word.as_str() {
                "port" => {
                    let text = value("a port number or a sample expression")?;
                    connect.port = Some(text.parse().ok().filter(|p| *p > 0).ok_or(format!(
                        "'tcp-check connect' : expects a valid TCP port (from range 1 to \
                         65535) or a sample expression, got {text}."
                    ))?);
                }
                "addr" => {
                    let text = value("<ipv4|ipv6>")?;
                    connect.addr = Some(text.parse().map_err(|_| {
                        format!("'tcp-check connect' : 'addr' : invalid address: '{text}'.")
                    })?);
                }
                "comment" => connect.comment = Some(value("a string")?),
                "send-proxy" => connect.send_proxy = true,
                // Whether the socket lingers on close changes nothing a check can see here.
                "linger" | "default" => {}
                other => {
                    return Err(format!(
                        "'tcp-check connect' : expects 'comment', 'port', 'addr', 'send-proxy', \
                         'linger' or 'default' but got '{other}' as argument (pointsman \
                         supports no 'ssl', 'sni', 'alpn', 'proto' or 'via-socks4' here)."
                    ))
                }
            }
        }
        Ok(connect)
    }
}

/// `send <string> [comment C]` or `send-binary <hex> [comment C]`.
fn read_send(word: &str, args: &[String]) -> Result<TcpCheckRule, String> {
    let Some((data, rest)) = args.split_first() else {
        let what = if word == "send" {
            "string"
        } else {
            "binary string"
        };
        return Err(format!(
            "'tcp-check {word}' : '{what}' expects a {word} as argument."
        ));
    };
    let comment = match rest {
        [] => None,
        [c, text] if c == "comment" => Some(text.clone()),
        [c] if c == "comment" => {
            return Err(format!(
                "'tcp-check {word}' : 'comment' expects a string as argument."
            ))
        }
        [other, ..] => {
            return Err(format!(
                "'tcp-check {word}' : expects 'comment' but got '{other}' as argument."
            ))
        }
    };
    let data = if word == "send" {
        data.as_bytes().to_vec()
    } else {
        parse_hex(data)
            .map_err(|e| format!("'tcp-check {word}' : '{data}' invalid binary string ({e})."))?
    };
    Ok(TcpCheckRule::Send { data, comment })
}

/// A hex string (`2b504f4e47`) as bytes, with HAProxy's complaints.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("an even number of hex digit is expected".into());
    }
    text.as_bytes()
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let digits = std::str::from_utf8(pair).unwrap_or("");
            u8::from_str_radix(digits, 16).map_err(|_| {
                let at = i * 2 + usize::from(pair[0].is_ascii_hexdigit());
                format!(
                    "'{}' is an invalid hex digit at position {at}",
                    char::from(text.as_bytes()[at])
                )
            })
        })
        .collect()
}

const EXPECT_KINDS: &str = "'only supports min-recv, '[!]binary', '[!]string', '[!]rstring', \
                            '[!]string-lf''[!]rbinary', '[!]binary-lf' or comment";

/// `expect [min-recv N] [!] string|rstring|binary|rbinary <pattern> [comment C]
/// [error-status L7RSP|L7STS]`.
fn read_expect(args: &[String]) -> Result<TcpExpect, String> {
    if args.is_empty() {
        return Err(
            "'tcp-check expect' : expects at least a matching pattern as arguments.".into(),
        );
    }
    let mut inverse = false;
    let mut matcher = None;
    let mut expect_min_recv = None;
    let (mut comment, mut error_sts) = (None, false);
    let mut words = args.iter().peekable();
    while let Some(word) = words.next() {
        let mut word = word.as_str();
        if let Some(rest) = word.strip_prefix('!') {
            inverse = !inverse;
            if rest.is_empty() {
                continue;
            }
            word = rest;
        }
        let mut value = |what: &str| {
            words.next().cloned().ok_or(format!(
                "'tcp-check expect' : '{word}' expects {what} as argument."
            ))
        };
        match word {
            "min-recv" => {
                let text = value("a integer")?;
                expect_min_recv = Some(text.parse::<usize>().map_err(|_| {
                    "'tcp-check expect' : 'min-recv' expects -1 or an integer from 0 to INT_MAX."
                        .to_string()
                })?);
            }
            "string" | "rstring" | "binary" | "rbinary" => {
                if matcher.is_some() {
                    return Err("'tcp-check expect' : only on pattern expected.".into());
                }
                let pattern = value("a <pattern>")?;
                matcher = Some(read_pattern(word, &pattern)?);
            }
            "comment" => comment = Some(value("a string")?),
            "error-status" => {
                let status = value("a string")?;
                error_sts = match status.to_ascii_uppercase().as_str() {
                    "L7RSP" => false,
                    "L7STS" => true,
                    _ => {
                        return Err(format!(
                            "'tcp-check expect' : 'error-status' only supports 'L7RSP' or \
                             'L7STS' status here (got '{status}')."
                        ))
                    }
                };
            }
            other => {
                return Err(format!(
                    "'tcp-check expect' : {EXPECT_KINDS} but got '{other}' as argument."
                ))
            }
        }
    }
    let Some(matcher) = matcher else {
        return Err("'tcp-check expect' : pattern not found.".into());
    };
    Ok(TcpExpect {
        error_sts,
        comment,
        ..expect(inverse, matcher, expect_min_recv)
    })
}

fn read_pattern(kind: &str, pattern: &str) -> Result<TcpMatch, String> {
    let regex = |p: &str| {
        regex::bytes::Regex::new(p)
            .map(CheckRegex)
            .map_err(|e| format!("'tcp-check expect' : regex '{p}' is invalid ({e})."))
    };
    Ok(match kind {
        "string" => TcpMatch::String(pattern.as_bytes().to_vec()),
        "rstring" => TcpMatch::RString(regex(pattern)?),
        "binary" => TcpMatch::Binary(
            parse_hex(pattern)
                .map_err(|e| format!("'tcp-check expect' : invalid binary string ({e})."))?,
        ),
        _ => TcpMatch::RBinary(regex(pattern)?),
    })
}

/// An expect rule with HAProxy's defaults around `matcher`.
fn expect(inverse: bool, matcher: TcpMatch, min_recv: Option<usize>) -> TcpExpect {
    TcpExpect {
        inverse,
        matcher,
        min_recv,
        comment: None,
        error_sts: false,
        on_error: None,
        on_success: None,
        code_from_payload: false,
    }
}

impl TcpCheckOption {
    /// The rule list HAProxy runs for this option (`lines` for `option tcp-check`), with its
    /// implicit connect first.
    pub(super) fn build(&self, lines: &TcpCheckLines) -> TcpCheck {
        let numbered = |rules: Vec<TcpCheckRule>| rules.into_iter().zip(1..).collect();
        let (protocol, mut rules): (_, Vec<(TcpCheckRule, usize)>) = match self {
            TcpCheckOption::Rules => (TcpCheckProtocol::Generic, generic_rules(lines)),
            TcpCheckOption::Smtp(command) => {
                (TcpCheckProtocol::Smtp, numbered(smtp_rules(command)))
            }
            TcpCheckOption::Redis => (TcpCheckProtocol::Redis, numbered(redis_rules())),
            TcpCheckOption::Mysql(user) => (
                TcpCheckProtocol::Mysql,
                numbered(mysql_rules(user.as_ref())),
            ),
            TcpCheckOption::Pgsql(user) => (TcpCheckProtocol::Pgsql, numbered(pgsql_rules(user))),
            TcpCheckOption::Ldap => (TcpCheckProtocol::Ldap, numbered(ldap_rules())),
        };
        if !matches!(rules.first(), Some((TcpCheckRule::Connect(_), _))) {
            let implicit = TcpCheckRule::Connect(TcpConnect {
                implicit: true,
                ..TcpConnect::default()
            });
            rules.insert(0, (implicit, 0));
        }
        let (rules, steps) = rules.into_iter().unzip();
        TcpCheck {
            protocol,
            rules,
            steps,
        }
    }
}

/// The section's rules with their step numbers, each comment given to the step after it.
fn generic_rules(lines: &TcpCheckLines) -> Vec<(TcpCheckRule, usize)> {
    let mut rules = Vec::new();
    let mut pending: Option<String> = None;
    for (read, step) in lines.rules.iter().zip(1..) {
        match &read.value {
            ReadTcpRule::Comment(text) => pending = Some(text.clone()),
            ReadTcpRule::Rule(rule) => {
                let mut rule = rule.clone();
                if let Some(text) = pending.take() {
                    let comment = match &mut rule {
                        TcpCheckRule::Connect(c) => &mut c.comment,
                        TcpCheckRule::Send { comment, .. } => comment,
                        TcpCheckRule::Expect(e) => &mut e.comment,
                    };
                    comment.get_or_insert(text);
                }
                rules.push((rule, step));
            }
        }
    }
    rules
}

fn regex(pattern: &str) -> CheckRegex {
    CheckRegex(regex::bytes::Regex::new(pattern).expect("a built-in check pattern"))
}

/// An SMTP reply line: its code, and the text after it as `info`.
fn smtp_reply(pattern: &str, success_info: bool) -> TcpCheckRule {
    let text = CheckText::Line {
        from: 4,
        ltrim: true,
    };
    TcpCheckRule::Expect(TcpExpect {
        error_sts: true,
        on_error: Some(text.clone()),
        on_success: success_info.then_some(text),
        code_from_payload: true,
        ..expect(false, TcpMatch::RString(regex(pattern)), Some(4))
    })
}

/// HAProxy 2.6's `*smtp-check`: a greeting of any code, then a 2xx, then the command and a
/// 2xx, then `QUIT` and its 221 (whose text a passing check reports).
fn smtp_rules(command: &str) -> Vec<TcpCheckRule> {
    vec![
        TcpCheckRule::Connect(TcpConnect::default()),
        TcpCheckRule::Expect(TcpExpect {
            on_error: Some(CheckText::Line {
                from: 0,
                ltrim: false,
            }),
            ..expect(false, TcpMatch::RString(regex("^[0-9]{3}[ \r]")), Some(4))
        }),
        smtp_reply("^2[0-9]{2}[ \r]", false),
        TcpCheckRule::Send {
            data: format!("{command}\r\n").into_bytes(),
            comment: None,
        },
        smtp_reply("^2[0-9]{2}[- \r]", false),
        TcpCheckRule::Send {
            data: b"QUIT\r\n".to_vec(),
            comment: None,
        },
        smtp_reply("^221[ \r]", true),
    ]
}

/// HAProxy's `*redis-check`: `PING` answered by `+PONG`.
fn redis_rules() -> Vec<TcpCheckRule> {
    vec![
        TcpCheckRule::Send {
            data: b"*1\r\n$4\r\nPING\r\n".to_vec(),
            comment: None,
        },
        TcpCheckRule::Expect(TcpExpect {
            error_sts: true,
            on_error: Some(CheckText::Line {
                from: 0,
                ltrim: false,
            }),
            on_success: Some(CheckText::Fixed("Redis server is ok".into())),
            ..expect(false, TcpMatch::String(b"+PONG\r\n".to_vec()), None)
        }),
    ]
}

/// HAProxy's `*mysql-check`: the server's handshake; with a user, a login packet (4.1 or
/// the older one) and its OK packet, then `COM_QUIT`.
fn mysql_rules(user: Option<&(String, bool)>) -> Vec<TcpCheckRule> {
    let mut rules = vec![TcpCheckRule::Connect(TcpConnect::default())];
    let Some((user, post_41)) = user else {
        rules.push(TcpCheckRule::Expect(expect(
            false,
            TcpMatch::MysqlPacket {
                after_handshake: false,
            },
            None,
        )));
        return rules;
    };
    let len = user.len() + if *post_41 { 34 } else { 7 };
    let mut packet = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, 1];
    if *post_41 {
        packet.extend_from_slice(&[0x00, 0x82, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01, 0x21]);
        packet.extend_from_slice(&[0; 23]);
    } else {
        packet.extend_from_slice(&[0x00, 0x80, 0x00, 0x00, 0x01]);
    }
    packet.extend_from_slice(user.as_bytes());
    packet.extend_from_slice(&[0, 0, 0x01, 0x00, 0x00, 0x00, 0x01]);
    rules.push(TcpCheckRule::Send {
        data: packet,
        comment: None,
    });
    for after_handshake in [false, true] {
        rules.push(TcpCheckRule::Expect(expect(
            false,
            TcpMatch::MysqlPacket { after_handshake },
            None,
        )));
    }
    rules
}

/// HAProxy's `*pgsql-check`: a startup packet for the user, answered by an authentication
/// request (not an `E`rror).
fn pgsql_rules(user: &str) -> Vec<TcpCheckRule> {
    let len = (15 + user.len()) as u32;
    let mut packet = len.to_be_bytes().to_vec();
    packet.extend_from_slice(&[0, 3, 0, 0]);
    packet.extend_from_slice(b"user\0");
    packet.extend_from_slice(user.as_bytes());
    packet.extend_from_slice(&[0, 0]);
    vec![
        TcpCheckRule::Connect(TcpConnect::default()),
        TcpCheckRule::Send {
            data: packet,
            comment: None,
        },
        TcpCheckRule::Expect(TcpExpect {
            on_error: Some(CheckText::Rest { from: 6 }),
            ..expect(true, TcpMatch::RString(regex("^E")), Some(5))
        }),
        TcpCheckRule::Expect(TcpExpect {
            error_sts: true,
            on_success: Some(CheckText::Fixed("PostgreSQL server is ok".into())),
            on_error: Some(CheckText::Fixed("PostgreSQL unknown error".into())),
            ..expect(
                false,
                TcpMatch::RBinary(regex("^52000000(08|0A|0C)000000(00|02|03|04|05|06)")),
                Some(9),
            )
        }),
    ]
}

/// HAProxy's `*ldap-check`: an anonymous bind, answered by a successful bind response.
fn ldap_rules() -> Vec<TcpCheckRule> {
    vec![
        TcpCheckRule::Send {
            data: parse_hex("300C020101600702010304008000").expect("a built-in packet"),
            comment: None,
        },
        TcpCheckRule::Expect(TcpExpect {
            on_error: Some(CheckText::Fixed("Not LDAPv3 protocol".into())),
            ..expect(false, TcpMatch::RBinary(regex("^30")), Some(14))
        }),
        TcpCheckRule::Expect(expect(false, TcpMatch::LdapBind, None)),
    ]
}

/// `option smtpchk [EHLO|HELO <domain>]`: anything else sends HAProxy's `HELO localhost`.
pub(super) fn read_smtpchk(args: &[String]) -> Result<TcpCheckOption, String> {
    match args {
        [verb, domain] if verb == "EHLO" || verb == "HELO" => {
            Ok(TcpCheckOption::Smtp(format!("{verb} {domain}")))
        }
        [_, _, extra, ..] => Err(format!(
            "'option smtpchk' cannot handle more than 2 arguments (got '{extra}')."
        )),
        _ => Ok(TcpCheckOption::Smtp("HELO localhost".into())),
    }
}

/// `option mysql-check [user <name> [post-41|pre-41]]`.
pub(super) fn read_mysql_check(args: &[String]) -> Result<TcpCheckOption, String> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(TcpCheckOption::Mysql(None));
    };
    if first != "user" {
        return Err(format!(
            "'option mysql-check' only supports optional values: 'user' (got '{first}')."
        ));
    }
    let Some((user, rest)) = rest.split_first() else {
        return Err("'option mysql-check user' expects <username> as argument.".into());
    };
    let post_41 = match rest {
        [] => true,
        [v] if v == "post-41" => true,
        [v] if v == "pre-41" => false,
        [v] => {
            return Err(format!(
                "keyword 'user' only supports 'post-41' and 'pre-41' (got '{v}')."
            ))
        }
        [_, extra, ..] => {
            return Err(format!(
                "'option mysql-check' cannot handle more than 3 arguments (got '{extra}')."
            ))
        }
    };
    Ok(TcpCheckOption::Mysql(Some((user.clone(), post_41))))
}

/// `option pgsql-check user <name>`.
pub(super) fn read_pgsql_check(args: &[String]) -> Result<TcpCheckOption, String> {
    match args {
        [word, user] if word == "user" => Ok(TcpCheckOption::Pgsql(user.clone())),
        [word, _] => Err(format!(
            "'option pgsql-check' only supports optional values: 'user' (got '{word}')."
        )),
        [_, _, extra, ..] => Err(format!(
            "'option pgsql-check' cannot handle more than 2 arguments (got '{extra}')."
        )),
        _ => Err("'option pgsql-check' expects 'user <username>' as argument.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn expect_forms() {
        let e = read_expect(&words("min-recv 4 ! rstring ^E comment bad")).unwrap();
        assert!(e.inverse);
        assert_eq!(e.min_recv, Some(4));
        assert_eq!(e.comment.as_deref(), Some("bad"));
        let e = read_expect(&words("!binary 2b50")).unwrap();
        assert!(e.inverse);
        assert_eq!(e.matcher, TcpMatch::Binary(b"+P".to_vec()));
        assert!(read_expect(&words("status 200"))
            .unwrap_err()
            .contains("but got 'status' as argument"));
        assert!(read_expect(&words("binary 2b5"))
            .unwrap_err()
            .contains("invalid binary string"));
    }

    #[test]
    fn protocol_packets_are_haproxys() {
        let Some(TcpCheckRule::Send { data, .. }) = pgsql_rules("bob").get(1).cloned() else {
            panic!("pgsql sends a startup packet");
        };
        assert_eq!(data, b"\0\0\0\x12\0\x03\0\0user\0bob\0\0".to_vec());
        let rules = mysql_rules(Some(&("bob".into(), true)));
        let Some(TcpCheckRule::Send { data, .. }) = rules.get(1) else {
            panic!("mysql with a user logs in");
        };
        assert_eq!(data.len(), 4 + 37 + 5);
        assert_eq!(&data[..4], &[37, 0, 0, 1]);
    }

    #[test]
    fn texts_from_the_response() {
        let line = CheckText::Line {
            from: 4,
            ltrim: true,
        };
        assert_eq!(line.render(b"554  no service\r\nmore"), "no service");
        assert_eq!(CheckText::Rest { from: 2 }.render(b"abcd\0e"), "cd");
    }
}
