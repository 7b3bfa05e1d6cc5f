//! Which server answered: a response header's value (`--server-header X-Server`) or, by
//! default, the body text (trimmed, whitespace collapsed, at most 40 characters), as in the
//! guide's demo where each nginx answers its version string. Names are interned to small ids
//! so a sample stays a few machine words.

use std::collections::HashMap;
use std::sync::Mutex;

/// Longest server name kept, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// Turns identity bytes into a display name: lossy UTF-8, control characters and runs of
/// whitespace become one space, trimmed, cut at 40 characters. Empty stays empty.
pub fn server_name(identity: &[u8]) -> String {
    let text = String::from_utf8_lossy(identity);
    let mut name = String::new();
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((cut, _)) => name[..cut].to_string(),
        None => name,
    }
}

/// Server names seen during a run, shared by all sender threads.
#[derive(Default)]
pub struct ServerNames {
    inner: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    ids: HashMap<String, u16>,
    names: Vec<String>,
}

impl ServerNames {
    /// The id of `identity`'s server, or `None` when the response did not say.
    pub fn intern(&self, identity: &[u8]) -> Option<u16> {
        let name = server_name(identity);
        if name.is_empty() {
            return None;
        }
        let mut names = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = names.ids.get(&name) {
            return Some(id);
        }
        // 65535 distinct servers is far beyond any sane run; lump the rest into "unknown".
        let id = u16::try_from(names.names.len()).ok()?;
        names.names.push(name.clone());
        names.ids.insert(name, id);
        Some(id)
    }

    /// All names, indexed by id.
    pub fn snapshot(&self) -> Vec<String> {
        let names = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        names.names.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_text_is_trimmed_collapsed_and_cut() {
        assert_eq!(server_name(b"  nginx 1.19.8\n"), "nginx 1.19.8");
        assert_eq!(server_name(b"a\r\n\tb"), "a b");
        let long = "x".repeat(100);
        assert_eq!(server_name(long.as_bytes()).len(), MAX_NAME_CHARS);
        assert_eq!(server_name("é".repeat(50).as_bytes()).chars().count(), 40);
    }

    #[test]
    fn same_name_same_id() {
        let names = ServerNames::default();
        let a = names.intern(b"nginx1");
        assert_eq!(names.intern(b" nginx1 "), a);
        assert_ne!(names.intern(b"nginx2"), a);
        assert_eq!(names.intern(b"   "), None);
        assert_eq!(names.snapshot(), vec!["nginx1", "nginx2"]);
    }
}
