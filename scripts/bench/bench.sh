#!/usr/bin/env bash
# Side-by-side performance benchmark of pushgate and upstream's Pushgateway (issue 8).
#
# Usage:
#   scripts/bench/bench.sh [--glibc] [--no-build] [--no-upstream] [--steady-only | --no-steady]
#     --glibc        also build and measure the static glibc binary (allocator comparison;
#                    adds one release build and about 2 minutes)
#     --no-build     measure the binaries already built (fails if they are missing)
#     --no-upstream  measure pushgate alone even if prometheus-pushgateway is installed
#     --steady-only  run only the steady-state phase (issue 14, scripts/bench/bench-steady.py)
#     --no-steady    skip it
#
# Builds the shipped binary with scripts/ship/build-release.sh (musl), starts it and, when
# installed, upstream's prometheus-pushgateway on 127.0.0.1:0, and runs the same bounded
# workloads against all of them, interleaved (scripts/bench/bench.py, wrk with
# scripts/bench/wrk.lua): push latency on an empty store and at 10k and 100k series,
# push throughput, scrape latency/throughput at 100k (plain and gzip), /api/v1/metrics
# latency, RSS, snapshot/restart times where --persistence.file works, binary sizes.
# Then the steady state (scripts/bench/bench-steady.py, fresh gateways, 10,000 groups x 10
# series): scrapes (plain, gzip, protobuf) and /api/v1/metrics right after a push, and
# RSS around a 60 s run of 20 pushes/s with a scrape every second.
# Prints the machine, tables of medians and ratios, and PASS/FAIL per target of
# issues 8 and 14 for the musl binary. Every wait is capped: the run takes about 10
# minutes after the build. Every process it starts is killed on exit, also on errors and ^C.
# Exit status: 0 all targets met, 1 a target missed, 2 setup error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

glibc=false build=true upstream=true main=true steady=true
for arg in "$@"; do
    case "$arg" in
        --steady-only) main=false ;;
        --no-steady) steady=false ;;
        -h|--help) usage; exit 0 ;;
        --glibc) glibc=true ;;
        --no-build) build=false ;;
        --no-upstream) upstream=false ;;
        *) echo "error: unknown argument $arg (see --help)" >&2; exit 2 ;;
    esac
done

for tool in wrk python3 cargo; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 2; }
done

musl_bin=target/x86_64-unknown-linux-musl/release/pushgate
glibc_bin=target/x86_64-unknown-linux-gnu/release/pushgate
if $build; then
    echo "== building the shipped binary (scripts/ship/build-release.sh)"
    musl_bin=$(nice scripts/ship/build-release.sh | tail -n 1)
    if $glibc; then
        echo "== building the static glibc binary"
        RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
            nice cargo build --release --locked --target x86_64-unknown-linux-gnu
    fi
fi
[ -x "$musl_bin" ] || { echo "error: $musl_bin is not built" >&2; exit 2; }
case "$musl_bin" in
    *musl*) musl_name=musl ;;
    *) musl_name=glibc; echo "NOTICE: build-release.sh fell back to glibc; judging that binary" ;;
esac
args=(--gateway "pushgate-$musl_name=$musl_bin")
if $glibc && [ "$musl_name" = musl ]; then
    [ -x "$glibc_bin" ] || { echo "error: $glibc_bin is not built" >&2; exit 2; }
    args+=(--gateway "pushgate-glibc=$glibc_bin")
fi
if $upstream; then
    if up=$(command -v prometheus-pushgateway); then
        args+=(--upstream "$up")
    else
        echo "NOTICE: prometheus-pushgateway is not installed; measuring pushgate alone"
    fi
fi

bench_pid=
cleanup() {
    # bench.py stops its gateways itself (and they die with it: PR_SET_PDEATHSIG).
    if [ -n "$bench_pid" ]; then
        kill "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== $(uptime)"
status=0
# In the background plus `wait`, so that INT/TERM reach the trap at once.
if $main; then
    python3 -u scripts/bench/bench.py "${args[@]}" &
    bench_pid=$!
    wait "$bench_pid" || status=$?
    bench_pid=
fi
if $steady; then
    echo
    echo "== steady state (issue 14); $(uptime)"
    python3 -u scripts/bench/bench-steady.py "${args[@]}" &
    bench_pid=$!
    steady_status=0
    wait "$bench_pid" || steady_status=$?
    bench_pid=
    [ "$steady_status" -gt "$status" ] && status=$steady_status
fi
echo "== $(uptime)"
exit "$status"
