#!/usr/bin/env bash
# Builds the Debian package with dpkg-deb alone (no debhelper): the static
# release binary, the units from deploy/systemd/, /etc/default/pushgate (a
# conffile), the maintainer scripts from deploy/debian/ (system user, state
# directory, copy of upstream's persistence file), and the README and the
# Prometheus examples from deploy/prometheus/ under /usr/share/doc/pushgate.
#   scripts/ship/build-deb.sh [path/to/pushgate]
# Without a binary, scripts/ship/build-release.sh builds one. Prints the package
# path as the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:-$(scripts/ship/build-release.sh | tail -n 1)}
command -v dpkg-deb >/dev/null || {
  echo "dpkg-deb not found: apt-get install dpkg" >&2
  exit 1
}

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
out=target/deb
stage=$out/pushgate_${version}_${arch}
rm -rf "$stage"
mkdir -p "$stage/DEBIAN"

install -D -m 0755 "$binary" "$stage/usr/bin/pushgate"
install -D -m 0644 deploy/systemd/pushgate.service "$stage/lib/systemd/system/pushgate.service"
install -D -m 0644 deploy/systemd/pushgate.socket "$stage/lib/systemd/system/pushgate.socket"
install -D -m 0644 deploy/systemd/pushgate.default "$stage/etc/default/pushgate"
doc=$stage/usr/share/doc/pushgate
install -D -m 0644 README.md "$doc/README.md"
for f in prometheus.yml pushgate.rules.yml; do
  install -D -m 0644 "deploy/prometheus/$f" "$doc/examples/prometheus/$f"
done
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pushgate

Files: *
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
chmod 0644 "$doc/copyright"

for script in postinst prerm postrm; do
  install -m 0755 "deploy/debian/$script" "$stage/DEBIAN/$script"
done
echo /etc/default/pushgate > "$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
  sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
installed_kib=$(du -sk --exclude=DEBIAN "$stage" | cut -f 1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: pushgate
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-pushgate maintainers <pushgate@localhost>}
Installed-Size: $installed_kib
Depends: adduser
Section: net
Priority: optional
Description: small, static drop-in replacement for the Prometheus Pushgateway
 pushgate accepts metrics pushed by batch jobs and exposes them to Prometheus,
 with the URLs, flags, status codes, exposition and JSON API of upstream's
 Pushgateway, as one static binary. The package installs the service
 (pushgate.service, or socket activation with pushgate.socket) running as the
 system user pushgate, with flags in /etc/default/pushgate and the store in
 /var/lib/pushgate. It conflicts with prometheus-pushgateway.service on port
 9091 at run time; both packages may be installed while migrating.
CONTROL

deb=$out/pushgate_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$stage" "$deb" >&2
echo "package: $deb ($(stat -c %s "$deb") bytes)" >&2
echo "$deb"
