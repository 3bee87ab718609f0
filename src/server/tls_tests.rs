//! The server over TLS with a self-signed certificate made by `openssl`
//! and a test-only [`ServerConfigSource`]: requests with bodies, keep-alive,
//! a large pieced response, and failed or silent handshakes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::{start, Limits, Refusal, Server, Service};
use crate::http::{Body, Request, Response, ResponseBody};
use crate::tls::ServerConfigSource;

struct Fixed(Arc<rustls::ServerConfig>);

impl ServerConfigSource for Fixed {
    fn current(&self) -> Arc<rustls::ServerConfig> {
        self.0.clone()
    }
}

#[derive(Default)]
struct Echo {
    refused: Mutex<Vec<Refusal>>,
}

impl Service for Echo {
    fn admit(&self, _head: &Request) -> Result<(), Response> {
        Ok(())
    }

    fn handle(&self, req: &Request, _admitted: bool) -> Response {
        if req.path == b"/big" {
            // 4 MiB in 64 shared pieces.
            let piece: Arc<[u8]> = Arc::from(vec![b'z'; 64 * 1024]);
            return Response::empty(200).with_body(ResponseBody::Pieces(vec![piece; 64]));
        }
        let len = match &req.body {
            Body::Complete(b) => b.len(),
            Body::TooLarge { .. } => usize::MAX,
        };
        Response::plain(
            200,
            &format!("{} {}", String::from_utf8_lossy(&req.path), len),
        )
    }

    fn refused(&self, reason: Refusal) {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reason);
    }
}

/// A self-signed P-256 certificate for 127.0.0.1, in a fresh directory.
fn make_cert(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("pushgate-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // webpki refuses a CA certificate as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed (scripts/install-test-peers.sh)");
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(cert: &PathBuf, key: &PathBuf) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("cert file")
        .collect::<Result<_, _>>()
        .expect("cert pem");
    let key = PrivateKeyDer::from_pem_file(key).expect("key pem");
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config"),
    )
}

fn client(
    cert: &PathBuf,
    addr: std::net::SocketAddr,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("cert file") {
        roots.add(c.expect("cert pem")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").expect("ip name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    rustls::StreamOwned::new(conn, sock)
}

/// Reads one response with a Content-Length body.
fn read_response(stream: &mut impl Read) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("ascii head");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("Content-Length");
    let mut body = vec![0; len];
    stream.read_exact(&mut body).expect("response body");
    (head, body)
}

fn serve(name: &str, limits: Limits) -> (Server, Arc<Echo>, std::net::SocketAddr, PathBuf) {
    let (cert, key) = make_cert(name);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let echo = Arc::new(Echo::default());
    let source: Arc<dyn ServerConfigSource> = Arc::new(Fixed(server_config(&cert, &key)));
    let server = start(echo.clone(), vec![listener], Some(source), limits).expect("start");
    (server, echo, addr, cert)
}

#[test]
fn requests_with_bodies_keep_alive_and_large_responses_over_tls() {
    let (server, _echo, addr, cert) = serve("ok", Limits::default());
    let mut tls = client(&cert, addr);
    tls.write_all(b"PUT /push HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello")
        .expect("send");
    let (head, body) = read_response(&mut tls);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(body, b"/push 5");
    tls.write_all(b"PUT /c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        .expect("send");
    assert_eq!(read_response(&mut tls).1, b"/c 3");
    tls.write_all(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let (_, big) = read_response(&mut tls);
    assert_eq!(big.len(), 4 << 20);
    assert!(big.iter().all(|&b| b == b'z'));
    drop(tls);
    server.stop();
    let _ = std::fs::remove_dir_all(cert.parent().expect("dir"));
}

#[test]
fn plain_http_and_silent_clients_fail_the_handshake() {
    let limits = Limits {
        read_header_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let (server, echo, addr, cert) = serve("bad", limits);
    let mut plain = TcpStream::connect(addr).expect("connect");
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(
        !buf.starts_with(b"HTTP/"),
        "plain HTTP answered over a TLS port"
    );
    let mut silent = TcpStream::connect(addr).expect("connect");
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let started = Instant::now();
    let mut one = [0u8; 1];
    assert!(matches!(silent.read(&mut one), Ok(0) | Err(_)));
    assert!(started.elapsed() < Duration::from_secs(4));
    let refused = echo
        .refused
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert_eq!(
        refused
            .iter()
            .filter(|r| **r == Refusal::TlsHandshake)
            .count(),
        2,
        "{refused:?}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(cert.parent().expect("dir"));
}
