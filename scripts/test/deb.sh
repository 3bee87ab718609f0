#!/usr/bin/env bash
# Builds the .deb and installs it into this machine, as an operator would:
# dpkg -i, checks of the installed files, the user and the state directory,
# `systemd-analyze verify` on the installed units, the installed binary run
# as the user pushgate with the packaged defaults (systemd need not be PID 1),
# then dpkg -r (data and defaults kept) and dpkg -P (both gone). Needs root.
# When upstream's prometheus-pushgateway is installed and Debian's default
# persistence path is free, also checks that the package copies a file
# written by upstream into /var/lib/pushgate.
#   scripts/test/deb.sh [path/to/pushgate.deb]
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/gateway.sh
source scripts/lib/gateway.sh

[ "$(id -u)" = 0 ] || { echo "scripts/test/deb.sh installs a package: run it as root" >&2; exit 1; }
deb=${1:-$(scripts/ship/build-deb.sh | tail -n 1)}
failures=0
check() { # check DESCRIPTION COMMAND...: runs COMMAND, counts a failure
  local what=$1
  shift
  if "$@"; then echo "  ok    $what"; else echo "  FAIL  $what"; failures=$((failures + 1)); fi
}

# A package left by an interrupted run is ours: start clean.
if dpkg-query -W -f '${Status}' pushgate 2>/dev/null | grep -q 'ok installed'; then
  dpkg -P pushgate >/dev/null
fi

upstream_file=/var/lib/prometheus/pushgateway.data
made_upstream_file=
cleanup() {
  [ -z "$made_upstream_file" ] || rm -f "$upstream_file"
  cleanup_gateways
}
trap cleanup EXIT

# Upstream's persistence file, written by upstream itself, at Debian's
# default path; only if nothing is there (a real one is never touched).
if command -v prometheus-pushgateway >/dev/null && [ ! -e "$upstream_file" ] &&
  [ ! -e /var/lib/pushgate ]; then
  start_gateway prometheus-pushgateway upstream --persistence.file="$GW_TMP/upstream.data"
  echo "from_upstream 1" |
    curl -sf --data-binary @- "http://127.0.0.1:$GW_PORT/metrics/job/migrated" >/dev/null
  stop_gateway "$GW_PID"
  if [ -s "$GW_TMP/upstream.data" ]; then
    mkdir -p "$(dirname "$upstream_file")"
    cp "$GW_TMP/upstream.data" "$upstream_file"
    made_upstream_file=1
  fi
fi

echo "== dpkg -i $deb"
dpkg -i "$deb"
check "package installed" sh -c "dpkg-query -W -f '\${Status}' pushgate | grep -q 'ok installed'"
for f in /usr/bin/pushgate /lib/systemd/system/pushgate.service /lib/systemd/system/pushgate.socket \
  /etc/default/pushgate /usr/share/doc/pushgate/README.md /usr/share/doc/pushgate/copyright \
  /usr/share/doc/pushgate/examples/prometheus/pushgate.rules.yml \
  /usr/share/doc/pushgate/examples/prometheus/prometheus.yml; do
  check "file $f" test -f "$f"
done
# ldd exits 0 on a static-pie binary ("statically linked"): judge by what it says.
check "/usr/bin/pushgate is executable and static" \
  sh -c '/usr/bin/pushgate --version >/dev/null &&
    ldd /usr/bin/pushgate 2>&1 | grep -Eq "statically linked|not a dynamic executable"'
check "/etc/default/pushgate is a conffile" \
  sh -c "dpkg-query -W -f '\${Conffiles}' pushgate | grep -q /etc/default/pushgate"
check "system user pushgate, home /var/lib/pushgate" \
  sh -c 'getent passwd pushgate | grep -q ":/var/lib/pushgate:"'
check "state directory owned by pushgate, mode 700" \
  test "$(stat -c "%U:%G %a" /var/lib/pushgate)" = "pushgate:pushgate 700"
if [ -n "$made_upstream_file" ]; then
  check "upstream's persistence file copied" cmp -s "$upstream_file" /var/lib/pushgate/pushgate.db
  check "the copy belongs to pushgate" \
    test "$(stat -c "%U %a" /var/lib/pushgate/pushgate.db)" = "pushgate 600"
  check "upstream's file is left in place" test -s "$upstream_file"
  # The import at start is tested in cargo test; this run starts afresh.
  rm -f /var/lib/pushgate/pushgate.db
else
  echo "  skip  copy of upstream's persistence file (no prometheus-pushgateway, or the path is taken)"
fi

echo "== systemd-analyze verify on the installed units"
verify_out=$(systemd-analyze verify /lib/systemd/system/pushgate.service \
  /lib/systemd/system/pushgate.socket 2>&1) && verify_rc=0 || verify_rc=$?
[ -z "$verify_out" ] || echo "$verify_out"
check "systemd-analyze verify passes without warnings" test "$verify_rc" = 0 -a -z "$verify_out"

echo "== the installed binary, as user pushgate, with the packaged flags"
# shellcheck disable=SC1091 # the installed defaults file, as systemd reads it
packaged_args=$(. /etc/default/pushgate && echo "$ARGS")
check "packaged ARGS keep the store in /var/lib/pushgate" \
  sh -c "echo '$packaged_args' | grep -q -- --persistence.file=/var/lib/pushgate/pushgate.db"
cat > "$GW_TMP/installed" <<'WRAPPER'
#!/bin/sh
exec setpriv --reuid=pushgate --regid=pushgate --init-groups /usr/bin/pushgate "$@"
WRAPPER
chmod 0755 "$GW_TMP/installed"
# shellcheck disable=SC2086 # split into flags, as systemd splits $ARGS
start_gateway "$GW_TMP/installed" installed $packaged_args
base=http://127.0.0.1:$GW_PORT
check "push answered 200" \
  sh -c "echo 'deb_check 1' | curl -sf --data-binary @- $base/metrics/job/deb >/dev/null"
check "scrape has the pushed sample" sh -c "curl -sf $base/metrics | grep -q '^deb_check{instance=\"\",job=\"deb\"} 1$'"
check "process_start_time_seconds exposed" sh -c "curl -sf $base/metrics | grep -q '^process_start_time_seconds '"
check "persistence metrics exposed" \
  sh -c "curl -sf $base/metrics | grep -q '^pushgate_persistence_failures_total 0$'"
check "pushgate healthcheck" /usr/bin/pushgate healthcheck --url "$base/-/healthy"
kill -HUP "$GW_PID"
sleep 0.3
check "SIGHUP keeps it running" kill -0 "$GW_PID"
stop_gateway "$GW_PID"
check "final snapshot written by pushgate, mode 600" \
  test "$(stat -c "%U %a" /var/lib/pushgate/pushgate.db 2>/dev/null)" = "pushgate 600"

echo "== dpkg -i again (an upgrade keeps local edits and data)"
echo "# edited by the operator" >> /etc/default/pushgate
dpkg -i "$deb" >/dev/null
check "edited /etc/default/pushgate kept" grep -q "edited by the operator" /etc/default/pushgate
check "data kept across the reinstall" test -f /var/lib/pushgate/pushgate.db

echo "== dpkg -r pushgate"
dpkg -r pushgate
check "binary removed" test ! -e /usr/bin/pushgate
check "units removed" test ! -e /lib/systemd/system/pushgate.service
check "defaults kept until purge" test -f /etc/default/pushgate
check "data kept until purge" test -f /var/lib/pushgate/pushgate.db

echo "== dpkg -P pushgate"
dpkg -P pushgate
check "package gone" sh -c "! dpkg-query -W -f '\${Status}' pushgate 2>/dev/null | grep -q installed"
check "defaults removed" test ! -e /etc/default/pushgate
check "data removed" test ! -e /var/lib/pushgate
check "no file of the package left" \
  sh -c '! ls -d /usr/share/doc/pushgate /lib/systemd/system/pushgate.* 2>/dev/null | grep -q .'

if [ "$failures" != 0 ]; then
  echo "deb.sh: $failures checks failed" >&2
  exit 1
fi
echo "deb.sh: all checks passed"
