//! Persistence through the real binary (§10, §12; checklist cases 53–57):
//! SIGTERM flush, restart round trip, corrupt file moved aside, second
//! instance refused, and a bounded `kill -9` crash loop.
//!
//! Uses only `util::{Gateway, run_to_exit}`.
//! Every case is pushgate-only where marked (upstream has no fsync, no lock
//! and overwrites a corrupt file).

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, poll_until, Gateway, TempDir};

const EXIT_LIMIT: Duration = Duration::from_secs(5);

fn signal(gw: &Gateway, sig: i32) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety conditions.
    let rc = unsafe { libc::kill(gw.pid(), sig) };
    assert_eq!(rc, 0, "kill({sig}) failed");
}

fn sigterm_and_wait(mut gw: Gateway) {
    signal(&gw, libc::SIGTERM);
    let status = gw.wait_for_exit(EXIT_LIMIT).expect("exits within 5 s");
    assert_eq!(status.code(), Some(0), "{status}");
}

/// The `job` values of `/api/v1/metrics`, without a JSON parser: every
/// group carries `"labels":{..."job":"<v>"...}` once.
fn jobs(gw: &Gateway) -> Vec<String> {
    let body = gw.api_metrics();
    let mut out: Vec<String> = body
        .match_indices("\"job\":\"")
        .filter_map(|(i, m)| {
            let rest = &body[i + m.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Identifies one version of the file: inode, modification time (ns) and
/// size. The inode alone is not enough: a file system may give a new
/// snapshot the inode number that an earlier, deleted one had.
type FileVersion = (u64, i64, i64, u64);

fn inode(path: &Path) -> Option<FileVersion> {
    fs::metadata(path)
        .ok()
        .map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.size()))
}

/// Waits (at most `limit`) until `path` is another version than `old`,
/// i.e. a snapshot was renamed over it; returns the new version.
fn wait_for_new_inode(path: &Path, old: Option<FileVersion>, limit: Duration) -> FileVersion {
    let renamed = |v: &Option<FileVersion>| v.is_some() && *v != old;
    let now = poll_until(limit, Duration::from_millis(5), || inode(path), renamed);
    assert!(renamed(&now), "no snapshot of {path:?} within {limit:?}");
    now.unwrap_or_default()
}

// Case 53 (text bodies here; protobuf cases 23 and 44 belong beside them in
// proto_bodies.rs): SIGTERM writes the file; a restart serves identical API
// output (time_stamps included) and identical lines (push times included).
#[test]
fn case_53_sigterm_flush_and_identical_restart() {
    if util::skip_on_upstream("pushgate format; upstream's file is gob") {
        return;
    }
    let dir = TempDir::new("c53");
    let flags = [dir.flag(), "--persistence.interval=1h".into()];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let gw = Gateway::start(&flags);
    let body = b"# HELP m a gauge\n# TYPE m gauge\nm{a=\"1\"} 1.5\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    assert_eq!(gw.put("/metrics/job/one/instance/i", body).status, 200);
    assert_eq!(gw.post("/metrics/job/two", b"c_total 7\n").status, 200);
    assert_eq!(
        gw.put("/metrics/job/two", b"m{a=\"1\"} x\n").status,
        400,
        "failure gauge set"
    );
    let api = gw.api_metrics();
    let lines = gw.scrape_raw_lines();
    sigterm_and_wait(gw);
    assert!(dir.file().exists(), "file written at shutdown");

    let gw = Gateway::start(&flags);
    assert_eq!(gw.api_metrics(), api);
    assert_eq!(gw.scrape_raw_lines(), lines);
}

// Case 54: unchecked pushes answered 202 are applied and persisted at SIGTERM.
#[test]
fn case_54_sigterm_drains_unchecked_pushes() {
    let dir = TempDir::new("c54");
    let flags = [
        dir.flag(),
        "--persistence.interval=1h".into(),
        "--push.disable-consistency-check".into(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let gw = Gateway::start(&flags);
    for i in 0..10 {
        assert_eq!(gw.put(&format!("/metrics/job/g{i}"), b"m 1\n").status, 202);
    }
    sigterm_and_wait(gw);
    let gw = Gateway::start(&flags);
    assert_eq!(jobs(&gw).len(), 10, "{}", gw.api_metrics());
}

// Case 55: without --persistence.file nothing survives and no file appears.
#[test]
fn case_55_no_persistence_file() {
    let dir = TempDir::new("c55");
    let gw = Gateway::start(&[]);
    assert_eq!(gw.put("/metrics/job/j", b"m 1\n").status, 200);
    sigterm_and_wait(gw);
    let gw = Gateway::start(&[]);
    assert!(jobs(&gw).is_empty());
    assert!(dir.names().is_empty());
}

// Case 56: one push → written about one interval after start, then not
// rewritten while idle. Bounded waits; timing is not asserted tightly.
#[test]
fn case_56_snapshot_after_interval_not_while_idle() {
    let dir = TempDir::new("c56");
    let flags = [dir.flag(), "--persistence.interval=2s".into()];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let started = Instant::now();
    let gw = Gateway::start(&flags);
    assert_eq!(gw.put("/metrics/job/j", b"m 1\n").status, 200);
    let first = wait_for_new_inode(&dir.file(), None, Duration::from_secs(10));
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "written too early: {:?}",
        started.elapsed()
    );
    thread::sleep(Duration::from_secs(3));
    assert_eq!(inode(&dir.file()), Some(first), "rewritten while idle");
}

// Case 57: a garbage file is moved aside; the gateway starts empty and healthy.
#[test]
fn case_57_garbage_file_moved_aside() {
    if util::skip_on_upstream("pushgate: upstream overwrites the file later") {
        return;
    }
    let dir = TempDir::new("c57");
    fs::write(dir.file(), b"garbage").expect("write garbage");
    let gw = Gateway::start(&[&dir.flag()]);
    assert_eq!(gw.get("/-/healthy").status, 200);
    assert!(jobs(&gw).is_empty());
    assert_eq!(
        fs::read(dir.0.join("pg.db.corrupt")).expect(".corrupt"),
        b"garbage"
    );
}

// Case 57, the log line: loading happens before the listener opens, so a
// gateway whose port is taken loads, logs, and exits 1.
#[test]
fn case_57_logs_could_not_load() {
    if util::skip_on_upstream("pushgate's persistence file format (spec §12)") {
        return;
    }
    let dir = TempDir::new("c57log");
    fs::write(dir.file(), b"garbage").expect("write garbage");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = format!("--web.listen-address={}", taken.local_addr().expect("addr"));
    let (status, stderr) = util::run_to_exit(&[&addr, &dir.flag()], EXIT_LIMIT);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("level=error msg=\"could not load persisted metrics\""),
        "{stderr}"
    );
    assert!(dir.file().with_file_name("pg.db.corrupt").exists());
}

// A second instance on the same file refuses to start (exit 1; §12).
#[test]
fn second_instance_on_the_same_file_is_refused() {
    if util::skip_on_upstream("pushgate only: persistence lock file (spec §12)") {
        return;
    }
    let dir = TempDir::new("lock");
    let gw = Gateway::start(&[&dir.flag()]);
    let (status, stderr) = util::run_to_exit(
        &["--web.listen-address=127.0.0.1:0", &dir.flag()],
        EXIT_LIMIT,
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another pushgate holds the lock"),
        "{stderr}"
    );
    sigterm_and_wait(gw);
    let gw = Gateway::start(&[&dir.flag()]);
    assert_eq!(
        gw.get("/-/healthy").status,
        200,
        "allowed once the first exited"
    );
}

// 50 `kill -9`s at random moments during a stream of
// pushes. After each restart the file loads (nothing moved aside), nothing
// unpushed appears, nothing restored earlier disappears, and every group
// acknowledged before the last snapshot we saw complete is there.
#[test]
fn kill_9_during_pushes_never_loses_a_snapshot() {
    if util::skip_on_upstream("pushgate's persistence file format (spec §12)") {
        return;
    }
    const KILLS: usize = 50;
    let dir = TempDir::new("crash");
    let flags = [dir.flag(), "--persistence.interval=0s".into()];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut durable: Vec<String> = Vec::new();
    let mut restored_before: Vec<String> = Vec::new();
    let mut next = 0usize;
    let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
    for round in 0..KILLS {
        let gw = Gateway::start(&flags);
        let restored = jobs(&gw);
        assert!(
            !dir.names().iter().any(|n| n.contains(".corrupt")),
            "round {round}: {:?}",
            dir.names()
        );
        for job in durable.iter().chain(&restored_before) {
            assert!(restored.contains(job), "round {round}: lost {job}");
        }
        assert!(restored
            .iter()
            .all(|j| j.starts_with('g') && j[1..].parse::<usize>().is_ok_and(|n| n < next)));
        restored_before = restored;

        // Three acknowledged pushes, then two snapshots seen to complete
        // after them. Each wait is preceded by a push, so a snapshot is
        // always due (with interval 0 the ones the acks caused may already
        // be done). The second snapshot started after the first finished,
        // which was after the acks, so it holds all three.
        for _ in 0..3 {
            assert_eq!(
                gw.put(&format!("/metrics/job/g{next}"), b"m 1\n").status,
                200
            );
            durable.push(format!("g{next}"));
            next += 1;
        }
        let mut seen = inode(&dir.file());
        for _ in 0..2 {
            assert_eq!(
                gw.put(&format!("/metrics/job/g{next}"), b"m 1\n").status,
                200
            );
            next += 1;
            seen = Some(wait_for_new_inode(
                &dir.file(),
                seen,
                Duration::from_secs(15),
            ));
        }

        // A stream of pushes, and the kill at a random moment within it.
        let stop = Arc::new(AtomicBool::new(false));
        let addr = gw.addr();
        let counter = Arc::new(Mutex::new(next));
        let pusher = {
            let (stop, counter) = (stop.clone(), counter.clone());
            thread::spawn(move || {
                for _ in 0..10_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let n = {
                        let mut c = counter.lock().expect("counter");
                        *c += 1;
                        *c - 1
                    };
                    let path = format!("/metrics/job/g{n}");
                    if util::try_request(addr, "PUT", &path, b"m 1\n").is_err() {
                        break;
                    }
                }
            })
        };
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        thread::sleep(Duration::from_millis(rng % 200));
        signal(&gw, libc::SIGKILL);
        stop.store(true, Ordering::SeqCst);
        let _ = pusher.join();
        next = *counter.lock().expect("counter") + 1;
        drop(gw);
    }
}
