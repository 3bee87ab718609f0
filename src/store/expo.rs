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

use super::GroupId;
use crate::exposition::{render, NameEscaping};
use crate::gzip::Segment;
use crate::model::{Metric, MetricFamily, MetricType};

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

/// Where a series sorts in its family's output.
struct SeriesKey {
    /// The label count (big-endian u32), then each label value with its
    /// NUL bytes escaped as `00 01` and ended by `00 00`, so that bytewise
    /// order is the order of §7.2 (a value sorts before its extensions).
    order: Vec<u8>,
    gid: GroupId,
    /// Position of the series in the family as the group holds it.
    index: u32,
}

impl SeriesKey {
    fn new(metric: &Metric, gid: &GroupId, index: usize) -> SeriesKey {
        let values: usize = metric.labels.iter().map(|l| l.value.len() + 2).sum();
        let mut order = Vec::with_capacity(4 + values);
        let count = u32::try_from(metric.labels.len()).unwrap_or(u32::MAX);
        order.extend_from_slice(&count.to_be_bytes());
        for label in &metric.labels {
            for &b in label.value.as_bytes() {
                if b == 0 {
                    order.extend_from_slice(&[0, 1]);
                } else {
                    order.push(b);
                }
            }
            order.extend_from_slice(&[0, 0]);
        }
        SeriesKey {
            order,
            gid: gid.clone(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }
}

/// One stored series: its [`SeriesKey`] and its encoded `Metric` message
/// in one allocation (a series costs 32 bytes here plus those two).
#[derive(Clone, Debug)]
struct Entry {
    /// `SeriesKey::order`, the `Metric` message, `SeriesKey::index`
    /// (big-endian u32), then the type of the family in the group that
    /// holds the series as one byte (decoding a `Metric` message needs
    /// it). The order ends where its encoding says (see [`order_len`]), so
    /// its length is not kept.
    bytes: Box<[u8]>,
    gid: GroupId,
}

/// Bytes after an entry's `Metric` message: its index and type.
const TRAILER: usize = 5;

impl Entry {
    fn new(key: SeriesKey, kind: MetricType, metric: &[u8]) -> Entry {
        let SeriesKey {
            mut order,
            gid,
            index,
        } = key;
        order.reserve_exact(metric.len() + TRAILER);
        order.extend_from_slice(metric);
        order.extend_from_slice(&index.to_be_bytes());
        order.push(kind as u8);
        Entry {
            bytes: order.into_boxed_slice(),
            gid,
        }
    }

    /// The `Metric` message, and its index and type after it.
    fn split(&self) -> (&[u8], u32, MetricType) {
        let end = self.bytes.len().saturating_sub(TRAILER);
        let (rest, trailer) = self.bytes.split_at(end);
        let metric = rest.get(order_len(rest)..).unwrap_or_default();
        let (index, kind) = match trailer {
            [a, b, c, d, k] => (u32::from_be_bytes([*a, *b, *c, *d]), *k),
            _ => (0, 0),
        };
        let kind = MetricType::ALL
            .into_iter()
            .find(|t| *t as u8 == kind)
            .unwrap_or(MetricType::Untyped);
        (metric, index, kind)
    }

    fn metric(&self) -> &[u8] {
        self.split().0
    }

    fn index(&self) -> u32 {
        match self
            .bytes
            .len()
            .checked_sub(TRAILER)
            .map(|at| &self.bytes[at..])
        {
            Some([a, b, c, d, _]) => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0,
        }
    }

    /// Where this series sorts relative to `key`.
    fn cmp_key(&self, key: &SeriesKey) -> Ordering {
        cmp_order(&self.bytes, &key.order)
            .then_with(|| self.gid.cmp(&key.gid))
            .then_with(|| self.index().cmp(&key.index))
    }

    fn decode(&self) -> Option<Metric> {
        let (metric, _, kind) = self.split();
        match crate::proto::decode_metric(metric, kind) {
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

/// Length of the `SeriesKey::order` that `bytes` starts with: the label
/// count, then that many values, each ended by `00 00` (a NUL inside a
/// value is `00 01`). Never more than `bytes.len()`.
fn order_len(bytes: &[u8]) -> usize {
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
        let bytes = self.entries.last().map_or(&[][..], |e| &e.bytes[..]);
        let n = bytes.len().min(FENCE);
        self.fence = [0; FENCE];
        self.fence[..n].copy_from_slice(&bytes[..n]);
        self.fence_len = n as u8;
    }

    /// Whether every series of the chunk sorts before `key`.
    fn before(&self, key: &SeriesKey) -> bool {
        // A difference in the fence's bytes decides (see `cmp_order`).
        let n = usize::from(self.fence_len).min(key.order.len());
        match self.fence[..n].cmp(&key.order[..n]) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => self
                .entries
                .last()
                .is_some_and(|e| e.cmp_key(key) == Ordering::Less),
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
    fn insert(&mut self, key: SeriesKey, kind: MetricType, metric: &[u8]) {
        let Some(last) = self.chunks.len().checked_sub(1) else {
            self.chunks
                .push(Chunk::new(vec![Entry::new(key, kind, metric)]));
            return;
        };
        let at = self.chunks.partition_point(|c| c.before(&key)).min(last);
        let entries = self.chunks[at].entries_mut();
        match entries.binary_search_by(|e| e.cmp_key(&key)) {
            Ok(i) => entries[i] = Entry::new(key, kind, metric),
            Err(i) => {
                // Grow by a few entries, not by doubling: a chunk of 65
                // would otherwise keep room for 130 (~1.5 KB unused per
                // chunk, ~15 bytes per stored series).
                if entries.len() == entries.capacity() {
                    entries.reserve_exact(CHUNK_GROWTH);
                }
                entries.insert(i, Entry::new(key, kind, metric));
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

    fn remove(&mut self, key: &SeriesKey) {
        let at = self.chunks.partition_point(|c| c.before(key));
        let Some(chunk) = self.chunks.get_mut(at) else {
            return;
        };
        let Ok(i) = chunk.entries.binary_search_by(|e| e.cmp_key(key)) else {
            return;
        };
        let entries = chunk.entries_mut();
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

    /// Replaces the entry with `key` in place (a push writing a series
    /// again under the same labels): one search instead of a removal and
    /// an insertion. Inserts when the key is missing.
    fn overwrite(&mut self, key: SeriesKey, kind: MetricType, metric: &[u8]) {
        let at = self.chunks.partition_point(|c| c.before(&key));
        if let Some(chunk) = self.chunks.get_mut(at) {
            if let Ok(i) = chunk.entries.binary_search_by(|e| e.cmp_key(&key)) {
                chunk.entries_mut()[i] = Entry::new(key, kind, metric);
                chunk.refence();
                return;
            }
        }
        self.insert(key, kind, metric);
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
    pub fn add(&mut self, gid: &GroupId, family: &MetricFamily) {
        // Families without series are left out of the exposition (§7.2).
        if family.metrics.is_empty() {
            return;
        }
        let slot = match self.families.get_mut(family.name.as_str()) {
            Some(f) => f,
            None => self
                .families
                .entry(family.name.as_str().into())
                .or_default(),
        };
        reset(&mut slot.head);
        for (i, m) in family.metrics.iter().enumerate() {
            let metric = crate::proto::encode_metric(m);
            slot.insert(SeriesKey::new(m, gid, i), family.kind, &metric);
        }
    }

    /// Replaces the series of `old` by those of `new` (same name) in group
    /// `gid`: a series at the same position with the same labels keeps its
    /// place and is overwritten, the rest are removed and inserted.
    pub fn replace(&mut self, gid: &GroupId, old: &MetricFamily, new: &MetricFamily) {
        if old.metrics.is_empty() || new.metrics.is_empty() || old.name != new.name {
            self.remove(gid, old);
            self.add(gid, new);
            return;
        }
        let Some(slot) = self.families.get_mut(old.name.as_str()) else {
            self.add(gid, new);
            return;
        };
        reset(&mut slot.head);
        for i in 0..old.metrics.len().max(new.metrics.len()) {
            match (old.metrics.get(i), new.metrics.get(i)) {
                (Some(o), Some(n)) if o.labels == n.labels => {
                    let metric = crate::proto::encode_metric(n);
                    slot.overwrite(SeriesKey::new(n, gid, i), new.kind, &metric);
                }
                (o, n) => {
                    if let Some(o) = o {
                        slot.remove(&SeriesKey::new(o, gid, i));
                    }
                    if let Some(n) = n {
                        let metric = crate::proto::encode_metric(n);
                        slot.insert(SeriesKey::new(n, gid, i), new.kind, &metric);
                    }
                }
            }
        }
    }

    /// Removes the series of `family` as group `gid` held it.
    pub fn remove(&mut self, gid: &GroupId, family: &MetricFamily) {
        let Some(slot) = self.families.get_mut(family.name.as_str()) else {
            return;
        };
        reset(&mut slot.head);
        for (i, m) in family.metrics.iter().enumerate() {
            slot.remove(&SeriesKey::new(m, gid, i));
        }
        if slot.is_empty() {
            self.families.remove(family.name.as_str());
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

    fn key(values: &[&str]) -> SeriesKey {
        let metric = Metric {
            labels: values
                .iter()
                .enumerate()
                .map(|(i, v)| Label::new(format!("l{i}"), *v))
                .collect(),
            value: Value::Untyped(1.0),
            timestamp_ms: None,
        };
        SeriesKey::new(&metric, &GroupId::from(&b"g"[..]), 0)
    }

    /// The end of a sort key is found again from its bytes, with NULs
    /// inside values and whatever message bytes follow it.
    #[test]
    fn order_length_is_parsed_back() {
        let cases: [&[&str]; 5] = [&[], &[""], &["a\0b", "\0"], &["x", "", "\0\0"], &["é"]];
        for values in cases {
            let order = key(values).order;
            let mut bytes = order.clone();
            bytes.extend_from_slice(&[0, 0, 1, 0, 0xff]);
            assert_eq!(order_len(&bytes), order.len(), "{values:?}");
            assert_eq!(order_len(&order), order.len(), "{values:?}");
        }
    }

    /// Comparing an order followed by message bytes gives the order of
    /// the keys alone (§7.2), including a value against its extensions.
    #[test]
    fn orders_compare_without_their_length() {
        let sorted: [&[&str]; 6] = [&["a"], &["a\0"], &["ab"], &["b"], &["", "z"], &["a", ""]];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                let mut bytes = key(a).order;
                bytes.extend_from_slice(&[0xff, 0, 0]);
                assert_eq!(cmp_order(&bytes, &key(b).order), i.cmp(&j), "{a:?} {b:?}");
            }
        }
    }
}
