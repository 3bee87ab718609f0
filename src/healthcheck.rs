//! `pushgate healthcheck [--url URL] [TLS and basic-auth flags]`: asks a
//! running gateway whether it is healthy and exits 0 (HTTP 200), 1 (anything
//! else) or 2 (bad flags).
//!
//! Exists so that a `FROM scratch` image can have a Docker `HEALTHCHECK`
//! without a shell or curl. HTTP or HTTPS (rustls, the CA given by flag) to
//! an IP address or `localhost` only: a static binary has no resolver and no
//! system CA store, and the check runs next to the gateway.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// The default URL checked.
pub const DEFAULT_URL: &str = "http://127.0.0.1:9091/-/healthy";

/// Environment variable holding the basic-auth password, when no
/// `--basic-auth.password-file` is given.
pub const PASSWORD_ENV: &str = "PUSHGATE_HEALTHCHECK_PASSWORD";

/// Total time allowed for connecting, sending and reading the answer.
const TIMEOUT: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: pushgate healthcheck [--url http(s)://127.0.0.1:9091/-/healthy] \
     [--tls.ca-file FILE] [--tls.cert-file FILE --tls.key-file FILE] [--tls.server-name NAME] \
     [--basic-auth.username USER [--basic-auth.password-file FILE]]";

/// What to check and how, from the flags.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    url: String,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    server_name: Option<String>,
    username: Option<String>,
    password_file: Option<PathBuf>,
}

/// Runs the subcommand with the arguments after `healthcheck`; returns the
/// process exit code.
pub fn run(args: &[String]) -> u8 {
    let options = match parse_args(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pushgate healthcheck: {}\n{}", e, USAGE);
            return 2;
        }
    };
    match check(&options) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pushgate healthcheck: {}: {}", options.url, e);
            1
        }
    }
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        url: DEFAULT_URL.to_string(),
        ..Options::default()
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| rest.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--url" => options.url = value()?,
            "--tls.ca-file" => options.ca_file = Some(value()?.into()),
            "--tls.cert-file" => options.cert_file = Some(value()?.into()),
            "--tls.key-file" => options.key_file = Some(value()?.into()),
            "--tls.server-name" => options.server_name = Some(value()?),
            "--basic-auth.username" => options.username = Some(value()?),
            "--basic-auth.password-file" => options.password_file = Some(value()?.into()),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if options.cert_file.is_some() != options.key_file.is_some() {
        return Err("--tls.cert-file and --tls.key-file go together".into());
    }
    if options.password_file.is_some() && options.username.is_none() {
        return Err("--basic-auth.password-file needs --basic-auth.username".into());
    }
    Ok(options)
}

/// A parsed URL: where to connect, what name to verify, what to ask for.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    addr: SocketAddr,
    /// `localhost` or the IP address, for TLS server name checks.
    host: String,
    path: String,
}

/// Splits `http(s)://host:port/path`; `host` is an IP address or `localhost`.
fn parse_url(url: &str) -> Result<Target, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err("only http:// and https:// URLs are supported".into());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("{port:?} is not a port number"))?,
        ),
        _ => (authority, default_port),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if bare == "localhost" {
        IpAddr::from([127, 0, 0, 1])
    } else {
        bare.parse::<IpAddr>()
            .map_err(|_| format!("{host:?} is not an IP address or localhost (no DNS look-ups)"))?
    };
    Ok(Target {
        tls,
        addr: SocketAddr::new(ip, port),
        host: bare.to_string(),
        path: path.to_string(),
    })
}

fn check(options: &Options) -> Result<(), String> {
    let target = parse_url(&options.url)?;
    let authorization = authorization(options)?;
    let tls = if target.tls {
        Some(client_config(options)?)
    } else {
        None
    };
    let stream = TcpStream::connect_timeout(&target.addr, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: pushgate-healthcheck\r\n",
        target.path, target.addr
    );
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    let status_line = match tls {
        None => exchange(stream, &request)?,
        Some(config) => {
            let name = match &options.server_name {
                Some(name) => name.clone(),
                None => target.host.clone(),
            };
            let name = ServerName::try_from(name.clone())
                .map_err(|_| format!("{name:?} is not a valid TLS server name"))?;
            let conn =
                rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
            exchange(rustls::StreamOwned::new(conn, stream), &request)
                .map_err(|e| format!("TLS: {e}"))?
        }
    };
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    match code {
        "200" => Ok(()),
        "401" if options.username.is_none() => Err(format!(
            "answered {status_line:?}: pass --basic-auth.username and a password"
        )),
        _ => Err(format!("answered {status_line:?}")),
    }
}

/// Sends `request` and returns the status line of the answer.
fn exchange(mut stream: impl Read + Write, request: &str) -> Result<String, String> {
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    if head.is_empty() {
        return Err("closed the connection without answering".into());
    }
    let text = String::from_utf8_lossy(&head);
    Ok(text.lines().next().unwrap_or("").trim_end().to_string())
}

/// The `Authorization` header value, if a user is given: the password comes
/// from `--basic-auth.password-file` (trailing newline dropped) or the
/// environment.
fn authorization(options: &Options) -> Result<Option<String>, String> {
    let Some(user) = &options.username else {
        return Ok(None);
    };
    let password = match &options.password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--basic-auth.password-file {}: {e}", path.display()))?;
            text.strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text)
                .to_string()
        }
        None => std::env::var(PASSWORD_ENV).map_err(|_| {
            format!("--basic-auth.username needs --basic-auth.password-file or ${PASSWORD_ENV}")
        })?,
    };
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Ok(Some(format!("Basic {token}")))
}

fn client_config(options: &Options) -> Result<Arc<rustls::ClientConfig>, String> {
    let Some(ca_file) = &options.ca_file else {
        return Err("https:// needs --tls.ca-file (pushgate has no system CA store)".into());
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls.ca-file {}: {e}", ca_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--tls.ca-file {}: no CERTIFICATE block",
            ca_file.display()
        ));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("--tls.ca-file {}: {e}", ca_file.display()))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots);
    let config = match (&options.cert_file, &options.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let chain = CertificateDer::pem_file_iter(cert_file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("--tls.cert-file {}: {e}", cert_file.display()))?;
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| format!("--tls.key-file {}: {e}", key_file.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("--tls.key-file {}: {e}", key_file.display()))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::testpki::pki;
    use std::net::TcpListener;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn urls() {
        let t = parse_url("http://127.0.0.1:9091/-/healthy").expect("valid");
        assert_eq!(
            (t.tls, t.addr.to_string().as_str(), t.path.as_str()),
            (false, "127.0.0.1:9091", "/-/healthy")
        );
        let t = parse_url("http://localhost:1234").expect("valid");
        assert_eq!(
            (
                t.addr.to_string().as_str(),
                t.host.as_str(),
                t.path.as_str()
            ),
            ("127.0.0.1:1234", "localhost", "/")
        );
        let t = parse_url("https://[::1]:9091/x").expect("valid");
        assert_eq!(
            (t.tls, t.addr.to_string().as_str(), t.host.as_str()),
            (true, "[::1]:9091", "::1")
        );
        assert_eq!(
            parse_url("https://127.0.0.1/").expect("valid").addr.port(),
            443
        );
        assert!(parse_url("ftp://127.0.0.1/").is_err());
        assert!(parse_url("http://example.com:9091/").is_err());
        assert!(parse_url("http://127.0.0.1:x/").is_err());
    }

    #[test]
    fn args() {
        assert_eq!(parse_args(&[]).expect("defaults").url, DEFAULT_URL);
        let url = "https://127.0.0.1:1/-/ready";
        let o = parse_args(&strings(&[
            "--url",
            url,
            "--tls.ca-file=/ca.crt",
            "--tls.cert-file",
            "/c.crt",
            "--tls.key-file",
            "/c.key",
            "--tls.server-name=gw.example",
            "--basic-auth.username",
            "probe",
            "--basic-auth.password-file",
            "/pw",
        ]))
        .expect("valid");
        assert_eq!(o.url, url);
        assert_eq!(o.ca_file, Some("/ca.crt".into()));
        assert_eq!(o.server_name.as_deref(), Some("gw.example"));
        assert_eq!(o.password_file, Some("/pw".into()));
        for bad in [
            &["--bogus"][..],
            &["--url"],
            &["--tls.cert-file", "/c"],
            &["--basic-auth.password-file", "/pw"],
        ] {
            assert!(parse_args(&strings(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(run(&strings(&["--bogus"])), 2);
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        // Bind and drop to find a port that nobody listens on right now.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("ephemeral port")
            .port();
        assert_eq!(
            run(&strings(&[
                "--url",
                &format!("http://127.0.0.1:{port}/-/healthy")
            ])),
            1
        );
    }

    #[test]
    fn https_needs_a_ca_file() {
        let o = parse_args(&strings(&["--url", "https://127.0.0.1:1/"])).expect("valid");
        let e = check(&o).expect_err("no CA");
        assert!(e.contains("--tls.ca-file"), "{e}");
    }

    /// Serves one connection over TLS (client certificate required) and
    /// answers 200 only to `Authorization: Basic cHJvYmU6c2VjcmV0`
    /// (probe:secret), 401 otherwise.
    fn one_shot_server() -> (SocketAddr, std::thread::JoinHandle<String>) {
        let text = format!(
            "tls_server_config:\n  cert_file: {d}/server.crt\n  key_file: {d}/server.key\n  \
             client_ca_file: {d}/ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
            d = pki().display()
        );
        let tls = crate::webconfig::parse(&text)
            .expect("valid")
            .tls
            .expect("tls");
        let config = Arc::new(crate::tls::build::server_config(&tls).expect("server config"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handle = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            let conn = rustls::ServerConnection::new(config).expect("conn");
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.ends_with(b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) => return String::new(),
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                    Err(e) => return format!("error: {e}"),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let answer = if head.contains("Authorization: Basic cHJvYmU6c2VjcmV0\r\n") {
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
            };
            let _ = tls.write_all(answer.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
            head
        });
        (addr, handle)
    }

    fn tls_args(addr: SocketAddr, extra: &[&str]) -> Vec<String> {
        let d = pki().display().to_string();
        let mut args = strings(&[
            "--url",
            &format!("https://{addr}/-/healthy"),
            "--tls.ca-file",
            &format!("{d}/ca.crt"),
            "--tls.cert-file",
            &format!("{d}/client-a.crt"),
            "--tls.key-file",
            &format!("{d}/client-a.key"),
        ]);
        args.extend(strings(extra));
        args
    }

    #[test]
    fn https_with_client_certificate_and_basic_auth() {
        let dir = std::env::temp_dir().join(format!("pushgate-hc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let pw = dir.join("pw");
        std::fs::write(&pw, "secret\n").expect("write");
        let (addr, server) = one_shot_server();
        let code = run(&tls_args(
            addr,
            &[
                "--basic-auth.username",
                "probe",
                "--basic-auth.password-file",
                &pw.display().to_string(),
            ],
        ));
        let head = server.join().expect("server thread");
        assert!(head.starts_with("GET /-/healthy HTTP/1.1\r\n"), "{head}");
        assert_eq!(code, 0, "{head}");
        // Without credentials the answer is 401, hence unhealthy.
        let (addr, server) = one_shot_server();
        let options = parse_args(&tls_args(addr, &[])).expect("valid");
        let e = check(&options).expect_err("401");
        server.join().expect("server thread");
        assert!(
            e.contains("401") && e.contains("--basic-auth.username"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn https_refuses_a_server_it_cannot_verify() {
        let (addr, server) = one_shot_server();
        let mut args = tls_args(addr, &[]);
        // Trust another CA: the gateway's certificate must be refused.
        args[3] = format!("{}/rogue-ca.crt", pki().display());
        let options = parse_args(&args).expect("valid");
        let e = check(&options).expect_err("unknown issuer");
        let _ = server.join();
        assert!(e.starts_with("TLS: ") && e.contains("certificate"), "{e}");
        // A name the certificate does not carry is refused too.
        let (addr, server) = one_shot_server();
        let options =
            parse_args(&tls_args(addr, &["--tls.server-name", "gw.example"])).expect("valid");
        let e = check(&options).expect_err("wrong name");
        let _ = server.join();
        assert!(
            e.contains("NotValidForName") || e.contains("not valid for"),
            "{e}"
        );
    }
}
