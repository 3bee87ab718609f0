//! pushgate's own metrics: `pushgateway_*` (build info, request counter, push
//! duration and size summaries), `process_*` read from /proc, and the
//! `pushgate_*` figures of the store and of persistence snapshots.
//!
//! This module holds the names and the table of own families (type and HELP),
//! the request and refusal counters and the persistence figures;
//! `telemetry/summary.rs` keeps the windowed push summaries,
//! `telemetry/process.rs` reads /proc, and `telemetry/build_info.rs` turns
//! what `build.rs` recorded into build information. Values are handed to the
//! scrape as model values; nothing here renders, routes or decides which
//! requests count (the router does).

mod build_info;
mod process;
mod summary;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::model::{Counter, Label, Metric, MetricFamily, MetricType, Value};
use build_info::build_info_family;
pub use build_info::{build_info, build_tags, go_arch, go_os, BuildInfo};
use process::process_families;
use summary::{summary_family, WindowedSummary};

pub const BUILD_INFO: &str = "pushgateway_build_info";
pub const HTTP_REQUESTS_TOTAL: &str = "pushgateway_http_requests_total";
pub const HTTP_PUSH_DURATION_SECONDS: &str = "pushgateway_http_push_duration_seconds";
pub const HTTP_PUSH_SIZE_BYTES: &str = "pushgateway_http_push_size_bytes";
pub const PROCESS_CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
pub const PROCESS_MAX_FDS: &str = "process_max_fds";
pub const PROCESS_NETWORK_RECEIVE_BYTES_TOTAL: &str = "process_network_receive_bytes_total";
pub const PROCESS_NETWORK_TRANSMIT_BYTES_TOTAL: &str = "process_network_transmit_bytes_total";
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
pub const PROCESS_START_TIME_SECONDS: &str = "process_start_time_seconds";
pub const PROCESS_VIRTUAL_MEMORY_BYTES: &str = "process_virtual_memory_bytes";
pub const PROCESS_VIRTUAL_MEMORY_MAX_BYTES: &str = "process_virtual_memory_max_bytes";
pub const EXPIRED_GROUPS_TOTAL: &str = "pushgate_expired_groups_total";
pub const HTTP_REFUSALS_TOTAL: &str = "pushgate_http_refusals_total";
pub const GROUPS: &str = "pushgate_groups";
pub const GROUPS_LIMIT: &str = "pushgate_groups_limit";
pub const PERSISTENCE_DURATION_SECONDS: &str = "pushgate_persistence_duration_seconds";
pub const PERSISTENCE_FAILURES_TOTAL: &str = "pushgate_persistence_failures_total";
pub const PERSISTENCE_FILE_BYTES: &str = "pushgate_persistence_file_bytes";
pub const PERSISTENCE_LAST_FAILURE: &str = "pushgate_persistence_last_failure_timestamp_seconds";
pub const PERSISTENCE_LAST_SUCCESS: &str = "pushgate_persistence_last_success_timestamp_seconds";
pub const SERIES: &str = "pushgate_series";
pub const SERIES_LIMIT: &str = "pushgate_series_limit";

/// A family pushgate exposes itself; pushed families of the same name must
/// have this type and get this HELP.
#[derive(Clone, Copy, Debug)]
pub struct OwnFamily {
    pub name: &'static str,
    pub kind: MetricType,
    pub help: &'static str,
}

const fn own(name: &'static str, kind: MetricType, help: &'static str) -> OwnFamily {
    OwnFamily { name, kind, help }
}

/// Sorted by name; HELP texts are upstream's, word for word.
static OWN_FAMILIES: [OwnFamily; 24] = [
    own(
        PROCESS_CPU_SECONDS_TOTAL,
        MetricType::Counter,
        "Total user and system CPU time spent in seconds.",
    ),
    own(
        PROCESS_MAX_FDS,
        MetricType::Gauge,
        "Maximum number of open file descriptors.",
    ),
    own(
        PROCESS_NETWORK_RECEIVE_BYTES_TOTAL,
        MetricType::Counter,
        "Number of bytes received by the process over the network.",
    ),
    own(
        PROCESS_NETWORK_TRANSMIT_BYTES_TOTAL,
        MetricType::Counter,
        "Number of bytes sent by the process over the network.",
    ),
    own(
        PROCESS_OPEN_FDS,
        MetricType::Gauge,
        "Number of open file descriptors.",
    ),
    own(
        PROCESS_RESIDENT_MEMORY_BYTES,
        MetricType::Gauge,
        "Resident memory size in bytes.",
    ),
    own(
        PROCESS_START_TIME_SECONDS,
        MetricType::Gauge,
        "Start time of the process since unix epoch in seconds.",
    ),
    own(
        PROCESS_VIRTUAL_MEMORY_BYTES,
        MetricType::Gauge,
        "Virtual memory size in bytes.",
    ),
    own(
        PROCESS_VIRTUAL_MEMORY_MAX_BYTES,
        MetricType::Gauge,
        "Maximum amount of virtual memory available in bytes.",
    ),
    own(
        EXPIRED_GROUPS_TOTAL,
        MetricType::Counter,
        "Groups deleted because their time to live ran out (pushgate only).",
    ),
    own(
        GROUPS,
        MetricType::Gauge,
        "Number of groups in the store (pushgate only).",
    ),
    own(
        GROUPS_LIMIT,
        MetricType::Gauge,
        "Most groups the store may hold, --push.max-groups; 0 = unlimited (pushgate only).",
    ),
    own(
        HTTP_REFUSALS_TOTAL,
        MetricType::Counter,
        "Requests and connections the HTTP server refused or closed on its own, by reason (pushgate only).",
    ),
    own(
        PERSISTENCE_DURATION_SECONDS,
        MetricType::Gauge,
        "Time the last successful snapshot of --persistence.file took to write (pushgate only).",
    ),
    own(
        PERSISTENCE_FAILURES_TOTAL,
        MetricType::Counter,
        "Snapshots of --persistence.file that failed (pushgate only).",
    ),
    own(
        PERSISTENCE_FILE_BYTES,
        MetricType::Gauge,
        "Size of the last snapshot written to --persistence.file (pushgate only).",
    ),
    own(
        PERSISTENCE_LAST_FAILURE,
        MetricType::Gauge,
        "Unix time of the last failed snapshot; 0 = none yet (pushgate only).",
    ),
    own(
        PERSISTENCE_LAST_SUCCESS,
        MetricType::Gauge,
        "Unix time of the last successful snapshot; 0 = none yet (pushgate only).",
    ),
    own(
        SERIES,
        MetricType::Gauge,
        "Number of series in the store, push-time gauges included (pushgate only).",
    ),
    own(
        SERIES_LIMIT,
        MetricType::Gauge,
        "Most series the store may hold, --push.max-series; 0 = unlimited (pushgate only).",
    ),
    own(
        BUILD_INFO,
        MetricType::Gauge,
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which pushgateway was built, and the goos and goarch for the build.",
    ),
    own(
        HTTP_PUSH_DURATION_SECONDS,
        MetricType::Summary,
        "HTTP request duration for pushes to the Pushgateway.",
    ),
    own(
        HTTP_PUSH_SIZE_BYTES,
        MetricType::Summary,
        "HTTP request size for pushes to the Pushgateway.",
    ),
    own(
        HTTP_REQUESTS_TOTAL,
        MetricType::Counter,
        "Total HTTP requests processed by the Pushgateway, excluding scrapes.",
    ),
];

/// Every own family, sorted by name.
pub fn own_families() -> &'static [OwnFamily] {
    &OWN_FAMILIES
}

/// The own family called `name`, if there is one.
pub fn own_family(name: &str) -> Option<&'static OwnFamily> {
    OWN_FAMILIES.iter().find(|f| f.name == name)
}

/// Label values of one `pushgateway_http_requests_total` series.
type RequestKey = (u16, &'static str, String);

/// pushgate's own mutable metrics. Shared by all worker threads; each method
/// takes one short lock.
#[derive(Debug)]
pub struct Telemetry {
    requests: Mutex<BTreeMap<RequestKey, u64>>,
    push_durations: Mutex<BTreeMap<String, WindowedSummary>>,
    push_sizes: Mutex<BTreeMap<String, WindowedSummary>>,
    /// Origin of the age-bucket clock.
    started: Instant,
    expired_groups: AtomicU64,
    /// Filled by `persist`'s snapshot writes; exposed once enabled.
    pub persistence: Arc<PersistenceStats>,
    /// `pushgate_http_refusals_total` by reason.
    refusals: Mutex<BTreeMap<&'static str, u64>>,
}

/// The outcome of persistence snapshots: written by the snapshot timer,
/// read at each scrape. Lock-free, so a scrape never waits for a write.
#[derive(Debug, Default)]
pub struct PersistenceStats {
    enabled: AtomicBool,
    failures: AtomicU64,
    /// f64 bits, as are the other floating-point fields.
    last_success_unix: AtomicU64,
    last_failure_unix: AtomicU64,
    last_duration_seconds: AtomicU64,
    file_bytes: AtomicU64,
}

impl PersistenceStats {
    /// Persistence is configured: expose the families (zeros until the first
    /// snapshot), so alerts see them from the start.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// A snapshot finished at `at` (Unix seconds) after `took`; the file now
    /// holds `bytes`.
    pub fn record_success(&self, at: f64, took: Duration, bytes: u64) {
        let seconds = took.as_secs_f64();
        self.last_duration_seconds
            .store(seconds.to_bits(), Ordering::Relaxed);
        self.file_bytes.store(bytes, Ordering::Relaxed);
        self.last_success_unix
            .store(at.to_bits(), Ordering::Relaxed);
    }

    /// A snapshot failed at `at` (Unix seconds).
    pub fn record_failure(&self, at: f64) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.last_failure_unix
            .store(at.to_bits(), Ordering::Relaxed);
    }

    fn families(&self) -> Vec<MetricFamily> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let float = |a: &AtomicU64| f64::from_bits(a.load(Ordering::Relaxed));
        vec![
            single(
                PERSISTENCE_DURATION_SECONDS,
                Value::Gauge(float(&self.last_duration_seconds)),
            ),
            single(
                PERSISTENCE_FAILURES_TOTAL,
                counter(self.failures.load(Ordering::Relaxed) as f64),
            ),
            single(
                PERSISTENCE_FILE_BYTES,
                Value::Gauge(self.file_bytes.load(Ordering::Relaxed) as f64),
            ),
            single(
                PERSISTENCE_LAST_FAILURE,
                Value::Gauge(float(&self.last_failure_unix)),
            ),
            single(
                PERSISTENCE_LAST_SUCCESS,
                Value::Gauge(float(&self.last_success_unix)),
            ),
        ]
    }
}

/// What the store holds and may hold, for the `pushgate_*` gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreUsage {
    pub groups: usize,
    pub series: usize,
    pub max_groups: usize,
    pub max_series: usize,
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        Telemetry::new()
    }
}

impl Telemetry {
    pub fn new() -> Telemetry {
        Telemetry {
            requests: Mutex::new(BTreeMap::new()),
            push_durations: Mutex::new(BTreeMap::new()),
            push_sizes: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            expired_groups: AtomicU64::new(0),
            persistence: Arc::default(),
            refusals: Mutex::new(BTreeMap::new()),
        }
    }

    /// Shows each of `reasons` in `pushgate_http_refusals_total` from the
    /// start, at 0, so rates work before the first refusal.
    pub fn declare_refusal_reasons(&self, reasons: &[&'static str]) {
        let mut refusals = lock(&self.refusals);
        for r in reasons {
            refusals.entry(r).or_insert(0);
        }
    }

    /// Counts one refusal by the HTTP server.
    pub fn count_refusal(&self, reason: &'static str) {
        *lock(&self.refusals).entry(reason).or_insert(0) += 1;
    }

    /// Counts one group dropped by its time to live.
    pub fn count_expired_group(&self) {
        self.expired_groups.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request in `pushgateway_http_requests_total`.
    pub fn count_request(&self, handler: &'static str, method: &str, code: u16) {
        let key = (code, handler, method.to_ascii_lowercase());
        *lock(&self.requests).entry(key).or_insert(0) += 1;
    }

    /// Records one push in the duration and size summaries.
    pub fn observe_push(&self, method: &str, duration: Duration, size_bytes: f64) {
        self.observe_push_at(method, duration, size_bytes, Instant::now());
    }

    fn observe_push_at(&self, method: &str, duration: Duration, size_bytes: f64, now: Instant) {
        let method = method.to_ascii_lowercase();
        let epoch = self.epoch(now);
        let seed = self.started.elapsed().subsec_nanos();
        lock(&self.push_durations)
            .entry(method.clone())
            .or_insert_with(|| WindowedSummary::new(seed))
            .observe(duration.as_secs_f64(), epoch);
        lock(&self.push_sizes)
            .entry(method)
            .or_insert_with(|| WindowedSummary::new(seed))
            .observe(size_bytes, epoch);
    }

    /// The own families with their current values, sorted by name; families
    /// without series are left out.
    pub fn families(&self, usage: &StoreUsage) -> Vec<MetricFamily> {
        self.families_at(Instant::now(), usage)
    }

    fn families_at(&self, now: Instant, usage: &StoreUsage) -> Vec<MetricFamily> {
        let epoch = self.epoch(now);
        let mut families = process_families();
        let expired = self.expired_groups.load(Ordering::Relaxed);
        for (name, value) in [
            (EXPIRED_GROUPS_TOTAL, counter(expired as f64)),
            (GROUPS, Value::Gauge(usage.groups as f64)),
            (GROUPS_LIMIT, Value::Gauge(usage.max_groups as f64)),
            (SERIES, Value::Gauge(usage.series as f64)),
            (SERIES_LIMIT, Value::Gauge(usage.max_series as f64)),
        ] {
            let mut family = new_family(name);
            family.metrics.push(metric(Vec::new(), value));
            families.push(family);
        }
        families.extend(self.persistence.families());
        families.push(build_info_family());
        families.push(self.requests_family());
        families.push(self.refusals_family());
        families.push(summary_family(
            HTTP_PUSH_DURATION_SECONDS,
            &lock(&self.push_durations),
            epoch,
        ));
        families.push(summary_family(
            HTTP_PUSH_SIZE_BYTES,
            &lock(&self.push_sizes),
            epoch,
        ));
        families.retain(|f| !f.metrics.is_empty());
        families.sort_by(|a, b| a.name.cmp(&b.name));
        families
    }

    fn requests_family(&self) -> MetricFamily {
        let mut family = new_family(HTTP_REQUESTS_TOTAL);
        for ((code, handler, method), count) in lock(&self.requests).iter() {
            family.metrics.push(metric(
                vec![
                    Label::new("code", code.to_string()),
                    Label::new("handler", *handler),
                    Label::new("method", method.as_str()),
                ],
                counter(*count as f64),
            ));
        }
        family
    }

    fn refusals_family(&self) -> MetricFamily {
        let mut family = new_family(HTTP_REFUSALS_TOTAL);
        for (reason, count) in lock(&self.refusals).iter() {
            family.metrics.push(metric(
                vec![Label::new("reason", *reason)],
                counter(*count as f64),
            ));
        }
        family
    }

    /// The age bucket `now` falls into.
    fn epoch(&self, now: Instant) -> u64 {
        summary::epoch(self.started, now)
    }
}

/// Locks `mutex`, ignoring poison: a panic elsewhere must not stop the
/// metrics, and every update here leaves the maps consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An empty family with the own type and HELP of `name`.
fn new_family(name: &'static str) -> MetricFamily {
    let (kind, help) = match own_family(name) {
        Some(own) => (own.kind, Some(own.help.to_string())),
        None => (MetricType::Untyped, None),
    };
    let mut family = MetricFamily::new(name, kind);
    family.help = help;
    family
}

/// A family with one unlabelled series.
fn single(name: &'static str, value: Value) -> MetricFamily {
    let mut family = new_family(name);
    family.metrics.push(metric(Vec::new(), value));
    family
}

fn metric(labels: Vec<Label>, value: Value) -> Metric {
    Metric {
        labels,
        value,
        timestamp_ms: None,
    }
}

fn counter(value: f64) -> Value {
    Value::Counter(Counter {
        value,
        ..Counter::default()
    })
}

#[cfg(test)]
mod tests {
    use super::summary::WINDOW;
    use super::*;
    use crate::model::Summary;

    fn find<'a>(families: &'a [MetricFamily], name: &str) -> Option<&'a MetricFamily> {
        families.iter().find(|f| f.name == name)
    }

    fn label_pairs(metric: &Metric) -> Vec<(&str, &str)> {
        metric
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    fn summary_of(families: &[MetricFamily], name: &str, method: &str) -> Summary {
        let family = find(families, name).unwrap_or_else(|| panic!("{name} missing"));
        let metric = family
            .metrics
            .iter()
            .find(|m| label_pairs(m) == [("method", method)])
            .unwrap_or_else(|| panic!("{name}{{method={method:?}}} missing"));
        match &metric.value {
            Value::Summary(s) => s.clone(),
            other => panic!("{name} holds {other:?}"),
        }
    }

    fn quantile_values(summary: &Summary) -> Vec<(f64, f64)> {
        summary
            .quantiles
            .iter()
            .map(|q| (q.quantile, q.value))
            .collect()
    }

    #[test]
    fn own_families_are_upstreams() {
        use MetricType::{Counter as C, Gauge as G, Summary as S};
        let want: &[(&str, MetricType, &str)] = &[
            ("process_cpu_seconds_total", C, "Total user and system CPU time spent in seconds."),
            ("process_max_fds", G, "Maximum number of open file descriptors."),
            ("process_network_receive_bytes_total", C, "Number of bytes received by the process over the network."),
            ("process_network_transmit_bytes_total", C, "Number of bytes sent by the process over the network."),
            ("process_open_fds", G, "Number of open file descriptors."),
            ("process_resident_memory_bytes", G, "Resident memory size in bytes."),
            ("process_start_time_seconds", G, "Start time of the process since unix epoch in seconds."),
            ("process_virtual_memory_bytes", G, "Virtual memory size in bytes."),
            ("process_virtual_memory_max_bytes", G, "Maximum amount of virtual memory available in bytes."),
            ("pushgateway_build_info", G, "A metric with a constant '1' value labeled by version, revision, branch, goversion from which pushgateway was built, and the goos and goarch for the build."),
            ("pushgateway_http_push_duration_seconds", S, "HTTP request duration for pushes to the Pushgateway."),
            ("pushgateway_http_push_size_bytes", S, "HTTP request size for pushes to the Pushgateway."),
            ("pushgateway_http_requests_total", C, "Total HTTP requests processed by the Pushgateway, excluding scrapes."),
        ];
        let got: Vec<(&str, MetricType, &str)> = own_families()
            .iter()
            .filter(|f| !f.name.starts_with("pushgate_"))
            .map(|f| (f.name, f.kind, f.help))
            .collect();
        assert_eq!(got, want);
        assert!(own_families().windows(2).all(|w| w[0].name < w[1].name));
        let ours: Vec<&str> = own_families()
            .iter()
            .filter(|f| f.name.starts_with("pushgate_"))
            .map(|f| f.name)
            .collect();
        assert_eq!(
            ours,
            [
                EXPIRED_GROUPS_TOTAL,
                GROUPS,
                GROUPS_LIMIT,
                HTTP_REFUSALS_TOTAL,
                PERSISTENCE_DURATION_SECONDS,
                PERSISTENCE_FAILURES_TOTAL,
                PERSISTENCE_FILE_BYTES,
                PERSISTENCE_LAST_FAILURE,
                PERSISTENCE_LAST_SUCCESS,
                SERIES,
                SERIES_LIMIT
            ]
        );
    }

    #[test]
    fn persistence_families_appear_once_enabled_and_follow_the_writes() {
        let telemetry = Telemetry::new();
        let usage = StoreUsage::default();
        let names = |t: &Telemetry| -> Vec<String> {
            t.families(&usage)
                .into_iter()
                .map(|f| f.name)
                .filter(|n| n.starts_with("pushgate_persistence_"))
                .collect()
        };
        assert!(names(&telemetry).is_empty(), "memory only: no families");
        telemetry.persistence.enable();
        assert_eq!(names(&telemetry).len(), 5);
        telemetry
            .persistence
            .record_success(1000.5, Duration::from_millis(250), 4096);
        telemetry.persistence.record_failure(2000.0);
        telemetry.persistence.record_failure(2001.0);
        let families = telemetry.families(&usage);
        let value = |name: &str| match &find(&families, name).expect(name).metrics[0].value {
            Value::Gauge(v) => *v,
            Value::Counter(c) => c.value,
            other => panic!("{other:?}"),
        };
        assert_eq!(value(PERSISTENCE_LAST_SUCCESS), 1000.5);
        assert_eq!(value(PERSISTENCE_DURATION_SECONDS), 0.25);
        assert_eq!(value(PERSISTENCE_FILE_BYTES), 4096.0);
        assert_eq!(value(PERSISTENCE_FAILURES_TOTAL), 2.0);
        assert_eq!(value(PERSISTENCE_LAST_FAILURE), 2001.0);
    }

    #[test]
    fn store_usage_and_expiry_are_exposed() {
        let telemetry = Telemetry::new();
        telemetry.count_expired_group();
        let usage = StoreUsage {
            groups: 2,
            series: 7,
            max_groups: 0,
            max_series: 100,
        };
        let families = telemetry.families(&usage);
        let value = |name: &str| {
            let f = families.iter().find(|f| f.name == name).expect(name);
            match &f.metrics[0].value {
                Value::Gauge(v) => *v,
                Value::Counter(c) => c.value,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(value(EXPIRED_GROUPS_TOTAL), 1.0);
        assert_eq!(value(GROUPS), 2.0);
        assert_eq!(value(SERIES), 7.0);
        assert_eq!(value(GROUPS_LIMIT), 0.0);
        assert_eq!(value(SERIES_LIMIT), 100.0);
    }

    #[test]
    fn telemetry_is_shareable_across_threads() {
        fn assert_sync_send<T: Sync + Send>() {}
        assert_sync_send::<Telemetry>();
    }

    #[test]
    fn request_counter_counts_per_code_handler_and_method() {
        let telemetry = Telemetry::new();
        telemetry.count_request("push", "PUT", 200);
        telemetry.count_request("push", "put", 200);
        telemetry.count_request("push", "POST", 400);
        telemetry.count_request("api/v1/metrics", "GET", 200);
        let families = telemetry.families(&StoreUsage::default());
        let family = find(&families, HTTP_REQUESTS_TOTAL).expect("requests family");
        assert_eq!(family.kind, MetricType::Counter);
        let series: Vec<(Vec<(&str, &str)>, f64)> = family
            .metrics
            .iter()
            .map(|m| match &m.value {
                Value::Counter(c) => (label_pairs(m), c.value),
                other => panic!("not a counter: {other:?}"),
            })
            .collect();
        assert_eq!(
            series,
            vec![
                (
                    vec![
                        ("code", "200"),
                        ("handler", "api/v1/metrics"),
                        ("method", "get")
                    ],
                    1.0
                ),
                (
                    vec![("code", "200"), ("handler", "push"), ("method", "put")],
                    2.0
                ),
                (
                    vec![("code", "400"), ("handler", "push"), ("method", "post")],
                    1.0
                ),
            ]
        );
    }

    #[test]
    fn vector_families_appear_only_with_series() {
        let families = Telemetry::new().families(&StoreUsage::default());
        for name in [
            HTTP_REQUESTS_TOTAL,
            HTTP_PUSH_DURATION_SECONDS,
            HTTP_PUSH_SIZE_BYTES,
        ] {
            assert!(find(&families, name).is_none(), "{name} without series");
        }
        assert!(families.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn push_summaries_report_quantiles_count_and_sum() {
        let telemetry = Telemetry::new();
        let now = telemetry.started;
        for i in 1..=100u32 {
            let duration = Duration::from_millis(u64::from(i));
            telemetry.observe_push_at("PUT", duration, f64::from(i), now);
        }
        let families = telemetry.families_at(now, &StoreUsage::default());
        let sizes = summary_of(&families, HTTP_PUSH_SIZE_BYTES, "put");
        assert_eq!(sizes.sample_count, 100);
        assert_eq!(sizes.sample_sum, 5050.0);
        assert_eq!(
            quantile_values(&sizes),
            [(0.1, 10.0), (0.5, 50.0), (0.9, 90.0)]
        );
        let durations = summary_of(&families, HTTP_PUSH_DURATION_SECONDS, "put");
        assert_eq!(durations.sample_count, 100);
        assert_eq!(quantile_values(&durations)[1], (0.5, 0.05));
    }

    #[test]
    fn empty_window_reports_nan() {
        let telemetry = Telemetry::new();
        let start = telemetry.started;
        telemetry.observe_push_at("post", Duration::from_millis(5), 100.0, start);
        let later = start + WINDOW + Duration::from_secs(1);
        let sizes = summary_of(
            &telemetry.families_at(later, &StoreUsage::default()),
            HTTP_PUSH_SIZE_BYTES,
            "post",
        );
        assert!(
            sizes.quantiles.iter().all(|q| q.value.is_nan()),
            "{sizes:?}"
        );
        assert_eq!((sizes.sample_count, sizes.sample_sum), (1, 100.0));
    }

    #[test]
    fn window_expires_old_samples_and_keeps_recent_ones() {
        let telemetry = Telemetry::new();
        let start = telemetry.started;
        telemetry.observe_push_at("put", Duration::ZERO, 1000.0, start);
        let minutes = |m: u64| start + Duration::from_secs(60 * m);
        telemetry.observe_push_at("put", Duration::ZERO, 1.0, minutes(7));

        let both = summary_of(
            &telemetry.families_at(minutes(7), &StoreUsage::default()),
            HTTP_PUSH_SIZE_BYTES,
            "put",
        );
        assert_eq!(quantile_values(&both)[2], (0.9, 1000.0));

        let recent = summary_of(
            &telemetry.families_at(minutes(11), &StoreUsage::default()),
            HTTP_PUSH_SIZE_BYTES,
            "put",
        );
        assert_eq!(
            quantile_values(&recent),
            [(0.1, 1.0), (0.5, 1.0), (0.9, 1.0)]
        );
        assert_eq!(recent.sample_count, 2);
    }
}
