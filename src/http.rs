//! pushgate's own HTTP request and response types.
//!
//! Handlers (`push`, `scrape`, `api`, `ui`) take a [`Request`] and return a
//! [`Response`]; only `server` converts to and from the wire, so every
//! handler can be tested in-process without sockets. Header names compare
//! case-insensitively; the path is kept as percent-decoded bytes because a
//! client may send `%FF`, which is not UTF-8 and must be rejected by the push
//! handler with a clear message rather than by the router.

use std::net::SocketAddr;
use std::sync::Arc;

pub mod media;
pub mod percent;

/// Content type of every plain-text answer (errors, health).
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// An HTTP status code. Handlers name statuses by these constants; the
/// number itself is written only here, and each boundary's error type maps
/// its variants to a `Status` in one exhaustive `match` (`push::PushError`,
/// `body::BodyError`, `auth::Rejection`, `server::head::HeadError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Status(u16);

impl Status {
    pub const CONTINUE: Status = Status(100);
    pub const OK: Status = Status(200);
    pub const CREATED: Status = Status(201);
    pub const ACCEPTED: Status = Status(202);
    pub const NO_CONTENT: Status = Status(204);
    pub const MOVED_PERMANENTLY: Status = Status(301);
    pub const FOUND: Status = Status(302);
    pub const NOT_MODIFIED: Status = Status(304);
    pub const TEMPORARY_REDIRECT: Status = Status(307);
    pub const PERMANENT_REDIRECT: Status = Status(308);
    pub const BAD_REQUEST: Status = Status(400);
    pub const UNAUTHORIZED: Status = Status(401);
    pub const FORBIDDEN: Status = Status(403);
    pub const NOT_FOUND: Status = Status(404);
    pub const METHOD_NOT_ALLOWED: Status = Status(405);
    pub const NOT_ACCEPTABLE: Status = Status(406);
    pub const REQUEST_TIMEOUT: Status = Status(408);
    pub const CONFLICT: Status = Status(409);
    pub const LENGTH_REQUIRED: Status = Status(411);
    pub const PAYLOAD_TOO_LARGE: Status = Status(413);
    pub const UNSUPPORTED_MEDIA_TYPE: Status = Status(415);
    pub const UNPROCESSABLE_ENTITY: Status = Status(422);
    pub const TOO_MANY_REQUESTS: Status = Status(429);
    pub const HEADER_FIELDS_TOO_LARGE: Status = Status(431);
    pub const INTERNAL_SERVER_ERROR: Status = Status(500);
    pub const NOT_IMPLEMENTED: Status = Status(501);
    pub const SERVICE_UNAVAILABLE: Status = Status(503);
    pub const HTTP_VERSION_NOT_SUPPORTED: Status = Status(505);

    /// The number on the wire.
    pub const fn code(self) -> u16 {
        self.0
    }

    /// The reason phrase (Go's `http.StatusText`, so a 413 is "Request
    /// Entity Too Large" as upstream writes it); "Unknown" for codes
    /// without a constant here.
    pub fn reason(self) -> &'static str {
        match self.0 {
            100 => "Continue",
            200 => "OK",
            201 => "Created",
            202 => "Accepted",
            204 => "No Content",
            301 => "Moved Permanently",
            302 => "Found",
            304 => "Not Modified",
            307 => "Temporary Redirect",
            308 => "Permanent Redirect",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            408 => "Request Timeout",
            409 => "Conflict",
            411 => "Length Required",
            413 => "Request Entity Too Large",
            415 => "Unsupported Media Type",
            422 => "Unprocessable Entity",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            _ => "Unknown",
        }
    }

    /// `"413 Request Entity Too Large"`: the start of the server's own
    /// refusal texts, as Go's server writes them.
    pub fn line(self) -> String {
        format!("{} {}", self.0, self.reason())
    }
}

/// Lets code not yet converted (and tests) pass a number; new code names a
/// constant.
impl From<u16> for Status {
    fn from(code: u16) -> Status {
        Status(code)
    }
}

impl From<Status> for u16 {
    fn from(status: Status) -> u16 {
        status.0
    }
}

/// So tests can keep asserting `e.status() == 400`.
impl PartialEq<u16> for Status {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl PartialEq<Status> for u16 {
    fn eq(&self, other: &Status) -> bool {
        *self == other.0
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Other(String),
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other(s) => s,
        }
    }

    /// The lower-case name used as the `method` label of own metrics.
    pub fn label(&self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

/// A request body as read by the server: complete, or cut off because it
/// exceeded `--push.max-body-bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Complete(Vec<u8>),
    TooLarge { limit: u64 },
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    /// Percent-decoded path with the route prefix already removed; starts with `/`.
    pub path: Vec<u8>,
    /// The raw request target as sent (path and query), for size accounting.
    pub raw_url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub remote_addr: Option<SocketAddr>,
}

impl Request {
    /// A request with no headers and an empty body, for tests and internal use.
    #[cfg(test)]
    pub fn new(method: Method, path: &str) -> Request {
        Request {
            method,
            path: path.as_bytes().to_vec(),
            raw_url: path.to_string(),
            headers: Vec::new(),
            body: Body::Complete(Vec::new()),
            remote_addr: None,
        }
    }

    #[cfg(test)]
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    #[cfg(test)]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Body::Complete(body.into());
        self
    }

    /// Every value of the query parameter `name`, percent-decoded (`+` is a
    /// space, as in HTML forms); undecodable values are skipped.
    pub fn query_values(&self, name: &str) -> Vec<String> {
        let Some((_, query)) = self.raw_url.split_once('?') else {
            return Vec::new();
        };
        query
            .split('&')
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = percent::decode_query(k)?;
                (k == name).then(|| percent::decode_query(v)).flatten()
            })
            .collect()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The code on the wire; built from a [`Status`] by the constructors.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ResponseBody,
}

/// A response body: bytes made for this one response, or pieces shared with
/// a cache (a scrape splices cached per-family segments), written in order.
/// Pieces let a large body reach the socket without being copied into one
/// buffer first, so a read costs memory for what changed, not for the whole
/// body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    Bytes(Vec<u8>),
    Pieces(Vec<Arc<[u8]>>),
}

impl ResponseBody {
    /// Total length in bytes (the `Content-Length`).
    pub fn len(&self) -> usize {
        match self {
            ResponseBody::Bytes(b) => b.len(),
            ResponseBody::Pieces(p) => p.iter().map(|piece| piece.len()).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body's bytes in order, without copying.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        let (bytes, pieces): (Option<&[u8]>, &[Arc<[u8]>]) = match self {
            ResponseBody::Bytes(b) => (Some(b.as_slice()), &[]),
            ResponseBody::Pieces(p) => (None, p.as_slice()),
        };
        bytes.into_iter().chain(pieces.iter().map(|p| &p[..]))
    }

    /// The whole body in one buffer (a copy for `Pieces`); for tests and
    /// small bodies.
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            ResponseBody::Bytes(b) => b.clone(),
            ResponseBody::Pieces(_) => {
                let mut out = Vec::with_capacity(self.len());
                for chunk in self.chunks() {
                    out.extend_from_slice(chunk);
                }
                out
            }
        }
    }
}

impl From<Vec<u8>> for ResponseBody {
    fn from(bytes: Vec<u8>) -> ResponseBody {
        ResponseBody::Bytes(bytes)
    }
}

impl Response {
    /// A response with no body and no headers.
    pub fn empty(status: impl Into<Status>) -> Response {
        Response {
            status: status.into().code(),
            headers: Vec::new(),
            body: ResponseBody::Bytes(Vec::new()),
        }
    }

    /// A plain-text response whose body is exactly `body` (no newline added).
    pub fn plain(status: impl Into<Status>, body: &str) -> Response {
        Response::empty(status)
            .with_header("Content-Type", TEXT_PLAIN)
            .with_header("X-Content-Type-Options", "nosniff")
            .with_body(body.as_bytes().to_vec())
    }

    /// A plain-text error: `message` plus a newline, as Go's `http.Error`.
    pub fn error(status: impl Into<Status>, message: &str) -> Response {
        let mut body = String::with_capacity(message.len() + 1);
        body.push_str(message);
        body.push('\n');
        Response::plain(status, &body)
    }

    pub fn not_found() -> Response {
        Response::error(Status::NOT_FOUND, "404 page not found")
    }

    /// 405 with the `Allow` header listing `allowed` (already sorted).
    pub fn method_not_allowed(allowed: &[&str]) -> Response {
        Response::error(Status::METHOD_NOT_ALLOWED, "Method Not Allowed")
            .with_header("Allow", &allowed.join(", "))
    }

    /// The response's status as a [`Status`].
    pub fn status(&self) -> Status {
        Status(self.status)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<ResponseBody>) -> Response {
        self.body = body.into();
        self
    }

    #[cfg(test)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_gos_reason_phrases() {
        let named = [
            Status::CONTINUE,
            Status::OK,
            Status::CREATED,
            Status::ACCEPTED,
            Status::NO_CONTENT,
            Status::MOVED_PERMANENTLY,
            Status::FOUND,
            Status::NOT_MODIFIED,
            Status::TEMPORARY_REDIRECT,
            Status::PERMANENT_REDIRECT,
            Status::BAD_REQUEST,
            Status::UNAUTHORIZED,
            Status::FORBIDDEN,
            Status::NOT_FOUND,
            Status::METHOD_NOT_ALLOWED,
            Status::NOT_ACCEPTABLE,
            Status::REQUEST_TIMEOUT,
            Status::CONFLICT,
            Status::LENGTH_REQUIRED,
            Status::PAYLOAD_TOO_LARGE,
            Status::UNSUPPORTED_MEDIA_TYPE,
            Status::UNPROCESSABLE_ENTITY,
            Status::TOO_MANY_REQUESTS,
            Status::HEADER_FIELDS_TOO_LARGE,
            Status::INTERNAL_SERVER_ERROR,
            Status::NOT_IMPLEMENTED,
            Status::SERVICE_UNAVAILABLE,
            Status::HTTP_VERSION_NOT_SUPPORTED,
        ];
        for status in named {
            assert_ne!(status.reason(), "Unknown", "{status}");
        }
        assert_eq!(
            Status::PAYLOAD_TOO_LARGE.line(),
            "413 Request Entity Too Large"
        );
        assert_eq!(Status::from(599).reason(), "Unknown");
        assert_eq!(Status::NOT_FOUND, 404);
        assert_eq!(404, Status::NOT_FOUND);
        assert_eq!(Response::empty(Status::ACCEPTED).status(), Status::ACCEPTED);
    }

    #[test]
    fn error_appends_newline() {
        let r = Response::error(400, "job name is required");
        assert_eq!(r.body.to_vec(), b"job name is required\n");
        assert_eq!(r.header("content-type"), Some(TEXT_PLAIN));
    }

    #[test]
    fn query_values_are_decoded() {
        let mut r = Request::new(Method::Delete, "/api/v1/groups");
        r.raw_url =
            "/api/v1/groups?match%5B%5D=%7Bjob%3D%22a+b%22%7D&x=1&match[]={job=\"c\"}&match[]=%zz"
                .into();
        assert_eq!(
            r.query_values("match[]"),
            vec!["{job=\"a b\"}", "{job=\"c\"}"]
        );
        assert!(r.query_values("y").is_empty());
    }

    #[test]
    fn header_lookup_is_case_insensitive() {
        let r = Request::new(Method::Get, "/").with_header("Content-Encoding", "gzip");
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert_eq!(r.header("accept"), None);
    }
}
