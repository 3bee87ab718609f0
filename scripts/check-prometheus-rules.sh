#!/usr/bin/env bash
# Checks deploy/prometheus/ with promtool (Debian package `prometheus`,
# installed by scripts/install-test-peers.sh): the example configuration, the
# alerting rules, and their unit tests, which fire each alert on a failing
# input and keep it silent on a healthy one.
set -euo pipefail
cd "$(dirname "$0")/../deploy/prometheus"
command -v promtool >/dev/null || {
  echo "promtool not found: apt-get install prometheus" >&2
  exit 1
}
promtool check config prometheus.yml
promtool check rules pushgate.rules.yml
promtool test rules pushgate.rules.test.yml
