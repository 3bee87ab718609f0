//! In-memory handshakes between a rustls client and the server
//! configuration `tls` builds: versions, suites, client certificates, SANs
//! and reloading. Certificates come from scripts/test/make-certs.sh
//! (openssl), made once per test process.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use super::testpki::pki;
use super::{build, ServerConfigSource, TlsReloader};
use crate::webconfig::{self, WebConfigError};

fn file(name: &str) -> String {
    pki().join(name).display().to_string()
}

/// A scratch directory for one test, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("pushgate-tls-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// Replaces `name` atomically (new inode) with the bytes of `from`.
    fn install(&self, from: &str, name: &str) {
        self.write(name, &fs::read(pki().join(from)).expect("read pki file"));
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        let tmp = self.0.join(format!(".{name}.tmp"));
        fs::write(&tmp, bytes).expect("write");
        fs::rename(&tmp, self.0.join(name)).expect("rename");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Parses a web config whose section is `tls` (YAML lines at indent 2) and
/// builds the server configuration.
fn server(tls: &str) -> Result<Arc<ServerConfig>, WebConfigError> {
    let text = format!("tls_server_config:\n{tls}");
    let config = webconfig::parse(&text)?;
    let tls = config.tls.expect("a TLS section");
    build::server_config(&tls).map(Arc::new)
}

fn base() -> String {
    format!(
        "  cert_file: {}\n  key_file: {}\n",
        file("server.crt"),
        file("server.key")
    )
}

fn mtls(auth: &str, extra: &str) -> String {
    format!(
        "{}  client_ca_file: {}\n  client_auth_type: {auth}\n{extra}",
        base(),
        file("ca.crt")
    )
}

/// What a client brings.
struct Client {
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    suites: Option<Vec<rustls::SupportedCipherSuite>>,
    groups: Option<Vec<&'static dyn rustls::crypto::SupportedKxGroup>>,
    identity: Option<&'static str>,
}

impl Client {
    fn new() -> Client {
        Client {
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            suites: None,
            groups: None,
            identity: None,
        }
    }

    fn tls12(mut self) -> Client {
        self.versions = vec![&rustls::version::TLS12];
        self
    }

    fn tls13(mut self) -> Client {
        self.versions = vec![&rustls::version::TLS13];
        self
    }

    fn with_cert(mut self, name: &'static str) -> Client {
        self.identity = Some(name);
        self
    }

    fn config(&self) -> ClientConfig {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = &self.suites {
            provider.cipher_suites = suites.clone();
        }
        if let Some(groups) = &self.groups {
            provider.kx_groups = groups.clone();
        }
        let mut roots = RootCertStore::empty();
        let ca = CertificateDer::from_pem_file(pki().join("ca.crt")).expect("ca");
        roots.add(ca).expect("add ca");
        let builder = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&self.versions)
            .expect("client versions")
            .with_root_certificates(roots);
        match self.identity {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let chain = vec![
                    CertificateDer::from_pem_file(pki().join(format!("{name}.crt")))
                        .expect("client cert"),
                ];
                let key = PrivateKeyDer::from_pem_file(pki().join(format!("{name}.key")))
                    .expect("client key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client auth")
            }
        }
    }
}

/// What a finished handshake agreed on.
#[derive(Debug)]
struct Session {
    version: rustls::ProtocolVersion,
    suite: rustls::CipherSuite,
    group: Option<rustls::NamedGroup>,
    server_cert: Vec<u8>,
}

/// Runs a handshake and one request/answer in memory; `Err` says which side
/// failed and why.
fn connect(server: Arc<ServerConfig>, client: &Client) -> Result<Session, String> {
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let mut c =
        ClientConnection::new(Arc::new(client.config()), name).map_err(|e| e.to_string())?;
    let mut s = ServerConnection::new(server).map_err(|e| e.to_string())?;
    let mut sent = false;
    let mut answered = false;
    let mut received = Vec::new();
    for _ in 0..20 {
        if !c.is_handshaking() && !sent {
            std::io::Write::write_all(&mut c.writer(), b"ping").map_err(|e| e.to_string())?;
            sent = true;
        }
        shuttle(&mut c, &mut s)?;
        s.process_new_packets()
            .map_err(|e| format!("server: {e}"))?;
        let mut buf = [0u8; 16];
        if let Ok(n) = std::io::Read::read(&mut s.reader(), &mut buf) {
            if &buf[..n] == b"ping" && !answered {
                std::io::Write::write_all(&mut s.writer(), b"pong").map_err(|e| e.to_string())?;
                answered = true;
            }
        }
        shuttle(&mut s, &mut c)?;
        c.process_new_packets()
            .map_err(|e| format!("client: {e}"))?;
        if let Ok(n) = std::io::Read::read(&mut c.reader(), &mut buf) {
            received.extend_from_slice(&buf[..n]);
        }
        if received == b"pong" {
            return Ok(Session {
                version: c.protocol_version().ok_or("no version")?,
                suite: c.negotiated_cipher_suite().ok_or("no suite")?.suite(),
                group: s.negotiated_key_exchange_group().map(|g| g.name()),
                server_cert: c.peer_certificates().ok_or("no peer cert")?[0].to_vec(),
            });
        }
    }
    Err("no answer after 20 rounds".into())
}

fn shuttle(
    from: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>,
    to: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>,
) -> Result<(), String> {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).map_err(|e| e.to_string())?;
    }
    let mut slice = bytes.as_slice();
    while !slice.is_empty() {
        to.read_tls(&mut slice).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn cert_der(name: &str) -> Vec<u8> {
    CertificateDer::from_pem_file(pki().join(name))
        .expect("cert")
        .to_vec()
}

#[test]
fn plain_server_speaks_tls12_and_tls13() {
    let config = server(&base()).expect("valid");
    let s = connect(config.clone(), &Client::new()).expect("TLS 1.3");
    assert_eq!(s.version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(s.server_cert, cert_der("server.crt"));
    let s = connect(config.clone(), &Client::new().tls12()).expect("TLS 1.2");
    assert_eq!(s.version, rustls::ProtocolVersion::TLSv1_2);
    // A client certificate nobody asked for is not sent and not needed.
    connect(config, &Client::new().with_cert("client-a")).expect("unasked cert");
}

#[test]
fn inline_pem_works_like_files() {
    let indent = |name: &str| {
        fs::read_to_string(pki().join(name))
            .expect("pem")
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let config = server(&format!(
        "  cert: |\n{}  key: |\n{}",
        indent("server.crt"),
        indent("server.key")
    ))
    .expect("inline");
    connect(config, &Client::new()).expect("handshake");
}

#[test]
fn version_bounds_are_enforced() {
    let only13 = server(&format!("{}  min_version: TLS13\n", base())).expect("valid");
    let e = connect(only13.clone(), &Client::new().tls12()).expect_err("TLS 1.2 refused");
    assert!(e.starts_with("server: "), "{e}");
    connect(only13, &Client::new().tls13()).expect("TLS 1.3");
    let only12 = server(&format!("{}  max_version: TLS12\n", base())).expect("valid");
    let s = connect(only12.clone(), &Client::new()).expect("falls back");
    assert_eq!(s.version, rustls::ProtocolVersion::TLSv1_2);
    connect(only12, &Client::new().tls13()).expect_err("TLS 1.3 refused");
}

/// A TLS 1.1 ClientHello (rustls clients cannot send one), offering
/// TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA and TLS_RSA_WITH_AES_128_CBC_SHA,
/// with a signature_algorithms extension when `sigalgs`.
fn tls11_client_hello(sigalgs: bool) -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([7u8; 32]);
    body.push(0); // session id
    body.extend([0x00, 0x04, 0xc0, 0x09, 0x00, 0x2f]);
    body.extend([0x01, 0x00]); // null compression
    if sigalgs {
        // extensions: signature_algorithms [ecdsa_p256_sha256, rsa_pkcs1_sha256]
        body.extend([
            0x00, 0x0a, 0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x04, 0x01,
        ]);
    }
    let mut handshake = vec![0x01, 0x00, 0x00, body.len() as u8];
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, handshake.len() as u8];
    record.extend(handshake);
    record
}

/// Feeds `hello` to a fresh server connection: the error and the alert
/// record it answers with.
fn refuse_hello(hello: &[u8]) -> (rustls::Error, Vec<u8>) {
    let config = server(&base()).expect("valid");
    let mut s = ServerConnection::new(config).expect("connection");
    s.read_tls(&mut &hello[..]).expect("read hello");
    let e = s.process_new_packets().expect_err("hello refused");
    let mut out = Vec::new();
    s.write_tls(&mut out).expect("alert");
    (e, out)
}

#[test]
fn tls11_is_refused_with_a_fatal_alert() {
    let (e, alert) = refuse_hello(&tls11_client_hello(true));
    assert!(e.to_string().contains("Tls12NotOffered"), "{e}");
    // Alert record: fatal (2), protocol_version (70).
    assert_eq!(
        (alert[0], &alert[alert.len() - 2..]),
        (0x15, &[2u8, 70][..]),
        "{alert:?}"
    );
    // Without TLS 1.2's signature_algorithms it fails one check earlier.
    let (e, alert) = refuse_hello(&tls11_client_hello(false));
    assert!(e.to_string().contains("SignatureAlgorithms"), "{e}");
    assert_eq!((alert[0], alert[alert.len() - 2]), (0x15, 2), "{alert:?}");
}

#[test]
fn cipher_suites_and_curves_narrow_the_offer() {
    let config = server(&format!(
        "{}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]\n  curve_preferences: [CurveP384]\n",
        base()
    ))
    .expect("valid");
    let s = connect(config.clone(), &Client::new().tls12()).expect("TLS 1.2");
    assert_eq!(
        s.suite,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    );
    assert_eq!(s.group, Some(rustls::NamedGroup::secp384r1));
    // TLS 1.3 suites stay on; the group is still the configured one.
    let s = connect(config.clone(), &Client::new()).expect("TLS 1.3");
    assert_eq!(s.version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(s.group, Some(rustls::NamedGroup::secp384r1));
    let mut other = Client::new().tls12();
    other.suites = Some(vec![
        rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ]);
    connect(config.clone(), &other).expect_err("suite not offered");
    let mut x25519_only = Client::new();
    x25519_only.groups = Some(vec![rustls::crypto::ring::kx_group::X25519]);
    connect(config, &x25519_only).expect_err("group not offered");
}

#[test]
fn require_and_verify_needs_a_certificate_from_the_ca() {
    let config = server(&mtls("RequireAndVerifyClientCert", "")).expect("valid");
    for client in [Client::new(), Client::new().tls12()] {
        let e = connect(config.clone(), &client).expect_err("no certificate");
        assert!(e.contains("server: ") && e.contains("certificate"), "{e}");
    }
    let e = connect(config.clone(), &Client::new().with_cert("rogue")).expect_err("other CA");
    assert!(
        e.contains("UnknownIssuer") || e.contains("unknown issuer"),
        "{e}"
    );
    connect(config.clone(), &Client::new().with_cert("client-a")).expect("client-a");
    connect(config, &Client::new().tls12().with_cert("client-b")).expect("client-b, TLS 1.2");
}

#[test]
fn verify_if_given_allows_no_certificate_but_not_a_bad_one() {
    let config = server(&mtls("VerifyClientCertIfGiven", "")).expect("valid");
    connect(config.clone(), &Client::new()).expect("no certificate");
    connect(config.clone(), &Client::new().with_cert("client-a")).expect("good certificate");
    connect(config, &Client::new().with_cert("rogue")).expect_err("bad certificate");
}

#[test]
fn allowed_sans_match_any_san_kind_exactly() {
    for allowed in [
        "client-a.example",
        "ops@example.com",
        "10.0.0.1",
        "spiffe://example.org/a",
    ] {
        let config = server(&mtls(
            "RequireAndVerifyClientCert",
            &format!("  client_allowed_sans: [nobody.example, '{allowed}']\n"),
        ))
        .expect("valid");
        connect(config.clone(), &Client::new().with_cert("client-a")).expect(allowed);
        let e = connect(config, &Client::new().with_cert("client-b")).expect_err(allowed);
        assert!(
            e.contains("client_allowed_sans (found: client-b.example)"),
            "{e}"
        );
    }
    for near_miss in ["CLIENT-A.EXAMPLE", "client-a", "*.example", "10.0.0.01"] {
        let config = server(&mtls(
            "RequireAndVerifyClientCert",
            &format!("  client_allowed_sans: ['{near_miss}']\n"),
        ))
        .expect("valid");
        connect(config, &Client::new().with_cert("client-a")).expect_err(near_miss);
    }
    // As in the toolkit, allowed SANs make a certificate necessary.
    let config = server(&mtls(
        "VerifyClientCertIfGiven",
        "  client_allowed_sans: [client-a.example]\n",
    ))
    .expect("valid");
    connect(config.clone(), &Client::new()).expect_err("no certificate");
    connect(config, &Client::new().with_cert("client-a")).expect("allowed");
}

#[test]
fn build_errors_name_the_key() {
    let missing = server(&format!(
        "  cert_file: {}\n  key_file: /nonexistent/s.key\n",
        file("server.crt")
    ))
    .expect_err("missing key");
    assert_eq!(missing.key(), "tls_server_config.key_file");
    assert!(
        missing.to_string().contains("/nonexistent/s.key"),
        "{missing}"
    );
    let mismatch = server(&format!(
        "  cert_file: {}\n  key_file: {}\n",
        file("server.crt"),
        file("server2.key")
    ))
    .expect_err("mismatch");
    assert_eq!(mismatch.key(), "tls_server_config.key_file", "{mismatch}");
    let not_cert = server(&format!(
        "  cert_file: {}\n  key_file: {}\n",
        file("server.key"),
        file("server.key")
    ))
    .expect_err("a key is no certificate");
    assert_eq!(not_cert.key(), "tls_server_config.cert_file", "{not_cert}");
    assert!(
        not_cert.to_string().contains("no CERTIFICATE"),
        "{not_cert}"
    );
    let bad_ca = server(&format!(
        "{}  client_ca: 'not pem'\n  client_auth_type: RequireAndVerifyClientCert\n",
        base()
    ))
    .expect_err("bad CA");
    assert_eq!(bad_ca.key(), "tls_server_config.client_ca", "{bad_ca}");
}

/// A web config in `dir` pointing at `server.crt`/`server.key` beside it.
fn reloading(dir: &Scratch, extra: &str) -> TlsReloader {
    dir.install("server.crt", "server.crt");
    dir.install("server.key", "server.key");
    dir.write(
        "web.yml",
        format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}")
            .as_bytes(),
    );
    TlsReloader::from_flag(&dir.path("web.yml").display().to_string())
        .expect("valid")
        .expect("TLS configured")
}

#[test]
fn rotated_files_are_picked_up_and_bad_ones_keep_the_old_config() {
    let dir = Scratch::new("rotate");
    let reloader = reloading(&dir, "");
    assert!(!reloader.check(), "nothing changed");
    let first = connect(reloader.current(), &Client::new()).expect("first cert");
    assert_eq!(first.server_cert, cert_der("server.crt"));
    // Half a rotation (new certificate, old key) does not build: old config.
    dir.install("server2.crt", "server.crt");
    assert!(!reloader.check(), "mismatched pair refused");
    assert!(!reloader.check(), "and not retried until something changes");
    assert_eq!(
        connect(reloader.current(), &Client::new())
            .expect("old")
            .server_cert,
        cert_der("server.crt")
    );
    dir.install("server2.key", "server.key");
    assert!(reloader.check(), "completed rotation picked up");
    let second = connect(reloader.current(), &Client::new()).expect("rotated");
    assert_eq!(second.server_cert, cert_der("server2.crt"));
    // A truncated key file keeps the rotated config.
    dir.write("server.key", b"-----BEGIN PRIVATE KEY-----\n");
    assert!(!reloader.check());
    assert_eq!(
        connect(reloader.current(), &Client::new())
            .expect("kept")
            .server_cert,
        cert_der("server2.crt")
    );
    fs::remove_file(dir.path("server.key")).expect("remove");
    assert!(!reloader.check(), "a missing file keeps the config too");
    dir.install("server.key", "server.key");
    dir.install("server.crt", "server.crt");
    assert!(reloader.check());
    assert_eq!(
        connect(reloader.current(), &Client::new())
            .expect("back")
            .server_cert,
        cert_der("server.crt")
    );
}

#[test]
fn a_changed_tls_section_is_picked_up() {
    let dir = Scratch::new("section");
    let reloader = reloading(&dir, "");
    connect(reloader.current(), &Client::new().tls12()).expect("TLS 1.2 allowed");
    dir.write("web.yml", b"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n");
    assert!(reloader.check());
    connect(reloader.current(), &Client::new().tls12()).expect_err("TLS 1.2 now refused");
    // An invalid file or a removed section keeps the last good config.
    dir.write("web.yml", b"tls_server_config:\n  cert_file: server.crt\n");
    assert!(!reloader.check());
    dir.write("web.yml", b"basic_auth_users: {}\n");
    assert!(!reloader.check());
    connect(reloader.current(), &Client::new().tls13()).expect("kept");
    connect(reloader.current(), &Client::new().tls12()).expect_err("kept TLS 1.3 only");
}

#[test]
fn client_ca_changes_are_picked_up() {
    let dir = Scratch::new("ca");
    dir.install("rogue-ca.crt", "ca.crt");
    let reloader = reloading(
        &dir,
        "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    connect(reloader.current(), &Client::new().with_cert("client-a")).expect_err("not yet trusted");
    connect(reloader.current(), &Client::new().with_cert("rogue")).expect("rogue CA trusted");
    dir.install("ca.crt", "ca.crt");
    assert!(reloader.check());
    connect(reloader.current(), &Client::new().with_cert("client-a")).expect("now trusted");
    connect(reloader.current(), &Client::new().with_cert("rogue")).expect_err("no longer trusted");
}

#[test]
fn no_file_or_no_section_means_no_tls() {
    assert!(TlsReloader::from_flag("").expect("no file").is_none());
    let dir = Scratch::new("none");
    dir.write("web.yml", b"tls_server_config: {}\n");
    assert!(
        TlsReloader::from_flag(&dir.path("web.yml").display().to_string())
            .expect("valid")
            .is_none()
    );
    dir.write(
        "web.yml",
        b"tls_server_config: {cert_file: nope.crt, key_file: nope.key}\n",
    );
    let e = TlsReloader::from_flag(&dir.path("web.yml").display().to_string())
        .err()
        .expect("missing files");
    assert!(
        e.to_string().contains("web.yml") && e.to_string().contains("nope.crt"),
        "{e}"
    );
}

#[test]
fn watcher_thread_ends_with_the_reloader() {
    let dir = Scratch::new("watcher");
    let reloader = Arc::new(reloading(&dir, ""));
    reloader.spawn_watcher().expect("spawn");
    let weak = Arc::downgrade(&reloader);
    drop(reloader);
    // The thread holds only a weak reference between checks.
    let deadline = std::time::Instant::now() + super::CHECK_INTERVAL * 3;
    while weak.strong_count() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(weak.strong_count(), 0);
}
