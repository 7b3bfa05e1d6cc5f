//! `show acl [ACL]`, `get acl ACL VALUE`, `add acl ACL PATTERN`, `del acl ACL PATTERN|#REF`,
//! `clear acl ACL`: the runtime ACL pattern lists, read from the state replica and changed
//! through Mutations (every shard applies the change before the reply). An ACL list is named
//! by its `-f` file path or `#ID`; replies are HAProxy 2.6's texts, its quirks included
//! (`del acl` on an unknown list speaks of a map, as 2.6 does).
//!
//! An entry's `#<ref>` is printed and read back as for maps (see `map`).

use super::map::{address, slot_of};
use super::{done, reply, Action};
use crate::rules::{ListKey, Maps, PatternList};
use crate::state::{MapEntryRef, Mutation, State};
use std::fmt::Write;

const UNKNOWN_ACL: &str = "Unknown ACL identifier. Please use #<id> or <file>.\n";
/// HAProxy 2.6's `del acl` shares its code, and its text, with `del map`.
const UNKNOWN_MAP: &str = "Unknown map identifier. Please use #<id> or <file>.\n";
const SHARED_WITH_MAP: &str = "This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n";
const ADD_USAGE: &str = "'add acl' expects two parameters: ACL identifier and pattern.\n";
const DEL_USAGE: &str = "This command expects two parameters: ACL identifier and key.\n";
const GET_USAGE: &str = "Missing ACL identifier and/or key.\n";
const CLEAR_USAGE: &str = "Missing ACL identifier.\n";

/// One ACL command, its words checked in HAProxy's order (argument count first, then the
/// list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclCommand {
    List,
    Show(String),
    Get {
        acl: String,
        value: String,
    },
    Add {
        acl: String,
        pattern: String,
    },
    Del {
        acl: String,
        entry: String,
    },
    Clear(String),
    /// Wrong arguments: HAProxy's usage text.
    Usage(&'static str),
}

/// Parses the words after `VERB acl`.
pub fn parse_acl_command(verb: &str, rest: &[String]) -> AclCommand {
    let word = |i: usize| rest.get(i).cloned().unwrap_or_default();
    let has = |n: usize| rest.len() >= n && rest[..n].iter().all(|w| !w.is_empty());
    match verb {
        "show" if rest.first().is_none_or(String::is_empty) => AclCommand::List,
        "show" => AclCommand::Show(word(0)),
        "get" if has(2) => AclCommand::Get {
            acl: word(0),
            value: word(1),
        },
        "get" => AclCommand::Usage(GET_USAGE),
        "add" if has(2) => AclCommand::Add {
            acl: word(0),
            pattern: word(1),
        },
        "add" => AclCommand::Usage(ADD_USAGE),
        "del" if has(2) => AclCommand::Del {
            acl: word(0),
            entry: word(1),
        },
        "del" => AclCommand::Usage(DEL_USAGE),
        _ if has(1) => AclCommand::Clear(word(0)),
        _ => AclCommand::Usage(CLEAR_USAGE),
    }
}

impl AclCommand {
    /// Whether the command changes a list.
    pub fn changes(&self) -> bool {
        matches!(
            self,
            AclCommand::Add { .. } | AclCommand::Del { .. } | AclCommand::Clear(_)
        )
    }
}

/// Answers or plans an ACL command against the replica.
pub fn resolve_acl(command: AclCommand, state: &State) -> Action {
    let maps = &state.maps;
    let find = |name: &str, unknown: &'static str| {
        maps.find_acl(name)
            .map(|i| (i, list_at(maps, i)))
            .ok_or(unknown)
    };
    let planned = match command {
        AclCommand::List => Ok(Action::Reply(list(maps))),
        AclCommand::Usage(text) => Ok(reply(text)),
        AclCommand::Show(name) => find(&name, UNKNOWN_ACL).map(|(_, l)| Action::Reply(dump(l))),
        AclCommand::Get { acl, value } => {
            find(&acl, UNKNOWN_ACL).map(|(_, l)| Action::Reply(get(l, &value)))
        }
        AclCommand::Add { acl, pattern } => match find(&acl, UNKNOWN_ACL) {
            Ok((i, l)) => Ok(add(l, i, pattern)),
            Err(_) if maps.find(&acl).is_some() => Err(SHARED_WITH_MAP),
            Err(text) => Err(text),
        },
        AclCommand::Del { acl, entry } => find(&acl, UNKNOWN_MAP).map(|(i, l)| del(l, i, &entry)),
        AclCommand::Clear(acl) => {
            find(&acl, UNKNOWN_ACL).map(|(i, _)| done(vec![Mutation::ClearAcl { list: i }]))
        }
    };
    planned.unwrap_or_else(reply)
}

fn list_at(maps: &Maps, index: usize) -> &PatternList {
    maps.acl_list(index)
        .expect("Maps::find_acl returns an index it holds")
}

/// `show acl`: one line per list.
fn list(maps: &Maps) -> String {
    let mut out = String::from("# id (file) description\n");
    for list in maps.acl_lists() {
        let description = match &list.key {
            ListKey::File(path) => {
                let users: Vec<String> = list.users.iter().map(|u| format!("acl at {u}")).collect();
                format!(
                    "pattern loaded from file '{path}' used by {}",
                    users.join(", by ")
                )
            }
            ListKey::Own { location, .. } => {
                let keyword = list.users.first().map_or("", String::as_str);
                format!("acl '{keyword}' {location}")
            }
        };
        let _ = writeln!(
            out,
            "{} ({}) {description}. curr_ver=0 next_ver=0 entry_cnt={}",
            list.id,
            list.path().unwrap_or(""),
            list.entry_count()
        );
    }
    out
}

/// `show acl ACL`: its patterns in order, each with its `#<ref>`.
fn dump(list: &PatternList) -> String {
    let mut out = String::new();
    for entry in list.entries() {
        let _ = writeln!(out, "{:#x} {}", address(entry.slot), entry.pattern);
    }
    out
}

/// `get acl ACL VALUE`: what each way the list is matched finds for VALUE.
fn get(list: &PatternList, value: &str) -> String {
    let mut out = String::new();
    for view in list.views() {
        let case = if view.ignore_case {
            "insensitive"
        } else {
            "sensitive"
        };
        let _ = write!(out, "type={}, case={case}, match=", view.kind_name());
        match list.find(view, value) {
            Some(pattern) => {
                let _ = writeln!(out, "yes, idx={}, pattern=\"{pattern}\"", view.index_name());
            }
            None => out.push_str("no\n"),
        }
    }
    out
}

fn add(list: &PatternList, index: usize, pattern: String) -> Action {
    if let Err(e) = list.check(&pattern) {
        return Action::Reply(format!("{e}.\n"));
    }
    done(vec![Mutation::AddAclEntry {
        list: index,
        pattern,
    }])
}

fn del(list: &PatternList, index: usize, entry: &str) -> Action {
    let entry = if entry.starts_with('#') {
        slot_of(entry)
            .filter(|&slot| list.has_slot(slot))
            .map(MapEntryRef::Slot)
    } else {
        list.has_pattern(entry)
            .then(|| MapEntryRef::Key(entry.to_string()))
    };
    match entry {
        Some(entry) => done(vec![Mutation::DelAclEntry { list: index, entry }]),
        None => reply("Key not found.\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn arguments_are_checked_before_the_list() {
        assert_eq!(
            parse_acl_command("add", &words("#3")),
            AclCommand::Usage(ADD_USAGE)
        );
        assert_eq!(
            parse_acl_command("del", &words("#3")),
            AclCommand::Usage(DEL_USAGE)
        );
        assert_eq!(
            parse_acl_command("get", &words("#3")),
            AclCommand::Usage(GET_USAGE)
        );
        assert_eq!(
            parse_acl_command("clear", &[]),
            AclCommand::Usage(CLEAR_USAGE)
        );
        assert_eq!(parse_acl_command("show", &[]), AclCommand::List);
        assert_eq!(
            parse_acl_command("add", &words("#3 a b")),
            AclCommand::Add {
                acl: "#3".into(),
                pattern: "a".into()
            }
        );
    }
}
