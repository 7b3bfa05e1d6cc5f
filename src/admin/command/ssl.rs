//! The TLS runtime commands, with HAProxy 2.6's replies: `show tls-keys [ID|FILE|*]` and
//! `set ssl tls-key ID|FILE KEY` (a new key is one [`Mutation::SetTicketKeys`] carrying the
//! whole ring), and `show ssl cert`, `set ssl cert FILE <<`, `commit ssl cert FILE`, `abort ssl
//! cert FILE` (one transaction at a time, kept in the state; a commit is one
//! [`Mutation::CommitCert`] after which every shard's new handshakes present the new
//! certificate). Each is applied by every shard before the reply.
//!
//! One difference on purpose: HAProxy 2.6.12 answers `set ssl cert B` during a transaction
//! on A by putting B's payload into A's transaction ("Transaction updated for certificate
//! A!"); pointsman refuses it with the words HAProxy's commit uses for the same mistake.
//!
//! Privileges differ from HAProxy's on purpose: HAProxy 2.6 dumps and sets ticket keys at any
//! level; pointsman lists the files at `user` level and asks `admin` for the keys themselves
//! (they decrypt every recorded session).

use super::{reply, Command};
use crate::admin::Action;
use crate::state::{CertFile, Mutation, State};
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
    SetTlsKey {
        reference: String,
        key: String,
    },
    /// `show ssl cert` (the list; one file's details are not supported yet).
    ShowCert(Option<String>),
    /// `set ssl cert FILE <<` and its payload.
    SetCert {
        file: String,
        payload: String,
    },
    CommitCert(String),
    AbortCert(String),
}

impl SslCommand {
    /// Whether the command reads or writes key material (an `admin` matter here).
    pub fn touches_secrets(&self) -> bool {
        !matches!(
            self,
            SslCommand::ShowTlsKeys(None) | SslCommand::ShowCert(_)
        )
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

/// `show|commit|abort ssl cert [FILE]`, `set ssl cert FILE` (without its payload here).
pub(super) fn parse_cert_command(verb: &str, rest: &[String], payload: Option<&str>) -> Command {
    let file = rest.first().cloned().unwrap_or_default();
    Command::Ssl(match verb {
        "show" => SslCommand::ShowCert(Some(file).filter(|f| !f.is_empty())),
        "set" => SslCommand::SetCert {
            file,
            payload: payload.unwrap_or_default().to_string(),
        },
        "commit" => SslCommand::CommitCert(file),
        _ => SslCommand::AbortCert(file),
    })
}

pub(super) fn resolve_ssl(command: SslCommand, state: &State) -> Action {
    match command {
        SslCommand::ShowCert(None) => Action::Reply(list_certs(state)),
        SslCommand::ShowCert(Some(_)) => reply(super::NOT_SUPPORTED),
        SslCommand::SetCert { file, payload } => set_cert(state, &file, &payload),
        SslCommand::CommitCert(file) => commit_cert(state, &file),
        SslCommand::AbortCert(file) => abort_cert(state, &file),
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

/// `# transaction` and the pending file (starred) if any, then `# filename` and every file.
fn list_certs(state: &State) -> String {
    let mut out = String::new();
    if let Some((file, _)) = &state.tls.cert_transaction {
        let _ = writeln!(out, "# transaction\n*{file}");
    }
    out.push_str("# filename\n");
    for file in state.tls.certs.keys() {
        let _ = writeln!(out, "{file}");
    }
    out
}

/// A payload's chain and key, where a part it lacks is taken from `current` (HAProxy
/// replaces only what the payload holds).
fn read_payload(payload: &str, current: Option<&CertFile>) -> Option<CertFile> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bytes = payload.as_bytes();
    let chain: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<_, _>>()
        .ok()?;
    let key = PrivateKeyDer::from_pem_slice(bytes).ok();
    match (chain.is_empty(), key, current) {
        (false, Some(key), _) => Some(CertFile {
            chain: chain.into(),
            key: key.into(),
        }),
        (false, None, Some(current)) => Some(CertFile {
            chain: chain.into(),
            key: current.key.clone(),
        }),
        _ => None,
    }
}

fn set_cert(state: &State, file: &str, payload: &str) -> Action {
    if file.is_empty() || payload.is_empty() {
        return reply("'set ssl cert expects a filename and a certificate as a payload\n");
    }
    let pending = state.tls.cert_transaction.as_ref();
    if let Some((ongoing, _)) = pending.filter(|(ongoing, _)| ongoing != file) {
        return Action::Reply(format!(
            "The ongoing transaction is about '{ongoing}' but you are trying to set '{file}'\n\
             Can't update {file}!\n"
        ));
    }
    let Some(committed) = state.tls.certs.get(file) else {
        return Action::Reply(format!(
            "Can't replace a certificate which is not referenced by the configuration!\n\
             Can't update {file}!\n"
        ));
    };
    let current = pending.map(|(_, contents)| contents).unwrap_or(committed);
    let Some(contents) = read_payload(payload, Some(current)) else {
        return Action::Reply(format!(
            "unable to load certificate from file '{file}'.\nCan't load the payload\n\
             Can't update {file}!\n"
        ));
    };
    let verb = if pending.is_some() {
        "updated"
    } else {
        "created"
    };
    Action::Mutate {
        mutations: vec![Mutation::SetCertTransaction(Some((
            file.to_string(),
            contents,
        )))],
        reply: format!("Transaction {verb} for certificate {file}!\n"),
    }
}

/// The transaction's file must be `file`; its contents must make a certificate rustls can
/// use (the key belongs to the leaf).
fn commit_cert(state: &State, file: &str) -> Action {
    if file.is_empty() {
        return reply("'commit ssl cert expects a filename\n");
    }
    let Some((ongoing, contents)) = &state.tls.cert_transaction else {
        return Action::Reply(format!("No ongoing transaction! !\nCan't commit {file}!\n"));
    };
    if ongoing != file {
        return Action::Reply(format!(
            "The ongoing transaction is about '{ongoing}' but you are trying to set '{file}'\n\
             Can't commit {file}!\n"
        ));
    }
    if !usable(contents) {
        return Action::Reply(format!(
            "inconsistencies between private key and certificate loaded '{file}'.\n\
             Can't commit {file}!\n"
        ));
    }
    let dots = ".".repeat(state.tls.cert_users.get(file).copied().unwrap_or(0));
    Action::Mutate {
        mutations: vec![Mutation::CommitCert {
            file: file.to_string(),
            contents: contents.clone(),
        }],
        reply: format!("Committing {file}{dots}\nSuccess!\n"),
    }
}

/// Whether the key loads and belongs to the leaf (rustls's check at load).
fn usable(contents: &CertFile) -> bool {
    let Ok(key) = rustls::crypto::ring::sign::any_supported_type(&contents.key) else {
        return false;
    };
    let certified = rustls::sign::CertifiedKey::new(contents.chain.to_vec(), key);
    matches!(
        certified.keys_match(),
        Ok(())
            | Err(rustls::Error::InconsistentKeys(
                rustls::InconsistentKeys::Unknown
            ))
    )
}

fn abort_cert(state: &State, file: &str) -> Action {
    if file.is_empty() {
        return reply("'abort ssl cert' expects a filename\n");
    }
    match &state.tls.cert_transaction {
        None => reply("No ongoing transaction!\n"),
        Some((ongoing, _)) if ongoing != file => Action::Reply(format!(
            "The ongoing transaction is about '{ongoing}' but you are trying to abort a \
             transaction for '{file}'\n"
        )),
        Some(_) => Action::Mutate {
            mutations: vec![Mutation::SetCertTransaction(None)],
            reply: format!("Transaction aborted for certificate '{file}'!\n"),
        },
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
