//! TLS termination on `bind … ssl crt …` with rustls (ring provider): the certificates as
//! HAProxy reads them ([`certs`]), one rustls `ServerConfig` per TLS bind built once before
//! the shards start and shared by all of them ([`Contexts`]), and the handshake of one
//! accepted connection ([`handshake`]), and what rules read of a session ([`names`]).
//!
//! One `ServerConfig` for every shard, not one each: its session ticket key and session cache
//! are then the same on every core, so a client whose next connection lands on another shard
//! resumes its session there.
//!
//! Kernel TLS offload would go after the handshake in [`handshake::accept`] (hand the traffic
//! secrets to the socket and keep a plain stream); these machines have no `tls` ULP.

pub mod certs;
pub mod handshake;
pub mod names;

pub use handshake::{accept, Failure, Replayed};
pub use names::facts;

use crate::config::{BindSsl, Config, Location};
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
}

impl Contexts {
    /// Reads every TLS bind's certificates; an unreadable or mismatched one is an error
    /// naming the `bind` line.
    pub fn load(config: &Config) -> Result<Contexts, String> {
        let mut contexts = Contexts::default();
        let base = config.global.crt_base.as_deref();
        for proxy in &config.proxies {
            let Some(frontend) = &proxy.frontend else {
                continue;
            };
            let binds = frontend
                .binds
                .iter()
                .map(|bind| match &bind.ssl {
                    Some(ssl) => server_config(ssl, base, &bind.location).map(Some),
                    None => Ok(None),
                })
                .collect::<Result<Vec<_>, String>>()?;
            contexts.frontends.insert(proxy.name.clone(), binds);
        }
        Ok(contexts)
    }

    /// The contexts of `frontend`'s binds (empty when it has none).
    pub fn of(&self, frontend: &str) -> Vec<Option<ServerConfig>> {
        self.frontends.get(frontend).cloned().unwrap_or_default()
    }
}

/// The rustls config of one TLS bind: its one certificate, TLS 1.2 and 1.3, the `alpn`
/// protocols, and stateless session tickets (a key the process generates at start).
fn server_config(
    ssl: &BindSsl,
    base: Option<&Path>,
    location: &Location,
) -> Result<ServerConfig, String> {
    let error = |e: String| format!("{location}: 'bind … ssl': {e}");
    // ring, not aws-lc-rs: no cmake/C build. rustls deprecates ring's provider for lacking
    // the post-quantum X25519MLKEM768 group; clients that offer it also offer X25519.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    if ssl.crts.len() > 1 {
        // Refused rather than serving the first for every name: SNI selection is not built yet.
        return Err(error(
            "several 'crt' (certificate selection by SNI) are not supported yet".into(),
        ));
    }
    let first = ssl
        .crts
        .first()
        .ok_or_else(|| error("no 'crt' given".into()))?;
    // A relative file is under `crt-base` (`join` keeps an absolute one as it is).
    let first = base.map_or_else(|| first.clone(), |base| base.join(first));
    let certified = certs::load(&first).map_err(error)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certified.chain, certified.key)
        .map_err(|e| error(format!("{}: {e}", first.display())))?;
    config.alpn_protocols = ssl.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| error(e.to_string()))?;
    Ok(Arc::new(config))
}
