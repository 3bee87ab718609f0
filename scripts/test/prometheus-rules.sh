#!/usr/bin/env bash
# Checks deploy/prometheus/ with promtool (Debian package `prometheus`,
# installed by scripts/install-test-peers.sh): the example configuration, the
# alerting rules, and their unit tests, which fire each alert on a failing
# input and keep it silent on a healthy one. Also checks that every
# pushgate_* name the rules use is one pushgate exposes (src/telemetry.rs),
# since promtool cannot know a renamed metric.
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=0
while read -r name; do
  if ! grep -q "\"$name\"" src/telemetry.rs; then
    echo "deploy/prometheus/pushgate.rules.yml: $name is not a metric of src/telemetry.rs" >&2
    missing=1
  fi
done < <(grep -o 'pushgate_[a-z_]*' deploy/prometheus/pushgate.rules.yml | sort -u)
[ "$missing" = 0 ]
cd deploy/prometheus
command -v promtool >/dev/null || {
  echo "promtool not found: apt-get install prometheus" >&2
  exit 1
}
promtool check config prometheus.yml
promtool check rules pushgate.rules.yml
promtool test rules pushgate.rules.test.yml
