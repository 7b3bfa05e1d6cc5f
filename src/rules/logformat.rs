//! Log-format values: literal text and `%[SAMPLE]` expressions (a fetch and its converters),
//! parsed once at load. One type serves every place HAProxy takes a log-format string: the
//! values of `http-request` rewrites (`set-header X-Host %[req.hdr(host),lower]`) and
//! computed backend names (`use_backend %[req.hdr(host),map(hosts.map)]`).

use super::convert::ConvertContext;
use super::fetch::RequestView;
use super::map::MapUse;
use super::sample::SampleExpr;
use std::cell::RefCell;

/// One piece of a log-format value.
#[derive(Debug, Clone)]
enum Part {
    Text(Vec<u8>),
    Sample(SampleExpr),
}

/// A parsed log-format value.
#[derive(Debug, Clone)]
pub struct LogFormat {
    parts: Vec<Part>,
}

thread_local! {
    /// The shard's buffer for computed names (one thread per shard), reused per request.
    static VALUE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl LogFormat {
    /// Whether `text` computes its value (`%[` in it): a `use_backend` name that does not is
    /// a backend's name.
    pub fn is_computed(text: &str) -> bool {
        text.contains("%[")
    }

    /// Parses `text`: literal bytes, `%%` for `%`, `%[SAMPLE]`. Other `%` variables of
    /// HAProxy's log format are not supported yet (an error naming them).
    pub fn parse(text: &str, context: &ConvertContext) -> Result<LogFormat, String> {
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
                let close = closing_bracket(expr).ok_or_else(|| {
                    format!("missing closing ']' in log-format expression '{text}'")
                })?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                let sample = sample_of(&expr[..close], context)?;
                parts.push(Part::Sample(sample.for_value()));
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

    /// Appends the value for `request` to `out`; a sample without a value leaves its place
    /// empty.
    pub fn write<R: RequestView>(&self, request: &R, out: &mut Vec<u8>) {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.extend_from_slice(text),
                Part::Sample(expr) => {
                    expr.write_value(request, out);
                }
            }
        }
    }

    /// Builds the value for `request` in the shard's reused buffer and hands it to `use_value`.
    pub fn with_value<R: RequestView, T>(
        &self,
        request: &R,
        use_value: impl FnOnce(&[u8]) -> T,
    ) -> T {
        VALUE.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut value) => {
                value.clear();
                self.write(request, &mut value);
                use_value(&value)
            }
            // Re-entered (a value computed while another is in use): a buffer of its own.
            Err(_) => {
                let mut value = Vec::new();
                self.write(request, &mut value);
                use_value(&value)
            }
        })
    }

    fn samples(&self) -> impl Iterator<Item = &SampleExpr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Sample(expr) => Some(expr),
            Part::Text(_) => None,
        })
    }

    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.samples().flat_map(SampleExpr::map_uses)
    }

    pub fn samples_mut(&mut self) -> impl Iterator<Item = &mut SampleExpr> {
        self.parts.iter_mut().filter_map(|p| match p {
            Part::Sample(expr) => Some(expr),
            Part::Text(_) => None,
        })
    }

    pub fn map_uses_mut(&mut self) -> impl Iterator<Item = &mut MapUse> {
        self.samples_mut().flat_map(SampleExpr::map_uses_mut)
    }
}

/// The sample expression inside `%[…]`: a fetch alone, not an ACL keyword with a match
/// method (`path_beg` is no sample fetch).
fn sample_of(text: &str, context: &ConvertContext) -> Result<SampleExpr, String> {
    match SampleExpr::parse(text, context)? {
        (sample, None) => Ok(sample),
        (_, Some(_)) => {
            let name = text.split([',', '(']).next().unwrap_or(text);
            Err(format!("unknown sample fetch '{name}' in '%[{text}]'"))
        }
    }
}

/// The `]` that closes a `%[`, past brackets nested in the expression's arguments.
fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' if depth == 0 => return Some(i),
            ']' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fetch::tests::Plain;

    fn parse(format: &str) -> Result<LogFormat, String> {
        let context = ConvertContext {
            read_file: &|p| Err(format!("no file {p}")),
            user: String::new(),
        };
        LogFormat::parse(format, &context)
    }

    fn render(format: &str, request: &Plain) -> String {
        let mut out = Vec::new();
        parse(format).unwrap().write(request, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_and_samples() {
        let r = Plain::get("/a?x=1", &[("Host", "h1"), ("host", "H2")]);
        assert_eq!(
            render("v=%[path] h=%[req.hdr(host)] 100%%", &r),
            "v=/a h=H2 100%"
        );
        assert_eq!(render("%[req.hdr(host),lower]", &r), "h2");
        assert_eq!(render("%[src]:%[src_port]", &r), "127.0.0.1:40000");
        assert_eq!(render("%[hdr(nope)]-", &r), "-");
        assert!(parse("%T").is_err());
        assert!(parse("%[path").is_err());
        assert!(parse("%[path_beg]").is_err());
    }

    #[test]
    fn computed_names() {
        assert!(LogFormat::is_computed("bk_%[path]"));
        assert!(!LogFormat::is_computed("bk_app"));
        let r = Plain::get("/x", &[("host", "app")]);
        let name = parse("bk_%[req.hdr(host)]").unwrap();
        assert_eq!(name.with_value(&r, |v| v.to_vec()), b"bk_app");
    }
}
