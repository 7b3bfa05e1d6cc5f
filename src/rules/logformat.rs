//! Log-format values of rules (`http-request set-header X-Host %[req.hdr(host)]`): literal
//! text and `%[SAMPLE]` expressions, parsed once at load. A sample expression is evaluated in
//! one place, [`SampleExpr::write`], which converters extend.

use super::fetch::{self, Fetch, RequestView, Sample};
use std::io::Write as _;

/// A sample expression: a fetch (converters come later), its first value written as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleExpr {
    fetch: Fetch,
}

impl SampleExpr {
    /// Parses `FETCH` (`req.hdr(host)`, `path`, `src` …). As a sample, `hdr(NAME)` is its last
    /// value, as in HAProxy.
    pub fn parse(text: &str) -> Result<SampleExpr, String> {
        let fetch = match fetch::parse_sample(text)? {
            Fetch::Header {
                name,
                occurrence: None,
            } => Fetch::Header {
                name,
                occurrence: Some(-1),
            },
            other => other,
        };
        Ok(SampleExpr { fetch })
    }

    /// Appends the expression's value on `request` to `out` (nothing when it has none).
    pub fn write<R: RequestView>(&self, request: &R, out: &mut Vec<u8>) {
        self.fetch.any(request, &mut |sample| {
            match sample {
                Sample::Bytes(bytes) => out.extend_from_slice(bytes),
                Sample::Int(n) => {
                    let _ = write!(out, "{n}");
                }
                Sample::Ip(ip) => {
                    let _ = write!(out, "{ip}");
                }
                Sample::Bool(b) => out.push(if b { b'1' } else { b'0' }),
            }
            true
        });
    }
}

/// One piece of a log-format value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Vec<u8>),
    Sample(SampleExpr),
}

/// A parsed log-format value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormat {
    parts: Vec<Part>,
}

impl LogFormat {
    /// Parses `text`: literal bytes, `%%` for `%`, `%[SAMPLE]`. Other `%` variables of
    /// HAProxy's log format are not supported yet (an error naming them).
    pub fn parse(text: &str) -> Result<LogFormat, String> {
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find('%') {
            literal.extend_from_slice(&rest.as_bytes()[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('%') {
                literal.push(b'%');
                rest = tail;
            } else if let Some(expr) = after.strip_prefix('[') {
                let close = expr.find(']').ok_or_else(|| {
                    format!("missing closing ']' in log-format expression '{text}'")
                })?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Sample(SampleExpr::parse(&expr[..close])?));
                rest = &expr[close + 1..];
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                return Err(format!(
                    "log-format variable '%{name}' in '{text}' is not supported yet (only literal text and %[sample])"
                ));
            }
        }
        literal.extend_from_slice(rest.as_bytes());
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(LogFormat { parts })
    }

    /// Appends the value for `request` to `out`.
    pub fn write<R: RequestView>(&self, request: &R, out: &mut Vec<u8>) {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.extend_from_slice(text),
                Part::Sample(expr) => expr.write(request, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fetch::tests::Plain;

    fn render(format: &str, request: &Plain) -> String {
        let mut out = Vec::new();
        LogFormat::parse(format).unwrap().write(request, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_and_samples() {
        let r = Plain::get("/a?x=1", &[("Host", "h1"), ("host", "h2")]);
        assert_eq!(
            render("v=%[path] h=%[req.hdr(host)] 100%%", &r),
            "v=/a h=h2 100%"
        );
        assert_eq!(render("%[src]:%[src_port]", &r), "127.0.0.1:40000");
        assert_eq!(render("%[hdr(nope)]-", &r), "-");
        assert!(LogFormat::parse("%T").is_err());
        assert!(LogFormat::parse("%[path").is_err());
        assert!(LogFormat::parse("%[path_beg]").is_err());
    }
}
