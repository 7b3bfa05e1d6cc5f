//! `show map [MAP]`, `get map MAP KEY`, `add map MAP KEY VALUE`, `set map MAP KEY|#REF VALUE`,
//! `del map MAP KEY|#REF`, `clear map MAP`: the runtime maps, read from the state replica and
//! changed through Mutations (every shard applies the change before the reply). A map is named
//! by its file path or `#ID`; replies are HAProxy 2.6's texts.
//!
//! An entry's `#<ref>` is the address HAProxy prints for it; pointsman prints a stable number
//! of the same shape, derived from the entry's slot, and reads it back.

use super::{done, reply, Action};
use crate::rules::{Map, Maps};
use crate::state::{MapEntryRef, Mutation, State};
use std::fmt::Write;

const UNKNOWN_MAP: &str = "Unknown map identifier. Please use #<id> or <file>.\n";
const ADD_USAGE: &str = "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n";
const SET_USAGE: &str = "'set map' expects three parameters: map identifier, key and value.\n";
const DEL_USAGE: &str = "This command expects two parameters: map identifier and key.\n";
const GET_USAGE: &str = "Missing map identifier and/or key.\n";
const CLEAR_USAGE: &str = "Missing map identifier.\n";

/// The first entry's printed address, and the distance between two entries'.
const ENTRY_BASE: u64 = 0x55d0_0000_0000;
const ENTRY_STEP: u64 = 0x90;

/// One map command, its words checked in HAProxy's order (argument count first, then the map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapCommand {
    List,
    Show(String),
    Get {
        map: String,
        key: String,
    },
    Add {
        map: String,
        key: String,
        value: String,
    },
    Set {
        map: String,
        entry: String,
        value: String,
    },
    Del {
        map: String,
        entry: String,
    },
    Clear(String),
    /// `add map MAP <<` and its payload of `KEY VALUE` lines.
    AddPayload {
        map: String,
        payload: String,
    },
    /// Wrong arguments: HAProxy's usage text.
    Usage(&'static str),
}

/// Parses the words after `VERB map`.
pub fn parse_map_command(verb: &str, rest: &[String]) -> MapCommand {
    let word = |i: usize| rest.get(i).cloned().unwrap_or_default();
    let has = |n: usize| rest.len() >= n && rest[..n].iter().all(|w| !w.is_empty());
    match verb {
        "show" if rest.first().is_none_or(String::is_empty) => MapCommand::List,
        "show" => MapCommand::Show(word(0)),
        "get" if has(2) => MapCommand::Get {
            map: word(0),
            key: word(1),
        },
        "get" => MapCommand::Usage(GET_USAGE),
        "add" if has(3) => MapCommand::Add {
            map: word(0),
            key: word(1),
            value: word(2),
        },
        "add" => MapCommand::Usage(ADD_USAGE),
        "set" if has(3) => MapCommand::Set {
            map: word(0),
            entry: word(1),
            value: word(2),
        },
        "set" => MapCommand::Usage(SET_USAGE),
        "del" if has(2) => MapCommand::Del {
            map: word(0),
            entry: word(1),
        },
        "del" => MapCommand::Usage(DEL_USAGE),
        _ if has(1) => MapCommand::Clear(word(0)),
        _ => MapCommand::Usage(CLEAR_USAGE),
    }
}

impl MapCommand {
    /// Whether the command changes a map.
    pub fn changes(&self) -> bool {
        matches!(
            self,
            MapCommand::Add { .. }
                | MapCommand::AddPayload { .. }
                | MapCommand::Set { .. }
                | MapCommand::Del { .. }
                | MapCommand::Clear(_)
        )
    }
}

/// Answers or plans a map command against the replica.
pub fn resolve_map(command: MapCommand, state: &State) -> Action {
    let maps = &state.maps;
    let find = |name: &str| maps.find(name).ok_or(UNKNOWN_MAP);
    let planned = match command {
        MapCommand::List => Ok(Action::Reply(list(maps))),
        MapCommand::Usage(text) => Ok(reply(text)),
        MapCommand::Show(name) => find(&name).map(|m| Action::Reply(dump(maps_at(maps, m)))),
        MapCommand::Get { map, key } => {
            find(&map).map(|m| Action::Reply(get(maps_at(maps, m), &key)))
        }
        MapCommand::Add { map, key, value } => {
            find(&map).map(|m| add(maps_at(maps, m), m, key, value))
        }
        MapCommand::Set { map, entry, value } => {
            find(&map).map(|m| set(maps_at(maps, m), m, &entry, value))
        }
        MapCommand::Del { map, entry } => find(&map).map(|m| del(maps_at(maps, m), m, &entry)),
        MapCommand::Clear(map) => find(&map).map(|m| done(vec![Mutation::ClearMap { map: m }])),
        MapCommand::AddPayload { map, payload } => {
            find(&map).map(|m| add_payload(maps_at(maps, m), m, &payload))
        }
    };
    planned.unwrap_or_else(reply)
}

fn maps_at(maps: &Maps, index: usize) -> &Map {
    maps.get(index)
        .expect("Maps::find returns an index it holds")
}

/// `show map`: one line per map.
fn list(maps: &Maps) -> String {
    let mut out = String::from("# id (file) description\n");
    for map in maps.iter() {
        let users: Vec<String> = map.users.iter().map(|u| format!("map at {u}")).collect();
        let _ = writeln!(
            out,
            "{} ({}) pattern loaded from file '{}' used by {}. curr_ver=0 next_ver=0 entry_cnt={}",
            map.id,
            map.path,
            map.path,
            users.join(", by "),
            map.entry_count()
        );
    }
    out
}

/// `show map MAP`: its entries in order, each with its `#<ref>`.
fn dump(map: &Map) -> String {
    let mut out = String::new();
    for entry in map.entries() {
        let _ = writeln!(
            out,
            "{:#x} {} {}",
            address(entry.slot),
            entry.key,
            entry.value
        );
    }
    out
}

/// `get map MAP KEY`: what each match kind of the map finds for KEY.
fn get(map: &Map, key: &str) -> String {
    let mut out = String::new();
    for &kind in &map.kinds {
        let _ = write!(out, "type={}, case=sensitive, found=", kind.name());
        match map.lookup(kind, key.as_bytes()) {
            Some(entry) => {
                let _ = writeln!(
                    out,
                    "yes, idx={}, key=\"{}\", value=\"{}\", type=\"str\"",
                    kind.index_name(),
                    entry.key,
                    entry.value
                );
            }
            None => out.push_str("no\n"),
        }
    }
    out
}

fn add(map: &Map, index: usize, key: String, value: String) -> Action {
    if let Err(e) = map.check_key(&key) {
        return Action::Reply(format!("{e}\n"));
    }
    done(vec![Mutation::AddMapEntry {
        map: index,
        key,
        value,
    }])
}

/// `add map MAP <<`: each entry of the payload, read as HAProxy 2.6 reads it. The entries
/// before a malformed one are added, and the reply is the error, as in HAProxy.
fn add_payload(map: &Map, index: usize, payload: &str) -> Action {
    let (entries, error) = payload_entries(payload);
    let mut mutations = Vec::new();
    let mut reply = error.unwrap_or_default();
    for (key, value) in entries {
        if let Err(e) = map.check_key(key) {
            reply = format!("{e}\n");
            break;
        }
        mutations.push(Mutation::AddMapEntry {
            map: index,
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    match mutations.is_empty() {
        true => Action::Reply(reply),
        false => Action::Mutate { mutations, reply },
    }
}

/// The `(key, value)` entries of a payload, and the error that stopped the reading if one
/// did. HAProxy 2.6's reading: the key runs to the first space or tab (a newline is part of
/// it), one separator is skipped and then every space and tab, the value runs to the end of
/// the line. A key with nothing after it is "Missing value for key"; so is an empty payload,
/// which 2.6 reports as the key `\n`.
fn payload_entries(payload: &str) -> (Vec<(&str, &str)>, Option<String>) {
    let missing = |key: &str| Some(format!("Missing value for key '{key}'.\n"));
    if payload.is_empty() {
        return (Vec::new(), missing("\n"));
    }
    let mut entries = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let key_end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let key = &rest[..key_end];
        if key_end == rest.len() {
            return (entries, missing(key));
        }
        let after = rest[key_end + 1..].trim_start_matches([' ', '\t']);
        let value_end = after.find('\n').unwrap_or(after.len());
        entries.push((key, &after[..value_end]));
        rest = after.get(value_end + 1..).unwrap_or("");
    }
    (entries, None)
}

fn set(map: &Map, index: usize, entry: &str, value: String) -> Action {
    let Some(entry) = entry_of(map, entry) else {
        return reply(match entry.starts_with('#') {
            true => "key or pattern not found.\n",
            false => "entry not found.\n",
        });
    };
    done(vec![Mutation::SetMapEntry {
        map: index,
        entry,
        value,
    }])
}

fn del(map: &Map, index: usize, entry: &str) -> Action {
    let Some(entry) = entry_of(map, entry) else {
        return reply("Key not found.\n");
    };
    done(vec![Mutation::DelMapEntry { map: index, entry }])
}

/// The entries a word names, if there are any: `#<ref>` one entry, any other word a key.
fn entry_of(map: &Map, word: &str) -> Option<MapEntryRef> {
    if word.starts_with('#') {
        slot_of(word)
            .filter(|&slot| map.has_slot(slot))
            .map(MapEntryRef::Slot)
    } else {
        map.has_key(word)
            .then(|| MapEntryRef::Key(word.to_string()))
    }
}

/// The printed address of the entry in `slot`.
pub(super) fn address(slot: usize) -> u64 {
    ENTRY_BASE + slot as u64 * ENTRY_STEP
}

/// The slot a `#0x…` reference names (a word that is not one is a key).
pub(super) fn slot_of(word: &str) -> Option<usize> {
    let hex = word.strip_prefix("#0x")?;
    let address = u64::from_str_radix(hex, 16).ok()?;
    let offset = address.checked_sub(ENTRY_BASE)?;
    (offset % ENTRY_STEP == 0).then(|| usize::try_from(offset / ENTRY_STEP).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn arguments_are_checked_before_the_map() {
        assert_eq!(
            parse_map_command("add", &words("#3 onlykey")),
            MapCommand::Usage(ADD_USAGE)
        );
        assert_eq!(
            parse_map_command("get", &words("#3")),
            MapCommand::Usage(GET_USAGE)
        );
        assert_eq!(
            parse_map_command("clear", &[]),
            MapCommand::Usage(CLEAR_USAGE)
        );
        assert_eq!(parse_map_command("show", &[]), MapCommand::List);
        assert_eq!(
            parse_map_command("set", &words("#3 k v extra")),
            MapCommand::Set {
                map: "#3".into(),
                entry: "k".into(),
                value: "v".into()
            }
        );
    }

    /// The entries the real haproxy 2.6 added for the same payloads.
    #[test]
    fn payloads_read_as_haproxy_reads_them() {
        assert_eq!(
            payload_entries("k1 v1\nk2   v2 with spaces"),
            (vec![("k1", "v1"), ("k2", "v2 with spaces")], None)
        );
        assert_eq!(
            payload_entries("k3 v3\nonlykey\nk4 v4"),
            (vec![("k3", "v3"), ("onlykey\nk4", "v4")], None)
        );
        assert_eq!(
            payload_entries("   k7 v7\n\tk8\tv8"),
            (vec![("", "k7 v7"), ("", "k8\tv8")], None)
        );
        assert_eq!(
            payload_entries("k10 v10\nk9"),
            (
                vec![("k10", "v10")],
                Some("Missing value for key 'k9'.\n".into())
            )
        );
        assert_eq!(
            payload_entries(""),
            (Vec::new(), Some("Missing value for key '\n'.\n".into()))
        );
    }

    #[test]
    fn entry_references_read_back_their_slot() {
        for slot in [0, 1, 7, 100_000] {
            assert_eq!(slot_of(&format!("#{:#x}", address(slot))), Some(slot));
        }
        assert_eq!(slot_of("#0xdeadbeef"), None);
        assert_eq!(slot_of("app.example.com"), None);
    }
}
