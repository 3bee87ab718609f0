//! JSON rendering of groups, families and metrics for `/api/v1/metrics`,
//! plus the sorted string map `/api/v1/status` uses: upstream's field order
//! and sorted map keys, byte for byte as its `encoding/json` writes them.

use std::collections::BTreeMap;

use crate::go::{format_float, rfc3339_nanos};
use crate::histogram as native;
use crate::json::write_string as write_json_string;
use crate::model::{Histogram, Label, Metric, MetricType, Summary, Value};
use crate::store::{GroupSnapshot, TimestampedFamily};

/// Group keys that are not families; families of these names are left out
/// of the API rather than overwriting them (upstream lets them collide).
const GROUP_LABELS_KEY: &str = "labels";
const GROUP_SUCCESS_KEY: &str = "last_push_successful";

enum GroupField<'a> {
    Labels,
    LastPushSuccessful,
    Family(&'a TimestampedFamily),
}

/// One group object; its keys (grouping labels, success flag, family names)
/// are sorted together, as Go sorts the keys of the map upstream builds.
pub(super) fn write_group(out: &mut String, group: &GroupSnapshot) {
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
pub(super) fn write_metric(out: &mut String, metric: &Metric, family_kind: MetricType) {
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
pub(super) fn write_native_buckets(out: &mut String, buckets: &[native::Bucket]) {
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
pub(super) fn write_string_map<K, V>(out: &mut String, entries: impl IntoIterator<Item = (K, V)>)
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
