//! The metric store: groups keyed by grouping key, and the consistency index.
//!
//! Owns every pushed family and the two push-time gauges of each group, and
//! decides whether a push is accepted (upstream `storage/diskmetricstore.go`).
//! Unlike upstream, the consistency check costs time proportional to the
//! pushed data, not to the whole store (upstream #313): a per-family index
//! keeps the types, the holding groups and a hash of every series' labels.
//! Knows nothing of HTTP, files or wire formats; `persist` reads and restores
//! it through [`Store::groups`] and [`Store::restore`].

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

mod check;
mod expo;
#[cfg(test)]
mod tests;

use check::local_problems;
pub use expo::{FamilySnapshot, Part, Piece};

use crate::model::{
    GroupingKey, Label, Metric, MetricFamily, MetricType, NameValidation, Value, INSTANCE_LABEL,
    PUSH_FAILURE_TIME_HELP, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_HELP, PUSH_TIME_METRIC,
};

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

/// A consistent copy of one group, cheap to take (families are shared).
#[derive(Clone, Debug)]
pub struct GroupSnapshot {
    pub key: GroupingKey,
    /// Sorted by family name; includes the two push-time gauges.
    pub families: Vec<Arc<TimestampedFamily>>,
    /// The group's own time to live, if a client asked for one.
    pub ttl: Option<Duration>,
    /// Unix nanoseconds when the group expires; `None` = never.
    pub expires_at: Option<i64>,
}

impl GroupSnapshot {
    fn gauge(&self, name: &str) -> f64 {
        self.families
            .iter()
            .find(|f| f.name() == name)
            .and_then(|f| f.family().metrics.first().cloned())
            .map(|m| match m.value {
                Value::Gauge(v) => v,
                _ => 0.0,
            })
            .unwrap_or(0.0)
    }

    /// Value of `push_time_seconds` (0 = never succeeded).
    pub fn push_time(&self) -> f64 {
        self.gauge(PUSH_TIME_METRIC)
    }

    /// Value of `push_failure_time_seconds` (0 = never failed).
    pub fn failure_time(&self) -> f64 {
        self.gauge(PUSH_FAILURE_TIME_METRIC)
    }

    /// False if and only if the last failure is newer than the last success.
    pub fn last_push_successful(&self) -> bool {
        self.failure_time() <= self.push_time()
    }

    /// Unix seconds of the last write, successful or not.
    pub fn last_write(&self) -> f64 {
        self.push_time().max(self.failure_time())
    }
}

/// A group read back from persistence with, per family (in the snapshot's
/// order), the hashes of its series' label sets.
pub struct RestoredGroup {
    pub snapshot: GroupSnapshot,
    pub hashes: Vec<Vec<u64>>,
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

/// All stored families of one name, merged across groups, as a scrape sees them.
#[derive(Clone, Debug)]
pub struct GatheredFamily {
    pub name: String,
    /// HELP of the first group (by grouping key) that holds the family.
    pub help: Option<String>,
    pub kind: MetricType,
    /// One entry per holding group, in grouping-key order, decoded.
    pub members: Vec<MetricFamily>,
}

/// A family pushgate exposes itself: pushed families of that name must have
/// its type (and get its HELP when rendered).
#[derive(Clone, Debug)]
pub struct ReservedFamily {
    pub name: String,
    pub kind: MetricType,
}

/// How strictly pushes are checked (`--push.disable-consistency-check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Reject pushes that would make the exposition inconsistent (upstream default).
    Checked,
    /// Store pushes that pass the body-local checks even if they conflict
    /// with other groups; scrapes then fail until the conflict is deleted.
    Unchecked,
}

/// A write of families to one group.
#[derive(Clone, Debug)]
pub struct Push {
    pub key: GroupingKey,
    pub families: Vec<MetricFamily>,
    /// PUT replaces the whole group; POST only the families it names.
    pub replace_group: bool,
    /// Unix nanoseconds when the request was received.
    pub received_at: i64,
    /// A per-group time to live asked for by the client: `Some(ZERO)` clears
    /// it, `None` keeps what the group had.
    pub ttl: Option<Duration>,
}

/// Limits on what the store holds (0 = unlimited) and how long groups live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--push.group-ttl`: groups not pushed successfully for this long are
    /// dropped; `None` keeps them forever (upstream's behaviour).
    pub default_ttl: Option<Duration>,
    /// `--push.max-series`: series stored, the push-time gauges included.
    pub max_series: usize,
    /// `--push.max-groups`.
    pub max_groups: usize,
}

/// Why a push was rejected: the individual problems, in a stable order.
/// The push handler adds upstream's prefix
/// `pushed metrics are invalid or inconsistent with existing metrics: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub problems: Vec<String>,
}

impl std::fmt::Display for Rejection {
    /// One problem as is; several as client_golang's `MultiError`:
    /// `2 error(s) occurred:\n* a\n* b`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.problems.as_slice() {
            [one] => f.write_str(one),
            many => {
                write!(f, "{} error(s) occurred:", many.len())?;
                for p in many {
                    write!(f, "\n* {}", p)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Rejection {}

/// Outcome of [`Store::push`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    Applied,
    /// Nothing pushed was applied; the group's failure gauge was set.
    Rejected(Rejection),
    /// The push would exceed `--push.max-series` or `--push.max-groups`;
    /// nothing changed, not even the failure gauge.
    OverBudget(String),
}

type GroupId = Arc<[u8]>;

struct Group {
    key: GroupingKey,
    families: FamilyMap,
    ttl: Option<Duration>,
    /// Unix nanoseconds the TTL counts from: the last successful push, or
    /// the first write if no push ever succeeded.
    ttl_base: i64,
    /// The entry of this group in `State::deadlines`, if any.
    deadline: Option<i64>,
}

/// A group's families by name: a sorted vector instead of a map, because
/// groups hold a handful of families and a map node plus a copy of each
/// name cost more than the series themselves when families are small.
#[derive(Default)]
struct FamilyMap {
    sorted: Vec<Arc<TimestampedFamily>>,
}

impl FamilyMap {
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.sorted
            .binary_search_by(|f| f.name().as_bytes().cmp(name.as_bytes()))
    }

    fn get(&self, name: &str) -> Option<&Arc<TimestampedFamily>> {
        self.position(name).ok().map(|i| &self.sorted[i])
    }

    fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Inserts `family`, returning the one it replaces.
    fn insert(&mut self, family: Arc<TimestampedFamily>) -> Option<Arc<TimestampedFamily>> {
        match self.position(family.name()) {
            Ok(i) => Some(std::mem::replace(&mut self.sorted[i], family)),
            Err(i) => {
                self.sorted.insert(i, family);
                None
            }
        }
    }

    fn remove(&mut self, name: &str) -> Option<Arc<TimestampedFamily>> {
        self.position(name).ok().map(|i| self.sorted.remove(i))
    }

    /// Families in name order.
    fn values(&self) -> impl Iterator<Item = &Arc<TimestampedFamily>> {
        self.sorted.iter()
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.sorted.iter().map(|f| f.name())
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &Arc<TimestampedFamily>)> {
        self.sorted.iter().map(|f| (f.name(), f))
    }
}

/// Everything the consistency check needs to know about one family name.
#[derive(Default)]
struct FamilyIndex {
    /// Holding groups, in grouping-key order (the first supplies the HELP).
    groups: BTreeSet<GroupId>,
    /// How many holding groups use each type (more than one non-zero entry
    /// is possible only in unchecked mode).
    type_counts: [u32; 6],
    /// Series count per label-set hash, across holding groups.
    series: SeriesCounts,
    /// Number of hashes with a count above one (candidate duplicates).
    shared_hashes: usize,
}

impl FamilyIndex {
    fn types_in_use(&self) -> impl Iterator<Item = MetricType> + '_ {
        MetricType::ALL
            .into_iter()
            .filter(|t| self.type_counts[*t as usize] > 0)
    }
}

#[derive(Default)]
struct State {
    groups: BTreeMap<GroupId, Group>,
    index: BTreeMap<String, FamilyIndex>,
    /// Bumped on every change; lets readers cache and persistence skip idle periods.
    generation: u64,
    series_count: usize,
    /// Expiry deadlines (unix nanoseconds), so expiry never scans the store.
    deadlines: BTreeSet<(i64, GroupId)>,
    /// Every stored series in scrape order, updated with `index`; `None`
    /// after a restore until the first read builds it, so that a restart is
    /// ready without decoding and sorting every series once more.
    expo: Option<expo::Exposition>,
}

/// The store. All methods take `&self`; one mutex serialises writes, and
/// readers copy out shared pointers under it, so rendering happens unlocked.
pub struct Store {
    state: Mutex<State>,
    /// Notified after every change of `State::generation`.
    changed: Condvar,
    reserved: HashMap<String, MetricType>,
    mode: CheckMode,
    names: NameValidation,
    policy: Policy,
}

impl Store {
    /// An empty store. `reserved` are the own families (name and type).
    pub fn new(reserved: Vec<ReservedFamily>, mode: CheckMode, names: NameValidation) -> Store {
        Store {
            state: Mutex::new(State {
                expo: Some(expo::Exposition::default()),
                ..State::default()
            }),
            changed: Condvar::new(),
            reserved: reserved.into_iter().map(|r| (r.name, r.kind)).collect(),
            mode,
            names,
            policy: Policy::default(),
        }
    }

    /// Sets the TTL and budget policy (before the store is shared).
    pub fn with_policy(mut self, policy: Policy) -> Store {
        self.policy = policy;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as the last
        // completed mutation left it (every mutation below finishes its
        // index updates before returning), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a PUT or POST. Returns `Rejected` with every problem found
    /// when the push has timestamps, fails a body-local check, or (checked
    /// mode) conflicts with stored families; a rejected push changes nothing
    /// but the group's failure gauge (creating the group if needed).
    pub fn push(&self, push: Push) -> PushOutcome {
        let Push {
            key,
            families,
            replace_group,
            received_at,
            ttl,
        } = push;
        let families = prepare_families(&key, families);
        let local = local_problems(&families, self.names);
        let mut state = self.lock();
        let gid: GroupId = key.sort_key().into();
        let problems = if !local.is_empty() {
            local
        } else if self.mode == CheckMode::Checked {
            self.cross_group_problems(&state, &gid, &families, replace_group)
        } else {
            Vec::new()
        };
        if !problems.is_empty() {
            state.record_failure(gid.clone(), key, received_at);
            state.schedule_expiry(&gid, self.policy.default_ttl);
            self.changed.notify_all();
            return PushOutcome::Rejected(Rejection { problems });
        }
        if let Err(msg) = self.check_budget(&state, &gid, &families, replace_group) {
            return PushOutcome::OverBudget(msg);
        }
        state.apply(gid.clone(), key, families, replace_group, received_at);
        if let Some(ttl) = ttl {
            if let Some(g) = state.groups.get_mut(&gid) {
                g.ttl = (!ttl.is_zero()).then_some(ttl);
            }
        }
        state.schedule_expiry(&gid, self.policy.default_ttl);
        self.changed.notify_all();
        PushOutcome::Applied
    }

    /// Removes the group with exactly this key. Returns whether it existed.
    pub fn delete(&self, key: &GroupingKey) -> bool {
        let mut state = self.lock();
        let gid: GroupId = key.sort_key().into();
        let existed = state.remove_group(&gid);
        self.changed.notify_all();
        existed
    }

    /// Removes every group. Returns how many there were.
    pub fn wipe(&self) -> usize {
        let mut state = self.lock();
        let ids: Vec<GroupId> = state.groups.keys().cloned().collect();
        for id in &ids {
            state.remove_group(id);
        }
        self.changed.notify_all();
        ids.len()
    }

    /// Removes every group whose keys satisfy `matches`. Returns the removed keys.
    pub fn delete_where(&self, matches: impl Fn(&GroupingKey) -> bool) -> Vec<GroupingKey> {
        let mut state = self.lock();
        let doomed: Vec<(GroupId, GroupingKey)> = state
            .groups
            .iter()
            .filter(|(_, g)| matches(&g.key))
            .map(|(id, g)| (id.clone(), g.key.clone()))
            .collect();
        for (id, _) in &doomed {
            state.remove_group(id);
        }
        self.changed.notify_all();
        doomed.into_iter().map(|(_, k)| k).collect()
    }

    /// A copy of every group, sorted by grouping key.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        let state = self.lock();
        state
            .groups
            .values()
            .map(|g| GroupSnapshot {
                key: g.key.clone(),
                families: g.families.values().cloned().collect(),
                ttl: g.ttl,
                expires_at: g.deadline,
            })
            .collect()
    }

    /// Replaces the whole content with `groups`. Groups are trusted to be
    /// sanitised already. Decodes every family once to index its series;
    /// persistence uses [`Store::restore_hashed`] to avoid that.
    pub fn restore(&self, groups: Vec<GroupSnapshot>) {
        let restored = groups
            .into_iter()
            .map(|snapshot| RestoredGroup {
                hashes: snapshot
                    .families
                    .iter()
                    .map(|f| series_hashes(&f.family()))
                    .collect(),
                snapshot,
            })
            .collect();
        self.restore_hashed(restored);
    }

    /// Like [`Store::restore`], with each family's label-set hashes already
    /// computed (by [`series_hashes`], where the family was decoded anyway).
    pub fn restore_hashed(&self, groups: Vec<RestoredGroup>) {
        let mut state = self.lock();
        *state = State::default();
        for RestoredGroup {
            snapshot: g,
            hashes,
        } in groups
        {
            let gid: GroupId = g.key.sort_key().into();
            let mut group = Group {
                key: g.key,
                families: FamilyMap::default(),
                ttl: g.ttl,
                ttl_base: 0,
                deadline: None,
            };
            for (f, family_hashes) in g.families.into_iter().zip(hashes) {
                state.index_add_hashed(&gid, f.name(), f.kind(), family_hashes.into_iter());
                group.families.insert(f);
            }
            group.ttl_base = restored_ttl_base(&group);
            state.groups.insert(gid.clone(), group);
            state.schedule_expiry(&gid, self.policy.default_ttl);
        }
        state.generation += 1;
        self.changed.notify_all();
    }

    /// Every stored family merged by name, sorted by name, or the problems
    /// that make the stored data inconsistent (only possible after unchecked
    /// pushes). Rendering happens after the lock is released.
    pub fn gather(&self) -> Result<(u64, Vec<GatheredFamily>), Rejection> {
        let state = self.lock();
        let problems = state.inconsistencies();
        if !problems.is_empty() {
            return Err(Rejection { problems });
        }
        // One walk over the groups in key order (so the first member of each
        // family is the HELP source) instead of a lookup per group and family.
        let mut by_name: BTreeMap<String, Vec<Arc<TimestampedFamily>>> = BTreeMap::new();
        for group in state.groups.values() {
            for (name, family) in group.families.iter() {
                match by_name.get_mut(name) {
                    Some(members) => members.push(family.clone()),
                    None => {
                        by_name.insert(name.to_string(), vec![family.clone()]);
                    }
                }
            }
        }
        let generation = state.generation;
        // Decoding is the expensive part: do it after releasing the lock.
        drop(state);
        let out = by_name
            .into_iter()
            .filter_map(|(name, members)| {
                let first = members.first()?;
                Some(GatheredFamily {
                    help: first.help().map(str::to_string),
                    kind: first.kind(),
                    members: members.iter().map(|m| m.family()).collect(),
                    name,
                })
            })
            .collect();
        Ok((generation, out))
    }

    /// Every stored family with series, by name, as the scrape shows it
    /// (§7.2, §7.3), sharing what earlier reads rendered; or the problems
    /// that make the stored data inconsistent. Costs O(families) under the
    /// lock; rendering what changed happens after it is released.
    pub fn exposition(&self) -> Result<Vec<FamilySnapshot>, Rejection> {
        let mut state = self.lock();
        let problems = state.inconsistencies();
        if !problems.is_empty() {
            return Err(Rejection { problems });
        }
        let state = &mut *state;
        let expo = state.expo.get_or_insert_with(|| {
            // First read after a restore: decode every family once, under
            // the lock (writes wait; they would have to update it anyway).
            let mut expo = expo::Exposition::default();
            for (gid, group) in &state.groups {
                for family in group.families.values() {
                    expo.add(gid, &family.family());
                }
            }
            expo
        });
        let (index, groups) = (&state.index, &state.groups);
        Ok(expo.snapshot(|name| {
            index
                .get(name)
                .and_then(|idx| idx.groups.first())
                .and_then(|gid| groups.get(gid))
                .and_then(|g| g.families.get(name))
                .map_or((None, MetricType::Untyped), |f| {
                    (f.help().map(Into::into), f.kind())
                })
        }))
    }

    /// A counter that changes whenever the content changes.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Removes every group whose TTL ran out at `now` (unix nanoseconds) and
    /// returns their keys. Costs O(log groups) per call plus the expired ones.
    pub fn expire(&self, now: i64) -> Vec<GroupingKey> {
        let mut state = self.lock();
        let mut expired = Vec::new();
        while let Some((deadline, gid)) = state.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            state.deadlines.pop_first();
            if let Some(g) = state.groups.get(&gid) {
                expired.push(g.key.clone());
            }
            state.remove_group(&gid);
        }
        if !expired.is_empty() {
            self.changed.notify_all();
        }
        expired
    }

    /// The series and group counts after `families` were applied, checked
    /// against the budget. Checked before anything changes.
    fn check_budget(
        &self,
        state: &State,
        gid: &GroupId,
        families: &[MetricFamily],
        replace_group: bool,
    ) -> Result<(), String> {
        let Policy {
            max_series,
            max_groups,
            ..
        } = self.policy;
        let group = state.groups.get(gid);
        if max_groups > 0 && group.is_none() && state.groups.len() >= max_groups {
            return Err(format!(
                "the store already holds {} groups, the limit set by --push.max-groups",
                state.groups.len()
            ));
        }
        if max_series == 0 {
            return Ok(());
        }
        let pushed: usize = families.iter().map(|f| f.metrics.len()).sum();
        let replaced: usize = group.map_or(0, |g| {
            g.families
                .values()
                .filter(|f| {
                    let name = f.name();
                    let managed = name == PUSH_TIME_METRIC || name == PUSH_FAILURE_TIME_METRIC;
                    !managed && (replace_group || families.iter().any(|p| p.name == name))
                })
                .map(|f| f.series_count())
                .sum()
        });
        let gauges = if group.is_some() { 0 } else { 2 };
        let after = state.series_count - replaced + pushed + gauges;
        if after > max_series && after > state.series_count {
            return Err(format!(
                "the push would make the store hold {} series, more than the {} allowed by --push.max-series",
                after, max_series
            ));
        }
        Ok(())
    }

    /// Waits until the generation differs from `since` or `timeout` passes;
    /// returns the generation then. Lets the snapshot timer sleep while idle.
    pub fn wait_for_change(&self, since: u64, timeout: Duration) -> u64 {
        let state = self.lock();
        match self
            .changed
            .wait_timeout_while(state, timeout, |s| s.generation == since)
        {
            Ok((state, _)) => state.generation,
            Err(p) => p.into_inner().0.generation,
        }
    }

    /// The TTL and budget policy in force.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Number of groups and of stored series (push-time gauges included).
    pub fn usage(&self) -> (usize, usize) {
        let state = self.lock();
        (state.groups.len(), state.series_count)
    }

    /// Takes and releases the lock: hangs if a writer is wedged, which is
    /// what a health check should notice.
    pub fn ping(&self) {
        drop(self.lock());
    }
}

impl State {
    /// Recomputes the group's expiry deadline from its TTL (its own, else
    /// `default_ttl`) and `ttl_base`.
    fn schedule_expiry(&mut self, gid: &GroupId, default_ttl: Option<Duration>) {
        let Some(group) = self.groups.get_mut(gid) else {
            return;
        };
        let old = group.deadline.take();
        let ttl = group.ttl.or(default_ttl);
        group.deadline = ttl.map(|t| {
            let nanos = i64::try_from(t.as_nanos()).unwrap_or(i64::MAX);
            group.ttl_base.saturating_add(nanos)
        });
        let new = group.deadline;
        if let Some(d) = old {
            self.deadlines.remove(&(d, gid.clone()));
        }
        if let Some(d) = new {
            self.deadlines.insert((d, gid.clone()));
        }
    }

    fn index_add(&mut self, gid: &GroupId, family: &MetricFamily) {
        if let Some(expo) = &mut self.expo {
            expo.add(gid, family);
        }
        self.consistency_add(gid, family);
    }

    /// `index_remove` then `index_add` for a family written again; the
    /// exposition overwrites the series that kept their labels in place.
    fn index_replace(&mut self, gid: &GroupId, old: &MetricFamily, new: &MetricFamily) {
        if let Some(expo) = &mut self.expo {
            expo.replace(gid, old, new);
        }
        self.consistency_remove(gid, old);
        self.consistency_add(gid, new);
    }

    fn consistency_add(&mut self, gid: &GroupId, family: &MetricFamily) {
        let hashes = family.metrics.iter().map(|m| label_hash(&m.labels));
        self.index_add_hashed(gid, &family.name, family.kind, hashes);
    }

    fn index_add_hashed(
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

    fn index_remove(&mut self, gid: &GroupId, family: &MetricFamily) {
        if let Some(expo) = &mut self.expo {
            expo.remove(gid, family);
        }
        self.consistency_remove(gid, family);
    }

    fn consistency_remove(&mut self, gid: &GroupId, family: &MetricFamily) {
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

    fn remove_group(&mut self, gid: &GroupId) -> bool {
        let Some(group) = self.groups.remove(gid) else {
            return false;
        };
        if let Some(d) = group.deadline {
            self.deadlines.remove(&(d, gid.clone()));
        }
        for f in group.families.values() {
            self.index_remove(gid, &f.family());
        }
        self.generation += 1;
        true
    }

    fn set_family(&mut self, gid: &GroupId, family: MetricFamily, written_at: i64) {
        let old = self
            .groups
            .get_mut(gid)
            .and_then(|g| g.families.remove(&family.name));
        match old {
            Some(old) => self.index_replace(gid, &old.family(), &family),
            None => self.index_add(gid, &family),
        }
        if let Some(group) = self.groups.get_mut(gid) {
            group
                .families
                .insert(Arc::new(TimestampedFamily::new(&family, written_at)));
        }
    }

    fn ensure_group(&mut self, gid: &GroupId, key: GroupingKey, now: i64) {
        self.groups.entry(gid.clone()).or_insert_with(|| Group {
            key,
            families: FamilyMap::default(),
            ttl: None,
            ttl_base: now,
            deadline: None,
        });
    }

    /// The failure gauge := now; the success gauge is created with 0 if absent.
    fn record_failure(&mut self, gid: GroupId, key: GroupingKey, now: i64) {
        self.ensure_group(&gid, key.clone(), now);
        self.set_family(
            &gid,
            push_time_family(&key, PUSH_FAILURE_TIME_METRIC, now),
            now,
        );
        self.ensure_gauge(&gid, &key, PUSH_TIME_METRIC, now);
        self.generation += 1;
    }

    fn ensure_gauge(&mut self, gid: &GroupId, key: &GroupingKey, name: &str, now: i64) {
        let present = self
            .groups
            .get(gid)
            .is_some_and(|g| g.families.contains_key(name));
        if !present {
            self.set_family(gid, push_time_family(key, name, 0), now);
        }
    }

    fn apply(
        &mut self,
        gid: GroupId,
        key: GroupingKey,
        families: Vec<MetricFamily>,
        replace_group: bool,
        now: i64,
    ) {
        self.ensure_group(&gid, key.clone(), now);
        if let Some(g) = self.groups.get_mut(&gid) {
            g.ttl_base = now;
        }
        if replace_group {
            let stale: Vec<Arc<TimestampedFamily>> = self
                .groups
                .get_mut(&gid)
                .map(|g| {
                    // Families this push writes again are replaced by
                    // `set_family` below, which keeps the series whose
                    // labels did not change in place in the exposition.
                    let keep = |n: &str| {
                        n == PUSH_FAILURE_TIME_METRIC
                            || n == PUSH_TIME_METRIC
                            || families.iter().any(|f| f.name == n)
                    };
                    let names: Vec<String> = g
                        .families
                        .keys()
                        .filter(|n| !keep(n))
                        .map(str::to_string)
                        .collect();
                    names.iter().filter_map(|n| g.families.remove(n)).collect()
                })
                .unwrap_or_default();
            for f in stale {
                self.index_remove(&gid, &f.family());
            }
        }
        for family in families {
            self.set_family(&gid, family, now);
        }
        self.set_family(&gid, push_time_family(&key, PUSH_TIME_METRIC, now), now);
        self.ensure_gauge(&gid, &key, PUSH_FAILURE_TIME_METRIC, now);
        self.generation += 1;
    }
}

/// After a restore: the last successful push time, else the last failure.
fn restored_ttl_base(group: &Group) -> i64 {
    let gauge = |name: &str| {
        group.families.get(name).and_then(|f| {
            f.family().metrics.first().and_then(|m| match m.value {
                Value::Gauge(v) if v > 0.0 => Some((v * 1e9) as i64),
                _ => None,
            })
        })
    };
    gauge(PUSH_TIME_METRIC)
        .or_else(|| gauge(PUSH_FAILURE_TIME_METRIC))
        .unwrap_or(0)
}

/// Drops body families with the two managed names and sanitises labels:
/// grouping labels forced to the URL values, `instance=""` added when
/// missing, pairs sorted by name (upstream `sanitizeLabels`).
fn prepare_families(key: &GroupingKey, families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    families
        .into_iter()
        .filter(|f| f.name != PUSH_TIME_METRIC && f.name != PUSH_FAILURE_TIME_METRIC)
        .map(|mut f| {
            for m in &mut f.metrics {
                sanitize_labels(key, &mut m.labels);
            }
            f
        })
        .collect()
}

fn sanitize_labels(key: &GroupingKey, labels: &mut Vec<Label>) {
    for grouping in key.labels() {
        match labels.iter_mut().find(|l| l.name == grouping.name) {
            Some(l) => l.value.clone_from(&grouping.value),
            None => labels.push(grouping.clone()),
        }
    }
    if !labels.iter().any(|l| l.name == INSTANCE_LABEL) {
        labels.push(Label::new(INSTANCE_LABEL, ""));
    }
    labels.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
}

/// Hash of a label set, keyed randomly per process so that clients cannot
/// precompute label sets that collide in the index.
fn label_hash(labels: &[Label]) -> u64 {
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
type SeriesCounts = HashMap<u64, u32, BuildHasherDefault<PassThroughHasher>>;

#[derive(Default)]
struct PassThroughHasher(u64);

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

/// The `push_time_seconds` or `push_failure_time_seconds` family of a group
/// with value `unix_nanos / 1e9` (0 stays 0, meaning "never").
fn push_time_family(key: &GroupingKey, name: &str, unix_nanos: i64) -> MetricFamily {
    let help = if name == PUSH_TIME_METRIC {
        PUSH_TIME_HELP
    } else {
        PUSH_FAILURE_TIME_HELP
    };
    let mut labels = Vec::new();
    sanitize_labels(key, &mut labels);
    MetricFamily {
        name: name.to_string(),
        help: Some(help.to_string()),
        kind: MetricType::Gauge,
        unit: None,
        metrics: vec![Metric {
            labels,
            value: Value::Gauge(unix_nanos as f64 / 1e9),
            timestamp_ms: None,
        }],
    }
}
