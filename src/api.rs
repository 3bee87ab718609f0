//! `/api/v1/status` and `/api/v1/metrics` with upstream's JSON envelope and
//! CORS headers, byte for byte as upstream's `encoding/json` writes them.
//!
//! Owns the JSON writing (Go string escaping, sorted map keys) and the
//! rendering of native histogram buckets. Does not route, count requests or
//! read the store itself: callers pass a snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::gofmt::{format_float, rfc3339_nanos};
use crate::http::{Request, Response, ResponseBody};
use crate::matcher::Selector;
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
        with_cors(Response::empty(200))
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
        return error_json(
            400,
            "at least one match[] selector is required, e.g. match[]={job=\"batch\"}",
        );
    }
    let selectors = match raw
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(e) => return error_json(400, &e.to_string()),
    };
    let deleted = store.delete_where(|key| selectors.iter().any(|s| s.matches(key)));
    for key in &deleted {
        crate::log::info("group deleted by selector", &[("group", key)]);
    }
    success(&format!(r#"{{"deleted":{}}}"#, deleted.len()))
}

/// The API's error envelope, `{"status":"error","errorType":"bad_data","error":"…"}`.
fn error_json(status: u16, msg: &str) -> Response {
    let mut body = String::from(r#"{"status":"error","errorType":"bad_data","error":"#);
    write_json_string(&mut body, msg);
    body.push('}');
    with_cors(Response::empty(status))
        .with_header("Content-Type", APPLICATION_JSON)
        .with_body(body.into_bytes())
}

/// `OPTIONS /api/v1/...`: 200, empty, CORS headers.
pub fn options() -> Response {
    with_cors(Response::empty(200))
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
    with_cors(Response::empty(200))
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

/// Appends `s` as Go's `encoding/json` quotes it with HTML escaping on:
/// `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00XX` for other control
/// characters and for `<`, `>`, `&`, and `\u2028`/`\u2029` (which break
/// JavaScript string literals).
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                push_unicode_escape(out, c as u32)
            }
            '\u{2028}' | '\u{2029}' => push_unicode_escape(out, c as u32),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_unicode_escape(out: &mut String, code: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((code >> shift) & 0xf) as usize] as char);
    }
}

// ---------------------------------------------------------------------------

/// Native histogram buckets as upstream's API lists them
/// (pushgateway `histogram/prometheus_model.go` over Prometheus'
/// `model/histogram` iterators).
mod native {
    use crate::gofmt::format_float;
    use crate::model::{BucketSpan, Histogram};

    /// Interval rules as upstream numbers them.
    const RULE_LEFT_OPEN: u8 = 0; // (l,u]
    const RULE_RIGHT_OPEN: u8 = 1; // [l,u)
    const RULE_OPEN: u8 = 2; // (l,u)
    const RULE_CLOSED: u8 = 3; // [l,u]

    #[derive(Clone, Debug, PartialEq)]
    pub struct Bucket {
        pub rule: u8,
        pub lower: f64,
        pub upper: f64,
        /// Already formatted: integer histograms print integers.
        pub count: String,
    }

    /// The observation count: the float count for float histograms, the
    /// integer count otherwise.
    pub fn count(h: &Histogram) -> String {
        if h.is_float() {
            format_float(h.sample_count_float.unwrap_or(0.0))
        } else {
            h.sample_count.unwrap_or(0).to_string()
        }
    }

    /// Non-empty buckets in ascending order: negative, zero, positive.
    pub fn buckets(h: &Histogram) -> Vec<Bucket> {
        let schema = h.schema.unwrap_or(0);
        let threshold = h.zero_threshold.unwrap_or(0.0);
        if h.is_float() {
            let zero = h.zero_count_float.unwrap_or(0.0);
            assemble(
                schema,
                threshold,
                (zero != 0.0).then(|| format_float(zero)),
                float_counts(&h.negative_spans, &h.negative_counts),
                float_counts(&h.positive_spans, &h.positive_counts),
            )
        } else {
            let zero = h.zero_count.unwrap_or(0);
            assemble(
                schema,
                threshold,
                (zero != 0).then(|| zero.to_string()),
                integer_counts(&h.negative_spans, &h.negative_deltas),
                integer_counts(&h.positive_spans, &h.positive_deltas),
            )
        }
    }

    fn assemble(
        schema: i32,
        zero_threshold: f64,
        zero_count: Option<String>,
        negative: Vec<(i64, String)>,
        positive: Vec<(i64, String)>,
    ) -> Vec<Bucket> {
        let mut out = Vec::with_capacity(negative.len() + positive.len() + 1);
        // Negative buckets are iterated away from zero; list them reversed
        // so the output ascends.
        for (index, count) in negative.into_iter().rev() {
            let lower = -upper_bound(index, schema);
            let upper = -upper_bound(index - 1, schema);
            out.push(bucket(lower, upper, count));
        }
        if let Some(count) = zero_count {
            out.push(Bucket {
                rule: RULE_CLOSED,
                lower: -zero_threshold,
                upper: zero_threshold,
                count,
            });
        }
        for (index, count) in positive {
            let lower = upper_bound(index - 1, schema);
            let upper = upper_bound(index, schema);
            out.push(bucket(lower, upper, count));
        }
        out
    }

    /// Inclusiveness as Prometheus decides it: a bound is inclusive when it
    /// lies away from zero.
    fn bucket(lower: f64, upper: f64, count: String) -> Bucket {
        let rule = match (lower < 0.0, upper > 0.0) {
            (true, true) => RULE_CLOSED,
            (true, false) => RULE_RIGHT_OPEN,
            (false, true) => RULE_LEFT_OPEN,
            (false, false) => RULE_OPEN,
        };
        Bucket {
            rule,
            lower,
            upper,
            count,
        }
    }

    /// Absolute counts from deltas, keeping non-zero ones. The running sum is
    /// shown as Go's `uint64(int64)` conversion shows it, so a malformed
    /// negative count prints as upstream prints it.
    fn integer_counts(spans: &[BucketSpan], deltas: &[i64]) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        let mut running: i64 = 0;
        walk(spans, deltas, |index, delta| {
            running = running.wrapping_add(delta);
            if running != 0 {
                out.push((index, (running as u64).to_string()));
            }
        });
        out
    }

    fn float_counts(spans: &[BucketSpan], counts: &[f64]) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        walk(spans, counts, |index, count| {
            if count != 0.0 {
                out.push((index, format_float(count)));
            }
        });
        out
    }

    /// Visits each bucket with its absolute index: the first span's offset is
    /// absolute, later offsets are gaps after the previous span. Stops when
    /// either the spans or the counts run out, so a span length a client
    /// inflated cannot make this loop long.
    fn walk<T: Copy>(spans: &[BucketSpan], counts: &[T], mut visit: impl FnMut(i64, T)) {
        let mut counts = counts.iter();
        let mut index: i64 = 0;
        for (n, span) in spans.iter().enumerate() {
            index = if n == 0 {
                i64::from(span.offset)
            } else {
                index + i64::from(span.offset)
            };
            for _ in 0..span.length {
                let Some(&count) = counts.next() else {
                    return;
                };
                visit(index, count);
                index += 1;
            }
        }
    }

    /// The upper bound of bucket `index` in `schema`, as Prometheus'
    /// `getBoundExponential` computes it: `2^(index·2^−schema)`, through the
    /// fraction table for schemas 0 to 8 and through powers of two for
    /// negative schemas. The last finite bucket ends at `f64::MAX`.
    pub fn upper_bound(index: i64, schema: i32) -> f64 {
        if schema < 0 {
            // Exponents beyond ±2^12 are infinite or zero either way.
            let shift = schema.unsigned_abs().min(12);
            let exp = index.saturating_mul(1 << shift);
            if exp == 1024 {
                return f64::MAX;
            }
            return ldexp(1.0, exp);
        }
        if schema > MAX_SCHEMA {
            // Outside the table (Prometheus rejects such schemas); approximate
            // rather than fail the whole response.
            let exponent = index as f64 / 2f64.powi(schema.min(1000));
            return exponent.exp2();
        }
        let frac_index = (index & ((1 << schema) - 1)) as usize;
        let frac = FRACTIONS[frac_index << (MAX_SCHEMA - schema)];
        let exp = (index >> schema) + 1;
        if frac == 0.5 && exp == 1025 {
            return f64::MAX;
        }
        ldexp(frac, exp)
    }

    /// Go's `math.Ldexp` for the values used here: `frac · 2^exp`, rounding
    /// at most once so subnormal results match.
    pub fn ldexp(frac: f64, exp: i64) -> f64 {
        let mut x = frac;
        let mut e = exp.clamp(-4000, 4000);
        while e > 1023 {
            x *= pow2(1023);
            e -= 1023;
        }
        while e < -1000 {
            // `frac` ≥ 0.5 stays normal after the first step, so only one
            // multiplication can round.
            x *= pow2(-1000);
            e += 1000;
        }
        x * pow2(e)
    }

    /// `2^e` for `-1022 <= e <= 1023`.
    fn pow2(e: i64) -> f64 {
        f64::from_bits(((e + 1023) as u64) << 52)
    }

    const MAX_SCHEMA: i32 = 8;

    /// Prometheus' bucket bound fractions in [0.5, 1) for schema 8: entry `k`
    /// is about `2^(k/256 − 1)`. Schema `s` uses every `2^(8−s)`-th entry (the
    /// upstream tables are nested). The values are Prometheus' own roundings,
    /// not correctly rounded powers (`0.7071067811865475`, not `…476`), and the
    /// API strings clients compare depend on them.
    #[rustfmt::skip]
    const FRACTIONS: [f64; 256] = [
        0.5, 0.5013556375251013, 0.5027149505564014, 0.5040779490592088,
        0.5054446430258502, 0.5068150424757447, 0.5081891574554764, 0.509566998038869,
        0.5109485743270583, 0.5123338964485679, 0.5137229745593818, 0.5151158188430205,
        0.5165124395106142, 0.5179128468009786, 0.5193170509806894, 0.520725062344158,
        0.5221368912137069, 0.5235525479396449, 0.5249720429003435, 0.526395386502313,
        0.5278225891802786, 0.5292536613972564, 0.5306886136446309, 0.5321274564422321,
        0.5335702003384117, 0.5350168559101208, 0.5364674337629877, 0.5379219445313954,
        0.5393803988785598, 0.5408428074966075, 0.5423091811066545, 0.5437795304588847,
        0.5452538663326288, 0.5467321995364429, 0.5482145409081883, 0.549700901315111,
        0.5511912916539204, 0.5526857228508706, 0.5541842058618393, 0.5556867516724088,
        0.5571933712979462, 0.5587040757836845, 0.5602188762048033, 0.5617377836665098,
        0.5632608093041209, 0.564787964283144, 0.5663192597993595, 0.5678547070789026,
        0.5693943173783458, 0.5709381019847808, 0.572486072215902, 0.5740382394200894,
        0.5755946149764913, 0.5771552102951081, 0.5787200368168754, 0.5802891060137493,
        0.5818624293887887, 0.5834400184762408, 0.585021884841625, 0.5866080400818185,
        0.5881984958251406, 0.5897932637314379, 0.5913923554921704, 0.5929957828304968,
        0.5946035575013605, 0.5962156912915756, 0.5978321960199137, 0.5994530835371903,
        0.6010783657263515, 0.6027080545025619, 0.6043421618132907, 0.6059806996384005,
        0.6076236799902344, 0.6092711149137041, 0.6109230164863786, 0.6125793968185725,
        0.6142402680534349, 0.6159056423670379, 0.6175755319684665, 0.6192499490999082,
        0.620928906036742, 0.622612415087629, 0.6243004885946023, 0.6259931389331581,
        0.6276903785123455, 0.6293922197748583, 0.6310986751971253, 0.6328097572894031,
        0.6345254785958666, 0.6362458516947014, 0.637970889198196, 0.6397006037528346,
        0.6414350080393891, 0.6431741147730128, 0.6449179367033329, 0.6466664866145447,
        0.6484197773255048, 0.6501778216898253, 0.6519406325959679, 0.6537082229673385,
        0.6554806057623822, 0.6572577939746774, 0.659039800633032, 0.6608266388015788,
        0.6626183215798706, 0.6644148621029772, 0.6662162735415805, 0.6680225691020727,
        0.6698337620266515, 0.6716498655934177, 0.6734708931164728, 0.6752968579460171,
        0.6771277734684463, 0.6789636531064505, 0.6808045103191123, 0.6826503586020058,
        0.6845012114872953, 0.6863570825438342, 0.688217985377265, 0.690083933630119,
        0.6919549409819159, 0.6938310211492645, 0.6957121878859629, 0.6975984549830999,
        0.6994898362691555, 0.7013863456101023, 0.7032879969095076, 0.7051948041086352,
        0.7071067811865475, 0.7090239421602076, 0.7109463010845827, 0.7128738720527471,
        0.7148066691959849, 0.7167447066838943, 0.718687998724491, 0.7206365595643126,
        0.7225904034885232, 0.7245495448210174, 0.7265139979245261, 0.7284837772007218,
        0.7304588970903234, 0.7324393720732029, 0.7344252166684908, 0.7364164454346837,
        0.7384130729697496, 0.7404151139112358, 0.7424225829363761, 0.7444354947621984,
        0.7464538641456323, 0.7484777058836176, 0.7505070348132126, 0.7525418658117031,
        0.7545822137967112, 0.7566280937263048, 0.7586795205991071, 0.7607365094544071,
        0.762799075372269, 0.7648672334736434, 0.7669409989204777, 0.7690203869158282,
        0.7711054127039704, 0.7731960915705107, 0.7752924388424999, 0.7773944698885442,
        0.7795022001189185, 0.7816156449856788, 0.7837348199827764, 0.7858597406461707,
        0.7879904225539431, 0.7901268813264122, 0.7922691326262467, 0.7944171921585818,
        0.7965710756711334, 0.7987307989543135, 0.8008963778413465, 0.8030678282083853,
        0.805245165974627, 0.8074284071024302, 0.8096175675974316, 0.8118126635086642,
        0.8140137109286738, 0.8162207259936375, 0.8184337248834821, 0.820652723822003,
        0.8228777390769823, 0.8251087869603088, 0.8273458838280969, 0.8295890460808079,
        0.8318382901633681, 0.8340936325652911, 0.8363550898207981, 0.8386226785089391,
        0.8408964152537144, 0.8431763167241966, 0.8454623996346523, 0.8477546807446661,
        0.8500531768592616, 0.8523579048290255, 0.8546688815502312, 0.8569861239649629,
        0.8593096490612387, 0.8616394738731368, 0.8639756154809185, 0.8663180910111553,
        0.8686669176368529, 0.871022112577578, 0.8733836930995842, 0.8757516765159389,
        0.8781260801866495, 0.8805069215187917, 0.8828942179666361, 0.8852879870317771,
        0.8876882462632604, 0.890095013257712, 0.8925083056594671, 0.8949281411607002,
        0.8973545375015533, 0.8997875124702672, 0.9022270839033115, 0.9046732696855155,
        0.9071260877501991, 0.909585556079304, 0.9120516927035263, 0.9145245157024483,
        0.9170040432046711, 0.9194902933879467, 0.9219832844793128, 0.9244830347552253,
        0.9269895625416926, 0.92950288621441, 0.9320230241988943, 0.9345499949706191,
        0.9370838170551498, 0.93962450902828, 0.9421720895161669, 0.9447265771954693,
        0.9472879907934827, 0.9498563490882775, 0.9524316709088368, 0.9550139751351947,
        0.9576032806985735, 0.9601996065815236, 0.9628029718180622, 0.9654133954938133,
        0.9680308967461471, 0.9706554947643201, 0.9732872087896164, 0.9759260581154889,
        0.9785720620876999, 0.9812252401044634, 0.9838856116165875, 0.9865531961276168,
        0.9892280131939752, 0.9919100824251095, 0.9945994234836328, 0.9972960560854698,
    ];

    #[cfg(test)]
    pub fn fractions() -> &'static [f64; 256] {
        &FRACTIONS
    }
}

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
