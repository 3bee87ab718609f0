//! The metric store: groups keyed by grouping key, and the consistency index.
//!
//! Knows nothing of HTTP, files or wire formats. (Implementation in progress.)

use std::sync::Arc;

use crate::model::{GroupingKey, MetricFamily, Value, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC};

/// A family as last written to a group, with the receive time of that write.
#[derive(Clone, Debug, PartialEq)]
pub struct TimestampedFamily {
    pub family: MetricFamily,
    /// Unix nanoseconds of the request that last wrote this family.
    pub written_at: i64,
}

/// A consistent copy of one group, cheap to take (families are shared).
#[derive(Clone, Debug)]
pub struct GroupSnapshot {
    pub key: GroupingKey,
    /// Sorted by family name; includes the two push-time gauges.
    pub families: Vec<Arc<TimestampedFamily>>,
}

impl GroupSnapshot {
    fn gauge(&self, name: &str) -> f64 {
        self.families
            .iter()
            .find(|f| f.family.name == name)
            .and_then(|f| f.family.metrics.first())
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
}
