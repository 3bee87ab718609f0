//! How long groups live and how much the store holds: the [`Policy`], expiry
//! of groups by deadline (never a scan of the store), and the series and
//! group budgets, checked before a push changes anything.

use std::time::Duration;

use super::{GroupId, State, Store};
use crate::model::{GroupingKey, MetricFamily, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC};

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

impl Store {
    /// Sets the TTL and budget policy (before the store is shared).
    pub fn with_policy(mut self, policy: Policy) -> Store {
        self.policy = policy;
        self
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
    pub(super) fn check_budget(
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

    /// The TTL and budget policy in force.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Number of groups and of stored series (push-time gauges included).
    pub fn usage(&self) -> (usize, usize) {
        let state = self.lock();
        (state.groups.len(), state.series_count)
    }
}

impl State {
    /// Recomputes the group's expiry deadline from its TTL (its own, else
    /// `default_ttl`) and `ttl_base`.
    pub(super) fn schedule_expiry(&mut self, gid: &GroupId, default_ttl: Option<Duration>) {
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
}
