//! TLS termination on `bind … ssl crt …` with rustls (ring provider): the certificates as
//! HAProxy reads them ([`certs`], their names read by [`der`]) and chosen by SNI ([`sni`]),
//! the bind's versions, suites and groups ([`choices`]) and client certificate check
//! ([`client_auth`]), one rustls `ServerConfig` per TLS bind built once before the shards
//! start and shared by all of them ([`Contexts`]), the handshake of one accepted connection
//! ([`handshake`]), what rules read of a session ([`names`]), and the session ticket keys
//! ([`tickets`]) the binds seal tickets with. TLS to servers is [`upstream`]'s.
//!
//! One `ServerConfig` for every shard, not one each: its session ticket key and session cache
//! are then the same on every core, so a client whose next connection lands on another shard
//! resumes its session there.
//!
//! Kernel TLS offload would go after the handshake in [`handshake::accept`] (hand the traffic
//! secrets to the socket and keep a plain stream); these machines have no `tls` ULP.

pub mod certs;
mod choices;
mod client_auth;
pub mod der;
pub mod handshake;
pub mod names;
mod sni;
pub mod tickets;
pub mod upstream;

pub use handshake::{accept, Failure, Replayed};
pub use names::facts;

use crate::config::{BindSsl, Config, Global, Location};
use crate::state::{CertFile, State, TicketFile};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tickets::{TicketRing, Ticketer};

/// The rustls server side of one TLS bind.
pub type ServerConfig = Arc<rustls::ServerConfig>;

/// The TLS bind contexts of every frontend: per frontend name, per bind (in the order of its
/// `bind` addresses), `Some` for a TLS bind.
#[derive(Default, Clone)]
pub struct Contexts {
    frontends: HashMap<String, Vec<Option<ServerConfig>>>,
    tickets: Arc<TicketKeys>,
    /// Every TLS bind's certificates, which `commit ssl cert` replaces.
    binds: Vec<Arc<BindCertificates>>,
    /// Each certificate file as loaded at start (seeds the runtime state).
    loaded: NamedFiles,
    /// The client side of every `server … ssl` ([`upstream`]).
    pub servers: upstream::Connectors,
}

/// The certificates one TLS bind presents: the files it names, in order, and the index its
/// handshakes choose from, rebuilt when one of its files is committed.
pub struct BindCertificates {
    files: Vec<String>,
    strict: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: std::sync::RwLock<Arc<sni::Certificates>>,
}

impl std::fmt::Debug for BindCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BindCertificates({:?})", self.files)
    }
}

impl BindCertificates {
    /// Rebuilds the index from the files' contents in `certs`; a file that no longer makes
    /// a usable certificate keeps the bind's current index.
    fn rebuild(&self, certs: &std::collections::BTreeMap<String, CertFile>) {
        let mut index = sni::Certificates::new(self.strict);
        for file in &self.files {
            let Some(contents) = certs.get(file) else {
                continue;
            };
            match sni::certified_key(certs::Certified::of(contents), &self.provider) {
                Ok(key) => index.add(key),
                Err(e) => {
                    log::error!("{file}: certificate not installed: {e}");
                    return;
                }
            }
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
    }

    fn index(&self) -> Arc<sni::Certificates> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl rustls::server::ResolvesServerCert for BindCertificates {
    fn resolve(
        &self,
        client_hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.index().resolve(client_hello)
    }
}

/// The session ticket producers the binds share, and the rings they started with.
#[derive(Default)]
struct TicketKeys {
    /// Per `tls-ticket-keys` file, in HAProxy's id order (the last file declared is 0).
    files: Vec<(PathBuf, TicketRing, Arc<Ticketer>)>,
    /// The ring of every TLS bind without `tls-ticket-keys`.
    generated: Option<(TicketRing, Arc<Ticketer>)>,
}

impl TicketKeys {
    /// Reads every `tls-ticket-keys` file once (binds naming the same file share it) and
    /// generates the process's own ring.
    fn load(config: &Config) -> Result<TicketKeys, String> {
        let mut files: Vec<(PathBuf, TicketRing, Arc<Ticketer>)> = Vec::new();
        let binds = config.proxies.iter().filter_map(|p| p.frontend.as_ref());
        for bind in binds.flat_map(|f| &f.binds) {
            let Some(path) = bind.ssl.as_ref().and_then(|s| s.ticket_keys.as_ref()) else {
                continue;
            };
            if files.iter().any(|(known, _, _)| known == path) {
                continue;
            }
            let error = |e: String| format!("{}: 'bind … tls-ticket-keys': {e}", bind.location);
            let ring = TicketRing::read(path).map_err(error)?;
            let ticketer = Arc::new(Ticketer::new(&ring).map_err(error)?);
            files.push((path.clone(), ring, ticketer));
        }
        // HAProxy puts each new file at the head of its list and numbers the list in order.
        files.reverse();
        let ring = TicketRing::generate()?;
        let ticketer = Arc::new(Ticketer::new(&ring)?);
        Ok(TicketKeys {
            files,
            generated: Some((ring, ticketer)),
        })
    }

    /// The producer for a bind with `tls-ticket-keys file` or without.
    fn for_bind(&self, file: Option<&PathBuf>) -> Option<Arc<Ticketer>> {
        match file {
            Some(file) => (self.files.iter())
                .find(|(known, _, _)| known == file)
                .map(|(_, _, ticketer)| ticketer.clone()),
            None => self
                .generated
                .as_ref()
                .map(|(_, ticketer)| ticketer.clone()),
        }
    }
}

impl Contexts {
    /// Reads every TLS bind's certificates; an unreadable or mismatched one is an error
    /// naming the `bind` line.
    pub fn load(config: &Config) -> Result<Contexts, String> {
        let mut contexts = Contexts {
            tickets: Arc::new(TicketKeys::load(config)?),
            ..Contexts::default()
        };
        for proxy in &config.proxies {
            let Some(frontend) = &proxy.frontend else {
                continue;
            };
            let binds = frontend
                .binds
                .iter()
                .map(|bind| match &bind.ssl {
                    Some(ssl) => {
                        let tickets = contexts.tickets.for_bind(ssl.ticket_keys.as_ref());
                        let (server, certificates, files) =
                            server_config(ssl, &config.global, &bind.location, tickets)?;
                        contexts.binds.push(certificates);
                        for (file, contents) in files {
                            if !contexts.loaded.iter().any(|(known, _)| *known == file) {
                                contexts.loaded.push((file, contents));
                            }
                        }
                        Ok(Some(server))
                    }
                    None => Ok(None),
                })
                .collect::<Result<Vec<_>, String>>()?;
            contexts.frontends.insert(proxy.name.clone(), binds);
        }
        contexts.servers = upstream::Connectors::load(config)?;
        Ok(contexts)
    }

    /// Puts the ticket key rings into the start-up state: each file's as read, and the
    /// generated ring, or, when the previous process handed its ring over, that ring rotated
    /// once (its tickets still open, new ones are sealed with the next key).
    pub fn seed(&self, state: &mut State) -> Result<(), String> {
        state.tls.ticket_files = (self.tickets.files.iter())
            .map(|(file, ring, _)| TicketFile {
                file: file.display().to_string(),
                ring: ring.clone(),
            })
            .collect();
        state.tls.generated = match (state.tls.generated.take(), &self.tickets.generated) {
            (Some(carried), _) => Some(carried.rotated()?),
            (None, generated) => generated.as_ref().map(|(ring, _)| ring.clone()),
        };
        state.tls.certs = self.loaded.iter().cloned().collect();
        state.tls.cert_users = (self.loaded.iter())
            .map(|(file, _)| (file.clone(), self.binds_using(file)))
            .collect();
        self.sync(state);
        Ok(())
    }

    /// How many binds present `file` (HAProxy's commit prints a dot for each).
    pub fn binds_using(&self, file: &str) -> usize {
        self.binds
            .iter()
            .filter(|b| b.files.iter().any(|f| f == file))
            .count()
    }

    /// Rebuilds the certificates of the binds that present `file` from the state's files
    /// (every shard calls it after a commit; the same rebuild twice gives the same index).
    pub fn sync_certificate(&self, state: &State, file: &str) {
        for bind in self
            .binds
            .iter()
            .filter(|b| b.files.iter().any(|f| f == file))
        {
            bind.rebuild(&state.tls.certs);
        }
    }

    /// Installs the state's rings into the producers the handshakes use (every shard calls
    /// it after a ticket key mutation; installing the same rings again changes nothing).
    pub fn sync(&self, state: &State) {
        let files = (self.tickets.files.iter())
            .zip(&state.tls.ticket_files)
            .map(|((_, _, ticketer), file)| (ticketer, &file.ring));
        let generated = (self.tickets.generated.iter())
            .zip(&state.tls.generated)
            .map(|((_, ticketer), ring)| (ticketer, ring));
        for (ticketer, ring) in files.chain(generated) {
            if let Err(e) = ticketer.install(ring) {
                log::error!("TLS ticket keys not installed: {e}");
            }
        }
    }

    /// The contexts of `frontend`'s binds (empty when it has none).
    pub fn of(&self, frontend: &str) -> Vec<Option<ServerConfig>> {
        self.frontends.get(frontend).cloned().unwrap_or_default()
    }
}

/// Certificate files by their names (`show ssl cert`), with their contents.
type NamedFiles = Vec<(String, CertFile)>;

/// What loading one TLS bind gives: its rustls config, its certificates (replaced at
/// runtime) and the files they came from.
type BindContext = (ServerConfig, Arc<BindCertificates>, NamedFiles);

/// The rustls config of one TLS bind: its certificates chosen by SNI ([`sni`]), the
/// versions, suites and groups of its options ([`choices`]) falling back on
/// `ssl-default-bind-*`, its client certificate check ([`client_auth`]), the `alpn`
/// protocols, and stateless session tickets sealed by `tickets` (the bind's
/// `tls-ticket-keys` ring or the process's) unless `no-tls-tickets`.
fn server_config(
    ssl: &BindSsl,
    global: &Global,
    location: &Location,
    tickets: Option<Arc<Ticketer>>,
) -> Result<BindContext, String> {
    let error = |e: String| format!("{location}: 'bind … ssl': {e}");
    let options = ssl.tls.or(&global.ssl_default_bind);
    let choices = choices::choose(&options).map_err(error)?;
    for warning in &choices.warnings {
        log::warn!("{location}: 'bind … ssl': {warning}");
    }
    let provider = Arc::new(choices.provider);
    let files = certificate_files(ssl, global.crt_base.as_deref()).map_err(error)?;
    let certificates = Arc::new(BindCertificates {
        files: files.iter().map(|(file, _)| file.clone()).collect(),
        strict: ssl.strict_sni,
        provider: provider.clone(),
        current: Default::default(),
    });
    let mut index = sni::Certificates::new(ssl.strict_sni);
    for (file, contents) in &files {
        let key = sni::certified_key(certs::Certified::of(contents), &provider)
            .map_err(|e| error(format!("{file}: {e}")))?;
        index.add(key);
    }
    *certificates
        .current
        .write()
        .unwrap_or_else(|e| e.into_inner()) = Arc::new(index);
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&choices.versions)
        .map_err(|e| error(e.to_string()))?;
    let verifier =
        client_auth::verifier(ssl, global.ca_base.as_deref(), &provider).map_err(error)?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(certificates.clone());
    config.alpn_protocols = ssl.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // HAProxy (OpenSSL's SSL_OP_CIPHER_SERVER_PREFERENCE) picks by its own order by default.
    config.ignore_client_order = !options.prefer_client_ciphers;
    if let Some(ticketer) = tickets.filter(|_| !options.no_tls_tickets) {
        config.ticketer = ticketer;
    }
    if let Some(size) = global.tune_ssl_cachesize {
        config.session_storage = match size {
            0 => Arc::new(rustls::server::NoServerSessionStorage {}),
            size => rustls::server::ServerSessionMemoryCache::new(size),
        };
    }
    // rustls's fragment size counts the 5-byte record header.
    config.max_fragment_size = global.tune_ssl_maxrecord.map(|size| size + 5);
    Ok((Arc::new(config), certificates, files))
}

/// Every certificate file of the bind's `crt` arguments (a relative one under `crt-base`),
/// by the name `show ssl cert` gives it, the first one loaded being the default.
fn certificate_files(
    ssl: &BindSsl,
    base: Option<&Path>,
) -> Result<Vec<(String, CertFile)>, String> {
    let mut files = Vec::new();
    for crt in &ssl.crts {
        // `join` keeps an absolute path as it is.
        let path = base.map_or_else(|| crt.clone(), |base| base.join(crt));
        let loaded = certs::load_crt(&path)?;
        if loaded.is_empty() {
            return Err(format!("'{}' holds no certificate file", path.display()));
        }
        for (file, certified) in loaded {
            files.push((file.display().to_string(), certified.into_file()));
        }
    }
    Ok(files)
}
