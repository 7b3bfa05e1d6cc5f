//! The TLS runtime commands: `show tls-keys [ID|FILE|*]` and `set ssl tls-key ID|FILE KEY`,
//! with HAProxy 2.6's replies. A new key is one [`Mutation::SetTicketKeys`] carrying the whole
//! ring, applied by every shard before the reply.
//!
//! Privileges differ from HAProxy's on purpose: HAProxy 2.6 dumps and sets ticket keys at any
//! level; pointsman lists the files at `user` level and asks `admin` for the keys themselves
//! (they decrypt every recorded session).

use super::{reply, Command};
use crate::admin::Action;
use crate::state::{Mutation, State};
use crate::tls::tickets;
use std::fmt::Write as _;

const SHOW_UNKNOWN: &str = "'show tls-keys' unable to locate referenced filename\n";
const SET_UNKNOWN: &str = "'set ssl tls-key' unable to locate referenced filename\n";
const SET_USAGE: &str =
    "'set ssl tls-key' expects a filename and the new TLS key in base64 encoding.\n";
const SET_NOT_BASE64: &str = "'set ssl tls-key' received invalid base64 encoded TLS key.\n";
const SET_WRONG_SIZE: &str = "'set ssl tls-key' received a key of wrong size.\n";
const SET_DONE: &str = "TLS ticket key updated!\n";

/// A TLS runtime command, its arguments as typed.
#[derive(Debug, Clone, PartialEq)]
pub enum SslCommand {
    /// `show tls-keys`: the files; `show tls-keys *|#ID|FILE`: their keys.
    ShowTlsKeys(Option<String>),
    /// `set ssl tls-key ID|FILE KEY`.
    SetTlsKey { reference: String, key: String },
}

impl SslCommand {
    /// Whether the command reads or writes key material (an `admin` matter here).
    pub fn touches_secrets(&self) -> bool {
        !matches!(self, SslCommand::ShowTlsKeys(None))
    }
}

/// `show tls-keys [ARG]`.
pub(super) fn parse_show_tls_keys(rest: &[String]) -> Command {
    let target = rest.first().filter(|a| !a.is_empty()).cloned();
    Command::Ssl(SslCommand::ShowTlsKeys(target))
}

/// `set ssl tls-key ARG KEY`.
pub(super) fn parse_set_tls_key(rest: &[String]) -> Command {
    let arg = |i: usize| rest.get(i).cloned().unwrap_or_default();
    Command::Ssl(SslCommand::SetTlsKey {
        reference: arg(0),
        key: arg(1),
    })
}

pub(super) fn resolve_ssl(command: SslCommand, state: &State) -> Action {
    match command {
        SslCommand::ShowTlsKeys(None) => Action::Reply(list_files(state)),
        SslCommand::ShowTlsKeys(Some(target)) => show_keys(state, &target),
        SslCommand::SetTlsKey { reference, key } => set_tls_key(state, &reference, &key),
    }
}

/// `# id (file)` then one line per file (the session adds the blank line that ends it).
fn list_files(state: &State) -> String {
    let mut out = String::from("# id (file)\n");
    for (id, file) in state.tls.ticket_files.iter().enumerate() {
        let _ = writeln!(out, "{id} ({})", file.file);
    }
    out
}

/// The keys of every file (`*`) or of one, oldest first.
fn show_keys(state: &State, target: &str) -> Action {
    let files = &state.tls.ticket_files;
    let ids: Vec<usize> = match target {
        "*" => (0..files.len()).collect(),
        reference => match state.tls.ticket_file(reference) {
            Some(id) => vec![id],
            None => return reply(SHOW_UNKNOWN),
        },
    };
    let mut out = String::from("# id secret\n");
    for id in ids {
        let _ = writeln!(out, "# {id} ({})", files[id].file);
        for (index, key) in files[id].ring.chronological().enumerate() {
            let _ = writeln!(out, "{id}.{index} {}", tickets::encode(key));
        }
    }
    Action::Reply(out)
}

/// Checks in HAProxy's order (arguments, file, base64, size), then the file's ring with the
/// key pushed.
fn set_tls_key(state: &State, reference: &str, key: &str) -> Action {
    if reference.is_empty() || key.is_empty() {
        return reply(SET_USAGE);
    }
    let Some(file) = state.tls.ticket_file(reference) else {
        return reply(SET_UNKNOWN);
    };
    let Some(key) = tickets::decode(key) else {
        return reply(SET_NOT_BASE64);
    };
    let ring = &state.tls.ticket_files[file].ring;
    if key.len() != ring.key_size() {
        return reply(SET_WRONG_SIZE);
    }
    Action::Mutate {
        mutations: vec![Mutation::SetTicketKeys {
            file,
            ring: ring.pushed(key),
        }],
        reply: SET_DONE.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TicketFile;
    use crate::tls::tickets::TicketRing;

    fn state() -> State {
        let ring = |fill: u8, size: usize| TicketRing {
            slots: [vec![fill; size], vec![fill + 1; size], vec![fill + 2; size]],
            encrypt: 1,
        };
        let mut state = State::default();
        state.tls.ticket_files = vec![
            TicketFile {
                file: "/k48".into(),
                ring: ring(1, 48),
            },
            TicketFile {
                file: "/k80".into(),
                ring: ring(7, 80),
            },
        ];
        state
    }

    fn text(action: Action) -> String {
        match action {
            Action::Reply(text) | Action::Mutate { reply: text, .. } => text,
            other => panic!("{other:?}"),
        }
    }

    fn run(args: &[&str]) -> Action {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match (args[0].as_str(), args.len()) {
            ("show", _) => match parse_show_tls_keys(&args[2..]) {
                Command::Ssl(c) => resolve_ssl(c, &state()),
                other => panic!("{other:?}"),
            },
            _ => match parse_set_tls_key(&args[3..]) {
                Command::Ssl(c) => resolve_ssl(c, &state()),
                other => panic!("{other:?}"),
            },
        }
    }

    #[test]
    fn the_listing_and_the_keys_read_as_haproxys() {
        assert_eq!(
            text(run(&["show", "tls-keys"])),
            "# id (file)\n0 (/k48)\n1 (/k80)\n"
        );
        let one = text(run(&["show", "tls-keys", "#0"]));
        let key = |fill: u8| tickets::encode(&[fill; 48]);
        let expected = format!(
            "# id secret\n# 0 (/k48)\n0.0 {}\n0.1 {}\n0.2 {}\n",
            key(1),
            key(2),
            key(3)
        );
        assert_eq!(one, expected);
        assert_eq!(text(run(&["show", "tls-keys", "/k48"])), expected);
        assert!(text(run(&["show", "tls-keys", "*"])).contains("# 1 (/k80)\n1.0 "));
        for unknown in ["0", "#2", "/nope"] {
            assert_eq!(text(run(&["show", "tls-keys", unknown])), SHOW_UNKNOWN);
        }
    }

    #[test]
    fn set_ssl_tls_key_refuses_in_haproxys_order_and_pushes_the_key() {
        let k48 = tickets::encode(&[9; 48]);
        let k80 = tickets::encode(&[9; 80]);
        assert_eq!(text(run(&["set", "ssl", "tls-key", "#0"])), SET_USAGE);
        assert_eq!(
            text(run(&["set", "ssl", "tls-key", "0", &k48])),
            SET_UNKNOWN
        );
        let bad = ["set", "ssl", "tls-key", "#0", "not base64!"];
        assert_eq!(text(run(&bad)), SET_NOT_BASE64);
        let wrong = ["set", "ssl", "tls-key", "#0", &k80];
        assert_eq!(text(run(&wrong)), SET_WRONG_SIZE);
        match run(&["set", "ssl", "tls-key", "/k48", &k48]) {
            Action::Mutate { mutations, reply } => {
                assert_eq!(reply, SET_DONE);
                let [Mutation::SetTicketKeys { file: 0, ring }] = mutations.as_slice() else {
                    panic!("{mutations:?}");
                };
                let order: Vec<u8> = ring.chronological().map(|k| k[0]).collect();
                assert_eq!(order, [2, 3, 9]);
            }
            other => panic!("{other:?}"),
        }
    }
}
