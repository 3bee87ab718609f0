//! pushgate's own metrics: `pushgateway_*` (build info, request counter, push
//! duration and size summaries) and `process_*` read from /proc.

use std::time::Duration;

use crate::model::{MetricFamily, MetricType};

/// A family pushgate exposes itself; pushed families of the same name must
/// have this type and get this HELP.
#[derive(Clone, Copy, Debug)]
pub struct OwnFamily {
    pub name: &'static str,
    pub kind: MetricType,
    pub help: &'static str,
}

/// Every own family, sorted by name.
pub fn own_families() -> &'static [OwnFamily] {
    &[]
}

/// Build information for `pushgateway_build_info` and `/api/v1/status`.
#[derive(Clone, Debug)]
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
    pub branch: &'static str,
    pub build_user: &'static str,
    pub build_date: &'static str,
    /// e.g. `rust1.95.0`, reported as `goVersion`/`goversion`.
    pub rust_version: &'static str,
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: "unknown",
        branch: "unknown",
        build_user: "unknown",
        build_date: "unknown",
        rust_version: "unknown",
    }
}

#[derive(Debug, Default)]
pub struct Telemetry {}

impl Telemetry {
    pub fn new() -> Telemetry {
        Telemetry {}
    }

    /// Counts one request in `pushgateway_http_requests_total`.
    pub fn count_request(&self, _handler: &'static str, _method: &str, _code: u16) {}

    /// Records one push in the duration and size summaries.
    pub fn observe_push(&self, _method: &str, _duration: Duration, _size_bytes: f64) {}

    /// The own families with their current values, sorted by name; families
    /// without series are left out.
    pub fn families(&self) -> Vec<MetricFamily> {
        Vec::new()
    }
}
