//! Sample expressions: a fetch and its converters (`req.hdr(host),lower,map(hosts.map,bk)`),
//! and the `%[…]` names built from them (`use_backend %[…]`, `use_backend bk_%[…]`).
//!
//! In an ACL every value of the fetch goes through the converters (HAProxy iterates them);
//! in a `%[…]` value a header fetch without occurrence reads the last one, as HAProxy's
//! sample fetches do outside ACLs.

use super::convert::{self, split_expression, ConvertContext, Converter};
use super::fetch::{self, Fetch, RequestView, Sample, SampleType};
use super::map::MapUse;
use super::pattern::MatchKind;
use std::cell::RefCell;
use std::io::Write;

/// A fetch and the converters its values go through.
#[derive(Debug, Clone)]
pub struct SampleExpr {
    pub fetch: Fetch,
    pub converters: Vec<Converter>,
}

impl SampleExpr {
    /// Parses `FETCH[,CONVERTER…]`; with the match method the fetch's name implies
    /// (`path_beg`), if any.
    pub fn parse(
        text: &str,
        context: &ConvertContext,
    ) -> Result<(SampleExpr, Option<MatchKind>), String> {
        let mut parts = split_expression(text).into_iter();
        let keyword = parts.next().unwrap_or("");
        let (fetch, implied) = fetch::parse_keyword(keyword)?;
        let converters = parts
            .map(|word| Converter::parse(word, context))
            .collect::<Result<_, _>>()?;
        Ok((SampleExpr { fetch, converters }, implied))
    }

    /// The type of the expression's values (converters give text).
    pub fn sample_type(&self) -> SampleType {
        if self.converters.is_empty() {
            self.fetch.sample_type()
        } else {
            SampleType::Bytes
        }
    }

    /// Calls `test` with each value until one passes; whether one did.
    pub fn any<R: RequestView>(&self, request: &R, test: &mut dyn FnMut(Sample) -> bool) -> bool {
        if self.converters.is_empty() {
            return self.fetch.any(request, test);
        }
        let maps = request.maps();
        self.fetch.any(request, &mut |sample| {
            convert::apply(&self.converters, sample, maps, test)
        })
    }

    /// Appends the expression's value as text to `out`; false when it has none.
    pub fn write_value<R: RequestView>(&self, request: &R, out: &mut Vec<u8>) -> bool {
        self.any(request, &mut |sample| {
            match sample {
                Sample::Bytes(b) => out.extend_from_slice(b),
                Sample::Int(n) => write!(out, "{n}").unwrap_or(()),
                Sample::Ip(ip) => write!(out, "{ip}").unwrap_or(()),
                Sample::Bool(v) => out.push(if v { b'1' } else { b'0' }),
            }
            true
        })
    }

    /// The value fetch of a `%[…]`: a header without occurrence reads the last one.
    fn for_value(mut self) -> SampleExpr {
        if let Fetch::Header {
            occurrence: occurrence @ None,
            ..
        } = &mut self.fetch
        {
            *occurrence = Some(-1);
        }
        self
    }

    pub fn map_uses_mut(&mut self) -> impl Iterator<Item = &mut MapUse> {
        self.converters
            .iter_mut()
            .filter_map(Converter::map_use_mut)
    }

    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.converters.iter().filter_map(Converter::map_use)
    }
}

/// One piece of a `%[…]` name.
#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Sample(SampleExpr),
}

/// A name computed per request: literal text and `%[EXPR]` values.
#[derive(Debug, Clone)]
pub struct NameTemplate {
    parts: Vec<Part>,
}

thread_local! {
    /// The shard's buffer for computed names (one thread per shard), reused per request.
    static NAME: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl NameTemplate {
    /// Whether `text` computes its name (`%[` in it).
    pub fn is_template(text: &str) -> bool {
        text.contains("%[")
    }

    /// Parses `text%[EXPR]text…`.
    pub fn parse(text: &str, context: &ConvertContext) -> Result<NameTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("%[") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = closing_bracket(after)
                .ok_or_else(|| format!("missing ']' to close '%[' in '{text}'"))?;
            let (expr, _) = SampleExpr::parse(&after[..close], context)?;
            parts.push(Part::Sample(expr.for_value()));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(NameTemplate { parts })
    }

    /// Builds the name for `request` and hands it to `use_name`. A value that is missing
    /// leaves its place empty.
    pub fn with_name<R: RequestView, T>(
        &self,
        request: &R,
        use_name: impl FnOnce(&[u8]) -> T,
    ) -> T {
        NAME.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut name) => {
                self.write(request, &mut name);
                use_name(&name)
            }
            Err(_) => {
                let mut name = Vec::new();
                self.write(request, &mut name);
                use_name(&name)
            }
        })
    }

    fn write<R: RequestView>(&self, request: &R, name: &mut Vec<u8>) {
        name.clear();
        for part in &self.parts {
            match part {
                Part::Text(text) => name.extend_from_slice(text.as_bytes()),
                Part::Sample(expr) => {
                    expr.write_value(request, name);
                }
            }
        }
    }

    pub fn map_uses_mut(&mut self) -> impl Iterator<Item = &mut MapUse> {
        self.parts.iter_mut().flat_map(|p| {
            match p {
                Part::Sample(expr) => Some(expr.map_uses_mut()),
                Part::Text(_) => None,
            }
            .into_iter()
            .flatten()
        })
    }

    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.parts.iter().flat_map(|p| {
            match p {
                Part::Sample(expr) => Some(expr.map_uses()),
                Part::Text(_) => None,
            }
            .into_iter()
            .flatten()
        })
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
