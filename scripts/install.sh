#!/usr/bin/env bash
# Installs pushgate as a systemd service: the binary to /usr/local/bin, the
# units to /etc/systemd/system, the defaults file to /etc/default/pushgate
# (kept if present). Builds the release binary first unless one is given:
#   scripts/install.sh [path/to/pushgate]
# Set DESTDIR to stage into a directory instead of the live system.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-$(scripts/build-release.sh | tail -n 1)}
root=${DESTDIR:-}

install -D -m 0755 "$binary" "$root/usr/local/bin/pushgate"
install -D -m 0644 scripts/pushgate.service "$root/etc/systemd/system/pushgate.service"
install -D -m 0644 scripts/pushgate.socket "$root/etc/systemd/system/pushgate.socket"
if [ ! -e "$root/etc/default/pushgate" ]; then
  install -D -m 0644 scripts/pushgate.default "$root/etc/default/pushgate"
fi

if [ -z "$root" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "installed; start with: systemctl enable --now pushgate.service"
else
  echo "installed into ${root:-/}; run 'systemctl daemon-reload' on the target system"
fi
