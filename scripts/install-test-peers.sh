#!/usr/bin/env bash
# Installs what the test suites talk to: upstream's Pushgateway (for the
# side-by-side comparison), Python's prometheus_client (a real client), curl,
# file and systemd-analyze (release and unit checks), openssl (TLS test
# certificates and s_client), chromium and node (UI test), Prometheus and
# node_exporter (end-to-end suite; promtool checks the alerting rules),
# adduser (the .deb's postinst), HAProxy with Lua (sharding test). The one
# place that installs peers: scripts/test.sh and scripts/test/e2e.sh both call it.
# Needs root for apt-get (CI and these machines run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v prometheus-pushgateway >/dev/null || need_apt+=(prometheus-pushgateway)
command -v python3 >/dev/null || need_apt+=(python3)
command -v curl >/dev/null || need_apt+=(curl)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need_apt+=(prometheus)
command -v prometheus-node-exporter >/dev/null || need_apt+=(prometheus-node-exporter)
command -v haproxy >/dev/null || need_apt+=(haproxy)
command -v file >/dev/null || need_apt+=(file)
# Certificates for the TLS tests (src/server/tls_tests.rs, tests/tls.rs,
# scripts/test/make-certs.sh) and s_client.
command -v openssl >/dev/null || need_apt+=(openssl)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v adduser >/dev/null || need_apt+=(adduser)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x target/py/bin/python ]; then
  echo "== python venv for prometheus_client"
  mkdir -p target
  python3 -m venv target/py
fi
target/py/bin/python -c 'import prometheus_client' 2>/dev/null ||
  target/py/bin/pip install -q --disable-pip-version-check prometheus_client
