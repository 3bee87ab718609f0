//! Builders and helpers shared by the unit tests beside the code: metric
//! series and families, a temporary directory removed on drop, and a bounded
//! poll. Compiled only for `cargo test`; asserts nothing itself.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::model::{GroupingKey, Label, Metric, MetricFamily, MetricType, Value};
use crate::store::{Push, Store};

/// One series with the given labels (in the given order) and value.
pub(crate) fn series(labels: &[(&str, &str)], value: Value) -> Metric {
    Metric {
        labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        value,
        timestamp_ms: None,
    }
}

/// A family without HELP holding `metrics`.
pub(crate) fn family(name: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        metrics,
        ..MetricFamily::new(name, kind)
    }
}

/// A family with the HELP `help of <name>` holding `metrics`.
pub(crate) fn helped_family(name: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        help: Some(format!("help of {name}")),
        ..family(name, kind, metrics)
    }
}

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// `name` tells concurrent tests' directories apart in a listing.
    pub(crate) fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pushgate-unit-{}-{}-{}-{}",
            name,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            crate::go::unix_nanos_now()
        ));
        fs::create_dir_all(&dir).expect("creating a test directory");
        TempDir(dir)
    }

    /// The persistence file tests use: `<dir>/pg.db`.
    pub(crate) fn file(&self) -> PathBuf {
        self.0.join("pg.db")
    }

    /// The names in the directory, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .expect("listing the test directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Polls `cond` every 10 ms for at most `limit`; true once it holds.
pub(crate) fn eventually(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A fixed sequence of `steps` writes to five groups of `store`: a PUT or
/// POST of one family (with a HELP, and label values that need escaping in
/// HTML and JSON) or a DELETE, chosen by xorshift64 from `seed`. Calls
/// `check(step)` after about two steps in three, for tests that hold a
/// kept rendering to one made from scratch.
pub(crate) fn random_writes(store: &Store, seed: u64, steps: i64, mut check: impl FnMut(i64)) {
    let mut x = seed;
    for step in 0..steps {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = GroupingKey::new([Label::new("job", format!("j{}", x % 5))]);
        if x % 7 == 0 {
            store.delete(&key);
        } else {
            let name = ["a", "b", "c"][(x / 7 % 3) as usize];
            let mut family = MetricFamily::new(name, MetricType::Gauge);
            family.help = Some(format!("help <{}>", x % 2));
            family.metrics.push(series(
                &[("x", &format!("\"{}\" &", x % 3))],
                Value::Gauge(step as f64),
            ));
            store.push(Push {
                key,
                families: vec![family],
                replace_group: x % 2 == 0,
                received_at: step * 1_000_000_000,
                ttl: None,
            });
        }
        if x % 3 != 0 {
            check(step);
        }
    }
}
