//! The `tls_server_config` section of the web config: keys, types and
//! validation with the exporter-toolkit's semantics, into a
//! [`TlsServerConfig`].
//!
//! Owns the section's schema only. It does not read certificate files or
//! build rustls objects (that is `tls`), but checks cipher suite and curve
//! names against what `tls` can map, so a file is valid for both or neither.

use std::fmt;
use std::path::{Path, PathBuf};

use yaml_rust2::Yaml;

use super::{join, kind, mapping, unknown_key, WebConfigError};

const PARENT: &str = "tls_server_config";

const KEYS: &[&str] = &[
    "cert",
    "cert_file",
    "cipher_suites",
    "client_allowed_sans",
    "client_auth_type",
    "client_ca",
    "client_ca_file",
    "curve_preferences",
    "key",
    "key_file",
    "max_version",
    "min_version",
    "prefer_server_cipher_suites",
];

/// A validated `tls_server_config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsServerConfig {
    /// `cert_file` or inline `cert`: the server's certificate chain (PEM).
    pub cert: Pem,
    /// `key_file` or inline `key`: its private key (PEM).
    pub key: Pem,
    /// `client_ca_file` or inline `client_ca`: roots for client certificates.
    pub client_ca: Option<Pem>,
    pub client_auth: ClientAuth,
    /// `client_allowed_sans`: a verified client certificate must carry one of
    /// these as a SAN (DNS name, email, IP or URI, compared as strings).
    pub client_allowed_sans: Vec<String>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// Go names of the TLS 1.2 suites to offer; empty means rustls' defaults.
    /// TLS 1.3 names are accepted and always enabled, as in Go.
    pub cipher_suites: Vec<String>,
    /// Go names of the key exchange groups, in order; empty means defaults.
    pub curve_preferences: Vec<String>,
    /// `prefer_server_cipher_suites` (default true, as in the toolkit).
    pub prefer_server_cipher_suites: bool,
}

/// Where PEM text comes from: a file (re-read when it changes) or the web
/// config itself.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Inline(String),
}

impl fmt::Debug for Pem {
    // Inline keys stay out of logs and test output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "File({:?})", path),
            Pem::Inline(text) => write!(f, "Inline({} bytes)", text.len()),
        }
    }
}

impl Pem {
    /// The file to watch, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Pem::File(path) => Some(path),
            Pem::Inline(_) => None,
        }
    }
}

/// `client_auth_type`: only the kinds that verify certificates are served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// `min_version` / `max_version`; rustls speaks TLS 1.2 and 1.3 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsServerConfig {
    /// Resolves relative file paths against `dir` (the web config file's
    /// directory), as the toolkit does.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for pem in [&mut self.cert, &mut self.key]
            .into_iter()
            .chain(self.client_ca.as_mut())
        {
            if let Pem::File(path) = pem {
                if path.is_relative() {
                    *path = dir.join(&*path);
                }
            }
        }
    }

    /// The files whose changes must be picked up, in a fixed order.
    pub fn files(&self) -> Vec<&Path> {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(Pem::path)
            .collect()
    }
}

/// Parses the section; `Ok(None)` when it sets no key at all (the toolkit
/// then serves plain HTTP).
pub(super) fn parse(value: &Yaml) -> Result<Option<TlsServerConfig>, WebConfigError> {
    let entries = mapping(PARENT, value)?;
    if entries.is_empty() {
        return Ok(None);
    }
    let mut cert_file = None;
    let mut cert = None;
    let mut key_file = None;
    let mut key = None;
    let mut ca_file = None;
    let mut ca = None;
    let mut client_auth = None;
    let mut sans = Vec::new();
    let mut min_version = TlsVersion::Tls12;
    let mut max_version = TlsVersion::Tls13;
    let mut cipher_suites = Vec::new();
    let mut curves = Vec::new();
    let mut prefer_server = true;
    for (name, value) in entries {
        let at = join(PARENT, name);
        match name {
            "cert_file" => cert_file = non_empty(&at, value)?.map(PathBuf::from),
            "cert" => cert = non_empty(&at, value)?,
            "key_file" => key_file = non_empty(&at, value)?.map(PathBuf::from),
            "key" => key = non_empty(&at, value)?,
            "client_ca_file" => ca_file = non_empty(&at, value)?.map(PathBuf::from),
            "client_ca" => ca = non_empty(&at, value)?,
            "client_auth_type" => client_auth = Some(client_auth_type(&at, value)?),
            "client_allowed_sans" => sans = strings(&at, value)?,
            "min_version" => min_version = version(&at, value)?,
            "max_version" => max_version = version(&at, value)?,
            "cipher_suites" => {
                cipher_suites = strings(&at, value)?;
                for suite in &cipher_suites {
                    crate::tls::names::cipher_suite(suite)
                        .map_err(|problem| WebConfigError::at(&at, problem))?;
                }
            }
            "curve_preferences" => {
                curves = strings(&at, value)?;
                for curve in &curves {
                    crate::tls::names::kx_group(curve)
                        .map_err(|problem| WebConfigError::at(&at, problem))?;
                }
            }
            "prefer_server_cipher_suites" => prefer_server = boolean(&at, value)?,
            _ => return Err(unknown_key(PARENT, name, KEYS)),
        }
    }
    let cert = one_of(cert_file, cert, "cert_file", "cert")?;
    let key = one_of(key_file, key, "key_file", "key")?;
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, _) => return Err(missing("cert_file", "cert")),
        (_, None) => return Err(missing("key_file", "key")),
    };
    let client_ca = one_of(ca_file, ca, "client_ca_file", "client_ca")?;
    let client_auth = client_auth.unwrap_or_default();
    check_client_auth(client_auth, client_ca.is_some(), !sans.is_empty())?;
    if min_version > max_version {
        return Err(WebConfigError::at(
            join(PARENT, "min_version"),
            "is above max_version",
        ));
    }
    Ok(Some(TlsServerConfig {
        cert,
        key,
        client_ca,
        client_auth,
        client_allowed_sans: sans,
        min_version,
        max_version,
        cipher_suites,
        curve_preferences: curves,
        prefer_server_cipher_suites: prefer_server,
    }))
}

fn check_client_auth(auth: ClientAuth, has_ca: bool, has_sans: bool) -> Result<(), WebConfigError> {
    let verifies = auth != ClientAuth::NoClientCert;
    if has_ca && !verifies {
        return Err(WebConfigError::at(
            join(PARENT, "client_auth_type"),
            "client CAs are configured without a client auth policy; set \
             VerifyClientCertIfGiven or RequireAndVerifyClientCert",
        ));
    }
    if verifies && !has_ca {
        // Go would fall back to the system roots; a static binary has none.
        return Err(WebConfigError::at(
            join(PARENT, "client_ca_file"),
            format!("client_auth_type {auth:?} needs client_ca_file or client_ca"),
        ));
    }
    if has_sans && !verifies {
        return Err(WebConfigError::at(
            join(PARENT, "client_allowed_sans"),
            "needs client_auth_type RequireAndVerifyClientCert (or VerifyClientCertIfGiven)",
        ));
    }
    Ok(())
}

fn missing(file_key: &str, inline_key: &str) -> WebConfigError {
    WebConfigError::at(
        join(PARENT, file_key),
        format!("missing: set {file_key} or {inline_key}"),
    )
}

/// A file path or an inline PEM, not both (the toolkit's rule).
fn one_of(
    file: Option<PathBuf>,
    inline: Option<String>,
    file_key: &str,
    inline_key: &str,
) -> Result<Option<Pem>, WebConfigError> {
    match (file, inline) {
        (Some(_), Some(_)) => Err(WebConfigError::at(
            join(PARENT, inline_key),
            format!("{inline_key} and {file_key} are mutually exclusive"),
        )),
        (Some(path), None) => Ok(Some(Pem::File(path))),
        (None, Some(text)) => Ok(Some(Pem::Inline(text))),
        (None, None) => Ok(None),
    }
}

/// A string; an empty one (or an empty value) counts as not set.
fn non_empty(at: &str, value: &Yaml) -> Result<Option<String>, WebConfigError> {
    match value {
        Yaml::Null => Ok(None),
        Yaml::String(s) if s.is_empty() => Ok(None),
        Yaml::String(s) => Ok(Some(s.clone())),
        other => Err(WebConfigError::at(
            at,
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

fn strings(at: &str, value: &Yaml) -> Result<Vec<String>, WebConfigError> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Array(items) => items
            .iter()
            .map(|item| match item {
                Yaml::String(s) => Ok(s.clone()),
                other => Err(WebConfigError::at(
                    at,
                    format!("expected a list of strings, found {}", kind(other)),
                )),
            })
            .collect(),
        other => Err(WebConfigError::at(
            at,
            format!("expected a list of strings, got {}", kind(other)),
        )),
    }
}

fn boolean(at: &str, value: &Yaml) -> Result<bool, WebConfigError> {
    match value {
        Yaml::Boolean(b) => Ok(*b),
        other => Err(WebConfigError::at(
            at,
            format!("expected true or false, got {}", kind(other)),
        )),
    }
}

fn version(at: &str, value: &Yaml) -> Result<TlsVersion, WebConfigError> {
    match value {
        Yaml::String(s) if s == "TLS12" => Ok(TlsVersion::Tls12),
        Yaml::String(s) if s == "TLS13" => Ok(TlsVersion::Tls13),
        Yaml::String(s) if s == "TLS10" || s == "TLS11" => Err(WebConfigError::at(
            at,
            format!("{s} is not supported by pushgate (TLS 1.0 and 1.1 are insecure); use TLS12 or TLS13"),
        )),
        other => Err(WebConfigError::at(
            at,
            format!(
                "unknown TLS version {} (known: TLS12, TLS13)",
                super::scalar_text(other).unwrap_or_else(|| kind(other).to_string())
            ),
        )),
    }
}

fn client_auth_type(at: &str, value: &Yaml) -> Result<ClientAuth, WebConfigError> {
    let Yaml::String(name) = value else {
        return Err(WebConfigError::at(
            at,
            format!("expected a string, got {}", kind(value)),
        ));
    };
    match name.as_str() {
        "" | "NoClientCert" => Ok(ClientAuth::NoClientCert),
        "VerifyClientCertIfGiven" => Ok(ClientAuth::VerifyClientCertIfGiven),
        "RequireAndVerifyClientCert" => Ok(ClientAuth::RequireAndVerifyClientCert),
        "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
            Err(WebConfigError::at(
                at,
                format!(
                    "{name} accepts client certificates without verifying them, which pushgate \
                     does not do; use VerifyClientCertIfGiven or RequireAndVerifyClientCert \
                     with client_ca_file"
                ),
            ))
        }
        _ => Err(WebConfigError::at(
            at,
            format!(
                "unknown client_auth_type {name:?} (known: NoClientCert, \
                 VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse as parse_config;
    use super::*;

    fn tls(text: &str) -> TlsServerConfig {
        parse_config(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .tls
            .unwrap_or_else(|| panic!("{text}: no TLS config"))
    }

    fn err(text: &str) -> WebConfigError {
        parse_config(text).expect_err("config must be refused")
    }

    const BASE: &str = "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n";

    #[test]
    fn minimal_config_has_the_toolkit_defaults() {
        let config = tls(BASE);
        assert_eq!(config.cert, Pem::File("s.crt".into()));
        assert_eq!(config.key, Pem::File("s.key".into()));
        assert_eq!(config.client_ca, None);
        assert_eq!(config.client_auth, ClientAuth::NoClientCert);
        assert_eq!(
            (config.min_version, config.max_version),
            (TlsVersion::Tls12, TlsVersion::Tls13)
        );
        assert!(config.prefer_server_cipher_suites);
        assert!(config.cipher_suites.is_empty() && config.curve_preferences.is_empty());
    }

    #[test]
    fn empty_section_means_plain_http() {
        for text in ["tls_server_config:", "tls_server_config: {}"] {
            assert_eq!(parse_config(text).expect(text).tls, None, "{text}");
        }
    }

    #[test]
    fn every_key_is_read() {
        let config = tls(&format!(
            "{BASE}  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  \
             client_allowed_sans: [a.example, 10.0.0.1]\n  min_version: TLS13\n  \
             max_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
             TLS_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256, CurveP384]\n  \
             prefer_server_cipher_suites: false\n"
        ));
        assert_eq!(config.client_ca, Some(Pem::File("ca.crt".into())));
        assert_eq!(config.client_auth, ClientAuth::RequireAndVerifyClientCert);
        assert_eq!(config.client_allowed_sans, ["a.example", "10.0.0.1"]);
        assert_eq!(config.min_version, TlsVersion::Tls13);
        assert_eq!(config.cipher_suites.len(), 2);
        assert_eq!(
            config.curve_preferences,
            ["X25519", "CurveP256", "CurveP384"]
        );
        assert!(!config.prefer_server_cipher_suites);
    }

    #[test]
    fn inline_pem_is_read_and_hidden_from_debug() {
        let config = tls(
            "tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n    abc\n  \
             key: secret-key-text\n  client_ca: ca-text\n  \
             client_auth_type: VerifyClientCertIfGiven\n",
        );
        assert_eq!(
            config.cert,
            Pem::Inline("-----BEGIN CERTIFICATE-----\nabc\n".into())
        );
        assert_eq!(config.client_ca, Some(Pem::Inline("ca-text".into())));
        assert!(!format!("{config:?}").contains("secret-key-text"));
        assert!(config.files().is_empty());
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let mut config = tls(&format!(
            "{BASE}  client_ca_file: /etc/ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n"
        ));
        config.resolve_paths(Path::new("/srv/conf"));
        assert_eq!(
            config.files(),
            [
                Path::new("/srv/conf/s.crt"),
                Path::new("/srv/conf/s.key"),
                Path::new("/etc/ca.crt")
            ]
        );
    }

    #[test]
    fn invalid_sections_name_the_key() {
        let cases = [
            ("tls_server_config: {cert_file: a}", "tls_server_config.key_file", "missing"),
            ("tls_server_config: {key_file: a}", "tls_server_config.cert_file", "missing"),
            (
                "tls_server_config: {cert_file: a, cert: x, key_file: b}",
                "tls_server_config.cert",
                "mutually exclusive",
            ),
            (
                "tls_server_config: {cert_file: a, key: x, key_file: b}",
                "tls_server_config.key",
                "mutually exclusive",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_ca: x, client_ca_file: y, client_auth_type: VerifyClientCertIfGiven}",
                "tls_server_config.client_ca",
                "mutually exclusive",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, min_version: TLS11}",
                "tls_server_config.min_version",
                "TLS11 is not supported by pushgate",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, max_version: TLS10}",
                "tls_server_config.max_version",
                "TLS10 is not supported by pushgate",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, min_version: SSL3}",
                "tls_server_config.min_version",
                "unknown TLS version SSL3",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}",
                "tls_server_config.min_version",
                "above max_version",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequestClientCert, client_ca_file: c}",
                "tls_server_config.client_auth_type",
                "RequestClientCert accepts client certificates without verifying them",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert, client_ca_file: c}",
                "tls_server_config.client_auth_type",
                "RequireAnyClientCert accepts client certificates without verifying",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}",
                "tls_server_config.client_auth_type",
                "unknown client_auth_type",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}",
                "tls_server_config.client_auth_type",
                "without a client auth policy",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}",
                "tls_server_config.client_ca_file",
                "needs client_ca_file or client_ca",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_allowed_sans: [x]}",
                "tls_server_config.client_allowed_sans",
                "needs client_auth_type",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]}",
                "tls_server_config.cipher_suites",
                "cipher suite TLS_RSA_WITH_AES_128_CBC_SHA is not supported by pushgate",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, curve_preferences: [CurveP521]}",
                "tls_server_config.curve_preferences",
                "curve CurveP521 is not supported by pushgate",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, cipher_suites: TLS_AES_128_GCM_SHA256}",
                "tls_server_config.cipher_suites",
                "expected a list of strings",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, prefer_server_cipher_suites: 1}",
                "tls_server_config.prefer_server_cipher_suites",
                "expected true or false",
            ),
            (
                "tls_server_config: {cert_file: [a], key_file: b}",
                "tls_server_config.cert_file",
                "expected a string",
            ),
            (
                "tls_server_config: {cert_file: a, key_file: b, client_ca_files: c}",
                "tls_server_config.client_ca_files",
                "unknown key",
            ),
        ];
        for (text, key, problem) in cases {
            let e = err(text);
            assert_eq!(e.key(), key, "{text}: {e}");
            assert!(e.to_string().contains(problem), "{text}: {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
}
