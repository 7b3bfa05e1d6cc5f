//! `http-request` rules and the `redirect` keyword of a frontend: parsed at load into typed
//! actions ([`RequestAction`]) with their replies already rendered ([`Reply`]), evaluated per
//! request in order ([`HttpRules::apply`]): rewrites edit the request as they come (see
//! `rewrite`), and the first rule whose condition holds and whose action is final decides.
//! Only a redirect's `Location` is built per request (it copies the request's path), into the
//! caller's reused scratch vector.

use super::acl::AclTable;
use super::condition::Condition;
use super::convert::ConvertContext;
use super::fetch::{path_of, RequestView};
use super::logformat::LogFormat;
use super::map::{MapUse, Maps};
use super::monitor::Monitor;
use super::reply::{write_redirect, ConnectionField, ErrorFiles, Reply};
use super::rewrite::{EditedHead, EditedView, Rewrite};
use super::sample::SampleExpr;

/// What one `http-request` rule does.
#[derive(Debug, Clone)]
pub enum RequestAction {
    /// Stops the `http-request` rules; the request goes on (`redirect` rules still apply).
    Allow,
    /// `deny [deny_status N]`: answer with this reply, counted as a denied request.
    Deny(Reply),
    /// `return …`: answer with this reply, counted as an intercepted request.
    Reply(Reply),
    Redirect(Redirect),
    /// Edits the request and goes on to the next rule.
    Rewrite(Rewrite),
}

impl RequestAction {
    /// The maps the action's values read (a rewrite's, a redirect's), gathered at load.
    fn map_uses(&self) -> Vec<&MapUse> {
        match self {
            RequestAction::Rewrite(rewrite) => rewrite.map_uses().collect(),
            RequestAction::Redirect(redirect) => redirect.target.value().map_uses().collect(),
            _ => Vec::new(),
        }
    }

    /// The fetches and converters of the action's values.
    fn samples_mut(&mut self) -> Vec<&mut SampleExpr> {
        match self {
            RequestAction::Rewrite(rewrite) => rewrite.samples_mut().collect(),
            RequestAction::Redirect(redirect) => {
                redirect.target.value_mut().samples_mut().collect()
            }
            _ => Vec::new(),
        }
    }
}

/// One rule: an action and the condition under which it applies.
#[derive(Debug, Clone)]
pub struct RequestRule {
    pub action: RequestAction,
    pub condition: Option<Condition>,
}

/// A frontend's `http-request` rules, then its `redirect` rules (HAProxy evaluates those
/// after every `http-request` rule, whatever their order in the file).
#[derive(Debug, Clone, Default)]
pub struct HttpRules {
    /// `monitor-uri`: answered before every rule.
    pub monitor: Option<Monitor>,
    pub request: Vec<RequestRule>,
    pub redirects: Vec<RequestRule>,
}

/// What the rules decided for one request.
#[derive(Debug, Clone, Copy)]
pub enum Verdict<'a> {
    /// Forward the request.
    Continue,
    /// A `deny` rule answers (HAProxy counts it in `dreq`).
    Deny(&'a Reply),
    /// `return` or `monitor-uri` answers (HAProxy counts it in `intercepted`).
    Reply(&'a Reply),
    Redirect(&'a Redirect),
}

impl HttpRules {
    /// `deny` replies become the proxy's `errorfile` for their status, where it has one.
    pub fn use_error_files(&mut self, files: &ErrorFiles) {
        for rule in &mut self.request {
            if let RequestAction::Deny(reply) = &mut rule.action {
                files.replace(reply);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.monitor.is_none() && self.request.is_empty() && self.redirects.is_empty()
    }

    /// Runs the rules on `request`, `http-request` rules first: rewrites go into `edited`
    /// (created by the first one that applies; later conditions read it), and the first final
    /// action whose condition holds is the verdict. `scratch` is reused for computed values.
    pub fn apply<'a, R: RequestView>(
        &'a self,
        acls: &AclTable,
        request: &R,
        edited: &mut Option<EditedHead>,
        scratch: &mut Vec<u8>,
    ) -> Verdict<'a> {
        let holds = |rule: &RequestRule, edited: &Option<EditedHead>| {
            rule.condition.as_ref().is_none_or(|c| match edited {
                Some(head) => c.holds(
                    acls,
                    &EditedView {
                        head,
                        received: request,
                    },
                ),
                None => c.holds(acls, request),
            })
        };
        if let Some(reply) = self.monitor.as_ref().and_then(|m| m.answer(acls, request)) {
            return Verdict::Reply(reply);
        }
        for rule in &self.request {
            if !holds(rule, edited) {
                continue;
            }
            match &rule.action {
                RequestAction::Allow => break,
                RequestAction::Deny(reply) => return Verdict::Deny(reply),
                RequestAction::Reply(reply) => return Verdict::Reply(reply),
                RequestAction::Redirect(redirect) => return Verdict::Redirect(redirect),
                RequestAction::Rewrite(rewrite) => {
                    let head = edited.get_or_insert_with(|| EditedHead::of(request));
                    rewrite.apply(head, request, scratch);
                }
            }
        }
        match self
            .redirects
            .iter()
            .find(|r| holds(r, edited))
            .map(|r| &r.action)
        {
            Some(RequestAction::Redirect(redirect)) => Verdict::Redirect(redirect),
            _ => Verdict::Continue,
        }
    }

    /// The maps the rules' values read, in order.
    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.request
            .iter()
            .chain(&self.redirects)
            .flat_map(|r| r.action.map_uses())
    }

    /// The fetches and converters of the rules' values, in order.
    pub fn samples_mut(&mut self) -> impl Iterator<Item = &mut SampleExpr> {
        self.request
            .iter_mut()
            .chain(&mut self.redirects)
            .flat_map(|r| r.action.samples_mut())
    }

    pub fn map_uses_mut(&mut self) -> impl Iterator<Item = &mut MapUse> {
        self.samples_mut().flat_map(SampleExpr::map_uses_mut)
    }

    /// Points each map converter at its map in the runtime's `maps` (by file path).
    pub fn bind_maps(&mut self, maps: &Maps) {
        for map_use in self.map_uses_mut() {
            map_use.index = maps.by_path(&map_use.file.path).unwrap_or(usize::MAX);
        }
    }

    /// Whether a rule may edit the request.
    pub fn rewrites(&self) -> bool {
        self.request
            .iter()
            .any(|r| matches!(r.action, RequestAction::Rewrite(_)))
    }
}

/// Where a redirect sends the client. Each value is a log-format string, as in HAProxy
/// (`location https://%[req.hdr(host)]%[path]`), computed per request.
#[derive(Debug, Clone)]
pub enum RedirectTarget {
    /// `location L`: exactly L.
    Location(LogFormat),
    /// `prefix P`: P before the request's path (and query); `/` adds nothing.
    Prefix(LogFormat),
    /// `scheme S`: `S://` + the request's Host + its path (and query).
    Scheme(LogFormat),
}

impl RedirectTarget {
    fn value(&self) -> &LogFormat {
        match self {
            RedirectTarget::Location(v) | RedirectTarget::Prefix(v) | RedirectTarget::Scheme(v) => {
                v
            }
        }
    }

    fn value_mut(&mut self) -> &mut LogFormat {
        match self {
            RedirectTarget::Location(v) | RedirectTarget::Prefix(v) | RedirectTarget::Scheme(v) => {
                v
            }
        }
    }
}

/// `redirect location|prefix|scheme X [code N] [drop-query] [append-slash]`.
#[derive(Debug, Clone)]
pub struct Redirect {
    pub target: RedirectTarget,
    pub code: u16,
    pub drop_query: bool,
    pub append_slash: bool,
}

impl Redirect {
    pub fn code(&self) -> u16 {
        self.code
    }

    /// Appends the whole redirect reply for `request` to `out`.
    pub fn write<R: RequestView>(
        &self,
        request: &R,
        out: &mut Vec<u8>,
        connection: ConnectionField,
    ) {
        // The location is built after the reply head so that `out` is the only buffer used.
        let start = out.len();
        self.location(request, out);
        let location = out.split_off(start);
        write_redirect(out, self.code, &location, connection);
    }

    /// HAProxy's `http_apply_redirect_rule`: `append-slash` adds `/` at the very end (after
    /// the query, unless `drop-query` removed it) and only to `prefix` and `scheme`.
    fn location<R: RequestView>(&self, request: &R, out: &mut Vec<u8>) {
        let uri = self.request_uri(request.target());
        match &self.target {
            RedirectTarget::Location(location) => {
                location.write(request, out);
                return;
            }
            RedirectTarget::Prefix(prefix) => {
                let start = out.len();
                prefix.write(request, out);
                if &out[start..] == b"/" {
                    out.truncate(start);
                }
            }
            RedirectTarget::Scheme(scheme) => {
                scheme.write(request, out);
                out.extend_from_slice(b"://");
                let host = request
                    .headers()
                    .find(|(n, _)| n.eq_ignore_ascii_case(b"host"))
                    .map_or(&b""[..], |(_, v)| v);
                out.extend_from_slice(host);
            }
        }
        out.extend_from_slice(uri);
        if self.append_slash && !uri.ends_with(b"/") {
            out.push(b'/');
        }
    }

    /// The path and query of `target` (its path alone with `drop-query`).
    fn request_uri<'t>(&self, target: &'t [u8]) -> &'t [u8] {
        let path = path_of(target);
        if self.drop_query {
            return path;
        }
        // `path` is a subslice of `target`, and the query follows it there.
        let start = path.as_ptr() as usize - target.as_ptr() as usize;
        &target[start..]
    }
}

/// Reads a whole file as bytes (a `return file`'s body); the config does the I/O.
pub type ReadBytes<'a> = &'a dyn Fn(&str) -> std::io::Result<Vec<u8>>;

/// Parses the words after `http-request` (action, arguments, then an optional condition).
pub fn parse_request_rule(
    words: &[String],
    acls: &mut AclTable,
    read_file: &dyn Fn(&str) -> Result<String, String>,
    read_bytes: ReadBytes,
) -> Result<(RequestRule, Vec<String>), String> {
    let Some((action, rest)) = words.split_first() else {
        return Err(format!("'http-request' expects an action ({SUPPORTED})."));
    };
    let (args, condition) = split_condition(rest);
    let mut warnings = Vec::new();
    let action = match action.as_str() {
        "allow" => {
            no_arguments("allow", args)?;
            RequestAction::Allow
        }
        "deny" => RequestAction::Deny(parse_deny("http-request", 403, args)?),
        "return" => RequestAction::Reply(parse_return(args, read_bytes, &mut warnings)?),
        "redirect" => RequestAction::Redirect(parse_redirect(args, &context(read_file))?),
        other => match Rewrite::parse(other, args, &context(read_file)) {
            Some(rewrite) => RequestAction::Rewrite(rewrite?),
            None => {
                return Err(format!(
                    "'http-request {other}' is not supported (supported: {SUPPORTED})."
                ))
            }
        },
    };
    let name = format!("http-request {action_name}", action_name = words[0]);
    let condition = parse_condition(&name, condition, acls, read_file, &mut warnings)?;
    Ok((RequestRule { action, condition }, warnings))
}

/// Parses the words after the `redirect` keyword.
pub fn parse_redirect_rule(
    words: &[String],
    acls: &mut AclTable,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(RequestRule, Vec<String>), String> {
    let (args, condition) = split_condition(words);
    let redirect = parse_redirect(args, &context(read_file))?;
    let mut warnings = Vec::new();
    let condition = parse_condition("redirect", condition, acls, read_file, &mut warnings)?;
    let rule = RequestRule {
        action: RequestAction::Redirect(redirect),
        condition,
    };
    Ok((rule, warnings))
}

const SUPPORTED: &str = "'allow', 'deny', 'return', 'redirect', 'set-header', 'add-header', \
    'del-header', 'replace-header', 'replace-value', 'set-path', 'set-query', 'set-uri', \
    'set-method', and 'use-service prometheus-exporter'";

/// The action's words, and the condition's (from `if` or `unless` on).
fn split_condition(words: &[String]) -> (&[String], &[String]) {
    let at = words
        .iter()
        .position(|w| w == "if" || w == "unless")
        .unwrap_or(words.len());
    words.split_at(at)
}

fn parse_condition(
    rule: &str,
    words: &[String],
    acls: &mut AclTable,
    read_file: &dyn Fn(&str) -> Result<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Option<Condition>, String> {
    if words.is_empty() {
        return Ok(None);
    }
    let (condition, found) = Condition::parse(words, acls, read_file)
        .map_err(|e| format!("error detected while parsing an '{rule}' condition : {e}."))?;
    warnings.extend(found);
    Ok(Some(condition))
}

fn no_arguments(action: &str, args: &[String]) -> Result<(), String> {
    match args.first() {
        None => Ok(()),
        Some(extra) => Err(format!(
            "'http-request {action}' takes no argument (found '{extra}'); a condition starts with 'if' or 'unless'."
        )),
    }
}

/// `deny [deny_status N]` of `rule` (`http-request`, `http-response`), HAProxy's page for
/// `default` unless told.
pub(super) fn parse_deny(rule: &str, default: u16, args: &[String]) -> Result<Reply, String> {
    match args {
        [] => Reply::deny_page(default),
        [key, status] if key == "deny_status" => Reply::deny_page(parse_status(status)?),
        [key] if key == "deny_status" => {
            Err("'deny_status' expects <status_code> as argument.".to_string())
        }
        [other, ..] => Err(format!(
            "'{rule} deny' takes only 'deny_status <code>' here (found '{other}')."
        )),
    }
}

pub(super) fn parse_status(word: &str) -> Result<u16, String> {
    match word.parse::<u16>() {
        Ok(status) if (200..=599).contains(&status) => Ok(status),
        _ => Err(format!("Unexpected status code '{word}'.")),
    }
}

/// Where a `return`'s payload comes from.
enum Payload {
    /// `string S` or `file F`: a body with the rule's status, type and fields.
    Body(Vec<u8>),
    /// `errorfile F`: a whole response, sent as written.
    Errorfile(Reply),
}

/// `return [status N] [content-type T] [string S | file F | errorfile F] [hdr NAME VALUE]…`.
fn parse_return(
    args: &[String],
    read_bytes: ReadBytes,
    warnings: &mut Vec<String>,
) -> Result<Reply, String> {
    let mut status = 200;
    let mut content_type = None;
    // With an errorfile the status on the wire (and in the logs) is the file's.
    let mut payload: Option<(&str, Payload)> = None;
    let mut fields = Vec::new();
    let mut rest = args;
    while let Some((key, after)) = rest.split_first() {
        let value = |n: usize| {
            after
                .get(n)
                .ok_or_else(|| format!("'{key}' expects an argument."))
        };
        match key.as_str() {
            "status" => status = parse_status(value(0)?)?,
            "content-type" => content_type = Some(value(0)?.clone()),
            "string" | "file" | "errorfile" => {
                if let Some((defined, _)) = payload {
                    return Err(format!(
                        "unexpected '{key}' argument, '{defined}' already defined."
                    ));
                }
                payload = Some((key, read_payload(key, value(0)?, read_bytes)?));
            }
            "hdr" => {
                let (name, field_value) = (value(0)?, value(1)?);
                if is_reply_framing(name) {
                    warnings.push(format!("header '{name}' always ignored by the http reply."));
                } else {
                    fields.push((name.clone(), field_value.clone()));
                }
                rest = &after[2..];
                continue;
            }
            "lf-file" | "lf-string" | "errorfiles" => {
                return Err(format!(
                    "'http-request return {key}' is not supported yet (supported: status, content-type, string, file, errorfile, hdr)."
                ))
            }
            other => {
                return Err(format!(
                    "'http-request return' expects 'status', 'content-type', 'string', 'file', 'errorfile' or 'hdr' (was '{other}')."
                ))
            }
        }
        rest = &after[1..];
    }
    let body = match payload {
        Some((_, Payload::Errorfile(reply))) => {
            warn_ignored_with_errorfile(content_type.as_deref(), &fields, warnings);
            return Ok(reply);
        }
        Some((_, Payload::Body(body))) => body,
        None => Vec::new(),
    };
    match (&content_type, body.is_empty()) {
        (None, false) => {
            return Err(
                "a content type must be defined when non-empty payload is configured.".to_string(),
            )
        }
        (Some(t), true) => warnings.push(format!(
            "content-type '{t}' ignored by the http reply when used with an empty payload."
        )),
        _ => {}
    }
    Ok(Reply::returned(
        status,
        content_type.as_deref(),
        &body,
        &fields,
    ))
}

/// The payload of `string S`, `file F` or `errorfile F`, in HAProxy's words when a file
/// cannot be read or used.
fn read_payload(key: &str, value: &str, read_bytes: ReadBytes) -> Result<Payload, String> {
    if key == "string" {
        return Ok(Payload::Body(value.as_bytes().to_vec()));
    }
    let text = read_bytes(value).map_err(|_| format!("error opening file '{value}'."))?;
    if key == "file" {
        return Ok(Payload::Body(text));
    }
    Ok(Payload::Errorfile(Reply::errorfile(value, &text)?))
}

/// An errorfile is sent as written: HAProxy warns that `content-type` and `hdr` do nothing
/// (its own spelling of "errorfile" kept, so the lines match).
fn warn_ignored_with_errorfile(
    content_type: Option<&str>,
    fields: &[(String, String)],
    warnings: &mut Vec<String>,
) {
    if let Some(t) = content_type {
        warnings.push(format!(
            "content-type '{t}' ignored by the http reply when used with an erorrfile."
        ));
    }
    if !fields.is_empty() {
        warnings.push(
            "hdr parameters ignored by the http reply when used with an erorrfile.".to_string(),
        );
    }
}

/// Fields HAProxy computes itself in a reply and drops from `hdr`.
fn is_reply_framing(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
}

/// `location|prefix|scheme X [code N] [drop-query] [append-slash]`, in any order.
/// How a rule's log-format values read files (`map(FILE)`).
fn context(read_file: &dyn Fn(&str) -> Result<String, String>) -> ConvertContext<'_> {
    ConvertContext {
        read_file,
        user: String::new(),
    }
}

fn parse_redirect(args: &[String], context: &ConvertContext) -> Result<Redirect, String> {
    let mut target = None;
    let format = |value: String| LogFormat::parse(&value, context);
    let mut redirect = Redirect {
        target: RedirectTarget::Location(format(String::new())?),
        code: 302,
        drop_query: false,
        append_slash: false,
    };
    let mut rest = args.iter();
    while let Some(word) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("missing argument for '{word}'."))
        };
        match word.as_str() {
            "location" => target = Some(RedirectTarget::Location(format(value()?)?)),
            "prefix" => target = Some(RedirectTarget::Prefix(format(value()?)?)),
            "scheme" => target = Some(RedirectTarget::Scheme(format(value()?)?)),
            "code" => redirect.code = parse_redirect_code(&value()?)?,
            "drop-query" => redirect.drop_query = true,
            "append-slash" => redirect.append_slash = true,
            "set-cookie" | "clear-cookie" | "ignore-empty" => {
                return Err(format!("redirect option '{word}' is not supported yet."))
            }
            other => {
                return Err(format!(
                "expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', \
                 'drop-query', 'ignore-empty' or 'append-slash' (was '{other}')."
            ))
            }
        }
    }
    redirect.target = target.ok_or_else(|| {
        "redirect rule expects 'location', 'prefix' or 'scheme' followed by a value.".to_string()
    })?;
    Ok(redirect)
}

fn parse_redirect_code(word: &str) -> Result<u16, String> {
    match word.parse::<u16>() {
        Ok(code @ (301 | 302 | 303 | 307 | 308)) => Ok(code),
        _ => Err(format!(
            "'code': unsupported HTTP code '{word}' (must be one of 301, 302, 303, 307 or 308)."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fetch::tests::Plain;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    fn rules(lines: &[&str]) -> (HttpRules, AclTable) {
        let mut acls = AclTable::default();
        let mut rules = HttpRules::default();
        let no_file = |_: &str| Err(String::new());
        let no_bytes = |_: &str| std::fs::read("/nonexistent");
        for line in lines {
            match line.strip_prefix("redirect ") {
                Some(rest) => {
                    let (rule, _) = parse_redirect_rule(&words(rest), &mut acls, &no_file).unwrap();
                    rules.redirects.push(rule);
                }
                None => {
                    let (rule, _) =
                        parse_request_rule(&words(line), &mut acls, &no_file, &no_bytes).unwrap();
                    rules.request.push(rule);
                }
            }
        }
        (rules, acls)
    }

    fn reply_to(rules: &(HttpRules, AclTable), request: &Plain) -> String {
        let mut out = Vec::new();
        match rules.0.apply(&rules.1, request, &mut None, &mut Vec::new()) {
            Verdict::Continue => return "continue".to_string(),
            Verdict::Deny(r) | Verdict::Reply(r) => r.write(
                &mut out,
                ConnectionField::KeepAlive { http10: false },
                false,
            ),
            Verdict::Redirect(r) => r.write(request, &mut out, ConnectionField::Close),
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_first_final_rule_decides_and_allow_skips_to_the_redirect_rules() {
        let r = rules(&[
            "allow if { path_beg /ok }",
            "deny deny_status 429 if { path_beg /o }",
            "redirect location /moved if { path_beg /ok/r }",
        ]);
        assert!(reply_to(&r, &Plain::get("/okay", &[])).starts_with("continue"));
        assert!(reply_to(&r, &Plain::get("/other", &[])).starts_with("HTTP/1.1 429 "));
        assert!(reply_to(&r, &Plain::get("/ok/r", &[])).contains("location: /moved\r\n"));
        assert_eq!(reply_to(&r, &Plain::get("/x", &[])), "continue");
    }

    #[test]
    fn redirect_locations_are_haproxys() {
        let cases = [
            ("prefix /pre code 301", "/p/a?b=1", "/pre/p/a?b=1"),
            (
                "prefix https://x.example drop-query",
                "/q/a?b=1",
                "https://x.example/q/a",
            ),
            ("scheme https", "/s/a?b=1", "https://h.example:8080/s/a?b=1"),
            ("location /a append-slash", "/as?x", "/a"),
            ("prefix / append-slash", "/ps", "/ps/"),
            ("prefix / append-slash", "/psx/y?z", "/psx/y?z/"),
            ("prefix /p", "http://h.example/abs?q", "/p/abs?q"),
        ];
        for (args, target, location) in cases {
            let r = rules(&[&format!("redirect {args}")]);
            let reply = reply_to(&r, &Plain::get(target, &[("Host", "h.example:8080")]));
            assert!(
                reply.contains(&format!("\r\nlocation: {location}\r\n")),
                "{args} {target}: {reply}"
            );
        }
    }

    #[test]
    fn deny_and_return_replies_are_haproxys_bytes() {
        let r = rules(&[
            "deny",
            "return status 200 content-type text/plain string hi hdr X-A a",
        ]);
        assert_eq!(
            reply_to(&r, &Plain::get("/", &[])),
            "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\n\
             content-type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\n\
             Request forbidden by administrative rules.\n</body></html>\n"
        );
        let ret = rules(&["return status 200 content-type text/plain string hi hdr X-A a"]);
        assert_eq!(
            reply_to(&ret, &Plain::get("/", &[])),
            "HTTP/1.1 200 OK\r\nx-a: a\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nhi"
        );
        let no_content = rules(&["return status 204"]);
        assert_eq!(
            reply_to(&no_content, &Plain::get("/", &[])),
            "HTTP/1.1 204 No Content\r\n\r\n"
        );
    }

    #[test]
    fn errors_are_haproxys_words() {
        let mut acls = AclTable::default();
        let no_file = |_: &str| Err(String::new());
        let no_bytes = |_: &str| std::fs::read("/nonexistent");
        let err = |line: &str, acls: &mut AclTable| {
            parse_request_rule(&words(line), acls, &no_file, &no_bytes).unwrap_err()
        };
        assert!(err("deny deny_status 418", &mut acls).contains("status code '418' not handled"));
        assert!(
            err("redirect code 305 location /x", &mut acls).contains("unsupported HTTP code '305'")
        );
        assert!(err("redirect foo /x", &mut acls).contains("(was 'foo')"));
        assert!(err("return string hi", &mut acls).contains("a content type must be defined"));
        assert!(err("frobnicate", &mut acls).contains("'http-request frobnicate' is not supported"));
        assert!(err("deny if nope", &mut acls).contains("no such ACL : 'nope'"));
        assert!(err("redirect location", &mut acls).contains("missing argument for 'location'"));
    }
}
