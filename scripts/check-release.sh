#!/usr/bin/env bash
# Checks the release artefact the way a user meets it: builds it with
# scripts/build-release.sh, verifies that `file` calls it statically linked
# and `ldd` finds it not dynamic, starts it with an empty environment
# (`env -i`), pushes and scrapes over loopback, and enforces the size budget.
set -euo pipefail
cd "$(dirname "$0")/.."
max_bytes=1500000

artefact=$(scripts/build-release.sh | tail -n 1)
size=$(stat -c %s "$artefact")
echo "artefact $artefact: $size bytes (budget $max_bytes)"
fail=0
file -b "$artefact" | grep -q "statically linked" || { echo "FAIL: file does not say statically linked: $(file -b "$artefact")"; fail=1; }
# ldd exits 1 for static binaries; judge by what it says.
ldd_says=$(ldd "$artefact" 2>&1 || true)
echo "$ldd_says" | grep -q "not a dynamic executable" || { echo "FAIL: ldd: $ldd_says"; fail=1; }
[ "$size" -le "$max_bytes" ] || { echo "FAIL: $size bytes is over the $max_bytes byte budget"; fail=1; }

log=$(mktemp)
env -i "$artefact" --web.listen-address=127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
addr=""
for _ in $(seq 1 50); do
  addr=$(sed -n 's/.*msg="Listening on" address=\([0-9.:]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "FAIL: no 'Listening on' line"; cat "$log"; exit 1; }
code=$(printf 'release_check 42\n' | curl -s -o /dev/null -w '%{http_code}' --data-binary @- "http://$addr/metrics/job/release")
[ "$code" = 200 ] || { echo "FAIL: push answered $code"; fail=1; }
curl -s "http://$addr/metrics" | grep -qx 'release_check{instance="",job="release"} 42' \
  || { echo "FAIL: pushed series missing from the scrape"; fail=1; }
"$artefact" healthcheck --url "http://$addr/-/healthy" || { echo "FAIL: healthcheck"; fail=1; }
kill -TERM "$pid"; wait "$pid" || { echo "FAIL: exit status $? after SIGTERM"; fail=1; }
trap 'rm -f "$log"' EXIT
[ "$fail" = 0 ] && echo "release check: 1 passed, 0 failed" || { echo "release check: 0 passed, 1 failed"; exit 1; }
