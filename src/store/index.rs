//! The consistency index: per family name, the holding groups, the types in
//! use and a count per label-set hash of the series, kept up to date on
//! every write so that a push is checked against what it touches rather
//! than the whole store (upstream #313). The rules that read it are in
//! `check.rs`.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::OnceLock;

use super::{GroupId, State};
use crate::model::{Label, MetricFamily, MetricType};

/// Everything the consistency check needs to know about one family name.
#[derive(Default)]
pub(super) struct FamilyIndex {
    /// Holding groups, in grouping-key order (the first supplies the HELP).
    pub(super) groups: BTreeSet<GroupId>,
    /// How many holding groups use each type (more than one non-zero entry
    /// is possible only in unchecked mode).
    pub(super) type_counts: [u32; 6],
    /// Series count per label-set hash, across holding groups.
    pub(super) series: SeriesCounts,
    /// Number of hashes with a count above one (candidate duplicates).
    pub(super) shared_hashes: usize,
}

impl FamilyIndex {
    pub(super) fn types_in_use(&self) -> impl Iterator<Item = MetricType> + '_ {
        MetricType::ALL
            .into_iter()
            .filter(|t| self.type_counts[*t as usize] > 0)
    }
}

/// The label-set hashes of `family`'s series, as the store's index keeps
/// them (keyed per process, so valid only in this process).
pub fn series_hashes(family: &MetricFamily) -> Vec<u64> {
    family
        .metrics
        .iter()
        .map(|m| label_hash(&m.labels))
        .collect()
}

impl State {
    pub(super) fn consistency_add(&mut self, gid: &GroupId, family: &MetricFamily) {
        let hashes = family.metrics.iter().map(|m| label_hash(&m.labels));
        self.index_add_hashed(gid, &family.name, family.kind, hashes);
    }

    pub(super) fn index_add_hashed(
        &mut self,
        gid: &GroupId,
        name: &str,
        kind: MetricType,
        hashes: impl Iterator<Item = u64>,
    ) {
        let idx = match self.index.get_mut(name) {
            Some(idx) => idx,
            None => self.index.entry(name.to_string()).or_default(),
        };
        idx.groups.insert(gid.clone());
        idx.type_counts[kind as usize] += 1;
        let mut added = 0;
        for hash in hashes {
            let count = idx.series.entry(hash).or_default();
            *count += 1;
            if *count == 2 {
                idx.shared_hashes += 1;
            }
            added += 1;
        }
        self.series_count += added;
    }

    pub(super) fn consistency_remove(&mut self, gid: &GroupId, family: &MetricFamily) {
        let Some(idx) = self.index.get_mut(&family.name) else {
            return;
        };
        idx.groups.remove(gid);
        let count = &mut idx.type_counts[family.kind as usize];
        *count = count.saturating_sub(1);
        for m in &family.metrics {
            let h = label_hash(&m.labels);
            if let Some(count) = idx.series.get_mut(&h) {
                *count -= 1;
                if *count == 1 {
                    idx.shared_hashes -= 1;
                }
                if *count == 0 {
                    idx.series.remove(&h);
                }
            }
        }
        if idx.groups.is_empty() {
            self.index.remove(&family.name);
        }
        self.series_count = self.series_count.saturating_sub(family.metrics.len());
    }
}

/// Hash of a label set, keyed randomly per process so that clients cannot
/// precompute label sets that collide in the index.
pub(super) fn label_hash(labels: &[Label]) -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let mut h = KEYS.get_or_init(RandomState::new).build_hasher();
    for l in labels {
        l.name.hash(&mut h);
        l.value.hash(&mut h);
    }
    h.finish()
}

/// Counts keyed by label-set hashes, which are already well mixed: hashing
/// them again would only cost time on every push and restore.
pub(super) type SeriesCounts = HashMap<u64, u32, BuildHasherDefault<PassThroughHasher>>;

#[derive(Default)]
pub(super) struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
