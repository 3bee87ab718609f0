//! Replays every committed fuzz input, deterministically, through the same
//! checks the fuzz targets run: each file of `fuzz/regressions/<target>/`
//! (every crash ever found, kept once fixed) and of `fuzz/seeds/<target>/`.
//! A regression is a file name in the failure message, not a lucky run.
//!
//! `body_decode` runs without its heap bound here: that needs the counting
//! global allocator only the fuzz binary installs (`scripts/test/fuzz.sh`).

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

// The fuzz crate re-exports helpers this replay does not call.
#[allow(unused_imports)]
#[path = "../fuzz/src/targets.rs"]
mod targets;

const DIRS: [&str; 2] = ["fuzz/regressions", "fuzz/seeds"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_fuzz_input_passes_its_target() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for dir in DIRS {
        for (name, check) in targets::TARGETS {
            for file in inputs(&root().join(dir).join(name)) {
                let data = fs::read(&file).expect("readable fuzz input");
                replayed += 1;
                if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
                    failures.push(format!("{name}: {}", file.display()));
                }
            }
        }
    }
    eprintln!("fuzz replay: {replayed} inputs");
    assert!(
        failures.is_empty(),
        "fuzz inputs that fail their target (panic messages above):\n{}",
        failures.join("\n")
    );
}

/// A directory under `fuzz/regressions/` or `fuzz/seeds/` that names no
/// target would be skipped silently; the regression corpus must not be empty.
#[test]
fn fuzz_input_directories_name_targets() {
    let known: Vec<&str> = targets::TARGETS.iter().map(|(name, _)| *name).collect();
    for dir in DIRS {
        for entry in fs::read_dir(root().join(dir)).expect("directory exists") {
            let path = entry.expect("readable directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(
                path.is_dir() && known.contains(&name),
                "{} is not a directory named after a fuzz target {known:?}",
                path.display()
            );
        }
    }
    let nan = root().join("fuzz/regressions/text_parse/nan_bucket_count");
    assert!(nan.is_file(), "{} is missing", nan.display());
}
