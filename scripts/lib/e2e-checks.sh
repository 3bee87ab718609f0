# shellcheck shell=bash
# scripts/lib/e2e-checks.sh: check helpers sourced by scripts/test/e2e.sh.
#
# Not a script of its own. Owns the pass/fail counters, curl wrappers that record the
# status and body of the last request, bounded polling of a gateway's exposition, and
# folding the "N passed, M failed" line of a helper program into the counters.
# Starting and stopping processes is scripts/lib/gateway.sh's job (start_gateway, GW_PIDS).

E2E_PASSED=0
E2E_FAILED=0
# Writes answered 202 (DELETE, wipe) are applied asynchronously (spec §5.8).
E2E_SETTLE_TRIES=40 # x 0.05 s = 2 s

pass() {
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok    $1"
}

# fail NAME [DETAIL...]: counts a failure and prints the details indented.
fail() {
    E2E_FAILED=$((E2E_FAILED + 1))
    echo "FAIL  $1"
    shift
    local line
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/        /'
    done
}

# req CURL_ARGS...: runs curl, leaving the status in REQ_STATUS and the body in REQ_BODY.
# The body is also read from stdin when CURL_ARGS contain `--data-binary @-`.
req() {
    REQ_STATUS=$(curl -s -m 30 -o "$GW_TMP/req.body" -w '%{http_code}' "$@") || REQ_STATUS="curl exit $?"
    REQ_BODY=$(cat "$GW_TMP/req.body" 2>/dev/null || true)
}

# expect_status NAME WANT: checks REQ_STATUS of the last req.
expect_status() {
    if [ "$REQ_STATUS" = "$2" ]; then
        pass "$1 -> $2"
    else
        fail "$1 -> $2" "got $REQ_STATUS: $REQ_BODY"
    fi
}

# scrape BASE_URL: prints the text exposition.
scrape() {
    curl -s -m 30 "$1/metrics"
}

# missing_lines FILE LINE...: prints each LINE that is not a whole line of FILE.
missing_lines() {
    local file=$1 line
    shift
    for line in "$@"; do
        grep -qFx -- "$line" "$file" || printf '%s\n' "$line"
    done
}

# expect_lines NAME BASE_URL LINE...: the exposition contains every LINE (bounded poll).
expect_lines() {
    local name=$1 base=$2 missing=
    shift 2
    for _ in $(seq 1 "$E2E_SETTLE_TRIES"); do
        scrape "$base" >"$GW_TMP/scrape.txt"
        missing=$(missing_lines "$GW_TMP/scrape.txt" "$@")
        [ -z "$missing" ] && break
        sleep 0.05
    done
    if [ -z "$missing" ]; then
        pass "$name"
    else
        fail "$name" "missing lines:" "$missing"
    fi
}

# expect_no_match NAME BASE_URL REGEX: no line of the exposition matches (bounded poll).
expect_no_match() {
    local name=$1 base=$2 regex=$3 found=
    for _ in $(seq 1 "$E2E_SETTLE_TRIES"); do
        found=$(scrape "$base" | grep -E -- "$regex" || true)
        [ -z "$found" ] && break
        sleep 0.05
    done
    if [ -z "$found" ]; then
        pass "$name"
    else
        fail "$name" "unexpected lines:" "$found"
    fi
}

# run_helper NAME COMMAND...: runs a program that prints check lines and a final
# "N passed, M failed", shows its output indented and adds its counts.
run_helper() {
    local name=$1 out="$GW_TMP/helper.out" status=0 counts
    shift
    # In the background plus `wait`, so that SIGINT/SIGTERM run the cleanup trap at once.
    "$@" >"$out" 2>&1 &
    GW_PIDS+=("$!")
    wait "$!" || status=$?
    sed 's/^/  /' "$out"
    counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    if [ -z "$counts" ]; then
        fail "$name ran to its summary" "exit status $status, no 'N passed, M failed' line"
        return
    fi
    E2E_PASSED=$((E2E_PASSED + ${counts%% passed*}))
    local failed=${counts#*passed, }
    E2E_FAILED=$((E2E_FAILED + ${failed%% failed*}))
    if [ "$status" -ne 0 ] && [ "${failed%% failed*}" -eq 0 ]; then
        fail "$name exit status" "exited $status although no check failed"
    fi
}
