//! Certificates as HAProxy reads a `crt` argument: one PEM file holding the certificate, its
//! chain and the private key (or the key in `FILE.key` beside it when the file has none), or
//! a directory of such files.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct Certified {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Certified {
    /// The contents as the runtime state keeps them.
    pub fn into_file(self) -> crate::state::CertFile {
        crate::state::CertFile {
            chain: std::sync::Arc::new(self.chain),
            key: std::sync::Arc::new(self.key),
        }
    }

    /// A copy of the runtime state's contents, for rustls.
    pub fn of(file: &crate::state::CertFile) -> Certified {
        Certified {
            chain: file.chain.to_vec(),
            key: file.key.clone_key(),
        }
    }
}

/// The extensions of the files beside a certificate that HAProxy never loads as one from a
/// directory: the key, the OCSP response, the issuer, the SCT list.
const NOT_CERTIFICATES: [&str; 4] = ["key", "ocsp", "issuer", "sctl"];

/// Reads the certificates of one `crt` argument: the file, or each certificate file of the
/// directory in name order (as HAProxy's `scandir(…, alphasort)`), with the path it came from.
pub fn load_crt(path: &Path) -> Result<Vec<(PathBuf, Certified)>, String> {
    if !path.is_dir() {
        return Ok(vec![(path.to_path_buf(), load(path)?)]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| format!("cannot read directory '{}': {e}", path.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|file| file.is_file() && is_certificate_file(file))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| load(&file).map(|certified| (file, certified)))
        .collect()
}

/// Whether a file found in a `crt` directory is loaded as a certificate.
fn is_certificate_file(file: &Path) -> bool {
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    !NOT_CERTIFICATES.contains(&extension)
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
