#!/usr/bin/env bash
# Real-client round trip: runs scripts/test/python-client.py (PyPI prometheus_client:
# push_to_gateway, pushadd_to_gateway, delete_from_gateway) against a fresh gateway.
#
# Usage:
#   scripts/test/python-client.sh [BIN]        # BIN defaults to the newer of
#                                         # target/{release,debug}/pushgate
#   scripts/test/python-client.sh --upstream   # upstream prometheus-pushgateway instead
#
# Has scripts/install-test-peers.sh --python set up the venv target/py with
# prometheus_client, starts the gateway on 127.0.0.1:0, runs the checks and kills
# the gateway on exit. Exit status: that of python-client.py (0 = all checks passed).
set -euo pipefail
# shellcheck source=scripts/lib/gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/gateway.sh"

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

bin=
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    --upstream)
        bin=$(command -v "$UPSTREAM_NAME") || { echo "SKIP: $UPSTREAM_NAME is not installed"; exit 0; } ;;
    "") bin=$(default_pushgate) ;;
    *) bin=$1 ;;
esac
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "error: no gateway binary ('${bin}'); run \`cargo build\` or pass BIN" >&2
    exit 2
fi

# prometheus_client in the venv target/py: made by the one installer of test peers.
"$REPO_ROOT/scripts/install-test-peers.sh" --python >&2
python=$REPO_ROOT/target/py/bin/python
start_gateway "$bin" gateway
echo "gateway: $bin on 127.0.0.1:$GW_PORT"
status=0
# In the background plus `wait`, so that SIGINT/SIGTERM run the cleanup trap at once.
"$python" "$REPO_ROOT/scripts/test/python-client.py" "http://127.0.0.1:$GW_PORT" &
GW_PIDS+=("$!")
wait "$!" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- gateway log (last 20 lines) ---"
    tail -n 20 "$GW_LOG"
fi
exit "$status"
