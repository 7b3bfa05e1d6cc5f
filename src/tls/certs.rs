//! Certificates as HAProxy reads a `crt` file: one PEM file holding the certificate, its
//! chain and the private key, or the key in `FILE.key` beside it when the file has none.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct Certified {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Reads `path` (and `path.key` if `path` holds no key).
pub fn load(path: &Path) -> Result<Certified, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("'{}': {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("'{}' holds no certificate", path.display()));
    }
    let key = match PrivateKeyDer::from_pem_slice(&text) {
        Ok(key) => key,
        Err(_) => key_beside(path)?,
    };
    Ok(Certified { chain, key })
}

/// The key in `FILE.key`, where HAProxy looks when the certificate file has none.
fn key_beside(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let mut name = path.as_os_str().to_owned();
    name.push(".key");
    let beside = PathBuf::from(name);
    let text = std::fs::read(&beside).map_err(|e| {
        format!(
            "'{}' holds no private key, and '{}' cannot be read: {e}",
            path.display(),
            beside.display()
        )
    })?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| format!("'{}': {e}", beside.display()))
}
