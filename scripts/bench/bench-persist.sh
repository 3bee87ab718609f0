#!/bin/sh
# Persistence benchmark (issue 4): snapshot write time, file size and restart
# time (read + checksum + decode + Store::restore) for 100,000 and 1,000,000
# series. Prints figures only; nothing is asserted.
#
# Usage: scripts/bench/bench-persist.sh [series counts...]   (default: 100000 1000000)
# The store is built in memory (100 series per group: 10 gauge families of 10
# series); the file goes to a fresh directory under $TMPDIR and is removed.
# Needs a release build: debug builds decode protobuf ~30x slower.
set -eu
cd "$(dirname "$0")/../.."
if [ "$#" -gt 0 ]; then
    PERSIST_BENCH_SERIES="$*"
else
    PERSIST_BENCH_SERIES="100000 1000000"
fi
export PERSIST_BENCH_SERIES
out=$(cargo test --release -- --ignored --nocapture --test-threads=1 persist_bench 2>&1) || {
    printf '%s\n' "$out" >&2
    exit 1
}
printf '%s\n' "$out" | grep -o 'persist_bench series=.*' | sed 's/^persist_bench //'
