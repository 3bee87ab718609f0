#!/usr/bin/env bash
# Runs every pushgate test on a fresh machine: installs the peers the tests
# talk to (Debian and PyPI packages), then runs `cargo test` and the
# peer-driven suites. Safe to re-run; installs are skipped when present.
# Needs root (apt-get, dpkg -i of the package) and a free port 9091.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

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

echo "== fuzzing, 60 s per target"
scripts/fuzz.sh 60

echo "== end-to-end with real peers"
scripts/e2e.sh target/debug/pushgate

echo "== sharded pushgates behind HAProxy, scraped by Prometheus"
python3 scripts/test_shards.py --pushgate target/debug/pushgate

echo "== release artefact (static, size budget, runs with env -i)"
scripts/check-release.sh

echo "== Debian package: build, dpkg -i, run, dpkg -r, dpkg -P"
scripts/test-deb.sh

echo "== alerting rules (promtool check and test rules)"
scripts/check-prometheus-rules.sh

echo "== README commands, in order, against cargo run --release"
scripts/test-readme.sh

echo "== all suites passed in $(( $(date +%s) - start )) s"
echo "cargo test: $passed passed, $failed failed"
