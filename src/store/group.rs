//! A group as the store keeps it: its families by name, each a
//! [`TimestampedFamily`] holding the encoded protobuf message (and where
//! each series sorts in the scrape), and the group's TTL and expiry
//! deadline. `mod.rs` writes groups; `check`, `policy`, `snapshot` and
//! `expo` read them.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use super::expo;
use crate::model::{
    GroupingKey, MetricFamily, MetricType, PUSH_FAILURE_TIME_HELP, PUSH_FAILURE_TIME_METRIC,
    PUSH_TIME_HELP, PUSH_TIME_METRIC,
};

/// A family as last written to a group, with the receive time of that write.
///
/// The series are kept as the family's encoded protobuf message: a typical
/// series is ~60 bytes that way, against ~1.5 KB as Rust structs with a heap
/// allocation per label string. Readers that need the series (the JSON API,
/// the UI, the consistency check on replace) decode it with
/// [`TimestampedFamily::family`]; name, type, HELP and the series count are
/// kept decoded because they are read on every push.
///
/// The same allocation also holds, per series, where it sorts in the scrape
/// (§7.2) and where its `Metric` message sits in the encoding, so that the
/// kept exposition (`expo`) refers to series here instead of copying them.
#[derive(Clone, Debug, PartialEq)]
pub struct TimestampedFamily {
    name: Text,
    help: Option<Text>,
    /// The `MetricFamily` message (`message_len` bytes), then the sort
    /// orders of the series back to back, then per series three
    /// little-endian u32: where its order starts, and where its `Metric`
    /// message starts and ends in the message.
    bytes: Box<[u8]>,
    message_len: u32,
    series: u32,
    kind: MetricType,
    /// Unix nanoseconds of the request that last wrote this family.
    pub written_at: i64,
}

/// Bytes per series in the table at the end of `TimestampedFamily::bytes`.
const SPAN: usize = 12;

/// A name or HELP text; the two push-time families of every group share
/// theirs instead of holding a copy each (~140 bytes per group).
type Text = Cow<'static, str>;

fn text(s: &str) -> Text {
    const SHARED: [&str; 4] = [
        PUSH_TIME_METRIC,
        PUSH_TIME_HELP,
        PUSH_FAILURE_TIME_METRIC,
        PUSH_FAILURE_TIME_HELP,
    ];
    match SHARED.iter().find(|shared| **shared == s) {
        Some(shared) => Cow::Borrowed(shared),
        None => Cow::Owned(s.to_string()),
    }
}

impl TimestampedFamily {
    pub fn new(family: &MetricFamily, written_at: i64) -> TimestampedFamily {
        TimestampedFamily::with_encoding(family, crate::proto::encode_family(family), written_at)
    }

    /// Like [`TimestampedFamily::new`] when the caller already holds the
    /// encoding of `family` (e.g. read from the persistence file), which is
    /// kept as is unless its series cannot be found in it.
    pub fn with_encoding(
        family: &MetricFamily,
        encoded: Vec<u8>,
        written_at: i64,
    ) -> TimestampedFamily {
        let (mut bytes, spans) = match crate::proto::metric_spans(&encoded) {
            Some(spans) if spans.len() == family.metrics.len() => (encoded, spans),
            // Not an encoding this store could have written: use its own.
            _ => {
                let encoded = crate::proto::encode_family(family);
                let spans = crate::proto::metric_spans(&encoded).unwrap_or_default();
                (encoded, spans)
            }
        };
        let message_len = bytes.len();
        let orders: usize = family.metrics.iter().map(expo::order_len_of).sum();
        bytes.reserve_exact(orders + SPAN * spans.len());
        let mut starts = Vec::with_capacity(spans.len());
        for metric in &family.metrics {
            starts.push(offset(bytes.len() - message_len));
            expo::append_order(metric, &mut bytes);
        }
        for (start, span) in starts.iter().zip(&spans) {
            bytes.extend_from_slice(&start.to_le_bytes());
            bytes.extend_from_slice(&offset(span.start).to_le_bytes());
            bytes.extend_from_slice(&offset(span.end).to_le_bytes());
        }
        TimestampedFamily {
            name: text(&family.name),
            help: family.help.as_deref().map(text),
            bytes: bytes.into_boxed_slice(),
            message_len: offset(message_len),
            series: offset(starts.len().min(spans.len())),
            kind: family.kind,
            written_at,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> MetricType {
        self.kind
    }

    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    pub fn series_count(&self) -> usize {
        self.series as usize
    }

    /// The family's `MetricFamily` protobuf message.
    pub fn encoded(&self) -> &[u8] {
        &self.bytes[..self.message_len as usize]
    }

    /// The family with its series, decoded.
    pub fn family(&self) -> MetricFamily {
        // The bytes come from `proto::encode_family` or were decoded once
        // already when the persistence file was read, so this cannot fail;
        // if it ever did, an empty family is safer than a panic in a reader.
        crate::proto::decode_family(self.encoded()).unwrap_or_else(|e| {
            crate::log::error(
                "stored family does not decode; serving it empty",
                &[("name", &self.name), ("err", &e)],
            );
            let mut empty = MetricFamily::new(self.name.to_string(), self.kind);
            empty.help = self.help.as_deref().map(str::to_string);
            empty
        })
    }

    /// The three table values of series `index` (see `bytes`); zeros for an
    /// index out of range, which the store never asks for.
    fn span(&self, index: usize) -> [usize; 3] {
        let table = self.bytes.len() - SPAN * self.series_count();
        let at = table + SPAN * index;
        let mut out = [0; 3];
        if let Some(row) = self.bytes.get(at..at + SPAN) {
            for (value, word) in out.iter_mut().zip(row.chunks_exact(4)) {
                *value = u32::from_le_bytes([word[0], word[1], word[2], word[3]]) as usize;
            }
        }
        out
    }

    /// Where the sort order of series `index` starts in the kept bytes, for
    /// [`TimestampedFamily::order_at`].
    pub(super) fn order_start(&self, index: usize) -> u32 {
        let [start, _, _] = self.span(index);
        offset(self.message_len as usize + start)
    }

    /// The sort order that starts at `at` (from
    /// [`TimestampedFamily::order_start`]) and everything after it up to the
    /// table: orders are prefix-free, so comparing against an exact order
    /// needs no end (see `expo::cmp_order`).
    pub(super) fn order_at(&self, at: u32) -> &[u8] {
        let table = self.bytes.len() - SPAN * self.series_count();
        self.bytes.get(at as usize..table).unwrap_or_default()
    }

    /// The sort order of series `index`, exactly.
    pub(super) fn order(&self, index: usize) -> &[u8] {
        let from = self.order_at(self.order_start(index));
        &from[..expo::order_len(from)]
    }

    /// The `Metric` message of series `index`.
    pub(super) fn metric(&self, index: usize) -> &[u8] {
        let [_, start, end] = self.span(index);
        self.encoded().get(start..end).unwrap_or_default()
    }
}

/// A length or offset inside one family's bytes, which the push and file
/// size limits keep far below 4 GiB.
fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(super) struct Group {
    pub(super) key: GroupingKey,
    pub(super) families: FamilyMap,
    pub(super) ttl: Option<Duration>,
    /// Unix nanoseconds the TTL counts from: the last successful push, or
    /// the first write if no push ever succeeded.
    pub(super) ttl_base: i64,
    /// The entry of this group in `State::deadlines`, if any.
    pub(super) deadline: Option<i64>,
}

/// A group's families by name: a sorted vector instead of a map, because
/// groups hold a handful of families and a map node plus a copy of each
/// name cost more than the series themselves when families are small.
#[derive(Default)]
pub(super) struct FamilyMap {
    sorted: Vec<Arc<TimestampedFamily>>,
}

impl FamilyMap {
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.sorted
            .binary_search_by(|f| f.name().as_bytes().cmp(name.as_bytes()))
    }

    pub(super) fn get(&self, name: &str) -> Option<&Arc<TimestampedFamily>> {
        self.position(name).ok().map(|i| &self.sorted[i])
    }

    pub(super) fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Inserts `family`, returning the one it replaces.
    pub(super) fn insert(
        &mut self,
        family: Arc<TimestampedFamily>,
    ) -> Option<Arc<TimestampedFamily>> {
        match self.position(family.name()) {
            Ok(i) => Some(std::mem::replace(&mut self.sorted[i], family)),
            Err(i) => {
                self.sorted.insert(i, family);
                None
            }
        }
    }

    pub(super) fn remove(&mut self, name: &str) -> Option<Arc<TimestampedFamily>> {
        self.position(name).ok().map(|i| self.sorted.remove(i))
    }

    /// Families in name order.
    pub(super) fn values(&self) -> impl Iterator<Item = &Arc<TimestampedFamily>> {
        self.sorted.iter()
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &str> {
        self.sorted.iter().map(|f| f.name())
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &Arc<TimestampedFamily>)> {
        self.sorted.iter().map(|f| (f.name(), f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Label, Metric, Value};

    fn family() -> MetricFamily {
        let mut family = MetricFamily::new("jobs_done".to_string(), MetricType::Gauge);
        family.help = Some("Jobs done.".to_string());
        family.metrics = ["a", "b\0c", ""]
            .iter()
            .enumerate()
            .map(|(i, v)| Metric {
                labels: vec![Label::new("job", *v), Label::new("x", "y")],
                value: Value::Gauge(i as f64),
                timestamp_ms: None,
            })
            .collect();
        family
    }

    /// Each series' message and sort order are found again in the kept
    /// bytes, and the message as a whole is what the caller gave.
    fn assert_series_found(stored: &TimestampedFamily, family: &MetricFamily) {
        assert_eq!(stored.series_count(), family.metrics.len());
        assert_eq!(&stored.family(), family);
        for (i, metric) in family.metrics.iter().enumerate() {
            let decoded = crate::proto::decode_metric(stored.metric(i), stored.kind());
            assert_eq!(decoded.as_ref(), Ok(metric), "series {i}");
            let mut order = Vec::new();
            expo::append_order(metric, &mut order);
            assert_eq!(stored.order(i), &order[..], "series {i}");
            assert!(stored.order_at(stored.order_start(i)).starts_with(&order));
        }
    }

    #[test]
    fn series_are_found_in_the_own_encoding() {
        let family = family();
        let stored = TimestampedFamily::new(&family, 7);
        assert_eq!(stored.encoded(), &crate::proto::encode_family(&family)[..]);
        assert_series_found(&stored, &family);
    }

    /// A persistence file may hold the fields in another order (the metrics
    /// before the name); the bytes are kept as read and still found.
    #[test]
    fn series_are_found_in_a_reordered_encoding() {
        let family = family();
        let own = crate::proto::encode_family(&family);
        let spans = crate::proto::metric_spans(&own).unwrap_or_default();
        let (first, last) = (spans[0].start - 2, spans[spans.len() - 1].end);
        let mut reordered = own[first..last].to_vec();
        reordered.extend_from_slice(&own[..first]);
        reordered.extend_from_slice(&own[last..]);
        assert_ne!(reordered, own);
        let stored = TimestampedFamily::with_encoding(&family, reordered.clone(), 7);
        assert_eq!(stored.encoded(), &reordered[..]);
        assert_series_found(&stored, &family);
    }

    /// Bytes whose series cannot be found are replaced by the own encoding.
    #[test]
    fn unreadable_encoding_is_replaced() {
        let family = family();
        for bytes in [vec![], vec![0x22, 0x7f], vec![0x0b, 0x01]] {
            let stored = TimestampedFamily::with_encoding(&family, bytes, 7);
            assert_eq!(stored.encoded(), &crate::proto::encode_family(&family)[..]);
            assert_series_found(&stored, &family);
        }
    }

    /// The push-time families share their name and HELP.
    #[test]
    fn push_time_texts_are_shared() {
        let mut family = MetricFamily::new(PUSH_TIME_METRIC.to_string(), MetricType::Gauge);
        family.help = Some(PUSH_TIME_HELP.to_string());
        let stored = TimestampedFamily::new(&family, 7);
        assert!(matches!(stored.name, Cow::Borrowed(_)));
        assert!(matches!(stored.help, Some(Cow::Borrowed(_))));
        let stored = TimestampedFamily::new(&self::family(), 7);
        assert!(matches!(stored.name, Cow::Owned(_)));
    }
}
