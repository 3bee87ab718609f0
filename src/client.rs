//! A small blocking HTTP/1.1 client for pushgate's own subcommands
//! (`pushgate shards`): one request per connection, plain HTTP, bounded in
//! time and size.
//!
//! Owns base URLs (`http://[user:password@]host:port[/prefix]`), writing a
//! request, and reading the answer: the head through `httparse`, the body by
//! `Content-Length`, chunked transfer coding, or until the server closes.
//! Nothing here knows what the requests mean.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use base64::Engine;

/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Headers parsed in a response head.
const MAX_HEADERS: usize = 64;

/// Where a gateway answers: host, port, route prefix and optional basic
/// auth, from `http://[user:password@]host[:port][/prefix]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    /// `host:port` as written (the port defaulted to 80), for `Host:` and messages.
    pub authority: String,
    /// The route prefix without a trailing `/` (empty or `/x`).
    pub prefix: String,
    /// `Authorization` header value, if the URL has user information.
    authorization: Option<String>,
    /// The URL as given, without the password, for messages.
    shown: String,
}

impl BaseUrl {
    /// Parses a base URL; refuses anything but `http://` with a host.
    pub fn parse(text: &str) -> Result<BaseUrl, String> {
        let bad = |why: &str| format!("bad shard URL {:?}: {}", text, why);
        let rest = text
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err(bad("a query or fragment is not allowed"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if hostport.is_empty() || hostport.starts_with(':') {
            return Err(bad("no host"));
        }
        let hostport = match hostport.rsplit_once(':') {
            // An IPv6 literal without a port, `[::1]`.
            Some((_, port)) if hostport.ends_with(']') && !port.ends_with(']') => {
                format!("{}:80", hostport)
            }
            Some((host, port)) if !host.is_empty() && !port.ends_with(']') => {
                let n: u16 = port
                    .parse()
                    .map_err(|_| bad("the port must be a number from 1 to 65535"))?;
                if n == 0 {
                    return Err(bad("the port must be a number from 1 to 65535"));
                }
                hostport.to_string()
            }
            _ => format!("{}:80", hostport),
        };
        let prefix = path.trim_end_matches('/').to_string();
        let authorization = userinfo.map(|u| {
            let creds = crate::http::percent::decode_lossy(u.as_bytes());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(creds)
            )
        });
        let shown = match userinfo {
            Some(u) => {
                let user = u.split(':').next().unwrap_or("");
                format!("http://{}@{}{}", user, hostport, prefix)
            }
            None => format!("http://{}{}", hostport, prefix),
        };
        Ok(BaseUrl {
            authority: hostport,
            prefix,
            authorization,
            shown,
        })
    }
}

impl fmt::Display for BaseUrl {
    /// The URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A request's answer: status and the whole body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text, for messages: the first line, at most 200 chars.
    pub fn short_body(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let line = text.lines().next().unwrap_or("").trim();
        line.chars().take(200).collect()
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    Resolve(String),
    Connect(std::io::Error),
    Io(std::io::Error),
    Timeout,
    Protocol(String),
    TooLarge(usize),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Resolve(e) => write!(f, "cannot resolve the host: {}", e),
            ClientError::Connect(e) => write!(f, "cannot connect: {}", e),
            ClientError::Io(e) => write!(f, "connection failed: {}", e),
            ClientError::Timeout => f.write_str("no complete answer within the timeout"),
            ClientError::Protocol(e) => write!(f, "invalid HTTP answer: {}", e),
            ClientError::TooLarge(n) => write!(f, "answer larger than {} bytes", n),
        }
    }
}

impl std::error::Error for ClientError {}

/// Limits of one request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Total time for connecting, sending and reading the whole answer.
    pub timeout: Duration,
    /// Largest body accepted.
    pub max_body: usize,
}

/// Sends `method` on `base`'s prefix + `path_and_query` (which starts with
/// `/`) and reads the whole answer.
pub fn request(
    base: &BaseUrl,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    limits: Limits,
) -> Result<Reply, ClientError> {
    let deadline = Instant::now() + limits.timeout;
    let addrs: Vec<SocketAddr> = base
        .authority
        .to_socket_addrs()
        .map_err(|e| ClientError::Resolve(e.to_string()))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, limits.timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(ClientError::Connect(e)),
        (None, None) => return Err(ClientError::Resolve("no address".into())),
    };
    let _ = stream.set_nodelay(true);
    let mut head = format!(
        "{} {}{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pushgate-shards\r\nConnection: close\r\n",
        method, base.prefix, path_and_query, base.authority
    );
    if let Some(auth) = &base.authorization {
        head.push_str(&format!("Authorization: {}\r\n", auth));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    set_timeouts(&stream, deadline)?;
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(io_error)?;
    read_response(&mut stream, method == "HEAD", deadline, limits.max_body)
}

fn set_timeouts(stream: &TcpStream, deadline: Instant) -> Result<(), ClientError> {
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or(ClientError::Timeout)?;
    stream
        .set_read_timeout(Some(left))
        .and_then(|_| stream.set_write_timeout(Some(left)))
        .map_err(ClientError::Io)
}

fn io_error(e: std::io::Error) -> ClientError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ClientError::Timeout,
        _ => ClientError::Io(e),
    }
}

/// Reads one response from `stream`: head, then body by its framing.
pub fn read_response(
    stream: &mut TcpStream,
    head_only: bool,
    deadline: Instant,
    max_body: usize,
) -> Result<Reply, ClientError> {
    let mut reader = DeadlineReader { stream, deadline };
    parse_response(&mut reader, head_only, max_body)
}

struct DeadlineReader<'a> {
    stream: &'a mut TcpStream,
    deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::TimedOut, "deadline"))?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Parses a response from any reader (the framing rules, testable without
/// sockets).
pub fn parse_response(
    reader: &mut dyn Read,
    head_only: bool,
    max_body: usize,
) -> Result<Reply, ClientError> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let (status, framing, head_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.unwrap_or(0);
                let framing = framing_of(&resp, status, head_only)?;
                break (status, framing, len);
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(ClientError::Protocol(e.to_string())),
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(ClientError::Protocol(format!(
                "response head larger than {} bytes",
                MAX_HEAD_BYTES
            )));
        }
        let n = reader.read(&mut chunk).map_err(io_error)?;
        if n == 0 {
            return Err(ClientError::Protocol(
                "connection closed before the response head ended".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let rest = buf.split_off(head_len);
    let body = match framing {
        Framing::None => Vec::new(),
        Framing::Length(n) => {
            if n > max_body {
                return Err(ClientError::TooLarge(max_body));
            }
            read_exact_from(reader, rest, n)?
        }
        Framing::Chunked => read_chunked(reader, rest, max_body)?,
        Framing::UntilClose => read_to_close(reader, rest, max_body)?,
    };
    Ok(Reply { status, body })
}

enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

fn framing_of(
    resp: &httparse::Response,
    status: u16,
    head_only: bool,
) -> Result<Framing, ClientError> {
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Framing::None);
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    if let Some(te) = header("Transfer-Encoding") {
        if te.eq_ignore_ascii_case("chunked") {
            return Ok(Framing::Chunked);
        }
        return Err(ClientError::Protocol(format!(
            "unsupported Transfer-Encoding {:?}",
            te
        )));
    }
    match header("Content-Length") {
        Some(v) => v
            .parse::<usize>()
            .map(Framing::Length)
            .map_err(|_| ClientError::Protocol(format!("bad Content-Length {:?}", v))),
        None => Ok(Framing::UntilClose),
    }
}

fn read_exact_from(
    reader: &mut dyn Read,
    mut have: Vec<u8>,
    n: usize,
) -> Result<Vec<u8>, ClientError> {
    if have.len() >= n {
        have.truncate(n);
        return Ok(have);
    }
    let missing = n - have.len();
    let got = reader
        .take(missing as u64)
        .read_to_end(&mut have)
        .map_err(io_error)?;
    if got < missing {
        return Err(ClientError::Protocol(format!(
            "body ended after {} of {} bytes",
            have.len(),
            n
        )));
    }
    Ok(have)
}

fn read_to_close(
    reader: &mut dyn Read,
    mut have: Vec<u8>,
    max_body: usize,
) -> Result<Vec<u8>, ClientError> {
    reader
        .take((max_body + 1).saturating_sub(have.len()) as u64)
        .read_to_end(&mut have)
        .map_err(io_error)?;
    if have.len() > max_body {
        return Err(ClientError::TooLarge(max_body));
    }
    Ok(have)
}

/// Reads a chunked body; `pending` holds bytes already read past the head.
fn read_chunked(
    reader: &mut dyn Read,
    pending: Vec<u8>,
    max_body: usize,
) -> Result<Vec<u8>, ClientError> {
    let mut input = Buffered {
        reader,
        buf: pending,
        pos: 0,
    };
    let mut body = Vec::new();
    loop {
        let line = input.line()?;
        let size_text = line.split(|&b| b == b';').next().unwrap_or(b"");
        let size_text = String::from_utf8_lossy(size_text).trim().to_string();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|_| ClientError::Protocol(format!("bad chunk size {:?}", size_text)))?;
        if size == 0 {
            // Trailer fields up to the empty line.
            while !input.line()?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > max_body {
            return Err(ClientError::TooLarge(max_body));
        }
        body.extend_from_slice(&input.take(size)?);
        if !input.line()?.is_empty() {
            return Err(ClientError::Protocol("chunk not followed by CRLF".into()));
        }
    }
}

struct Buffered<'a> {
    reader: &'a mut dyn Read,
    buf: Vec<u8>,
    pos: usize,
}

impl Buffered<'_> {
    fn fill(&mut self) -> Result<(), ClientError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 8192];
        let n = self.reader.read(&mut chunk).map_err(io_error)?;
        if n == 0 {
            return Err(ClientError::Protocol(
                "connection closed inside a chunked body".into(),
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next line without its CRLF (or LF); lines are at most 4 KiB.
    fn line(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let mut line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() - self.pos > 4096 {
                return Err(ClientError::Protocol("chunk line too long".into()));
            }
            self.fill()?;
        }
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, ClientError> {
        while self.buf.len() - self.pos < n {
            self.fill()?;
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8], max: usize) -> Result<Reply, ClientError> {
        // One byte per read, so every partial-read path is taken.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        parse_response(&mut Trickle(raw), false, max)
    }

    #[test]
    fn content_length_body() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
            100,
        )
        .unwrap();
        assert_eq!((r.status, r.body), (200, b"hello".to_vec()));
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
        let r = parse(raw, 100).unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn body_until_close_and_no_body_statuses() {
        let r = parse(b"HTTP/1.1 200 OK\r\n\r\nall of it", 100).unwrap();
        assert_eq!(r.body, b"all of it");
        let r = parse(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 100).unwrap();
        assert_eq!((r.status, r.body.len()), (202, 0));
        let r = parse(b"HTTP/1.1 204 No Content\r\n\r\nignored", 100).unwrap();
        assert!(r.body.is_empty());
    }

    #[test]
    fn bounds_and_broken_answers_are_errors() {
        let too_long = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 100);
        assert!(matches!(too_long, Err(ClientError::TooLarge(100))));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n";
        assert!(matches!(
            parse(chunked, 100),
            Err(ClientError::TooLarge(100))
        ));
        let until_close = [b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), &[b'x'; 101]].concat();
        assert!(matches!(
            parse(&until_close, 100),
            Err(ClientError::TooLarge(100))
        ));
        for raw in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort"[..],
            b"HTTP/1.1 200 OK\r\nContent-Len",
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw, 100), Err(ClientError::Protocol(_))),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn base_urls() {
        let u = BaseUrl::parse("http://127.0.0.1:9091").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.prefix.as_str()),
            ("127.0.0.1:9091", "")
        );
        let u = BaseUrl::parse("http://localhost/pg/").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.prefix.as_str()),
            ("localhost:80", "/pg")
        );
        let u = BaseUrl::parse("http://admin:s%3Acret@[::1]:9091/x").unwrap();
        assert_eq!(u.authority, "[::1]:9091");
        assert_eq!(u.to_string(), "http://admin@[::1]:9091/x");
        assert_eq!(
            u.authorization.as_deref(),
            Some("Basic YWRtaW46czpjcmV0") // admin:s:cret
        );
        assert_eq!(
            BaseUrl::parse("http://[::1]").unwrap().authority,
            "[::1]:80"
        );
        for bad in [
            "https://127.0.0.1:9091",
            "127.0.0.1:9091",
            "http://",
            "http://:9091",
            "http://h:0",
            "http://h:99999",
            "http://h:port",
            "http://h:1/?q",
        ] {
            let e = BaseUrl::parse(bad).unwrap_err();
            assert!(e.starts_with("bad shard URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn percent_decoding_of_credentials_keeps_malformed_escapes() {
        use crate::http::percent::decode_lossy;
        assert_eq!(decode_lossy(b"a%41%4"), b"aA%4");
        assert_eq!(decode_lossy(b"%zz%"), b"%zz%");
    }
}
