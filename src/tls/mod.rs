//! TLS termination on `bind … ssl crt …` with rustls (ring provider): the certificates as
//! HAProxy reads them ([`certs`], their names read by [`der`]) and chosen by SNI ([`sni`]),
//! the bind's versions, suites and groups ([`choices`]) and client certificate check
//! ([`client_auth`]), one rustls `ServerConfig` per TLS bind built once before the shards
//! start and shared by all of them ([`Contexts`]), the handshake of one accepted connection
//! ([`handshake`]), and what rules read of a session ([`names`]). TLS to servers is
//! [`upstream`]'s.
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
pub mod upstream;

pub use handshake::{accept, Failure, Replayed};
pub use names::facts;

use crate::config::{BindSsl, Config, Global, Location};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The rustls server side of one TLS bind.
pub type ServerConfig = Arc<rustls::ServerConfig>;

/// The TLS bind contexts of every frontend: per frontend name, per bind (in the order of its
/// `bind` addresses), `Some` for a TLS bind.
#[derive(Default, Clone)]
pub struct Contexts {
    frontends: HashMap<String, Vec<Option<ServerConfig>>>,
    /// The client side of every `server … ssl` ([`upstream`]).
    pub servers: upstream::Connectors,
}

impl Contexts {
    /// Reads every TLS bind's certificates; an unreadable or mismatched one is an error
    /// naming the `bind` line.
    pub fn load(config: &Config) -> Result<Contexts, String> {
        let mut contexts = Contexts::default();
        for proxy in &config.proxies {
            let Some(frontend) = &proxy.frontend else {
                continue;
            };
            let binds = frontend
                .binds
                .iter()
                .map(|bind| match &bind.ssl {
                    Some(ssl) => server_config(ssl, &config.global, &bind.location).map(Some),
                    None => Ok(None),
                })
                .collect::<Result<Vec<_>, String>>()?;
            contexts.frontends.insert(proxy.name.clone(), binds);
        }
        contexts.servers = upstream::Connectors::load(config)?;
        Ok(contexts)
    }

    /// The contexts of `frontend`'s binds (empty when it has none).
    pub fn of(&self, frontend: &str) -> Vec<Option<ServerConfig>> {
        self.frontends.get(frontend).cloned().unwrap_or_default()
    }
}

/// The rustls config of one TLS bind: its certificates chosen by SNI ([`sni`]), the
/// versions, suites and groups of its options ([`choices`]) falling back on
/// `ssl-default-bind-*`, its client certificate check ([`client_auth`]), the `alpn`
/// protocols, and stateless session tickets (a key the process generates at start) unless
/// `no-tls-tickets`.
fn server_config(
    ssl: &BindSsl,
    global: &Global,
    location: &Location,
) -> Result<ServerConfig, String> {
    let error = |e: String| format!("{location}: 'bind … ssl': {e}");
    let options = ssl.tls.or(&global.ssl_default_bind);
    let choices = choices::choose(&options).map_err(error)?;
    for warning in &choices.warnings {
        log::warn!("{location}: 'bind … ssl': {warning}");
    }
    let provider = Arc::new(choices.provider);
    let certificates = certificates(ssl, global.crt_base.as_deref(), &provider).map_err(error)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&choices.versions)
        .map_err(|e| error(e.to_string()))?;
    let verifier =
        client_auth::verifier(ssl, global.ca_base.as_deref(), &provider).map_err(error)?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(certificates));
    config.alpn_protocols = ssl.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // HAProxy (OpenSSL's SSL_OP_CIPHER_SERVER_PREFERENCE) picks by its own order by default.
    config.ignore_client_order = !options.prefer_client_ciphers;
    if !options.no_tls_tickets {
        config.ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|e| error(e.to_string()))?;
    }
    if let Some(size) = global.tune_ssl_cachesize {
        config.session_storage = match size {
            0 => Arc::new(rustls::server::NoServerSessionStorage {}),
            size => rustls::server::ServerSessionMemoryCache::new(size),
        };
    }
    // rustls's fragment size counts the 5-byte record header.
    config.max_fragment_size = global.tune_ssl_maxrecord.map(|size| size + 5);
    Ok(Arc::new(config))
}

/// Every certificate of the bind's `crt` arguments (a relative one under `crt-base`), the
/// first one loaded being the default.
fn certificates(
    ssl: &BindSsl,
    base: Option<&Path>,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<sni::Certificates, String> {
    let mut certificates = sni::Certificates::new(ssl.strict_sni);
    for crt in &ssl.crts {
        // `join` keeps an absolute path as it is.
        let path = base.map_or_else(|| crt.clone(), |base| base.join(crt));
        let loaded = certs::load_crt(&path)?;
        if loaded.is_empty() {
            return Err(format!("'{}' holds no certificate file", path.display()));
        }
        for (file, certified) in loaded {
            let key = sni::certified_key(certified, provider)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            certificates.add(key);
        }
    }
    Ok(certificates)
}
