//! Copies out of the store and back in: [`GroupSnapshot`], one group as
//! readers and persistence see it (cheap to take, families are shared), and
//! the restore of the whole content from groups read back from persistence.

use std::sync::Arc;
use std::time::Duration;

use super::group::{FamilyMap, Group, TimestampedFamily};
use super::index::series_hashes;
use super::{GroupId, State, Store};
use crate::model::{GroupingKey, Value, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC};

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

impl Store {
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
