//! pushgate's own metrics: `pushgateway_*` (build info, request counter, push
//! duration and size summaries), `process_*` read from /proc, and the
//! `pushgate_*` figures of the store and of persistence snapshots.
//!
//! Values are kept here and handed to the scrape as model values; this module
//! does not render, route or decide which requests count (the server does).
//! Build information comes from `build.rs`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::model::{Counter, Label, Metric, MetricFamily, MetricType, Quantile, Summary, Value};

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

// ---------------------------------------------------------------------------
// Build information.

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

/// A variable set by `build.rs`, or `unknown` if the build ran without it.
macro_rules! build_env {
    ($name:literal) => {
        match option_env!($name) {
            Some(value) => value,
            None => "unknown",
        }
    };
}

impl BuildInfo {
    /// The six keys of upstream's `build_information` (API and status page),
    /// named as upstream's Go map and sorted.
    pub fn key_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("branch", self.branch.to_string()),
            ("buildDate", self.build_date.to_string()),
            ("buildUser", self.build_user.to_string()),
            ("goVersion", self.rust_version.to_string()),
            ("revision", self.revision.to_string()),
            ("version", self.version.to_string()),
        ]
    }
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        revision: build_env!("PUSHGATE_BUILD_REVISION"),
        branch: build_env!("PUSHGATE_BUILD_BRANCH"),
        build_user: build_env!("PUSHGATE_BUILD_USER"),
        build_date: build_env!("PUSHGATE_BUILD_DATE"),
        rust_version: build_env!("PUSHGATE_BUILD_RUST_VERSION"),
    }
}

/// Enabled cargo features joined by `,`, or `unknown` (the `tags` label).
pub fn build_tags() -> &'static str {
    build_env!("PUSHGATE_BUILD_TAGS")
}

/// The target architecture under Go's name, so dashboards filtering on
/// `goarch` keep working.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The target OS under Go's name.
pub fn go_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

// ---------------------------------------------------------------------------
// Request counter and push summaries.

/// The summaries' quantiles (upstream objectives 0.1, 0.5, 0.9).
const QUANTILES: [f64; 3] = [0.1, 0.5, 0.9];
/// How far back the quantiles look, split into this many age buckets.
const WINDOW: Duration = Duration::from_secs(600);
const AGE_BUCKETS: u64 = 5;
/// Raw samples kept per age bucket; beyond this, reservoir sampling keeps a
/// uniform sample so memory stays bounded under any push rate.
const SAMPLES_PER_BUCKET: usize = 500;

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
        let span = WINDOW.as_nanos() / u128::from(AGE_BUCKETS);
        let age = now.saturating_duration_since(self.started).as_nanos();
        u64::try_from(age / span).unwrap_or(u64::MAX)
    }
}

/// Locks `mutex`, ignoring poison: a panic elsewhere must not stop the
/// metrics, and every update here leaves the maps consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn build_info_family() -> MetricFamily {
    let info = build_info();
    let mut family = new_family(BUILD_INFO);
    family.metrics.push(metric(
        vec![
            Label::new("branch", info.branch),
            Label::new("goarch", go_arch()),
            Label::new("goos", go_os()),
            Label::new("goversion", info.rust_version),
            Label::new("revision", info.revision),
            Label::new("tags", build_tags()),
            Label::new("version", info.version),
        ],
        Value::Gauge(1.0),
    ));
    family
}

fn summary_family(
    name: &'static str,
    summaries: &BTreeMap<String, WindowedSummary>,
    epoch: u64,
) -> MetricFamily {
    let mut family = new_family(name);
    for (method, summary) in summaries {
        family.metrics.push(metric(
            vec![Label::new("method", method.as_str())],
            Value::Summary(summary.snapshot(epoch)),
        ));
    }
    family
}

/// A summary with cumulative count and sum, and quantiles over a sliding
/// window of [`AGE_BUCKETS`] age buckets spanning [`WINDOW`].
#[derive(Debug)]
struct WindowedSummary {
    count: u64,
    sum: f64,
    /// Oldest first; only the last [`AGE_BUCKETS`] epochs are kept.
    buckets: VecDeque<AgeBucket>,
    rng: XorShift,
}

#[derive(Debug)]
struct AgeBucket {
    epoch: u64,
    /// Observations made in this epoch, including those not kept.
    seen: u64,
    samples: Vec<f64>,
}

impl WindowedSummary {
    fn new(seed: u32) -> WindowedSummary {
        WindowedSummary {
            count: 0,
            sum: 0.0,
            buckets: VecDeque::with_capacity(AGE_BUCKETS as usize),
            rng: XorShift::new(u64::from(seed)),
        }
    }

    fn observe(&mut self, value: f64, epoch: u64) {
        self.count += 1;
        self.sum += value;
        self.expire(epoch);
        if self.buckets.back().map_or(true, |b| b.epoch != epoch) {
            self.buckets.push_back(AgeBucket {
                epoch,
                seen: 0,
                samples: Vec::new(),
            });
        }
        let Some(bucket) = self.buckets.back_mut() else {
            return;
        };
        bucket.seen += 1;
        if bucket.samples.len() < SAMPLES_PER_BUCKET {
            bucket.samples.push(value);
        } else {
            // Reservoir sampling: every observation of the epoch ends up kept
            // with the same probability.
            let slot = self.rng.below(bucket.seen);
            if let Some(kept) = bucket.samples.get_mut(slot as usize) {
                *kept = value;
            }
        }
    }

    /// Drops age buckets that have left the window at `epoch`.
    fn expire(&mut self, epoch: u64) {
        while self
            .buckets
            .front()
            .is_some_and(|b| !in_window(b.epoch, epoch))
        {
            self.buckets.pop_front();
        }
    }

    fn snapshot(&self, epoch: u64) -> Summary {
        let mut weighted: Vec<(f64, f64)> = Vec::new();
        for bucket in self.buckets.iter().filter(|b| in_window(b.epoch, epoch)) {
            // Each kept sample stands for seen/kept observations.
            let weight = bucket.seen as f64 / bucket.samples.len().max(1) as f64;
            weighted.extend(bucket.samples.iter().map(|&v| (v, weight)));
        }
        Summary {
            sample_count: self.count,
            sample_sum: self.sum,
            quantiles: QUANTILES
                .iter()
                .map(|&q| Quantile {
                    quantile: q,
                    value: weighted_quantile(&mut weighted, q),
                })
                .collect(),
            created: None,
        }
    }
}

fn in_window(bucket_epoch: u64, now_epoch: u64) -> bool {
    bucket_epoch.saturating_add(AGE_BUCKETS) > now_epoch
}

/// The smallest value whose cumulative weight reaches `q` of the total; NaN
/// when there are no values.
fn weighted_quantile(values: &mut [(f64, f64)], q: f64) -> f64 {
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|v| v.1).sum();
    let target = q * total;
    let mut cumulative = 0.0;
    for &(value, weight) in values.iter() {
        cumulative += weight;
        if cumulative >= target {
            return value;
        }
    }
    values.last().map_or(f64::NAN, |v| v.0)
}

/// A small PRNG for reservoir sampling; statistical quality is ample and it
/// saves a dependency.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Never zero: zero is a fixed point of xorshift.
        XorShift((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A value in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n.max(1)
    }
}

// ---------------------------------------------------------------------------
// process_* from /proc.

/// Reads the `process_*` families; a source that cannot be read or parsed
/// leaves out its families rather than failing the scrape.
fn process_families() -> Vec<MetricFamily> {
    let ticks = clock_ticks_per_second();
    let mut families = Vec::new();
    if let Some(stat) = read_proc("/proc/self/stat").and_then(|t| parse_proc_stat(&t)) {
        let cpu = (stat.utime_ticks + stat.stime_ticks) as f64 / ticks;
        families.push(single(PROCESS_CPU_SECONDS_TOTAL, counter(cpu)));
        families.push(single(
            PROCESS_VIRTUAL_MEMORY_BYTES,
            Value::Gauge(stat.vsize_bytes as f64),
        ));
        let rss = stat.rss_pages as f64 * page_size();
        families.push(single(PROCESS_RESIDENT_MEMORY_BYTES, Value::Gauge(rss)));
        // systemd's ProcSubset=pid hides /proc/stat: fall back to the clocks.
        let boot = read_proc("/proc/stat")
            .and_then(|t| parse_boot_time(&t))
            .map(|b| b as f64)
            .or_else(boot_time_from_clocks);
        if let Some(boot) = boot {
            let start = boot + stat.start_ticks as f64 / ticks;
            families.push(single(PROCESS_START_TIME_SECONDS, Value::Gauge(start)));
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        let open = entries.count() as f64;
        families.push(single(PROCESS_OPEN_FDS, Value::Gauge(open)));
    }
    if let Some(limits) = read_proc("/proc/self/limits") {
        if let Some(max) = parse_soft_limit(&limits, "Max open files") {
            families.push(single(PROCESS_MAX_FDS, Value::Gauge(max)));
        }
        if let Some(max) = parse_soft_limit(&limits, "Max address space") {
            families.push(single(PROCESS_VIRTUAL_MEMORY_MAX_BYTES, Value::Gauge(max)));
        }
    }
    let netstat = read_proc("/proc/self/net/netstat");
    if let Some((received, sent)) = netstat.and_then(|t| parse_ip_ext_octets(&t)) {
        families.push(single(
            PROCESS_NETWORK_RECEIVE_BYTES_TOTAL,
            counter(received),
        ));
        families.push(single(PROCESS_NETWORK_TRANSMIT_BYTES_TOTAL, counter(sent)));
    }
    families
}

fn read_proc(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `USER_HZ`, the unit of the times in /proc/self/stat.
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0 // Linux's USER_HZ on every architecture.
    }
}

fn page_size() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as f64
    } else {
        4096.0
    }
}

/// The fields of /proc/self/stat that the metrics use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ProcStat {
    utime_ticks: u64,
    stime_ticks: u64,
    start_ticks: u64,
    vsize_bytes: u64,
    rss_pages: i64,
}

/// Parses /proc/self/stat. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    // Index 0 here is field 3 (state) of proc(5).
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    Some(ProcStat {
        utime_ticks: field(14)?.parse().ok()?,
        stime_ticks: field(15)?.parse().ok()?,
        start_ticks: field(22)?.parse().ok()?,
        vsize_bytes: field(23)?.parse().ok()?,
        rss_pages: field(24)?.parse().ok()?,
    })
}

/// The `btime` line of /proc/stat: boot time in Unix seconds.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Boot time in Unix seconds as the wall clock minus the time since boot
/// (`CLOCK_BOOTTIME`, which the start time in /proc/self/stat counts from),
/// for when /proc/stat cannot be read.
fn boot_time_from_clocks() -> Option<f64> {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; both clocks exist on Linux.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
    };
    let since_boot = read(libc::CLOCK_BOOTTIME)?;
    let now = read(libc::CLOCK_REALTIME)?;
    Some(now - since_boot)
}

/// The soft value of the limit called `name` in /proc/self/limits;
/// `unlimited` reads as 2^64−1, as upstream reports it.
fn parse_soft_limit(text: &str, name: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let soft = line[name.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX as f64);
    }
    soft.parse::<u64>().ok().map(|v| v as f64)
}

/// `InOctets` and `OutOctets` of the `IpExt:` lines of /proc/self/net/netstat
/// (a header line of names followed by a line of values).
fn parse_ip_ext_octets(text: &str) -> Option<(f64, f64)> {
    let mut ip_ext = text.lines().filter(|l| l.starts_with("IpExt:"));
    let names = ip_ext.next()?.split_whitespace();
    let values = ip_ext.next()?.split_whitespace();
    let mut received = None;
    let mut sent = None;
    for (name, value) in names.zip(values).skip(1) {
        match name {
            "InOctets" => received = value.parse::<f64>().ok(),
            "OutOctets" => sent = value.parse::<f64>().ok(),
            _ => {}
        }
    }
    Some((received?, sent?))
}

// ---------------------------------------------------------------------------
// Model helpers.

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
    use super::*;

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
    fn build_info_is_one_with_sorted_labels() {
        let families = Telemetry::new().families(&StoreUsage::default());
        let family = find(&families, BUILD_INFO).expect("build info");
        assert_eq!(
            family.help.as_deref(),
            own_family(BUILD_INFO).map(|f| f.help)
        );
        let metric = &family.metrics[0];
        assert_eq!(metric.value, Value::Gauge(1.0));
        let names: Vec<&str> = metric.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "branch",
                "goarch",
                "goos",
                "goversion",
                "revision",
                "tags",
                "version"
            ]
        );
        let version = metric.labels.iter().find(|l| l.name == "version");
        assert_eq!(
            version.map(|l| l.value.as_str()),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert!(build_info().rust_version.starts_with("rust"));
    }

    #[test]
    fn go_arch_uses_go_names() {
        let want = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        assert_eq!(go_arch(), want);
        assert_eq!(go_os(), "linux");
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

    #[test]
    fn age_buckets_keep_a_bounded_sample() {
        let mut summary = WindowedSummary::new(7);
        for i in 0..5 * SAMPLES_PER_BUCKET {
            summary.observe(i as f64, 0);
        }
        assert_eq!(summary.buckets.len(), 1);
        assert_eq!(summary.buckets[0].samples.len(), SAMPLES_PER_BUCKET);
        assert_eq!(summary.buckets[0].seen, 5 * SAMPLES_PER_BUCKET as u64);
        // A uniform sample of 0..2500 has its median near 1250.
        let median = quantile_values(&summary.snapshot(0))[1].1;
        assert!((900.0..1600.0).contains(&median), "median {median}");
    }

    #[test]
    fn quantiles_weigh_samples_by_what_they_stand_for() {
        let mut values = vec![(1.0, 1.0), (3.0, 1.0), (2.0, 8.0)];
        assert_eq!(weighted_quantile(&mut values, 0.1), 1.0);
        assert_eq!(weighted_quantile(&mut values, 0.5), 2.0);
        assert_eq!(weighted_quantile(&mut values, 0.95), 3.0);
        assert!(weighted_quantile(&mut [], 0.5).is_nan());
    }

    const STAT: &str = "15598 (my (odd) cmd) R 15596 15596 3127 0 -1 4194304 97 0 0 0 \
        12 34 0 0 20 0 1 0 106853 3133440 349 18446744073709551615 94024950972416 \
        94024950992297 140734283427952 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn proc_stat_fields_are_counted_after_the_command_name() {
        assert_eq!(
            parse_proc_stat(STAT),
            Some(ProcStat {
                utime_ticks: 12,
                stime_ticks: 34,
                start_ticks: 106853,
                vsize_bytes: 3133440,
                rss_pages: 349,
            })
        );
        assert_eq!(parse_proc_stat("15598 (cat) R 1 2"), None);
        assert_eq!(parse_proc_stat(""), None);
    }

    const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            20000                1048576              files     
Max address space         unlimited            unlimited            bytes     
";

    #[test]
    fn soft_limits_are_read_and_unlimited_is_the_largest_u64() {
        assert_eq!(parse_soft_limit(LIMITS, "Max open files"), Some(20000.0));
        assert_eq!(
            parse_soft_limit(LIMITS, "Max address space"),
            Some(18446744073709551615.0)
        );
        assert_eq!(parse_soft_limit(LIMITS, "Max locked memory"), None);
    }

    #[test]
    fn boot_time_comes_from_btime() {
        let text = "cpu  1 2 3\nintr 5\nbtime 1795275746\nprocesses 9\n";
        assert_eq!(parse_boot_time(text), Some(1795275746));
        assert_eq!(parse_boot_time("cpu 1\n"), None);
    }

    #[test]
    fn boot_time_from_clocks_agrees_with_btime() {
        let Some(btime) = read_proc("/proc/stat").and_then(|t| parse_boot_time(&t)) else {
            return; // /proc/stat hidden: nothing to compare with
        };
        let clocks = boot_time_from_clocks().expect("clock_gettime works on Linux");
        // btime is truncated to whole seconds; NTP slews move both alike.
        assert!((clocks - btime as f64).abs() < 2.0, "{clocks} vs {btime}");
    }

    #[test]
    fn network_octets_come_from_ip_ext() {
        let text = "\
TcpExt: SyncookiesSent SyncookiesRecv
TcpExt: 0 0
IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets InMcastOctets
IpExt: 0 0 0 0 0 0 37535960 1780188 0
";
        assert_eq!(parse_ip_ext_octets(text), Some((37535960.0, 1780188.0)));
        assert_eq!(parse_ip_ext_octets("IpExt: InOctets\n"), None);
    }

    #[test]
    fn process_families_are_read_from_proc() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let families = process_families();
        let cpu = find(&families, PROCESS_CPU_SECONDS_TOTAL).expect("cpu seconds");
        assert!(matches!(&cpu.metrics[0].value, Value::Counter(c) if c.value >= 0.0));
        let fds = find(&families, PROCESS_OPEN_FDS).expect("open fds");
        assert!(matches!(fds.metrics[0].value, Value::Gauge(n) if n >= 3.0));
        let start = find(&families, PROCESS_START_TIME_SECONDS).expect("start time");
        assert!(matches!(start.metrics[0].value, Value::Gauge(t) if t > 1.0e9));
        for family in &families {
            let own = own_family(&family.name).expect("own family");
            assert_eq!(
                (family.kind, family.help.as_deref()),
                (own.kind, Some(own.help))
            );
        }
    }
}
