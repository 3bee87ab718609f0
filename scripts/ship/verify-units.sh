#!/usr/bin/env bash
# Verifies the systemd units in deploy/systemd/ with `systemd-analyze verify`
# (Debian package `systemd`). The service is checked as a copy whose
# ExecStart names the built binary, since /usr/bin/pushgate exists only once
# the package is installed (scripts/test/deb.sh verifies the installed unit).
#   scripts/ship/verify-units.sh [path/to/pushgate]
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=$(realpath "${1:-target/debug/pushgate}")
command -v systemd-analyze >/dev/null || {
  echo "systemd-analyze not found: apt-get install systemd" >&2
  exit 1
}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/bin/pushgate#$binary#" deploy/systemd/pushgate.service > "$dir/pushgate.service"
cp deploy/systemd/pushgate.socket "$dir/pushgate.socket"
# Warnings go to stderr and fail the run, so nothing is silently accepted.
out=$(systemd-analyze verify "$dir/pushgate.service" "$dir/pushgate.socket" 2>&1) || {
  echo "$out" >&2
  exit 1
}
if [ -n "$out" ]; then
  echo "$out" >&2
  exit 1
fi
echo "systemd-analyze verify: pushgate.service and pushgate.socket are valid"
