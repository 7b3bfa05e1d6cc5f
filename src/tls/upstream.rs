//! TLS to servers (`server … ssl [verify none|required] [ca-file F] [sni EXPR] [alpn LIST]
//! [crt F] [verifyhost NAME]`): one rustls `ClientConfig` per TLS server, built once before
//! the shards start and shared by all of them ([`Connectors`]), so its session store is the
//! same on every core and a connection a shard opens after another shard's resumes the
//! session; and the client side of one handshake ([`handshake`]). Health checks over TLS
//! (`check-ssl`, or any check of an `ssl` server) have a client side of their own, which
//! sends `check-sni` (HAProxy's checks never send the traffic's `sni`).
//!
//! The certificate check is HAProxy's: with `verify required` the chain must lead to a
//! `ca-file` CA, and the name is checked against `verifyhost` if given, else against the
//! SNI sent, else not at all (HAProxy checks no name when it has none to check).

use super::choices;
use crate::config::{Config, Global, ServerConfig as ServerLine, ServerSsl, Verify};
use crate::rules::{ConvertContext, RequestView, SampleExpr};
use futures_lite::io::{AsyncRead, AsyncWrite};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The client side of TLS to one server.
#[derive(Debug)]
pub struct Connector {
    config: Arc<rustls::ClientConfig>,
    /// `sni EXPR`: the name sent.
    sni: Option<Sni>,
}

/// A server's `sni` expression.
#[derive(Debug)]
enum Sni {
    /// `str(NAME)`: the same name for every request.
    Constant(String),
    /// A fetch (`req.hdr(host)`), evaluated over each request.
    Fetched(SampleExpr),
}

/// The TLS connection to a server after its handshake.
pub type TlsStream<IO> = futures_rustls::client::TlsStream<IO>;

impl Connector {
    /// The server name to send for `request` (`sni EXPR`'s value), if any; `None` when the
    /// server has no `sni` or its value is empty or not a name.
    pub fn sni_of<R: RequestView>(&self, request: &R) -> Option<String> {
        let expr = match self.sni.as_ref()? {
            Sni::Constant(name) => return Some(name.clone()),
            Sni::Fetched(expr) => expr,
        };
        let mut value = Vec::new();
        if !expr.write_value(request, &mut value) || value.is_empty() {
            return None;
        }
        let name = String::from_utf8(value).ok()?;
        ServerName::try_from(name.as_str()).ok()?;
        Some(name)
    }

    /// Whether the server has an `sni` expression (then the name varies per request).
    pub fn has_sni(&self) -> bool {
        self.sni.is_some()
    }

    /// The name of a constant `sni` (`str(NAME)`, a health check's `check-sni`).
    pub fn constant_sni(&self) -> Option<&str> {
        match self.sni.as_ref()? {
            Sni::Constant(name) => Some(name),
            Sni::Fetched(_) => None,
        }
    }
}

/// Runs the client side of a handshake on `io` to the server at `addr`, sending `sni` as
/// the server name (no SNI without it: the address is the name rustls keys its session
/// store by). Any failure is an I/O error; the caller treats it as a failed connect.
pub async fn handshake<IO>(
    connector: &Connector,
    io: IO,
    addr: SocketAddr,
    sni: Option<&str>,
) -> std::io::Result<TlsStream<IO>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let name = match sni.map(ServerName::try_from) {
        Some(Ok(name)) => name.to_owned(),
        _ => ServerName::IpAddress(addr.ip().into()),
    };
    futures_rustls::TlsConnector::from(connector.config.clone())
        .connect(name, io)
        .await
}

/// The client sides of one server: for its traffic (`ssl`), for its health checks (`ssl`
/// or `check-ssl`, sending `check-sni`).
#[derive(Debug, Clone, Default)]
pub struct ServerTls {
    pub traffic: Option<Arc<Connector>>,
    pub check: Option<Arc<Connector>>,
}

/// The TLS servers of every backend: per backend name, per server name.
#[derive(Default, Clone)]
pub struct Connectors {
    backends: HashMap<String, HashMap<String, ServerTls>>,
}

impl Connectors {
    /// Builds every TLS server's client side; an unreadable file or a missing CA is an error
    /// naming the `server` line, as HAProxy fails at start.
    pub fn load(config: &Config) -> Result<Connectors, String> {
        let mut connectors = Connectors::default();
        for proxy in &config.proxies {
            let Some(backend) = &proxy.backend else {
                continue;
            };
            let mut servers = HashMap::new();
            for server in &backend.servers {
                let ssl = &server.options.ssl;
                let build = |sni: Option<&str>| connector(server, &proxy.name, &config.global, sni);
                let tls = ServerTls {
                    traffic: (ssl.enabled)
                        .then(|| build(ssl.sni.as_deref()).map(Arc::new))
                        .transpose()?,
                    check: (ssl.checks_over_tls())
                        .then(|| build(check_sni(ssl).as_deref()).map(Arc::new))
                        .transpose()?,
                };
                if tls.check.is_some() {
                    servers.insert(server.name.clone(), tls);
                }
            }
            if !servers.is_empty() {
                connectors.backends.insert(proxy.name.clone(), servers);
            }
        }
        Ok(connectors)
    }

    /// The TLS servers of `backend`, by server name (empty when it has none).
    pub fn of(&self, backend: &str) -> HashMap<String, ServerTls> {
        self.backends.get(backend).cloned().unwrap_or_default()
    }
}

/// The name a TLS health check sends: `check-sni NAME`, as a constant expression.
fn check_sni(ssl: &ServerSsl) -> Option<String> {
    ssl.check_sni.as_ref().map(|name| format!("str({name})"))
}

/// The client side of one `server … ssl` line sending `sni`: its versions and suites (else
/// `ssl-default-server-*`), its certificate check, its client certificate, `alpn`, and a
/// session store unless `no-ssl-reuse`.
fn connector(
    server: &ServerLine,
    backend: &str,
    global: &Global,
    sni: Option<&str>,
) -> Result<Connector, String> {
    let at = &server.location;
    let error = |e: String| format!("{at}: 'server {backend}/{}' : {e}", server.name);
    let ssl = &server.options.ssl;
    let options = ssl.tls.or(&global.ssl_default_server);
    let choices = choices::choose(&options).map_err(error)?;
    for warning in &choices.warnings {
        log::warn!("{at}: 'server {backend}/{}': {warning}", server.name);
    }
    let provider = Arc::new(choices.provider);
    let verifier = verifier(ssl, sni.is_some(), global, &provider).map_err(error)?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&choices.versions)
        .map_err(|e| error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &ssl.crt {
        Some(crt) => {
            let path = under(global.crt_base.as_deref(), crt);
            let certified = super::certs::load(&path).map_err(error)?;
            builder
                .with_client_auth_cert(certified.chain, certified.key)
                .map_err(|e| error(format!("'{}': {e}", path.display())))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = ssl.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    if ssl.no_reuse {
        config.resumption = rustls::client::Resumption::disabled();
    } else if options.no_tls_tickets {
        config.resumption = rustls::client::Resumption::default()
            .tls12_resumption(rustls::client::Tls12Resumption::SessionIdOnly);
    }
    let sni = ssl
        .sni
        .as_deref()
        .map(parse_sni)
        .transpose()
        .map_err(error)?;
    Ok(Connector {
        config: Arc::new(config),
        sni,
    })
}

/// `sni EXPR`: a sample expression (`req.hdr(host)`), or `str(NAME)` (a name that must be
/// a host name).
fn parse_sni(text: &str) -> Result<Sni, String> {
    if let Some(name) = text.strip_prefix("str(").and_then(|t| t.strip_suffix(')')) {
        ServerName::try_from(name)
            .map_err(|_| format!("'sni {text}': '{name}' is not a host name"))?;
        return Ok(Sni::Constant(name.to_string()));
    }
    let context = ConvertContext {
        read_file: &|file| Err(format!("'sni' reads no file ('{file}')")),
        user: String::new(),
    };
    SampleExpr::parse(text, &context)
        .map(|(expr, _)| Sni::Fetched(expr.for_value()))
        .map_err(|e| format!("'sni {text}': {e}"))
}

/// A relative file is under `base` (`join` keeps an absolute one as it is).
fn under(base: Option<&Path>, file: &Path) -> std::path::PathBuf {
    base.map_or_else(|| file.to_path_buf(), |base| base.join(file))
}

/// The certificate check of `verify` (else `ssl-server-verify`, else required, as HAProxy).
fn verifier(
    ssl: &ServerSsl,
    sends_sni: bool,
    global: &Global,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let verify = ssl
        .verify
        .or(global.ssl_server_verify)
        .unwrap_or(Verify::Required);
    if verify == Verify::None {
        return Ok(Arc::new(NoVerification(provider.clone())));
    }
    let Some(ca_file) = &ssl.ca_file else {
        // HAProxy's words for the same mistake.
        return Err("verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.".into());
    };
    let roots = super::client_auth::roots(&under(global.ca_base.as_deref(), ca_file))?;
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let name = match &ssl.verifyhost {
        Some(host) => NameCheck::Fixed(
            ServerName::try_from(host.clone())
                .map_err(|_| format!("'verifyhost {host}' is not a host name"))?,
        ),
        None if sends_sni => NameCheck::Sent,
        None => NameCheck::None,
    };
    Ok(Arc::new(Verification { webpki, name }))
}

/// Which name a server's certificate must hold.
#[derive(Debug)]
enum NameCheck {
    /// `verifyhost NAME`.
    Fixed(ServerName<'static>),
    /// The SNI sent (no name checked when none was sent).
    Sent,
    None,
}

/// `verify required`: the chain against the CAs, the name as [`NameCheck`] says.
#[derive(Debug)]
struct Verification {
    webpki: Arc<WebPkiServerVerifier>,
    name: NameCheck,
}

impl ServerCertVerifier for Verification {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (name, check_name) = match &self.name {
            NameCheck::Fixed(name) => (name, true),
            NameCheck::Sent => (server_name, matches!(server_name, ServerName::DnsName(_))),
            NameCheck::None => (server_name, false),
        };
        let verified =
            self.webpki
                .verify_server_cert(end_entity, intermediates, name, ocsp_response, now);
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `verify none`: any certificate is taken, but the handshake's signatures are still
/// checked (they prove the server holds the key of the certificate it sent).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
