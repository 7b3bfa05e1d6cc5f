//! ACL pattern lists as runtime state: HAProxy's ACL pattern references, one per `-f` file
//! (shared by every expression that reads it) and one per ACL expression for its own
//! patterns. Every shard's state replica holds the same lists (inside [`super::Maps`]);
//! `add|del|clear acl` change them through Mutations, so a request matched after the reply
//! sees the new pattern on every core.
//!
//! A list keeps its patterns in order, each in a slot whose index never changes (its identity
//! for `show acl` and `#<ref>`), and one compiled [`Patterns`] per way an expression matches
//! it (match method and case), rebuilt when the list changes: matching stays as cheap as for
//! patterns written in the config.

use super::fetch::Sample;
use super::pattern::{MatchKind, Patterns};
use std::net::IpAddr;

/// How an expression matches a list: its method and whether it ignores case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternView {
    pub kind: MatchKind,
    pub ignore_case: bool,
}

impl PatternView {
    /// The name `get acl` prints (`type=beg`).
    pub fn kind_name(self) -> &'static str {
        match self.kind {
            MatchKind::Str => "str",
            MatchKind::Beg => "beg",
            MatchKind::End => "end",
            MatchKind::Sub => "sub",
            MatchKind::Dir => "dir",
            MatchKind::Dom => "dom",
            MatchKind::Reg => "reg",
            MatchKind::Len => "len",
            MatchKind::Int => "int",
            MatchKind::Ip => "ip",
            MatchKind::Found => "found",
            MatchKind::Bool => "bool",
        }
    }

    /// The index HAProxy keeps (`idx=` in `get acl`): a tree for case-sensitive strings and
    /// prefixes, and for addresses; a list otherwise.
    pub fn index_name(self) -> &'static str {
        match self.kind {
            MatchKind::Str | MatchKind::Beg if !self.ignore_case => "tree",
            MatchKind::Ip => "tree",
            _ => "list",
        }
    }

    /// Builds the patterns of `words` for this view; the error is HAProxy's reason.
    pub fn build(self, words: &[String]) -> Result<Patterns, String> {
        Patterns::build(self.kind, words, self.ignore_case)
    }
}

/// What a list is: a `-f` file, or one expression's own patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKey {
    /// The file's path, as `-f` named it.
    File(String),
    /// The expression at `location` (`file 'F' line N`), the `ordinal`th of its line.
    Own { location: String, ordinal: usize },
}

/// One ACL pattern list.
#[derive(Debug, Clone)]
pub struct PatternList {
    /// HAProxy's unique id of the pattern reference (`#ID`).
    pub id: u32,
    pub key: ListKey,
    /// For a file: each expression that reads it (`file 'F' line N`); for an expression's
    /// own list: the fetch keyword (`path_beg`).
    pub users: Vec<String>,
    slots: Vec<Option<String>>,
    views: Vec<(PatternView, Patterns)>,
    /// HAProxy's `entry_cnt`: each pattern loaded counts once per view, each one added or
    /// deleted at runtime once.
    entry_count: usize,
}

/// Lists are equal when they hold the same patterns (the compiled views follow from them).
impl PartialEq for PatternList {
    fn eq(&self, other: &PatternList) -> bool {
        let views = |l: &PatternList| l.views.iter().map(|(v, _)| *v).collect::<Vec<_>>();
        self.id == other.id
            && self.key == other.key
            && self.slots == other.slots
            && views(self) == views(other)
    }
}

/// A pattern as `show acl` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternEntry<'a> {
    pub slot: usize,
    pub pattern: &'a str,
}

impl PatternList {
    /// A list of `patterns` (already checked for every view when the config was read).
    pub fn new(id: u32, key: ListKey, patterns: &[String]) -> PatternList {
        PatternList {
            id,
            key,
            users: Vec::new(),
            slots: patterns.iter().cloned().map(Some).collect(),
            views: Vec::new(),
            entry_count: 0,
        }
    }

    /// The view for `view`, added (and counted) if no expression matched the list that way
    /// yet; its index.
    pub fn view_index(&mut self, view: PatternView) -> usize {
        if let Some(at) = self.views.iter().position(|(v, _)| *v == view) {
            return at;
        }
        let patterns = view.build(&self.words()).unwrap_or_else(|_| {
            // The config's patterns compiled when it was read; an empty set is never reached.
            Patterns::build(MatchKind::Str, &[], false).expect("an empty set builds")
        });
        self.entry_count += self.slots.iter().flatten().count();
        self.views.push((view, patterns));
        self.views.len() - 1
    }

    /// The index of `view`, if an expression matches the list that way.
    pub fn view_position(&self, view: PatternView) -> Option<usize> {
        self.views.iter().position(|(v, _)| *v == view)
    }

    pub fn path(&self) -> Option<&str> {
        match &self.key {
            ListKey::File(path) => Some(path),
            ListKey::Own { .. } => None,
        }
    }

    /// Whether `pattern` builds for every view (an `ip` list takes only addresses).
    pub fn check(&self, pattern: &str) -> Result<(), String> {
        let words = [pattern.to_string()];
        self.views
            .iter()
            .try_for_each(|(view, _)| view.build(&words).map(|_| ()))
    }

    /// Appends a pattern (checked with [`PatternList::check`] first).
    pub fn add(&mut self, pattern: &str) -> Result<(), String> {
        self.check(pattern)?;
        self.slots.push(Some(pattern.to_string()));
        self.entry_count += 1;
        self.rebuild();
        Ok(())
    }

    pub fn has_pattern(&self, pattern: &str) -> bool {
        self.slots.iter().flatten().any(|p| p == pattern)
    }

    pub fn has_slot(&self, slot: usize) -> bool {
        matches!(self.slots.get(slot), Some(Some(_)))
    }

    /// Deletes every entry equal to `pattern`; whether there was one.
    pub fn delete(&mut self, pattern: &str) -> bool {
        let mut found = 0;
        for slot in &mut self.slots {
            if slot.as_deref() == Some(pattern) {
                *slot = None;
                found += 1;
            }
        }
        self.removed(found)
    }

    /// Deletes the entry in `slot`; whether there was one.
    pub fn delete_slot(&mut self, slot: usize) -> bool {
        let found = self.slots.get_mut(slot).and_then(Option::take).is_some();
        self.removed(usize::from(found))
    }

    /// Removes every pattern (`clear acl`).
    pub fn clear(&mut self) {
        let found = self.slots.iter().flatten().count();
        self.slots.clear();
        self.removed(found);
    }

    fn removed(&mut self, count: usize) -> bool {
        self.entry_count = self.entry_count.saturating_sub(count);
        if count > 0 {
            self.rebuild();
        }
        count > 0
    }

    fn words(&self) -> Vec<String> {
        self.slots.iter().flatten().cloned().collect()
    }

    /// Compiles every view again from the patterns (each was checked when it came in).
    fn rebuild(&mut self) {
        let words = self.words();
        for (view, patterns) in &mut self.views {
            if let Ok(built) = view.build(&words) {
                *patterns = built;
            }
        }
    }

    /// Whether `sample` matches a pattern of the list as view `view` matches.
    pub fn matches(&self, view: usize, sample: Sample) -> bool {
        self.views
            .get(view)
            .is_some_and(|(_, patterns)| patterns.matches(sample))
    }

    /// The patterns in order.
    pub fn entries(&self) -> impl Iterator<Item = PatternEntry<'_>> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, p)| p.as_deref().map(|pattern| PatternEntry { slot, pattern }))
    }

    pub fn views(&self) -> impl Iterator<Item = PatternView> + '_ {
        self.views.iter().map(|(v, _)| *v)
    }

    pub fn entry_count(&self) -> usize {
        self.entry_count
    }

    /// The pattern `view` finds for the text `value` (`get acl`): the longest for a prefix
    /// tree, else the first in order.
    pub fn find(&self, view: PatternView, value: &str) -> Option<&str> {
        let matching = self.entries().filter(|e| {
            view.build(&[e.pattern.to_string()])
                .is_ok_and(|p| p.matches(sample_of(view.kind, value)))
        });
        match view.index_name() == "tree" && view.kind == MatchKind::Beg {
            true => matching.max_by_key(|e| (e.pattern.len(), usize::MAX - e.slot)),
            false => matching.min_by_key(|e| e.slot),
        }
        .map(|e| e.pattern)
    }
}

/// `value` as the sample an expression of `kind` matches: an address for `ip` (a network
/// names its address, as HAProxy reads it), a number for `int`, text otherwise.
fn sample_of(kind: MatchKind, value: &str) -> Sample<'_> {
    match kind {
        MatchKind::Ip => value
            .split('/')
            .next()
            .unwrap_or(value)
            .parse::<IpAddr>()
            .map_or(Sample::Bytes(value.as_bytes()), Sample::Ip),
        MatchKind::Int => value
            .parse::<i64>()
            .map_or(Sample::Bytes(value.as_bytes()), Sample::Int),
        _ => Sample::Bytes(value.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn views_follow_the_patterns_and_count_as_haproxy() {
        let mut list = PatternList::new(0, ListKey::File("p.lst".into()), &words("/admin /b"));
        let beg = PatternView {
            kind: MatchKind::Beg,
            ignore_case: false,
        };
        let str_ = PatternView {
            kind: MatchKind::Str,
            ignore_case: true,
        };
        let (b, s) = (list.view_index(beg), list.view_index(str_));
        assert_eq!(list.view_index(beg), b);
        assert_eq!(list.entry_count(), 4);
        assert!(list.matches(b, Sample::Bytes(b"/admin/x")));
        assert!(!list.matches(s, Sample::Bytes(b"/ADMIN/x")));
        assert_eq!(list.find(beg, "/admin/x"), Some("/admin"));
        list.add("/img").unwrap();
        assert!(list.matches(s, Sample::Bytes(b"/IMG")));
        assert!(list.delete("/admin") && !list.delete("/admin"));
        assert!(
            !list.matches(b, Sample::Bytes(b"/admin/x")) && list.matches(b, Sample::Bytes(b"/b/x"))
        );
        assert_eq!(list.entry_count(), 4);
        list.clear();
        assert_eq!(list.entries().count(), 0);
        assert!(!list.matches(s, Sample::Bytes(b"/img")));
    }

    #[test]
    fn an_address_list_takes_only_addresses() {
        let mut list = PatternList::new(1, ListKey::File("ips".into()), &words("10.0.0.0/8"));
        let ip = PatternView {
            kind: MatchKind::Ip,
            ignore_case: false,
        };
        let v = list.view_index(ip);
        assert_eq!(
            list.add("notanip").unwrap_err(),
            "'notanip' is not a valid IPv4 or IPv6 address"
        );
        list.add("::1").unwrap();
        assert!(list.matches(v, Sample::Ip("::1".parse().unwrap())));
        assert_eq!(list.find(ip, "10.1.2.3"), Some("10.0.0.0/8"));
        assert_eq!(list.find(ip, "11.1.2.3"), None);
    }
}
