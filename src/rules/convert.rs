//! Converters of HAProxy 2.6's sample expressions (`hdr(host),lower,map(hosts.map,bk)`):
//! parsed at load into [`Converter`]s, applied per request to a fetch's value.
//!
//! A chain works on bytes in two scratch buffers that each shard (thread) reuses, so a request
//! allocates nothing once they have grown: converters that shrink or rewrite in place (`lower`,
//! `upper`, `field`, `word`, `url_dec`) work in the first, the others write into the second and
//! swap. A converter with no result (a `map` miss without default, a field that is not there,
//! a bad `%` escape) ends the chain with no value, as HAProxy's sample then fails.

use super::fetch::Sample;
use super::map::{MapFile, MapKind, MapUse, Maps};
use base64::Engine;
use regex::bytes::{Regex, RegexBuilder};
use std::cell::RefCell;
use std::io::Write;
use std::sync::Arc;

/// One converter of the supported subset.
#[derive(Debug, Clone)]
pub enum Converter {
    Lower,
    Upper,
    /// `map*(FILE[,DEFAULT])`.
    Map {
        map: MapUse,
        default: Option<Vec<u8>>,
    },
    /// `field(INDEX,DELIMITERS[,COUNT])`: fields between any of the delimiters.
    Field(Split),
    /// `word(INDEX,DELIMITERS[,COUNT])`: the same, runs of delimiters counting as one.
    Word(Split),
    /// `regsub(REGEX,REPLACEMENT[,FLAGS])`: `\1`…`\9` in the replacement, flags `g` and `i`.
    Regsub {
        regex: Regex,
        replacement: Vec<u8>,
        global: bool,
    },
    Base64,
    /// `url_dec([IN_FORM])`: `%XX` decoded; `+` is a space only with a non-zero argument.
    UrlDec {
        plus_is_space: bool,
    },
}

/// The arguments of `field` and `word`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    index: i64,
    delimiters: Vec<u8>,
    count: i64,
}

/// What parsing needs besides the words: the map files (read by config, which does the I/O),
/// and where the expression stands, for `show map`.
pub struct ConvertContext<'a> {
    pub read_file: &'a dyn Fn(&str) -> Result<String, String>,
    pub user: String,
}

/// Splits `fetch(args),conv1,conv2(args)` at its top-level commas.
pub fn split_expression(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut escaped) = (0usize, 0, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `name(a,b)` into the name and its arguments (`\,` and `\)` unescaped, other backslashes
/// kept for the regex).
fn split_call(word: &str) -> Result<(&str, Vec<String>), String> {
    let Some(open) = word.find('(') else {
        return Ok((word, Vec::new()));
    };
    let name = &word[..open];
    let Some(inner) = word[open + 1..].strip_suffix(')') else {
        return Err(format!(
            "missing closing ')' after arguments to converter '{name}'"
        ));
    };
    let mut args = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(',' | ')')) => {
                args.last_mut().unwrap().extend(chars.next());
            }
            ',' => args.push(String::new()),
            c => args.last_mut().unwrap().push(c),
        }
    }
    if inner.is_empty() {
        args.clear();
    }
    Ok((name, args))
}

impl Converter {
    /// Parses one converter (`lower`, `map_beg(/f.map,bk)` …). Map files are read and
    /// checked here; the error is HAProxy's message or names the map file's line.
    pub fn parse(word: &str, context: &ConvertContext) -> Result<Converter, String> {
        let (name, args) = split_call(word)?;
        let arity = |min: usize, max: usize| {
            if (min..=max).contains(&args.len()) {
                Ok(())
            } else {
                Err(format!(
                    "invalid args in converter '{name}' : expects {min} to {max} arguments, got {}",
                    args.len()
                ))
            }
        };
        if let Some(kind) = MapKind::of_converter(name) {
            arity(1, 2)?;
            return Ok(Converter::Map {
                map: load_map(&args[0], kind, context)?,
                default: args.get(1).map(|d| d.as_bytes().to_vec()),
            });
        }
        Ok(match name {
            "lower" => arity(0, 0).map(|_| Converter::Lower)?,
            "upper" => arity(0, 0).map(|_| Converter::Upper)?,
            "base64" => arity(0, 0).map(|_| Converter::Base64)?,
            "url_dec" => {
                arity(0, 1)?;
                Converter::UrlDec {
                    plus_is_space: args.first().is_some_and(|a| integer(name, a) != Ok(0)),
                }
            }
            "field" | "word" => {
                arity(2, 3)?;
                let split = Split {
                    index: integer(name, &args[0])?,
                    delimiters: args[1].as_bytes().to_vec(),
                    count: args.get(2).map_or(Ok(1), |c| integer(name, c))?,
                };
                if name == "field" {
                    Converter::Field(split)
                } else {
                    Converter::Word(split)
                }
            }
            "regsub" => {
                arity(2, 3)?;
                let flags = args.get(2).map(String::as_str).unwrap_or("");
                let regex = RegexBuilder::new(&args[0])
                    .case_insensitive(flags.contains('i'))
                    .unicode(false)
                    .build()
                    .map_err(|e| format!("regex '{}' is invalid ({e})", args[0]))?;
                Converter::Regsub {
                    regex,
                    replacement: args[1].as_bytes().to_vec(),
                    global: flags.contains('g'),
                }
            }
            _ => return Err(format!("unknown converter '{name}'")),
        })
    }

    /// The maps this converter reads, to bind to the runtime's [`Maps`].
    pub fn map_use_mut(&mut self) -> Option<&mut MapUse> {
        match self {
            Converter::Map { map, .. } => Some(map),
            _ => None,
        }
    }

    pub fn map_use(&self) -> Option<&MapUse> {
        match self {
            Converter::Map { map, .. } => Some(map),
            _ => None,
        }
    }
}

fn integer(converter: &str, text: &str) -> Result<i64, String> {
    text.trim().parse().map_err(|_| {
        format!("invalid args in converter '{converter}' : '{text}' is not an integer")
    })
}

fn load_map(path: &str, kind: MapKind, context: &ConvertContext) -> Result<MapUse, String> {
    let text =
        (context.read_file)(path).map_err(|e| format!("unable to load map file '{path}' : {e}"))?;
    let file = MapFile::parse(path, &text);
    file.check(&text, kind)?;
    Ok(MapUse {
        file: Arc::new(file),
        kind,
        user: context.user.clone(),
        index: usize::MAX,
    })
}

thread_local! {
    /// The shard's two scratch buffers (one thread per shard): reused by every chain.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `chain` on `input`, then `test` on the result; false when a converter has no result.
pub fn apply(
    chain: &[Converter],
    input: Sample,
    maps: &Maps,
    test: &mut dyn FnMut(Sample) -> bool,
) -> bool {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buffers) => {
            let (a, b) = &mut *buffers;
            run(chain, input, maps, a, b) && test(Sample::Bytes(a))
        }
        // A chain inside a chain's test (not done today): fresh buffers, never a panic.
        Err(_) => {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            run(chain, input, maps, &mut a, &mut b) && test(Sample::Bytes(&a))
        }
    })
}

/// Writes `input` as text into `a`, then runs each converter; the result is in `a`.
fn run(chain: &[Converter], input: Sample, maps: &Maps, a: &mut Vec<u8>, b: &mut Vec<u8>) -> bool {
    a.clear();
    match input {
        Sample::Bytes(bytes) => a.extend_from_slice(bytes),
        Sample::Int(n) => write!(a, "{n}").unwrap_or(()),
        Sample::Ip(ip) => write!(a, "{ip}").unwrap_or(()),
        Sample::Bool(v) => a.push(if v { b'1' } else { b'0' }),
    }
    chain.iter().all(|c| convert(c, maps, a, b))
}

/// One converter on `a` (in place, or through `b`); false when it has no result.
fn convert(converter: &Converter, maps: &Maps, a: &mut Vec<u8>, b: &mut Vec<u8>) -> bool {
    match converter {
        Converter::Lower => a.make_ascii_lowercase(),
        Converter::Upper => a.make_ascii_uppercase(),
        Converter::Map { map, default } => {
            let found = maps
                .get(map.index)
                .and_then(|m| m.lookup(map.kind, a))
                .map(|e| e.value.as_bytes())
                .or(default.as_deref());
            let Some(value) = found else {
                return false;
            };
            b.clear();
            b.extend_from_slice(value);
            std::mem::swap(a, b);
        }
        Converter::Field(split) => return keep(a, field(a, split)),
        Converter::Word(split) => return keep(a, word(a, split)),
        Converter::Regsub {
            regex,
            replacement,
            global,
        } => {
            regsub(a, regex, replacement, *global, b);
            std::mem::swap(a, b);
        }
        Converter::Base64 => {
            b.clear();
            b.resize(a.len().div_ceil(3) * 4, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(&a[..], b)
                .unwrap_or(0);
            b.truncate(written);
            std::mem::swap(a, b);
        }
        Converter::UrlDec { plus_is_space } => return url_decode(a, *plus_is_space),
    }
    true
}

/// Keeps `range` of `a`, or says there is no result.
fn keep(a: &mut Vec<u8>, range: Option<(usize, usize)>) -> bool {
    let Some((start, end)) = range else {
        return false;
    };
    a.copy_within(start..end, 0);
    a.truncate(end - start);
    true
}

/// HAProxy's `sample_conv_field`: the `index`th field (from the end when negative) and
/// `count - 1` more (0: to the end).
fn field(s: &[u8], split: &Split) -> Option<(usize, usize)> {
    let is_delimiter = |b: u8| split.delimiters.contains(&b);
    let (index, mut count) = (split.index, split.count);
    if index == 0 {
        return None;
    }
    if index > 0 {
        let (mut field, mut start) = (1, 0);
        for (end, &byte) in s.iter().enumerate() {
            if !is_delimiter(byte) {
                continue;
            }
            if field == index {
                if count == 1 {
                    return Some((start, end));
                }
                if count > 1 {
                    count -= 1;
                }
            } else {
                start = end + 1;
                field += 1;
            }
        }
        (field == index).then_some((start, s.len()))
    } else {
        let (mut field, mut end) = (-1, s.len());
        for start in (1..=s.len()).rev() {
            if !is_delimiter(s[start - 1]) {
                continue;
            }
            if field == index {
                if count == 1 {
                    return Some((start, end));
                }
                if count > 1 {
                    count -= 1;
                }
            } else {
                end = start - 1;
                field -= 1;
            }
        }
        (field == index).then_some((0, end))
    }
}

/// HAProxy's `sample_conv_word`: like `field`, runs of delimiters separate one word. A
/// positive index counts words from the start, a negative one from the end: the same scan over
/// the boundaries in the other order.
fn word(s: &[u8], split: &Split) -> Option<(usize, usize)> {
    match split.index {
        0 => None,
        i if i > 0 => scan_words(s.iter().copied().enumerate(), s, split, true),
        _ => {
            let backward = (1..=s.len()).rev().map(|at| (at, s[at - 1]));
            scan_words(backward, s, split, false)
        }
    }
}

/// Scans `boundaries` (a position and the byte crossed there, in scan order) for word
/// `split.index`: a word starts where a non-delimiter follows a delimiter in scan order.
fn scan_words(
    boundaries: impl Iterator<Item = (usize, u8)>,
    s: &[u8],
    split: &Split,
    forward: bool,
) -> Option<(usize, usize)> {
    let (index, mut count) = (split.index, split.count);
    let span = |mark: usize, at: usize| if forward { (mark, at) } else { (at, mark) };
    let (mut word, mut in_word) = (0, false);
    let mut mark = if forward { 0 } else { s.len() };
    for (at, byte) in boundaries {
        let separator = split.delimiters.contains(&byte);
        if !in_word {
            if !separator {
                if word != index {
                    word += index.signum();
                    mark = at;
                }
                in_word = true;
            }
        } else if separator {
            if word == index {
                if count == 1 {
                    return Some(span(mark, at));
                }
                if count > 1 {
                    count -= 1;
                }
            }
            in_word = false;
        }
    }
    (word == index).then(|| span(mark, if forward { s.len() } else { 0 }))
}

/// Replaces the first match (every one with `global`) of `regex` in `a`, into `out`.
fn regsub(a: &[u8], regex: &Regex, replacement: &[u8], global: bool, out: &mut Vec<u8>) {
    out.clear();
    let mut last = 0;
    for captures in regex.captures_iter(a) {
        let whole = captures.get(0).expect("group 0 is the match");
        out.extend_from_slice(&a[last..whole.start()]);
        expand(replacement, &captures, out);
        last = whole.end();
        if !global {
            break;
        }
    }
    out.extend_from_slice(&a[last..]);
}

/// Writes `replacement` with `\N` replaced by group N.
fn expand(replacement: &[u8], captures: &regex::bytes::Captures, out: &mut Vec<u8>) {
    let mut bytes = replacement.iter().peekable();
    while let Some(&b) = bytes.next() {
        match bytes.peek() {
            Some(&&d) if b == b'\\' && d.is_ascii_digit() => {
                bytes.next();
                if let Some(group) = captures.get(usize::from(d - b'0')) {
                    out.extend_from_slice(group.as_bytes());
                }
            }
            _ => out.push(b),
        }
    }
}

/// Decodes `%XX` in place; a bad escape is no result, as in HAProxy.
fn url_decode(a: &mut Vec<u8>, plus_is_space: bool) -> bool {
    let (mut read, mut write) = (0, 0);
    while read < a.len() {
        let byte = match a[read] {
            b'%' => {
                let hex = |i: usize| a.get(i).and_then(|&c| (c as char).to_digit(16));
                let (Some(high), Some(low)) = (hex(read + 1), hex(read + 2)) else {
                    return false;
                };
                read += 2;
                (high * 16 + low) as u8
            }
            b'+' if plus_is_space => b' ',
            other => other,
        };
        a[write] = byte;
        read += 1;
        write += 1;
    }
    a.truncate(write);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(text: &str) -> Vec<Converter> {
        let context = ConvertContext {
            read_file: &|_| Ok("app.example.com bk_a\n/api bk_a\n/api/v2 bk_b\n".to_string()),
            user: String::new(),
        };
        split_expression(text)
            .into_iter()
            .map(|w| Converter::parse(w, &context).unwrap())
            .collect()
    }

    fn run_on(text: &str, input: &str) -> Option<String> {
        let mut out = None;
        apply(
            &chain(text),
            Sample::Bytes(input.as_bytes()),
            &Maps::EMPTY,
            &mut |s| {
                if let Sample::Bytes(b) = s {
                    out = Some(String::from_utf8_lossy(b).into_owned());
                }
                true
            },
        );
        out
    }

    /// What the real haproxy 2.6.12 answered for the same inputs (`lf-string` of each
    /// converter); tests/maps.rs checks the same side by side.
    #[test]
    fn converters_answer_as_haproxy() {
        let cases = [
            ("field(2,.)", "a.b.c.d", Some("b")),
            ("field(-1,.)", "a.b.c.d", Some("d")),
            ("field(2,.,2)", "a.b.c.d", Some("b.c")),
            ("field(5,.)", "a.b.c.d", None),
            ("field(2,.)", "a..b.c", Some("")),
            ("field(-1,.)", "a..b.c", Some("c")),
            ("field(2,.,2)", "a..b.c", Some(".b")),
            ("field(-1,.)", "abc", Some("abc")),
            ("word(2,.)", "a..b.c", Some("b")),
            ("word(-1,.)", "a..b.c", Some("c")),
            ("word(2,.)", "abc", None),
            ("word(-2,.,2)", "..a..b.c..", Some("a..b")),
            ("word(1,.,2)", "..a..b.c..", Some("a..b")),
            ("word(-1,.)", "..a..b.c..", Some("c")),
            ("word(3,.)", "..a..b.c..", Some("c")),
            ("word(-3,.)", "..a..b.c..", Some("a")),
            ("word(1,.,2)", "a.b", Some("a.b")),
            ("word(-2,.,2)", "a.b", Some("a")),
            ("word(-1,.)", "x", Some("x")),
            ("regsub(\\.,_,g)", "a..b.c", Some("a__b_c")),
            ("regsub(\\.,_)", "a.b.c", Some("a_b.c")),
            ("regsub(([a-z])\\.,<\\1>,g)", "a.b.c", Some("<a><b>c")),
            ("base64", "a.b.c.d", Some("YS5iLmMuZA==")),
            ("url_dec", "%41%2Bx+y", Some("A+x+y")),
            ("url_dec(1)", "%41%2Bx+y", Some("A+x y")),
            ("url_dec", "%zz", None),
            ("url_dec", "%4", None),
            ("upper", "app.Example.com", Some("APP.EXAMPLE.COM")),
            ("lower,upper,lower", "APP", Some("app")),
        ];
        for (text, input, want) in cases {
            assert_eq!(run_on(text, input).as_deref(), want, "{text} on {input}");
        }
    }

    #[test]
    fn bad_converters_are_refused() {
        let context = ConvertContext {
            read_file: &|p| Err(format!("no file {p}")),
            user: String::new(),
        };
        let parse = |w: &str| Converter::parse(w, &context).unwrap_err();
        assert_eq!(parse("nope"), "unknown converter 'nope'");
        assert!(parse("field(x,.)").contains("is not an integer"));
        assert!(parse("lower(1)").contains("expects 0 to 0 arguments"));
        assert!(parse("map(/x.map)").starts_with("unable to load map file '/x.map'"));
        assert!(parse("regsub((,x)").starts_with("regex '(' is invalid"));
    }

    #[test]
    fn expressions_split_at_top_level_commas() {
        assert_eq!(
            split_expression("req.hdr(host,1),lower,map(/a.map,bk\\,x)"),
            ["req.hdr(host,1)", "lower", "map(/a.map,bk\\,x)"]
        );
    }
}
