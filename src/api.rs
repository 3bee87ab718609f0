//! `/api/v1/status` and `/api/v1/metrics` with upstream's JSON envelope and
//! CORS headers, byte for byte as upstream's `encoding/json` writes them.
//!
//! Owns the JSON document layout (sorted map keys, upstream's field
//! order); string escaping lives in `json`, native bucket bounds in
//! `histogram`. Does not route, count requests or
//! read the store itself: callers pass a snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::go::{format_float, rfc3339_nanos};
use crate::histogram as native;
use crate::http::{Request, Response, ResponseBody, Status};
use crate::json::write_string as write_json_string;
use crate::matcher::{Selector, SelectorError};
use crate::model::{Histogram, Label, Metric, MetricType, Summary, Value};
use crate::store::{GroupSnapshot, Store, TimestampedFamily};
use crate::telemetry;

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

/// Group keys that are not families; families of these names are left out
/// of the API rather than overwriting them (upstream lets them collide).
const GROUP_LABELS_KEY: &str = "labels";
const GROUP_SUCCESS_KEY: &str = "last_push_successful";

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

/// `/api/v1/metrics` kept per group: a group's JSON is written again only
/// when one of its families changed (each write replaces the shared family
/// it touches, so comparing pointers is enough), and the response is the
/// kept pieces in order, never one copy of the whole body. A push before
/// each read therefore costs one group, not the store (~0.3 s at 100k
/// series).
#[derive(Default)]
pub struct MetricsCache {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    groups: HashMap<Vec<u8>, KeptGroup>,
    /// When the kept JSON was last read (`None` while nothing is kept).
    last_read: Option<Instant>,
}

/// One group's JSON, preceded by a comma, and the families it was written
/// from. Weak pointers: a family a push replaced is freed at once, and its
/// address cannot be reused by a new family while a weak pointer holds it.
struct KeptGroup {
    families: Vec<Weak<TimestampedFamily>>,
    json: Arc<[u8]>,
}

/// How long the kept JSON outlives the last `/api/v1/metrics` read. A page
/// or dashboard polling the API keeps it; a one-off read does not hold the
/// JSON of every group (~150 bytes per series) for the life of the process.
pub const METRICS_CACHE_IDLE: Duration = Duration::from_secs(30);

impl MetricsCache {
    /// The current `/api/v1/metrics` response.
    pub fn response(&self, store: &Store) -> Response {
        let groups = store.groups();
        let mut all = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        all.last_read = Some(Instant::now());
        let kept = &mut all.groups;
        let mut next = HashMap::with_capacity(groups.len());
        let mut pieces: Vec<Arc<[u8]>> = Vec::with_capacity(groups.len() + 2);
        pieces.push(Arc::from(&b"{\"status\":\"success\",\"data\":["[..]));
        for (i, group) in groups.iter().enumerate() {
            let id = group.key.sort_key();
            let entry = match kept.remove(&id) {
                Some(k) if same_families(&k.families, &group.families) => k,
                _ => {
                    let mut json = String::with_capacity(1024);
                    json.push(',');
                    write_group(&mut json, group);
                    KeptGroup {
                        families: group.families.iter().map(Arc::downgrade).collect(),
                        json: json.into_bytes().into(),
                    }
                }
            };
            pieces.push(if i == 0 {
                // Without its comma: a copy of one group.
                Arc::from(&entry.json[1..])
            } else {
                entry.json.clone()
            });
            next.insert(id, entry);
        }
        *kept = next;
        drop(all);
        pieces.push(Arc::from(&b"]}"[..]));
        with_cors(Response::empty(Status::OK))
            .with_header("Content-Type", APPLICATION_JSON)
            .with_body(ResponseBody::Pieces(pieces))
    }

    /// Drops the kept JSON when no read came for `idle`; the next read
    /// writes every group again. Called by the expiry thread.
    pub fn forget_if_idle(&self, idle: Duration) {
        let mut all = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if all.last_read.is_some_and(|t| t.elapsed() >= idle) {
            *all = Kept::default();
        }
    }
}

fn same_families(a: &[Weak<TimestampedFamily>], b: &[Arc<TimestampedFamily>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| std::ptr::eq(x.as_ptr(), Arc::as_ptr(y)))
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

// ---------------------------------------------------------------------------
// Groups, families, metrics.

enum GroupField<'a> {
    Labels,
    LastPushSuccessful,
    Family(&'a TimestampedFamily),
}

/// One group object; its keys (grouping labels, success flag, family names)
/// are sorted together, as Go sorts the keys of the map upstream builds.
fn write_group(out: &mut String, group: &GroupSnapshot) {
    let mut fields: Vec<(&str, GroupField)> = vec![
        (GROUP_LABELS_KEY, GroupField::Labels),
        (GROUP_SUCCESS_KEY, GroupField::LastPushSuccessful),
    ];
    for family in &group.families {
        let name = family.name();
        if name != GROUP_LABELS_KEY && name != GROUP_SUCCESS_KEY {
            fields.push((name, GroupField::Family(family)));
        }
    }
    fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    fields.dedup_by(|a, b| a.0 == b.0);

    out.push('{');
    for (i, (name, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, name);
        out.push(':');
        match field {
            GroupField::Labels => write_labels(out, group.key.labels()),
            GroupField::LastPushSuccessful => out.push_str(if group.last_push_successful() {
                "true"
            } else {
                "false"
            }),
            GroupField::Family(family) => write_family(out, family),
        }
    }
    out.push('}');
}

/// `{"time_stamp":…,"type":…,"help":…,"metrics":[…]}`: a Go struct, so the
/// field order is fixed and `help` is omitted when empty.
fn write_family(out: &mut String, timestamped: &TimestampedFamily) {
    let family = &timestamped.family();
    out.push_str("{\"time_stamp\":");
    write_json_string(out, &rfc3339_nanos(timestamped.written_at));
    out.push_str(",\"type\":");
    write_json_string(out, family.kind.proto_name());
    if let Some(help) = family.help.as_deref().filter(|h| !h.is_empty()) {
        out.push_str(",\"help\":");
        write_json_string(out, help);
    }
    out.push_str(",\"metrics\":[");
    for (i, metric) in family.metrics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_metric(out, metric, family.kind);
    }
    out.push_str("]}");
}

/// One metric object. The fields follow the value the metric carries, so a
/// value that does not fit its family type still shows what it has; a metric
/// without any value shows the zero value of its family type, as upstream's
/// protobuf getters do.
fn write_metric(out: &mut String, metric: &Metric, family_kind: MetricType) {
    match &metric.value {
        Value::Counter(counter) => write_simple(out, &metric.labels, counter.value),
        Value::Gauge(v) | Value::Untyped(v) => write_simple(out, &metric.labels, *v),
        Value::Summary(summary) => write_summary(out, &metric.labels, summary),
        Value::Histogram(histogram) => write_histogram(out, &metric.labels, histogram),
        Value::Missing => match family_kind {
            MetricType::Summary => write_summary(out, &metric.labels, &Summary::default()),
            MetricType::Histogram | MetricType::GaugeHistogram => {
                write_histogram(out, &metric.labels, &Histogram::default())
            }
            MetricType::Counter | MetricType::Gauge | MetricType::Untyped => {
                write_simple(out, &metric.labels, 0.0)
            }
        },
    }
}

// The keys of each metric object below are written in sorted order.

fn write_simple(out: &mut String, labels: &[Label], value: f64) {
    out.push_str("{\"labels\":");
    write_labels(out, labels);
    out.push_str(",\"value\":");
    write_json_string(out, &format_float(value));
    out.push('}');
}

fn write_summary(out: &mut String, labels: &[Label], summary: &Summary) {
    out.push_str("{\"count\":");
    write_json_string(out, &summary.sample_count.to_string());
    out.push_str(",\"labels\":");
    write_labels(out, labels);
    out.push_str(",\"quantiles\":");
    write_string_map(
        out,
        summary
            .quantiles
            .iter()
            .map(|q| (format_float(q.quantile), format_float(q.value))),
    );
    out.push_str(",\"sum\":");
    write_json_string(out, &format_float(summary.sample_sum));
    out.push('}');
}

fn write_histogram(out: &mut String, labels: &[Label], histogram: &Histogram) {
    out.push_str("{\"buckets\":");
    let count = if histogram.is_native() {
        write_native_buckets(out, &native::buckets(histogram));
        native::count(histogram)
    } else {
        write_classic_buckets(out, histogram);
        classic_count(histogram)
    };
    out.push_str(",\"count\":");
    write_json_string(out, &count);
    out.push_str(",\"labels\":");
    write_labels(out, labels);
    out.push_str(",\"sum\":");
    write_json_string(out, &format_float(histogram.sum()));
    out.push('}');
}

/// The float count when positive, else the integer count (printed as an
/// integer, so `1000000` does not become `1e+06`).
fn classic_count(histogram: &Histogram) -> String {
    match histogram.sample_count_float {
        Some(c) if c > 0.0 => format_float(c),
        _ => histogram.sample_count.unwrap_or(0).to_string(),
    }
}

/// `{"<le>":"<cumulative count>"}`.
fn write_classic_buckets(out: &mut String, histogram: &Histogram) {
    let buckets = histogram.buckets.iter().map(|b| {
        let count = match b.cumulative_count_float {
            Some(c) if c > 0.0 => format_float(c),
            _ => b.cumulative_count.unwrap_or(0).to_string(),
        };
        (format_float(b.upper_bound), count)
    });
    write_string_map(out, buckets);
}

/// `[[rule,"lower","upper","count"],…]`.
fn write_native_buckets(out: &mut String, buckets: &[native::Bucket]) {
    out.push('[');
    for (i, bucket) in buckets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(&bucket.rule.to_string());
        out.push(',');
        write_json_string(out, &format_float(bucket.lower));
        out.push(',');
        write_json_string(out, &format_float(bucket.upper));
        out.push(',');
        write_json_string(out, &bucket.count);
        out.push(']');
    }
    out.push(']');
}

fn write_labels(out: &mut String, labels: &[Label]) {
    write_string_map(
        out,
        labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
    );
}

// ---------------------------------------------------------------------------
// JSON primitives.

/// A JSON object of strings with keys sorted bytewise; a repeated key keeps
/// its last value, as assigning into a Go map does.
fn write_string_map<K, V>(out: &mut String, entries: impl IntoIterator<Item = (K, V)>)
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut sorted: BTreeMap<String, V> = BTreeMap::new();
    for (key, value) in entries {
        sorted.insert(key.as_ref().to_string(), value);
    }
    out.push('{');
    for (i, (key, value)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, key);
        out.push(':');
        write_json_string(out, value.as_ref());
    }
    out.push('}');
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod cache_tests {
    use super::*;
    use crate::model::{GroupingKey, Label, MetricType, NameValidation};
    use crate::store::{CheckMode, Push};

    /// The kept pieces equal the JSON written from scratch after every step
    /// of a fixed sequence of PUT, POST and DELETE on a few groups.
    #[test]
    fn kept_groups_equal_a_full_render() {
        let store = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
        let cache = MetricsCache::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..200i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = GroupingKey::new([Label::new("job", format!("j{}", x % 5))]);
            if x % 7 == 0 {
                store.delete(&key);
            } else {
                let name = ["a", "b", "c"][(x / 7 % 3) as usize];
                let mut family = crate::model::MetricFamily::new(name, MetricType::Gauge);
                family.metrics.push(crate::model::Metric {
                    labels: vec![Label::new("x", format!("{}", x % 3))],
                    value: crate::model::Value::Gauge(step as f64),
                    timestamp_ms: None,
                });
                store.push(Push {
                    key,
                    families: vec![family],
                    replace_group: x % 2 == 0,
                    received_at: step * 1_000_000_000,
                    ttl: None,
                });
            }
            if x % 3 != 0 {
                assert_eq!(
                    String::from_utf8_lossy(&cache.response(&store).body.to_vec()),
                    String::from_utf8_lossy(&metrics(&store.groups()).body.to_vec()),
                    "step {step}"
                );
            }
        }
    }

    /// An idle cache forgets its JSON; a recent read keeps it; the answer
    /// after forgetting is the full render again.
    #[test]
    fn idle_cache_forgets_its_json() {
        let store = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
        let cache = MetricsCache::default();
        let mut family = crate::model::MetricFamily::new("m", MetricType::Untyped);
        family.metrics.push(crate::model::Metric {
            labels: vec![],
            value: crate::model::Value::Untyped(1.0),
            timestamp_ms: None,
        });
        store.push(Push {
            key: GroupingKey::new([Label::new("job", "a")]),
            families: vec![family],
            replace_group: true,
            received_at: 1,
            ttl: None,
        });
        let first = cache.response(&store);
        let kept = |c: &MetricsCache| c.kept.lock().map(|k| k.groups.len()).unwrap_or(0);
        cache.forget_if_idle(Duration::from_secs(3600));
        assert_eq!(kept(&cache), 1, "read just now: kept");
        cache.forget_if_idle(Duration::ZERO);
        assert_eq!(kept(&cache), 0, "idle: forgotten");
        assert_eq!(cache.response(&store), first);
        assert_eq!(
            cache.response(&store).body.to_vec(),
            metrics(&store.groups()).body.to_vec()
        );
    }

    #[test]
    fn cached_metrics_follow_every_store_change() {
        let store = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
        let cache = MetricsCache::default();
        assert_eq!(
            cache.response(&store).body.to_vec(),
            br#"{"status":"success","data":[]}"#
        );
        let key = GroupingKey::new([Label::new("job", "a")]);
        let mut family = crate::model::MetricFamily::new("m", MetricType::Untyped);
        family.metrics.push(crate::model::Metric {
            labels: vec![],
            value: crate::model::Value::Untyped(1.0),
            timestamp_ms: None,
        });
        store.push(Push {
            key: key.clone(),
            families: vec![family],
            replace_group: true,
            received_at: 1,
            ttl: None,
        });
        let after_push = cache.response(&store);
        assert!(String::from_utf8_lossy(&after_push.body.to_vec()).contains(r#""job":"a""#));
        assert_eq!(
            cache.response(&store),
            after_push,
            "unchanged store: same answer"
        );
        assert_eq!(after_push.header("Access-Control-Allow-Origin"), Some("*"));
        store.delete(&key);
        assert_eq!(
            cache.response(&store).body.to_vec(),
            br#"{"status":"success","data":[]}"#
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{
        Bucket, BucketSpan, Counter, GroupingKey, MetricFamily, Quantile, PUSH_FAILURE_TIME_HELP,
        PUSH_FAILURE_TIME_METRIC, PUSH_TIME_HELP, PUSH_TIME_METRIC,
    };

    const WRITTEN_AT: i64 = 1_583_872_347_716_605_811;
    const TIME_STAMP: &str = "2020-03-10T20:32:27.716605811Z";

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect()
    }

    fn metric(pairs: &[(&str, &str)], value: Value) -> Metric {
        Metric {
            labels: labels(pairs),
            value,
            timestamp_ms: None,
        }
    }

    fn family(
        name: &str,
        kind: MetricType,
        help: Option<&str>,
        metrics: Vec<Metric>,
    ) -> MetricFamily {
        MetricFamily {
            help: help.map(str::to_string),
            metrics,
            ..MetricFamily::new(name, kind)
        }
    }

    fn group(key: &[(&str, &str)], families: Vec<MetricFamily>) -> GroupSnapshot {
        let mut families: Vec<Arc<TimestampedFamily>> = families
            .into_iter()
            .map(|family| Arc::new(TimestampedFamily::new(&family, WRITTEN_AT)))
            .collect();
        families.sort_by(|a, b| a.name().cmp(b.name()));
        GroupSnapshot {
            key: GroupingKey::new(labels(key)),
            families,
            ttl: None,
            expires_at: None,
        }
    }

    fn push_gauges(
        series: &[(&str, &str)],
        push_time: f64,
        failure_time: f64,
    ) -> Vec<MetricFamily> {
        vec![
            family(
                PUSH_TIME_METRIC,
                MetricType::Gauge,
                Some(PUSH_TIME_HELP),
                vec![metric(series, Value::Gauge(push_time))],
            ),
            family(
                PUSH_FAILURE_TIME_METRIC,
                MetricType::Gauge,
                Some(PUSH_FAILURE_TIME_HELP),
                vec![metric(series, Value::Gauge(failure_time))],
            ),
        ]
    }

    fn body(response: &Response) -> String {
        String::from_utf8(response.body.to_vec()).expect("API bodies are UTF-8")
    }

    /// The `data` of a metrics response holding exactly one group.
    fn group_json(g: GroupSnapshot) -> String {
        let response = metrics(&[g]);
        let text = body(&response);
        let inner = text
            .strip_prefix("{\"status\":\"success\",\"data\":[")
            .and_then(|t| t.strip_suffix("]}"))
            .expect("success envelope around one group");
        inner.to_string()
    }

    fn assert_cors(response: &Response) {
        for (name, value) in CORS_HEADERS {
            assert_eq!(response.header(name), Some(value), "header {name}");
        }
    }

    #[test]
    fn empty_store_is_an_empty_array() {
        let response = metrics(&[]);
        assert_eq!(response.status, 200);
        assert_eq!(body(&response), r#"{"status":"success","data":[]}"#);
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert_cors(&response);
    }

    #[test]
    fn options_is_empty_with_cors_headers() {
        let response = options();
        assert_eq!(response.status, 200);
        assert!(response.body.is_empty());
        assert_cors(&response);
    }

    #[test]
    fn api_errors_answer_the_bad_data_envelope() {
        let bad = Selector::parse("job").expect_err("a bare name is no selector");
        let cases = [
            (
                ApiError::NoSelector,
                r#"{"status":"error","errorType":"bad_data","error":"at least one match[] selector is required, e.g. match[]={job=\"batch\"}"}"#.to_string(),
            ),
            (
                ApiError::BadSelector(bad.clone()),
                format!(
                    r#"{{"status":"error","errorType":"bad_data","error":{:?}}}"#,
                    bad.to_string()
                ),
            ),
        ];
        for (err, want) in cases {
            let resp = err.response();
            assert_eq!(resp.status, 400, "{err:?}");
            assert_eq!(resp.header("Content-Type"), Some(APPLICATION_JSON));
            assert_eq!(String::from_utf8_lossy(&resp.body.to_vec()), want);
        }
        let req = crate::http::Request::new(crate::http::Method::Delete, "/api/v1/groups");
        let store = Store::new(vec![], crate::store::CheckMode::Checked, Default::default());
        assert_eq!(delete_groups(&req, &store), ApiError::NoSelector.response());
    }

    #[test]
    fn status_lists_build_information_flags_and_start_time() {
        let response = status(&Config::default(), WRITTEN_AT);
        assert_eq!(response.status, 200);
        assert_cors(&response);
        let text = body(&response);
        let info = telemetry::build_info();
        let mut want = String::from(r#"{"status":"success","data":{"build_information":"#);
        write_string_map(&mut want, build_information());
        want.push_str(r#","flags":"#);
        write_string_map(&mut want, Config::default().flag_values());
        want.push_str(&format!(r#","start_time":"{TIME_STAMP}"}}}}"#));
        assert_eq!(text, want);
        assert!(text.contains(&format!(r#""version":"{}""#, info.version)));
        for key in [
            "branch",
            "buildDate",
            "buildUser",
            "goVersion",
            "revision",
            "version",
        ] {
            assert!(
                text.contains(&format!(r#""{key}":"#)),
                "missing {key} in {text}"
            );
        }
    }

    #[test]
    fn json_strings_escape_like_go() {
        let cases: &[(&str, &str)] = &[
            ("plain", r#""plain""#),
            (
                "<a href=\"x\">&</a>",
                r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#,
            ),
            ("a\\b", r#""a\\b""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\u{1}\u{1f}\u{7f}", "\"\\u0001\\u001f\u{7f}\""),
            ("\u{2028}\u{2029}", r#""\u2028\u2029""#),
            ("Björn ✓", "\"Björn ✓\""),
        ];
        for (input, want) in cases {
            let mut out = String::new();
            write_json_string(&mut out, input);
            assert_eq!(out, *want, "escaping {input:?}");
        }
    }

    #[test]
    fn string_maps_sort_keys_bytewise_and_keep_the_last_duplicate() {
        let mut out = String::new();
        write_string_map(
            &mut out,
            [("b", "1"), ("B", "2"), ("a", "3"), ("b", "4"), ("é", "5")],
        );
        assert_eq!(out, r#"{"B":"2","a":"3","b":"4","é":"5"}"#);
    }

    /// Checklist case 44: vector V2 pushed to
    /// `/metrics/job@base64/QmrDtnJu/instance@base64/aW5zdCdhIm5cY2Ux`,
    /// with the model values built by hand.
    #[test]
    fn golden_group_of_case_44() {
        let key = [("instance", "inst'a\"n\\ce1"), ("job", "Björn")];
        let with_testing = |testing: &'static str| {
            let mut pairs = key.to_vec();
            pairs.push(("testing", testing));
            pairs
        };
        let classic_buckets = |float: bool| {
            [(3u64, 250000.0), (17, 500000.0)]
                .iter()
                .map(|&(count, upper_bound)| Bucket {
                    cumulative_count: (!float).then_some(count),
                    cumulative_count_float: float.then_some(count as f64),
                    upper_bound,
                    exemplar: None,
                })
                .collect::<Vec<_>>()
        };
        let spans = vec![
            BucketSpan {
                offset: 0,
                length: 2
            };
            2
        ];
        let int_classic = Histogram {
            sample_count: Some(20),
            sample_sum: Some(99.23),
            buckets: classic_buckets(false),
            ..Histogram::default()
        };
        let float_classic = Histogram {
            sample_count_float: Some(20.0),
            sample_sum: Some(99.23),
            buckets: classic_buckets(true),
            ..Histogram::default()
        };
        let int_native = Histogram {
            sample_count: Some(20),
            sample_sum: Some(99.23),
            schema: Some(1),
            negative_spans: spans.clone(),
            negative_deltas: vec![0, 2, -2, 0],
            positive_spans: spans.clone(),
            positive_deltas: vec![0, 2, -2, 0],
            ..Histogram::default()
        };
        let float_native = Histogram {
            sample_count_float: Some(20.0),
            sample_sum: Some(99.23),
            schema: Some(1),
            negative_spans: spans.clone(),
            negative_counts: vec![2.0, 2.0, -2.0, 0.0],
            positive_spans: spans,
            positive_counts: vec![2.0, 2.0, -2.0, 0.0],
            ..Histogram::default()
        };
        let mut families = vec![
            family(
                "mf1",
                MetricType::Summary,
                None,
                vec![metric(&key, Value::Summary(Summary::default()))],
            ),
            family(
                "mfh",
                MetricType::Histogram,
                None,
                vec![
                    metric(
                        &with_testing("int classic histogram"),
                        Value::Histogram(Box::new(int_classic)),
                    ),
                    metric(
                        &with_testing("float classic histogram"),
                        Value::Histogram(Box::new(float_classic)),
                    ),
                    metric(
                        &with_testing("int native histogram"),
                        Value::Histogram(Box::new(int_native)),
                    ),
                    metric(
                        &with_testing("float native histogram"),
                        Value::Histogram(Box::new(float_native)),
                    ),
                ],
            ),
        ];
        families.extend(push_gauges(&key, 1583872347.7166057, 0.0));

        let labels = r#"{"instance":"inst'a\"n\\ce1","job":"Björn"}"#;
        let mfh_metric = |testing: &str, buckets: &str| {
            format!(
                r#"{{"buckets":{buckets},"count":"20","labels":{{"instance":"inst'a\"n\\ce1","job":"Björn","testing":"{testing}"}},"sum":"99.23"}}"#
            )
        };
        let classic = r#"{"250000":"3","500000":"17"}"#;
        let want = [
            format!(r#"{{"labels":{labels},"last_push_successful":true,"#),
            format!(
                r#""mf1":{{"time_stamp":"{TIME_STAMP}","type":"SUMMARY","metrics":[{{"count":"0","labels":{labels},"quantiles":{{}},"sum":"0"}}]}},"#
            ),
            format!(r#""mfh":{{"time_stamp":"{TIME_STAMP}","type":"HISTOGRAM","metrics":["#),
            mfh_metric("int classic histogram", classic),
            ",".to_string(),
            mfh_metric("float classic histogram", classic),
            ",".to_string(),
            mfh_metric(
                "int native histogram",
                r#"[[1,"-1.414213562373095","-1","2"],[0,"1","1.414213562373095","2"]]"#,
            ),
            ",".to_string(),
            mfh_metric(
                "float native histogram",
                r#"[[1,"-2","-1.414213562373095","-2"],[1,"-1.414213562373095","-1","2"],[1,"-1","-0.7071067811865475","2"],[0,"0.7071067811865475","1","2"],[0,"1","1.414213562373095","2"],[0,"1.414213562373095","2","-2"]]"#,
            ),
            "]},".to_string(),
            format!(
                r#""push_failure_time_seconds":{{"time_stamp":"{TIME_STAMP}","type":"GAUGE","help":"{PUSH_FAILURE_TIME_HELP}","metrics":[{{"labels":{labels},"value":"0"}}]}},"#
            ),
            format!(
                r#""push_time_seconds":{{"time_stamp":"{TIME_STAMP}","type":"GAUGE","help":"{PUSH_TIME_HELP}","metrics":[{{"labels":{labels},"value":"1.5838723477166057e+09"}}]}}}}"#
            ),
        ]
        .concat();
        assert_eq!(group_json(group(&key, families)), want);
    }

    #[test]
    fn group_keys_sort_with_family_names_and_reserved_names_are_left_out() {
        let g = group(
            &[("job", "j")],
            vec![
                family(
                    "labels",
                    MetricType::Gauge,
                    None,
                    vec![metric(&[], Value::Gauge(1.0))],
                ),
                family(
                    "lan",
                    MetricType::Gauge,
                    None,
                    vec![metric(&[], Value::Gauge(2.0))],
                ),
                family(
                    "a",
                    MetricType::Gauge,
                    None,
                    vec![metric(&[], Value::Gauge(3.0))],
                ),
                family(
                    "last_push_successful",
                    MetricType::Gauge,
                    None,
                    vec![metric(&[], Value::Gauge(4.0))],
                ),
            ],
        );
        let json = group_json(g);
        let positions: Vec<usize> = [
            r#""a":"#,
            r#""labels":"#,
            r#""lan":"#,
            r#""last_push_successful":"#,
        ]
        .iter()
        .map(|k| {
            json.find(k)
                .unwrap_or_else(|| panic!("{k} missing in {json}"))
        })
        .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "order in {json}");
        // The group key plus the two kept families' series.
        assert_eq!(json.matches(r#""labels":"#).count(), 3, "{json}");
        assert!(
            !json.contains(r#""value":"1""#) && !json.contains(r#""value":"4""#),
            "{json}"
        );
        assert!(json.contains(r#""last_push_successful":true"#), "{json}");
    }

    #[test]
    fn failed_last_push_is_reported() {
        let series = [("instance", ""), ("job", "j")];
        let g = group(&[("job", "j")], push_gauges(&series, 0.0, 1.5e9));
        assert!(group_json(g).contains(r#""last_push_successful":false"#));
    }

    #[test]
    fn help_is_omitted_when_absent_or_empty() {
        for help in [None, Some("")] {
            let g = group(
                &[("job", "j")],
                vec![family("m", MetricType::Counter, help, vec![])],
            );
            assert!(
                group_json(g).contains(&format!(
                    r#""m":{{"time_stamp":"{TIME_STAMP}","type":"COUNTER","metrics":[]}}"#
                )),
                "help {help:?}"
            );
        }
    }

    fn metric_json(kind: MetricType, value: Value) -> String {
        let mut out = String::new();
        write_metric(&mut out, &metric(&[("job", "j")], value), kind);
        out
    }

    #[test]
    fn metrics_render_the_fields_of_their_value() {
        let summary = Summary {
            sample_count: 1_000_000,
            sample_sum: -0.0,
            quantiles: vec![
                Quantile {
                    quantile: 0.9,
                    value: 1e21,
                },
                Quantile {
                    quantile: 0.5,
                    value: f64::NAN,
                },
            ],
            created: None,
        };
        let counter = Counter {
            value: 1e-5,
            ..Counter::default()
        };
        let cases: &[(&str, MetricType, Value, &str)] = &[
            (
                "gauge",
                MetricType::Gauge,
                Value::Gauge(-0.0),
                r#"{"labels":{"job":"j"},"value":"-0"}"#,
            ),
            (
                "counter",
                MetricType::Counter,
                Value::Counter(counter),
                r#"{"labels":{"job":"j"},"value":"1e-05"}"#,
            ),
            (
                "untyped",
                MetricType::Untyped,
                Value::Untyped(f64::INFINITY),
                r#"{"labels":{"job":"j"},"value":"+Inf"}"#,
            ),
            (
                "summary",
                MetricType::Summary,
                Value::Summary(summary),
                r#"{"count":"1000000","labels":{"job":"j"},"quantiles":{"0.5":"NaN","0.9":"1e+21"},"sum":"-0"}"#,
            ),
            (
                "gauge value in a summary family",
                MetricType::Summary,
                Value::Gauge(2.0),
                r#"{"labels":{"job":"j"},"value":"2"}"#,
            ),
            (
                "missing value, gauge",
                MetricType::Gauge,
                Value::Missing,
                r#"{"labels":{"job":"j"},"value":"0"}"#,
            ),
            (
                "missing value, summary",
                MetricType::Summary,
                Value::Missing,
                r#"{"count":"0","labels":{"job":"j"},"quantiles":{},"sum":"0"}"#,
            ),
            (
                "missing value, gauge histogram",
                MetricType::GaugeHistogram,
                Value::Missing,
                r#"{"buckets":{},"count":"0","labels":{"job":"j"},"sum":"0"}"#,
            ),
        ];
        for (name, kind, value, want) in cases {
            assert_eq!(metric_json(*kind, value.clone()), *want, "{name}");
        }
    }

    #[test]
    fn classic_histogram_counts_print_integers_unless_float() {
        let h = Histogram {
            sample_count: Some(1_000_000),
            sample_sum: Some(1.5),
            buckets: vec![
                Bucket {
                    cumulative_count: Some(1_000_000),
                    upper_bound: f64::INFINITY,
                    ..Bucket::default()
                },
                Bucket {
                    cumulative_count: Some(7),
                    cumulative_count_float: Some(2_000_000.0),
                    upper_bound: 0.25,
                    ..Bucket::default()
                },
            ],
            ..Histogram::default()
        };
        assert_eq!(
            metric_json(MetricType::GaugeHistogram, Value::Histogram(Box::new(h))),
            r#"{"buckets":{"+Inf":"1000000","0.25":"2e+06"},"count":"1000000","labels":{"job":"j"},"sum":"1.5"}"#
        );
    }

    #[test]
    fn native_zero_bucket_is_closed_and_shown_only_when_not_empty() {
        let h = Histogram {
            sample_count: Some(3),
            schema: Some(0),
            zero_threshold: Some(0.0),
            zero_count: Some(3),
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 1,
            }],
            positive_deltas: vec![0],
            ..Histogram::default()
        };
        assert_eq!(
            native::buckets(&h),
            vec![native::Bucket {
                rule: 3,
                lower: -0.0,
                upper: 0.0,
                count: "3".to_string()
            }]
        );
        let mut out = String::new();
        write_native_buckets(&mut out, &native::buckets(&h));
        assert_eq!(out, r#"[[3,"-0","0","3"]]"#);

        let empty_zero = Histogram {
            zero_count: Some(0),
            ..h
        };
        assert!(native::buckets(&empty_zero).is_empty());
    }

    #[test]
    fn native_float_zero_bucket_uses_the_float_count() {
        let h = Histogram {
            zero_threshold: Some(1e-128),
            zero_count_float: Some(2.5),
            negative_spans: vec![BucketSpan {
                offset: -2,
                length: 1,
            }],
            negative_counts: vec![1.0],
            ..Histogram::default()
        };
        let mut out = String::new();
        write_native_buckets(&mut out, &native::buckets(&h));
        assert_eq!(
            out,
            r#"[[1,"-0.25","-0.125","1"],[3,"-1e-128","1e-128","2.5"]]"#
        );
        assert_eq!(native::count(&h), "0");
    }

    #[test]
    fn native_span_offsets_after_the_first_are_gaps() {
        let h = Histogram {
            sample_count: Some(3),
            schema: Some(0),
            positive_spans: vec![
                BucketSpan {
                    offset: 1,
                    length: 1,
                },
                BucketSpan {
                    offset: 2,
                    length: 1,
                },
            ],
            positive_deltas: vec![1, 1],
            ..Histogram::default()
        };
        let mut out = String::new();
        write_native_buckets(&mut out, &native::buckets(&h));
        // Index 1 is (1,2]; a gap of 2 puts the next at index 4, (8,16].
        assert_eq!(out, r#"[[0,"1","2","1"],[0,"8","16","2"]]"#);
    }

    #[test]
    fn native_spans_longer_than_the_counts_stop_at_the_last_count() {
        let h = Histogram {
            sample_count: Some(1),
            schema: Some(3),
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: u32::MAX,
            }],
            positive_deltas: vec![1],
            ..Histogram::default()
        };
        assert_eq!(native::buckets(&h).len(), 1);
    }

    #[test]
    fn native_bucket_bounds() {
        let cases: &[(i64, i32, f64)] = &[
            (0, 0, 1.0),
            (1, 0, 2.0),
            (-1, 0, 0.5),
            (1, 1, 2.0 * 0.7071067811865475),
            (-1, 1, 0.7071067811865475),
            (3, 2, 1.6817928305074288),
            (1, -1, 4.0),
            (-2, -2, 1.0 / 256.0),
            (1024, 0, f64::MAX),
            (1025, 0, f64::INFINITY),
            (256, -2, f64::MAX),
            (-1074, 0, 5e-324),
            (-1076, 0, 0.0),
        ];
        for &(index, schema, want) in cases {
            assert_eq!(
                native::upper_bound(index, schema),
                want,
                "index {index}, schema {schema}"
            );
        }
        assert_eq!(format_float(native::upper_bound(1, 1)), "1.414213562373095");
    }

    #[test]
    fn native_bounds_beyond_the_table_do_not_panic() {
        assert!(native::upper_bound(1, 9) > 1.0);
        assert!(native::upper_bound(i64::from(i32::MAX), i32::MAX).is_finite());
        assert_eq!(native::upper_bound(-5, i32::MIN), 0.0);
        assert_eq!(native::upper_bound(5, i32::MIN), f64::INFINITY);
    }

    #[test]
    fn fraction_table_entries_are_close_to_their_powers_of_two() {
        for (k, &frac) in native::fractions().iter().enumerate() {
            let exact = (k as f64 / 256.0 - 1.0).exp2();
            let ulps = ((frac - exact) / f64::EPSILON).abs();
            assert!(ulps <= 3.0, "entry {k}: {frac} is {ulps} ulps from {exact}");
        }
    }
}
