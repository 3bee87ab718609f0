#!/usr/bin/env bash
# Makes a throw-away PKI for the TLS tests in DIR (created if missing), with
# openssl: valid for 2 days, EC P-256 keys except server2 (RSA 2048).
#   ca.crt ca.key                 the test CA
#   server.crt server.key         SANs IP:127.0.0.1, DNS:localhost (serverAuth)
#   server2.crt server2.key       the same SANs, another key: a rotation target
#   client-a.crt client-a.key     SANs DNS:client-a.example, email:ops@example.com,
#                                 IP:10.0.0.1, URI:spiffe://example.org/a (clientAuth)
#   client-b.crt client-b.key     SAN DNS:client-b.example (clientAuth)
#   rogue-ca.crt rogue.crt rogue.key   a client certificate from another CA
# Usage: scripts/test/make-certs.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/test/make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
command -v openssl >/dev/null || { echo "openssl is missing: run scripts/install-test-peers.sh" >&2; exit 1; }

ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)

ca() { # name subject
  openssl req -x509 -new -nodes "${ec[@]}" -keyout "$1.key" -out "$1.crt" -days 2 \
    -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

leaf() { # name ca usage sans [key options...]
  local name=$1 issuer=$2 usage=$3 sans=$4
  shift 4
  local keyopts=("$@")
  [ ${#keyopts[@]} -gt 0 ] || keyopts=("${ec[@]}")
  openssl req -new -nodes "${keyopts[@]}" -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=$name" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$usage" "$sans" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

ca ca "pushgate test CA"
ca rogue-ca "another CA"
leaf server ca serverAuth "IP:127.0.0.1,DNS:localhost"
leaf server2 ca serverAuth "IP:127.0.0.1,DNS:localhost" -newkey rsa:2048
leaf client-a ca clientAuth "DNS:client-a.example,email:ops@example.com,IP:10.0.0.1,URI:spiffe://example.org/a"
leaf client-b ca clientAuth "DNS:client-b.example"
leaf rogue rogue-ca clientAuth "DNS:client-a.example"
