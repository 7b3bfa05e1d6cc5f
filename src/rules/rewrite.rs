//! Request rewrites of `http-request` rules (`set-header`, `add-header`, `del-header`,
//! `replace-header`, `replace-value`, `set-path`, `set-query`, `set-uri`, `set-method`) and
//! the edited request they work on.
//!
//! The first rewrite that applies copies the request into an [`EditedHead`] (owned method,
//! target and fields): rules after it, and routing, read the edited request, as in HAProxy,
//! and the proxy forwards its head. That copy is the one allocation a rewrite costs; a request
//! that no rewrite touches is never copied.

use super::convert::ConvertContext;
use super::fetch::{path_of, ProxyFacts, RequestView, TlsFacts};
use super::logformat::LogFormat;
use super::map::{MapUse, Maps};
use super::sample::SampleExpr;
use regex::bytes::Regex;
use std::net::SocketAddr;

/// A request being rewritten.
#[derive(Debug, Clone)]
pub struct EditedHead {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: &'static [u8],
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl EditedHead {
    /// A copy of `request`'s head. The connection's addresses stay with the received view
    /// ([`EditedView`] asks it): `dst` costs a `getsockname` call, paid only by a rule that
    /// reads it.
    pub fn of<R: RequestView>(request: &R) -> EditedHead {
        EditedHead {
            method: request.method().to_vec(),
            target: request.target().to_vec(),
            version: request.version(),
            headers: request
                .headers()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
        }
    }

    fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers.iter().map(|(n, v)| (&n[..], &v[..]))
    }

    /// The head as an HTTP/1 request (`METHOD TARGET HTTP/1.x`, fields, empty line).
    pub fn write_head(&self, out: &mut Vec<u8>) {
        for part in [
            &self.method[..],
            b" ",
            &self.target,
            b" HTTP/",
            self.version,
            b"\r\n",
        ] {
            out.extend_from_slice(part);
        }
        for (name, value) in &self.headers {
            for part in [&name[..], b": ", value, b"\r\n"] {
                out.extend_from_slice(part);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// An edited request as rules read it: the copy, with what only the connection knows (its
/// addresses, the shard's runtime maps, the TLS session) from the view of the request as
/// received.
pub struct EditedView<'a, R> {
    pub head: &'a EditedHead,
    pub received: &'a R,
}

impl<R: RequestView> RequestView for EditedView<'_, R> {
    fn method(&self) -> &[u8] {
        &self.head.method
    }
    fn target(&self) -> &[u8] {
        &self.head.target
    }
    fn version(&self) -> &'static [u8] {
        self.head.version
    }
    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.head.fields()
    }
    fn src(&self) -> SocketAddr {
        self.received.src()
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.received.dst()
    }
    fn maps(&self) -> &Maps {
        self.received.maps()
    }
    fn tls(&self) -> Option<TlsFacts<'_>> {
        self.received.tls()
    }
    fn proxy(&self) -> Option<&dyn ProxyFacts> {
        self.received.proxy()
    }
}

/// One rewrite action, its values parsed at load.
#[derive(Debug, Clone)]
pub enum Rewrite {
    SetHeader(String, LogFormat),
    AddHeader(String, LogFormat),
    DelHeader(String),
    /// `replace-header NAME REGEX FORMAT`: a field's whole value that the regex matches
    /// becomes FORMAT, its `\N` replaced by the regex's groups.
    ReplaceHeader(String, Regex, LogFormat),
    /// `replace-value`: the same on each comma-separated value.
    ReplaceValue(String, Regex, LogFormat),
    SetPath(LogFormat),
    SetQuery(LogFormat),
    SetUri(LogFormat),
    SetMethod(LogFormat),
}

impl Rewrite {
    /// Parses the arguments of rewrite action `action`; None when `action` is not one.
    pub fn parse(
        action: &str,
        args: &[String],
        context: &ConvertContext,
    ) -> Option<Result<Rewrite, String>> {
        let format = |value: &str| LogFormat::parse(value, context);
        let rewrite = match (action, args) {
            ("set-header", [name, value]) => {
                format(value).map(|f| Rewrite::SetHeader(name.clone(), f))
            }
            ("add-header", [name, value]) => {
                format(value).map(|f| Rewrite::AddHeader(name.clone(), f))
            }
            ("del-header", [name]) => Ok(Rewrite::DelHeader(name.clone())),
            ("replace-header", [name, regex, value]) => compile(regex)
                .and_then(|r| Ok(Rewrite::ReplaceHeader(name.clone(), r, format(value)?))),
            ("replace-value", [name, regex, value]) => compile(regex)
                .and_then(|r| Ok(Rewrite::ReplaceValue(name.clone(), r, format(value)?))),
            ("set-path", [value]) => format(value).map(Rewrite::SetPath),
            ("set-query", [value]) => format(value).map(Rewrite::SetQuery),
            ("set-uri", [value]) => format(value).map(Rewrite::SetUri),
            ("set-method", [value]) => format(value).map(Rewrite::SetMethod),
            (
                "set-header" | "add-header" | "del-header" | "replace-header" | "replace-value"
                | "set-path" | "set-query" | "set-uri" | "set-method",
                _,
            ) => Err(format!("'http-request {action}' {}", usage(action))),
            _ => return None,
        };
        Some(rewrite)
    }

    /// Applies the rewrite to `head`, the edited copy of `received`; `scratch` holds the
    /// computed value (reused).
    pub fn apply<R: RequestView>(
        &self,
        head: &mut EditedHead,
        received: &R,
        scratch: &mut Vec<u8>,
    ) {
        self.compute(&EditedView { head, received }, scratch);
        if self.edit_fields(&mut head.headers, scratch) {
            return;
        }
        match self {
            Rewrite::SetPath(_) => {
                let (start, end) = path_span(&head.target);
                head.target.splice(start..end, scratch.iter().copied());
            }
            Rewrite::SetQuery(_) => {
                let (_, end) = path_span(&head.target);
                head.target.truncate(end);
                head.target.push(b'?');
                head.target.extend_from_slice(scratch);
            }
            Rewrite::SetUri(_) => {
                head.target = scratch.clone();
            }
            Rewrite::SetMethod(_) => {
                head.method = scratch.clone();
            }
            _ => {}
        }
    }

    /// Whether the rewrite edits header fields only (the ones `http-response` accepts).
    pub fn is_header_edit(&self) -> bool {
        matches!(
            self,
            Rewrite::SetHeader(..)
                | Rewrite::AddHeader(..)
                | Rewrite::DelHeader(_)
                | Rewrite::ReplaceHeader(..)
                | Rewrite::ReplaceValue(..)
        )
    }

    /// Applies a header rewrite to `fields` with its computed `value`; false (and nothing
    /// done) when the rewrite edits something else than fields.
    pub fn edit_fields(&self, fields: &mut Vec<(Vec<u8>, Vec<u8>)>, value: &[u8]) -> bool {
        match self {
            Rewrite::SetHeader(name, _) => {
                remove_fields(fields, name.as_bytes());
                fields.push((name.as_bytes().to_vec(), value.to_vec()));
            }
            Rewrite::AddHeader(name, _) => {
                fields.push((name.as_bytes().to_vec(), value.to_vec()));
            }
            Rewrite::DelHeader(name) => remove_fields(fields, name.as_bytes()),
            Rewrite::ReplaceHeader(name, regex, _) => {
                replace_fields(fields, name, |v| replace(regex, value, v));
            }
            Rewrite::ReplaceValue(name, regex, _) => {
                replace_fields(fields, name, |v| Some(replace_each_value(regex, value, v)));
            }
            _ => return false,
        }
        true
    }

    /// Computes the rewrite's value for `view` into `scratch` (emptied first).
    pub fn compute<R: RequestView>(&self, view: &R, scratch: &mut Vec<u8>) {
        scratch.clear();
        if let Some(value) = self.value() {
            value.write(view, scratch);
        }
    }

    /// The log-format value the rewrite computes, if it has one.
    fn value(&self) -> Option<&LogFormat> {
        match self {
            Rewrite::SetHeader(_, value)
            | Rewrite::AddHeader(_, value)
            | Rewrite::ReplaceHeader(_, _, value)
            | Rewrite::ReplaceValue(_, _, value)
            | Rewrite::SetPath(value)
            | Rewrite::SetQuery(value)
            | Rewrite::SetUri(value)
            | Rewrite::SetMethod(value) => Some(value),
            Rewrite::DelHeader(_) => None,
        }
    }

    fn value_mut(&mut self) -> Option<&mut LogFormat> {
        match self {
            Rewrite::SetHeader(_, value)
            | Rewrite::AddHeader(_, value)
            | Rewrite::ReplaceHeader(_, _, value)
            | Rewrite::ReplaceValue(_, _, value)
            | Rewrite::SetPath(value)
            | Rewrite::SetQuery(value)
            | Rewrite::SetUri(value)
            | Rewrite::SetMethod(value) => Some(value),
            Rewrite::DelHeader(_) => None,
        }
    }

    /// The maps the rewrite's value reads.
    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.value().into_iter().flat_map(LogFormat::map_uses)
    }

    /// The fetches and converters of the rewrite's value.
    pub fn samples_mut(&mut self) -> impl Iterator<Item = &mut SampleExpr> {
        self.value_mut()
            .into_iter()
            .flat_map(LogFormat::samples_mut)
    }
}

fn usage(action: &str) -> &'static str {
    match action {
        "set-header" | "add-header" => "expects exactly 2 arguments.",
        "del-header" => "expects exactly 1 argument.",
        "replace-header" | "replace-value" => "expects exactly 3 arguments.",
        _ => "expects exactly 1 argument.",
    }
}

fn compile(regex: &str) -> Result<Regex, String> {
    Regex::new(regex).map_err(|e| format!("regex '{regex}' is invalid: {e}"))
}

fn remove_fields(fields: &mut Vec<(Vec<u8>, Vec<u8>)>, name: &[u8]) {
    fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

/// Replaces each value of the fields named `name` with what `edit` returns (when Some).
fn replace_fields(
    fields: &mut [(Vec<u8>, Vec<u8>)],
    name: &str,
    mut edit: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) {
    for (n, v) in fields {
        if n.eq_ignore_ascii_case(name.as_bytes()) {
            if let Some(new) = edit(v) {
                *v = new;
            }
        }
    }
}

/// HAProxy's `exp_replace`: when `regex` matches `value`, the result is `template` with `\N`
/// replaced by group N (the rest of the value is not kept).
fn replace(regex: &Regex, template: &[u8], value: &[u8]) -> Option<Vec<u8>> {
    let caps = regex.captures(value)?;
    let mut out = Vec::with_capacity(template.len());
    let mut bytes = template.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match (b, bytes.peek()) {
            (b'\\', Some(d)) if d.is_ascii_digit() => {
                let group = usize::from(*d - b'0');
                bytes.next();
                if let Some(m) = caps.get(group) {
                    out.extend_from_slice(m.as_bytes());
                }
            }
            _ => out.push(b),
        }
    }
    Some(out)
}

/// `replace-value`: each comma-separated value (spaces around it aside) that `regex` matches
/// is replaced in place; commas and spaces stay as they were (checked against HAProxy 2.6).
fn replace_each_value(regex: &Regex, template: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for (i, part) in value.split(|&b| b == b',').enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let trimmed = part.trim_ascii();
        let start = trimmed.as_ptr() as usize - part.as_ptr() as usize;
        out.extend_from_slice(&part[..start]);
        match replace(regex, template, trimmed) {
            Some(new) => out.extend_from_slice(&new),
            None => out.extend_from_slice(trimmed),
        }
        out.extend_from_slice(&part[start + trimmed.len()..]);
    }
    out
}

/// Where the path is in a target (origin or absolute form), query excluded.
fn path_span(target: &[u8]) -> (usize, usize) {
    let path = path_of(target);
    let start = path.as_ptr() as usize - target.as_ptr() as usize;
    (start, start + path.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fetch::tests::Plain;

    fn apply(rules: &[(&str, &[&str])], request: &Plain) -> EditedHead {
        let mut head = EditedHead::of(request);
        let mut scratch = Vec::new();
        for (action, args) in rules {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let context = ConvertContext {
                read_file: &|p| Err(format!("no file {p}")),
                user: String::new(),
            };
            Rewrite::parse(action, &args, &context)
                .unwrap()
                .unwrap()
                .apply(&mut head, request, &mut scratch);
        }
        head
    }

    fn fields(head: &EditedHead) -> Vec<String> {
        head.fields()
            .map(|(n, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            })
            .collect()
    }

    #[test]
    fn header_rewrites() {
        let r = Plain::get(
            "/",
            &[("Host", "h"), ("X-A", "1"), ("x-a", "2"), ("Acc", "a, bb")],
        );
        let head = apply(
            &[
                ("set-header", &["X-A", "%[hdr(host)]!"]),
                ("add-header", &["X-B", "b"]),
                ("del-header", &["host"]),
                ("replace-header", &["X-B", "^(b)$", "<\\1>"]),
                ("replace-value", &["Acc", "^b+$", "B"]),
            ],
            &r,
        );
        assert_eq!(fields(&head), ["Acc=a, B", "X-A=h!", "X-B=<b>"]);
        let r = Plain::get("/", &[("V", "a1, b2,a3 ")]);
        let head = apply(&[("replace-value", &["V", "^a(.*)$", "A\\1"])], &r);
        assert_eq!(fields(&head), ["V=A1, b2,A3 "]);
    }

    #[test]
    fn target_rewrites() {
        let r = Plain::get("/a/b?x=1", &[]);
        let head = apply(&[("set-path", &["/new%[path]"])], &r);
        assert_eq!(head.target, b"/new/a/b?x=1");
        let head = apply(&[("set-query", &["y=2"]), ("set-method", &["POST"])], &r);
        assert_eq!(
            (&head.target[..], &head.method[..]),
            (&b"/a/b?y=2"[..], &b"POST"[..])
        );
        let head = apply(&[("set-uri", &["/u"])], &r);
        assert_eq!(head.target, b"/u");
    }
}
