//! Maps: HAProxy's `key value` files that the `map*` converters read, held as runtime state.
//! Every shard's state replica holds the same [`Maps`]; `add|set|del|clear map` change them
//! through Mutations, so a lookup after the reply sees the new entry on every core.
//!
//! A map keeps its entries in file order, each in a slot whose index never changes (its
//! identity for `show map` and `#<ref>`), and an index fit for each match kind a converter
//! uses on it: a hash of keys for `str` (and `beg`, looked up once per distinct key length,
//! longest first), a hash of delimiter-trimmed keys for `dom` (looked up for each delimited
//! run of the sample); `end`, `sub`, `dir` and `reg` scan the entries in order, as HAProxy's
//! lists do. Lookups answer what HAProxy 2.6 answers: `str` and `dom` the first entry in
//! order, `beg` the longest key.

use super::pattern::match_word;
use super::pattern_list::{ListKey, PatternList, PatternView};
use regex::bytes::{Regex, RegexBuilder};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How a `map*` converter matches its input against the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapKind {
    Str,
    Beg,
    End,
    Sub,
    Dir,
    Dom,
    Reg,
}

impl MapKind {
    /// The kind of converter `name` (`map` is `map_str`).
    pub fn of_converter(name: &str) -> Option<MapKind> {
        Some(match name {
            "map" | "map_str" => MapKind::Str,
            "map_beg" => MapKind::Beg,
            "map_end" => MapKind::End,
            "map_sub" => MapKind::Sub,
            "map_dir" => MapKind::Dir,
            "map_dom" => MapKind::Dom,
            "map_reg" => MapKind::Reg,
            _ => return None,
        })
    }

    /// The name `get map` prints (`type=str`).
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Str => "str",
            MapKind::Beg => "beg",
            MapKind::End => "end",
            MapKind::Sub => "sub",
            MapKind::Dir => "dir",
            MapKind::Dom => "dom",
            MapKind::Reg => "reg",
        }
    }

    /// The index HAProxy keeps for the kind (`idx=` in `get map`).
    pub fn index_name(self) -> &'static str {
        match self {
            MapKind::Str | MapKind::Beg => "tree",
            _ => "list",
        }
    }
}

/// A map file as read at load: its entries in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapFile {
    pub path: String,
    pub entries: Vec<(String, String)>,
}

impl MapFile {
    /// Parses a map file: one `KEY VALUE` a line (the key ends at the first space or tab, the
    /// value is the rest, trimmed); blank lines and `#` comments skipped.
    pub fn parse(path: &str, text: &str) -> MapFile {
        let entries = text
            .lines()
            .filter_map(|line| {
                let line = line.trim_matches([' ', '\t', '\r']);
                if line.is_empty() || line.starts_with('#') {
                    return None;
                }
                Some(split_entry(line))
            })
            .collect();
        MapFile {
            path: path.to_string(),
            entries,
        }
    }

    /// Checks that every key compiles for `kind` (`map_reg`): the error names the file's line.
    pub fn check(&self, text: &str, kind: MapKind) -> Result<(), String> {
        if kind != MapKind::Reg {
            return Ok(());
        }
        for (number, line) in text.lines().enumerate() {
            let line = line.trim_matches([' ', '\t', '\r']);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, _) = split_entry(line);
            compile(&key).map_err(|e| format!("{}:{}: {e}", self.path, number + 1))?;
        }
        Ok(())
    }
}

/// `KEY VALUE…` of one line (already trimmed): the key up to the first blank, the value the
/// rest without its leading blanks.
fn split_entry(line: &str) -> (String, String) {
    match line.find([' ', '\t']) {
        Some(end) => (
            line[..end].to_string(),
            line[end..].trim_start_matches([' ', '\t']).to_string(),
        ),
        None => (line.to_string(), String::new()),
    }
}

fn compile(key: &str) -> Result<Regex, String> {
    RegexBuilder::new(key)
        .unicode(false)
        .build()
        .map_err(|e| format!("regex '{key}' is invalid ({e})"))
}

/// One entry of a map.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: String,
    /// The key compiled, when the map is used with `map_reg`.
    regex: Option<Regex>,
}

/// One map: its entries and the indexes its converters need.
#[derive(Debug, Clone)]
pub struct Map {
    /// The file it was loaded from: how `show map` and the commands name it.
    pub path: String,
    /// Its `#ID` (HAProxy's unique id of the pattern reference).
    pub id: u32,
    /// Where each converter that reads it stands (`file 'F' line N`), for `show map`.
    pub users: Vec<String>,
    /// The match kinds its converters use, in the order they were first used.
    pub kinds: Vec<MapKind>,
    slots: Vec<Option<Entry>>,
    /// Key to its slots, in order (`str`, `beg`, and the commands that name a key).
    by_key: HashMap<Box<[u8]>, Vec<usize>>,
    /// How many keys of each length (`beg` tries the longest first).
    key_lengths: BTreeMap<usize, usize>,
    /// Delimiter-trimmed key to its slots, when a converter uses `map_dom`.
    by_domain: Option<HashMap<Box<[u8]>, Vec<usize>>>,
    /// HAProxy's `entry_cnt`, kept by its own accounting: each entry counts once per match
    /// kind when added, and once when deleted.
    entry_count: usize,
}

/// Maps are equal when they hold the same entries (the indexes follow from them).
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        let entries = |m: &Map| -> Vec<Option<(String, String)>> {
            m.slots
                .iter()
                .map(|s| s.as_ref().map(|e| (e.key.clone(), e.value.clone())))
                .collect()
        };
        self.path == other.path
            && self.id == other.id
            && self.kinds == other.kinds
            && entries(self) == entries(other)
    }
}

/// An entry as `show map` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryView<'a> {
    pub slot: usize,
    pub key: &'a str,
    pub value: &'a str,
}

/// The delimiters of `dom` matching.
const DOMAIN_DELIMITERS: &[u8] = b"/?.:";

impl Map {
    /// A map of `file`'s entries, indexed for `kinds`.
    pub fn new(file: &MapFile, id: u32, kinds: Vec<MapKind>, users: Vec<String>) -> Map {
        let mut map = Map {
            path: file.path.clone(),
            id,
            users,
            by_domain: kinds
                .contains(&MapKind::Dom)
                .then(HashMap::<Box<[u8]>, Vec<usize>>::new),
            kinds,
            slots: Vec::new(),
            by_key: HashMap::new(),
            key_lengths: BTreeMap::new(),
            entry_count: 0,
        };
        for (key, value) in &file.entries {
            // Keys were checked when the file was read (`MapFile::check`): none fails here.
            let _ = map.add(key, value);
        }
        map
    }

    /// Appends an entry (a key may repeat: the first in order is the one `str` finds). A key
    /// that does not compile for `map_reg` is refused.
    pub fn add(&mut self, key: &str, value: &str) -> Result<(), String> {
        let regex = match self.kinds.contains(&MapKind::Reg) {
            true => Some(compile(key)?),
            false => None,
        };
        let slot = self.slots.len();
        self.by_key
            .entry(key.as_bytes().into())
            .or_default()
            .push(slot);
        *self.key_lengths.entry(key.len()).or_default() += 1;
        if let Some(domains) = &mut self.by_domain {
            domains
                .entry(trim_delimiters(key.as_bytes(), DOMAIN_DELIMITERS).into())
                .or_default()
                .push(slot);
        }
        self.slots.push(Some(Entry {
            key: key.to_string(),
            value: value.to_string(),
            regex,
        }));
        self.entry_count += self.kinds.len().max(1);
        Ok(())
    }

    /// Whether `key` could be added (`map_reg` must compile it).
    pub fn check_key(&self, key: &str) -> Result<(), String> {
        match self.kinds.contains(&MapKind::Reg) {
            true => compile(key).map(|_| ()),
            false => Ok(()),
        }
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.by_key.contains_key(key.as_bytes())
    }

    pub fn has_slot(&self, slot: usize) -> bool {
        matches!(self.slots.get(slot), Some(Some(_)))
    }

    /// Sets the value of every entry with `key`; whether there was one.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let Some(slots) = self.by_key.get(key.as_bytes()) else {
            return false;
        };
        for &slot in slots {
            if let Some(entry) = &mut self.slots[slot] {
                entry.value = value.to_string();
            }
        }
        true
    }

    /// Sets the value of the entry in `slot`; whether there was one.
    pub fn set_slot(&mut self, slot: usize, value: &str) -> bool {
        match self.slots.get_mut(slot) {
            Some(Some(entry)) => {
                entry.value = value.to_string();
                true
            }
            _ => false,
        }
    }

    /// Deletes every entry with `key`; whether there was one.
    pub fn delete(&mut self, key: &str) -> bool {
        let Some(slots) = self.by_key.get(key.as_bytes()).cloned() else {
            return false;
        };
        for slot in slots {
            self.delete_slot(slot);
        }
        true
    }

    /// Deletes the entry in `slot`; whether there was one.
    pub fn delete_slot(&mut self, slot: usize) -> bool {
        let Some(entry) = self.slots.get_mut(slot).and_then(Option::take) else {
            return false;
        };
        let key = entry.key.as_bytes();
        remove_slot(&mut self.by_key, key, slot);
        if let Some(domains) = &mut self.by_domain {
            remove_slot(domains, trim_delimiters(key, DOMAIN_DELIMITERS), slot);
        }
        if let Some(count) = self.key_lengths.get_mut(&key.len()) {
            *count -= 1;
            if *count == 0 {
                self.key_lengths.remove(&key.len());
            }
        }
        self.entry_count = self.entry_count.saturating_sub(1);
        true
    }

    /// Removes every entry (`clear map`).
    pub fn clear(&mut self) {
        let removed = self.slots.iter().flatten().count();
        self.slots.clear();
        self.by_key.clear();
        self.key_lengths.clear();
        if let Some(domains) = &mut self.by_domain {
            domains.clear();
        }
        self.entry_count = self.entry_count.saturating_sub(removed);
    }

    /// The entries in order.
    pub fn entries(&self) -> impl Iterator<Item = EntryView<'_>> {
        self.slots.iter().enumerate().filter_map(|(slot, e)| {
            e.as_ref().map(|e| EntryView {
                slot,
                key: &e.key,
                value: &e.value,
            })
        })
    }

    pub fn entry_count(&self) -> usize {
        self.entry_count
    }

    /// The entry `kind` finds for `sample`, as HAProxy 2.6 matches.
    pub fn lookup(&self, kind: MapKind, sample: &[u8]) -> Option<EntryView<'_>> {
        let slot = match kind {
            MapKind::Str => self.by_key.get(sample).and_then(|s| s.first().copied()),
            MapKind::Beg => self.longest_prefix(sample),
            MapKind::Dom => self.first_domain(sample),
            MapKind::End => self.first(|key| sample.ends_with(key)),
            MapKind::Sub => self.first(|key| find(sample, key)),
            MapKind::Dir => self.first(|key| match_word(sample, key, false, b"/?")),
            MapKind::Reg => self
                .slots
                .iter()
                .position(|e| e.as_ref().is_some_and(|e| regex_matches(e, sample))),
        }?;
        self.view(slot)
    }

    fn view(&self, slot: usize) -> Option<EntryView<'_>> {
        let e = self.slots.get(slot)?.as_ref()?;
        Some(EntryView {
            slot,
            key: &e.key,
            value: &e.value,
        })
    }

    fn first(&self, test: impl Fn(&[u8]) -> bool) -> Option<usize> {
        self.slots
            .iter()
            .position(|e| e.as_ref().is_some_and(|e| test(e.key.as_bytes())))
    }

    /// The longest key that begins `sample` (its first entry): one hash lookup per distinct
    /// key length, longest first.
    fn longest_prefix(&self, sample: &[u8]) -> Option<usize> {
        self.key_lengths
            .keys()
            .rev()
            .filter_map(|&len| sample.get(..len))
            .find_map(|prefix| self.by_key.get(prefix).and_then(|s| s.first().copied()))
    }

    /// The first entry (in order) whose trimmed key stands between delimiters in `sample`:
    /// every run of `sample` that starts after a delimiter and ends before one is looked up.
    fn first_domain(&self, sample: &[u8]) -> Option<usize> {
        let domains = self.by_domain.as_ref()?;
        let is_delimiter = |b: u8| DOMAIN_DELIMITERS.contains(&b);
        let starts = (0..sample.len())
            .filter(|&i| !is_delimiter(sample[i]) && (i == 0 || is_delimiter(sample[i - 1])));
        let mut best: Option<usize> = None;
        for start in starts {
            for end in start + 1..=sample.len() {
                let closes = end == sample.len() || is_delimiter(sample[end]);
                if !closes || is_delimiter(sample[end - 1]) {
                    continue;
                }
                if let Some(&slot) = domains.get(&sample[start..end]).and_then(|s| s.first()) {
                    best = Some(best.map_or(slot, |b| b.min(slot)));
                }
            }
        }
        best
    }
}

fn regex_matches(entry: &Entry, sample: &[u8]) -> bool {
    entry.regex.as_ref().is_some_and(|r| r.is_match(sample))
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn remove_slot(index: &mut HashMap<Box<[u8]>, Vec<usize>>, key: &[u8], slot: usize) {
    if let Some(slots) = index.get_mut(key) {
        slots.retain(|&s| s != slot);
        if slots.is_empty() {
            index.remove(key);
        }
    }
}

fn trim_delimiters<'a>(key: &'a [u8], delimiters: &[u8]) -> &'a [u8] {
    let start = key
        .iter()
        .position(|b| !delimiters.contains(b))
        .unwrap_or(key.len());
    let end = key
        .iter()
        .rposition(|b| !delimiters.contains(b))
        .map_or(start, |e| e + 1);
    &key[start..end]
}

/// Every map and every ACL pattern list of the running config, as the state replica holds
/// them (HAProxy's pattern references, both kinds).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Maps {
    maps: Vec<Map>,
    acls: Vec<PatternList>,
}

impl Maps {
    /// No map: what a request sees when its evaluator holds none.
    pub const EMPTY: Maps = Maps {
        maps: Vec::new(),
        acls: Vec::new(),
    };

    pub fn push_acl_list(&mut self, list: PatternList) -> usize {
        self.acls.push(list);
        self.acls.len() - 1
    }

    pub fn acl_list(&self, index: usize) -> Option<&PatternList> {
        self.acls.get(index)
    }

    pub fn acl_list_mut(&mut self, index: usize) -> Option<&mut PatternList> {
        self.acls.get_mut(index)
    }

    /// The ACL lists in `#ID` order.
    pub fn acl_lists(&self) -> impl Iterator<Item = &PatternList> {
        self.acls.iter()
    }

    /// The list (and its view) an expression's pattern source reads.
    pub fn acl_list_of(&self, key: &ListKey, view: PatternView) -> Option<(usize, usize)> {
        let at = self.acls.iter().position(|l| l.key == *key)?;
        Some((at, self.acls[at].view_position(view)?))
    }

    /// The ACL list a command names: `#ID` or its file path.
    pub fn find_acl(&self, name: &str) -> Option<usize> {
        match name.strip_prefix('#') {
            Some(id) => {
                let id: u32 = id.parse().ok()?;
                self.acls.iter().position(|l| l.id == id)
            }
            None => self.acls.iter().position(|l| l.path() == Some(name)),
        }
    }

    pub fn push(&mut self, map: Map) -> usize {
        self.maps.push(map);
        self.maps.len() - 1
    }

    pub fn get(&self, index: usize) -> Option<&Map> {
        self.maps.get(index)
    }

    /// Orders the maps by `#ID`, as `show map` lists them.
    pub fn sort_by_id(&mut self) {
        self.maps.sort_by_key(|m| m.id);
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut Map> {
        self.maps.get_mut(index)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Map> {
        self.maps.iter()
    }

    /// The map a command names: `#ID` or its file path.
    pub fn find(&self, name: &str) -> Option<usize> {
        match name.strip_prefix('#') {
            Some(id) => {
                let id: u32 = id.parse().ok()?;
                self.maps.iter().position(|m| m.id == id)
            }
            None => self.maps.iter().position(|m| m.path == name),
        }
    }

    /// The index of the map loaded from `path`.
    pub fn by_path(&self, path: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.path == path)
    }
}

/// One map a converter reads: the file (shared by every use), and once the runtime built its
/// maps, the map's index in [`Maps`].
#[derive(Debug, Clone)]
pub struct MapUse {
    pub file: Arc<MapFile>,
    pub kind: MapKind,
    /// Where the converter is (`file 'F' line N`), for `show map`.
    pub user: String,
    /// Index into [`Maps`]; `usize::MAX` until [`super::Switching::bind_maps`] sets it.
    pub index: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str, kinds: &[MapKind]) -> Map {
        Map::new(
            &MapFile::parse("m.map", text),
            0,
            kinds.to_vec(),
            Vec::new(),
        )
    }

    fn value<'a>(m: &'a Map, kind: MapKind, s: &str) -> Option<&'a str> {
        m.lookup(kind, s.as_bytes()).map(|e| e.value)
    }

    /// The answers the real haproxy 2.6 gave for the same file (see tests/maps.rs).
    #[test]
    fn lookups_answer_as_haproxy() {
        let text = "# hosts\napp.example.com bk_a\n  api.example.com   bk_b  \nexample.org bk_c\n/api bk_a\n/api/v2 bk_b\n";
        let m = map(text, &[MapKind::Str, MapKind::Beg, MapKind::Dom]);
        assert_eq!(value(&m, MapKind::Str, "api.example.com"), Some("bk_b"));
        assert_eq!(value(&m, MapKind::Str, "API.example.com"), None);
        assert_eq!(value(&m, MapKind::Beg, "/api/v2/z"), Some("bk_b"));
        assert_eq!(value(&m, MapKind::Beg, "/apix"), Some("bk_a"));
        assert_eq!(value(&m, MapKind::Dom, "www.example.org:80"), Some("bk_c"));
        assert_eq!(value(&m, MapKind::Dom, "APP.example.com"), None);
        assert_eq!(value(&m, MapKind::Dom, "api.example.com"), Some("bk_b"));
    }

    /// The `dom` index finds what HAProxy's list scan (`match_word`) finds, first in order.
    #[test]
    fn the_domain_index_agrees_with_a_scan() {
        let keys = ["example.com", ".org", "a", "b.c", "x:80", "/p/", "c"];
        let text: String = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} v{i}\n"))
            .collect();
        let m = map(&text, &[MapKind::Dom]);
        let samples = [
            "www.example.com",
            "example.community",
            "a.example.org",
            "b.c:80",
            "xb.c",
            "host.x:80/p",
            "..a..",
            "",
            "c",
            "/p/q",
        ];
        for s in samples {
            let scan = keys
                .iter()
                .position(|k| match_word(s.as_bytes(), k.as_bytes(), false, b"/?.:"));
            let found = m.lookup(MapKind::Dom, s.as_bytes()).map(|e| e.slot);
            assert_eq!(found, scan, "{s}");
        }
    }

    #[test]
    fn entries_change_and_indexes_follow() {
        let mut m = map("a.com x\nb.com y\n", &[MapKind::Str, MapKind::Dom]);
        m.add("a.com", "dup").unwrap();
        assert_eq!(value(&m, MapKind::Str, "a.com"), Some("x"));
        assert!(m.set("a.com", "z"));
        let all: Vec<_> = m.entries().map(|e| (e.key, e.value)).collect();
        assert_eq!(all, [("a.com", "z"), ("b.com", "y"), ("a.com", "z")]);
        assert!(m.delete("a.com") && !m.delete("a.com"));
        assert_eq!(value(&m, MapKind::Dom, "www.a.com"), None);
        assert_eq!(value(&m, MapKind::Dom, "www.b.com"), Some("y"));
        m.clear();
        assert_eq!(m.entries().count(), 0);
        assert_eq!(value(&m, MapKind::Str, "b.com"), None);
    }

    #[test]
    fn regex_keys_compile_or_name_their_line() {
        let text = "^/a bk\n\n(x bk\n";
        let file = MapFile::parse("r.map", text);
        assert!(file
            .check(text, MapKind::Reg)
            .unwrap_err()
            .starts_with("r.map:3: regex '(x' is invalid"));
        assert!(file.check(text, MapKind::Str).is_ok());
    }
}
