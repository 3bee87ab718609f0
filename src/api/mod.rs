//! `/api/v1/status`, `/api/v1/metrics`, `DELETE /api/v1/groups` and
//! `OPTIONS` with upstream's JSON envelope and CORS headers, byte for byte
//! as upstream's `encoding/json` writes them; [`ApiError`] is the API's
//! error envelope.
//!
//! The JSON layout of groups and families lives in `render`, the kept
//! per-group `/api/v1/metrics` JSON in `cache`; string escaping in `json`,
//! native bucket bounds in `histogram`. Does not route or count requests;
//! reads the store only through the snapshot and delete calls it is given.

mod cache;
mod render;
#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::go::rfc3339_nanos;
use crate::http::{Request, Response, Status};
use crate::json::write_string as write_json_string;
use crate::matcher::{Selector, SelectorError};
use crate::store::{GroupSnapshot, Store};
use crate::telemetry;
use render::{write_group, write_string_map};

pub use cache::{MetricsCache, METRICS_CACHE_IDLE};

/// Content type of every JSON answer.
pub const APPLICATION_JSON: &str = "application/json";

/// Headers upstream sets on every API response (§8.1), in its sorted order.
const CORS_HEADERS: [(&str, &str); 5] = [
    (
        "Access-Control-Allow-Headers",
        "Accept, Authorization, Content-Type, Origin",
    ),
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Date"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
];

/// `GET /api/v1/status`: build information, flag values and start time.
pub fn status(config: &Config, start_time_nanos: i64) -> Response {
    let mut data = String::with_capacity(1024);
    data.push_str("{\"build_information\":");
    write_string_map(&mut data, build_information());
    data.push_str(",\"flags\":");
    write_string_map(&mut data, config.flag_values());
    data.push_str(",\"start_time\":");
    write_json_string(&mut data, &rfc3339_nanos(start_time_nanos));
    data.push('}');
    success(&data)
}

/// `GET /api/v1/metrics`: groups in the order given (the store sorts them).
pub fn metrics(groups: &[GroupSnapshot]) -> Response {
    let mut data = String::with_capacity(256 + groups.len() * 1024);
    data.push('[');
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        write_group(&mut data, group);
    }
    data.push(']');
    success(&data)
}

/// `DELETE /api/v1/groups?match[]=<selector>`: deletes every group matched
/// by any selector (equality matchers on grouping labels) and answers with
/// the number deleted: `{"status":"success","data":{"deleted":N}}`.
pub fn delete_groups(req: &Request, store: &Store) -> Response {
    let raw = req.query_values("match[]");
    if raw.is_empty() {
        return ApiError::NoSelector.response();
    }
    let selectors = match raw
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(e) => return ApiError::BadSelector(e).response(),
    };
    let deleted = store.delete_where(|key| selectors.iter().any(|s| s.matches(key)));
    for key in &deleted {
        crate::log::info("group deleted by selector", &[("group", key)]);
    }
    success(&format!(r#"{{"deleted":{}}}"#, deleted.len()))
}

/// Why an API request fails. [`ApiError::status`] is the API boundary's one
/// status match; Display is the envelope's `error` text.
#[derive(Debug)]
pub enum ApiError {
    /// `DELETE /api/v1/groups` without a `match[]` parameter.
    NoSelector,
    /// A `match[]` selector that does not parse.
    BadSelector(SelectorError),
}

impl ApiError {
    pub fn status(&self) -> Status {
        match self {
            ApiError::NoSelector | ApiError::BadSelector(_) => Status::BAD_REQUEST,
        }
    }

    /// Upstream's `errorType` (`api/v1/api.go`).
    fn error_type(&self) -> &'static str {
        match self {
            ApiError::NoSelector | ApiError::BadSelector(_) => "bad_data",
        }
    }

    /// The error envelope,
    /// `{"status":"error","errorType":"bad_data","error":"…"}`.
    pub fn response(&self) -> Response {
        let mut body = String::from(r#"{"status":"error","errorType":"#);
        write_json_string(&mut body, self.error_type());
        body.push_str(r#","error":"#);
        write_json_string(&mut body, &self.to_string());
        body.push('}');
        with_cors(Response::empty(self.status()))
            .with_header("Content-Type", APPLICATION_JSON)
            .with_body(body.into_bytes())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::NoSelector => f.write_str(
                "at least one match[] selector is required, e.g. match[]={job=\"batch\"}",
            ),
            ApiError::BadSelector(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ApiError {}

/// `OPTIONS /api/v1/...`: 200, empty, CORS headers.
pub fn options() -> Response {
    with_cors(Response::empty(Status::OK))
}

fn with_cors(mut response: Response) -> Response {
    for (name, value) in CORS_HEADERS {
        response = response.with_header(name, value);
    }
    response
}

/// Wraps `data` (already JSON) in upstream's success envelope.
fn success(data: &str) -> Response {
    let mut body = String::with_capacity(data.len() + 32);
    body.push_str("{\"status\":\"success\",\"data\":");
    body.push_str(data);
    body.push('}');
    with_cors(Response::empty(Status::OK))
        .with_header("Content-Type", APPLICATION_JSON)
        .with_body(body.into_bytes())
}

/// The six keys of `build_information`, named as upstream's Go map.
fn build_information() -> Vec<(&'static str, String)> {
    telemetry::build_info().key_values()
}
