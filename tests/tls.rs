//! TLS from `tls_server_config` (issue 13): real clients (curl, Python's
//! ssl, openssl s_client, rustls) against the binary, with certificates
//! made at test time by scripts/test/make-certs.sh (openssl; installed by
//! scripts/install-test-peers.sh). pushgate-only: upstream is not started.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::util::{self, Gateway};

/// The test PKI, made once per test process.
fn pki() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pushgate-it-pki-{}", std::process::id()));
        let status = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/test/make-certs.sh"
        ))
        .arg(&dir)
        .status()
        .expect("run scripts/test/make-certs.sh");
        assert!(
            status.success(),
            "make-certs.sh failed (is openssl installed?)"
        );
        dir
    })
}

fn pem(name: &str) -> String {
    pki().join(name).display().to_string()
}

/// A directory with web.yml and its own copies of server.crt/server.key
/// (so a test can rotate them), removed on drop.
struct TlsDir(PathBuf);

impl TlsDir {
    /// `extra` is appended to the tls_server_config section (indent 2);
    /// `top` after it, at the top level.
    fn new(extra: &str, top: &str) -> TlsDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pushgate-it-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let d = TlsDir(dir);
        d.install("server.crt", "server.crt");
        d.install("server.key", "server.key");
        let text = format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}{top}"
        );
        std::fs::write(d.0.join("web.yml"), text).expect("web.yml");
        d
    }

    /// Replaces `name` by rename with the PKI file `from`.
    fn install(&self, from: &str, name: &str) {
        let tmp = self.0.join(format!(".{name}.new"));
        std::fs::copy(pki().join(from), &tmp).expect("copy");
        std::fs::rename(&tmp, self.0.join(name)).expect("rename");
    }

    fn flag(&self) -> String {
        format!("--web.config.file={}", self.0.join("web.yml").display())
    }

    fn start(&self) -> Gateway {
        Gateway::start(&["--web.listen-address=127.0.0.1:0", &self.flag()])
    }
}

impl Drop for TlsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mtls(extra: &str) -> String {
    format!(
        "  client_ca_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n{extra}",
        pem("ca.crt")
    )
}

/// Runs a peer program with a 20 s limit on its own side.
fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} (run scripts/install-test-peers.sh)"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// curl over TLS trusting the test CA; returns (exit code, stdout, stderr).
fn curl(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["-sS", "--cacert"];
    let ca = pem("ca.crt");
    all.push(&ca);
    all.extend_from_slice(args);
    let out = run("curl", &all, b"");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn url(gw: &Gateway, path: &str) -> String {
    format!("https://{}{path}", gw.addr())
}

/// A rustls client for what curl cannot show (the served certificate) or
/// time (a handshake among silent connections): GET `path`, returning the
/// status line and the server's certificate.
fn rustls_get(addr: SocketAddr, path: &str) -> Result<(String, Vec<u8>), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki().join("ca.crt")).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.contains(&b'\n') {
        let n = tls.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let status = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let cert = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or("no server certificate")?;
    Ok((status, cert))
}

fn cert_der(name: &str) -> Vec<u8> {
    CertificateDer::from_pem_file(pki().join(name))
        .expect("cert")
        .to_vec()
}

#[test]
fn curl_and_python_push_and_scrape_over_tls() {
    if util::upstream() {
        return;
    }
    let dir = TlsDir::new("", "");
    let gw = dir.start();
    let push = url(&gw, "/metrics/job/curl");
    let (code, out, err) = curl(&["--data-binary", "tls_curl 1\n", "-w", "%{http_code}", &push]);
    assert_eq!((code, out.as_str()), (0, "200"), "{err}");
    let python = format!(
        "import ssl, urllib.request\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         req = urllib.request.Request({push:?}, data=b'tls_python 2\\n', method='PUT')\n\
         print(urllib.request.urlopen(req, context=ctx).status)\n\
         body = urllib.request.urlopen({scrape:?}, context=ctx).read().decode()\n\
         print([l for l in body.splitlines() if l.startswith('tls_')])\n",
        ca = pem("ca.crt"),
        push = url(&gw, "/metrics/job/python"),
        scrape = url(&gw, "/metrics"),
    );
    let out = run("python3", &["-c", &python], b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "200\n['tls_curl{instance=\"\",job=\"curl\"} 1', 'tls_python{instance=\"\",job=\"python\"} 2']\n"
    );
    let (code, out, err) = curl(&[&url(&gw, "/metrics")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tls_python{instance=\"\",job=\"python\"} 2"),
        "{out}"
    );
    // Plain HTTP to the TLS listener gets no HTTP answer.
    let plain = run(
        "curl",
        &["-sS", &format!("http://{}/metrics", gw.addr())],
        b"",
    );
    assert!(!plain.status.success());
}

#[test]
fn client_certificate_is_required_under_require_and_verify() {
    if util::upstream() {
        return;
    }
    let dir = TlsDir::new(&mtls(""), "");
    let gw = dir.start();
    let healthy = url(&gw, "/-/healthy");
    let (code, out, err) = curl(&[&healthy]);
    assert_ne!(code, 0, "no certificate must be refused: {out}");
    assert!(out.is_empty(), "{out}");
    assert!(!err.is_empty());
    let (code, _, err) = curl(&[
        "--cert",
        &pem("rogue.crt"),
        "--key",
        &pem("rogue.key"),
        &healthy,
    ]);
    assert_ne!(
        code, 0,
        "a certificate from another CA must be refused: {err}"
    );
    let (code, out, err) = curl(&[
        "--cert",
        &pem("client-a.crt"),
        "--key",
        &pem("client-a.key"),
        &healthy,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "OK");
}

#[test]
fn san_outside_client_allowed_sans_is_refused() {
    if util::upstream() {
        return;
    }
    let dir = TlsDir::new(&mtls("  client_allowed_sans: [client-a.example]\n"), "");
    let gw = dir.start();
    let healthy = url(&gw, "/-/healthy");
    let (code, out, err) = curl(&[
        "--cert",
        &pem("client-b.crt"),
        "--key",
        &pem("client-b.key"),
        &healthy,
    ]);
    assert_ne!(code, 0, "client-b.example is not allowed: {out}");
    assert!(out.is_empty(), "{out}");
    let (code, out, err2) = curl(&[
        "--cert",
        &pem("client-a.crt"),
        "--key",
        &pem("client-a.key"),
        &healthy,
    ]);
    assert_eq!((code, out.as_str()), (0, "OK"), "{err} / {err2}");
}

#[test]
fn tls11_is_refused() {
    if util::upstream() {
        return;
    }
    let dir = TlsDir::new("", "");
    let gw = dir.start();
    let connect = gw.addr().to_string();
    // SECLEVEL=0 lets OpenSSL 3 actually send a TLS 1.1 ClientHello.
    let s_client = |version: &str| {
        let out = run(
            "openssl",
            &[
                "s_client",
                "-connect",
                &connect,
                version,
                "-cipher",
                "DEFAULT:@SECLEVEL=0",
                "-CAfile",
                &pem("ca.crt"),
            ],
            b"",
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    // OpenSSL sends no signature_algorithms in a TLS 1.1 hello, so rustls
    // answers with a fatal handshake_failure alert (40), not a session.
    let tls11 = s_client("-tls1_1");
    assert!(tls11.contains("SSL alert number 40"), "{tls11}");
    assert!(tls11.contains("Cipher is (NONE)"), "{tls11}");
    // The same command with TLS 1.2 gets a session, so the refusal is the
    // server's and not the client's own policy.
    let tls12 = s_client("-tls1_2");
    assert!(tls12.contains("Protocol  : TLSv1.2"), "{tls12}");
    assert!(tls12.contains("Verify return code: 0 (ok)"), "{tls12}");
    assert!(!tls12.contains("Cipher is (NONE)"), "{tls12}");
    let (code, _, err) = curl(&[
        "--tls-max",
        "1.1",
        "--ciphers",
        "DEFAULT:@SECLEVEL=0",
        &url(&gw, "/-/healthy"),
    ]);
    assert_ne!(code, 0, "{err}");
}

#[test]
fn rotated_certificate_files_are_picked_up_without_restart() {
    if util::upstream() {
        return;
    }
    let dir = TlsDir::new("", "");
    let gw = dir.start();
    let (status, cert) = rustls_get(gw.addr(), "/-/healthy").expect("first handshake");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(cert, cert_der("server.crt"));
    dir.install("server2.key", "server.key");
    dir.install("server2.crt", "server.crt");
    // The files are checked once a second; allow a few.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, cert) =
            rustls_get(gw.addr(), "/-/healthy").expect("handshake during rotation");
        assert_eq!(status, "HTTP/1.1 200 OK");
        if cert == cert_der("server2.crt") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rotated certificate not served after 5 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // curl sees the new certificate too, and the process is the same one.
    let (code, out, err) = curl(&["-v", &url(&gw, "/-/healthy")]);
    assert_eq!((code, out.as_str()), (0, "OK"), "{err}");
    assert!(
        err.contains("CN=server2") || err.contains("CN = server2"),
        "{err}"
    );
}

#[test]
fn silent_connections_do_not_delay_another_handshake() {
    if util::upstream() {
        return;
    }
    let dir = TlsDir::new("", "");
    let gw = dir.start();
    // 16 connections that never send a byte, then 16 that stop half-way
    // through a ClientHello (a TLS record header announcing 512 bytes).
    let silent: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(gw.addr()).expect("connect"))
        .collect();
    let started = Instant::now();
    let (status, _) = rustls_get(gw.addr(), "/-/healthy").expect("handshake beside silent ones");
    let beside_silent = started.elapsed();
    assert_eq!(status, "HTTP/1.1 200 OK");
    let stalled: Vec<TcpStream> = (0..16)
        .map(|_| {
            let mut s = TcpStream::connect(gw.addr()).expect("connect");
            s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .expect("partial hello");
            s
        })
        .collect();
    let started = Instant::now();
    let (status, _) = rustls_get(gw.addr(), "/-/healthy").expect("handshake beside stalled ones");
    let beside_stalled = started.elapsed();
    assert_eq!(status, "HTTP/1.1 200 OK");
    // The liveness bound the issue names: a blocked accept path would wait
    // for the read-header timeout (30 s) of the connections ahead of it.
    for (what, took) in [("silent", beside_silent), ("stalled", beside_stalled)] {
        assert!(
            took < Duration::from_secs(2),
            "beside 16 {what} connections: {took:?}"
        );
    }
    drop((silent, stalled));
}

#[test]
fn basic_auth_over_tls_and_healthcheck() {
    if util::upstream() {
        return;
    }
    let hash = bcrypt::hash("probe-pass", 4).expect("bcrypt");
    let dir = TlsDir::new("", &format!("basic_auth_users:\n  probe: '{hash}'\n"));
    let gw = dir.start();
    let healthy = url(&gw, "/-/healthy");
    let (code, out, _) = curl(&["-w", "%{http_code}", "-o", "/dev/null", &healthy]);
    assert_eq!((code, out.as_str()), (0, "401"));
    let (code, out, err) = curl(&["-u", "probe:probe-pass", &healthy]);
    assert_eq!((code, out.as_str()), (0, "OK"), "{err}");
    let pw = dir.0.join("password");
    std::fs::write(&pw, "probe-pass\n").expect("password file");
    let ca_flag = format!("--tls.ca-file={}", pem("ca.crt"));
    let healthcheck = |extra: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushgate"));
        cmd.args(["healthcheck", "--url", &healthy, &ca_flag])
            .args(extra);
        cmd.env_remove("PUSHGATE_HEALTHCHECK_PASSWORD");
        if let Some(password) = env {
            cmd.env("PUSHGATE_HEALTHCHECK_PASSWORD", password);
        }
        let out = cmd.output().expect("run healthcheck");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let pw_flag = format!("--basic-auth.password-file={}", pw.display());
    assert_eq!(
        healthcheck(&["--basic-auth.username=probe", &pw_flag], None),
        (Some(0), String::new())
    );
    assert_eq!(
        healthcheck(&["--basic-auth.username=probe"], Some("probe-pass")),
        (Some(0), String::new())
    );
    let (code, stderr) = healthcheck(&[], None);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("401") && stderr.contains("--basic-auth.username"),
        "{stderr}"
    );
    let (code, stderr) = healthcheck(&["--basic-auth.username=probe"], Some("wrong"));
    assert_eq!(code, Some(1), "{stderr}");
    // Without the CA the check refuses to talk, and says why.
    let out = Command::new(env!("CARGO_BIN_EXE_pushgate"))
        .args(["healthcheck", "--url", &healthy])
        .output()
        .expect("run healthcheck");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls.ca-file"));
}

#[test]
fn unusable_tls_settings_are_refused_at_start_naming_the_key() {
    if util::upstream() {
        return;
    }
    let cases = [
        ("  min_version: TLS11\n", "tls_server_config.min_version"),
        (
            "  client_auth_type: RequireAnyClientCert\n",
            "tls_server_config.client_auth_type",
        ),
        (
            "  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n",
            "tls_server_config.cipher_suites",
        ),
        (
            "  client_ca_file: missing-ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n",
            "tls_server_config.client_ca_file",
        ),
    ];
    for (extra, key) in cases {
        let dir = TlsDir::new(extra, "");
        let flag = dir.flag();
        let (status, stderr) = util::run_to_exit(
            &["--web.listen-address=127.0.0.1:0", &flag],
            Duration::from_secs(5),
        );
        assert_eq!(status.code(), Some(1), "{extra}: {stderr}");
        assert!(stderr.contains(key), "{extra}: {stderr}");
        assert!(!stderr.contains("Listening on"), "{stderr}");
    }
}
