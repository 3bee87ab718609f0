#!/usr/bin/env bash
# Installs pushgate as a systemd service without a package: the binary to
# /usr/local/bin, the units from deploy/systemd/ to /etc/systemd/system (the
# service's ExecStart pointed at /usr/local/bin), the defaults file to
# /etc/default/pushgate (kept if present) and the system user `pushgate`.
# On Debian and derivatives prefer the package: scripts/ship/build-deb.sh.
# Builds the release binary first unless one is given:
#   scripts/ship/install.sh [path/to/pushgate]
# Set DESTDIR to stage into a directory instead of the live system (no user
# is created then).
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:-$(scripts/ship/build-release.sh | tail -n 1)}
root=${DESTDIR:-}

install -D -m 0755 "$binary" "$root/usr/local/bin/pushgate"
install -d "$root/etc/systemd/system"
sed 's#^ExecStart=/usr/bin/pushgate#ExecStart=/usr/local/bin/pushgate#' \
  deploy/systemd/pushgate.service > "$root/etc/systemd/system/pushgate.service"
chmod 0644 "$root/etc/systemd/system/pushgate.service"
install -m 0644 deploy/systemd/pushgate.socket "$root/etc/systemd/system/pushgate.socket"
if [ ! -e "$root/etc/default/pushgate" ]; then
  install -D -m 0644 deploy/systemd/pushgate.default "$root/etc/default/pushgate"
fi

if [ -z "$root" ] && ! getent passwd pushgate >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/pushgate --no-create-home \
    --shell /usr/sbin/nologin pushgate
fi
if [ -z "$root" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  echo "installed; start with: systemctl enable --now pushgate.service"
else
  echo "installed into ${root:-/}; run 'systemctl daemon-reload' on the target system"
fi
