//! Running pushgate as a service (§10, §14): SIGHUP re-reads the web config
//! and keeps every group, `process_start_time_seconds` survives systemd's
//! `ProcSubset=pid`, and the `pushgate_persistence_*` metrics follow the
//! snapshots, failures included (the data directory made read-only). All pushgate-only: skipped upstream.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;

use crate::util::{self, Gateway};

const EXIT_LIMIT: Duration = Duration::from_secs(5);
/// How long a signal or a snapshot may take to show, on a loaded machine.
const SETTLE: Duration = Duration::from_secs(10);

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("pushgate-it-ops-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700));
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn signal(gw: &Gateway, sig: i32) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety conditions.
    let rc = unsafe { libc::kill(gw.pid(), sig) };
    assert_eq!(rc, 0, "kill({sig}) failed");
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn users(password: &str) -> String {
    // Cost 4 keeps the suite fast; every such hash is 60 characters long.
    let hash = bcrypt::hash(password, 4).expect("bcrypt at cost 4");
    format!("basic_auth_users:\n  alice: {hash}\n")
}

fn status_as(gw: &Gateway, method: &str, path: &str, body: &[u8], password: &str) -> u16 {
    let auth = basic("alice", password);
    gw.request(method, path, &[("Authorization", &auth)], body)
        .status
}

/// Polls `cond` every 20 ms until it holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// The value of the unlabelled sample `name` in a scrape, if present.
fn own_value(gw: &Gateway, name: &str) -> Option<f64> {
    let resp = gw.get("/metrics");
    assert_eq!(resp.status, 200, "scrape: {}", resp.text());
    let prefix = format!("{name} ");
    resp.text()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} {v}")))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn sighup_rereads_the_web_config_and_keeps_the_store() {
    if util::upstream() {
        return; // upstream ends on SIGHUP
    }
    let dir = TempDir::new("sighup-web");
    let path = dir.0.join("web.yml");
    fs::write(&path, users("old")).expect("write web config");
    let flag = format!("--web.config.file={}", path.display());
    let gw = Gateway::start(&[&flag]);
    assert_eq!(
        status_as(&gw, "PUT", "/metrics/job/kept", b"m 1\n", "old"),
        200
    );

    // Same length, same inode, modification time put back: the once-a-second
    // check cannot see this edit, only SIGHUP can.
    let modified = fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let new_text = users("new");
    assert_eq!(new_text.len(), users("old").len());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.write_all(new_text.as_bytes())
        .expect("rewrite in place");
    file.set_modified(modified).expect("restore mtime");
    drop(file);
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        status_as(&gw, "GET", "/-/healthy", b"", "old"),
        200,
        "not yet seen"
    );

    signal(&gw, libc::SIGHUP);
    assert!(
        eventually(SETTLE, || status_as(&gw, "GET", "/-/healthy", b"", "new")
            == 200),
        "the new password works after SIGHUP"
    );
    assert_eq!(status_as(&gw, "GET", "/-/healthy", b"", "old"), 401);
    for _ in 0..3 {
        signal(&gw, libc::SIGHUP);
    }
    thread::sleep(Duration::from_millis(200));
    let auth = basic("alice", "new");
    let scrape = gw.request("GET", "/metrics", &[("Authorization", &auth)], b"");
    assert_eq!(scrape.status, 200, "still serving after four SIGHUPs");
    assert!(
        scrape.text().contains("m{instance=\"\",job=\"kept\"} 1"),
        "the group pushed before SIGHUP is kept:\n{}",
        scrape.text()
    );
}

#[test]
fn sighup_without_a_web_config_changes_nothing_and_loses_nothing() {
    if util::upstream() {
        return; // upstream ends on SIGHUP
    }
    let dir = TempDir::new("sighup-data");
    let file = format!("--persistence.file={}", dir.0.join("pg.db").display());
    let mut gw = Gateway::start(&[&file, "--persistence.interval=1h"]);
    assert_eq!(gw.put("/metrics/job/kept", b"m 1\n").status, 200);
    signal(&gw, libc::SIGHUP);
    thread::sleep(Duration::from_millis(300));
    assert!(
        gw.wait_for_exit(Duration::ZERO).is_none(),
        "SIGHUP does not end it"
    );
    assert!(gw
        .scrape_raw_lines()
        .iter()
        .any(|l| l.contains("job=\"kept\"")));
    signal(&gw, libc::SIGTERM);
    let status = gw.wait_for_exit(EXIT_LIMIT).expect("exits within 5 s");
    assert_eq!(status.code(), Some(0), "{status}");
    let gw = Gateway::start(&[&file]);
    assert!(
        gw.scrape_raw_lines()
            .iter()
            .any(|l| l.contains("job=\"kept\"")),
        "the final snapshot holds the group"
    );
}

#[test]
fn process_start_time_is_exposed() {
    if util::upstream() {
        return; // upstream has it too; the bounds below assume our clock reading
    }
    let before = unix_now();
    let gw = Gateway::start(&[]);
    let start = own_value(&gw, "process_start_time_seconds").expect("present");
    assert!(
        start > before - 5.0 && start < unix_now() + 1.0,
        "{start} vs {before}"
    );
}

// systemd's ProcSubset=pid (in the shipped unit) hides /proc/stat, where
// the boot time usually comes from. A private mount namespace with
// /dev/null bound over /proc/stat reproduces that without systemd.
#[test]
fn process_start_time_is_exposed_when_proc_stat_is_hidden() {
    if util::upstream() {
        return;
    }
    let unshare = Command::new("unshare").arg("--version").output();
    if !is_root() || !unshare.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: needs root and unshare(1) for a private mount namespace");
        return;
    }
    let before = unix_now();
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind /dev/null /proc/stat && test ! -s /proc/stat && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_pushgate"))
        .arg("--web.listen-address=127.0.0.1:0");
    let gw = Gateway::spawn(command);
    let start = own_value(&gw, "process_start_time_seconds").expect("present");
    assert!(
        start > before - 5.0 && start < unix_now() + 1.0,
        "{start} vs {before}"
    );
}

#[test]
fn persistence_metrics_are_absent_without_a_file() {
    if util::upstream() {
        return; // pushgate_* metrics are pushgate's own
    }
    let gw = Gateway::start(&[]);
    let text = gw.get("/metrics").text();
    assert!(!text.contains("pushgate_persistence_"), "{text}");
}

/// Starts pushgate with `flags` as a user that mode bits apply to: as root
/// (which ignores them) through setpriv(1) as `nobody`, after handing `dir`
/// to that user; otherwise as the current user.
fn start_as_unprivileged(dir: &Path, flags: &[&str]) -> Gateway {
    if !is_root() {
        return Gateway::start(flags);
    }
    const NOBODY: u32 = 65534;
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown to nobody");
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_pushgate"))
        .arg("--web.listen-address=127.0.0.1:0")
        .args(flags);
    Gateway::spawn(command)
}

#[test]
fn persistence_metrics_follow_snapshots_and_failures() {
    if util::upstream() {
        return; // upstream has no persistence metrics
    }
    let root = TempDir::new("persist-metrics");
    let data = root.0.join("data");
    fs::create_dir(&data).expect("create data dir");
    let file = data.join("pg.db");
    let flag = format!("--persistence.file={}", file.display());
    let gw = start_as_unprivileged(&data, &[&flag, "--persistence.interval=0s"]);
    let value = |name: &str| own_value(&gw, name).unwrap_or_else(|| panic!("{name} missing"));
    let last_success = "pushgate_persistence_last_success_timestamp_seconds";
    let last_failure = "pushgate_persistence_last_failure_timestamp_seconds";
    let failures = "pushgate_persistence_failures_total";
    let bytes = "pushgate_persistence_file_bytes";
    let duration = "pushgate_persistence_duration_seconds";
    for name in [last_success, last_failure, failures, bytes, duration] {
        assert_eq!(value(name), 0.0, "{name} before any snapshot");
    }

    let before = unix_now();
    assert_eq!(gw.put("/metrics/job/one", b"m 1\n").status, 200);
    assert!(
        eventually(SETTLE, || value(last_success) > 0.0),
        "a snapshot"
    );
    let first = value(last_success);
    assert!(
        first >= before - 1.0 && first <= unix_now() + 1.0,
        "{first}"
    );
    let on_disk = fs::metadata(&file).expect("snapshot file").len();
    assert_eq!(value(bytes), on_disk as f64);
    assert!(value(duration) > 0.0 && value(duration) < 10.0);
    assert_eq!(value(failures), 0.0);

    fs::set_permissions(&data, fs::Permissions::from_mode(0o500)).expect("chmod 0500");
    assert_eq!(gw.put("/metrics/job/two", b"m 2\n").status, 200);
    assert!(
        eventually(SETTLE, || value(failures) >= 1.0),
        "a failed snapshot"
    );
    assert!(value(last_failure) >= first, "failure time set");
    assert_eq!(value(last_success), first, "no success while unwritable");

    fs::set_permissions(&data, fs::Permissions::from_mode(0o700)).expect("chmod 0700");
    assert!(
        eventually(SETTLE, || value(last_success) > first),
        "retried after the directory is writable again"
    );
    let failed = value(failures);
    assert!(failed >= 1.0, "the counter never goes down");
    let on_disk = fs::metadata(&file).expect("snapshot file").len();
    assert_eq!(value(bytes), on_disk as f64);
    assert!(on_disk > 0);
}
