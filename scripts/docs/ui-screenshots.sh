#!/usr/bin/env bash
# Writes PNG screenshots of the web UI (metrics and status views, light and
# dark) into target/screenshots/, for a person to look at. Starts pushgate
# with sample data on 127.0.0.1:0 and drives Debian's chromium through
# playwright-core (installed once into target/ui-node/; no browser download).
# Usage: scripts/docs/ui-screenshots.sh [path/to/pushgate]  (default target/debug/pushgate)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/debug/pushgate}
node_dir=$root/target/ui-node

[ -x "$bin" ] || { echo "ui-screenshots: no pushgate binary at $bin (run cargo build)" >&2; exit 2; }
"$root/scripts/install-test-peers.sh" --ui
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$chromium" ] || { echo "ui-screenshots: chromium not found" >&2; exit 2; }

mkdir -p "$root/target/screenshots"
export PUSHGATE_BIN=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
export CHROMIUM="$chromium" UI_NODE_DIR="$node_dir" SCREENSHOT_DIR="$root/target/screenshots"
exec timeout 120 node "$root/scripts/docs/ui-screenshots.mjs"
