//! The metric store: groups keyed by grouping key, and the consistency index.
//!
//! Owns every pushed family and the two push-time gauges of each group, and
//! decides whether a push is accepted (upstream `storage/diskmetricstore.go`).
//! Unlike upstream, the consistency check costs time proportional to the
//! pushed data, not to the whole store (upstream #313): a per-family index
//! keeps the types, the holding groups and a hash of every series' labels.
//! Knows nothing of HTTP, files or wire formats; `persist` reads and restores
//! it through [`Store::groups`] and [`Store::restore`].
//!
//! This file holds the [`Store`], its lock and state, and the write path
//! (push, delete, reads under the lock). The rest is split by concern:
//! `group` (a group and its families as kept), `index` (the consistency
//! index), `check` (the rules that read it), `policy` (TTL, expiry and
//! budgets), `snapshot` (copies out and restore) and `expo` (the kept
//! exposition).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

mod check;
mod expo;
mod group;
mod index;
mod policy;
mod snapshot;
#[cfg(test)]
mod tests;

use check::local_problems;
pub use expo::{FamilySnapshot, Part, Piece};
pub use group::TimestampedFamily;
use group::{FamilyMap, Group};
pub use index::series_hashes;
use index::FamilyIndex;
pub use policy::Policy;
pub use snapshot::{GroupSnapshot, RestoredGroup};

use crate::model::{
    GroupingKey, Label, Metric, MetricFamily, MetricType, NameValidation, Value, INSTANCE_LABEL,
    PUSH_FAILURE_TIME_HELP, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_HELP, PUSH_TIME_METRIC,
};

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
            // First read after a restore: sort every series once, under
            // the lock (writes wait; they would have to update it anyway).
            let mut expo = expo::Exposition::default();
            for (gid, group) in &state.groups {
                for family in group.families.values() {
                    expo.add(gid, family);
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

    /// Takes and releases the lock: hangs if a writer is wedged, which is
    /// what a health check should notice.
    pub fn ping(&self) {
        drop(self.lock());
    }
}

impl State {
    /// Adds `family` of group `gid` to the exposition and the consistency
    /// index (`decoded` is `family` decoded).
    fn index_add(
        &mut self,
        gid: &GroupId,
        family: &Arc<TimestampedFamily>,
        decoded: &MetricFamily,
    ) {
        if let Some(expo) = &mut self.expo {
            expo.add(gid, family);
        }
        self.consistency_add(gid, decoded);
    }

    /// `index_remove` then `index_add` for a family written again; the
    /// exposition overwrites the series that kept their labels in place.
    fn index_replace(
        &mut self,
        gid: &GroupId,
        old: &Arc<TimestampedFamily>,
        new: &Arc<TimestampedFamily>,
        decoded: &MetricFamily,
    ) {
        if let Some(expo) = &mut self.expo {
            expo.replace(gid, old, new);
        }
        self.consistency_remove(gid, &old.family());
        self.consistency_add(gid, decoded);
    }

    fn index_remove(&mut self, gid: &GroupId, family: &Arc<TimestampedFamily>) {
        if let Some(expo) = &mut self.expo {
            expo.remove(gid, family);
        }
        self.consistency_remove(gid, &family.family());
    }

    fn remove_group(&mut self, gid: &GroupId) -> bool {
        let Some(group) = self.groups.remove(gid) else {
            return false;
        };
        if let Some(d) = group.deadline {
            self.deadlines.remove(&(d, gid.clone()));
        }
        for f in group.families.values() {
            self.index_remove(gid, f);
        }
        self.generation += 1;
        true
    }

    fn set_family(&mut self, gid: &GroupId, family: MetricFamily, written_at: i64) {
        let stored = Arc::new(TimestampedFamily::new(&family, written_at));
        let old = self
            .groups
            .get_mut(gid)
            .and_then(|g| g.families.remove(&family.name));
        match old {
            Some(old) => self.index_replace(gid, &old, &stored, &family),
            None => self.index_add(gid, &stored, &family),
        }
        if let Some(group) = self.groups.get_mut(gid) {
            group.families.insert(stored);
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
                self.index_remove(&gid, &f);
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
