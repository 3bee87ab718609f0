//! Request heads: bytes in, a [`Head`] with its body framing or a typed
//! [`HeadError`] out. Pure (no I/O), so it is fuzzed directly.
//!
//! Syntax is `httparse`'s; the framing rules on top follow RFC 9112 and Go's
//! `net/http` server, strict where a lenient reading would let a request be
//! smuggled past a proxy: `Transfer-Encoding` other than exactly `chunked`
//! → 501, both `Transfer-Encoding` and `Content-Length` → 400, an invalid or
//! conflicting `Content-Length` → 400. Every error closes the connection.

use super::Refusal;
use crate::http::Status;

/// Largest request head (request line and header fields), as Go's
/// `http.DefaultMaxHeaderBytes`: 1 MiB. Larger heads get 431.
pub const MAX_HEAD_BYTES: usize = 1 << 20;

/// Most header fields in one request; more get 431. Real clients send
/// fewer than 30.
pub const MAX_HEADERS: usize = 256;

/// How the body of a request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (no `Content-Length`, or `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes (`Content-Length`, at least 1).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target as sent (origin form `/p?q`, or the path and query
    /// taken from an absolute-form target `http://host/p?q`).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Header fields in order; values with surrounding whitespace removed.
    pub headers: Vec<(String, String)>,
    pub framing: Framing,
    /// True if the connection may stay open after the response (HTTP/1.1
    /// without `Connection: close`, HTTP/1.0 with `Connection: keep-alive`).
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request with a body.
    pub expect_continue: bool,
}

/// Why the server refuses a request before any handler sees it: its head,
/// its body framing (chunk syntax included) or its target's escapes. Each
/// maps to one status ([`HeadError::status`], the one status match of the
/// server's own refusals) and one refusal reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Over [`MAX_HEAD_BYTES`] before the end of the head: 431.
    TooLarge,
    /// Over [`MAX_HEADERS`] fields: 431.
    TooManyHeaders,
    /// Not a well-formed HTTP/1.x head (request line, header syntax, control
    /// bytes, missing `Host`): 400.
    Malformed(&'static str),
    /// Conflicting or invalid body framing (`Content-Length`,
    /// `Transfer-Encoding`, chunk syntax): 400.
    BadFraming(&'static str),
    /// A malformed `%` escape in the target's path (found after the head is
    /// parsed; the bytes from the `%` on): 400.
    BadEscape(Vec<u8>),
    /// A transfer coding other than exactly `chunked`: 501.
    UnsupportedTransferEncoding,
}

impl HeadError {
    /// The status code the client gets.
    pub fn status(&self) -> Status {
        match self {
            HeadError::TooLarge | HeadError::TooManyHeaders => Status::HEADER_FIELDS_TOO_LARGE,
            HeadError::Malformed(_) | HeadError::BadFraming(_) | HeadError::BadEscape(_) => {
                Status::BAD_REQUEST
            }
            HeadError::UnsupportedTransferEncoding => Status::NOT_IMPLEMENTED,
        }
    }

    /// The `reason` label it is counted under.
    pub fn refusal(&self) -> Refusal {
        match self {
            HeadError::TooLarge => Refusal::HeadTooLarge,
            HeadError::TooManyHeaders => Refusal::TooManyHeaders,
            HeadError::Malformed(_) | HeadError::BadEscape(_) => Refusal::BadRequest,
            HeadError::BadFraming(_) | HeadError::UnsupportedTransferEncoding => {
                Refusal::BadFraming
            }
        }
    }

    /// The one-line body, as Go's server words it.
    pub fn message(&self) -> String {
        match self {
            HeadError::TooLarge => self.status().line(),
            HeadError::TooManyHeaders => {
                format!(
                    "{}: more than {MAX_HEADERS} header fields",
                    self.status().line()
                )
            }
            HeadError::Malformed(why) | HeadError::BadFraming(why) => {
                format!("{}: {why}", self.status().line())
            }
            HeadError::BadEscape(bad) => {
                format!("invalid URL escape {}", crate::go::quote(bad))
            }
            HeadError::UnsupportedTransferEncoding => "Unsupported transfer encoding".to_string(),
        }
    }
}

/// Parses the head at the start of `buf`. `Ok(None)`: incomplete, read more
/// (the caller must stop at [`MAX_HEAD_BYTES`]; this returns `TooLarge` once
/// `buf` holds that much without a complete head). `Ok(Some((head, n)))`:
/// the head took the first `n` bytes; the body (if any) follows.
pub fn parse(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let status = match req.parse(buf) {
        Ok(s) => s,
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Malformed(syntax_error(e))),
    };
    let len = match status {
        httparse::Status::Partial if buf.len() >= MAX_HEAD_BYTES => {
            return Err(HeadError::TooLarge)
        }
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(n) if n > MAX_HEAD_BYTES => return Err(HeadError::TooLarge),
        httparse::Status::Complete(n) => n,
    };
    // httparse fills these three on a complete parse.
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HeadError::Malformed("incomplete request line"));
    };
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        headers.push((h.name.to_string(), header_value(h.value)?));
    }
    let target = request_target(method, target)?;
    let framing = framing(&headers, minor_version)?;
    let hosts = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
        .count();
    if minor_version == 1 && hosts == 0 {
        return Err(HeadError::Malformed("missing required Host header"));
    }
    if hosts > 1 {
        return Err(HeadError::Malformed("too many Host headers"));
    }
    let keep_alive = if minor_version == 1 {
        !has_token(&headers, "connection", "close")
    } else {
        has_token(&headers, "connection", "keep-alive")
    };
    let expect_continue = minor_version == 1
        && framing != Framing::Empty
        && headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue")
        });
    Ok(Some((
        Head {
            method: method.to_string(),
            target,
            minor_version,
            headers,
            framing,
            keep_alive,
            expect_continue,
        },
        len,
    )))
}

fn syntax_error(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid request line",
        httparse::Error::TooManyHeaders => "too many header fields",
        httparse::Error::Version => "unsupported protocol version",
    }
}

/// A header value as text. httparse already refuses NUL, CR and LF inside
/// values; checked again here because a response may echo a value.
fn header_value(raw: &[u8]) -> Result<String, HeadError> {
    if raw.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err(HeadError::Malformed("control byte in a header value"));
    }
    Ok(String::from_utf8_lossy(raw)
        .trim_matches([' ', '\t'])
        .to_string())
}

/// The origin-form target (path and query) of a request. An absolute-form
/// target (`http://host/p?q`, what proxies send) keeps only its path and
/// query, as Go's server does; `*` is allowed for OPTIONS only.
fn request_target(method: &str, target: &str) -> Result<String, HeadError> {
    if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(HeadError::Malformed("control byte in the request target"));
    }
    if target.starts_with('/') {
        return Ok(target.to_string());
    }
    if target == "*" && method == "OPTIONS" {
        return Ok(target.to_string());
    }
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &target[7..]
    } else if lower.starts_with("https://") {
        &target[8..]
    } else {
        return Err(HeadError::Malformed("invalid request target"));
    };
    Ok(match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => rest[i..].to_string(),
        Some(i) => format!("/{}", &rest[i..]),
        None => "/".to_string(),
    })
}

/// The body framing of a request from its `Content-Length` and
/// `Transfer-Encoding` fields.
fn framing(headers: &[(String, String)], minor_version: u8) -> Result<Framing, HeadError> {
    let values = |name: &'static str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let te = values("transfer-encoding");
    let cl = values("content-length");
    if !te.is_empty() {
        if minor_version == 0 {
            // RFC 9112, section 6.1: an HTTP/1.0 message with Transfer-Encoding has
            // faulty framing. Go ignores the field, which a proxy may not.
            return Err(HeadError::BadFraming(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        // Like Go and nginx: exactly one field, exactly `chunked`.
        if te.len() != 1 || !te[0].eq_ignore_ascii_case("chunked") {
            return Err(HeadError::UnsupportedTransferEncoding);
        }
        if !cl.is_empty() {
            // RFC 9112, section 6.3: may be rejected; the connection closes either way.
            return Err(HeadError::BadFraming(
                "both Transfer-Encoding and Content-Length",
            ));
        }
        return Ok(Framing::Chunked);
    }
    let Some(first) = cl.first() else {
        return Ok(Framing::Empty);
    };
    // Go accepts repeated fields with the same value and refuses any other.
    if cl.iter().any(|v| v != first) {
        return Err(HeadError::BadFraming("multiple Content-Length headers"));
    }
    let n = parse_content_length(first).ok_or(HeadError::BadFraming("invalid Content-Length"))?;
    Ok(if n == 0 {
        Framing::Empty
    } else {
        Framing::Length(n)
    })
}

/// Decimal digits only, at most 2^63-1 (Go's `strconv.ParseUint(s, 10, 63)`):
/// no sign, no comma list, no spaces inside.
fn parse_content_length(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&n| n <= i64::MAX as u64)
}

/// True if a `name` field lists `token` (comma-separated, any case).
fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// True if `buf[from..]` (looking back up to three bytes before `from`)
/// holds the blank line that ends a head, so a head trickled a byte at a
/// time is searched once per byte, not re-parsed.
pub fn may_be_complete(buf: &[u8], from: usize) -> bool {
    let start = from.saturating_sub(3);
    let tail = &buf[start..];
    tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Head {
        match parse(raw.as_bytes()) {
            Ok(Some((head, n))) => {
                assert_eq!(n, raw.find("\r\n\r\n").map_or(raw.len(), |i| i + 4));
                head
            }
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    fn err(raw: &str) -> HeadError {
        match parse(raw.as_bytes()) {
            Err(e) => e,
            other => panic!("{raw:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let h = ok("GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nAccept:  text/plain \r\n\r\n");
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "/metrics?x=1");
        assert_eq!(h.framing, Framing::Empty);
        assert!(h.keep_alive);
        assert_eq!(
            h.headers[1],
            ("Accept".to_string(), "text/plain".to_string())
        );
    }

    #[test]
    fn partial_heads_ask_for_more() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(parse(b"GE"), Ok(None));
    }

    #[test]
    fn framing_table() {
        let cases: &[(&str, Result<Framing, u16>)] = &[
            ("Content-Length: 5", Ok(Framing::Length(5))),
            ("Content-Length: 0", Ok(Framing::Empty)),
            (
                "Content-Length: 5\r\nContent-Length: 5",
                Ok(Framing::Length(5)),
            ),
            ("Content-Length: 5\r\nContent-Length: 6", Err(400)),
            ("Content-Length: 5, 5", Err(400)),
            ("Content-Length: -1", Err(400)),
            ("Content-Length: +5", Err(400)),
            ("Content-Length: 0x10", Err(400)),
            ("Content-Length: ", Err(400)),
            ("Content-Length: 18446744073709551615", Err(400)),
            ("Content-Length: 9223372036854775808", Err(400)),
            (
                "Content-Length: 9223372036854775807",
                Ok(Framing::Length(i64::MAX as u64)),
            ),
            (
                "Content-Length: 100000000000",
                Ok(Framing::Length(100_000_000_000)),
            ),
            ("Transfer-Encoding: chunked", Ok(Framing::Chunked)),
            ("Transfer-Encoding: Chunked", Ok(Framing::Chunked)),
            ("Transfer-Encoding: gzip", Err(501)),
            ("Transfer-Encoding: gzip, chunked", Err(501)),
            ("Transfer-Encoding: chunked, chunked", Err(501)),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
                Err(501),
            ),
            ("Transfer-Encoding: identity", Err(501)),
            ("Transfer-Encoding: chunked\r\nContent-Length: 5", Err(400)),
            ("Transfer-Encoding : chunked", Err(400)),
            ("Content-Length : 5", Err(400)),
            (" Content-Length: 5", Err(400)),
            ("Content-Length: 5\r\n folded", Err(400)),
        ];
        for (fields, want) in cases {
            let raw = format!("PUT /metrics/job/x HTTP/1.1\r\nHost: x\r\n{fields}\r\n\r\n");
            let got = parse(raw.as_bytes()).map(|r| r.map(|(h, _)| h.framing));
            match (want, got) {
                (Ok(f), Ok(Some(g))) => assert_eq!(*f, g, "{fields:?}"),
                (Err(status), Err(e)) => assert_eq!(*status, e.status(), "{fields:?}: {e:?}"),
                (want, got) => panic!("{fields:?}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn control_bytes_are_refused() {
        for raw in [
            "GET //metrics\nSet-Cookie:pwned=1 HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX\0: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nX Y: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n: a\r\n\r\n",
        ] {
            assert_eq!(err(raw).status(), 400, "{raw:?}");
        }
    }

    #[test]
    fn host_is_required_once_in_http_1_1() {
        assert_eq!(err("GET / HTTP/1.1\r\n\r\n").status(), 400);
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status(),
            400
        );
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        assert!(!ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, Close\r\n\r\n").keep_alive);
        assert!(ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
    }

    #[test]
    fn transfer_encoding_in_http_1_0_is_refused() {
        let e = err("PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn expect_continue_only_with_a_body() {
        let h =
            ok("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
        assert!(h.expect_continue);
        let h = ok("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
        assert!(!h.expect_continue);
    }

    #[test]
    fn absolute_form_keeps_path_and_query() {
        let cases = [
            ("http://host/metrics", "/metrics"),
            ("HTTP://host:9091/metrics/job/x?a=b", "/metrics/job/x?a=b"),
            ("https://host", "/"),
            ("http://host?x", "/?x"),
        ];
        for (target, want) in cases {
            let h = ok(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
            assert_eq!(h.target, want, "{target}");
        }
        assert_eq!(
            err("GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n").status(),
            400
        );
        assert_eq!(err("GET metrics HTTP/1.1\r\nHost: x\r\n\r\n").status(), 400);
        assert_eq!(ok("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").target, "*");
    }

    #[test]
    fn size_limits() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        assert_eq!(err(&raw), HeadError::TooManyHeaders);
        let long = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX: {}",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert_eq!(err(&long), HeadError::TooLarge);
        let just = format!("GET / HTTP/1.1\r\nHost: x\r\nX: {}", "a".repeat(1000));
        assert_eq!(parse(just.as_bytes()), Ok(None));
    }

    #[test]
    fn bad_versions_are_refused() {
        assert_eq!(err("GET / HTTP/2.0\r\nHost: x\r\n\r\n").status(), 400);
        assert_eq!(err("GET / FOO\r\n\r\n").status(), 400);
    }

    #[test]
    fn end_of_head_is_found_across_reads() {
        let buf = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(!may_be_complete(&buf[..buf.len() - 1], 0));
        assert!(may_be_complete(buf, buf.len() - 1));
        assert!(may_be_complete(b"GET / HTTP/1.0\n\n", 15));
    }
}
