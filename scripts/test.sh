#!/usr/bin/env bash
# Runs every pushgate test on a fresh machine: installs the peers the tests
# talk to (Debian and PyPI packages), then runs `cargo test` and the
# peer-driven suites. Safe to re-run; installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# First and fast: formatting and lints, the main crate and the fuzz crate.
echo "== cargo fmt --check, cargo clippy -D warnings"
cargo fmt --check
cargo fmt --check --manifest-path fuzz/Cargo.toml
cargo clippy --all-targets -- -D warnings

scripts/install-test-peers.sh

echo "== cargo test"
mkdir -p target
cargo test 2>&1 | tee target/cargo-test.log
passed=$(awk '/^test result:/ {n += $4} END {print n + 0}' target/cargo-test.log)
failed=$(awk '/^test result:/ {n += $6} END {print n + 0}' target/cargo-test.log)
[ "$failed" = 0 ] && grep -q "^test result: ok" target/cargo-test.log

echo "== compare with upstream Pushgateway"
python3 scripts/compare_upstream.py --pushgate target/debug/pushgate

echo "== prometheus_client round trip"
scripts/python-client.sh target/debug/pushgate

echo "== systemd units"
scripts/verify-units.sh target/debug/pushgate

echo "== web UI in headless Chromium"
tests/ui/run.sh target/debug/pushgate

# Known crashes are replayed by `cargo test` (fuzz/regressions) and decide
# CI. This bounded search from a fixed seed is repeatable for one commit and
# toolchain, but which inputs it reaches shifts with unrelated code changes,
# so a crash it finds is reported, with its replay command, and does not fail
# the run. Longer searches: scripts/fuzz.sh [seconds].
echo "== fuzzing: 20000 runs per target from seed 1 (reported, not gating)"
fuzz_note="fuzz: fixed-seed run found nothing"
if ! scripts/fuzz.sh --runs=20000 --seed=1; then
    fuzz_note="fuzz: NEW CRASH in the fixed-seed run (see above); add it to fuzz/regressions/ once fixed"
fi

echo "== end-to-end with real peers"
scripts/e2e.sh target/debug/pushgate

echo "== release artefact (static, size budget, runs with env -i)"
scripts/check-release.sh

echo "== all suites passed in $(( $(date +%s) - start )) s"
echo "cargo test: $passed passed, $failed failed"
grep -h "^skipped: [0-9]" target/cargo-test.log || true
echo "$fuzz_note"
