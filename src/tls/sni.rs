//! Which certificate a handshake presents, chosen as HAProxy 2.6 chooses it: by the server
//! name the client sent (SNI) against each certificate's subjectAltName DNS names and common
//! names, exact names before wildcards (`*.example.test` covers one label), ECDSA before RSA
//! when the client can verify ECDSA, and the bind's first certificate when the client sent no
//! name or an unknown one, unless `strict-sni` refuses the handshake instead.

use super::der;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::SignatureAlgorithm;
use std::collections::HashMap;
use std::sync::Arc;

/// The certificates of one bind, indexed by the names they are for.
#[derive(Debug, Default)]
pub struct Certificates {
    /// Exact names (lowercase) to the certificates for them, in load order.
    exact: HashMap<String, Vec<Arc<CertifiedKey>>>,
    /// For `*.example.test`, `example.test`: the certificates for any one label under it.
    wildcard: HashMap<String, Vec<Arc<CertifiedKey>>>,
    /// The first certificate loaded: the one presented when no name matches.
    default: Option<Arc<CertifiedKey>>,
    /// `strict-sni`: no default, a client without a matching name is refused.
    strict: bool,
}

impl Certificates {
    pub fn new(strict: bool) -> Certificates {
        Certificates {
            strict,
            ..Certificates::default()
        }
    }

    /// Adds a certificate under the names it is for; the first one added is the default.
    pub fn add(&mut self, certified: Arc<CertifiedKey>) {
        let leaf = certified.cert.first().map(|c| c.as_ref()).unwrap_or(&[]);
        for name in der::server_names(leaf) {
            match name.strip_prefix("*.") {
                Some(parent) => self.wildcard.entry(parent.to_string()),
                None => self.exact.entry(name),
            }
            .or_default()
            .push(certified.clone());
        }
        self.default.get_or_insert(certified);
    }

    /// The certificate for `server_name` among those the client can verify.
    fn choose(&self, server_name: Option<&str>, offer: &Offer) -> Option<Arc<CertifiedKey>> {
        let matching = server_name.map(|name| self.matching(&name.to_ascii_lowercase()));
        if let Some(chosen) = matching.and_then(|found| preferred(&found, offer)) {
            return Some(chosen);
        }
        if self.strict {
            return None;
        }
        self.default.clone()
    }

    /// The certificates for `name`: those for exactly it, then those for its wildcard.
    fn matching(&self, name: &str) -> Vec<Arc<CertifiedKey>> {
        let exact = self.exact.get(name).into_iter().flatten();
        let parent = name.split_once('.').map(|(_, parent)| parent);
        let wildcard = parent
            .and_then(|parent| self.wildcard.get(parent))
            .into_iter()
            .flatten();
        exact.chain(wildcard).cloned().collect()
    }
}

/// What a ClientHello offers that decides between an ECDSA and an RSA certificate: the
/// signature schemes it can verify. rustls has already removed, for a TLS 1.2 client, the
/// schemes none of its cipher suites can use, so a client that verifies ECDSA signatures but
/// offers only ECDHE-RSA suites gets the RSA certificate, as HAProxy gives it.
pub struct Offer<'a> {
    pub schemes: &'a [rustls::SignatureScheme],
}

impl Offer<'_> {
    fn can_use(&self, certified: &CertifiedKey) -> bool {
        certified.key.choose_scheme(self.schemes).is_some()
    }
}

/// Among `found`, the first ECDSA certificate the client can use, else the first RSA one,
/// else the first of another kind it can use (HAProxy's ECDSA > RSA > others order).
fn preferred(found: &[Arc<CertifiedKey>], offer: &Offer) -> Option<Arc<CertifiedKey>> {
    let usable = |kind: Option<SignatureAlgorithm>| {
        found.iter().find(|certified| {
            let kind_fits = match kind {
                Some(kind) => certified.key.algorithm() == kind,
                None => true,
            };
            kind_fits && offer.can_use(certified)
        })
    };
    usable(Some(SignatureAlgorithm::ECDSA))
        .or_else(|| usable(Some(SignatureAlgorithm::RSA)))
        .or_else(|| usable(None))
        .cloned()
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offer = Offer {
            schemes: client_hello.signature_schemes(),
        };
        self.choose(client_hello.server_name(), &offer)
    }
}

/// A certificate chain and key ready for rustls, checked to belong together.
pub fn certified_key(
    certified: super::certs::Certified,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    CertifiedKey::from_der(certified.chain, certified.key, provider)
        .map(Arc::new)
        .map_err(|e| e.to_string())
}
