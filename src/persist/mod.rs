//! Crash-safe persistence of the store (`--persistence.file`): the atomic
//! write (temp file, fsync, rename, fsync directory), the `fs2` lock that
//! keeps a second pushgate off the same file, the snapshot timer, and loading
//! at start. The snapshot format (described below) is encoded and decoded in
//! [`format`]; upstream Pushgateway's file is read by [`upstream`] on top of
//! the small gob reader in [`gob`]. It reads the store only through
//! [`Store::groups`] and fills it only through [`Store::restore_hashed`]; it
//! knows nothing of HTTP, the write queue or the exposition formats.
//!
//! # File format, version 1
//!
//! Integers are little-endian; a *string* is a `u32` byte length followed by
//! that many UTF-8 bytes.
//!
//! | Size | Field |
//! |---|---|
//! | 8 | magic `PGSTORE1` |
//! | 4 | format version, `u32` = 1 |
//! | 4 | group count `G`, `u32` |
//! | … | `G` groups, in grouping-key order |
//! | 4 | CRC-32C (Castagnoli) of every byte after the magic and before this field |
//!
//! A group is: label count `L` (`u32`), `L` × (name string, value string) —
//! the grouping labels sorted by name —, the group's own time to live
//! (`u64` nanoseconds, 0 = none; spec §17.1), family count `F` (`u32`), then `F` ×
//! family: `written_at` (`i64`, Unix nanoseconds of the request that last
//! wrote the family), protobuf length `N` (`u32`), and `N` bytes of one
//! `io.prometheus.client.MetricFamily` message without a length prefix
//! ([`proto::encode_family`]). Families are sorted by name and include the
//! `push_time_seconds` / `push_failure_time_seconds` gauges, so both gauges
//! and every write time survive a restart bit for bit. Native histograms,
//! exemplars and created timestamps are whatever the protobuf message holds.
//!
//! Loading reads the whole file and checks magic, version and checksum
//! before decoding any group, so a torn or damaged file is never restored in
//! part. Every length and count is checked against the bytes that remain
//! (no allocation is sized by an unchecked number), groups and families must
//! be unique, and trailing bytes are an error. Any failure makes the file
//! *corrupt*: it is moved aside (never overwritten) and the store starts empty.
//! A new format gets a new version number; old versions are refused, not
//! guessed at.
//!
//! # Upstream's file
//!
//! A file without the magic that starts like a Go gob stream is read as
//! upstream Pushgateway's persistence file ([`upstream`], issue 17), since
//! both share `--persistence.file`. Its groups are restored, the original
//! is kept as `<file>.upstream` (a hard link: same bytes, same times; or
//! `<file>.upstream-<unix seconds>` if taken), and pushgate's snapshot is
//! written to `<file>` at once; INFO `imported upstream persistence file`
//! gives the counts and where the original went. Groups that cannot be used
//! are skipped with a WARN each; a stream that cannot be read at all is
//! corrupt like any other damaged file.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufWriter};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use fs2::FileExt;

use crate::log;
use crate::telemetry::PersistenceStats;

mod format;
mod gob;
pub mod upstream;

use crate::store::{GroupSnapshot, RestoredGroup, Store};
pub use format::FormatError;
use format::*;

/// Infix of temporary snapshot files: `<base>.in_progress.<random>`, the
/// name upstream uses, so its leftovers are cleaned up too.
const TEMP_INFIX: &str = ".in_progress.";
/// Suffix of the lock file beside the data file.
const LOCK_SUFFIX: &str = ".lock";
/// Suffix of a data file that could not be loaded and was moved aside.
const CORRUPT_SUFFIX: &str = ".corrupt";
/// Suffix under which an imported upstream file is kept.
const UPSTREAM_SUFFIX: &str = ".upstream";
/// Write buffer for snapshots: few syscalls without holding the whole file.
const WRITE_BUFFER: usize = 256 * 1024;
/// How long the idle timer sleeps before looking at the stop flag again.
const IDLE_SLICE: Duration = Duration::from_secs(1);
/// After a failed snapshot, the next attempt waits at least this long, so
/// a full disk with `--persistence.interval=0` does not spin.
const MIN_RETRY_DELAY: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// Errors

/// A persistence failure the operator must see: the lock is held elsewhere,
/// or a file operation failed. Its Display is one line.
#[derive(Debug)]
pub struct PersistError {
    kind: PersistErrorKind,
}

#[derive(Debug)]
enum PersistErrorKind {
    Locked {
        lock: PathBuf,
    },
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl PersistError {
    fn locked(lock: &Path) -> PersistError {
        PersistError {
            kind: PersistErrorKind::Locked {
                lock: lock.to_path_buf(),
            },
        }
    }

    fn io(action: &'static str, path: &Path, source: io::Error) -> PersistError {
        PersistError {
            kind: PersistErrorKind::Io {
                action,
                path: path.to_path_buf(),
                source,
            },
        }
    }

    /// True if and only if another process holds the persistence lock.
    pub fn is_locked(&self) -> bool {
        matches!(self.kind, PersistErrorKind::Locked { .. })
    }
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            PersistErrorKind::Locked { lock } => write!(
                f,
                "another pushgate holds the lock {:?} on this persistence file; \
                 stop it or choose another --persistence.file",
                lock
            ),
            PersistErrorKind::Io {
                action,
                path,
                source,
            } => write!(f, "{} {:?}: {}", action, path, source),
        }
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            PersistErrorKind::Io { source, .. } => Some(source),
            PersistErrorKind::Locked { .. } => None,
        }
    }
}

/// Why the persisted file could not be loaded (it is then moved aside).
#[derive(Debug)]
enum LoadError {
    Read(io::Error),
    Format(FormatError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(e) => write!(f, "cannot read the file: {}", e),
            LoadError::Format(e) => write!(f, "damaged file: {}", e),
        }
    }
}

// ---------------------------------------------------------------------------
// Wiring for main

/// Opens the persistence file named by `--persistence.file`, restores `store`
/// from it and starts the snapshot timer with `--persistence.interval`.
/// Returns `Ok(None)` when `file` is empty (memory only). Call before any
/// listener is bound, so restoring completes before the first request (§10).
/// Every snapshot's outcome is recorded in `stats` (the
/// `pushgate_persistence_*` metrics).
pub fn start(
    file: &str,
    interval: Duration,
    store: &Arc<Store>,
    stats: &Arc<PersistenceStats>,
) -> Result<Option<Persistence>, PersistError> {
    if file.is_empty() {
        return Ok(None);
    }
    let mut persistence = open(Path::new(file), store)?;
    persistence.stats = stats.clone();
    stats.enable();
    persistence.spawn_timer(store.clone(), interval)?;
    Ok(Some(persistence))
}

/// Stops the timer and writes the final snapshot, even if nothing changed
/// (§10). Call after the servers stopped and every queued write was applied.
/// Logs ERROR `problem shutting down metric storage` on failure.
pub fn finish(persistence: Option<Persistence>, store: &Store) {
    if let Some(p) = persistence {
        if let Err(e) = p.shutdown(store) {
            log::error("problem shutting down metric storage", &[("err", &e)]);
        }
    }
}

// ---------------------------------------------------------------------------
// Persistence

/// An open persistence file: holds the lock for as long as it lives, and
/// owns the snapshot timer. Dropping it stops the timer without a final
/// snapshot; [`Persistence::shutdown`] writes one.
pub struct Persistence {
    target: Arc<Target>,
    /// Held only for its `flock`; released when the file is closed.
    _lock: File,
    timer: Arc<TimerShared>,
    /// Store generation right after loading: the timer persists only later ones.
    loaded_generation: u64,
    thread: Option<JoinHandle<()>>,
    stats: Arc<PersistenceStats>,
}

/// The data file and the names derived from it.
struct Target {
    file: PathBuf,
    dir: PathBuf,
    base: String,
}

/// State shared with the timer thread. Its mutex is held for the whole of
/// every snapshot write, so writes never overlap and an older snapshot can
/// never be renamed over a newer one.
struct TimerShared {
    state: Mutex<TimerState>,
    wake: Condvar,
}

#[derive(Default)]
struct TimerState {
    stopped: bool,
    snapshots_written: u64,
}

/// Takes the lock on `path`, removes stale temporary files, and restores
/// `store` from the file (pushgate's format or upstream's, see the module
/// docs). A missing file leaves the store empty. A file that
/// cannot be read or decoded is moved aside to `<path>.corrupt` (or
/// `<path>.corrupt-<unix seconds>` if that exists), logged as ERROR
/// `could not load persisted metrics`, and the store stays empty.
///
/// Fails if another process holds the lock, if the lock file cannot be
/// created, or if a damaged file cannot be moved aside (starting anyway
/// would overwrite the only copy at the next snapshot).
pub fn open(path: &Path, store: &Store) -> Result<Persistence, PersistError> {
    let target = Target::new(path)?;
    let lock = acquire_lock(&target)?;
    // Only after the lock: the temp files of a live instance are not ours.
    remove_stale_temp_files(&target);
    match load(&target.file) {
        Ok(Loaded::Missing) => {}
        Ok(Loaded::Upstream(import)) => import_upstream(&target, store, import)?,
        Ok(Loaded::Own(groups)) => {
            let count = groups.len();
            store.restore_hashed(groups);
            log::info(
                "restored persisted metrics",
                &[("file", &target.file.display()), ("groups", &count)],
            );
        }
        Err(err) => {
            let moved_to = move_aside(&target)?;
            log::error(
                "could not load persisted metrics",
                &[
                    ("file", &target.file.display()),
                    ("err", &err),
                    ("moved_to", &moved_to.display()),
                ],
            );
        }
    }
    Ok(Persistence {
        target: Arc::new(target),
        _lock: lock,
        timer: Arc::new(TimerShared {
            state: Mutex::new(TimerState::default()),
            wake: Condvar::new(),
        }),
        loaded_generation: store.generation(),
        thread: None,
        stats: Arc::default(),
    })
}

impl Persistence {
    /// Starts the thread that writes a snapshot at most once per `interval`
    /// and only when the store changed since the last one; `interval` zero
    /// writes right after each change (changes during a write coalesce).
    /// Follows upstream's schedule (§12): the first snapshot is due one
    /// interval after start, then one interval after the start of the
    /// previous snapshot.
    pub fn spawn_timer(
        &mut self,
        store: Arc<Store>,
        interval: Duration,
    ) -> Result<(), PersistError> {
        let target = self.target.clone();
        let timer = self.timer.clone();
        let since = self.loaded_generation;
        let stats = self.stats.clone();
        let thread = std::thread::Builder::new()
            .name("persist".into())
            .spawn(move || run_timer(&store, &target, &timer, &stats, interval, since))
            .map_err(|e| {
                PersistError::io("starting the snapshot thread for", &self.target.file, e)
            })?;
        self.thread = Some(thread);
        Ok(())
    }

    /// Stops the timer (waiting for a snapshot in progress) and writes a
    /// final snapshot, even if nothing changed (§10).
    pub fn shutdown(mut self, store: &Store) -> Result<(), PersistError> {
        let mut state = self.timer.stop();
        let result = write_recorded(&self.target, store, &self.stats);
        if result.is_ok() {
            state.snapshots_written += 1;
            log_persisted(&self.target);
        }
        drop(state);
        // An idle timer notices the stop within IDLE_SLICE; join it only if
        // it is already gone, so shutdown never waits for that.
        if let Some(thread) = self.thread.take() {
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        result
    }

    /// Number of snapshots written so far (timer and shutdown).
    pub fn snapshots_written(&self) -> u64 {
        self.timer.lock().snapshots_written
    }
}

impl Drop for Persistence {
    fn drop(&mut self) {
        drop(self.timer.stop());
    }
}

impl TimerShared {
    fn lock(&self) -> MutexGuard<'_, TimerState> {
        // The state is two plain fields; a panic cannot leave it half-done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the stop flag and returns the guard, so the caller may write the
    /// final snapshot before the timer could run again.
    fn stop(&self) -> MutexGuard<'_, TimerState> {
        let mut state = self.lock();
        state.stopped = true;
        self.wake.notify_all();
        state
    }

    fn is_stopped(&self) -> bool {
        self.lock().stopped
    }
}

fn run_timer(
    store: &Store,
    target: &Target,
    timer: &TimerShared,
    stats: &PersistenceStats,
    interval: Duration,
    since: u64,
) {
    let mut persisted = since;
    let mut last_start = Instant::now();
    let mut last_failed = false;
    loop {
        // Idle: sleep on the store's condition variable until it changes.
        loop {
            if timer.is_stopped() {
                return;
            }
            if store.wait_for_change(persisted, IDLE_SLICE) != persisted {
                break;
            }
        }
        let delay = if last_failed {
            interval.max(MIN_RETRY_DELAY)
        } else {
            interval
        };
        let due = last_start + delay;
        let state = timer.lock();
        let wait = due.saturating_duration_since(Instant::now());
        let (mut state, _) = timer
            .wake
            .wait_timeout_while(state, wait, |s| !s.stopped)
            .unwrap_or_else(|p| p.into_inner());
        if state.stopped {
            // Shutdown writes the final snapshot itself.
            return;
        }
        last_start = Instant::now();
        // Read before copying the groups: a change in between is then
        // written now and once more later, never lost.
        let generation = store.generation();
        match write_recorded(target, store, stats) {
            Ok(()) => {
                persisted = generation;
                last_failed = false;
                state.snapshots_written += 1;
                log_persisted(target);
            }
            Err(e) => {
                last_failed = true;
                log::error("error persisting metrics", &[("err", &e)]);
            }
        }
    }
}

/// [`write_snapshot`], with its outcome, time taken and the resulting file
/// size recorded in `stats`.
fn write_recorded(
    target: &Target,
    store: &Store,
    stats: &PersistenceStats,
) -> Result<(), PersistError> {
    let started = Instant::now();
    let result = write_snapshot(target, store);
    let took = started.elapsed();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    match &result {
        Ok(()) => {
            let bytes = fs::metadata(&target.file).map_or(0, |m| m.len());
            stats.record_success(now, took, bytes);
        }
        Err(_) => stats.record_failure(now),
    }
    result
}

fn log_persisted(target: &Target) {
    log::info("metrics persisted", &[("file", &target.file.display())]);
}

// ---------------------------------------------------------------------------
// Files

impl Target {
    fn new(path: &Path) -> Result<Target, PersistError> {
        let base = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                let e = io::Error::new(io::ErrorKind::InvalidInput, "not a UTF-8 file name");
                PersistError::io("using persistence file", path, e)
            })?
            .to_string();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(Target {
            file: path.to_path_buf(),
            dir,
            base,
        })
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{}", self.base, suffix))
    }

    /// A fresh `<base>.in_progress.<random>` path in the target's directory.
    fn temp_path(&self) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        // RandomState is seeded randomly per process; with the pid, the time
        // and a counter the name is unique without a random-number crate.
        let mut h = RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_i64(crate::go::unix_nanos_now());
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        self.sibling(&format!("{}{:016x}", TEMP_INFIX, h.finish()))
    }
}

/// Locks `<file>.lock`, created beside the data file and never removed.
///
/// Not the data file itself: each snapshot renames a new inode over it, and
/// a lock on the old inode would stop excluding anyone. Not the directory:
/// two pushgates may keep different files in one directory. The lock file
/// is never deleted, because deleting it would let a third process lock a
/// new inode while the second still waits on the old one.
fn acquire_lock(target: &Target) -> Result<File, PersistError> {
    let path = target.sibling(LOCK_SUFFIX);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| PersistError::io("creating lock file", &path, e))?;
    match file.try_lock_exclusive() {
        Ok(()) => Ok(file),
        Err(e) if e.kind() == fs2::lock_contended_error().kind() => {
            Err(PersistError::locked(&path))
        }
        Err(e) => Err(PersistError::io("locking", &path, e)),
    }
}

/// Upstream #398 leaves `<base>.in_progress.*` behind after a crash or a
/// failed write; they are garbage once we hold the lock.
fn remove_stale_temp_files(target: &Target) {
    let prefix = format!("{}{}", target.base, TEMP_INFIX);
    let entries = match fs::read_dir(&target.dir) {
        Ok(entries) => entries,
        Err(e) => {
            log::warn(
                "cannot list the persistence directory",
                &[("dir", &target.dir.display()), ("err", &e)],
            );
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_temp = name.to_str().is_some_and(|n| n.starts_with(&prefix));
        if !is_temp || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        match fs::remove_file(&path) {
            Ok(()) => log::info("removed stale temporary file", &[("file", &path.display())]),
            Err(e) => log::warn(
                "cannot remove stale temporary file",
                &[("file", &path.display()), ("err", &e)],
            ),
        }
    }
}

/// What the persistence file held.
enum Loaded {
    Missing,
    Own(Vec<RestoredGroup>),
    /// Upstream Pushgateway's gob file (issue 17).
    Upstream(upstream::Import),
}

/// Reads and decodes the file: pushgate's format, or else upstream's.
fn load(path: &Path) -> Result<Loaded, LoadError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => return Err(LoadError::Read(e)),
    };
    if !bytes.starts_with(MAGIC) && upstream::looks_like_gob(&bytes) {
        return upstream::decode(&bytes).map(Loaded::Upstream).map_err(|e| {
            LoadError::Format(FormatError::new(format!(
                "an upstream Pushgateway file that cannot be read: {}",
                e
            )))
        });
    }
    decode_hashed(&bytes)
        .map(Loaded::Own)
        .map_err(LoadError::Format)
}

/// Restores the groups read from upstream's file, keeps that file under a
/// new name (a hard link, so its bytes and times stay as they were), and
/// writes pushgate's own snapshot to the path at once, so the data is never
/// held by one copy only and the next start reads pushgate's format. Nothing
/// of upstream's file is lost or changed: an operator can go back by
/// renaming it.
fn import_upstream(
    target: &Target,
    store: &Store,
    import: upstream::Import,
) -> Result<(), PersistError> {
    for skipped in &import.skipped {
        log::warn(
            "group in upstream persistence file not imported",
            &[("file", &target.file.display()), ("group", skipped)],
        );
    }
    let (groups, families, series) = (import.groups.len(), import.families, import.series);
    store.restore_hashed(import.groups);
    let kept = keep_upstream_original(target)?;
    write_snapshot(target, store)?;
    log::info(
        "imported upstream persistence file",
        &[
            ("file", &target.file.display()),
            ("groups", &groups),
            ("families", &families),
            ("series", &series),
            ("skipped_groups", &import.skipped.len()),
            ("original_kept_as", &kept.display()),
        ],
    );
    Ok(())
}

/// Links upstream's file to `<file>.upstream` (or `<file>.upstream-<unix
/// seconds>[-n]` when taken), copying it where links are not possible.
fn keep_upstream_original(target: &Target) -> Result<PathBuf, PersistError> {
    let seconds = crate::go::unix_nanos_now() / 1_000_000_000;
    let candidates = std::iter::once(UPSTREAM_SUFFIX.to_string())
        .chain(std::iter::once(format!("{}-{}", UPSTREAM_SUFFIX, seconds)))
        .chain((1..100).map(|n| format!("{}-{}-{}", UPSTREAM_SUFFIX, seconds, n)));
    let action = "keeping the upstream persistence file";
    for suffix in candidates {
        let kept = target.sibling(&suffix);
        if fs::symlink_metadata(&kept).is_ok() {
            continue;
        }
        if fs::hard_link(&target.file, &kept).is_err() {
            fs::copy(&target.file, &kept).map_err(|e| PersistError::io(action, &target.file, e))?;
            File::open(&kept)
                .and_then(|f| f.sync_all())
                .map_err(|e| PersistError::io(action, &kept, e))?;
        }
        sync_dir(&target.dir)?;
        return Ok(kept);
    }
    let e = io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every .upstream name is taken",
    );
    Err(PersistError::io(action, &target.file, e))
}

/// Renames a file that could not be loaded to `<file>.corrupt`, or to
/// `<file>.corrupt-<unix seconds>[-n]` when that name is taken, so that no
/// earlier copy is overwritten. Starting empty and persisting later would
/// otherwise destroy the only copy of data an operator may still recover.
fn move_aside(target: &Target) -> Result<PathBuf, PersistError> {
    let seconds = crate::go::unix_nanos_now() / 1_000_000_000;
    let candidates = std::iter::once(CORRUPT_SUFFIX.to_string())
        .chain(std::iter::once(format!("{}-{}", CORRUPT_SUFFIX, seconds)))
        .chain((1..100).map(|n| format!("{}-{}-{}", CORRUPT_SUFFIX, seconds, n)));
    for suffix in candidates {
        let aside = target.sibling(&suffix);
        // We hold the lock, so nothing else creates these names meanwhile.
        if fs::symlink_metadata(&aside).is_ok() {
            continue;
        }
        fs::rename(&target.file, &aside).map_err(|e| {
            PersistError::io(
                "moving the damaged persistence file aside from",
                &target.file,
                e,
            )
        })?;
        sync_dir(&target.dir)?;
        return Ok(aside);
    }
    let e = io::Error::new(io::ErrorKind::AlreadyExists, "every .corrupt name is taken");
    Err(PersistError::io(
        "moving the damaged persistence file aside from",
        &target.file,
        e,
    ))
}

/// Writes the store to a temporary file, makes it durable, renames it over
/// the target and makes the rename durable. A failed attempt removes its
/// temporary file (upstream #398) and leaves the target as it was.
fn write_snapshot(target: &Target, store: &Store) -> Result<(), PersistError> {
    // A cheap copy (shared pointers) under the store's lock; encoding
    // happens outside it, so writers are not blocked.
    let groups = store.groups();
    let temp = target.temp_path();
    if let Err(e) = write_durable_temp(&temp, &groups).and_then(|()| {
        fs::rename(&temp, &target.file)
            .map_err(|e| PersistError::io("renaming snapshot over", &target.file, e))
    }) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    // Without this the rename may still be lost in a power cut, and the
    // old snapshot would come back after an acknowledged newer one.
    sync_dir(&target.dir)
}

fn write_durable_temp(temp: &Path, groups: &[GroupSnapshot]) -> Result<(), PersistError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(|e| PersistError::io("creating snapshot file", temp, e))?;
    let writer = encode(groups, BufWriter::with_capacity(WRITE_BUFFER, file))
        .map_err(|e| PersistError::io("writing snapshot file", temp, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| PersistError::io("writing snapshot file", temp, e.into_error()))?;
    file.sync_all()
        .map_err(|e| PersistError::io("syncing snapshot file", temp, e))
}

fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| PersistError::io("syncing directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Bucket, BucketSpan, Counter, Exemplar, Histogram, MetricFamily, MetricType, NameValidation,
        Quantile, Summary, Timestamp, Value,
    };
    use crate::model::{GroupingKey, Label};
    use crate::store::{CheckMode, Push, PushOutcome};
    use crate::testutil::{eventually, helped_family as family, series, TempDir};

    fn new_store() -> Store {
        Store::new(Vec::new(), CheckMode::Checked, NameValidation::Legacy)
    }

    fn key(job: &str) -> GroupingKey {
        GroupingKey::new([Label::new("job", job), Label::new("zone", "eu \u{e9}")])
    }

    /// Later stores box the histogram; `into` builds either shape.
    #[allow(clippy::useless_conversion)]
    fn histogram(h: Histogram) -> Value {
        Value::Histogram(h.into())
    }

    fn exemplar() -> Exemplar {
        Exemplar {
            labels: vec![Label::new("trace_id", "abc")],
            value: 0.25,
            timestamp: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 5,
            }),
        }
    }

    /// One family of every type, native histograms (integer and float) included.
    fn every_type() -> Vec<MetricFamily> {
        let created = Some(Timestamp {
            seconds: 1_600_000_000,
            nanos: 123,
        });
        let counter = Value::Counter(Counter {
            value: 42.5,
            exemplar: Some(exemplar()),
            created,
        });
        let summary = Value::Summary(Summary {
            sample_count: 7,
            sample_sum: 1.5,
            quantiles: vec![
                Quantile {
                    quantile: 0.5,
                    value: 0.1,
                },
                Quantile {
                    quantile: 0.99,
                    value: f64::NAN,
                },
            ],
            created,
        });
        let classic = histogram(Histogram {
            sample_count: Some(3),
            sample_sum: Some(2.0),
            buckets: vec![
                Bucket {
                    cumulative_count: Some(1),
                    upper_bound: 0.5,
                    exemplar: Some(exemplar()),
                    ..Bucket::default()
                },
                Bucket {
                    cumulative_count: Some(3),
                    upper_bound: f64::INFINITY,
                    ..Bucket::default()
                },
            ],
            ..Histogram::default()
        });
        let spans = vec![
            BucketSpan {
                offset: -2,
                length: 2,
            },
            BucketSpan {
                offset: 3,
                length: 1,
            },
        ];
        let native = histogram(Histogram {
            sample_count: Some(6),
            sample_sum: Some(-3.25),
            schema: Some(3),
            zero_threshold: Some(1e-128),
            zero_count: Some(1),
            negative_spans: spans.clone(),
            negative_deltas: vec![1, -1, 2],
            positive_spans: spans.clone(),
            positive_deltas: vec![2, 0, -1],
            exemplars: vec![exemplar()],
            created,
            ..Histogram::default()
        });
        let native_float = histogram(Histogram {
            sample_count_float: Some(4.5),
            sample_sum: Some(9.0),
            schema: Some(-1),
            zero_threshold: Some(0.001),
            zero_count_float: Some(0.5),
            positive_spans: spans,
            positive_counts: vec![1.0, 2.0, 1.0],
            ..Histogram::default()
        });
        vec![
            family(
                "a_counter",
                MetricType::Counter,
                vec![series(&[("x", "1")], counter)],
            ),
            family(
                "b_gauge",
                MetricType::Gauge,
                vec![series(&[("x", "\"q\"\n")], Value::Gauge(-0.0))],
            ),
            family(
                "c_untyped",
                MetricType::Untyped,
                vec![series(&[], Value::Untyped(f64::NEG_INFINITY))],
            ),
            family("d_summary", MetricType::Summary, vec![series(&[], summary)]),
            family(
                "e_histogram",
                MetricType::Histogram,
                vec![series(&[], classic)],
            ),
            family("f_native", MetricType::Histogram, vec![series(&[], native)]),
            family(
                "g_native_float",
                MetricType::Histogram,
                vec![series(&[], native_float)],
            ),
            family(
                "h_gauge_histogram",
                MetricType::GaugeHistogram,
                vec![series(
                    &[("x", "2")],
                    histogram(Histogram {
                        sample_count: Some(1),
                        sample_sum: Some(1.0),
                        buckets: vec![Bucket {
                            cumulative_count: Some(1),
                            upper_bound: f64::INFINITY,
                            ..Bucket::default()
                        }],
                        ..Histogram::default()
                    }),
                )],
            ),
        ]
    }

    /// A POST; the one place that builds a `Push`.
    fn try_push(
        store: &Store,
        key: GroupingKey,
        families: Vec<MetricFamily>,
        at: i64,
    ) -> PushOutcome {
        store.push(Push {
            key,
            families,
            replace_group: false,
            received_at: at,
            ttl: None,
        })
    }

    fn push(store: &Store, key: GroupingKey, families: Vec<MetricFamily>, at: i64) {
        assert_eq!(try_push(store, key, families, at), PushOutcome::Applied);
    }

    /// A store with every metric type, a failed push and families written at
    /// different times, so both gauges and every `written_at` differ.
    fn populated_store() -> Store {
        let store = new_store();
        push(&store, key("all"), every_type(), 1_583_781_848_025_745_123);
        let late = vec![family(
            "z_late",
            MetricType::Gauge,
            vec![series(&[], Value::Gauge(1.0))],
        )];
        push(&store, key("all"), late, 1_583_781_900_000_000_001);
        let timestamped = {
            let mut f = family(
                "b_gauge",
                MetricType::Gauge,
                vec![series(&[], Value::Gauge(2.0))],
            );
            f.metrics[0].timestamp_ms = Some(0);
            f
        };
        let outcome = try_push(
            &store,
            key("all"),
            vec![timestamped],
            1_583_781_999_999_999_999,
        );
        assert!(matches!(outcome, PushOutcome::Rejected(_)), "{:?}", outcome);
        push(
            &store,
            GroupingKey::new([Label::new("job", "empty")]),
            Vec::new(),
            7,
        );
        store
    }

    /// Deep equality that also treats NaN as equal to NaN (bitwise, via Debug).
    fn assert_same_groups(want: &[GroupSnapshot], got: &[GroupSnapshot]) {
        assert_eq!(want.len(), got.len(), "group count");
        for (w, g) in want.iter().zip(got) {
            assert_eq!(w.key, g.key);
            assert_eq!(
                w.families.len(),
                g.families.len(),
                "families of {:?}",
                w.key
            );
            for (wf, gf) in w.families.iter().zip(&g.families) {
                assert_eq!(wf.written_at, gf.written_at, "written_at of {}", wf.name());
                assert_eq!(format!("{:?}", wf.family()), format!("{:?}", gf.family()));
            }
            assert_eq!(w.push_time().to_bits(), g.push_time().to_bits());
            assert_eq!(w.failure_time().to_bits(), g.failure_time().to_bits());
        }
    }

    fn encode_to_vec(groups: &[GroupSnapshot]) -> Vec<u8> {
        encode(groups, Vec::new()).expect("encoding into memory cannot fail")
    }

    /// Magic + `body` + the CRC of `body`: a file with a valid checksum.
    fn sealed(body: &[u8]) -> Vec<u8> {
        let mut crc = Crc32c::new();
        crc.update(body);
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(body);
        out.extend_from_slice(&crc.finish().to_le_bytes());
        out
    }

    fn crc32c(data: &[u8]) -> u32 {
        let mut crc = Crc32c::new();
        crc.update(data);
        crc.finish()
    }

    // --- CRC-32C

    #[test]
    fn crc32c_known_vectors() {
        let ascending: Vec<u8> = (0u8..32).collect();
        let descending: Vec<u8> = (0u8..32).rev().collect();
        let cases: [(&str, &[u8], u32); 6] = [
            ("empty", b"", 0x0000_0000),
            ("check string", b"123456789", 0xE306_9283),
            ("32 zeros (RFC 3720)", &[0u8; 32], 0x8A91_36AA),
            ("32 ones (RFC 3720)", &[0xFFu8; 32], 0x62A8_AB43),
            ("ascending (RFC 3720)", &ascending, 0x46DD_794E),
            ("descending (RFC 3720)", &descending, 0x113F_DB5C),
        ];
        for (name, data, want) in cases {
            assert_eq!(crc32c(data), want, "{}", name);
        }
    }

    #[test]
    fn crc32c_incremental_equals_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let mut crc = Crc32c::new();
            crc.update(&data[..split]);
            crc.update(&data[split..]);
            assert_eq!(crc.finish(), crc32c(&data), "split at {}", split);
        }
    }

    // --- Format

    #[test]
    fn every_type_round_trips_through_the_format() {
        let store = populated_store();
        let groups = store.groups();
        let decoded = decode(&encode_to_vec(&groups)).expect("decoding what was encoded");
        assert_same_groups(&groups, &decoded);
    }

    #[test]
    fn group_ttl_round_trips() {
        let store = new_store();
        push(&store, key("ttl"), Vec::new(), 1);
        let g = store.groups().remove(0);
        for ttl in [
            None,
            Some(Duration::from_secs(90)),
            Some(Duration::from_nanos(1)),
        ] {
            let with_ttl = group_snapshot(g.key.clone(), g.families.clone(), ttl);
            let decoded = decode(&encode_to_vec(std::slice::from_ref(&with_ttl))).expect("decodes");
            assert_eq!(group_ttl(&decoded[0]), group_ttl(&with_ttl), "{:?}", ttl);
        }
    }

    #[test]
    fn empty_store_encodes_to_header_and_trailer() {
        let bytes = encode_to_vec(&[]);
        assert_eq!(bytes.len(), HEADER_LEN + TRAILER_LEN);
        assert_eq!(&bytes[..8], b"PGSTORE1");
        assert_eq!(&bytes[8..16], &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert!(decode(&bytes).expect("empty snapshot").is_empty());
    }

    #[test]
    fn every_prefix_of_a_snapshot_is_refused() {
        let store = new_store();
        push(
            &store,
            key("j"),
            vec![family(
                "g",
                MetricType::Gauge,
                vec![series(&[], Value::Gauge(1.0))],
            )],
            5,
        );
        let bytes = encode_to_vec(&store.groups());
        for len in 0..bytes.len() {
            assert!(
                decode(&bytes[..len]).is_err(),
                "prefix of {} bytes was accepted",
                len
            );
        }
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    fn damaged_headers_are_refused_with_a_reason() {
        let good = encode_to_vec(&populated_store().groups());
        let mut wrong_magic = good.clone();
        wrong_magic[0] = b'X';
        let mut wrong_version = good.clone();
        wrong_version[8] = 2;
        let mut flipped = good.clone();
        let middle = good.len() / 2;
        flipped[middle] ^= 0x01;
        let mut bad_trailer = good.clone();
        let last = good.len() - 1;
        bad_trailer[last] ^= 0x80;
        let cases: [(&str, Vec<u8>, &str); 5] = [
            ("wrong magic", wrong_magic, "no PGSTORE1 magic"),
            (
                "wrong version",
                wrong_version,
                "unsupported format version 2",
            ),
            ("flipped bit", flipped, "checksum mismatch"),
            ("bad checksum", bad_trailer, "checksum mismatch"),
            (
                "gob-like garbage",
                b"\x0e\xff\x81\x03\x01\x01garbage".to_vec(),
                "no PGSTORE1 magic",
            ),
        ];
        for (name, bytes, want) in cases {
            let err = decode(&bytes).expect_err(name);
            assert!(err.to_string().contains(want), "{}: {}", name, err);
        }
    }

    #[test]
    fn counts_beyond_the_file_are_refused_before_allocating() {
        // Words after the magic: version, group count, then one group's
        // fields; 32 zero bytes of padding so only the named count is too big.
        let max = u32::MAX;
        let cases: [(&str, &[u32], &str); 4] = [
            ("group count", &[1, max], "group count"),
            ("label count", &[1, 1, max], "label count"),
            ("family count", &[1, 1, 0, 0, 0, max], "family count"),
            ("string length", &[1, 1, 1, max], "label name"),
        ];
        for (name, words, want) in cases {
            let mut body: Vec<u8> = words.iter().flat_map(|n| n.to_le_bytes()).collect();
            body.extend_from_slice(&[0; 32]);
            let err = decode(&sealed(&body)).expect_err(name);
            assert!(err.to_string().contains(want), "{}: {}", name, err);
        }
    }

    #[test]
    fn duplicates_and_trailing_bytes_are_refused_even_with_a_valid_checksum() {
        let store = new_store();
        push(&store, key("j"), Vec::new(), 1);
        let one = store.groups();
        let two = vec![one[0].clone(), one[0].clone()];
        let err = decode(&encode_to_vec(&two)).expect_err("duplicate group");
        assert!(err.to_string().contains("appears twice"), "{}", err);

        let mut doubled = one[0].clone();
        doubled.families.push(doubled.families[0].clone());
        let err = decode(&encode_to_vec(&[doubled])).expect_err("duplicate family");
        assert!(err.to_string().contains("twice"), "{}", err);

        let bytes = encode_to_vec(&one);
        let mut body = bytes[8..bytes.len() - 4].to_vec();
        body.push(0);
        let err = decode(&sealed(&body)).expect_err("trailing byte");
        assert!(err.to_string().contains("unexpected bytes"), "{}", err);
    }

    #[test]
    fn mutated_snapshots_never_panic() {
        let bytes = encode_to_vec(&populated_store().groups());
        let body = &bytes[8..bytes.len() - 4];
        // xorshift: fixed seed, bounded count; re-sealed so the decoder
        // itself (not just the checksum) sees every mutation.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let mut m = body.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            let cut = (next() as usize) % (m.len() + 1);
            let _ = decode(&sealed(&m));
            let _ = decode(&sealed(&m[..cut]));
        }
    }

    // --- Files

    #[test]
    fn missing_file_starts_empty_and_shutdown_writes_it_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("missing");
        let store = new_store();
        let p = open(&dir.file(), &store).expect("open");
        assert!(store.groups().is_empty());
        assert!(!dir.file().exists(), "nothing is written before a snapshot");
        p.shutdown(&store)
            .expect("final snapshot of an unchanged store");
        let meta = fs::metadata(dir.file()).expect("file written at shutdown");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(dir.names(), ["pg.db", "pg.db.lock"]);
    }

    #[test]
    fn store_survives_a_restart_exactly() {
        let dir = TempDir::new("restart");
        let store = new_store();
        let p = open(&dir.file(), &store).expect("open");
        let populated = populated_store();
        store.restore(populated.groups());
        p.shutdown(&store).expect("shutdown");

        let restored = new_store();
        let _p = open(&dir.file(), &restored).expect("reopen");
        assert_same_groups(&store.groups(), &restored.groups());
        assert!(restored.gather().is_ok(), "restored index is consistent");
    }

    #[test]
    fn damaged_files_are_moved_aside_and_the_store_starts_empty() {
        let good = encode_to_vec(&populated_store().groups());
        let mut wrong_version = good.clone();
        wrong_version[8] = 9;
        let mut bad_checksum = good.clone();
        bad_checksum[20] ^= 0xFF;
        let cases: [(&str, Vec<u8>); 5] = [
            ("garbage", b"garbage\n".to_vec()),
            ("empty file", Vec::new()),
            ("truncated", good[..good.len() - 3].to_vec()),
            ("wrong version", wrong_version),
            ("bad checksum", bad_checksum),
        ];
        for (name, bytes) in cases {
            let dir = TempDir::new("corrupt");
            fs::write(dir.file(), &bytes).expect("writing the damaged file");
            let store = new_store();
            let p = open(&dir.file(), &store).unwrap_or_else(|e| panic!("{}: {}", name, e));
            assert!(store.groups().is_empty(), "{}: store not empty", name);
            assert!(
                !dir.file().exists(),
                "{}: damaged file still in place",
                name
            );
            let aside = fs::read(dir.0.join("pg.db.corrupt")).expect(name);
            assert_eq!(aside, bytes, "{}: bytes not preserved", name);
            // The next snapshot must not touch the copy.
            p.shutdown(&store).expect(name);
            assert_eq!(
                fs::read(dir.0.join("pg.db.corrupt")).expect(name),
                bytes,
                "{}",
                name
            );
        }
    }

    #[test]
    fn an_earlier_corrupt_copy_is_never_overwritten() {
        let dir = TempDir::new("corrupt-twice");
        fs::write(dir.0.join("pg.db.corrupt"), b"first").expect("first copy");
        fs::write(dir.file(), b"second").expect("second damaged file");
        let store = new_store();
        let _p = open(&dir.file(), &store).expect("open");
        assert_eq!(
            fs::read(dir.0.join("pg.db.corrupt")).expect("first"),
            b"first"
        );
        let second: Vec<String> = dir
            .names()
            .into_iter()
            .filter(|n| n.starts_with("pg.db.corrupt-"))
            .collect();
        assert_eq!(second.len(), 1, "{:?}", dir.names());
        assert_eq!(fs::read(dir.0.join(&second[0])).expect("second"), b"second");
    }

    #[test]
    fn leftover_temp_files_are_removed_at_open() {
        let dir = TempDir::new("leftovers");
        for name in [
            "pg.db.in_progress.1234",
            "pg.db.in_progress.abc",
            "other.db.in_progress.1",
            "pg.dbx",
        ] {
            fs::write(dir.0.join(name), b"x").expect("writing a leftover");
        }
        let store = new_store();
        let _p = open(&dir.file(), &store).expect("open");
        assert_eq!(
            dir.names(),
            ["other.db.in_progress.1", "pg.db.lock", "pg.dbx"]
        );
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_lives() {
        let dir = TempDir::new("lock");
        let store = new_store();
        let first = open(&dir.file(), &store).expect("first open");
        let err = match open(&dir.file(), &new_store()) {
            Ok(_) => panic!("second open succeeded"),
            Err(e) => e,
        };
        assert!(err.is_locked());
        assert!(
            err.to_string().contains("another pushgate holds the lock"),
            "{}",
            err
        );
        drop(first);
        open(&dir.file(), &new_store()).expect("open after the first was dropped");
    }

    #[test]
    fn a_half_written_temp_file_leaves_the_target_intact() {
        let dir = TempDir::new("crash");
        let store = populated_store();
        let p = open(&dir.file(), &new_store()).expect("open");
        p.shutdown(&store).expect("snapshot");
        let committed = fs::read(dir.file()).expect("snapshot written");
        // The crash: a newer snapshot died halfway, before its rename.
        push(&store, key("newer"), Vec::new(), 99);
        let newer = encode_to_vec(&store.groups());
        let temp = dir.0.join("pg.db.in_progress.deadbeef");
        fs::write(&temp, &newer[..newer.len() / 2]).expect("half-written temp file");

        let restored = new_store();
        let _p = open(&dir.file(), &restored).expect("restart");
        assert!(!temp.exists(), "temp file removed");
        assert_eq!(fs::read(dir.file()).expect("target"), committed);
        assert_same_groups(&populated_store().groups(), &restored.groups());
    }

    #[test]
    fn a_failed_write_removes_its_temp_file_and_keeps_the_target() {
        let dir = TempDir::new("failed-write");
        let store = populated_store();
        let p = open(&dir.file(), &new_store()).expect("open");
        p.shutdown(&store).expect("snapshot");
        let committed = fs::read(dir.file()).expect("snapshot written");
        // A directory where the target should be makes the rename fail.
        let target = Target::new(&dir.0.join("blocked")).expect("target");
        fs::create_dir(dir.0.join("blocked")).expect("blocking directory");
        fs::write(dir.0.join("blocked").join("x"), b"x").expect("non-empty");
        let err = write_snapshot(&target, &store).expect_err("rename over a directory");
        assert!(err.to_string().contains("renaming snapshot"), "{}", err);
        assert!(
            !dir.names().iter().any(|n| n.contains(".in_progress.")),
            "{:?}",
            dir.names()
        );
        assert_eq!(fs::read(dir.file()).expect("target"), committed);
    }

    // --- Timer

    #[test]
    fn timer_writes_after_changes_and_not_while_idle() {
        let dir = TempDir::new("timer");
        let store = Arc::new(new_store());
        let mut p = open(&dir.file(), &store).expect("open");
        p.spawn_timer(store.clone(), Duration::from_millis(50))
            .expect("timer");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(p.snapshots_written(), 0, "an idle store is not written");

        push(&store, key("one"), Vec::new(), 1);
        assert!(eventually(Duration::from_secs(5), || p.snapshots_written() == 1));
        let restored = new_store();
        restored.restore(decode(&fs::read(dir.file()).expect("file")).expect("decodes"));
        assert_eq!(restored.groups().len(), 1);

        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(p.snapshots_written(), 1, "no rewrite while idle");

        push(&store, key("two"), Vec::new(), 2);
        assert!(eventually(Duration::from_secs(5), || p.snapshots_written() == 2));
        p.shutdown(&store).expect("shutdown");
    }

    #[test]
    fn zero_interval_coalesces_a_burst() {
        let dir = TempDir::new("timer-zero");
        let store = Arc::new(new_store());
        let mut p = open(&dir.file(), &store).expect("open");
        p.spawn_timer(store.clone(), Duration::ZERO).expect("timer");
        for i in 0..50 {
            push(&store, key(&format!("g{}", i)), Vec::new(), i);
        }
        assert!(eventually(Duration::from_secs(5), || {
            fs::read(dir.file())
                .ok()
                .and_then(|b| decode(&b).ok())
                .map(|g| g.len())
                == Some(50)
        }));
        assert!(p.snapshots_written() <= 50, "{}", p.snapshots_written());
        p.shutdown(&store).expect("shutdown");
    }

    #[test]
    fn no_timer_snapshot_after_shutdown() {
        let dir = TempDir::new("timer-stop");
        let store = Arc::new(new_store());
        let mut p = open(&dir.file(), &store).expect("open");
        p.spawn_timer(store.clone(), Duration::ZERO).expect("timer");
        let timer = p.timer.clone();
        p.shutdown(&store).expect("shutdown");
        let written = fs::read(dir.file()).expect("final snapshot");
        push(&store, key("late"), Vec::new(), 1);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(timer.lock().snapshots_written, 1);
        assert_eq!(fs::read(dir.file()).expect("file"), written);
    }

    // --- Wiring

    #[test]
    fn start_without_a_file_is_memory_only() {
        let store = Arc::new(new_store());
        let p = start("", Duration::ZERO, &store, &Arc::default()).expect("start");
        assert!(p.is_none());
        finish(p, &store);
    }

    #[test]
    fn start_and_finish_persist_the_store() {
        let dir = TempDir::new("wiring");
        let file = dir.file().to_string_lossy().into_owned();
        let store = Arc::new(new_store());
        let p = start(&file, Duration::from_secs(3600), &store, &Arc::default()).expect("start");
        push(&store, key("w"), Vec::new(), 3);
        finish(p, &store);
        let restored = Arc::new(new_store());
        let _p =
            start(&file, Duration::from_secs(3600), &restored, &Arc::default()).expect("restart");
        assert_same_groups(&store.groups(), &restored.groups());
    }

    // --- Benchmark (scripts/bench/bench-persist.sh runs it in release mode)

    /// Prints snapshot write time, file size and restart time. Sizes come
    /// from `PERSIST_BENCH_SERIES` (space-separated), default 100k and 1M.
    #[test]
    #[ignore = "benchmark; run through scripts/bench/bench-persist.sh"]
    fn persist_bench() {
        let sizes =
            std::env::var("PERSIST_BENCH_SERIES").unwrap_or_else(|_| "100000 1000000".into());
        for total in sizes.split_whitespace() {
            bench_one(
                total
                    .parse()
                    .expect("PERSIST_BENCH_SERIES holds series counts"),
            );
        }
    }

    fn bench_one(total: usize) {
        const SERIES_PER_FAMILY: usize = 10;
        const FAMILIES_PER_GROUP: usize = 10;
        let per_group = SERIES_PER_FAMILY * FAMILIES_PER_GROUP;
        let dir = TempDir::new("bench");
        let store = new_store();
        for g in 0..total / per_group {
            let families = (0..FAMILIES_PER_GROUP)
                .map(|f| {
                    let metrics = (0..SERIES_PER_FAMILY)
                        .map(|s| {
                            let s = s.to_string();
                            series(
                                &[("series", &s), ("path", "/api/v1/items")],
                                Value::Gauge(g as f64 + 0.5),
                            )
                        })
                        .collect();
                    family(&format!("bench_metric_{}", f), MetricType::Gauge, metrics)
                })
                .collect();
            let key = GroupingKey::new([
                Label::new("job", "bench"),
                Label::new("instance", format!("host-{}", g)),
            ]);
            push(&store, key, families, g as i64);
        }
        let (groups, stored) = store.usage();
        let p = open(&dir.file(), &new_store()).expect("open");
        let started = Instant::now();
        p.shutdown(&store).expect("snapshot");
        let write = started.elapsed();
        let size = fs::metadata(dir.file()).expect("file").len();
        let started = Instant::now();
        let bytes = fs::read(dir.file()).expect("file");
        let read = started.elapsed();
        let started = Instant::now();
        let decoded = decode(&bytes).expect("decodes");
        let decode_time = started.elapsed();
        let started = Instant::now();
        new_store().restore(decoded);
        let restore = started.elapsed();
        let restored = new_store();
        let started = Instant::now();
        let _p = open(&dir.file(), &restored).expect("restart");
        let restart = started.elapsed();
        assert_eq!(restored.usage(), (groups, stored));
        println!(
            "persist_bench series={} groups={} stored_series={} write_ms={:.1} file_bytes={} \
             restart_ms={:.1} (read_ms={:.1} decode_ms={:.1} restore_ms={:.1})",
            total,
            groups,
            stored,
            write.as_secs_f64() * 1e3,
            size,
            restart.as_secs_f64() * 1e3,
            read.as_secs_f64() * 1e3,
            decode_time.as_secs_f64() * 1e3,
            restore.as_secs_f64() * 1e3
        );
    }
}
