//! Records build information for `pushgateway_build_info` and
//! `/api/v1/status`: compiler version, git revision and branch, build user
//! and date, as `PUSHGATE_BUILD_*` compile-time variables.
//!
//! Never fails: whatever cannot be found (no git, no `$USER`) becomes
//! `unknown`. It reruns only when git's HEAD moves or an input variable
//! changes, so an ordinary rebuild does not recompile the crate.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const UNKNOWN: &str = "unknown";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in ["SOURCE_DATE_EPOCH", "USER", "HOSTNAME", "RUSTC"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    watch_git_head();

    set("PUSHGATE_BUILD_RUST_VERSION", &rust_version());
    set(
        "PUSHGATE_BUILD_REVISION",
        &git(&["rev-parse", "--short", "HEAD"]),
    );
    set(
        "PUSHGATE_BUILD_BRANCH",
        &git(&["rev-parse", "--abbrev-ref", "HEAD"]),
    );
    set("PUSHGATE_BUILD_USER", &build_user());
    set("PUSHGATE_BUILD_DATE", &build_date());
    set("PUSHGATE_BUILD_TAGS", &feature_tags());
}

fn set(name: &str, value: &str) {
    // A newline would end the directive early.
    let value = value.replace(['\n', '\r'], " ");
    println!("cargo:rustc-env={name}={value}");
}

/// `rust1.95.0` from `rustc 1.95.0 (59807616e 2026-04-14)`.
fn rust_version() -> String {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    command_output(&rustc, &["--version"])
        .and_then(|out| out.split_whitespace().nth(1).map(|v| format!("rust{v}")))
        .unwrap_or_else(|| UNKNOWN.to_string())
}

fn git(args: &[&str]) -> String {
    command_output("git", args).unwrap_or_else(|| UNKNOWN.to_string())
}

/// The trimmed stdout of a successful command with non-empty output.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Reruns when HEAD or the branch it names moves. Only existing files are
/// listed: cargo reruns on every build for a listed file that is missing.
fn watch_git_head() {
    let Some(git_dir) = command_output("git", &["rev-parse", "--git-dir"]) else {
        return;
    };
    let git_dir = PathBuf::from(git_dir);
    let common_dir = command_output("git", &["rev-parse", "--git-common-dir"])
        .map(PathBuf::from)
        .unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![git_dir.join("HEAD"), common_dir.join("packed-refs")];
    if let Some(reference) = command_output("git", &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(reference));
    }
    for path in watched.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// `$USER@$HOSTNAME`, the host falling back to the kernel's hostname.
fn build_user() -> String {
    let user = env::var("USER").ok().filter(|u| !u.is_empty());
    let host = env::var("HOSTNAME")
        .ok()
        .or_else(|| read_trimmed(Path::new("/proc/sys/kernel/hostname")))
        .filter(|h| !h.is_empty());
    match (user, host) {
        (Some(user), Some(host)) => format!("{user}@{host}"),
        (Some(user), None) => user,
        (None, _) => UNKNOWN.to_string(),
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// `YYYYMMDD-HH:MM:SS` in UTC, from `SOURCE_DATE_EPOCH` for reproducible
/// builds, else from the clock.
fn build_date() -> String {
    let secs = env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs() as i64)
        });
    match secs {
        Some(secs) => format_build_date(secs),
        None => UNKNOWN.to_string(),
    }
}

fn format_build_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Enabled cargo features, lower-case and comma-joined, or `unknown`.
fn feature_tags() -> String {
    let mut features: Vec<String> = env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_ascii_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    if features.is_empty() {
        UNKNOWN.to_string()
    } else {
        features.join(",")
    }
}
