//! How an ACL matches a sample: HAProxy 2.6's match methods (`-m str|beg|end|sub|dir|dom|reg|
//! len|int|ip|found|bool`) and `-i`, with the patterns built once at load for their method: a
//! hash set for exact strings, compiled regexes (the `regex` crate, byte-oriented so a
//! non-UTF-8 header is matched, never skipped), parsed integer ranges and networks. Matching
//! allocates nothing.

use super::fetch::{Sample, SampleType};
use regex::bytes::{Regex, RegexBuilder};
use std::collections::HashSet;
use std::net::IpAddr;

/// A match method (`-m NAME`, or implied by a derived keyword such as `path_beg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Str,
    Beg,
    End,
    Sub,
    Dir,
    Dom,
    Reg,
    Len,
    Int,
    Ip,
    Found,
    Bool,
}

impl MatchKind {
    /// `-m NAME`; the error is HAProxy's.
    pub fn named(name: &str) -> Result<MatchKind, String> {
        Ok(match name {
            "str" => MatchKind::Str,
            "beg" => MatchKind::Beg,
            "end" => MatchKind::End,
            "sub" => MatchKind::Sub,
            "dir" => MatchKind::Dir,
            "dom" => MatchKind::Dom,
            "reg" => MatchKind::Reg,
            "len" => MatchKind::Len,
            "int" => MatchKind::Int,
            "ip" => MatchKind::Ip,
            "found" => MatchKind::Found,
            "bool" => MatchKind::Bool,
            _ => {
                return Err(format!(
                    "unknown matching method '{name}' when parsing ACL expression"
                ))
            }
        })
    }

    /// The method a fetch's values are matched with when nothing says otherwise.
    pub fn default_for(sample: SampleType) -> MatchKind {
        match sample {
            SampleType::Bytes => MatchKind::Str,
            SampleType::Int => MatchKind::Int,
            SampleType::Ip => MatchKind::Ip,
            SampleType::Bool => MatchKind::Bool,
        }
    }

    /// Whether the method wants no pattern at all.
    pub fn takes_no_pattern(self) -> bool {
        matches!(self, MatchKind::Found | MatchKind::Bool)
    }
}

/// An integer range: `N`, `N:M`, `:M`, `N:`, or an operator word (`eq|ge|gt|le|lt`) then `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRange {
    pub min: i64,
    pub max: i64,
}

impl IntRange {
    fn contains(self, n: i64) -> bool {
        (self.min..=self.max).contains(&n)
    }
}

/// An address with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The patterns of one ACL expression, built for its match method.
#[derive(Debug, Clone)]
pub enum Patterns {
    /// Exact strings; lowercased when case is ignored.
    Str {
        set: HashSet<Vec<u8>>,
        ignore_case: bool,
    },
    /// Prefix, suffix, substring, or slash / dot delimited word (`dir`, `dom`).
    Text {
        kind: MatchKind,
        patterns: Vec<Vec<u8>>,
        ignore_case: bool,
    },
    Reg(Vec<Regex>),
    /// `len`: the sample's length in the ranges; `int`: the sample's value.
    Len(Vec<IntRange>),
    Int(Vec<IntRange>),
    Ip(Vec<Network>),
    Found,
    Bool,
}

impl Patterns {
    /// Builds the patterns of `kind` from their words; the error names the bad one.
    pub fn build(kind: MatchKind, words: &[String], ignore_case: bool) -> Result<Patterns, String> {
        Ok(match kind {
            MatchKind::Str => Patterns::Str {
                set: words
                    .iter()
                    .map(|w| fold(w.as_bytes(), ignore_case))
                    .collect(),
                ignore_case,
            },
            MatchKind::Beg | MatchKind::End | MatchKind::Sub | MatchKind::Dir | MatchKind::Dom => {
                Patterns::Text {
                    kind,
                    patterns: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
                    ignore_case,
                }
            }
            MatchKind::Reg => Patterns::Reg(
                words
                    .iter()
                    .map(|w| compile_regex(w, ignore_case))
                    .collect::<Result<_, _>>()?,
            ),
            MatchKind::Len => Patterns::Len(int_ranges(words)?),
            MatchKind::Int => Patterns::Int(int_ranges(words)?),
            MatchKind::Ip => {
                Patterns::Ip(words.iter().map(|w| network(w)).collect::<Result<_, _>>()?)
            }
            MatchKind::Found => Patterns::Found,
            MatchKind::Bool => Patterns::Bool,
        })
    }

    /// Whether a sample matches any pattern.
    pub fn matches(&self, sample: Sample) -> bool {
        match (self, sample) {
            (Patterns::Found, _) => true,
            (Patterns::Bool, Sample::Bool(b)) => b,
            (Patterns::Bool, Sample::Int(n)) => n != 0,
            (Patterns::Str { set, ignore_case }, Sample::Bytes(b)) => {
                contains_folded(set, b, *ignore_case)
            }
            (
                Patterns::Text {
                    kind,
                    patterns,
                    ignore_case,
                },
                Sample::Bytes(b),
            ) => patterns
                .iter()
                .any(|p| text_match(*kind, b, p, *ignore_case)),
            (Patterns::Reg(regexes), Sample::Bytes(b)) => regexes.iter().any(|r| r.is_match(b)),
            (Patterns::Len(ranges), Sample::Bytes(b)) => {
                ranges.iter().any(|r| r.contains(b.len() as i64))
            }
            (Patterns::Int(ranges), sample) => {
                int_of(sample).is_some_and(|n| ranges.iter().any(|r| r.contains(n)))
            }
            (Patterns::Ip(networks), sample) => {
                ip_of(sample).is_some_and(|ip| networks.iter().any(|n| n.contains(ip)))
            }
            _ => false,
        }
    }
}

fn fold(bytes: &[u8], ignore_case: bool) -> Vec<u8> {
    if ignore_case {
        bytes.to_ascii_lowercase()
    } else {
        bytes.to_vec()
    }
}

/// Sets up to this size are compared pattern by pattern: cheaper than hashing the sample
/// (an ACL usually names a host or two).
const SCAN_AT_MOST: usize = 4;

/// Exact-string lookup; with `-i`, the sample is lowercased into a stack buffer (a longer
/// sample, rare, is compared pattern by pattern instead).
fn contains_folded(set: &HashSet<Vec<u8>>, sample: &[u8], ignore_case: bool) -> bool {
    if set.len() <= SCAN_AT_MOST {
        return set.iter().any(|p| eq(p, sample, ignore_case));
    }
    if !ignore_case {
        return set.contains(sample);
    }
    let mut buffer = [0u8; 256];
    match buffer.get_mut(..sample.len()) {
        Some(lowered) => {
            lowered.copy_from_slice(sample);
            lowered.make_ascii_lowercase();
            set.contains(&*lowered)
        }
        None => set.iter().any(|p| p.eq_ignore_ascii_case(sample)),
    }
}

fn eq(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    if ignore_case {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn text_match(kind: MatchKind, sample: &[u8], pattern: &[u8], ignore_case: bool) -> bool {
    match kind {
        MatchKind::Beg => sample
            .get(..pattern.len())
            .is_some_and(|s| eq(s, pattern, ignore_case)),
        MatchKind::End => sample
            .len()
            .checked_sub(pattern.len())
            .is_some_and(|at| eq(&sample[at..], pattern, ignore_case)),
        MatchKind::Sub => {
            pattern.is_empty()
                || sample
                    .windows(pattern.len())
                    .any(|w| eq(w, pattern, ignore_case))
        }
        MatchKind::Dir => match_word(sample, pattern, ignore_case, b"/?"),
        _ => match_word(sample, pattern, ignore_case, b"/?.:"),
    }
}

/// HAProxy's `match_word`: the pattern, trimmed of delimiters, stands in the sample between
/// delimiters (or its ends). `dir` delimits by `/` and `?`, `dom` also by `.` and `:`.
pub(super) fn match_word(
    sample: &[u8],
    pattern: &[u8],
    ignore_case: bool,
    delimiters: &[u8],
) -> bool {
    let is_delimiter = |b: u8| delimiters.contains(&b);
    let start = pattern
        .iter()
        .position(|&b| !is_delimiter(b))
        .unwrap_or(pattern.len());
    let end = pattern
        .iter()
        .rposition(|&b| !is_delimiter(b))
        .map_or(start, |e| e + 1);
    let pattern = &pattern[start..end];
    if pattern.len() > sample.len() {
        return false;
    }
    let last = sample.len() - pattern.len();
    let mut may_match = true;
    for at in 0..=last {
        if is_delimiter(sample[at]) {
            may_match = true;
            continue;
        }
        if !may_match {
            continue;
        }
        let after = at + pattern.len();
        if eq(&sample[at..after], pattern, ignore_case)
            && (after == sample.len() || is_delimiter(sample[after]))
        {
            return true;
        }
        may_match = false;
    }
    false
}

fn compile_regex(word: &str, ignore_case: bool) -> Result<Regex, String> {
    RegexBuilder::new(word)
        .case_insensitive(ignore_case)
        .unicode(false)
        .build()
        .map_err(|e| format!("regex '{word}' is invalid ({e})"))
}

/// Integer ranges from pattern words; `eq|ge|gt|le|lt` apply to the number after them.
fn int_ranges(words: &[String]) -> Result<Vec<IntRange>, String> {
    let mut ranges = Vec::new();
    let mut operator: Option<&str> = None;
    for word in words {
        if matches!(word.as_str(), "eq" | "ge" | "gt" | "le" | "lt") {
            operator = Some(word);
            continue;
        }
        let range = match operator.take() {
            Some(op) => {
                let n = integer(word)?;
                match op {
                    "eq" => IntRange { min: n, max: n },
                    "ge" => IntRange {
                        min: n,
                        max: i64::MAX,
                    },
                    "gt" => IntRange {
                        min: n.saturating_add(1),
                        max: i64::MAX,
                    },
                    "le" => IntRange {
                        min: i64::MIN,
                        max: n,
                    },
                    _ => IntRange {
                        min: i64::MIN,
                        max: n.saturating_sub(1),
                    },
                }
            }
            None => range(word)?,
        };
        ranges.push(range);
    }
    if let Some(op) = operator {
        return Err(format!("missing value after operator '{op}'"));
    }
    Ok(ranges)
}

fn range(word: &str) -> Result<IntRange, String> {
    match word.split_once(':') {
        None => {
            let n = integer(word)?;
            Ok(IntRange { min: n, max: n })
        }
        Some((min, max)) => Ok(IntRange {
            min: if min.is_empty() {
                i64::MIN
            } else {
                integer(min)?
            },
            max: if max.is_empty() {
                i64::MAX
            } else {
                integer(max)?
            },
        }),
    }
}

fn integer(word: &str) -> Result<i64, String> {
    word.parse().map_err(|_| {
        format!("'{word}' is not a number (integer patterns: N, N:M, eq|ge|gt|le|lt N)")
    })
}

/// `ADDR` or `ADDR/PREFIX` (IPv4 also `ADDR/DOTTED.MASK`).
fn network(word: &str) -> Result<Network, String> {
    let bad = || format!("'{word}' is not a valid IPv4 or IPv6 address");
    let (addr, prefix) = match word.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (word, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let full = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => full,
        Some(p) => match (p.parse::<u8>(), p.parse::<std::net::Ipv4Addr>()) {
            (Ok(n), _) if n <= full => n,
            (_, Ok(mask))
                if addr.is_ipv4()
                    && u32::from(mask).leading_ones() + u32::from(mask).trailing_zeros() == 32 =>
            {
                u32::from(mask).leading_ones() as u8
            }
            _ => return Err(bad()),
        },
    };
    Ok(Network { addr, prefix })
}

fn int_of(sample: Sample) -> Option<i64> {
    match sample {
        Sample::Int(n) => Some(n),
        Sample::Bool(b) => Some(i64::from(b)),
        // HAProxy converts a string to an integer by its leading digits.
        Sample::Bytes(b) => {
            let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
            std::str::from_utf8(&b[..digits]).ok()?.parse().ok()
        }
        Sample::Ip(_) => None,
    }
}

fn ip_of(sample: Sample) -> Option<IpAddr> {
    match sample {
        Sample::Ip(ip) => Some(ip),
        Sample::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(kind: MatchKind, words: &[&str], icase: bool) -> Patterns {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        Patterns::build(kind, &words, icase).unwrap()
    }

    fn hit(p: &Patterns, s: &str) -> bool {
        p.matches(Sample::Bytes(s.as_bytes()))
    }

    #[test]
    fn strings_prefixes_suffixes_substrings() {
        let exact = build(MatchKind::Str, &["Example.com"], true);
        assert!(hit(&exact, "EXAMPLE.com") && !hit(&exact, "example.com:80"));
        let beg = build(MatchKind::Beg, &["/api"], false);
        assert!(hit(&beg, "/api/v1") && !hit(&beg, "/API") && !hit(&beg, "/ap"));
        let end = build(MatchKind::End, &[".jpg"], true);
        assert!(hit(&end, "/a.JPG") && !hit(&end, "jpg"));
        let sub = build(MatchKind::Sub, &["adm"], false);
        assert!(hit(&sub, "/x/admin") && !hit(&sub, "/x/ad"));
    }

    /// HAProxy's `match_word` cases: delimiters around the word, none inside it.
    #[test]
    fn dir_and_dom_match_whole_delimited_words() {
        let dir = build(MatchKind::Dir, &["img"], false);
        assert!(hit(&dir, "/static/img/a.png") && hit(&dir, "/img"));
        assert!(!hit(&dir, "/images/a.png") && !hit(&dir, "/ximg/"));
        let dom = build(MatchKind::Dom, &["example.com"], true);
        assert!(hit(&dom, "www.Example.com") && hit(&dom, "example.com:8080"));
        assert!(!hit(&dom, "badexample.com") && !hit(&dom, "example.community"));
    }

    #[test]
    fn regexes_match_bytes_that_are_not_utf8() {
        let reg = build(MatchKind::Reg, &["^/a.c$"], false);
        assert!(reg.matches(Sample::Bytes(b"/a\xffc")));
        assert!(Patterns::build(MatchKind::Reg, &["(/a".to_string()], false)
            .unwrap_err()
            .starts_with("regex '(/a' is invalid"));
    }

    #[test]
    fn integer_ranges_and_operators() {
        let p = build(MatchKind::Int, &["gt", "10", "3:5", ":0"], false);
        for (n, want) in [(11, true), (10, false), (4, true), (6, false), (-3, true)] {
            assert_eq!(p.matches(Sample::Int(n)), want, "{n}");
        }
        let len = build(MatchKind::Len, &["le", "3"], false);
        assert!(hit(&len, "abc") && !hit(&len, "abcd"));
    }

    #[test]
    fn networks_and_addresses() {
        let p = build(
            MatchKind::Ip,
            &["10.0.0.0/8", "192.168.1.0/255.255.255.0", "::1"],
            false,
        );
        let ip = |s: &str| Sample::Ip(s.parse().unwrap());
        assert!(p.matches(ip("10.2.3.4")) && p.matches(ip("192.168.1.9")));
        assert!(p.matches(ip("::1")) && !p.matches(ip("11.0.0.1")));
        assert!(Patterns::build(MatchKind::Ip, &["10.0.0.0/33".into()], false).is_err());
    }
}
