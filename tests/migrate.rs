//! Migration from upstream Pushgateway (issue 17): persistence files written by
//! Debian's upstream 1.5.1 (tests/fixtures/upstream-persistence/, made by
//! scripts/capture-upstream-persistence.sh) are imported at start, the original is
//! kept, and the scrape equals upstream's own scrape of the same file after its
//! restart; plus the wire-compatibility cases of the issue.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::util::{self, Gateway};

const RICH_GOB: &[u8] = include_bytes!("fixtures/upstream-persistence/rich.gob");
const RICH_SCRAPE: &str = include_str!("fixtures/upstream-persistence/rich.scrape.txt");
const EMPTY_GOB: &[u8] = include_bytes!("fixtures/upstream-persistence/empty.gob");

/// §16 #8: upstream prints 0 for the counts of float histograms in text, pushgate
/// the float counts: (upstream line, pushgate line).
const FLOAT_HISTOGRAM_COUNTS: &[(&str, &str)] = &[
    (
        r#"histogram_metric_bucket{instance="v1",job="fixture",le="+Inf"} 0"#,
        r#"histogram_metric_bucket{instance="v1",job="fixture",le="+Inf"} 20"#,
    ),
    (
        r#"histogram_metric_count{instance="v1",job="fixture"} 0"#,
        r#"histogram_metric_count{instance="v1",job="fixture"} 20"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="250000"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="250000"} 3"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="500000"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="500000"} 17"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="+Inf"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float classic histogram",le="+Inf"} 20"#,
    ),
    (
        r#"mfh_count{instance="v2",job="fixture",testing="float classic histogram"} 0"#,
        r#"mfh_count{instance="v2",job="fixture",testing="float classic histogram"} 20"#,
    ),
    (
        r#"mfh_bucket{instance="v2",job="fixture",testing="float native histogram",le="+Inf"} 0"#,
        r#"mfh_bucket{instance="v2",job="fixture",testing="float native histogram",le="+Inf"} 20"#,
    ),
    (
        r#"mfh_count{instance="v2",job="fixture",testing="float native histogram"} 0"#,
        r#"mfh_count{instance="v2",job="fixture",testing="float native histogram"} 20"#,
    ),
];

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pushgate-migrate-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create test dir");
        TempDir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("pushgateway.db")
    }

    fn flag(&self) -> String {
        format!("--persistence.file={}", self.file().display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Upstream's scrape without its own families, with pushgate's documented
/// float-histogram counts substituted.
fn upstream_lines() -> Vec<String> {
    util::without_own_families(RICH_SCRAPE)
        .into_iter()
        .filter(|l| {
            !l.starts_with("go_") && !l.starts_with("# HELP go_") && !l.starts_with("# TYPE go_")
        })
        .map(|l| {
            FLOAT_HISTOGRAM_COUNTS
                .iter()
                .find(|(up, _)| *up == l)
                .map_or(l.clone(), |(_, ours)| ours.to_string())
        })
        .collect()
}

#[test]
fn an_upstream_file_is_imported_and_scrapes_like_upstream() {
    if util::upstream() {
        return; // pushgate-only: upstream reads its own file, of course
    }
    let dir = TempDir::new("rich");
    fs::write(dir.file(), RICH_GOB).expect("write fixture");
    let gw = Gateway::start(&[&dir.flag()]);
    let scrape = gw.get("/metrics");
    assert_eq!(scrape.status, 200);
    let expected = upstream_lines();
    util::assert_lines(&util::without_own_families(&scrape.text()), &expected);
    // Every group came back: 8 groups, with their exact push and failure times.
    assert_eq!(
        expected
            .iter()
            .filter(|l| l.starts_with("push_time_seconds{"))
            .count(),
        8
    );
    // The original is kept byte for byte; the path now holds pushgate's format.
    let kept = dir.0.join("pushgateway.db.upstream");
    assert_eq!(fs::read(&kept).expect("original kept"), RICH_GOB);
    let converted = fs::read(dir.file()).expect("snapshot written");
    assert!(
        converted.starts_with(b"PGSTORE1"),
        "{:?}",
        &converted[..8.min(converted.len())]
    );
    drop(gw);
    // A restart reads pushgate's own snapshot and serves the same.
    let gw = Gateway::start(&[&dir.flag()]);
    util::assert_lines(
        &util::without_own_families(&gw.get("/metrics").text()),
        &expected,
    );
    assert_eq!(fs::read(&kept).expect("original still kept"), RICH_GOB);
}

#[test]
fn an_upstream_file_without_groups_imports_empty() {
    if util::upstream() {
        return;
    }
    let dir = TempDir::new("empty");
    fs::write(dir.file(), EMPTY_GOB).expect("write fixture");
    let gw = Gateway::start(&[&dir.flag()]);
    let lines = util::without_own_families(&gw.get("/metrics").text());
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        fs::read(dir.0.join("pushgateway.db.upstream")).expect("kept"),
        EMPTY_GOB
    );
}

#[test]
fn a_damaged_upstream_file_is_moved_aside_not_imported_in_part() {
    if util::upstream() {
        return;
    }
    let dir = TempDir::new("damaged");
    let half = &RICH_GOB[..RICH_GOB.len() / 2];
    fs::write(dir.file(), half).expect("write");
    let gw = Gateway::start(&[&dir.flag()]);
    let lines = util::without_own_families(&gw.get("/metrics").text());
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        fs::read(dir.0.join("pushgateway.db.corrupt")).expect("moved aside"),
        half
    );
}

#[test]
fn import_command_converts_and_reports() {
    if util::upstream() {
        return;
    }
    let dir = TempDir::new("cli");
    let input = dir.0.join("upstream.db");
    fs::write(&input, RICH_GOB).expect("write");
    let output = dir.0.join("pushgate.db");
    let (status, stdout, stderr) =
        run_pushgate(&["import", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("8 groups"), "{stdout}");
    assert_eq!(fs::read(&input).expect("input kept"), RICH_GOB);
    assert!(fs::read(&output).expect("output").starts_with(b"PGSTORE1"));
    let gw = Gateway::start(&[&format!("--persistence.file={}", output.display())]);
    util::assert_lines(
        &util::without_own_families(&gw.get("/metrics").text()),
        &upstream_lines(),
    );
    drop(gw);
    // Never overwrites; a file that is not upstream's is refused with exit 1.
    let (status, _, stderr) =
        run_pushgate(&["import", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("exists"), "{stderr}");
    let (status, _, stderr) = run_pushgate(&["import", output.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not an upstream Pushgateway persistence file"),
        "{stderr}"
    );
}

/// Runs the binary to completion (at most 10 s): status, stdout, stderr.
fn run_pushgate(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pushgate"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pushgate");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{args:?} did not exit within 10 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
