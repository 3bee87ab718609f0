#!/usr/bin/env bash
# The one installer of what the tests and benchmarks talk to. No other script
# runs apt-get, pip, npm or cargo install for a peer: each calls this one
# with the group it needs. Installs only what is missing; safe to re-run.
#
# Usage: scripts/install-test-peers.sh [--core] [--python] [--ui] [--fuzz] [--bench]
#   (none)    every peer scripts/test.sh needs: --core --python --ui --fuzz
#   --core    upstream's Pushgateway (side-by-side comparison), curl, file
#             and systemd-analyze (release and unit checks), openssl (TLS
#             test certificates and s_client), Prometheus and node_exporter
#             (end-to-end suite; promtool checks the alerting rules),
#             adduser (the .deb's postinst), HAProxy with Lua (sharding test)
#   --python  python3 and a venv in target/py with PyPI prometheus_client
#             (scripts/test/python-client.sh, scripts/test/e2e.sh)
#   --ui      Debian's chromium, node and npm, and playwright-core in
#             target/ui-node/ (tests/ui/run.sh, scripts/docs/ui-screenshots.sh;
#             it drives the system chromium, no browser is downloaded)
#   --fuzz    cargo-fuzz (scripts/test/fuzz.sh)
#   --bench   wrk, python3 and upstream's Pushgateway (scripts/bench/);
#             not part of the default set: CI runs no benchmark
# Needs root for apt-get (CI and these machines run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

# playwright-core drives Debian's chromium; pinned so that runs are repeatable.
PLAYWRIGHT_VERSION=1.65.1
UI_NODE_DIR=target/ui-node

python=false ui=false fuzz=false bench=false base=false
if [ $# -eq 0 ]; then
  python=true ui=true fuzz=true base=true
fi
for arg in "$@"; do
  case $arg in
    --core) base=true ;;
    --python) python=true ;;
    --ui) ui=true ;;
    --fuzz) fuzz=true ;;
    --bench) bench=true ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-test-peers: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

need_apt=()
# need COMMAND PACKAGE...: queues PACKAGE... unless COMMAND is on the PATH.
need() {
  local cmd=$1
  shift
  command -v "$cmd" >/dev/null || need_apt+=("$@")
}
if $base; then
  need prometheus-pushgateway prometheus-pushgateway
  need curl curl
  command -v prometheus >/dev/null && command -v promtool >/dev/null || need_apt+=(prometheus)
  need prometheus-node-exporter prometheus-node-exporter
  need haproxy haproxy
  need file file
  # Certificates for the TLS tests (src/server/tls_tests.rs, tests/tls.rs,
  # scripts/test/make-certs.sh) and s_client.
  need openssl openssl
  need systemd-analyze systemd
  need adduser adduser
fi
if $python || $base || $bench; then
  need python3 python3
fi
if $python; then
  python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
fi
if $ui; then
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need_apt+=(chromium)
  command -v node >/dev/null && command -v npm >/dev/null || need_apt+=(nodejs npm)
fi
if $bench; then
  need wrk wrk
  need prometheus-pushgateway prometheus-pushgateway
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  # Sorted and unique: several groups may ask for the same package.
  mapfile -t need_apt < <(printf '%s\n' "${need_apt[@]}" | sort -u)
  echo "== apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if $python; then
  if [ ! -x target/py/bin/python ]; then
    echo "== python venv for prometheus_client (target/py)"
    mkdir -p target
    python3 -m venv target/py
  fi
  target/py/bin/python -c 'import prometheus_client' 2>/dev/null ||
    target/py/bin/pip install -q --disable-pip-version-check prometheus_client
fi

if $ui && [ ! -f "$UI_NODE_DIR/node_modules/playwright-core/package.json" ]; then
  echo "== npm install playwright-core@$PLAYWRIGHT_VERSION ($UI_NODE_DIR)"
  mkdir -p "$UI_NODE_DIR"
  [ -f "$UI_NODE_DIR/package.json" ] || echo '{"private":true}' >"$UI_NODE_DIR/package.json"
  (cd "$UI_NODE_DIR" && npm install --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION")
fi

if $fuzz && ! command -v cargo-fuzz >/dev/null; then
  echo "== cargo install cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
