//! Turning a validated [`TlsServerConfig`] into a `rustls::ServerConfig`:
//! reading the PEM files, the ring provider narrowed to the configured
//! versions, suites and groups, and the client certificate verifier
//! (webpki, wrapped for `client_allowed_sans`).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    ServerConfig, SignatureScheme,
};

use super::{names, san};
use crate::webconfig::{ClientAuth, Pem, TlsServerConfig, TlsVersion, WebConfigError};

/// A PEM file larger than this is refused; real chains are a few KiB.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Builds the server configuration, reading every file `tls` names now.
/// Errors name the `tls_server_config` key they are about.
pub fn server_config(tls: &TlsServerConfig) -> Result<ServerConfig, WebConfigError> {
    let provider = Arc::new(provider(tls)?);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (tls.min_version..=tls.max_version).contains(v))
    .map(|(_, v)| v)
    .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| at("cipher_suites", format!("no usable cipher suite: {e}")))?;
    let builder = match client_verifier(tls, &provider)? {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let cert_key = key_name(&tls.cert, "cert_file", "cert");
    let key_key = key_name(&tls.key, "key_file", "key");
    let chain = certificates(&tls.cert, cert_key)?;
    let key_bytes = pem_bytes(&tls.key, key_key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|e| at(key_key, format!("no private key read: {e}")))?;
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| at(key_key, format!("unusable with the certificate: {e}")))?;
    config.ignore_client_order = tls.prefer_server_cipher_suites;
    // pushgate speaks HTTP/1.1 only; a client offering only h2 is refused.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The ring provider with the configured TLS 1.2 suites and curves.
fn provider(tls: &TlsServerConfig) -> Result<CryptoProvider, WebConfigError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !tls.cipher_suites.is_empty() {
        let mut suites: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_some())
            .copied()
            .collect();
        for name in &tls.cipher_suites {
            if let Some(suite) = names::cipher_suite(name).map_err(|e| at("cipher_suites", e))? {
                if !suites.contains(&suite) {
                    suites.push(suite);
                }
            }
        }
        provider.cipher_suites = suites;
    }
    if !tls.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &tls.curve_preferences {
            let group = names::kx_group(name).map_err(|e| at("curve_preferences", e))?;
            if !groups
                .iter()
                .any(|g: &&dyn rustls::crypto::SupportedKxGroup| g.name() == group.name())
            {
                groups.push(group);
            }
        }
        provider.kx_groups = groups;
    }
    Ok(provider)
}

fn client_verifier(
    tls: &TlsServerConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, WebConfigError> {
    let Some(ca) = &tls.client_ca else {
        return Ok(None);
    };
    if tls.client_auth == ClientAuth::NoClientCert {
        return Ok(None);
    }
    let ca_key = key_name(ca, "client_ca_file", "client_ca");
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca, ca_key)? {
        roots
            .add(cert)
            .map_err(|e| at(ca_key, format!("unusable CA certificate: {e}")))?;
    }
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    if tls.client_auth == ClientAuth::VerifyClientCertIfGiven {
        builder = builder.allow_unauthenticated();
    }
    let verifier = builder
        .build()
        .map_err(|e| at(ca_key, format!("cannot verify clients with it: {e}")))?;
    if tls.client_allowed_sans.is_empty() {
        return Ok(Some(verifier));
    }
    Ok(Some(Arc::new(AllowedSans {
        inner: verifier,
        allowed: tls.client_allowed_sans.clone(),
    })))
}

/// Every certificate in `pem`; at least one.
fn certificates(pem: &Pem, key: &str) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let bytes = pem_bytes(pem, key)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| at(key, format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(at(key, "holds no CERTIFICATE block"));
    }
    Ok(certs)
}

fn pem_bytes(pem: &Pem, key: &str) -> Result<Vec<u8>, WebConfigError> {
    match pem {
        Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
        Pem::File(path) => {
            read_limited(path).map_err(|e| at(key, format!("{}: {e}", path.display())))
        }
    }
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_PEM_BYTES} bytes"
        )));
    }
    Ok(bytes)
}

/// The key `pem` was given with: `file_key` or `inline_key`.
fn key_name<'a>(pem: &Pem, file_key: &'a str, inline_key: &'a str) -> &'a str {
    match pem {
        Pem::File(_) => file_key,
        Pem::Inline(_) => inline_key,
    }
}

fn at(key: &str, problem: impl Into<String>) -> WebConfigError {
    WebConfigError::at(format!("tls_server_config.{key}"), problem)
}

/// `client_allowed_sans`: after webpki verified the chain, the end-entity
/// certificate must carry one of the allowed values as a SAN. As in the
/// toolkit, a client without a certificate is then refused even under
/// `VerifyClientCertIfGiven`.
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl fmt::Debug for AllowedSans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllowedSans")
            .field("allowed", &self.allowed)
            .finish()
    }
}

/// Why a verified client certificate is refused.
#[derive(Debug)]
struct SanRefused(String);

impl fmt::Display for SanRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SanRefused {}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let found = san::subject_alt_names(end_entity).map_err(|e| refuse(e.to_string()))?;
        if found.iter().any(|name| self.allowed.contains(name)) {
            Ok(verified)
        } else {
            Err(refuse(format!(
                "no SAN of the client certificate is in client_allowed_sans (found: {})",
                found.join(", ")
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn refuse(problem: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(SanRefused(
        problem,
    )))))
}
