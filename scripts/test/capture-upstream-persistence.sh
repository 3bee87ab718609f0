#!/usr/bin/env bash
# Captures persistence files written by the real upstream Pushgateway, and upstream's own
# scrape of each after a restart on it, into tests/fixtures/upstream-persistence/ (read by
# tests/migrate.rs; see the README.md there).
#
# Usage: scripts/test/capture-upstream-persistence.sh [UPSTREAM_BIN]   (default: prometheus-pushgateway)
#
# For each fixture: starts upstream on 127.0.0.1:0 with --persistence.file=<tmp>
# --persistence.interval=1s, pushes a set of groups (every metric type, unicode label
# values, @base64 grouping values, a rejected push so push_failure_time_seconds is set),
# stops it with SIGTERM (upstream persists on shutdown), copies the file to <name>.gob,
# starts upstream again on a copy of that file and saves its text scrape as
# <name>.scrape.txt. Overwrites those files.
set -euo pipefail
# shellcheck source=scripts/lib/gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/gateway.sh"

OUT="$REPO_ROOT/tests/fixtures/upstream-persistence"
FIXTURES="$REPO_ROOT/tests/fixtures"
PROTO_TYPE='application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited'

bin=${1:-$(command -v "$UPSTREAM_NAME" || true)}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "error: upstream Pushgateway not found; apt-get install $UPSTREAM_NAME or pass its path" >&2
    exit 2
fi
is_upstream "$bin" || { echo "error: $bin is not upstream's Pushgateway" >&2; exit 2; }
mkdir -p "$OUT"

# start_upstream NAME FILE: starts upstream persisting to FILE every second; sets GW_PID
# and GW_PORT (scripts/lib/gateway.sh).
start_upstream() {
    start_gateway "$bin" "$1" --persistence.file="$2" --persistence.interval=1s
}

# send METHOD PATH EXPECTED_STATUS CONTENT_TYPE [BODY_FILE]: one request; fails unless
# upstream answers EXPECTED_STATUS.
send() {
    local status args=(-s -o "$GW_TMP/out" -w '%{http_code}' -X "$1" -H "Content-Type: $4")
    [ $# -ge 5 ] && args+=(--data-binary "@$5")
    status=$(curl "${args[@]}" "http://127.0.0.1:$GW_PORT$2")
    if [ "$status" != "$3" ]; then
        echo "error: $1 $2 answered $status, expected $3: $(cat "$GW_TMP/out")" >&2
        exit 1
    fi
}

text() { printf '%s' "$1" >"$GW_TMP/body.txt"; echo "$GW_TMP/body.txt"; }

hex_file() {
    python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' \
        "$1" >"$2"
}

# stop_and_keep NAME FILE: stops upstream (it persists on SIGTERM) and keeps FILE as NAME.gob.
stop_and_keep() {
    stop_gateway "$GW_PID"
    [ -s "$2" ] || { echo "error: upstream wrote no persistence file" >&2; exit 1; }
    cp "$2" "$OUT/$1.gob"
}

# rescrape NAME: starts upstream on a copy of NAME.gob and saves its text scrape.
rescrape() {
    cp "$OUT/$1.gob" "$GW_TMP/$1.restart"
    start_upstream "$1-restart" "$GW_TMP/$1.restart"
    curl -sf "http://127.0.0.1:$GW_PORT/metrics" >"$OUT/$1.scrape.txt"
    stop_gateway "$GW_PID"
}

# --- rich: every metric type, several groups, unicode, @base64, failures -----------------
file="$GW_TMP/rich.db"
start_upstream rich "$file"
T=text/plain
hex_file "$FIXTURES/push-v1.hex" "$GW_TMP/v1.pb"
hex_file "$FIXTURES/push-v2.hex" "$GW_TMP/v2.pb"
send PUT /metrics/job/fixture/instance/text 200 "$T" "$FIXTURES/push-text.txt"
send PUT /metrics/job/fixture/instance/v1 200 "$PROTO_TYPE" "$GW_TMP/v1.pb"
send PUT /metrics/job/fixture/instance/v2 200 "$PROTO_TYPE" "$GW_TMP/v2.pb"
# region="Zürich ✓", host="node/1" (base64url), an empty value through @base64/=.
send PUT "/metrics/job/unicode/region@base64/WsO8cmljaCDinJM/host@base64/bm9kZS8x/empty@base64/=" 200 "$T" \
    "$(text $'# HELP mig_info Info with ünïcödé help.\n# TYPE mig_info gauge\nmig_info{version="1.0 ✓",note="quote \\" here"} 1\n')"
# job="batch/nightly" through job@base64.
send PUT /metrics/job@base64/YmF0Y2gvbmlnaHRseQ 200 "$T" \
    "$(text $'# TYPE mig_last_success_seconds gauge\nmig_last_success_seconds 1.7e+09\n# TYPE mig_records_total counter\nmig_records_total 12345\n')"
sleep 1.1
# POST adds a family to the group with a later write time.
send POST /metrics/job@base64/YmF0Y2gvbmlnaHRseQ 200 "$T" \
    "$(text $'# TYPE mig_duration_seconds summary\nmig_duration_seconds{quantile="0.5"} 2\nmig_duration_seconds_sum 8\nmig_duration_seconds_count 4\n')"
# A rejected push (mig_info as a counter, a gauge in group "unicode") sets push_failure_time_seconds
# on an existing group and creates a group that holds only the failure time.
send POST /metrics/job@base64/YmF0Y2gvbmlnaHRseQ 400 "$T" \
    "$(text $'# TYPE mig_info counter\nmig_info 1\n')"
send PUT /metrics/job/only_failed/instance/x 400 "$T" \
    "$(text $'# TYPE mig_info counter\nmig_info 2\n')"
# A later successful push leaves failure < success on a third group.
send PUT /metrics/job/recovered 400 "$T" "$(text $'# TYPE mig_info counter\nmig_info 3\n')"
sleep 1.1
send PUT /metrics/job/recovered 200 "$T" "$(text $'mig_recovered 1\n')"
# An empty push: a group with only push_time_seconds.
send PUT /metrics/job/empty 200 "$T" "$(text '')"
sleep 2.5
stop_and_keep rich "$file"
rescrape rich

# --- empty: a store that had one group, deleted again -------------------------------------
file="$GW_TMP/empty.db"
start_upstream empty "$file"
send PUT /metrics/job/gone 200 "$T" "$(text $'x 1\n')"
send DELETE /metrics/job/gone 202 "$T"
sleep 2.5
stop_and_keep empty "$file"
rescrape empty

"$bin" --version 2>&1 | head -n 1 >"$OUT/upstream-version.txt"
echo "captured from $(cat "$OUT/upstream-version.txt"):"
ls -l "$OUT"
