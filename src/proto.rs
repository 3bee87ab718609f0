//! The protobuf exposition: hand-written prost messages of
//! `io.prometheus.client` (metrics.proto), varint-delimited framing, and the
//! conversion between wire messages and the model. Push-side validation of
//! names happens here (pushgate differs from upstream, §4.3); consistency
//! with stored families and the timestamp rule are the store's and push's.

use std::fmt;

use prost::Message;

use crate::http::media;
use crate::model::{
    self, Counter, Exemplar, Histogram, Label, Metric, MetricFamily, MetricType, NameValidation,
    Summary, Value,
};

/// The varint length prefix has at most ten bytes.
const MAX_VARINT_LEN: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    msg: String,
}

impl DecodeError {
    pub fn new(msg: impl Into<String>) -> DecodeError {
        DecodeError { msg: msg.into() }
    }

    /// An error in the `index`-th (1-based) message of a delimited body.
    fn in_message(index: usize, msg: impl fmt::Display) -> DecodeError {
        DecodeError::new(format!("protobuf message {}: {}", index, msg))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DecodeError {}

/// True if and only if `content_type` selects the delimited protobuf format:
/// media type `application/vnd.google.protobuf` with the parameters
/// `proto=io.prometheus.client.MetricFamily` and `encoding=delimited` (type
/// and parameter names case-insensitive, values exact, any order, values may
/// be quoted). A malformed header is not protobuf, as upstream.
pub fn is_delimited_content_type(content_type: &str) -> bool {
    let Some((media_type, params)) = media::parse_media_type(content_type) else {
        return false;
    };
    media::is_delimited_protobuf(&media_type, &params)
}

/// Decodes a body of varint-delimited `MetricFamily` messages.
///
/// Each message is bounded by the rest of the body: a length prefix larger
/// than the remaining bytes is a truncated frame (`unexpected EOF`), so no
/// message can make the decoder allocate beyond what the (size-limited) body
/// already holds. A later family with the same name replaces the earlier one
/// in place. Names are checked with `names` like on the text path; errors
/// name the 1-based index of the offending message.
pub fn decode_delimited(
    body: &[u8],
    names: NameValidation,
) -> Result<Vec<MetricFamily>, DecodeError> {
    let mut families: Vec<MetricFamily> = Vec::new();
    let mut rest = body;
    let mut index = 0;
    while !rest.is_empty() {
        index += 1;
        let (frame, after) = split_frame(rest).map_err(|e| DecodeError::in_message(index, e))?;
        rest = after;
        let family =
            decode_validated(frame, names).map_err(|e| DecodeError::in_message(index, e))?;
        match families.iter_mut().find(|f| f.name == family.name) {
            Some(earlier) => *earlier = family,
            None => families.push(family),
        }
    }
    Ok(families)
}

/// Splits one length-prefixed frame off the front of `buf`.
fn split_frame(buf: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (len, prefix_len) = read_varint(buf)?;
    let rest = &buf[prefix_len..];
    match usize::try_from(len) {
        Ok(len) if len <= rest.len() => Ok(rest.split_at(len)),
        _ => Err(format!(
            "unexpected EOF: length prefix {} exceeds the {} remaining bytes",
            len,
            rest.len()
        )),
    }
}

/// Reads a base-128 varint; returns the value and the number of bytes used.
fn read_varint(buf: &[u8]) -> Result<(u64, usize), String> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() < MAX_VARINT_LEN {
        Err("unexpected EOF in length prefix".to_string())
    } else {
        Err("length prefix is not a valid varint".to_string())
    }
}

fn decode_validated(frame: &[u8], names: NameValidation) -> Result<MetricFamily, String> {
    let family = decode_family(frame).map_err(|e| e.msg)?;
    validate_names(&family, names)?;
    Ok(family)
}

/// The text parser's name rules, applied to a decoded family. Upstream skips
/// them for protobuf (pushgate §16 #9), storing even an empty name.
fn validate_names(family: &MetricFamily, names: NameValidation) -> Result<(), String> {
    if family.name.is_empty() {
        return Err("metric family has an empty name".to_string());
    }
    if !names.metric_name_ok(&family.name) {
        return Err(format!("invalid metric name {:?}", family.name));
    }
    for metric in &family.metrics {
        for (i, label) in metric.labels.iter().enumerate() {
            if !names.label_name_ok(&label.name) {
                return Err(format!("invalid label name {:?}", label.name));
            }
            if label.name == "__name__" {
                return Err(format!("label name {:?} is reserved", label.name));
            }
            if metric.labels[..i].iter().any(|l| l.name == label.name) {
                return Err(format!(
                    "duplicate label names for metric {:?}",
                    family.name
                ));
            }
        }
    }
    Ok(())
}

/// Appends `family` as one varint-delimited `MetricFamily` message.
pub fn encode_delimited(family: &MetricFamily, out: &mut Vec<u8>) {
    wire::MetricFamily::from(family)
        .encode_length_delimited(out)
        .expect("a Vec<u8> grows on demand, so encoding into it cannot run out of space");
}

/// Encodes `family` as one `MetricFamily` message without a length prefix.
pub fn encode_family(family: &MetricFamily) -> Vec<u8> {
    wire::MetricFamily::from(family).encode_to_vec()
}

/// Encodes one series as a `Metric` message, as it appears (after its key
/// and length) inside an encoded `MetricFamily`.
pub fn encode_metric(metric: &Metric) -> Vec<u8> {
    wire::Metric::from(metric).encode_to_vec()
}

/// Decodes a series encoded by [`encode_metric`] in a family of type `kind`.
pub fn decode_metric(bytes: &[u8], kind: MetricType) -> Result<Metric, DecodeError> {
    let message = wire::Metric::decode(bytes).map_err(|e| DecodeError::new(one_line(&e)))?;
    Ok(metric_from_wire(message, kind))
}

/// Where each series' `Metric` message sits in an encoded `MetricFamily`
/// message (the contents of its field 4, in order), or `None` if the bytes
/// are not a well-formed message at the top level.
pub fn metric_spans(family: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    let mut spans = Vec::new();
    let mut rest = family;
    while !rest.is_empty() {
        let key = prost::encoding::decode_varint(&mut rest).ok()?;
        let len = match key & 7 {
            0 => {
                prost::encoding::decode_varint(&mut rest).ok()?;
                0
            }
            1 => 8,
            2 => usize::try_from(prost::encoding::decode_varint(&mut rest).ok()?).ok()?,
            5 => 4,
            _ => return None, // groups are not used by metrics.proto
        };
        let start = family.len() - rest.len();
        rest = rest.get(len..)?;
        if key == 4 << 3 | 2 {
            spans.push(start..start + len);
        }
    }
    Some(spans)
}

/// Appends `metric` (from [`encode_metric`]) as one element of the repeated
/// `metric` field of a `MetricFamily` message (field 4, length-delimited).
pub fn append_metric_field(metric: &[u8], out: &mut Vec<u8>) {
    prost::encoding::encode_key(4, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(metric.len() as u64, out);
    out.extend_from_slice(metric);
}

/// The start of a varint-delimited `MetricFamily` message with no unit
/// whose metric fields (as [`append_metric_field`] writes them) take
/// `metrics_len` bytes and follow this prefix: the length, then name, HELP
/// and type, as prost orders the fields.
pub fn family_prefix(
    name: &str,
    help: Option<&str>,
    kind: MetricType,
    metrics_len: usize,
) -> Vec<u8> {
    let head = wire::MetricFamily {
        name: Some(name.to_string()),
        help: help.map(str::to_string),
        r#type: Some(kind as i32),
        metric: Vec::new(),
        unit: None,
    }
    .encode_to_vec();
    let mut out = Vec::with_capacity(head.len() + 10);
    prost::encoding::encode_varint((head.len() + metrics_len) as u64, &mut out);
    out.extend_from_slice(&head);
    out
}

/// Decodes one `MetricFamily` message without a length prefix. Names are not
/// validated (persistence reloads what was accepted before); an unknown
/// metric type is an error because the model cannot hold it.
pub fn decode_family(bytes: &[u8]) -> Result<MetricFamily, DecodeError> {
    let message = wire::MetricFamily::decode(bytes).map_err(|e| DecodeError::new(one_line(&e)))?;
    family_from_wire(message)
}

/// prost's errors are one line already; make sure a future version cannot
/// break a response line.
fn one_line(err: &prost::DecodeError) -> String {
    err.to_string().replace(['\n', '\r'], " ")
}

fn family_from_wire(message: wire::MetricFamily) -> Result<MetricFamily, DecodeError> {
    let name = message.name.unwrap_or_default();
    // proto2 enum default: a family without `type` is a COUNTER.
    let type_number = message.r#type.unwrap_or(MetricType::Counter as i32);
    let kind = MetricType::from_i32(type_number).ok_or_else(|| {
        DecodeError::new(format!(
            "unknown metric type {} for metric family {:?}",
            type_number, name
        ))
    })?;
    Ok(MetricFamily {
        name,
        help: message.help,
        kind,
        unit: message.unit,
        metrics: message
            .metric
            .into_iter()
            .map(|m| metric_from_wire(m, kind))
            .collect(),
    })
}

fn metric_from_wire(mut message: wire::Metric, kind: MetricType) -> Metric {
    let value = value_from_wire(&mut message, kind);
    Metric {
        labels: message.label.into_iter().map(label_from_wire).collect(),
        value,
        timestamp_ms: message.timestamp_ms,
    }
}

/// Takes the value message matching `kind` if present, otherwise the first
/// present in the order counter, gauge, untyped, summary, histogram. A
/// mismatch is left for the consistency check to report, as upstream does.
fn value_from_wire(m: &mut wire::Metric, kind: MetricType) -> Value {
    let counter = |m: &mut wire::Metric| {
        m.counter
            .take()
            .map(|c| Value::Counter(counter_from_wire(c)))
    };
    let gauge = |m: &mut wire::Metric| m.gauge.take().map(|g| Value::Gauge(g.value.unwrap_or(0.0)));
    let untyped = |m: &mut wire::Metric| {
        m.untyped
            .take()
            .map(|u| Value::Untyped(u.value.unwrap_or(0.0)))
    };
    let summary = |m: &mut wire::Metric| {
        m.summary
            .take()
            .map(|s| Value::Summary(summary_from_wire(s)))
    };
    let histogram = |m: &mut wire::Metric| {
        m.histogram
            .take()
            .map(|h| Value::Histogram(Box::new(histogram_from_wire(h))))
    };
    let matching = match kind {
        MetricType::Counter => counter(m),
        MetricType::Gauge => gauge(m),
        MetricType::Untyped => untyped(m),
        MetricType::Summary => summary(m),
        MetricType::Histogram | MetricType::GaugeHistogram => histogram(m),
    };
    matching
        .or_else(|| counter(m))
        .or_else(|| gauge(m))
        .or_else(|| untyped(m))
        .or_else(|| summary(m))
        .or_else(|| histogram(m))
        .unwrap_or(Value::Missing)
}

fn label_from_wire(pair: wire::LabelPair) -> Label {
    Label {
        name: pair.name.unwrap_or_default(),
        value: pair.value.unwrap_or_default(),
    }
}

fn timestamp_from_wire(ts: wire::Timestamp) -> model::Timestamp {
    model::Timestamp {
        seconds: ts.seconds,
        nanos: ts.nanos,
    }
}

fn exemplar_from_wire(e: wire::Exemplar) -> Exemplar {
    Exemplar {
        labels: e.label.into_iter().map(label_from_wire).collect(),
        value: e.value.unwrap_or(0.0),
        timestamp: e.timestamp.map(timestamp_from_wire),
    }
}

fn counter_from_wire(c: wire::Counter) -> Counter {
    Counter {
        value: c.value.unwrap_or(0.0),
        exemplar: c.exemplar.map(exemplar_from_wire),
        created: c.created_timestamp.map(timestamp_from_wire),
    }
}

fn summary_from_wire(s: wire::Summary) -> Summary {
    Summary {
        sample_count: s.sample_count.unwrap_or(0),
        sample_sum: s.sample_sum.unwrap_or(0.0),
        quantiles: s
            .quantile
            .into_iter()
            .map(|q| model::Quantile {
                quantile: q.quantile.unwrap_or(0.0),
                value: q.value.unwrap_or(0.0),
            })
            .collect(),
        created: s.created_timestamp.map(timestamp_from_wire),
    }
}

fn span_from_wire(s: wire::BucketSpan) -> model::BucketSpan {
    model::BucketSpan {
        offset: s.offset.unwrap_or(0),
        length: s.length.unwrap_or(0),
    }
}

fn histogram_from_wire(h: wire::Histogram) -> Histogram {
    Histogram {
        sample_count: h.sample_count,
        sample_count_float: h.sample_count_float,
        sample_sum: h.sample_sum,
        buckets: h
            .bucket
            .into_iter()
            .map(|b| model::Bucket {
                cumulative_count: b.cumulative_count,
                cumulative_count_float: b.cumulative_count_float,
                upper_bound: b.upper_bound.unwrap_or(0.0),
                exemplar: b.exemplar.map(exemplar_from_wire),
            })
            .collect(),
        created: h.created_timestamp.map(timestamp_from_wire),
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count,
        zero_count_float: h.zero_count_float,
        negative_spans: h.negative_span.into_iter().map(span_from_wire).collect(),
        negative_deltas: h.negative_delta,
        negative_counts: h.negative_count,
        positive_spans: h.positive_span.into_iter().map(span_from_wire).collect(),
        positive_deltas: h.positive_delta,
        positive_counts: h.positive_count,
        exemplars: h.exemplars.into_iter().map(exemplar_from_wire).collect(),
    }
}

/// The `io.prometheus.client` messages (client_model `metrics.proto`, proto2)
/// and `google.protobuf.Timestamp`, written by hand so that no protoc or build
/// script is needed. Field numbers are the upstream ones; optional scalars are
/// `Option` so that presence survives a round trip. Repeated scalars are
/// encoded unpacked, as proto2 and the Go client do; prost accepts both forms
/// when decoding.
mod wire {
    use crate::model;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub help: Option<String>,
        /// `MetricType`, kept as a number so that unknown values can be reported.
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
        #[prost(string, optional, tag = "5")]
        pub unit: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(message, optional, tag = "2")]
        pub gauge: Option<Gauge>,
        #[prost(message, optional, tag = "3")]
        pub counter: Option<Counter>,
        #[prost(message, optional, tag = "4")]
        pub summary: Option<Summary>,
        #[prost(message, optional, tag = "5")]
        pub untyped: Option<Untyped>,
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
        #[prost(int64, optional, tag = "6")]
        pub timestamp_ms: Option<i64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Gauge {
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Counter {
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
        #[prost(message, optional, tag = "2")]
        pub exemplar: Option<Exemplar>,
        #[prost(message, optional, tag = "3")]
        pub created_timestamp: Option<Timestamp>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Quantile {
        #[prost(double, optional, tag = "1")]
        pub quantile: Option<f64>,
        #[prost(double, optional, tag = "2")]
        pub value: Option<f64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub quantile: Vec<Quantile>,
        #[prost(message, optional, tag = "4")]
        pub created_timestamp: Option<Timestamp>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Untyped {
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        #[prost(double, optional, tag = "4")]
        pub sample_count_float: Option<f64>,
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub bucket: Vec<Bucket>,
        #[prost(message, optional, tag = "15")]
        pub created_timestamp: Option<Timestamp>,
        #[prost(sint32, optional, tag = "5")]
        pub schema: Option<i32>,
        #[prost(double, optional, tag = "6")]
        pub zero_threshold: Option<f64>,
        #[prost(uint64, optional, tag = "7")]
        pub zero_count: Option<u64>,
        #[prost(double, optional, tag = "8")]
        pub zero_count_float: Option<f64>,
        #[prost(message, repeated, tag = "9")]
        pub negative_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "10")]
        pub negative_delta: Vec<i64>,
        #[prost(double, repeated, packed = "false", tag = "11")]
        pub negative_count: Vec<f64>,
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "13")]
        pub positive_delta: Vec<i64>,
        #[prost(double, repeated, packed = "false", tag = "14")]
        pub positive_count: Vec<f64>,
        #[prost(message, repeated, tag = "16")]
        pub exemplars: Vec<Exemplar>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Bucket {
        #[prost(uint64, optional, tag = "1")]
        pub cumulative_count: Option<u64>,
        #[prost(double, optional, tag = "4")]
        pub cumulative_count_float: Option<f64>,
        #[prost(double, optional, tag = "2")]
        pub upper_bound: Option<f64>,
        #[prost(message, optional, tag = "3")]
        pub exemplar: Option<Exemplar>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, optional, tag = "1")]
        pub offset: Option<i32>,
        #[prost(uint32, optional, tag = "2")]
        pub length: Option<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(double, optional, tag = "2")]
        pub value: Option<f64>,
        #[prost(message, optional, tag = "3")]
        pub timestamp: Option<Timestamp>,
    }

    /// `google.protobuf.Timestamp` (proto3: plain scalars).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    impl From<&model::MetricFamily> for MetricFamily {
        fn from(f: &model::MetricFamily) -> MetricFamily {
            MetricFamily {
                name: Some(f.name.clone()),
                help: f.help.clone(),
                r#type: Some(f.kind as i32),
                metric: f.metrics.iter().map(Metric::from).collect(),
                unit: f.unit.clone(),
            }
        }
    }

    impl From<&model::Metric> for Metric {
        fn from(m: &model::Metric) -> Metric {
            let mut out = Metric {
                label: m.labels.iter().map(LabelPair::from).collect(),
                timestamp_ms: m.timestamp_ms,
                ..Metric::default()
            };
            match &m.value {
                model::Value::Counter(c) => out.counter = Some(Counter::from(c)),
                model::Value::Gauge(v) => out.gauge = Some(Gauge { value: Some(*v) }),
                model::Value::Untyped(v) => out.untyped = Some(Untyped { value: Some(*v) }),
                model::Value::Summary(s) => out.summary = Some(Summary::from(s)),
                model::Value::Histogram(h) => out.histogram = Some(Histogram::from(&**h)),
                model::Value::Missing => {}
            }
            out
        }
    }

    impl From<&model::Label> for LabelPair {
        fn from(l: &model::Label) -> LabelPair {
            LabelPair {
                name: Some(l.name.clone()),
                value: Some(l.value.clone()),
            }
        }
    }

    impl From<model::Timestamp> for Timestamp {
        fn from(t: model::Timestamp) -> Timestamp {
            Timestamp {
                seconds: t.seconds,
                nanos: t.nanos,
            }
        }
    }

    impl From<&model::Exemplar> for Exemplar {
        fn from(e: &model::Exemplar) -> Exemplar {
            Exemplar {
                label: e.labels.iter().map(LabelPair::from).collect(),
                value: Some(e.value),
                timestamp: e.timestamp.map(Timestamp::from),
            }
        }
    }

    impl From<&model::Counter> for Counter {
        fn from(c: &model::Counter) -> Counter {
            Counter {
                value: Some(c.value),
                exemplar: c.exemplar.as_ref().map(Exemplar::from),
                created_timestamp: c.created.map(Timestamp::from),
            }
        }
    }

    impl From<&model::Summary> for Summary {
        fn from(s: &model::Summary) -> Summary {
            Summary {
                sample_count: Some(s.sample_count),
                sample_sum: Some(s.sample_sum),
                quantile: s
                    .quantiles
                    .iter()
                    .map(|q| Quantile {
                        quantile: Some(q.quantile),
                        value: Some(q.value),
                    })
                    .collect(),
                created_timestamp: s.created.map(Timestamp::from),
            }
        }
    }

    impl From<&model::BucketSpan> for BucketSpan {
        fn from(s: &model::BucketSpan) -> BucketSpan {
            BucketSpan {
                offset: Some(s.offset),
                length: Some(s.length),
            }
        }
    }

    impl From<&model::Bucket> for Bucket {
        fn from(b: &model::Bucket) -> Bucket {
            Bucket {
                cumulative_count: b.cumulative_count,
                cumulative_count_float: b.cumulative_count_float,
                upper_bound: Some(b.upper_bound),
                exemplar: b.exemplar.as_ref().map(Exemplar::from),
            }
        }
    }

    impl From<&model::Histogram> for Histogram {
        fn from(h: &model::Histogram) -> Histogram {
            Histogram {
                sample_count: h.sample_count,
                sample_count_float: h.sample_count_float,
                sample_sum: h.sample_sum,
                bucket: h.buckets.iter().map(Bucket::from).collect(),
                created_timestamp: h.created.map(Timestamp::from),
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                zero_count: h.zero_count,
                zero_count_float: h.zero_count_float,
                negative_span: h.negative_spans.iter().map(BucketSpan::from).collect(),
                negative_delta: h.negative_deltas.clone(),
                negative_count: h.negative_counts.clone(),
                positive_span: h.positive_spans.iter().map(BucketSpan::from).collect(),
                positive_delta: h.positive_deltas.clone(),
                positive_count: h.positive_counts.clone(),
                exemplars: h.exemplars.iter().map(Exemplar::from).collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bucket, BucketSpan, Quantile, Timestamp};
    use crate::testutil::{family, series as metric};

    const V1: &str = "1c0a0b736f6d655f6d65747269631803220b2a09095839b4c876bef33f1f0a0e616e6f746865725f6d65747269631803220b2a09091f85eb51b81e09408c010a10686973746f6772616d5f6d6574726963180422763a74210000000000003440111f85eb51b8ce584028024a04080010024a04080010025900000000000000405900000000000000405900000000000000c05900000000000000006204080010026204080010027100000000000000407100000000000000407100000000000000c0710000000000000000";
    const V2: &str = "160a036d66311802220d220b0800110000000000000000aa030a036d6668180422490a200a0774657374696e671215696e7420636c617373696320686973746f6772616d3a250814111f85eb51b8ce58401a0b0803110000000080840e411a0b0811110000000080841e4122600a220a0774657374696e671217666c6f617420636c617373696320686973746f6772616d3a3a210000000000003440111f85eb51b8ce58401a12210000000000000840110000000080840e411a12210000000000003140110000000080841e4122580a1f0a0774657374696e671214696e74206e617469766520686973746f6772616d3a350814111f85eb51b8ce584028024a04080010024a0408001002500050045003500062040800100262040800100268006804680368002299010a210a0774657374696e671216666c6f6174206e617469766520686973746f6772616d3a74210000000000003440111f85eb51b8ce584028024a04080010024a04080010025900000000000000405900000000000000405900000000000000c05900000000000000006204080010026204080010027100000000000000407100000000000000407100000000000000c0710000000000000000";
    const V5: &str = "1c0a0b736f6d652e6d65747269631803220b2a09095839b4c876bef33f";

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("test vector is valid hex"))
            .collect()
    }

    /// The spans are the `Metric` messages as `encode_metric` writes them,
    /// past fields of every wire type this walk has to skip.
    #[test]
    fn metric_spans_find_each_series() {
        let fam = family(
            "m",
            MetricType::Gauge,
            vec![
                metric(&[("a", "1")], Value::Gauge(1.0)),
                metric(&[("a", "2")], Value::Gauge(2.0)),
            ],
        );
        let own = encode_family(&fam);
        let mut bytes = vec![
            0x28, 0x96, 0x01, 0x31, 0, 0, 0, 0, 0, 0, 0, 0, 0x3d, 0, 0, 0, 0,
        ];
        bytes.extend_from_slice(&own);
        let spans = metric_spans(&bytes).unwrap_or_default();
        assert_eq!(spans.len(), 2);
        for (span, m) in spans.iter().zip(&fam.metrics) {
            assert_eq!(&bytes[span.clone()], &encode_metric(m)[..]);
        }
        assert_eq!(metric_spans(&own[..own.len() - 1]), None);
        assert_eq!(metric_spans(&[0x0b]), None);
    }

    fn legacy(body: &[u8]) -> Result<Vec<MetricFamily>, DecodeError> {
        decode_delimited(body, NameValidation::Legacy)
    }

    fn delimited(families: &[MetricFamily]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in families {
            encode_delimited(f, &mut out);
        }
        out
    }

    fn spans_0_2() -> Vec<BucketSpan> {
        vec![
            BucketSpan {
                offset: 0,
                length: 2
            };
            2
        ]
    }

    // 3.14 is V1's value, not an approximation of pi.
    #[allow(clippy::approx_constant)]
    fn v1_model() -> Vec<MetricFamily> {
        let native_float = Histogram {
            sample_count_float: Some(20.0),
            sample_sum: Some(99.23),
            schema: Some(1),
            negative_spans: spans_0_2(),
            negative_counts: vec![2.0, 2.0, -2.0, 0.0],
            positive_spans: spans_0_2(),
            positive_counts: vec![2.0, 2.0, -2.0, 0.0],
            ..Histogram::default()
        };
        vec![
            family(
                "some_metric",
                MetricType::Untyped,
                vec![metric(&[], Value::Untyped(1.234))],
            ),
            family(
                "another_metric",
                MetricType::Untyped,
                vec![metric(&[], Value::Untyped(3.14))],
            ),
            family(
                "histogram_metric",
                MetricType::Histogram,
                vec![metric(&[], Value::Histogram(Box::new(native_float)))],
            ),
        ]
    }

    /// One family of every type and every optional part the model holds.
    fn every_kind_of_family() -> Vec<MetricFamily> {
        let ts = |seconds, nanos| Some(Timestamp { seconds, nanos });
        let exemplar = Exemplar {
            labels: vec![Label::new("trace_id", "abc")],
            value: 0.5,
            timestamp: ts(1_700_000_000, 123),
        };
        let counter = Counter {
            value: 7.0,
            exemplar: Some(exemplar.clone()),
            created: ts(1_600_000_000, 0),
        };
        let summary = Summary {
            sample_count: 3,
            sample_sum: 1.5,
            quantiles: vec![
                Quantile {
                    quantile: 0.5,
                    value: 0.4,
                },
                Quantile {
                    quantile: 0.99,
                    value: f64::INFINITY,
                },
            ],
            created: ts(0, 0),
        };
        let classic = Histogram {
            sample_count: Some(20),
            sample_sum: Some(99.23),
            buckets: vec![
                Bucket {
                    cumulative_count: Some(3),
                    upper_bound: 250000.0,
                    exemplar: Some(exemplar.clone()),
                    ..Bucket::default()
                },
                Bucket {
                    cumulative_count_float: Some(17.5),
                    upper_bound: f64::INFINITY,
                    ..Bucket::default()
                },
            ],
            created: ts(-5, -1),
            ..Histogram::default()
        };
        let native_int = Histogram {
            sample_count: Some(20),
            sample_sum: Some(-1.0),
            schema: Some(-4),
            zero_threshold: Some(1e-128),
            zero_count: Some(0),
            negative_spans: vec![BucketSpan {
                offset: -3,
                length: 2,
            }],
            negative_deltas: vec![0, 2],
            positive_spans: vec![
                BucketSpan {
                    offset: 0,
                    length: 0,
                },
                BucketSpan {
                    offset: 4,
                    length: 2,
                },
            ],
            positive_deltas: vec![i64::MIN, i64::MAX],
            exemplars: vec![exemplar.clone()],
            ..Histogram::default()
        };
        let native_float = Histogram {
            sample_count_float: Some(20.5),
            zero_count_float: Some(0.25),
            schema: Some(8),
            positive_spans: vec![BucketSpan {
                offset: i32::MIN,
                length: u32::MAX,
            }],
            positive_counts: vec![1.0, -0.0],
            ..Histogram::default()
        };
        let mut with_unit = family(
            "unit_seconds",
            MetricType::Gauge,
            vec![metric(&[], Value::Gauge(-0.0))],
        );
        with_unit.unit = Some("seconds".to_string());
        with_unit.help = Some(String::new());
        let mut with_help = family(
            "helped",
            MetricType::Untyped,
            vec![metric(&[("a", "ä\"\n")], Value::Untyped(1.0))],
        );
        with_help.help = Some("some \\ help\n".to_string());
        let mut stamped = metric(&[("job", "j")], Value::Counter(Counter::default()));
        stamped.timestamp_ms = Some(0);
        vec![
            family(
                "c_total",
                MetricType::Counter,
                vec![metric(&[("x", "1")], Value::Counter(counter)), stamped],
            ),
            with_unit,
            with_help,
            family(
                "s",
                MetricType::Summary,
                vec![
                    metric(&[], Value::Summary(summary)),
                    metric(&[("q", "")], Value::Summary(Summary::default())),
                ],
            ),
            family(
                "h",
                MetricType::Histogram,
                vec![
                    metric(&[("k", "classic")], Value::Histogram(Box::new(classic))),
                    metric(&[("k", "int")], Value::Histogram(Box::new(native_int))),
                    metric(&[("k", "float")], Value::Histogram(Box::new(native_float))),
                    metric(&[("k", "empty")], Value::Histogram(Box::default())),
                ],
            ),
            family(
                "gh",
                MetricType::GaugeHistogram,
                vec![metric(&[], Value::Histogram(Box::default()))],
            ),
            family(
                "mismatch",
                MetricType::Gauge,
                vec![
                    metric(&[], Value::Untyped(2.0)),
                    metric(&[("a", "b")], Value::Missing),
                ],
            ),
            family("no_metrics", MetricType::Untyped, vec![]),
        ]
    }

    #[test]
    fn v1_decodes_to_the_model() {
        assert_eq!(legacy(&unhex(V1)), Ok(v1_model()));
    }

    #[test]
    fn v1_reencoded_decodes_to_the_same_model() {
        let families = legacy(&unhex(V1)).expect("V1 is valid");
        assert_eq!(legacy(&delimited(&families)), Ok(families));
    }

    #[test]
    fn repeated_scalars_are_encoded_unpacked_like_go() {
        let families = legacy(&unhex(V1)).expect("V1 is valid");
        let bytes = encode_family(&families[2]);
        // negative_count (field 11, fixed64): tag 0x59 before every value
        let two_then_tag = [0x59, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x59];
        assert!(bytes.windows(two_then_tag.len()).any(|w| w == two_then_tag));
    }

    #[test]
    fn v5_utf8_family_name_needs_utf8_names() {
        let body = unhex(V5);
        let families =
            decode_delimited(&body, NameValidation::Utf8).expect("valid with UTF-8 names");
        assert_eq!(families[0].name, "some.metric");
        assert_eq!(families[0].metrics[0].value, Value::Untyped(1.234));
        assert_eq!(
            legacy(&body).unwrap_err().to_string(),
            "protobuf message 1: invalid metric name \"some.metric\""
        );
    }

    #[test]
    fn v2_decodes_summary_and_four_histograms() {
        let families = legacy(&unhex(V2)).expect("V2 is valid");
        assert_eq!(families.len(), 2);
        let mf1 = &families[0];
        assert_eq!(
            (mf1.name.as_str(), mf1.kind, &mf1.help),
            ("mf1", MetricType::Summary, &None)
        );
        assert_eq!(
            mf1.metrics,
            vec![metric(&[], Value::Summary(Summary::default()))]
        );

        let mfh = &families[1];
        assert_eq!(
            (mfh.name.as_str(), mfh.kind),
            ("mfh", MetricType::Histogram)
        );
        let histograms: Vec<&Histogram> = mfh
            .metrics
            .iter()
            .map(|m| match &m.value {
                Value::Histogram(h) => &**h,
                other => panic!("not a histogram: {:?}", other),
            })
            .collect();
        assert_eq!(histograms.len(), 4);
        assert_eq!(
            mfh.metrics[0].labels,
            vec![Label::new("testing", "int classic histogram")]
        );
        assert_eq!(
            histograms[0].buckets,
            vec![
                Bucket {
                    cumulative_count: Some(3),
                    upper_bound: 250000.0,
                    ..Bucket::default()
                },
                Bucket {
                    cumulative_count: Some(17),
                    upper_bound: 500000.0,
                    ..Bucket::default()
                },
            ]
        );
        assert_eq!(histograms[1].sample_count_float, Some(20.0));
        assert_eq!(histograms[1].buckets[1].cumulative_count_float, Some(17.0));
        assert_eq!(histograms[2].sample_count, Some(20));
        assert_eq!(histograms[2].negative_deltas, vec![0, 2, -2, 0]);
        assert_eq!(histograms[2].positive_deltas, vec![0, 2, -2, 0]);
        assert!(histograms[2].is_native() && !histograms[2].is_float());
        assert!(histograms[3].is_native() && histograms[3].is_float());
        for h in histograms {
            assert_eq!((h.count(), h.sum()), (20.0, 99.23));
        }
    }

    #[test]
    fn every_model_value_round_trips() {
        for f in every_kind_of_family() {
            assert_eq!(
                decode_family(&encode_family(&f)),
                Ok(f.clone()),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn help_none_and_empty_stay_distinct() {
        let mut f = family("x", MetricType::Gauge, vec![metric(&[], Value::Gauge(1.0))]);
        assert_eq!(decode_family(&encode_family(&f)).map(|f| f.help), Ok(None));
        f.help = Some(String::new());
        assert_eq!(
            decode_family(&encode_family(&f)).map(|f| f.help),
            Ok(Some(String::new()))
        );
    }

    #[test]
    fn delimited_is_length_prefix_plus_message() {
        let f = &every_kind_of_family()[0];
        let message = encode_family(f);
        let mut out = vec![0xAA];
        encode_delimited(f, &mut out);
        assert_eq!(out[0], 0xAA, "appends");
        let (len, prefix) = read_varint(&out[1..]).expect("valid prefix");
        assert_eq!(len as usize, message.len());
        assert_eq!(&out[1 + prefix..], message.as_slice());
    }

    #[test]
    fn delimited_round_trips_many_families() {
        let families = every_kind_of_family();
        assert_eq!(legacy(&delimited(&families)), Ok(families));
    }

    #[test]
    fn empty_body_is_no_families() {
        assert_eq!(legacy(b""), Ok(vec![]));
    }

    #[test]
    fn absent_type_is_counter() {
        let message = wire::MetricFamily {
            name: Some("a".into()),
            metric: vec![wire::Metric {
                counter: Some(wire::Counter {
                    value: Some(1.0),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let families = legacy(&message.encode_length_delimited_to_vec()).expect("valid");
        assert_eq!(families[0].kind, MetricType::Counter);
        let want = Value::Counter(Counter {
            value: 1.0,
            ..Counter::default()
        });
        assert_eq!(families[0].metrics[0].value, want);
    }

    #[test]
    fn unknown_type_is_an_error() {
        let msg = wire::MetricFamily {
            name: Some("a".into()),
            r#type: Some(6),
            ..Default::default()
        };
        let err = legacy(&msg.encode_length_delimited_to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protobuf message 1: unknown metric type 6 for metric family \"a\""
        );
    }

    #[test]
    fn name_validation_errors() {
        let bad_label = |name: &str| {
            family(
                "m",
                MetricType::Gauge,
                vec![metric(&[(name, "v")], Value::Gauge(1.0))],
            )
        };
        let dup = family(
            "m",
            MetricType::Gauge,
            vec![metric(
                &[("a", "1"), ("b", "2"), ("a", "3")],
                Value::Gauge(1.0),
            )],
        );
        let cases = [
            (
                "empty family name",
                family("", MetricType::Gauge, vec![]),
                "metric family has an empty name",
            ),
            (
                "legacy metric name",
                family("1a", MetricType::Gauge, vec![]),
                "invalid metric name \"1a\"",
            ),
            (
                "legacy label name",
                bad_label("a.b"),
                "invalid label name \"a.b\"",
            ),
            ("empty label name", bad_label(""), "invalid label name \"\""),
            (
                "reserved label name",
                bad_label("__name__"),
                "label name \"__name__\" is reserved",
            ),
            (
                "duplicate label",
                dup,
                "duplicate label names for metric \"m\"",
            ),
        ];
        for (scenario, f, want) in cases {
            let err = legacy(&delimited(&[f])).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("protobuf message 1: {}", want),
                "{}",
                scenario
            );
        }
    }

    #[test]
    fn utf8_names_still_reject_empty_names() {
        let f = family(
            "m",
            MetricType::Gauge,
            vec![metric(&[("", "v")], Value::Gauge(1.0))],
        );
        assert!(decode_delimited(&delimited(&[f]), NameValidation::Utf8).is_err());
        let f = family("", MetricType::Gauge, vec![]);
        assert!(decode_delimited(&delimited(&[f]), NameValidation::Utf8).is_err());
        let f = family(
            "a.b",
            MetricType::Gauge,
            vec![metric(&[("c.d", "v")], Value::Gauge(1.0))],
        );
        assert!(decode_delimited(&delimited(&[f]), NameValidation::Utf8).is_ok());
    }

    #[test]
    fn invalid_utf8_label_value_is_an_error() {
        let f = family(
            "m",
            MetricType::Gauge,
            vec![metric(&[("a", "XY")], Value::Gauge(1.0))],
        );
        let mut body = delimited(&[f]);
        let at = body
            .windows(2)
            .position(|w| w == b"XY")
            .expect("value is in the body");
        body[at] = 0xff;
        let err = legacy(&body).unwrap_err().to_string();
        assert!(err.starts_with("protobuf message 1: "), "{}", err);
        assert!(err.contains("UTF-8"), "{}", err);
    }

    #[test]
    fn error_names_the_message_index() {
        let good = family("a", MetricType::Gauge, vec![]);
        let bad = family("b-c", MetricType::Gauge, vec![]);
        let err = legacy(&delimited(&[good.clone(), good, bad])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "protobuf message 3: invalid metric name \"b-c\""
        );
    }

    #[test]
    fn later_family_with_the_same_name_replaces_the_earlier() {
        let first = family("a", MetricType::Gauge, vec![metric(&[], Value::Gauge(1.0))]);
        let other = family("b", MetricType::Gauge, vec![]);
        let second = family(
            "a",
            MetricType::Counter,
            vec![metric(&[], Value::Counter(Counter::default()))],
        );
        let got = legacy(&delimited(&[first, other.clone(), second.clone()]));
        assert_eq!(got, Ok(vec![second, other]));
    }

    #[test]
    fn truncated_frame_is_unexpected_eof() {
        let body = unhex(V1);
        for cut in [1, 10, 0x1c, 0x1e, 0x1d + 5, body.len() - 1] {
            let err = legacy(&body[..cut]).unwrap_err().to_string();
            assert!(err.contains("unexpected EOF"), "cut at {}: {}", cut, err);
        }
    }

    #[test]
    fn truncated_length_prefix_is_unexpected_eof() {
        let err = legacy(&[0x1c, 0x80]).unwrap_err().to_string();
        assert!(
            err.starts_with("protobuf message 1: unexpected EOF"),
            "{}",
            err
        );
        let err = legacy(&[0x80, 0x80]).unwrap_err().to_string();
        assert!(err.contains("unexpected EOF"), "{}", err);
    }

    #[test]
    fn overlong_length_prefix_is_an_error() {
        let err = legacy(&[0xff; 12]).unwrap_err().to_string();
        assert_eq!(
            err,
            "protobuf message 1: length prefix is not a valid varint"
        );
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let err = legacy(&huge).unwrap_err().to_string();
        assert!(err.contains("unexpected EOF"), "{}", err);
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let f = family("a", MetricType::Gauge, vec![metric(&[], Value::Gauge(2.0))]);
        let mut message = encode_family(&f);
        // field 99, varint 1; field 100, length-delimited "xy"
        message.extend_from_slice(&[0x98, 0x06, 0x01, 0xa2, 0x06, 0x02, b'x', b'y']);
        assert_eq!(decode_family(&message), Ok(f));
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct PackedHistogram {
        #[prost(sint64, repeated, packed = "true", tag = "13")]
        positive_delta: Vec<i64>,
        #[prost(double, repeated, packed = "true", tag = "14")]
        positive_count: Vec<f64>,
    }

    #[test]
    fn packed_repeated_scalars_are_accepted() {
        let packed = PackedHistogram {
            positive_delta: vec![1, -1, 5],
            positive_count: vec![0.5, 2.0],
        };
        let bytes = packed.encode_to_vec();
        assert_eq!(bytes[0], 13 << 3 | 2, "the test encodes packed");
        let h = wire::Histogram::decode(bytes.as_slice()).expect("packed is valid");
        assert_eq!(h.positive_delta, vec![1, -1, 5]);
        assert_eq!(h.positive_count, vec![0.5, 2.0]);
    }

    #[test]
    fn value_follows_the_family_type_then_a_fixed_order() {
        let all = || wire::Metric {
            counter: Some(wire::Counter {
                value: Some(1.0),
                ..Default::default()
            }),
            gauge: Some(wire::Gauge { value: Some(2.0) }),
            untyped: Some(wire::Untyped { value: Some(3.0) }),
            summary: Some(wire::Summary::default()),
            histogram: Some(wire::Histogram::default()),
            ..Default::default()
        };
        let counter = Value::Counter(Counter {
            value: 1.0,
            ..Counter::default()
        });
        let cases = [
            (
                "gauge family, all present",
                MetricType::Gauge,
                all(),
                Value::Gauge(2.0),
            ),
            (
                "untyped family, all present",
                MetricType::Untyped,
                all(),
                Value::Untyped(3.0),
            ),
            (
                "summary family, all present",
                MetricType::Summary,
                all(),
                Value::Summary(Summary::default()),
            ),
            (
                "gauge histogram family",
                MetricType::GaugeHistogram,
                all(),
                Value::Histogram(Box::default()),
            ),
            (
                "counter family, all present",
                MetricType::Counter,
                all(),
                counter.clone(),
            ),
            (
                "histogram family without histogram",
                MetricType::Histogram,
                wire::Metric {
                    histogram: None,
                    ..all()
                },
                counter,
            ),
            (
                "gauge family with untyped and summary",
                MetricType::Gauge,
                wire::Metric {
                    counter: None,
                    gauge: None,
                    ..all()
                },
                Value::Untyped(3.0),
            ),
            (
                "no value at all",
                MetricType::Gauge,
                wire::Metric::default(),
                Value::Missing,
            ),
        ];
        for (scenario, kind, m, want) in cases {
            assert_eq!(metric_from_wire(m, kind).value, want, "{}", scenario);
        }
    }

    #[test]
    fn timestamp_ms_is_kept() {
        let mut m = metric(&[], Value::Gauge(1.0));
        m.timestamp_ms = Some(0);
        let f = family("a", MetricType::Gauge, vec![m]);
        let got = legacy(&delimited(&[f])).expect("valid");
        assert_eq!(got[0].metrics[0].timestamp_ms, Some(0));
    }

    #[test]
    fn delimited_content_type_detection() {
        let cases = [
            (media::DELIMITED_CONTENT_TYPE, true),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", true),
            ("Application/Vnd.Google.Protobuf; ENCODING=delimited; Proto=io.prometheus.client.MetricFamily", true),
            ("application/vnd.google.protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=\"delimited\"", true),
            ("application/vnd.google.protobuf ; proto = io.prometheus.client.MetricFamily ; encoding = delimited ;", true),
            ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=text", false),
            ("application/vnd.google.protobuf; proto=io.prometheus.client.metricfamily; encoding=delimited", false),
            ("application/vnd.google.protobuf; encoding=delimited", false),
            ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; encoding=delimited", false),
            ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; junk", false),
            ("application/vnd.google.protobuf; proto=\"io.prometheus.client.MetricFamily; encoding=delimited", false),
            ("text/plain; version=0.0.4", false),
            ("application/openmetrics-text; version=1.0.0", false),
            ("", false),
            ("application; proto=io.prometheus.client.MetricFamily; encoding=delimited", false),
        ];
        for (ct, want) in cases {
            assert_eq!(is_delimited_content_type(ct), want, "{}", ct);
        }
    }

    /// Bounded fuzzing: random and mutated inputs must give a value or an
    /// error, never a panic, and whatever decodes must re-encode stably.
    #[test]
    fn random_and_mutated_inputs_never_panic() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds = [
            unhex(V1),
            unhex(V2),
            unhex(V5),
            delimited(&every_kind_of_family()),
        ];
        let mut decoded = 0;
        for round in 0..20_000 {
            let input: Vec<u8> = if round % 4 == 0 {
                let len = (next() % 64) as usize;
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut input = seeds[(next() % seeds.len() as u64) as usize].clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() % input.len() as u64) as usize;
                    match next() % 3 {
                        0 => input[at] = next() as u8,
                        1 => input.truncate(at),
                        _ => input.insert(at, next() as u8),
                    }
                    if input.is_empty() {
                        break;
                    }
                }
                input
            };
            let names = if round % 2 == 0 {
                NameValidation::Legacy
            } else {
                NameValidation::Utf8
            };
            if let Ok(families) = decode_delimited(&input, names) {
                decoded += 1;
                for f in families {
                    let bytes = encode_family(&f);
                    let again = decode_family(&bytes).expect("our own encoding decodes");
                    assert_eq!(encode_family(&again), bytes, "round {}", round);
                }
            }
            let _ = decode_family(&input);
        }
        assert!(decoded > 0, "some mutations should still decode");
    }
}
