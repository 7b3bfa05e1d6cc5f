//! Client certificates on a bind, as HAProxy's `verify`, `ca-file` and `crl-file` ask:
//! `verify none` (the default) asks for none; `optional` asks and lets a client without one
//! in; `required` refuses it. A certificate that is sent is always verified against the
//! `ca-file` CAs (and the `crl-file` revocations): a bad one ends the handshake either way.

use crate::config::{BindSsl, Verify};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The verifier of `ssl`'s client certificates, or `None` when none is asked for.
pub fn verifier(
    ssl: &BindSsl,
    ca_base: Option<&Path>,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, String> {
    let verify = ssl.verify.unwrap_or(Verify::None);
    if verify == Verify::None {
        return Ok(None);
    }
    let Some(ca_file) = &ssl.ca_file else {
        // HAProxy's words for the same mistake.
        return Err("verify is enabled but no CA file specified".into());
    };
    let roots = roots(&under(ca_base, ca_file))?;
    let crls = match &ssl.crl_file {
        Some(file) => crls(&under(ca_base, file))?,
        None => Vec::new(),
    };
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls);
    let builder = match verify {
        Verify::Optional => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder.build().map(Some).map_err(|e| e.to_string())
}

/// A relative file is under `ca-base` (`join` keeps an absolute one as it is).
fn under(base: Option<&Path>, file: &Path) -> PathBuf {
    base.map_or_else(|| file.to_path_buf(), |base| base.join(file))
}

pub(super) fn roots(path: &Path) -> Result<RootCertStore, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&text) {
        let cert = cert.map_err(|e| format!("'{}': {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("'{}': {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("'{}' holds no CA certificate", path.display()));
    }
    Ok(roots)
}

fn crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let crls = CertificateRevocationListDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("'{}': {e}", path.display()))?;
    if crls.is_empty() {
        return Err(format!("'{}' holds no CRL", path.display()));
    }
    Ok(crls)
}
