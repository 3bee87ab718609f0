//! `MetricsCache`: the `/api/v1/metrics` JSON kept per group (see `kept`).

use std::sync::Arc;
use std::time::Duration;

use super::render::write_group;
use super::{with_cors, APPLICATION_JSON};
use crate::http::{Response, ResponseBody, Status};
use crate::kept::PerGroup;
use crate::store::Store;

/// `/api/v1/metrics` kept per group: a group's JSON is written again only
/// when one of its families changed, and the response is the kept pieces
/// in order, never one copy of the whole body. A push before each read
/// therefore costs one group, not the store (~0.3 s at 100k series).
#[derive(Default)]
pub struct MetricsCache {
    kept: PerGroup,
}

/// How long the kept JSON outlives the last `/api/v1/metrics` read (~150
/// bytes per series while kept).
pub const METRICS_CACHE_IDLE: Duration = crate::kept::KEPT_IDLE;

impl MetricsCache {
    /// The current `/api/v1/metrics` response.
    pub fn response(&self, store: &Store) -> Response {
        let groups = store.groups();
        // Each group's JSON starts with the comma that separates it from
        // the one before; the first group goes without it.
        let json = self.kept.renderings(&groups, |group| {
            let mut json = String::with_capacity(1024);
            json.push(',');
            write_group(&mut json, group);
            json.into_bytes()
        });
        let mut pieces: Vec<Arc<[u8]>> = Vec::with_capacity(json.len() + 2);
        pieces.push(Arc::from(&b"{\"status\":\"success\",\"data\":["[..]));
        for (i, group) in json.into_iter().enumerate() {
            pieces.push(if i == 0 {
                Arc::from(&group[1..])
            } else {
                group
            });
        }
        pieces.push(Arc::from(&b"]}"[..]));
        with_cors(Response::empty(Status::OK))
            .with_header("Content-Type", APPLICATION_JSON)
            .with_body(ResponseBody::Pieces(pieces))
    }

    /// Drops the kept JSON when no read came for `idle`; the next read
    /// writes every group again. Called by the expiry thread.
    pub fn forget_if_idle(&self, idle: Duration) {
        self.kept.forget_if_idle(idle);
    }
}

#[cfg(test)]
mod tests {
    use super::super::metrics;
    use super::*;
    use crate::model::{GroupingKey, Label, MetricType, NameValidation};
    use crate::store::{CheckMode, Push};

    /// The kept pieces equal the JSON written from scratch after every step
    /// of a fixed sequence of PUT, POST and DELETE on a few groups.
    #[test]
    fn kept_groups_equal_a_full_render() {
        let store = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
        let cache = MetricsCache::default();
        crate::testutil::random_writes(&store, 0x9e37_79b9_7f4a_7c15, 200, |step| {
            assert_eq!(
                String::from_utf8_lossy(&cache.response(&store).body.to_vec()),
                String::from_utf8_lossy(&metrics(&store.groups()).body.to_vec()),
                "step {step}"
            );
        });
    }

    /// An idle cache forgets its JSON; a recent read keeps it; the answer
    /// after forgetting is the full render again.
    #[test]
    fn idle_cache_forgets_its_json() {
        let store = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
        let cache = MetricsCache::default();
        let mut family = crate::model::MetricFamily::new("m", MetricType::Untyped);
        family.metrics.push(crate::model::Metric {
            labels: vec![],
            value: crate::model::Value::Untyped(1.0),
            timestamp_ms: None,
        });
        store.push(Push {
            key: GroupingKey::new([Label::new("job", "a")]),
            families: vec![family],
            replace_group: true,
            received_at: 1,
            ttl: None,
        });
        let first = cache.response(&store);
        let kept = |c: &MetricsCache| c.kept.len();
        cache.forget_if_idle(Duration::from_secs(3600));
        assert_eq!(kept(&cache), 1, "read just now: kept");
        cache.forget_if_idle(Duration::ZERO);
        assert_eq!(kept(&cache), 0, "idle: forgotten");
        assert_eq!(cache.response(&store), first);
        assert_eq!(
            cache.response(&store).body.to_vec(),
            metrics(&store.groups()).body.to_vec()
        );
    }

    #[test]
    fn cached_metrics_follow_every_store_change() {
        let store = Store::new(vec![], CheckMode::Checked, NameValidation::Legacy);
        let cache = MetricsCache::default();
        assert_eq!(
            cache.response(&store).body.to_vec(),
            br#"{"status":"success","data":[]}"#
        );
        let key = GroupingKey::new([Label::new("job", "a")]);
        let mut family = crate::model::MetricFamily::new("m", MetricType::Untyped);
        family.metrics.push(crate::model::Metric {
            labels: vec![],
            value: crate::model::Value::Untyped(1.0),
            timestamp_ms: None,
        });
        store.push(Push {
            key: key.clone(),
            families: vec![family],
            replace_group: true,
            received_at: 1,
            ttl: None,
        });
        let after_push = cache.response(&store);
        assert!(String::from_utf8_lossy(&after_push.body.to_vec()).contains(r#""job":"a""#));
        assert_eq!(
            cache.response(&store),
            after_push,
            "unchanged store: same answer"
        );
        assert_eq!(after_push.header("Access-Control-Allow-Origin"), Some("*"));
        store.delete(&key);
        assert_eq!(
            cache.response(&store).body.to_vec(),
            br#"{"status":"success","data":[]}"#
        );
    }
}
