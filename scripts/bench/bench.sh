#!/usr/bin/env bash
# Side-by-side performance benchmark of pushgate and upstream's Pushgateway (issue 8).
#
# Usage:
#   scripts/bench/bench.sh [--glibc] [--no-build] [--no-upstream]
#     --glibc        also build and measure the static glibc binary (allocator comparison;
#                    adds one release build and about 2 minutes)
#     --no-build     measure the binaries already built (fails if they are missing)
#     --no-upstream  measure pushgate alone even if prometheus-pushgateway is installed
#
# Builds the shipped binary with scripts/ship/build-release.sh (musl), starts it and, when
# installed, upstream's prometheus-pushgateway on 127.0.0.1:0, and runs the same bounded
# workloads against all of them, interleaved (scripts/bench/bench.py, wrk with
# scripts/bench/wrk.lua): push latency on an empty store and at 10k and 100k series,
# push throughput, scrape latency/throughput at 100k (plain and gzip), /api/v1/metrics
# latency, RSS, snapshot/restart times where --persistence.file works, binary sizes.
# Prints the machine, one table of medians and ratios, and PASS/FAIL per target of
# issue 8 for the musl binary. Every wait is capped: the run takes about 5 minutes
# after the build. Every process it starts is killed on exit, also on errors and ^C.
# Exit status: 0 all targets met, 1 a target missed, 2 setup error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

glibc=false build=true upstream=true
for arg in "$@"; do
    case "$arg" in
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

# In the background plus `wait`, so that INT/TERM reach the trap at once.
python3 -u scripts/bench/bench.py "${args[@]}" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=
exit "$status"
