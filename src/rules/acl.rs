//! ACLs: `acl NAME FETCH [FLAGS] [MATCH] PATTERN…` expressions, the named ACLs of one section
//! (several lines with one name are OR'ed), anonymous `{ … }` ACLs, and HAProxy's predefined
//! ACLs (`TRUE`, `METH_GET`, `LOCALHOST` …), built on demand when a condition names one.

use super::convert::ConvertContext;
use super::fetch::{RequestView, Sample};
use super::map::{MapUse, Maps};
use super::pattern::{MatchKind, Patterns};
use super::pattern_list::{ListKey, PatternView};
use super::sample::SampleExpr;

/// One ACL expression: a fetch (and its converters) and the sources of the patterns its
/// values are matched against.
#[derive(Debug, Clone)]
pub struct Expr {
    sample: SampleExpr,
    /// One per `-f` file, in order, then the expression's own patterns: HAProxy's pattern
    /// references for it, in the order it creates them.
    sources: Vec<PatternSource>,
}

/// Where some of an expression's patterns come from, compiled for how it matches them, and
/// once the runtime built its lists, the runtime list that holds them.
#[derive(Debug, Clone)]
pub struct PatternSource {
    /// The `-f` file's path; `None` for the expression's own patterns.
    pub file: Option<String>,
    /// The patterns as the config gave them.
    pub patterns: Vec<String>,
    /// The method and case (`-i` applies to the files named after it, as HAProxy reads).
    pub view: PatternView,
    compiled: Patterns,
    /// The fetch keyword (`path_beg`), as `show acl` names the expression.
    pub keyword: String,
    /// Where the expression is (`file 'F' line N`) and which of its line's sources it is;
    /// empty until the config parser names it.
    pub location: String,
    pub ordinal: usize,
    /// Index into [`Maps::acl_lists`] and into that list's views; `usize::MAX` until
    /// [`AclTable::bind_lists`] sets them.
    pub list: usize,
    pub list_view: usize,
}

impl PatternSource {
    /// The runtime list it reads.
    pub fn key(&self) -> ListKey {
        match &self.file {
            Some(path) => ListKey::File(path.clone()),
            None => ListKey::Own {
                location: self.location.clone(),
                ordinal: self.ordinal,
            },
        }
    }

    /// Whether `sample` matches: the runtime list's patterns once bound, else the config's.
    fn matches(&self, maps: &Maps, sample: Sample) -> bool {
        match maps.acl_list(self.list) {
            Some(list) => list.matches(self.list_view, sample),
            None => self.compiled.matches(sample),
        }
    }
}

impl Expr {
    /// Parses `FETCH [FLAGS] [PATTERN…]`. `-f FILE` patterns are read with `read_file`
    /// (config I/O stays in config). Returns a warning for an expression that can never
    /// match, as HAProxy warns.
    pub fn parse(
        words: &[String],
        read_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<(Expr, Option<String>), String> {
        let Some((keyword, rest)) = words.split_first() else {
            return Err("missing ACL expression".to_string());
        };
        let context = ConvertContext {
            read_file,
            user: String::new(),
        };
        let (sample, implied) = SampleExpr::parse(keyword, &context)?;
        let flags = Flags::parse(rest, read_file)?;
        let kind = flags
            .kind
            .or(implied)
            .unwrap_or_else(|| MatchKind::default_for(sample.sample_type()));
        let no_pattern = flags.patterns.is_empty() && flags.files.iter().all(|f| f.1.is_empty());
        let warning = (no_pattern && !flags.explicit_end && !kind.takes_no_pattern())
            .then(|| {
                format!(
                    "acl keyword '{keyword}': no pattern to match against were provided, so this \
                     ACL will never match (add '--' to say so, or use '-m found' to match on presence)"
                )
            });
        let name = keyword
            .split(['(', ','])
            .next()
            .unwrap_or(keyword)
            .to_string();
        let own = (None, flags.patterns, flags.ignore_case);
        let sources = flags
            .files
            .into_iter()
            .map(|(path, patterns, ignore_case)| (Some(path), patterns, ignore_case))
            .chain([own])
            .map(|(file, patterns, ignore_case)| {
                let view = PatternView { kind, ignore_case };
                Ok(PatternSource {
                    compiled: view.build(&patterns)?,
                    file,
                    patterns,
                    view,
                    keyword: name.clone(),
                    location: String::new(),
                    ordinal: 0,
                    list: usize::MAX,
                    list_view: usize::MAX,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok((Expr { sample, sources }, warning))
    }

    pub fn matches<R: RequestView>(&self, request: &R) -> bool {
        let maps = request.maps();
        self.sample.any(request, &mut |sample| {
            self.sources.iter().any(|s| s.matches(maps, sample))
        })
    }

    pub fn sources(&self) -> &[PatternSource] {
        &self.sources
    }

    pub fn sources_mut(&mut self) -> &mut [PatternSource] {
        &mut self.sources
    }

    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.sample.map_uses()
    }

    pub fn sample_mut(&mut self) -> &mut SampleExpr {
        &mut self.sample
    }
}

/// What the flags before the patterns said, and the patterns themselves.
struct Flags {
    ignore_case: bool,
    kind: Option<MatchKind>,
    patterns: Vec<String>,
    /// `--` ended the flags: an empty pattern list is then intended.
    explicit_end: bool,
    /// Each `-f` file: its path, its patterns, and whether `-i` came before it.
    files: Vec<(String, Vec<String>, bool)>,
}

impl Flags {
    fn parse(
        words: &[String],
        read_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Flags, String> {
        let mut flags = Flags {
            ignore_case: false,
            kind: None,
            patterns: Vec::new(),
            explicit_end: false,
            files: Vec::new(),
        };
        let mut rest = words.iter();
        while let Some(word) = rest.as_slice().first() {
            if !word.starts_with('-') {
                break;
            }
            rest.next();
            match word.as_str() {
                "-i" => flags.ignore_case = true,
                "-n" => {} // no DNS resolution: pointsman never resolves patterns anyway
                "-m" => flags.kind = Some(MatchKind::named(value_of("-m", rest.next())?)?),
                "-f" => {
                    let file = value_of("-f", rest.next())?;
                    let patterns = pattern_file(&read_file(file)?).collect();
                    flags
                        .files
                        .push((file.to_string(), patterns, flags.ignore_case));
                }
                "--" => {
                    flags.explicit_end = true;
                    break;
                }
                other => {
                    return Err(format!(
                        "'{other}' is not a supported ACL flag (-i, -n, -m METHOD, -f FILE, --)"
                    ))
                }
            }
        }
        flags.patterns.extend(rest.cloned());
        Ok(flags)
    }
}

fn value_of<'a>(flag: &str, word: Option<&'a String>) -> Result<&'a str, String> {
    word.map(String::as_str)
        .ok_or_else(|| format!("missing argument after '{flag}'"))
}

/// The patterns of a pattern file: one a line, trimmed; blank lines and `#` comments skipped.
fn pattern_file(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

/// One ACL: a named one gathers every `acl` line of its name; an anonymous one is a
/// condition's `{ … }`.
#[derive(Debug, Clone)]
struct Acl {
    name: Option<String>,
    exprs: Vec<Expr>,
}

/// A pattern reference HAProxy 2.6 creates while it parses ACLs, in creation order: one per
/// map file a converter reads first, then one per `-f` file (the first expression that reads
/// a file creates it) and one for the expression. Their order gives maps and ACLs their `#ID`.
#[derive(Debug, Clone, Copy)]
pub enum PatternRef<'a> {
    Acl(&'a PatternSource),
    Map(&'a str),
}

/// The ACLs of one section, named and anonymous; conditions refer to them by index.
#[derive(Debug, Clone, Default)]
pub struct AclTable {
    acls: Vec<Acl>,
    /// Each expression (ACL index, expression index) in the order it was parsed.
    created: Vec<(usize, usize)>,
}

/// HAProxy 2.6's predefined ACLs, as the expressions they stand for.
const PREDEFINED: &[(&str, &str)] = &[
    ("TRUE", "always_true"),
    ("FALSE", "always_false"),
    ("HTTP", "always_true"),
    ("HTTP_1.0", "req.ver 1.0"),
    ("HTTP_1.1", "req.ver 1.1"),
    ("HTTP_2.0", "req.ver 2.0"),
    ("HTTP_CONTENT", "hdr_val(content-length) gt 0"),
    ("HTTP_URL_ABS", "url_reg ^[^/:]*://"),
    ("HTTP_URL_SLASH", "url_beg /"),
    ("HTTP_URL_STAR", "url *"),
    ("LOCALHOST", "src 127.0.0.1/8 ::1"),
    ("METH_CONNECT", "method CONNECT"),
    ("METH_DELETE", "method DELETE"),
    ("METH_GET", "method GET HEAD"),
    ("METH_HEAD", "method HEAD"),
    ("METH_OPTIONS", "method OPTIONS"),
    ("METH_POST", "method POST"),
    ("METH_PUT", "method PUT"),
    ("METH_TRACE", "method TRACE"),
];

impl AclTable {
    /// `acl NAME EXPR`: adds the expression to the ACL of that name (OR'ed with its others).
    pub fn declare(&mut self, name: &str, expr: Expr) {
        match self
            .acls
            .iter()
            .position(|a| a.name.as_deref() == Some(name))
        {
            Some(at) => {
                self.acls[at].exprs.push(expr);
                self.created.push((at, self.acls[at].exprs.len() - 1));
            }
            None => {
                self.acls.push(Acl {
                    name: Some(name.to_string()),
                    exprs: vec![expr],
                });
                self.created.push((self.acls.len() - 1, 0));
            }
        }
    }

    /// A condition's `{ EXPR }`.
    pub fn anonymous(&mut self, expr: Expr) -> usize {
        self.acls.push(Acl {
            name: None,
            exprs: vec![expr],
        });
        self.created.push((self.acls.len() - 1, 0));
        self.acls.len() - 1
    }

    /// The ACL a condition names: one declared before it, else a predefined one.
    pub fn resolve(&mut self, name: &str) -> Option<usize> {
        if let Some(i) = self
            .acls
            .iter()
            .position(|a| a.name.as_deref() == Some(name))
        {
            return Some(i);
        }
        let (_, text) = PREDEFINED.iter().find(|(n, _)| *n == name)?;
        let words: Vec<String> = text.split(' ').map(str::to_string).collect();
        let (expr, _) = Expr::parse(&words, &|_| Err(String::new())).ok()?;
        self.declare(name, expr);
        Some(self.acls.len() - 1)
    }

    /// The expressions in the order they were parsed.
    fn in_creation_order(&self) -> impl Iterator<Item = &Expr> {
        self.created
            .iter()
            .map(|&(acl, expr)| &self.acls[acl].exprs[expr])
    }

    /// The pattern references HAProxy created for these ACLs, in creation order.
    pub fn pattern_refs(&self) -> impl Iterator<Item = PatternRef<'_>> {
        self.in_creation_order().flat_map(|expr| {
            let maps = expr.map_uses().map(|m| PatternRef::Map(&m.file.path));
            maps.chain(expr.sources.iter().map(PatternRef::Acl))
        })
    }

    /// Every pattern source, in no particular order.
    fn sources_mut(&mut self) -> impl Iterator<Item = &mut PatternSource> {
        self.acls
            .iter_mut()
            .flat_map(|a| a.exprs.iter_mut().flat_map(|e| e.sources.iter_mut()))
    }

    /// Names the sources a config line just created (`file 'F' line N`), numbered in the
    /// order the line created them.
    pub fn name_sources(&mut self, location: &str) {
        let created: Vec<(usize, usize)> = self.created.clone();
        let mut ordinal = 0;
        for (acl, expr) in created {
            for source in &mut self.acls[acl].exprs[expr].sources {
                if source.location.is_empty() {
                    source.location = location.to_string();
                    source.ordinal = ordinal;
                    ordinal += 1;
                }
            }
        }
    }

    /// Points each pattern source at its runtime list in `maps`.
    pub fn bind_lists(&mut self, maps: &Maps) {
        for source in self.sources_mut() {
            let found = maps.acl_list_of(&source.key(), source.view);
            (source.list, source.list_view) = found.unwrap_or((usize::MAX, usize::MAX));
        }
    }

    /// Every ACL expression's fetch and converters, in declaration order.
    pub fn samples_mut(&mut self) -> impl Iterator<Item = &mut SampleExpr> {
        self.acls
            .iter_mut()
            .flat_map(|a| a.exprs.iter_mut().map(Expr::sample_mut))
    }

    /// Every map the ACLs' converters read, in declaration order.
    pub fn map_uses_mut(&mut self) -> impl Iterator<Item = &mut MapUse> {
        self.samples_mut().flat_map(SampleExpr::map_uses_mut)
    }

    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.acls
            .iter()
            .flat_map(|a| a.exprs.iter().flat_map(Expr::map_uses))
    }

    /// Whether ACL `index` matches the request (any of its expressions does).
    pub fn holds<R: RequestView>(&self, index: usize, request: &R) -> bool {
        self.acls
            .get(index)
            .is_some_and(|acl| acl.exprs.iter().any(|e| e.matches(request)))
    }
}

/// Characters HAProxy accepts in an ACL name.
pub fn check_acl_name(name: &str) -> Result<(), String> {
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        Some(c) => Err(format!(
            "ACL name '{name}' contains invalid character '{c}' (use letters, digits, '-', '_', '.' and ':')"
        )),
        None if name.is_empty() => Err("ACL name is empty".to_string()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fetch::tests::Plain;

    fn expr(text: &str) -> Expr {
        let words: Vec<String> = text.split(' ').map(str::to_string).collect();
        Expr::parse(&words, &|f| {
            Ok(format!("# hosts\n\n  {f}.example.com \nother.org\n"))
        })
        .unwrap()
        .0
    }

    #[test]
    fn expressions_with_flags_and_pattern_files() {
        let r = Plain::get("/API/x", &[("Host", "Shop.Example.com")]);
        assert!(expr("path_beg -i /api").matches(&r));
        assert!(!expr("path_beg /api").matches(&r));
        assert!(expr("hdr(host) -i -f shop").matches(&r));
        assert!(expr("hdr(host) -m dom -i example.com").matches(&r));
        assert!(expr("hdr(x-none) -m found").matches(&Plain::get("/", &[("X-None", "")])));
        assert!(!expr("hdr(x-none) -m found").matches(&r));
        assert!(expr("path -m reg -- ^/A").matches(&r));
    }

    #[test]
    fn an_expression_without_patterns_warns_unless_told() {
        let words = |t: &str| -> Vec<String> { t.split(' ').map(str::to_string).collect() };
        let none = |_: &str| Err(String::new());
        assert!(Expr::parse(&words("path_beg"), &none).unwrap().1.is_some());
        assert!(Expr::parse(&words("path_beg --"), &none)
            .unwrap()
            .1
            .is_none());
        assert!(Expr::parse(&words("hdr(a) -m found"), &none)
            .unwrap()
            .1
            .is_none());
        assert_eq!(
            Expr::parse(&words("path -m foo x"), &none).unwrap_err(),
            "unknown matching method 'foo' when parsing ACL expression"
        );
    }

    #[test]
    fn named_acls_or_their_lines_and_predefined_ones_exist() {
        let mut t = AclTable::default();
        t.declare("static", expr("path_end .css"));
        t.declare("static", expr("path_beg /img/"));
        let i = t.resolve("static").unwrap();
        assert!(t.holds(i, &Plain::get("/a.css", &[])));
        assert!(t.holds(i, &Plain::get("/img/a", &[])));
        assert!(!t.holds(i, &Plain::get("/a.js", &[])));
        let get = t.resolve("METH_GET").unwrap();
        assert!(t.holds(get, &Plain::get("/", &[])));
        let local = t.resolve("LOCALHOST").unwrap();
        assert!(t.holds(local, &Plain::get("/", &[])));
        assert!(t.resolve("NOPE").is_none());
    }
}
