#!/usr/bin/env bash
# Captures what the real upstream Pushgateway serves for a body with every metric type,
# into tests/fixtures/ (read by tests/fixtures_upstream.rs; see tests/fixtures/README.md).
#
# Usage: scripts/test/capture-fixtures.sh [UPSTREAM_BIN]   (default: prometheus-pushgateway)
#
# Starts upstream on 127.0.0.1:0 without persistence, pushes tests/fixtures/push-v1.hex
# and push-v2.hex (protobuf vectors V1 and V2 of the behaviour reference, Appendix A) and
# push-text.txt (text: counter, gauge, untyped, summary, classic histogram) into three
# groups of job "fixture", then writes its protobuf and text scrapes and its version.
# Overwrites upstream-scrape.pb, upstream-scrape.txt and upstream-version.txt.
set -euo pipefail
# shellcheck source=scripts/lib/gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/gateway.sh"

FIXTURES="$REPO_ROOT/tests/fixtures"
PROTO_TYPE='application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited'
PROTO_ACCEPT='application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited'

bin=${1:-$(command -v "$UPSTREAM_NAME" || true)}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "error: upstream Pushgateway not found; apt-get install $UPSTREAM_NAME or pass its path" >&2
    exit 2
fi
is_upstream "$bin" || { echo "error: $bin is not upstream's Pushgateway" >&2; exit 2; }

# push PATH CONTENT_TYPE FILE: PUTs FILE and fails unless upstream answers 200.
push() {
    local status
    status=$(curl -s -o "$GW_TMP/push.out" -w '%{http_code}' -X PUT \
        -H "Content-Type: $2" --data-binary "@$3" "http://127.0.0.1:$GW_PORT$1")
    if [ "$status" != 200 ]; then
        echo "error: PUT $1 answered $status: $(cat "$GW_TMP/push.out")" >&2
        exit 1
    fi
}

# hex_file HEX_FILE OUT: writes the bytes of a hex dump (as `xxd -r -p`).
hex_file() {
    python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' \
        "$1" >"$2"
}

start_gateway "$bin" upstream
hex_file "$FIXTURES/push-v1.hex" "$GW_TMP/v1.pb"
hex_file "$FIXTURES/push-v2.hex" "$GW_TMP/v2.pb"
push /metrics/job/fixture/instance/v1 "$PROTO_TYPE" "$GW_TMP/v1.pb"
push /metrics/job/fixture/instance/v2 "$PROTO_TYPE" "$GW_TMP/v2.pb"
push /metrics/job/fixture/instance/text 'text/plain; version=0.0.4' "$FIXTURES/push-text.txt"

curl -sf -H "Accept: $PROTO_ACCEPT" "http://127.0.0.1:$GW_PORT/metrics" >"$FIXTURES/upstream-scrape.pb"
curl -sf "http://127.0.0.1:$GW_PORT/metrics" >"$FIXTURES/upstream-scrape.txt"
"$bin" --version 2>&1 | head -n 1 >"$FIXTURES/upstream-version.txt"
echo "captured from $(cat "$FIXTURES/upstream-version.txt"):"
ls -l "$FIXTURES"/upstream-scrape.*
