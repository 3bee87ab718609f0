#!/usr/bin/env bash
# Push latency, empty store vs. loaded store (target: loaded within 1.5x of empty).
#
# Usage:
#   scripts/bench/bench-push.sh [--upstream] [BIN]
#     BIN         gateway to measure; default target/release/pushgate (falls back to the
#                 debug build with a warning: its figures are not representative)
#     --upstream  also measure prometheus-pushgateway and print a side-by-side line
#   Environment: BENCH_TIMED (default 2000), BENCH_GROUPS (default 10000).
#
# What is measured (by scripts/bench/bench_push.py): PUT of one 10-series group (one gauge
# family, text format) to the SAME group {job="bench",instance="timed"}, so the store
# does not grow while measuring; BENCH_TIMED sequential requests on one keep-alive
# connection after a warm-up. First on a fresh gateway (the store holds only that
# group), then after filling the store with BENCH_GROUPS groups x 10 series (4 parallel
# keep-alive clients), then again. Prints median and p99 of both runs, the loaded/empty
# ratio of the medians and PASS/FAIL for "ratio <= 1.5" (a fill that does not finish
# within its time cap is a FAIL too). Only BIN is judged; upstream is a reference.
# Exit status: 0 on PASS, 1 on FAIL, 2 on setup errors.
#
# Runtime: each measurement stops after 10 s and the fill after 30 s at most, so one
# gateway takes under a minute even when slow. Upstream re-gathers the whole store on
# every push (spec §16 #3) and usually does not reach 10000 groups within the cap.
# All traffic goes to 127.0.0.1; every started gateway is killed on exit.
set -euo pipefail
# shellcheck source=scripts/lib/gateway.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/gateway.sh"

usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

with_upstream=false
bin=
for arg in "$@"; do
    case "$arg" in
        -h|--help) usage; exit 0 ;;
        --upstream) with_upstream=true ;;
        -*) echo "error: unknown option $arg" >&2; exit 2 ;;
        *) bin=$arg ;;
    esac
done
if [ -z "$bin" ]; then
    bin=$(default_pushgate release)
    case "$bin" in
        "") echo "error: no pushgate binary; run \`cargo build --release\` or pass BIN" >&2; exit 2 ;;
        */debug/*) echo "WARNING: no release build; measuring $bin (debug figures are not representative)" ;;
    esac
fi
[ -x "$bin" ] || { echo "error: $bin is not executable" >&2; exit 2; }
upstream_bin=
if $with_upstream; then
    upstream_bin=$(command -v "$UPSTREAM_NAME") ||
        { echo "error: --upstream given but $UPSTREAM_NAME is not installed" >&2; exit 2; }
fi

bench_args=(--timed "${BENCH_TIMED:-2000}" --groups "${BENCH_GROUPS:-10000}")
summaries=()

# bench NAME BIN: measures one fresh gateway; sets STATUS and appends to summaries.
bench() {
    local name=$1 gw=$2 out
    start_gateway "$gw" "$name" || exit 2
    echo "== $name: $gw (127.0.0.1:$GW_PORT)"
    STATUS=0
    # In the background plus `wait`, so that SIGINT/SIGTERM run the cleanup trap at once.
    python3 "$REPO_ROOT/scripts/bench/bench_push.py" "$GW_PORT" "$name" "${bench_args[@]}" \
        >"$GW_TMP/$name.out" &
    GW_PIDS+=("$!")
    wait "$!" || STATUS=$?
    out=$(cat "$GW_TMP/$name.out")
    grep -v '^SUMMARY ' <<<"$out" || true
    summaries+=("$(sed -n 's/^SUMMARY //p' <<<"$out")")
    stop_gateway "$GW_PID"
    if [ "$STATUS" -eq 2 ]; then
        echo "--- $name log (last 10 lines) ---"
        tail -n 10 "$GW_LOG"
        exit 2
    fi
}

bench "$(basename "$bin")" "$bin"
main_status=$STATUS
if [ -n "$upstream_bin" ]; then
    bench upstream "$upstream_bin"
    summaries[-1]="${summaries[-1]}  (reference)"
fi
echo "== side by side"
printf '   %s\n' "${summaries[@]}"
if [ "$main_status" -eq 0 ]; then
    echo "PASS: loaded latency within 1.5x of empty ($(basename "$bin"))"
else
    echo "FAIL: loaded latency not within 1.5x of empty ($(basename "$bin"))"
fi
exit "$main_status"
