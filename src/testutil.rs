//! Builders and helpers shared by the unit tests beside the code: metric
//! series and families, a temporary directory removed on drop, and a bounded
//! poll. Compiled only for `cargo test`; asserts nothing itself.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::model::{Label, Metric, MetricFamily, MetricType, Value};

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
