//! `pushgate healthcheck [--url URL]`: asks a running gateway whether it is
//! healthy and exits 0 (HTTP 200) or 1 (anything else).
//!
//! Exists so that a `FROM scratch` image can have a Docker `HEALTHCHECK`
//! without a shell or curl. Plain HTTP to an IP address or `localhost` only:
//! a static binary has no resolver, and the check runs next to the gateway.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The default URL checked.
pub const DEFAULT_URL: &str = "http://127.0.0.1:9091/-/healthy";

/// Total time allowed for connecting, sending and reading the answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the subcommand with the arguments after `healthcheck`; returns the
/// process exit code.
pub fn run(args: &[String]) -> u8 {
    let url = match parse_args(args) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("pushgate healthcheck: {}", e);
            return 2;
        }
    };
    match check(&url) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pushgate healthcheck: {}: {}", url, e);
            1
        }
    }
}

fn parse_args(args: &[String]) -> Result<String, String> {
    match args {
        [] => Ok(DEFAULT_URL.to_string()),
        [flag, url] if flag == "--url" => Ok(url.clone()),
        [one] if one.starts_with("--url=") => Ok(one["--url=".len()..].to_string()),
        _ => Err("usage: pushgate healthcheck [--url http://127.0.0.1:9091/-/healthy]".into()),
    }
}

/// Splits `http://host:port/path` into a socket address and a path.
fn parse_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.replacen("localhost", "127.0.0.1", 1);
    let addr = authority
        .parse::<SocketAddr>()
        .or_else(|_| format!("{}:80", authority).parse::<SocketAddr>())
        .map_err(|_| {
            format!(
                "{:?} is not an IP address and port (no DNS look-ups)",
                authority
            )
        })?;
    Ok((addr, path.to_string()))
}

fn check(url: &str) -> Result<(), String> {
    let (addr, path) = parse_url(url)?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: pushgate-healthcheck\r\n\r\n",
        path, addr
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| e.to_string())?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if code == "200" {
        Ok(())
    } else {
        Err(format!(
            "answered {:?}",
            status_line.lines().next().unwrap_or("")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let (addr, path) = parse_url("http://127.0.0.1:9091/-/healthy").expect("valid");
        assert_eq!(
            (addr.to_string().as_str(), path.as_str()),
            ("127.0.0.1:9091", "/-/healthy")
        );
        let (addr, path) = parse_url("http://localhost:1234").expect("valid");
        assert_eq!(
            (addr.to_string().as_str(), path.as_str()),
            ("127.0.0.1:1234", "/")
        );
        let (addr, _) = parse_url("http://[::1]:9091/x").expect("valid");
        assert_eq!(addr.to_string(), "[::1]:9091");
        assert!(parse_url("https://127.0.0.1/").is_err());
        assert!(parse_url("http://example.com:9091/").is_err());
    }

    #[test]
    fn args() {
        assert_eq!(parse_args(&[]), Ok(DEFAULT_URL.to_string()));
        let url = "http://127.0.0.1:1/-/ready".to_string();
        assert_eq!(parse_args(&["--url".into(), url.clone()]), Ok(url.clone()));
        assert_eq!(parse_args(&[format!("--url={url}")]), Ok(url));
        assert!(parse_args(&["--bogus".into()]).is_err());
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        // Bind and drop to find a port that nobody listens on right now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("ephemeral port")
            .port();
        assert_eq!(
            run(&["--url".into(), format!("http://127.0.0.1:{port}/-/healthy")]),
            1
        );
    }
}
