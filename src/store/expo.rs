//! The exposition of the stored families, kept incrementally.
//!
//! Per family name, every stored series sits in scrape order (§7.2: fewer
//! labels first, then label values position by position; ties in grouping
//! key order, then in pushed order, as a stable sort of the groups' series
//! gives) in chunks of at most [`CHUNK_MAX`] series. A write changes the
//! entries of the series it adds or removes and drops the renderings of the
//! chunks they sit in; a read renders only those chunks again (text,
//! protobuf, and their gzip segments, each on first use) and shares the
//! rest. The store updates this under its lock; readers copy out shared
//! pointers ([`FamilySnapshot`]) and render after the lock is released.
//!
//! Series are kept as their encoded `Metric` protobuf message: what the
//! protobuf scrape sends as is, and what the text lines are rendered from.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use super::group::TimestampedFamily;
use super::GroupId;
use crate::exposition::{render, NameEscaping};
use crate::gzip::Segment;
use crate::model::{Metric, MetricType};

/// Most series per chunk: small enough that re-rendering and re-compressing
/// a chunk after a write costs well under a millisecond, large enough that
/// a 100k-series body is a few hundred pieces and each compressed segment
/// still finds its repetitions.
#[cfg(not(test))]
const CHUNK_MAX: usize = 128;
/// Tiny chunks in tests, so that the property test splits and merges them.
#[cfg(test)]
const CHUNK_MAX: usize = 8;

/// Entries a full chunk grows by when one is inserted.
const CHUNK_GROWTH: usize = 8;

/// Appends where `metric` sorts in its family's output (§7.2) to `out`:
/// the label count (big-endian u32), then each label value with its NUL
/// bytes escaped as `00 01` and ended by `00 00`, so that bytewise order is
/// the order of §7.2 (a value sorts before its extensions). Ties are broken
/// by grouping key, then by position in the group's family (see
/// [`Entry::cmp`]).
pub(super) fn append_order(metric: &Metric, out: &mut Vec<u8>) {
    let count = u32::try_from(metric.labels.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    for label in &metric.labels {
        for &b in label.value.as_bytes() {
            if b == 0 {
                out.extend_from_slice(&[0, 1]);
            } else {
                out.push(b);
            }
        }
        out.extend_from_slice(&[0, 0]);
    }
}

/// How many bytes [`append_order`] appends for `metric`.
pub(super) fn order_len_of(metric: &Metric) -> usize {
    let values: usize = metric
        .labels
        .iter()
        .map(|l| l.value.len() + l.value.bytes().filter(|&b| b == 0).count() + 2)
        .sum();
    4 + values
}

/// One stored series: the family that holds it and its position there.
/// Its sort order and `Metric` message live in the family's bytes, so an
/// entry is 32 bytes and copying one (when a reader shares its chunk)
/// only counts references.
#[derive(Clone, Debug)]
struct Entry {
    family: Arc<TimestampedFamily>,
    gid: GroupId,
    index: u32,
    /// Where the sort order starts in the family's bytes: searches compare
    /// orders, and this saves a read of the family's table per comparison.
    order_at: u32,
}

/// Where an entry sorts, with its order's end found once per search.
struct Probe<'a> {
    order: &'a [u8],
    gid: &'a GroupId,
    index: u32,
}

impl Entry {
    fn new(gid: &GroupId, family: &Arc<TimestampedFamily>, index: usize) -> Entry {
        Entry {
            family: family.clone(),
            gid: gid.clone(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            order_at: family.order_start(index),
        }
    }

    /// The sort order, followed by whatever the family keeps after it.
    fn order_from(&self) -> &[u8] {
        self.family.order_at(self.order_at)
    }

    fn metric(&self) -> &[u8] {
        self.family.metric(self.index as usize)
    }

    /// The entry's place, to search for it.
    fn probe(&self) -> Probe<'_> {
        let from = self.order_from();
        Probe {
            order: &from[..order_len(from)],
            gid: &self.gid,
            index: self.index,
        }
    }

    /// Where this series sorts relative to `probe` (§7.2; ties in grouping
    /// key order, then in pushed order).
    fn cmp_probe(&self, probe: &Probe<'_>) -> Ordering {
        cmp_order(self.order_from(), probe.order)
            .then_with(|| self.gid.cmp(probe.gid))
            .then_with(|| self.index.cmp(&probe.index))
    }

    fn decode(&self) -> Option<Metric> {
        match crate::proto::decode_metric(self.metric(), self.family.kind()) {
            Ok(m) => Some(m),
            Err(e) => {
                // Encoded by the store itself, so this cannot happen; a
                // series left out is safer than a panic in a reader.
                crate::log::error("stored series does not decode; left out", &[("err", &e)]);
                None
            }
        }
    }
}

/// Length of the order (see [`append_order`]) that `bytes` starts with: the label
/// count, then that many values, each ended by `00 00` (a NUL inside a
/// value is `00 01`). Never more than `bytes.len()`.
pub(super) fn order_len(bytes: &[u8]) -> usize {
    let Some(count) = bytes.get(..4) else {
        return bytes.len();
    };
    let mut values = u32::from_be_bytes([count[0], count[1], count[2], count[3]]);
    let mut at = 4;
    while values > 0 {
        match bytes
            .get(at..)
            .and_then(|rest| rest.iter().position(|&b| b == 0))
        {
            Some(nul) => {
                at += nul + 2;
                if bytes.get(at - 1) == Some(&0) {
                    values -= 1;
                }
            }
            None => return bytes.len(),
        }
    }
    at.min(bytes.len())
}

/// Compares the order that `bytes` starts with (whatever follows it) to
/// `order`. The encoding is prefix-free (the count fixes where an order
/// ends), so two different orders differ at a byte before either ends: the
/// first `order.len()` bytes decide.
fn cmp_order(bytes: &[u8], order: &[u8]) -> Ordering {
    bytes[..bytes.len().min(order.len())].cmp(order)
}

/// Bytes of a rendering, kept with their gzip segment (made on first use).
#[derive(Debug)]
pub struct Piece {
    bytes: Arc<[u8]>,
    deflated: OnceLock<Segment>,
}

impl Piece {
    pub fn new(bytes: Vec<u8>) -> Piece {
        Piece {
            bytes: bytes.into(),
            deflated: OnceLock::new(),
        }
    }

    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    /// The bytes as a gzip segment, compressed once.
    pub fn segment(&self) -> &Segment {
        self.deflated.get_or_init(|| Segment::new(&self.bytes))
    }
}

/// A chunk's renderings, made by the first reader that needs them. The
/// protobuf bytes are kept only compressed: scrapers that ask for protobuf
/// (Prometheus) send `Accept-Encoding: gzip`, and the uncompressed bytes are
/// the entries' messages with a few framing bytes, cheap to write again.
#[derive(Debug, Default)]
struct Rendered {
    text: OnceLock<Piece>,
    proto_len: OnceLock<usize>,
    proto_deflated: OnceLock<Segment>,
}

/// A part of a response body as a family gives it.
pub enum Part<'a> {
    /// Kept bytes (with their kept gzip segment).
    Kept(&'a Piece),
    /// Kept only compressed: used when the response is gzipped.
    Deflated(&'a Segment),
    /// Made for this response.
    Fresh(Vec<u8>),
}

/// Bytes of a chunk's last sort key kept in the chunk itself.
const FENCE: usize = 24;

/// Up to [`CHUNK_MAX`] consecutive series of a family (never empty).
#[derive(Clone, Debug)]
struct Chunk {
    entries: Arc<Vec<Entry>>,
    rendered: Arc<Rendered>,
    /// The first bytes of the last entry's `bytes` (zero-padded) and how
    /// many there are: finding a key's chunk compares these, next to each
    /// other in the family's chunk array, and reads the entries only on a
    /// tie. Kept by [`Chunk::refence`] after every change of the entries.
    fence: [u8; FENCE],
    fence_len: u8,
}

impl Chunk {
    fn new(entries: Vec<Entry>) -> Chunk {
        let mut chunk = Chunk {
            entries: Arc::new(entries),
            rendered: Arc::default(),
            fence: [0; FENCE],
            fence_len: 0,
        };
        chunk.refence();
        chunk
    }

    /// Copies the last entry's first bytes into the fence.
    fn refence(&mut self) {
        let bytes = self.entries.last().map_or(&[][..], |e| e.order_from());
        let n = bytes.len().min(FENCE);
        self.fence = [0; FENCE];
        self.fence[..n].copy_from_slice(&bytes[..n]);
        self.fence_len = n as u8;
    }

    /// Whether every series of the chunk sorts before `probe`.
    fn before(&self, probe: &Probe<'_>) -> bool {
        // A difference in the fence's bytes decides (see `cmp_order`).
        let n = usize::from(self.fence_len).min(probe.order.len());
        match self.fence[..n].cmp(&probe.order[..n]) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => self
                .entries
                .last()
                .is_some_and(|e| e.cmp_probe(probe) == Ordering::Less),
        }
    }

    /// The entries, to change; the renderings are dropped (readers holding
    /// them keep theirs).
    fn entries_mut(&mut self) -> &mut Vec<Entry> {
        reset(&mut self.rendered);
        Arc::make_mut(&mut self.entries)
    }
}

/// Empties a rendering cache in place when no reader shares it, else
/// replaces it, so that a burst of writes to one chunk allocates nothing.
fn reset<T: Default>(slot: &mut Arc<T>) {
    match Arc::get_mut(slot) {
        Some(value) => *value = T::default(),
        None => *slot = Arc::default(),
    }
}

/// The family's HELP and type as the scrape shows them (set by the store
/// from the first holding group), and the header renderings.
#[derive(Debug, Default)]
struct Head {
    info: OnceLock<(Option<Box<str>>, MetricType)>,
    text: OnceLock<Piece>,
    proto: OnceLock<Piece>,
}

#[derive(Debug, Default)]
struct Family {
    chunks: Vec<Chunk>,
    /// Dropped on every change of the family: the HELP may come from
    /// another group now, and the protobuf header holds the length.
    head: Arc<Head>,
}

impl Family {
    /// Where `probe` is or would go: its chunk (never past the last one)
    /// and its position there.
    fn find(&self, probe: &Probe<'_>) -> (usize, Result<usize, usize>) {
        let last = self.chunks.len().saturating_sub(1);
        let at = self.chunks.partition_point(|c| c.before(probe)).min(last);
        let found = match self.chunks.get(at) {
            Some(chunk) => chunk.entries.binary_search_by(|e| e.cmp_probe(probe)),
            None => Err(0),
        };
        (at, found)
    }

    /// Puts `entry` in its place, replacing a series with the same place
    /// (a push writing a series again under the same labels: one search
    /// instead of a removal and an insertion).
    fn insert(&mut self, entry: Entry) {
        let (at, found) = self.find(&entry.probe());
        if self.chunks.is_empty() {
            self.chunks.push(Chunk::new(vec![entry]));
            return;
        }
        let entries = self.chunks[at].entries_mut();
        match found {
            Ok(i) => entries[i] = entry,
            Err(i) => {
                // Grow by a few entries, not by doubling: a chunk of 65
                // would otherwise keep room for 130 (~1 KB unused per
                // chunk, ~8 bytes per stored series).
                if entries.len() == entries.capacity() {
                    entries.reserve_exact(CHUNK_GROWTH);
                }
                entries.insert(i, entry);
            }
        }
        if entries.len() > CHUNK_MAX {
            let tail = entries.split_off(entries.len() / 2);
            // Both halves stay at their length until the next split: a
            // push replaces its series in place (one removal, one insert).
            entries.shrink_to_fit();
            self.chunks.insert(at + 1, Chunk::new(tail));
        }
        self.chunks[at].refence();
    }

    fn remove(&mut self, entry: &Entry) {
        let (at, Ok(i)) = self.find(&entry.probe()) else {
            return;
        };
        let entries = self.chunks[at].entries_mut();
        entries.remove(i);
        let len = entries.len();
        if len == 0 {
            self.chunks.remove(at);
            return;
        }
        // Merge a small chunk into its successor so that deleting groups
        // does not leave thousands of tiny pieces behind.
        if len < CHUNK_MAX / 4 {
            if let Some(next) = self.chunks.get(at + 1) {
                if len + next.entries.len() <= CHUNK_MAX / 2 {
                    let next = self.chunks.remove(at + 1);
                    let moved: Vec<Entry> = next.entries.iter().cloned().collect();
                    self.chunks[at].entries_mut().extend(moved);
                }
            }
        }
        self.chunks[at].refence();
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// Every stored series by family name, in scrape order.
#[derive(Debug, Default)]
pub struct Exposition {
    families: BTreeMap<Box<str>, Family>,
}

impl Exposition {
    /// Adds the series of `family` as group `gid` holds it.
    pub fn add(&mut self, gid: &GroupId, family: &Arc<TimestampedFamily>) {
        // Families without series are left out of the exposition (§7.2).
        if family.series_count() == 0 {
            return;
        }
        let slot = match self.families.get_mut(family.name()) {
            Some(f) => f,
            None => self.families.entry(family.name().into()).or_default(),
        };
        reset(&mut slot.head);
        for i in 0..family.series_count() {
            slot.insert(Entry::new(gid, family, i));
        }
    }

    /// Replaces the series of `old` by those of `new` (same name) in group
    /// `gid`: a series at the same position with the same label values
    /// keeps its place and is overwritten, the rest are removed and
    /// inserted.
    pub fn replace(
        &mut self,
        gid: &GroupId,
        old: &Arc<TimestampedFamily>,
        new: &Arc<TimestampedFamily>,
    ) {
        let Some(slot) = self.families.get_mut(old.name()) else {
            self.add(gid, new);
            return;
        };
        if old.name() != new.name() {
            self.remove(gid, old);
            self.add(gid, new);
            return;
        }
        reset(&mut slot.head);
        for i in 0..old.series_count().max(new.series_count()) {
            let (had, has) = (i < old.series_count(), i < new.series_count());
            // A series with the same label values at the same position has
            // the same place: the insertion below overwrites it.
            if had && !(has && old.order(i) == new.order(i)) {
                slot.remove(&Entry::new(gid, old, i));
            }
            if has {
                slot.insert(Entry::new(gid, new, i));
            }
        }
        if slot.is_empty() {
            self.families.remove(old.name());
        }
    }

    /// Removes the series of `family` as group `gid` held it.
    pub fn remove(&mut self, gid: &GroupId, family: &Arc<TimestampedFamily>) {
        let Some(slot) = self.families.get_mut(family.name()) else {
            return;
        };
        reset(&mut slot.head);
        for i in 0..family.series_count() {
            slot.remove(&Entry::new(gid, family, i));
        }
        if slot.is_empty() {
            self.families.remove(family.name());
        }
    }

    /// Every family with at least one series, by name, sharing the chunks;
    /// `info` gives the HELP and type of a family whose header changed.
    pub fn snapshot(
        &self,
        info: impl Fn(&str) -> (Option<Box<str>>, MetricType),
    ) -> Vec<FamilySnapshot> {
        self.families
            .iter()
            .map(|(name, f)| {
                f.head.info.get_or_init(|| info(name));
                FamilySnapshot {
                    name: name.clone(),
                    head: f.head.clone(),
                    chunks: f.chunks.clone(),
                }
            })
            .collect()
    }
}

/// One family of the exposition as it was when taken; renders what is
/// missing without the store's lock.
#[derive(Clone, Debug)]
pub struct FamilySnapshot {
    name: Box<str>,
    head: Arc<Head>,
    chunks: Vec<Chunk>,
}

impl FamilySnapshot {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn info(&self) -> (Option<&str>, MetricType) {
        match self.head.info.get() {
            Some((help, kind)) => (help.as_deref(), *kind),
            None => (None, MetricType::Untyped),
        }
    }

    /// HELP of the first holding group in grouping-key order (§7.3).
    pub fn help(&self) -> Option<&str> {
        self.info().0
    }

    /// Type of the first holding group.
    pub fn kind(&self) -> MetricType {
        self.info().1
    }

    /// The series, decoded, in scrape order.
    pub fn metrics(&self) -> Vec<Metric> {
        self.chunks
            .iter()
            .flat_map(|c| c.entries.iter())
            .filter_map(Entry::decode)
            .collect()
    }

    /// The text 0.0.4 rendering (underscore escaping), header first, in
    /// pieces; nothing for a GAUGE_HISTOGRAM family (§7.4).
    pub fn text(&self) -> Vec<&Piece> {
        let (help, kind) = self.info();
        if kind == MetricType::GaugeHistogram {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.chunks.len() + 1);
        out.push(self.head.text.get_or_init(|| {
            let mut text = Vec::new();
            render::render_header(&mut text, &self.name, help, kind, NameEscaping::Underscores);
            Piece::new(text)
        }));
        for chunk in &self.chunks {
            out.push(chunk.rendered.text.get_or_init(|| {
                let metrics: Vec<Metric> = chunk.entries.iter().filter_map(Entry::decode).collect();
                let mut text = Vec::with_capacity(metrics.len() * 96);
                render::render_series(&mut text, &self.name, &metrics, NameEscaping::Underscores);
                Piece::new(text)
            }));
        }
        out
    }

    /// The varint-delimited `MetricFamily` message, in parts: compressed
    /// segments when `gzip`, else bytes written for this response.
    pub fn protobuf(&self, gzip: bool) -> Vec<Part<'_>> {
        let encode = |chunk: &Chunk| {
            let mut bytes = Vec::with_capacity(chunk.entries.len() * 72);
            for e in chunk.entries.iter() {
                crate::proto::append_metric_field(e.metric(), &mut bytes);
            }
            bytes
        };
        let metrics_len: usize = self
            .chunks
            .iter()
            .map(|chunk| {
                *chunk.rendered.proto_len.get_or_init(|| {
                    chunk
                        .entries
                        .iter()
                        .map(|e| {
                            let len = e.metric().len();
                            1 + prost::encoding::encoded_len_varint(len as u64) + len
                        })
                        .sum()
                })
            })
            .sum();
        let (help, kind) = self.info();
        let head = self.head.proto.get_or_init(|| {
            Piece::new(crate::proto::family_prefix(
                &self.name,
                help,
                kind,
                metrics_len,
            ))
        });
        let mut out = Vec::with_capacity(self.chunks.len() + 1);
        out.push(Part::Kept(head));
        for chunk in &self.chunks {
            out.push(if gzip {
                Part::Deflated(
                    chunk
                        .rendered
                        .proto_deflated
                        .get_or_init(|| Segment::new(&encode(chunk))),
                )
            } else {
                Part::Fresh(encode(chunk))
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Label, Value};

    /// The sort order of a series with these label values.
    fn order(values: &[&str]) -> Vec<u8> {
        let metric = Metric {
            labels: values
                .iter()
                .enumerate()
                .map(|(i, v)| Label::new(format!("l{i}"), *v))
                .collect(),
            value: Value::Untyped(1.0),
            timestamp_ms: None,
        };
        let mut order = Vec::new();
        append_order(&metric, &mut order);
        assert_eq!(order.len(), order_len_of(&metric));
        order
    }

    /// The end of a sort order is found again from its bytes, with NULs
    /// inside values and whatever bytes follow it (the next series' order
    /// in a family's bytes); `order_len_of` predicts its length.
    #[test]
    fn order_length_is_parsed_back() {
        let cases: [&[&str]; 5] = [&[], &[""], &["a\0b", "\0"], &["x", "", "\0\0"], &["é"]];
        for values in cases {
            let order = order(values);
            let mut bytes = order.clone();
            bytes.extend_from_slice(&[0, 0, 1, 0, 0xff]);
            assert_eq!(order_len(&bytes), order.len(), "{values:?}");
            assert_eq!(order_len(&order), order.len(), "{values:?}");
        }
    }

    /// Comparing an order followed by other bytes gives the order of
    /// the keys alone (§7.2), including a value against its extensions.
    #[test]
    fn orders_compare_without_their_length() {
        let sorted: [&[&str]; 6] = [&["a"], &["a\0"], &["ab"], &["b"], &["", "z"], &["a", ""]];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                let mut bytes = order(a);
                bytes.extend_from_slice(&[0xff, 0, 0]);
                assert_eq!(cmp_order(&bytes, &order(b)), i.cmp(&j), "{a:?} {b:?}");
            }
        }
    }
}
