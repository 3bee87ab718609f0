#!/usr/bin/env bash
# Builds the release artefact: a static-pie x86_64-unknown-linux-musl binary
# (the target is added with rustup, musl-tools with apt-get, when missing).
# When musl cannot be had, falls back to a static glibc build and says so. Prints the artefact's path,
# size and `file` output; the path is also the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."

musl=x86_64-unknown-linux-musl
gnu=x86_64-unknown-linux-gnu

have_musl() { rustup target list --installed 2>/dev/null | grep -qx "$musl"; }

if ! have_musl && command -v rustup >/dev/null; then
  echo "== adding rust target $musl" >&2
  rustup target add "$musl" >&2 || true
fi

# ring (rustls' crypto) compiles C for the target: musl builds need musl-gcc
# (Debian's musl-tools). Without it and without apt, gcc builds ring's C,
# which uses no libc headers that differ between glibc and musl.
if have_musl && ! command -v musl-gcc >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "== apt-get install musl-tools (musl-gcc, for ring's C code)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends musl-tools >&2
  fi
  if ! command -v musl-gcc >/dev/null; then
    echo "NOTICE: musl-gcc is missing; compiling ring's C code with gcc" >&2
    export CC_x86_64_unknown_linux_musl="${CC_x86_64_unknown_linux_musl:-gcc}"
  fi
fi

if have_musl && cargo build --release --locked --target "$musl" >&2; then
  artefact="target/$musl/release/pushgate"
else
  echo "NOTICE: the musl target is not available; building a static glibc binary instead." >&2
  echo "NOTICE: glibc's static NSS functions are unused by pushgate (it never resolves names)." >&2
  RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$gnu" >&2
  artefact="target/$gnu/release/pushgate"
fi

size=$(stat -c %s "$artefact")
echo "artefact: $artefact" >&2
echo "size:     $size bytes ($(( (size + 1023) / 1024 )) KiB)" >&2
if command -v file >/dev/null; then
  echo "file:     $(file -b "$artefact")" >&2
fi
echo "$artefact"
