//! The shared vocabulary: metric families, series, labels and grouping keys.
//!
//! Every other module speaks these types: the text and protobuf parsers
//! produce them, the store keeps them, the renderers and the JSON API read
//! them. The shapes follow `io.prometheus.client.MetricFamily` (client_model's
//! `metrics.proto`) closely enough that a protobuf push is re-served
//! unchanged, including native histograms, exemplars and created timestamps.
//! This module does no I/O and knows no wire format.

use std::fmt;
use std::sync::Arc;

/// Name of the gauge that records the last successful write of a group.
pub const PUSH_TIME_METRIC: &str = "push_time_seconds";
/// Name of the gauge that records the last failed write of a group.
pub const PUSH_FAILURE_TIME_METRIC: &str = "push_failure_time_seconds";
/// HELP of [`PUSH_TIME_METRIC`], as upstream.
pub const PUSH_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway succeeded.";
/// HELP of [`PUSH_FAILURE_TIME_METRIC`], as upstream.
pub const PUSH_FAILURE_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway failed.";

/// The label every grouping key carries.
pub const JOB_LABEL: &str = "job";
/// The label added empty to every pushed series that lacks it.
pub const INSTANCE_LABEL: &str = "instance";

/// One label pair. Names and values are UTF-8; validation happens at the edges.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Label {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The metric type, with the numbers of `io.prometheus.client.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Summary = 2,
    Untyped = 3,
    Histogram = 4,
    GaugeHistogram = 5,
}

impl MetricType {
    pub const ALL: [MetricType; 6] = [
        MetricType::Counter,
        MetricType::Gauge,
        MetricType::Summary,
        MetricType::Untyped,
        MetricType::Histogram,
        MetricType::GaugeHistogram,
    ];

    /// The protobuf enum name, as used in JSON and in consistency errors.
    pub fn proto_name(self) -> &'static str {
        match self {
            MetricType::Counter => "COUNTER",
            MetricType::Gauge => "GAUGE",
            MetricType::Summary => "SUMMARY",
            MetricType::Untyped => "UNTYPED",
            MetricType::Histogram => "HISTOGRAM",
            MetricType::GaugeHistogram => "GAUGE_HISTOGRAM",
        }
    }

    /// The lower-case name used on `# TYPE` lines of the text format.
    pub fn text_name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
        }
    }

    /// Maps a protobuf enum number; unknown numbers give `None`.
    pub fn from_i32(n: i32) -> Option<MetricType> {
        MetricType::ALL.get(usize::try_from(n).ok()?).copied()
    }

    /// Whether series of this type are histograms (classic or native).
    pub fn is_histogram(self) -> bool {
        matches!(self, MetricType::Histogram | MetricType::GaugeHistogram)
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proto_name())
    }
}

/// A protobuf `google.protobuf.Timestamp`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: i32,
}

/// An exemplar attached to a counter or a histogram bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exemplar {
    pub labels: Vec<Label>,
    pub value: f64,
    pub timestamp: Option<Timestamp>,
}

/// One family: a name, its type and help, and its series.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    pub name: String,
    /// `None` when no HELP was given (text) or the field was absent (protobuf).
    pub help: Option<String>,
    pub kind: MetricType,
    pub unit: Option<String>,
    pub metrics: Vec<Metric>,
}

impl MetricFamily {
    pub fn new(name: impl Into<String>, kind: MetricType) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: None,
            kind,
            unit: None,
            metrics: Vec::new(),
        }
    }
}

/// One series of a family.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Label pairs. After sanitising by the store they are sorted by name.
    pub labels: Vec<Label>,
    pub value: Value,
    /// Pushed timestamps are kept only so that the push can be rejected.
    pub timestamp_ms: Option<i64>,
}

/// The value of one series. In protobuf a metric may carry any of the value
/// messages; the decoder keeps the one matching the family type when present,
/// so `Value::kind()` differing from the family type is a consistency error
/// (`collected metric ... is not a GAUGE`), not a decode error.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Counter(Counter),
    Gauge(f64),
    Untyped(f64),
    Summary(Summary),
    /// Boxed: a native histogram is ~300 bytes, and inline it would make
    /// every gauge and counter series pay for that space.
    Histogram(Box<Histogram>),
    /// A protobuf metric with no value message at all.
    Missing,
}

impl Value {
    /// The family type this value belongs to (`Histogram` for histograms,
    /// whatever their family says; `None` for [`Value::Missing`]).
    pub fn kind(&self) -> Option<MetricType> {
        Some(match self {
            Value::Counter(_) => MetricType::Counter,
            Value::Gauge(_) => MetricType::Gauge,
            Value::Untyped(_) => MetricType::Untyped,
            Value::Summary(_) => MetricType::Summary,
            Value::Histogram(_) => MetricType::Histogram,
            Value::Missing => return None,
        })
    }

    /// Whether this value fits a family of type `kind`.
    pub fn fits(&self, kind: MetricType) -> bool {
        match (self, kind) {
            (Value::Histogram(_), MetricType::Histogram | MetricType::GaugeHistogram) => true,
            (v, k) => v.kind() == Some(k),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counter {
    pub value: f64,
    pub exemplar: Option<Exemplar>,
    pub created: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub sample_count: u64,
    pub sample_sum: f64,
    pub quantiles: Vec<Quantile>,
    pub created: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quantile {
    pub quantile: f64,
    pub value: f64,
}

/// A classic and/or native histogram, field for field as in `metrics.proto`.
/// Optional protobuf scalars stay `Option` so a re-served message is identical.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub sample_count: Option<u64>,
    pub sample_count_float: Option<f64>,
    pub sample_sum: Option<f64>,
    /// Classic buckets, cumulative.
    pub buckets: Vec<Bucket>,
    pub created: Option<Timestamp>,
    // Native histogram part.
    pub schema: Option<i32>,
    pub zero_threshold: Option<f64>,
    pub zero_count: Option<u64>,
    pub zero_count_float: Option<f64>,
    pub negative_spans: Vec<BucketSpan>,
    pub negative_deltas: Vec<i64>,
    pub negative_counts: Vec<f64>,
    pub positive_spans: Vec<BucketSpan>,
    pub positive_deltas: Vec<i64>,
    pub positive_counts: Vec<f64>,
    pub exemplars: Vec<Exemplar>,
}

impl Histogram {
    /// True if and only if this histogram has a native part (at least one span).
    pub fn is_native(&self) -> bool {
        !self.negative_spans.is_empty() || !self.positive_spans.is_empty()
    }

    /// True if and only if counts are carried as floats (a float histogram).
    pub fn is_float(&self) -> bool {
        self.sample_count_float.unwrap_or(0.0) > 0.0 || self.zero_count_float.unwrap_or(0.0) > 0.0
    }

    /// The observation count: the float count when set and positive, else the integer one.
    pub fn count(&self) -> f64 {
        match self.sample_count_float {
            Some(c) if c > 0.0 => c,
            _ => self.sample_count.unwrap_or(0) as f64,
        }
    }

    pub fn sum(&self) -> f64 {
        self.sample_sum.unwrap_or(0.0)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bucket {
    pub cumulative_count: Option<u64>,
    pub cumulative_count_float: Option<f64>,
    pub upper_bound: f64,
    pub exemplar: Option<Exemplar>,
}

impl Bucket {
    /// The cumulative count: the float count when set and positive, else the integer one.
    pub fn count(&self) -> f64 {
        match self.cumulative_count_float {
            Some(c) if c > 0.0 => c,
            _ => self.cumulative_count.unwrap_or(0) as f64,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketSpan {
    pub offset: i32,
    pub length: u32,
}

/// The grouping key of a group: its URL labels (always including `job`),
/// sorted by name, each name once. Shared, not copied, when cloned: every
/// read of the groups (API, UI, persistence) takes a copy of each key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupingKey {
    labels: Arc<[Label]>,
}

impl GroupingKey {
    /// Builds a key from label pairs; sorts them and keeps the last value of a
    /// repeated name.
    pub fn new(labels: impl IntoIterator<Item = Label>) -> GroupingKey {
        let mut sorted: Vec<Label> = Vec::new();
        for label in labels {
            match sorted.iter_mut().find(|l| l.name == label.name) {
                Some(existing) => existing.value = label.value,
                None => sorted.push(label),
            }
        }
        sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        GroupingKey {
            labels: sorted.into(),
        }
    }

    pub fn labels(&self) -> &[Label] {
        &self.labels
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }

    /// The upstream string form, which is also the sort order of groups:
    /// `name 0xFF value` per label, joined by `0xFF`. It is bytes, not a
    /// `String`, because `0xFF` is not UTF-8.
    pub fn sort_key(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, l) in self.labels.iter().enumerate() {
            if i > 0 {
                out.push(0xFF);
            }
            out.extend_from_slice(l.name.as_bytes());
            out.push(0xFF);
            out.extend_from_slice(l.value.as_bytes());
        }
        out
    }
}

impl fmt::Display for GroupingKey {
    /// `{instance="x",job="a"}`, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// Returns true if and only if `name` is a legacy metric name,
/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Returns true if and only if `name` is a legacy label name,
/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Which names are acceptable: legacy only, or any non-empty UTF-8
/// (`--push.enable-utf8-names`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NameValidation {
    #[default]
    Legacy,
    Utf8,
}

impl NameValidation {
    pub fn metric_name_ok(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_legacy_metric_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }

    pub fn label_name_ok(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_legacy_label_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_key_sort_key_matches_upstream() {
        assert_eq!(GroupingKey::new([]).sort_key(), b"".to_vec());
        let k = GroupingKey::new([Label::new("foo", "bar"), Label::new("dings", "bums")]);
        assert_eq!(k.sort_key(), b"dings\xffbums\xfffoo\xffbar".to_vec());
    }

    #[test]
    fn grouping_key_last_duplicate_wins() {
        let k = GroupingKey::new([Label::new("b", "1"), Label::new("b", "2")]);
        assert_eq!(k.labels(), &[Label::new("b", "2")]);
    }

    #[test]
    fn legacy_names() {
        assert!(is_legacy_metric_name("a:b_c1"));
        assert!(!is_legacy_metric_name("1a"));
        assert!(!is_legacy_metric_name(""));
        assert!(is_legacy_label_name("_a1"));
        assert!(!is_legacy_label_name("a:b"));
        assert!(!is_legacy_label_name("a=b"));
    }

    #[test]
    fn value_fits_type() {
        assert!(Value::Histogram(Box::default()).fits(MetricType::GaugeHistogram));
        assert!(!Value::Gauge(1.0).fits(MetricType::Counter));
        assert!(!Value::Missing.fits(MetricType::Untyped));
    }

    #[test]
    fn metric_type_numbers() {
        assert_eq!(MetricType::from_i32(4), Some(MetricType::Histogram));
        assert_eq!(MetricType::from_i32(6), None);
        assert_eq!(MetricType::from_i32(-1), None);
    }
}
