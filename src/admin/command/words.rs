//! The words of a command line: split as HAProxy splits them, and the `backend/server` word.

/// HAProxy splits a line into at most this many words; the rest is ignored.
pub(super) const MAX_ARGS: usize = 64;

/// Splits a command line into words as `cli_parse_request`: spaces and tabs separate words,
/// a backslash escapes the next character (`\;` ─▶ `;`, `\\` ─▶ `\`), at most 64 words.
pub fn split_args(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    while args.len() < MAX_ARGS {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
            if c == '\\' {
                if let Some(escaped) = chars.next() {
                    word.push(escaped);
                }
            } else {
                word.push(c);
            }
        }
        args.push(word);
    }
    args
}

/// The word, or `None` for a missing (empty) one.
pub(super) fn non_empty(word: &str) -> Option<String> {
    (!word.is_empty()).then(|| word.to_string())
}

/// `backend/server` as typed by the operator (`#id` forms allowed for either part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName {
    pub backend: String,
    pub server: String,
}

impl ServerName {
    /// Splits `backend/server` at the first `/`; `None` when either part is empty.
    pub(super) fn parse(word: &str) -> Option<ServerName> {
        let (backend, server) = word.split_once('/')?;
        if backend.is_empty() || server.is_empty() {
            return None;
        }
        Some(ServerName {
            backend: backend.to_string(),
            server: server.to_string(),
        })
    }
}
