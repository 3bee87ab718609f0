//! `PUT|POST|DELETE /metrics/job/<job>{/<label>/<value>}`: the push API.
//!
//! Turns the URL into a [`GroupingKey`] (upstream `handler/push.go`,
//! `splitLabels`, with its exact error texts), undoes the body's encoding,
//! parses text or protobuf, and hands the result to the store. All URL
//! errors are answered before the body is read or the store is touched.

use std::fmt;
use std::net::SocketAddr;

use crate::body;
use crate::config::PushLimits;
use crate::exposition;
use crate::go::quote;
use crate::http::{percent, Body, Method, Request, Response, Status};
use crate::log;
use crate::model::{GroupingKey, Label, MetricFamily, NameValidation, JOB_LABEL};
use crate::proto;
use crate::store::{CheckMode, Push, PushOutcome, Rejection, Store};

/// Marks a base64url-encoded job or label value in the push path.
pub const BASE64_SUFFIX: &str = "@base64";

/// Prefix of every consistency error, as upstream.
pub const INCONSISTENT_PREFIX: &str =
    "pushed metrics are invalid or inconsistent with existing metrics";

/// What the push handler needs to know of the configuration.
#[derive(Clone, Copy, Debug)]
pub struct PushSettings {
    pub mode: CheckMode,
    pub names: NameValidation,
    /// Bound on the decompressed body; 0 = unlimited.
    pub max_body_bytes: u64,
    pub limits: PushLimits,
}

/// A push URL that cannot be used (a 400, [`PushError::status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    Base64Job {
        raw: Vec<u8>,
        at: usize,
    },
    OddComponents {
        rest: Vec<u8>,
    },
    ImproperLabelName {
        name: Vec<u8>,
    },
    Base64Label {
        name: String,
        raw: Vec<u8>,
        at: usize,
    },
    JobRequired,
    NotUtf8 {
        name: String,
    },
    /// A `%2F` turned `/metrics/job` itself into something else
    /// (`/metrics/job%2F/j`), or an empty segment where a name belongs.
    Segment {
        raw: String,
    },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Base64Job { raw, at } => write!(
                f,
                "invalid base64 encoding in job name {}: illegal base64 data at input byte {}",
                quote(raw),
                at
            ),
            UrlError::OddComponents { rest } => {
                write!(
                    f,
                    "odd number of components in label string {}",
                    quote(rest)
                )
            }
            UrlError::ImproperLabelName { name } => {
                write!(f, "improper label name {}", quote(name))
            }
            UrlError::Base64Label { name, raw, at } => write!(
                f,
                "invalid base64 encoding for label {}={}: illegal base64 data at input byte {}",
                name,
                quote(raw),
                at
            ),
            UrlError::JobRequired => f.write_str("job name is required"),
            UrlError::Segment { raw } => write!(
                f,
                "invalid push path segment {:?}: the path is /metrics/job/<job>{{/<name>/<value>}}, split at every / before percent-decoding; send an empty value as <name>@base64/= and a / inside a value as %2F or with <name>@base64",
                raw
            ),
            UrlError::NotUtf8 { name } => {
                write!(
                    f,
                    "label value for {:?} in URL path is not valid UTF-8",
                    name
                )
            }
        }
    }
}

impl std::error::Error for UrlError {}

/// Every failure a push or delete can answer. [`PushError::status`] is the
/// one place a push's error status is chosen; Display is the one-line
/// response body (upstream's texts where a client may match them).
#[derive(Debug)]
pub enum PushError {
    /// The URL names no usable grouping key.
    Url(UrlError),
    /// The `Pushgate-Group-TTL` header is no duration or too long; the
    /// message names the header and the value.
    Ttl(String),
    /// The body is over `--push.max-body-bytes` or its encoding is corrupt.
    Body(body::BodyError),
    /// The body is not valid text exposition.
    Text(exposition::parse::ParseError),
    /// The body is not valid delimited protobuf.
    Protobuf(proto::DecodeError),
    /// More families or series in one push than a `--push.max-*-per-push`
    /// flag allows; the message names the flag.
    TooMany(String),
    /// A series with too many labels, or a name or value longer than a
    /// `--push.max-*` flag allows; the message names the flag.
    TooLong(String),
    /// Inconsistent with itself or with stored metrics (checked mode).
    Inconsistent(Rejection),
    /// Over the store's `--push.max-series` or `--push.max-groups` budget.
    OverBudget(String),
}

impl PushError {
    /// The status of each failure: the one match of the push boundary.
    pub fn status(&self) -> Status {
        match self {
            PushError::Url(_)
            | PushError::Ttl(_)
            | PushError::Text(_)
            | PushError::Protobuf(_)
            | PushError::TooLong(_)
            | PushError::Inconsistent(_) => Status::BAD_REQUEST,
            PushError::Body(e) => e.status(),
            PushError::TooMany(_) => Status::PAYLOAD_TOO_LARGE,
            PushError::OverBudget(_) => Status::TOO_MANY_REQUESTS,
        }
    }
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Url(e) => e.fmt(f),
            PushError::Ttl(msg) | PushError::TooMany(msg) | PushError::TooLong(msg) => {
                f.write_str(msg)
            }
            PushError::Body(e) => e.fmt(f),
            PushError::Text(e) => e.fmt(f),
            PushError::Protobuf(e) => e.fmt(f),
            PushError::Inconsistent(r) => write!(f, "{}: {}", INCONSISTENT_PREFIX, r),
            PushError::OverBudget(msg) => write!(f, "push rejected: {}", msg),
        }
    }
}

impl std::error::Error for PushError {}

impl From<UrlError> for PushError {
    fn from(e: UrlError) -> PushError {
        PushError::Url(e)
    }
}

/// What a push or delete that did not fail did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Checked and stored (`--push.disable-consistency-check` off).
    Stored,
    /// Taken without a check the client can see: a push in unchecked mode
    /// (even one the store then drops, which is logged), or a delete.
    Accepted,
}

/// The grouping-key segments of a push request's raw target (`raw_url`,
/// query ignored) below the route `prefix`: the path is split at every `/`
/// first and each segment is percent-decoded afterwards, so a `%2F` stays
/// inside its job or label value (prom-client writes `/` in a value that
/// way). Upstream decodes the whole path first and then answers 301 to a
/// path where the `%2F` became a separator, which clients take for success
/// while the push is lost; pushgate keeps the value instead (issue 17).
/// Returns whether the job is base64 and the segments after `job[@base64]`.
pub fn raw_push_segments(raw_url: &str, prefix: &str) -> Result<(bool, Vec<Vec<u8>>), UrlError> {
    let raw_path = raw_url.split('?').next().unwrap_or("");
    let mut segments = raw_path.split('/').skip(1);
    for want in prefix.split('/').skip(1).chain(["metrics"]) {
        match segments.next() {
            Some(seg) if percent::decode_lossy(seg.as_bytes()) == want.as_bytes() => {}
            other => {
                return Err(UrlError::Segment {
                    raw: other.unwrap_or("").to_string(),
                })
            }
        }
    }
    let job_is_base64 = match segments.next() {
        Some(seg) if percent::decode_lossy(seg.as_bytes()) == b"job" => false,
        Some(seg) if percent::decode_lossy(seg.as_bytes()) == b"job@base64" => true,
        other => {
            return Err(UrlError::Segment {
                raw: other.unwrap_or("").to_string(),
            })
        }
    };
    // The server refused malformed escapes before routing.
    let decoded = segments.map(|s| percent::decode_lossy(s.as_bytes()));
    Ok((job_is_base64, decoded.collect()))
}

/// Builds the grouping key from the decoded segments after
/// `/metrics/job[@base64]` ([`raw_push_segments`]): the job, then name/value
/// pairs, with upstream's checks and messages ([`grouping_key_from_path`]).
/// An empty label name is refused with a message naming `@base64` (a plain
/// trailing empty value, `/a/`, stays allowed as upstream).
pub fn grouping_key_from_segments(
    segments: &[Vec<u8>],
    job_is_base64: bool,
    names: NameValidation,
) -> Result<GroupingKey, UrlError> {
    let Some((job_raw, labels)) = segments.split_first() else {
        return Err(UrlError::JobRequired);
    };
    let job = if job_is_base64 {
        decode_base64url(job_raw).map_err(|at| UrlError::Base64Job {
            raw: job_raw.clone(),
            at,
        })?
    } else {
        job_raw.clone()
    };
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    // `/metrics/job/j/` has one empty segment after the job: no labels.
    let trailing_slash_only = labels.len() == 1 && labels[0].is_empty();
    if !labels.is_empty() && !trailing_slash_only {
        if labels.len() % 2 != 0 {
            return Err(UrlError::OddComponents {
                rest: [&b"/"[..], &labels.join(&b'/')].concat(),
            });
        }
        for pair in labels.chunks(2) {
            if pair[0].is_empty() {
                return Err(UrlError::Segment { raw: String::new() });
            }
            pairs.push(label_pair(&pair[0], &pair[1], names)?);
        }
    }
    finish_key(job, pairs)
}

/// Parses the part of a push path after `/metrics/job` or
/// `/metrics/job@base64` (`job_is_base64`), e.g. `/j/instance/i`, into the
/// grouping key. `rest` starts with `/`; the path is already percent-decoded.
pub fn grouping_key_from_path(
    rest: &[u8],
    job_is_base64: bool,
    names: NameValidation,
) -> Result<GroupingKey, UrlError> {
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    let segments: Vec<Vec<u8>> = rest.split(|&b| b == b'/').map(<[u8]>::to_vec).collect();
    grouping_key_from_segments(&segments, job_is_base64, names)
}

/// The job and the label pairs (in path order) → the key; the last
/// occurrence of a name wins, a `job` pair is replaced by the job.
fn finish_key(job: Vec<u8>, pairs: Vec<(String, Vec<u8>)>) -> Result<GroupingKey, UrlError> {
    if job.is_empty() {
        return Err(UrlError::JobRequired);
    }
    let mut labels = Vec::with_capacity(pairs.len() + 1);
    for (name, value) in pairs.into_iter().filter(|(n, _)| n != JOB_LABEL) {
        labels.push(Label::new(name.clone(), utf8_value(&name, value)?));
    }
    labels.push(Label::new(JOB_LABEL, utf8_value(JOB_LABEL, job)?));
    Ok(GroupingKey::new(labels))
}

fn label_pair(
    raw_name: &[u8],
    raw_value: &[u8],
    names: NameValidation,
) -> Result<(String, Vec<u8>), UrlError> {
    let (written, is_base64) = match raw_name.strip_suffix(BASE64_SUFFIX.as_bytes()) {
        Some(n) => (n, true),
        None => (raw_name, false),
    };
    let improper = || UrlError::ImproperLabelName {
        name: written.to_vec(),
    };
    let as_written = std::str::from_utf8(written).map_err(|_| improper())?;
    let name = match names {
        NameValidation::Utf8 => unescape_label_name(as_written),
        NameValidation::Legacy => as_written.to_string(),
    };
    // pushgate also rejects a `__` prefix that only appears after unescaping.
    if !names.label_name_ok(&name) || name.starts_with("__") || as_written.starts_with("__") {
        return Err(improper());
    }
    let value = if is_base64 {
        decode_base64url(raw_value).map_err(|at| UrlError::Base64Label {
            name: name.clone(),
            raw: raw_value.to_vec(),
            at,
        })?
    } else {
        raw_value.to_vec()
    };
    Ok((name, value))
}

/// Grouping values become label values; non-UTF-8 ones are refused here so
/// they never reach the store (upstream's "poison pill", §16 #1).
fn utf8_value(name: &str, value: Vec<u8>) -> Result<String, UrlError> {
    String::from_utf8(value).map_err(|_| UrlError::NotUtf8 {
        name: name.to_string(),
    })
}

/// Base64 with the URL-safe alphabet, no padding expected (all trailing `=`
/// are removed first) and non-zero trailing bits tolerated, as Go's
/// `RawURLEncoding` after `strings.TrimRight(s, "=")`.
const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 with the URL-safe alphabet after removing all trailing
/// `=` (so padded, unpadded and a lone `=` for "empty" all work). On error,
/// returns the offset of the offending input byte, as Go's
/// `CorruptInputError`. Non-zero trailing bits are tolerated, as in Go.
pub fn decode_base64url(input: &[u8]) -> Result<Vec<u8>, usize> {
    use base64::{DecodeError, Engine as _};
    let end = input.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let data = &input[..end];
    BASE64URL.decode(data).map_err(|e| match e {
        DecodeError::InvalidByte(at, _) | DecodeError::InvalidLastSymbol(at, _) => at,
        // A single leftover character carries fewer than 8 bits: Go
        // reports the start of that incomplete quantum.
        DecodeError::InvalidLength(_) | DecodeError::InvalidPadding => data.len().saturating_sub(1),
    })
}

/// Undoes the `U__` escaping of UTF-8 label names (`U__foo_2e_bar` →
/// `foo.bar`, `__` → `_`). A malformed escape leaves the whole name as written.
pub fn unescape_label_name(name: &str) -> String {
    let Some(body) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        loop {
            match chars.next() {
                Some('_') => break,
                Some(h) if h.is_ascii_hexdigit() && hex.len() < 6 => hex.push(h),
                _ => return name.to_string(),
            }
        }
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(decoded) if !hex.is_empty() => out.push(decoded),
            _ => return name.to_string(),
        }
    }
    out
}

/// Handles PUT, POST and DELETE on a push path below the route `prefix`;
/// the grouping key comes from the raw target ([`raw_push_segments`]).
pub fn handle(
    req: &Request,
    prefix: &str,
    store: &Store,
    settings: &PushSettings,
    received_at: i64,
) -> Response {
    answer(apply(req, prefix, store, settings, received_at))
}

/// The response to a push or delete: the outcome's status with no body, or
/// the error's status ([`PushError::status`]) and its one-line message.
pub fn answer(result: Result<Outcome, PushError>) -> Response {
    match result {
        Ok(Outcome::Stored) => Response::empty(Status::OK),
        Ok(Outcome::Accepted) => Response::empty(Status::ACCEPTED),
        Err(e) => Response::error(e.status(), &e.to_string()),
    }
}

/// Does what the request asks of the store, logging failures as upstream
/// does. All URL errors are found before the body is read; nothing is
/// stored unless the result is `Ok`.
pub fn apply(
    req: &Request,
    prefix: &str,
    store: &Store,
    settings: &PushSettings,
    received_at: i64,
) -> Result<Outcome, PushError> {
    let key = raw_push_segments(&req.raw_url, prefix)
        .and_then(|(job_is_base64, segments)| {
            grouping_key_from_segments(&segments, job_is_base64, settings.names)
        })
        .map_err(|e| {
            // Upstream's message and fields (url, err), plus the client.
            let path = req.raw_url.split('?').next().unwrap_or("");
            log::debug(
                "failed to parse URL",
                &[("url", &path), ("source", &source_of(req)), ("err", &e)],
            );
            PushError::Url(e)
        })?;
    if req.method == Method::Delete {
        store.delete(&key);
        return Ok(Outcome::Accepted);
    }
    let ttl = requested_ttl(req)?;
    let families = read_families(req, settings)?;
    check_limits(&key, &families, &settings.limits).inspect_err(|e| {
        log::debug("push over a per-push limit", &[("err", e)]);
    })?;
    let outcome = store.push(Push {
        key,
        families,
        replace_group: req.method == Method::Put,
        received_at,
        ttl,
    });
    match (outcome, settings.mode) {
        (PushOutcome::Applied, CheckMode::Checked) => Ok(Outcome::Stored),
        (PushOutcome::Applied, CheckMode::Unchecked) => Ok(Outcome::Accepted),
        (PushOutcome::Rejected(r), CheckMode::Checked) => {
            let source = source_of(req);
            log::error(
                INCONSISTENT_PREFIX,
                &[
                    ("method", &req.method.as_str()),
                    ("source", &source),
                    ("err", &log::OneLine(&r)),
                ],
            );
            Err(PushError::Inconsistent(r))
        }
        (PushOutcome::OverBudget(msg), _) => {
            log::warn(
                "push over budget",
                &[("source", &source_of(req)), ("err", &msg)],
            );
            Err(PushError::OverBudget(msg))
        }
        (PushOutcome::Rejected(r), CheckMode::Unchecked) => {
            let source = source_of(req);
            log::warn(
                "pushed metrics were dropped",
                &[
                    ("method", &req.method.as_str()),
                    ("source", &source),
                    ("err", &log::OneLine(&r)),
                ],
            );
            Ok(Outcome::Accepted)
        }
    }
}

/// Checks one push against `--push.max-*` per-push limits: counts get 413,
/// oversized labels 400. Each message names the flag to raise.
fn check_limits(
    key: &GroupingKey,
    families: &[MetricFamily],
    limits: &PushLimits,
) -> Result<(), PushError> {
    let over = |limit: usize, n: usize| limit > 0 && n > limit;
    if over(limits.families, families.len()) {
        return Err(PushError::TooMany(format!(
            "push has {} metric families, more than the {} allowed by --push.max-families-per-push",
            families.len(),
            limits.families
        )));
    }
    let series: usize = families.iter().map(|f| f.metrics.len()).sum();
    if over(limits.series, series) {
        return Err(PushError::TooMany(format!(
            "push has {} series, more than the {} allowed by --push.max-series-per-push",
            series, limits.series
        )));
    }
    for f in families {
        if over(limits.metric_name_bytes, f.name.len()) {
            let head: String = f.name.chars().take(40).collect();
            return Err(PushError::TooLong(format!(
                    "metric name {:?}... is {} bytes long, more than the {} allowed by --push.max-metric-name-length",
                    head,
                    f.name.len(),
                    limits.metric_name_bytes
                )));
        }
    }
    let all_labels = families
        .iter()
        .flat_map(|f| f.metrics.iter().map(move |m| (f.name.as_str(), m)));
    for (name, m) in all_labels {
        if over(limits.labels_per_series, m.labels.len()) {
            return Err(PushError::TooLong(format!(
                    "a series of {:?} has {} labels, more than the {} allowed by --push.max-labels-per-series",
                    name,
                    m.labels.len(),
                    limits.labels_per_series
                )));
        }
        check_label_sizes(m.labels.iter(), limits)?;
    }
    check_label_sizes(key.labels().iter(), limits)
}

fn check_label_sizes<'a>(
    labels: impl Iterator<Item = &'a Label>,
    limits: &PushLimits,
) -> Result<(), PushError> {
    // Quote at most a prefix of the offending text: the message must stay one short line.
    let head = |s: &str| s.chars().take(40).collect::<String>();
    for l in labels {
        if limits.label_name_bytes > 0 && l.name.len() > limits.label_name_bytes {
            return Err(PushError::TooLong(format!(
                    "label name {:?}... is {} bytes long, more than the {} allowed by --push.max-label-name-length",
                    head(&l.name),
                    l.name.len(),
                    limits.label_name_bytes
                )));
        }
        if limits.label_value_bytes > 0 && l.value.len() > limits.label_value_bytes {
            return Err(PushError::TooLong(format!(
                    "value of label {:?} is {} bytes long, more than the {} allowed by --push.max-label-value-length",
                    head(&l.name),
                    l.value.len(),
                    limits.label_value_bytes
                )));
        }
    }
    Ok(())
}

/// Header in which a client asks for a time to live of its group.
pub const TTL_HEADER: &str = "Pushgate-Group-TTL";

/// The longest per-group TTL a client may ask for: a year. Longer than any
/// sensible batch period, short enough that a typo cannot pin a group forever.
pub const MAX_GROUP_TTL: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 3600);

/// The TTL asked for with the `Pushgate-Group-TTL` header, as a Go duration
/// (`90s`, `1h30m`; `0` clears a previous one).
fn requested_ttl(req: &Request) -> Result<Option<std::time::Duration>, PushError> {
    let Some(raw) = req.header(TTL_HEADER) else {
        return Ok(None);
    };
    let ttl = crate::config::parse_duration(raw.trim())
        .map_err(|e| PushError::Ttl(format!("invalid {} header {:?}: {}", TTL_HEADER, raw, e)))?;
    if ttl > MAX_GROUP_TTL {
        return Err(PushError::Ttl(format!(
            "invalid {} header {:?}: at most {} allowed",
            TTL_HEADER,
            raw,
            crate::go::format_duration(MAX_GROUP_TTL)
        )));
    }
    Ok(Some(ttl))
}

/// The client address as upstream logs it: an IPv4 client of a dual-stack
/// listener shows as `127.0.0.1:PORT`, not `[::ffff:127.0.0.1]:PORT`.
pub fn source_of(req: &Request) -> String {
    match req.remote_addr {
        Some(SocketAddr::V6(a)) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, a.port())).to_string(),
            None => a.to_string(),
        },
        Some(a) => a.to_string(),
        None => "unknown".to_string(),
    }
}

/// Bounded body → decompressed bytes → families.
fn read_families(req: &Request, settings: &PushSettings) -> Result<Vec<MetricFamily>, PushError> {
    let raw = match &req.body {
        Body::Complete(bytes) => bytes.clone(),
        Body::TooLarge { limit } => {
            return Err(PushError::Body(body::BodyError::TooLarge { limit: *limit }));
        }
    };
    let bytes = body::decode(raw, req.header("Content-Encoding"), settings.max_body_bytes)
        .map_err(|e| {
            log::debug(
                "failed to decode body",
                &[("source", &source_of(req)), ("err", &e)],
            );
            PushError::Body(e)
        })?;
    let is_protobuf = req
        .header("Content-Type")
        .is_some_and(proto::is_delimited_content_type);
    let parsed = if is_protobuf {
        proto::decode_delimited(&bytes, settings.names).map_err(PushError::Protobuf)
    } else {
        exposition::parse(&bytes, settings.names).map_err(PushError::Text)
    };
    parsed.inspect_err(|e| {
        // Upstream's message for text and protobuf bodies alike.
        log::debug(
            "failed to parse text",
            &[("source", &source_of(req)), ("err", e)],
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `req` aimed at the raw target `path`.
    fn at(req: &Request, path: &str) -> Request {
        let mut req = req.clone();
        req.raw_url = path.to_string();
        req
    }

    fn parse(path: &str) -> Result<Vec<(String, String)>, String> {
        parse_with(path, NameValidation::Legacy)
    }

    fn parse_with(path: &str, names: NameValidation) -> Result<Vec<(String, String)>, String> {
        let (b64, rest) = match path.strip_prefix("/metrics/job@base64") {
            Some(r) => (true, r),
            None => (false, path.strip_prefix("/metrics/job").expect("test path")),
        };
        grouping_key_from_path(rest.as_bytes(), b64, names)
            .map(|k| {
                k.labels()
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    fn labels(pairs: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        Ok(pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect())
    }

    #[test]
    fn split_labels_table() {
        // Scenarios of upstream's TestSplitLabels plus the spec's checklist.
        type Case = (
            &'static str,
            &'static str,
            Result<Vec<(String, String)>, String>,
        );
        let cases: &[Case] = &[
            ("job only", "/metrics/job/j", labels(&[("job", "j")])),
            ("trailing slash", "/metrics/job/j9/", labels(&[("job", "j9")])),
            (
                "regular labels",
                "/metrics/job/j/label_name1/label_value1/label_name2/label_value2",
                labels(&[("job", "j"), ("label_name1", "label_value1"), ("label_name2", "label_value2")]),
            ),
            (
                "invalid label name",
                "/metrics/job/j/label_name1/label_value1/a=b/label_value2",
                Err("improper label name \"a=b\"".into()),
            ),
            (
                "reserved label name",
                "/metrics/job/j/label_name1/label_value1/__label_name2/label_value2",
                Err("improper label name \"__label_name2\"".into()),
            ),
            (
                "unencoded slash in label value",
                "/metrics/job/j/label_name1/label_value1/label_name2/label/value2",
                Err("odd number of components in label string \"/label_name1/label_value1/label_name2/label/value2\"".into()),
            ),
            (
                "encoded slash with padding",
                "/metrics/job/j/label_name1@base64/bGFiZWwvdmFsdWUx/label_name2@base64/bGFiZWwvdmFsdWUy==",
                labels(&[("job", "j"), ("label_name1", "label/value1"), ("label_name2", "label/value2")]),
            ),
            (
                "invalid base64",
                "/metrics/job/j/label_name1@base64/foo.bar/label_name2/label_value2",
                Err("invalid base64 encoding for label label_name1=\"foo.bar\": illegal base64 data at input byte 3".into()),
            ),
            (
                "base64 job and instance",
                "/metrics/job@base64/dGVzdC9qb2I=/instance@base64/dGVzdGluc3RhbmNl",
                labels(&[("instance", "testinstance"), ("job", "test/job")]),
            ),
            (
                "empty value by lone =",
                "/metrics/job/example/first_label@base64/=/second_label/foobar",
                labels(&[("first_label", ""), ("job", "example"), ("second_label", "foobar")]),
            ),
            ("empty plain trailing value", "/metrics/job/j7/a/", labels(&[("a", ""), ("job", "j7")])),
            (
                "duplicates, last wins, job overridden",
                "/metrics/job/j11/job/override/b/1/b/2",
                labels(&[("b", "2"), ("job", "j11")]),
            ),
            ("empty job", "/metrics/job@base64/=", Err("job name is required".into())),
            (
                "U__ is literal without the flag",
                "/metrics/job/j/U__label_2e_name2/v",
                labels(&[("U__label_2e_name2", "v"), ("job", "j")]),
            ),
            (
                "invalid base64 job",
                "/metrics/job@base64/##",
                Err("invalid base64 encoding in job name \"##\": illegal base64 data at input byte 0".into()),
            ),
        ];
        for (scenario, path, want) in cases {
            assert_eq!(&parse(path), want, "scenario: {scenario}");
        }
    }

    #[test]
    fn non_utf8_values_are_rejected() {
        let err = grouping_key_from_path(b"/\xff", false, NameValidation::Legacy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "label value for \"job\" in URL path is not valid UTF-8"
        );
        let err =
            grouping_key_from_path(b"/j/a@base64/_w", false, NameValidation::Legacy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "label value for \"a\" in URL path is not valid UTF-8"
        );
    }

    #[test]
    fn utf8_names_are_unescaped_with_the_flag() {
        let got = parse_with(
            "/metrics/job@base64/dGVzdC9qb2I=/instance@base64/dGVzdGluc3RhbmNl/U__dotted_2e_label_2e_name@base64/bXlsYWJlbHZhbHVl",
            NameValidation::Utf8,
        );
        assert_eq!(
            got,
            labels(&[
                ("dotted.label.name", "mylabelvalue"),
                ("instance", "testinstance"),
                ("job", "test/job")
            ])
        );
        let err = parse_with("/metrics/job/j/U___5f__5f_x/v", NameValidation::Utf8);
        assert_eq!(err, Err("improper label name \"U___5f__5f_x\"".into()));
    }

    #[test]
    fn unescape_table() {
        let cases = [
            ("plain", "plain"),
            ("U__foo_2e_bar", "foo.bar"),
            ("U__dotted_2e_label_2e_name", "dotted.label.name"),
            ("U___55_____", "U__"),
            ("U__in_xxx_valid", "U__in_xxx_valid"),
            ("U__unterminated_2e", "U__unterminated_2e"),
            ("U__toolong_1234567_", "U__toolong_1234567_"),
            ("U__surrogate_d800_", "U__surrogate_d800_"),
            ("U__a__b", "a_b"),
            ("U__greek_3a0_", "greekΠ"),
        ];
        for (input, want) in cases {
            assert_eq!(unescape_label_name(input), want, "input {input}");
        }
    }

    #[test]
    fn base64url_decoding() {
        let ok: &[(&str, &[u8])] = &[
            ("", b""),
            ("=", b""),
            ("YS9i", b"a/b"),
            ("dGVzdC9qb2I=", b"test/job"),
            ("dGVzdC9qb2I", b"test/job"),
            ("bGFiZWwvdmFsdWUy==", b"label/value2"),
            ("QmrDtnJu", "Björn".as_bytes()),
            ("zqDPgc6_zrzOt864zrXPjc-C", "Προμηθεύς".as_bytes()),
            ("_w", b"\xff"),
            ("_x", b"\xff"),
        ];
        for (input, want) in ok {
            assert_eq!(
                decode_base64url(input.as_bytes()).as_deref(),
                Ok(*want),
                "input {input}"
            );
        }
        let bad = [
            ("foo.bar", 3),
            ("a+b", 1),
            ("ab/c", 2),
            ("a", 0),
            ("abcde", 4),
            ("a=b", 1),
        ];
        for (input, at) in bad {
            assert_eq!(decode_base64url(input.as_bytes()), Err(at), "input {input}");
        }
    }

    fn settings() -> PushSettings {
        PushSettings {
            mode: CheckMode::Checked,
            names: NameValidation::Legacy,
            max_body_bytes: 100,
            limits: PushLimits::default(),
        }
    }

    #[test]
    fn per_push_limits_table() {
        let limits = PushLimits {
            families: 2,
            series: 3,
            labels_per_series: 2,
            label_name_bytes: 5,
            label_value_bytes: 4,
            metric_name_bytes: 6,
        };
        let cases: &[(&str, &[u8], u16, &str)] = &[
            ("within all limits", b"a{x=\"1\"} 1\nb 2\n", 200, ""),
            (
                "too many families",
                b"a 1\nb 1\nc 1\n",
                413,
                "--push.max-families-per-push",
            ),
            (
                "too many series",
                b"a{x=\"1\"} 1\na{x=\"2\"} 1\nb{x=\"3\"} 1\nb 2\n",
                413,
                "--push.max-series-per-push",
            ),
            (
                "too many labels",
                b"a{x=\"1\",y=\"2\",z=\"3\"} 1\n",
                400,
                "--push.max-labels-per-series",
            ),
            (
                "long label name",
                b"a{abcdef=\"1\"} 1\n",
                400,
                "--push.max-label-name-length",
            ),
            (
                "long label value",
                b"a{x=\"12345\"} 1\n",
                400,
                "--push.max-label-value-length",
            ),
            (
                "long metric name",
                b"abcdefg 1\n",
                400,
                "--push.max-metric-name-length",
            ),
        ];
        for (scenario, body, status, needle) in cases {
            let s = store();
            let mut settings = settings();
            settings.limits = limits;
            let req = Request::new(Method::Put, "/x").with_body(body.to_vec());
            let resp = handle(&at(&req, "/metrics/job/j"), "", &s, &settings, 1);
            let text = String::from_utf8_lossy(&resp.body.to_vec()).to_string();
            assert_eq!(resp.status, *status, "{scenario}: {text}");
            assert!(text.contains(needle), "{scenario}: {text}");
            assert_eq!(
                s.groups().is_empty(),
                *status != 200,
                "{scenario}: store touched"
            );
        }
    }

    #[test]
    fn grouping_labels_are_bounded_too() {
        let s = store();
        let mut settings = settings();
        settings.limits.label_value_bytes = 3;
        let req = Request::new(Method::Put, "/x").with_body("a 1\n");
        let resp = handle(&at(&req, "/metrics/job/toolong"), "", &s, &settings, 1);
        assert_eq!(resp.status, 400);
        assert!(s.groups().is_empty());
    }

    fn store() -> Store {
        Store::new(vec![], CheckMode::Checked, NameValidation::Legacy)
    }

    #[test]
    fn url_errors_never_touch_the_store() {
        let s = store();
        let req = Request::new(Method::Post, "/x").with_body("m 1\n");
        let resp = handle(&at(&req, "/metrics/job/%FF"), "", &s, &settings(), 1);
        assert_eq!(resp.status, 400);
        assert_eq!(
            resp.body.to_vec(),
            b"label value for \"job\" in URL path is not valid UTF-8\n"
        );
        assert!(s.groups().is_empty());
        let resp = handle(&at(&req, "/metrics/job@base64/="), "", &s, &settings(), 1);
        assert_eq!(
            (resp.status, resp.body.to_vec().as_slice()),
            (400, &b"job name is required\n"[..])
        );
        assert!(s.groups().is_empty());
    }

    #[test]
    fn oversized_body_is_413_and_changes_nothing() {
        let s = store();
        let mut req = Request::new(Method::Put, "/x");
        req.body = Body::TooLarge { limit: 100 };
        let resp = handle(&at(&req, "/metrics/job/j"), "", &s, &settings(), 1);
        assert_eq!(resp.status, 413);
        assert_eq!(
            resp.body.to_vec(),
            b"request body exceeds the limit of 100 bytes\n"
        );
        assert!(s.groups().is_empty());
    }

    #[test]
    fn delete_answers_202_even_for_missing_groups() {
        let s = store();
        let req = Request::new(Method::Delete, "/x");
        let resp = handle(&at(&req, "/metrics/job/never"), "", &s, &settings(), 1);
        assert_eq!(resp.status, 202);
        assert!(resp.body.is_empty());
    }

    #[test]
    fn empty_post_creates_the_group_with_its_gauges() {
        let s = store();
        let req = Request::new(Method::Post, "/x");
        let resp = handle(
            &at(&req, "/metrics/job/testjob"),
            "",
            &s,
            &settings(),
            2_000_000_000,
        );
        assert_eq!(resp.status, 200);
        let groups = s.groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].push_time(), 2.0);
    }

    fn raw(path: &str, prefix: &str) -> Result<Vec<(String, String)>, String> {
        raw_push_segments(path, prefix)
            .and_then(|(b64, segs)| grouping_key_from_segments(&segs, b64, NameValidation::Legacy))
            .map(|k| {
                k.labels()
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn raw_paths_are_split_before_decoding() {
        // prom-client writes a / inside a value as %2F: it stays in the value.
        assert_eq!(
            raw("/metrics/job/j/path/%2Fvar%2Ftmp", ""),
            labels(&[("job", "j"), ("path", "/var/tmp")])
        );
        assert_eq!(
            raw("/metrics/job/a%2Fb/x/%2F", ""),
            labels(&[("job", "a/b"), ("x", "/")])
        );
        assert_eq!(raw("/metrics/job/%2F", ""), labels(&[("job", "/")]));
        assert_eq!(
            raw("/metrics/job/j%20k?x=%2F", ""),
            labels(&[("job", "j k")])
        );
        assert_eq!(
            raw("/pg/metrics/job@base64/YS9i/", "/pg"),
            labels(&[("job", "a/b")])
        );
        assert_eq!(
            raw("/metrics/job/j7/a/", ""),
            labels(&[("a", ""), ("job", "j7")])
        );
        assert_eq!(
            raw("/metrics/job/j/@base64/x", ""),
            Err("improper label name \"\"".into())
        );
        assert_eq!(
            raw("/metrics/job/j/a/b/", ""),
            Err("odd number of components in label string \"/a/b/\"".into())
        );
        for bad in ["/metrics/job%2F/j4", "/metrics%2Fjob/j", "/x/metrics/job/j"] {
            let err = raw(bad, "").unwrap_err();
            assert!(
                err.starts_with("invalid push path segment") && err.contains("@base64/="),
                "{bad}: {err}"
            );
        }
        let err = raw("/metrics/job/j//b", "").unwrap_err();
        assert!(err.contains("@base64"), "{err}");
        assert_eq!(
            raw("/metrics/job/%FF", ""),
            Err("label value for \"job\" in URL path is not valid UTF-8".into())
        );
    }

    #[test]
    fn every_push_error_has_its_status_and_text() {
        let too_large = body::BodyError::TooLarge { limit: 9 };
        let corrupt = body::BodyError::Corrupt {
            encoding: body::GZIP,
            msg: "invalid gzip header".into(),
        };
        let cases: Vec<(PushError, u16, &str)> = vec![
            (
                PushError::Url(UrlError::JobRequired),
                400,
                "job name is required",
            ),
            (
                PushError::Ttl("invalid Pushgate-Group-TTL header \"x\": bad".into()),
                400,
                "invalid Pushgate-Group-TTL header \"x\": bad",
            ),
            (
                PushError::Body(too_large),
                413,
                "request body exceeds the limit of 9 bytes",
            ),
            (
                PushError::Body(corrupt),
                400,
                "gzip: invalid gzip header",
            ),
            (
                PushError::Text(exposition::parse::ParseError {
                    line: 1,
                    msg: "expected float as value, got \"\"".into(),
                }),
                400,
                "text format parsing error in line 1: expected float as value, got \"\"",
            ),
            (
                PushError::Protobuf(proto::DecodeError::new("unexpected EOF")),
                400,
                "unexpected EOF",
            ),
            (PushError::TooMany("3 > 2".into()), 413, "3 > 2"),
            (PushError::TooLong("5 > 4".into()), 400, "5 > 4"),
            (
                PushError::Inconsistent(Rejection {
                    problems: vec!["collected metric m was collected before".into()],
                }),
                400,
                "pushed metrics are invalid or inconsistent with existing metrics: collected metric m was collected before",
            ),
            (
                PushError::OverBudget("over --push.max-series".into()),
                429,
                "push rejected: over --push.max-series",
            ),
        ];
        for (err, status, text) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            let resp = answer(Err(err));
            assert_eq!(resp.status, status);
            assert_eq!(resp.body.to_vec(), format!("{text}\n").into_bytes());
        }
        assert_eq!(answer(Ok(Outcome::Stored)), Response::empty(200));
        assert_eq!(answer(Ok(Outcome::Accepted)), Response::empty(202));
    }

    #[test]
    fn push_errors_stay_small() {
        // Every failed request moves one through a few frames.
        assert!(std::mem::size_of::<PushError>() <= 80);
    }

    #[test]
    fn sources_are_logged_as_upstream_does() {
        let mut req = Request::new(Method::Put, "/metrics/job/j");
        for (addr, shown) in [
            ("[::ffff:127.0.0.1]:4242", "127.0.0.1:4242"),
            ("127.0.0.1:80", "127.0.0.1:80"),
            ("[::1]:9", "[::1]:9"),
        ] {
            req.remote_addr = Some(addr.parse().unwrap());
            assert_eq!(source_of(&req), shown);
        }
        req.remote_addr = None;
        assert_eq!(source_of(&req), "unknown");
    }
}
