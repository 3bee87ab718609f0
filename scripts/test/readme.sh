#!/usr/bin/env bash
# Runs the shell commands of README.md's "Usage" and "Beyond upstream"
# sections as written, in order, and fails on the first command that fails.
# The block that is only `cargo run ...` starts the gateway in the background
# (on :9091, as the README says; the port must be free) and the test waits
# for /-/healthy; every other ```sh block runs with `bash -e -o pipefail`, so
# each command's exit status counts. curl exits 0 on HTTP errors, so the
# blocks see a `curl` that adds --fail-with-body: a 400 fails the walk.
# The other sections' commands are covered elsewhere: scripts/test.sh itself,
# the release build and install (scripts/ship/check-release.sh, scripts/test/deb.sh), Docker (not
# available in CI) and the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/../.."
readme=README.md
sections='^## (Usage|Beyond upstream)$'
base=http://127.0.0.1:9091
command -v curl >/dev/null || { echo "readme.sh: curl not found: apt-get install curl" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pushgate-readme.XXXXXX")
gateway_pid=
cleanup() {
  if [ -n "$gateway_pid" ]; then
    stop_gateway_group
  fi
  rm -rf "$tmp"
}
# SIGTERM to the whole process group: cargo dies of it at once, pushgate
# (cargo's child) shuts down gracefully a moment later; wait for the
# port to be released (at most 5 s) so that a next run finds it free.
stop_gateway_group() {
  kill -TERM -- "-$gateway_pid" 2>/dev/null || true
  wait "$gateway_pid" 2>/dev/null || true
  gateway_pid=
  for _ in $(seq 1 50); do
    curl -s -o /dev/null --max-time 1 "$base/" || return 0
    sleep 0.1
  done
  echo "readme.sh: the gateway still answers on :9091 after SIGTERM" >&2
  return 1
}
trap cleanup EXIT

if curl -s -o /dev/null --max-time 2 "$base/"; then
  echo "readme.sh: something already answers on :9091; stop it first" >&2
  exit 1
fi

# One file per ```sh block of the chosen sections, in README order.
awk -v dir="$tmp" -v sections="$sections" '
  /^## / { inside = ($0 ~ sections) }
  inside && /^```sh$/ { n++; file = sprintf("%s/block-%02d.sh", dir, n); copying = 1; next }
  copying && /^```$/ { copying = 0; close(file); next }
  copying { print > file }
' "$readme"
blocks=("$tmp"/block-*.sh)
[ -e "${blocks[0]}" ] || { echo "readme.sh: no sh blocks found in $readme" >&2; exit 1; }

mkdir -p "$tmp/bin"
real_curl=$(command -v curl)
printf '#!/bin/sh\nexec %s --fail-with-body "$@"\n' "$real_curl" > "$tmp/bin/curl"
chmod +x "$tmp/bin/curl"

commands_of() { grep -v '^[[:space:]]*\(#\|$\)' "$1" || true; }

ran=0
for block in "${blocks[@]}"; do
  name=$(basename "$block" .sh)
  first=$(commands_of "$block" | head -n 1)
  if [[ $first == "cargo run"* ]] && [ "$(commands_of "$block" | wc -l)" = 1 ]; then
    echo "== $name: $first (in the background)"
    setsid bash "$block" > "$tmp/gateway.log" 2>&1 < /dev/null &
    gateway_pid=$!
    # The release build comes first; allow 30 minutes on a slow machine.
    for _ in $(seq 1 1800); do
      curl -sf -o /dev/null --max-time 2 "$base/-/healthy" && break
      kill -0 "$gateway_pid" 2>/dev/null || break
      sleep 1
    done
    if ! curl -sf -o /dev/null --max-time 2 "$base/-/healthy"; then
      echo "readme.sh: the gateway did not come up:" >&2
      tail -n 20 "$tmp/gateway.log" >&2
      exit 1
    fi
    continue
  fi
  [ -n "$gateway_pid" ] || { echo "readme.sh: $name runs before the gateway is started" >&2; exit 1; }
  echo "== $name: $first"
  if ! PATH="$tmp/bin:$PATH" bash -e -o pipefail -x "$block" > "$tmp/$name.log" 2>&1; then
    echo "readme.sh: $name failed; its commands and output:" >&2
    cat "$tmp/$name.log" >&2
    exit 1
  fi
  ran=$((ran + 1))
done
[ -n "$gateway_pid" ] || { echo "readme.sh: no 'cargo run' block starts the gateway" >&2; exit 1; }

stop_gateway_group
echo "readme.sh: ${#blocks[@]} blocks, $ran run against the gateway, all passed"
