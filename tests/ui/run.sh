#!/usr/bin/env bash
# Runs the headless-Chromium UI test (tests/ui/ui_test.mjs) against a pushgate
# binary. Usage: tests/ui/run.sh [path/to/pushgate]  (default target/debug/pushgate).
# Needs node (>= 18) and Debian's chromium (apt-get install -y chromium);
# installs playwright-core into target/ui-node/ once (it drives the system
# chromium; no browser is downloaded). Exits non-zero on any failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/debug/pushgate}
node_dir=$root/target/ui-node

[ -x "$bin" ] || { echo "ui test: no pushgate binary at $bin (run cargo build)" >&2; exit 2; }
"$root/scripts/install-test-peers.sh" --ui
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$chromium" ] || { echo "ui test: chromium not found" >&2; exit 2; }

export PUSHGATE_BIN=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
export CHROMIUM="$chromium" UI_NODE_DIR="$node_dir"
exec timeout ${UI_TEST_TIMEOUT:-300} node "$root/tests/ui/ui_test.mjs"
