#!/usr/bin/env bash
# Checks the release artefact the way a user meets it: builds it with
# scripts/ship/build-release.sh, verifies that `file` calls it static-pie linked
# (statically linked and position-independent, so it gets ASLR) and `ldd`
# finds no dynamic dependencies, that two runs load it at different
# addresses, starts it with an empty environment (`env -i`), pushes and
# scrapes over loopback, does the same over TLS with a client certificate
# and `pushgate healthcheck`, and enforces the size budget.
set -euo pipefail
cd "$(dirname "$0")/../.."
# 2.5 MB was the plan for the HTTP server plus TLS (README, "Install from a
# release build"); the shipped binary also carries the shards and import
# subcommands and the TLS client of `pushgate healthcheck`, and measured
# 2,687,800 bytes. The budget keeps ~60 KB of headroom so growth is noticed.
max_bytes=2750000

artefact=$(scripts/ship/build-release.sh | tail -n 1)
size=$(stat -c %s "$artefact")
echo "artefact $artefact: $size bytes (budget $max_bytes)"
# From here on every command's status is judged by `verdict`, not by -e.
set +e
checks=0
fail=0
# verdict OK MESSAGE: counts one check, printing MESSAGE when it failed.
verdict() {
  checks=$((checks + 1))
  if [ "$1" != 0 ]; then
    echo "FAIL: $2"
    fail=$((fail + 1))
  fi
}
file -b "$artefact" | grep -q "static-pie linked"
verdict $? "file does not say static-pie linked: $(file -b "$artefact")"
# ldd exits 1 for static binaries; judge by what it says.
ldd_says=$(ldd "$artefact" 2>&1 || true)
echo "$ldd_says" | grep -Eq "statically linked|not a dynamic executable"
verdict $? "ldd: $ldd_says"
[ "$size" -le "$max_bytes" ]
verdict $? "$size bytes is over the $max_bytes byte budget"

# The artefact runs with an empty environment, through a wrapper that execs it
# (so GW_PID is the artefact's own pid); scripts/lib/gateway.sh starts it and
# reads the bound port from its log, and stops everything on exit.
# shellcheck source=scripts/lib/gateway.sh
source scripts/lib/gateway.sh
work=$GW_TMP
printf '#!/bin/sh\nexec env -i "%s" "$@"\n' "$(readlink -f "$artefact")" >"$work/env-i"
chmod +x "$work/env-i"

# start NAME ARGS...: runs the artefact with env -i; sets $pid and $addr.
start() {
  local name=$1
  shift
  if ! start_gateway "$work/env-i" "$name" "$@"; then
    echo "FAIL: $name did not start"
    exit 1
  fi
  pid=$GW_PID
  addr=127.0.0.1:$GW_PORT
}

# ASLR: the executable's first mapping moves between runs.
bases=()
for run in 1 2; do
  start "aslr$run"
  bases+=("$(grep -m1 "$(readlink -f "$artefact")" "/proc/$pid/maps" | cut -d- -f1)")
  kill -TERM "$pid"
  wait "$pid" || true
done
[ -n "${bases[0]}" ] && [ "${bases[0]}" != "${bases[1]}" ]
verdict $? "loaded at ${bases[*]} both times (no ASLR)"

start plain
code=$(printf 'release_check 42\n' | curl -s -o /dev/null -w '%{http_code}' --data-binary @- "http://$addr/metrics/job/release" || true)
[ "$code" = 200 ]
verdict $? "push answered $code"
curl -s "http://$addr/metrics" | grep -qx 'release_check{instance="",job="release"} 42'
verdict $? "pushed series missing from the scrape"
"$artefact" healthcheck --url "http://$addr/-/healthy"
verdict $? "healthcheck"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
verdict $status "exit status $status after SIGTERM"

# TLS with a required client certificate: rustls and ring in the static build.
scripts/test/make-certs.sh "$work/pki"
printf '%s\n' 'tls_server_config:' '  cert_file: pki/server.crt' '  key_file: pki/server.key' \
  '  client_ca_file: pki/ca.crt' '  client_auth_type: RequireAndVerifyClientCert' >"$work/web.yml"
start tls --web.config.file="$work/web.yml"
client=(--cacert "$work/pki/ca.crt" --cert "$work/pki/client-a.crt" --key "$work/pki/client-a.key")
code=$(printf 'release_tls 7\n' | curl -s "${client[@]}" -o /dev/null -w '%{http_code}' --data-binary @- "https://$addr/metrics/job/tls" || true)
[ "$code" = 200 ]
verdict $? "TLS push answered $code"
curl -s "${client[@]}" "https://$addr/metrics" | grep -qx 'release_tls{instance="",job="tls"} 7'
verdict $? "TLS scrape misses the pushed series"
"$artefact" healthcheck --url "https://$addr/-/healthy" --tls.ca-file "$work/pki/ca.crt" \
  --tls.cert-file "$work/pki/client-a.crt" --tls.key-file "$work/pki/client-a.key"
verdict $? "TLS healthcheck"
! curl -s --cacert "$work/pki/ca.crt" "https://$addr/-/healthy" >/dev/null
verdict $? "a client without a certificate was served"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
verdict $status "exit status $status after SIGTERM (TLS)"

echo "release check: $((checks - fail)) passed, $fail failed"
[ "$fail" = 0 ]
