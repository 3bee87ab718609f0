//! Renderings kept per group: the `/api/v1/metrics` JSON and the web UI's
//! family views are each a function of one group's families, so a read
//! writes again only the groups a write touched since the last read.
//!
//! Every write replaces the shared family it touches (`store` never changes
//! a `TimestampedFamily` in place), so a group's rendering is current
//! exactly when the group still holds the same family pointers. They are
//! kept as weak pointers: a family a push replaced is freed at once, and its
//! address cannot be reused by a new family while a weak pointer holds it.
//! What is kept is dropped when no read came for a while, so a one-off read
//! does not hold a rendering of every group for the life of the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::model::GroupingKey;
use crate::store::{GroupSnapshot, TimestampedFamily};

/// How long kept renderings outlive the last read that used them. A page
/// or dashboard polling keeps them; a one-off read does not.
pub const KEPT_IDLE: Duration = Duration::from_secs(30);

/// One kind of per-group rendering, kept between reads.
#[derive(Default)]
pub struct PerGroup {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    groups: HashMap<GroupingKey, KeptGroup>,
    /// When the renderings were last read (`None` while nothing is kept).
    last_read: Option<Instant>,
}

struct KeptGroup {
    families: Vec<Weak<TimestampedFamily>>,
    bytes: Arc<[u8]>,
}

impl PerGroup {
    /// The rendering of each of `groups`, in their order: the kept one
    /// where the group holds the same families as when it was made, else
    /// `render(group)`, kept for the next read. Groups not in `groups` are
    /// forgotten.
    pub fn renderings(
        &self,
        groups: &[GroupSnapshot],
        render: impl Fn(&GroupSnapshot) -> Vec<u8>,
    ) -> Vec<Arc<[u8]>> {
        let mut all = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        all.last_read = Some(Instant::now());
        let mut next = HashMap::with_capacity(groups.len());
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let entry = match all.groups.remove(&group.key) {
                Some(k) if same_families(&k.families, &group.families) => k,
                _ => KeptGroup {
                    families: group.families.iter().map(Arc::downgrade).collect(),
                    bytes: render(group).into(),
                },
            };
            out.push(entry.bytes.clone());
            next.insert(group.key.clone(), entry);
        }
        all.groups = next;
        out
    }

    /// Drops what is kept when no read came for `idle`; the next read
    /// renders every group again. Called by the expiry thread.
    pub fn forget_if_idle(&self, idle: Duration) {
        let mut all = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if all.last_read.is_some_and(|t| t.elapsed() >= idle) {
            *all = Kept::default();
        }
    }

    /// How many groups have a kept rendering.
    pub fn len(&self) -> usize {
        self.kept.lock().map(|k| k.groups.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn same_families(a: &[Weak<TimestampedFamily>], b: &[Arc<TimestampedFamily>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| std::ptr::eq(x.as_ptr(), Arc::as_ptr(y)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Label, Metric, MetricFamily, MetricType, Value};

    fn group(job: &str, families: Vec<Arc<TimestampedFamily>>) -> GroupSnapshot {
        GroupSnapshot {
            key: GroupingKey::new([Label::new("job", job)]),
            families,
            ttl: None,
            expires_at: None,
        }
    }

    fn family(value: f64) -> Arc<TimestampedFamily> {
        let mut family = MetricFamily::new("m", MetricType::Gauge);
        family.metrics.push(Metric {
            labels: vec![],
            value: Value::Gauge(value),
            timestamp_ms: None,
        });
        Arc::new(TimestampedFamily::new(&family, 1))
    }

    /// A group is rendered again exactly when its families are not the
    /// same pointers any more; a group gone from the store is forgotten.
    #[test]
    fn renders_only_changed_groups() {
        let kept = PerGroup::default();
        let calls = std::cell::Cell::new(0);
        let render = |g: &GroupSnapshot| {
            calls.set(calls.get() + 1);
            format!("{}:{}", g.key, g.families.len()).into_bytes()
        };
        let (a, b) = (family(1.0), family(2.0));
        let first = kept.renderings(
            &[group("a", vec![a.clone()]), group("b", vec![b.clone()])],
            render,
        );
        assert_eq!((calls.get(), first.len()), (2, 2));
        let again = kept.renderings(&[group("a", vec![a.clone()]), group("b", vec![b])], render);
        assert_eq!(calls.get(), 2, "nothing changed: nothing rendered");
        assert!(Arc::ptr_eq(&first[0], &again[0]));
        let b2 = family(3.0);
        kept.renderings(
            &[group("a", vec![a.clone()]), group("b", vec![b2.clone()])],
            render,
        );
        assert_eq!(calls.get(), 3, "one family replaced: one group rendered");
        kept.renderings(&[group("a", vec![a.clone(), b2])], render);
        assert_eq!(calls.get(), 4, "a family added: rendered again");
        assert_eq!(kept.len(), 1, "group b is gone");
        kept.renderings(&[group("a", vec![a])], render);
        assert_eq!(calls.get(), 5, "a family removed: rendered again");
    }

    /// An idle keeper forgets; a recent read keeps.
    #[test]
    fn idle_renderings_are_forgotten() {
        let kept = PerGroup::default();
        kept.renderings(&[group("a", vec![family(1.0)])], |_| b"x".to_vec());
        kept.forget_if_idle(Duration::from_secs(3600));
        assert_eq!(kept.len(), 1, "read just now: kept");
        kept.forget_if_idle(Duration::ZERO);
        assert!(kept.is_empty(), "idle: forgotten");
    }
}
