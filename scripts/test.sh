#!/usr/bin/env bash
# Runs every pushgate test on a fresh machine: installs the peers the tests
# talk to (Debian and PyPI packages), then runs `cargo test` and the
# peer-driven suites. Safe to re-run; installs are skipped when present.
# Needs root (apt-get, dpkg -i of the package) and a free port 9091.
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
python3 scripts/test/compare-upstream.py --pushgate target/debug/pushgate

echo "== prometheus_client round trip"
scripts/test/python-client.sh target/debug/pushgate

echo "== systemd units"
scripts/ship/verify-units.sh target/debug/pushgate

echo "== web UI in headless Chromium"
tests/ui/run.sh target/debug/pushgate

# Known crashes are replayed by `cargo test` (fuzz/regressions) and decide
# CI. This search is bounded by input count (not time) from a fixed seed,
# but its path is not repeatable: the code under test hashes with randomly
# seeded maps, so coverage feedback differs between runs (two runs of
# --runs=20000 --seed=1 ended at text_parse cov 1312 and 1305). A crash it
# finds is therefore reported, with its replay command, and does not fail
# this run; once fixed it joins fuzz/regressions. Longer: scripts/test/fuzz.sh 600.
echo "== fuzzing: 100000 inputs per target from seed 1 (reported, not gating)"
fuzz_note="fuzz: the bounded run found no new crash"
if ! scripts/test/fuzz.sh --runs=100000 --seed=1; then
    fuzz_note="fuzz: NEW CRASH in the bounded run (see above); add it to fuzz/regressions/ once fixed"
fi

echo "== end-to-end with real peers"
scripts/test/e2e.sh target/debug/pushgate

echo "== sharded pushgates behind HAProxy, scraped by Prometheus"
python3 scripts/test/shards.py --pushgate target/debug/pushgate

echo "== release artefact (static, size budget, runs with env -i)"
scripts/ship/check-release.sh

echo "== Debian package: build, dpkg -i, run, dpkg -r, dpkg -P"
scripts/test/deb.sh

echo "== alerting rules (promtool check and test rules)"
scripts/test/prometheus-rules.sh

echo "== README commands, in order, against cargo run --release"
scripts/test/readme.sh

echo "== all suites passed in $(( $(date +%s) - start )) s"
echo "cargo test: $passed passed, $failed failed"
grep -h "^skipped: [0-9]" target/cargo-test.log || true
echo "$fuzz_note"
