//! Sample expressions: a fetch and its converters (`req.hdr(host),lower,map(hosts.map,bk)`),
//! as ACLs test them and as log-format values (`logformat`) write them.
//!
//! In an ACL every value of the fetch goes through the converters (HAProxy iterates them);
//! in a `%[…]` value a header fetch without occurrence reads the last one, as HAProxy's
//! sample fetches do outside ACLs.

use super::convert::{self, split_expression, ConvertContext, Converter};
use super::fetch::{self, Fetch, RequestView, Sample, SampleType};
use super::map::MapUse;
use super::pattern::MatchKind;
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
    pub(crate) fn for_value(mut self) -> SampleExpr {
        if let Fetch::Header {
            occurrence: occurrence @ None,
            ..
        }
        | Fetch::ResHeader {
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
