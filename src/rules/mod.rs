//! Request rules of HAProxy 2.6's language, compiled at load into typed plans: ACLs, `if` /
//! `unless` conditions, the switching rules (`use_backend`), `http-request` / `redirect` /
//! `http-response` / `http-after-response` rules and `monitor-uri`. Pure: no I/O (pattern and
//! map files are read by the caller), no glommio. Config parses into these types; the proxy
//! evaluates them per request through [`RequestView`], with no string parsing and no
//! allocation but the one copy of a head a rewrite edits (converters reuse per-shard buffers).
//!
//! - `fetch`: what a rule reads from a request (`path`, `hdr(host)`, `src` …) or from the
//!   response it answers (`status`, `res.hdr`).
//! - `pattern`: how a value is matched (`-m str|beg|end|sub|dir|dom|reg|len|int|ip|found`,
//!   `-i`), the patterns built once for their method.
//! - `acl`: ACL expressions, the named ACLs of a section, the predefined ACLs.
//! - `condition`: `if|unless` over ACLs, `!`, `||`, implicit AND, anonymous `{ … }`.
//! - `action`: `http-request` rules and `redirect`, their verdict for one request.
//! - `reply`: the replies those rules send, rendered at load in HAProxy's bytes.
//! - `response`: `http-response` rules, evaluated on a server's response head.
//! - `rewrite`: the request rewrites of `http-request` rules, on an edited copy of the head.
//! - `convert`: converters (`lower`, `map*`, `field` …) applied to a fetch's values.
//! - `sample`: a fetch with its converters.
//! - `logformat`: log-format values (`%[sample]` in text): rule arguments, `use_backend` names.
//! - `map`: map files and the runtime [`Maps`] every shard's state holds.
//! - `monitor`: `monitor-uri` and `monitor fail`, answered before the `http-request` rules.

mod acl;
mod action;
mod condition;
mod convert;
mod fetch;
mod logformat;
mod map;
mod monitor;
mod pattern;
mod pattern_list;
mod reply;
mod response;
mod rewrite;
mod sample;

pub use acl::{check_acl_name, AclTable, Expr, PatternRef, PatternSource};
pub use action::{
    parse_redirect_rule, parse_request_rule, HttpRules, Redirect, RequestAction, RequestRule,
    Verdict,
};
pub use condition::Condition;
pub use convert::ConvertContext;
pub use fetch::{ProxyFacts, ProxyRef, RequestView, Sample, TlsFacts};
pub use logformat::LogFormat;
pub use map::{EntryView, Map, MapFile, MapKind, MapUse, Maps};
pub use monitor::Monitor;
pub use pattern_list::{ListKey, PatternEntry, PatternList, PatternView};
pub use reply::{ConnectionField, ErrorFiles, Reply, ERRORFILE_STATUSES};
pub use response::{
    parse_response_rule, EditedResponse, OnResponse, ResponseAction, ResponseRule, ResponseRules,
    ResponseView,
};
pub use rewrite::{EditedHead, EditedView, Rewrite};
pub use sample::SampleExpr;

/// Where a `use_backend` rule sends a request.
#[derive(Debug, Clone)]
pub enum Target<B> {
    /// A backend named in config; its index once the runtime resolved it.
    Static(B),
    /// `use_backend %[EXPR]`: the backend named by the request. A name that is no backend
    /// ends the rules and the request goes to `default_backend`, as in HAProxy.
    Dynamic(LogFormat),
}

impl<B> Target<B> {
    pub fn as_static(&self) -> Option<&B> {
        match self {
            Target::Static(b) => Some(b),
            Target::Dynamic(_) => None,
        }
    }
}

/// `use_backend NAME|%[EXPR] [if|unless COND]`: the first rule whose condition holds picks
/// the backend; none does, `default_backend`.
#[derive(Debug, Clone)]
pub struct UseBackend<B> {
    pub backend: Target<B>,
    pub condition: Option<Condition>,
}

/// A frontend's ACLs and switching rules, in order.
#[derive(Debug, Clone)]
pub struct Switching<B> {
    pub acls: AclTable,
    pub rules: Vec<UseBackend<B>>,
}

/// No rule (whatever `B` is: a derived `Default` would ask `B: Default`).
impl<B> Default for Switching<B> {
    fn default() -> Self {
        Switching {
            acls: AclTable::default(),
            rules: Vec::new(),
        }
    }
}

impl<B: Copy> Switching<B> {
    /// The backend of the first rule whose condition holds; a computed name is looked up with
    /// `by_name`. None: `default_backend` (no rule held, or a computed name is no backend).
    pub fn choose<R: RequestView>(
        &self,
        request: &R,
        by_name: impl FnOnce(&[u8]) -> Option<B>,
    ) -> Option<B> {
        let rule = self.rules.iter().find(|r| {
            r.condition
                .as_ref()
                .is_none_or(|c| c.holds(&self.acls, request))
        })?;
        match &rule.backend {
            Target::Static(backend) => Some(*backend),
            Target::Dynamic(name) => name.with_value(request, by_name),
        }
    }
}

impl<B> Switching<B> {
    /// The same rules with each backend mapped (config names to runtime indices); the first
    /// name `resolve` refuses is the error.
    pub fn resolve<C, E>(
        &self,
        mut resolve: impl FnMut(&B) -> Result<C, E>,
    ) -> Result<Switching<C>, E> {
        let rules = self
            .rules
            .iter()
            .map(|r| {
                Ok(UseBackend {
                    backend: match &r.backend {
                        Target::Static(b) => Target::Static(resolve(b)?),
                        Target::Dynamic(name) => Target::Dynamic(name.clone()),
                    },
                    condition: r.condition.clone(),
                })
            })
            .collect::<Result<_, E>>()?;
        Ok(Switching {
            acls: self.acls.clone(),
            rules,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every map the ACLs and rules read, in order (ACLs first).
    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        let dynamic = self.rules.iter().flat_map(|r| match &r.backend {
            Target::Dynamic(name) => Some(name.map_uses()),
            Target::Static(_) => None,
        });
        self.acls.map_uses().chain(dynamic.flatten())
    }

    /// The fetches and converters of the ACLs, then of the dynamic `use_backend %[…]` names.
    pub fn samples_mut(&mut self) -> impl Iterator<Item = &mut SampleExpr> {
        let Switching { acls, rules } = self;
        acls.samples_mut().chain(dynamic_samples(rules))
    }

    pub fn map_uses_mut(&mut self) -> impl Iterator<Item = &mut MapUse> {
        let dynamic = dynamic_samples(&mut self.rules).flat_map(SampleExpr::map_uses_mut);
        self.acls.map_uses_mut().chain(dynamic)
    }

    /// Points each map converter at its map in the runtime's `maps` (by file path), and each
    /// ACL's patterns at their runtime list.
    pub fn bind_maps(&mut self, maps: &Maps) {
        for map_use in self.map_uses_mut() {
            map_use.index = maps.by_path(&map_use.file.path).unwrap_or(usize::MAX);
        }
        self.acls.bind_lists(maps);
    }
}

/// The sample expressions of the dynamic `use_backend %[…]` targets.
fn dynamic_samples<B>(rules: &mut [UseBackend<B>]) -> impl Iterator<Item = &mut SampleExpr> {
    rules
        .iter_mut()
        .filter_map(|r| match &mut r.backend {
            Target::Dynamic(name) => Some(name.samples_mut()),
            Target::Static(_) => None,
        })
        .flatten()
}

/// The runtime maps and ACL lists of a config: one map per file, indexed for every kind its
/// converters use (`uses`, in order), and one ACL list per `-f` file and per expression.
/// `#ID`s follow HAProxy's creation order: the ACLs' pattern references (`acl_refs`, maps
/// among them) first, then the maps only `%[…]` names read.
pub fn build_maps<'a>(
    acl_refs: impl Iterator<Item = PatternRef<'a>>,
    uses: impl Iterator<Item = &'a MapUse>,
) -> Maps {
    let mut ids = MapIds::default();
    let mut acls: Vec<PatternList> = Vec::new();
    for r in acl_refs {
        match r {
            PatternRef::Acl(source) => add_to_acl_list(&mut acls, &mut ids, source),
            PatternRef::Map(path) => ids.number(path),
        }
    }
    let mut files: Vec<(&MapUse, Vec<MapKind>, Vec<String>)> = Vec::new();
    for map_use in uses {
        ids.number(&map_use.file.path);
        match files
            .iter_mut()
            .find(|(u, _, _)| u.file.path == map_use.file.path)
        {
            Some((_, kinds, users)) => {
                if !kinds.contains(&map_use.kind) {
                    kinds.push(map_use.kind);
                }
                users.push(map_use.user.clone());
            }
            None => files.push((map_use, vec![map_use.kind], vec![map_use.user.clone()])),
        }
    }
    let mut maps = Maps::default();
    for (map_use, kinds, users) in files {
        let id = ids.of(&map_use.file.path);
        maps.push(Map::new(&map_use.file, id, kinds, users));
    }
    maps.sort_by_id();
    for list in acls {
        maps.push_acl_list(list);
    }
    maps
}

/// Creates the list a pattern source reads, or adds the source's way of matching (and its
/// line) to the list of a file another expression read first.
fn add_to_acl_list(acls: &mut Vec<PatternList>, ids: &mut MapIds, source: &PatternSource) {
    let key = source.key();
    let at = match acls.iter().position(|l| l.key == key) {
        Some(at) => at,
        None => {
            let id = match &source.file {
                Some(path) => {
                    ids.number(path);
                    ids.of(path)
                }
                None => {
                    ids.next += 1;
                    ids.next - 1
                }
            };
            acls.push(PatternList::new(id, key, &source.patterns));
            acls.len() - 1
        }
    };
    let list = &mut acls[at];
    list.view_index(source.view);
    list.users.push(match &source.file {
        Some(_) => source.location.clone(),
        None => source.keyword.clone(),
    });
}

/// Map files numbered in creation order among HAProxy's pattern references.
#[derive(Default)]
struct MapIds {
    ids: Vec<(String, u32)>,
    next: u32,
}

impl MapIds {
    /// Gives `path` the next number unless it has one.
    fn number(&mut self, path: &str) {
        if !self.ids.iter().any(|(p, _)| p == path) {
            self.ids.push((path.to_string(), self.next));
            self.next += 1;
        }
    }

    fn of(&self, path: &str) -> u32 {
        self.ids
            .iter()
            .find(|(p, _)| p == path)
            .map_or(0, |(_, id)| *id)
    }
}
