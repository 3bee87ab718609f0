#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a bounded time:
#   scripts/test/fuzz.sh [seconds-per-target]   (default 60)
# or for a fixed number of inputs from a fixed seed, on a fresh corpus of the
# committed seeds and regressions (bounded cost; the path still varies a
# little between runs, since the code under test uses randomly seeded hashes):
#   scripts/test/fuzz.sh --runs=N [--seed=S]    (default seed 1)
# Installs cargo-fuzz if missing (scripts/install-test-peers.sh --fuzz), seeds each corpus from fuzz/seeds/<target>
# and fuzz/regressions/<target>,
# and prints executions, exec/s and coverage per target, then
# "N passed, M failed". Exits non-zero if any target crashed, leaked past the
# RSS limit or hung; the reproducing input's path is printed.
# Builds on the stable toolchain with `--sanitizer none`; falls back to
# `cargo +nightly` only if that build fails and a nightly toolchain exists.
set -uo pipefail
cd "$(dirname "$0")/../.."

usage="usage: $0 [seconds-per-target] | $0 --runs=N [--seed=S]"
seconds=60
runs=
seed=1
for arg in "$@"; do
    case $arg in
        --runs=*) runs=${arg#--runs=} ;;
        --seed=*) seed=${arg#--seed=} ;;
        *) seconds=$arg ;;
    esac
done
targets=(text_parse proto_decode push_path body_decode store_push http_head chunked_decode upstream_persistence)
logs=fuzz/target/fuzz-logs
# -a: debug assertions and overflow checks, so arithmetic overflow is a crash.
build_flags=(--sanitizer none --debug-assertions)

for n in "$seconds" "${runs:-1}" "$seed"; do
    if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
        echo "$usage" >&2
        exit 2
    fi
done
if [ -n "$runs" ]; then
    # No time limit: the cost is bounded by the input count, not the clock.
    limit=(-seed="$seed" -runs="$runs")
else
    limit=(-max_total_time="$seconds")
fi

scripts/install-test-peers.sh --fuzz || exit 1

cargo_cmd=(cargo)
echo "== building fuzz targets (stable, ${build_flags[*]})"
if ! cargo fuzz build "${build_flags[@]}"; then
    if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        echo "== stable build failed; retrying with cargo +nightly"
        cargo_cmd=(cargo +nightly)
        "${cargo_cmd[@]}" fuzz build "${build_flags[@]}" || exit 1
    else
        echo "fuzz build failed and no nightly toolchain is installed" >&2
        exit 1
    fi
fi

# One `-print_final_stats=1` figure from a libFuzzer log.
stat_of() {
    sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

mkdir -p "$logs"
passed=0
failed=0
for target in "${targets[@]}"; do
    if [ -n "$runs" ]; then
        corpus=fuzz/target/fixed-corpus/$target
        rm -rf "$corpus"
        echo "== $target: $runs runs, seed $seed"
    else
        corpus=fuzz/corpus/$target
        echo "== $target: ${seconds} s"
    fi
    mkdir -p "$corpus"
    # Seeds and regressions are committed; fuzz/corpus is not (.gitignore),
    # it only grows.
    cp -n fuzz/seeds/"$target"/* fuzz/regressions/"$target"/* "$corpus"/ 2>/dev/null || true
    log=$logs/$target.log
    "${cargo_cmd[@]}" fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
        "${limit[@]}" -rss_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    status=$?
    runs=$(stat_of number_of_executed_units "$log")
    rate=$(stat_of average_exec_per_sec "$log")
    rss=$(stat_of peak_rss_mb "$log")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' "$log" | tail -n 1)
    echo "   runs: ${runs:-?}  exec/s: ${rate:-?}  peak RSS: ${rss:-?} MB  ${cov:-}"
    if [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "   FAILED (exit $status); log: $log"
        grep -E 'panicked at|^==[0-9]+== ERROR|SUMMARY: libFuzzer' "$log" | head -n 5 | sed 's/^/   /'
        grep -oE '(Test unit|Testcase) written to [^ ]+' "$log" | sed 's/^/   artifact: /'
        echo "   replay: cargo fuzz run ${build_flags[*]} $target <artifact>;" \
            "once fixed, copy it to fuzz/regressions/$target/"
    fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
