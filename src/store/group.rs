//! A group as the store keeps it: its families by name, each a
//! [`TimestampedFamily`] holding the encoded protobuf message, and the
//! group's TTL and expiry deadline. `mod.rs` writes groups; `check`,
//! `policy` and `snapshot` read them.

use std::sync::Arc;
use std::time::Duration;

use crate::model::{GroupingKey, MetricFamily, MetricType};

/// A family as last written to a group, with the receive time of that write.
///
/// The series are kept as the family's encoded protobuf message: a typical
/// series is ~60 bytes that way, against ~1.5 KB as Rust structs with a heap
/// allocation per label string. Readers that need the series (scrape cache
/// rebuilds, the JSON API, the UI, the consistency check on replace) decode
/// it with [`TimestampedFamily::family`]; name, type, HELP and the series
/// count are kept decoded because they are read on every push.
#[derive(Clone, Debug, PartialEq)]
pub struct TimestampedFamily {
    name: Box<str>,
    help: Option<Box<str>>,
    encoded: Box<[u8]>,
    series: u32,
    kind: MetricType,
    /// Unix nanoseconds of the request that last wrote this family.
    pub written_at: i64,
}

impl TimestampedFamily {
    pub fn new(family: &MetricFamily, written_at: i64) -> TimestampedFamily {
        TimestampedFamily::with_encoding(family, crate::proto::encode_family(family), written_at)
    }

    /// Like [`TimestampedFamily::new`] when the caller already holds the
    /// encoding of `family` (e.g. read from the persistence file), which is
    /// kept as is.
    pub fn with_encoding(
        family: &MetricFamily,
        encoded: Vec<u8>,
        written_at: i64,
    ) -> TimestampedFamily {
        TimestampedFamily {
            name: family.name.as_str().into(),
            help: family.help.as_deref().map(Into::into),
            encoded: encoded.into_boxed_slice(),
            // Bounded far below u32::MAX by --push.max-series-per-push.
            series: u32::try_from(family.metrics.len()).unwrap_or(u32::MAX),
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
        &self.encoded
    }

    /// The family with its series, decoded.
    pub fn family(&self) -> MetricFamily {
        // The bytes come from `proto::encode_family` or were decoded once
        // already when the persistence file was read, so this cannot fail;
        // if it ever did, an empty family is safer than a panic in a reader.
        crate::proto::decode_family(&self.encoded).unwrap_or_else(|e| {
            crate::log::error(
                "stored family does not decode; serving it empty",
                &[("name", &self.name), ("err", &e)],
            );
            let mut empty = MetricFamily::new(self.name.to_string(), self.kind);
            empty.help = self.help.as_deref().map(str::to_string);
            empty
        })
    }
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
