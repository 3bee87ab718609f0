# shellcheck shell=bash
# scripts/lib/gateway.sh: the one way a shell script starts a gateway (or a peer that
# logs "Listening on" the same way: node_exporter, Prometheus).
#
# Not a script of its own; sourced. Owns starting gateways on 127.0.0.1:0 (the bound port is read
# from the "Listening on" log line) and killing every started process listed in GW_PIDS
# (gateways and background helpers) on exit, including on errors and on SIGINT/SIGTERM.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
UPSTREAM_NAME=prometheus-pushgateway
GW_PIDS=()
GW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pushgate-scripts.XXXXXX")
GW_MAIN_PID=$BASHPID

cleanup_gateways() {
    local pid
    # Subshells may run the EXIT trap too; only the main shell cleans up.
    [ "$BASHPID" = "$GW_MAIN_PID" ] || return 0
    for pid in "${GW_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${GW_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    GW_PIDS=()
    rm -rf "$GW_TMP"
}
trap cleanup_gateways EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# default_pushgate [release]: prints the newest of target/{release,debug}/pushgate (so
# that a stale release build does not shadow a fresh debug build), or with "release" the
# release build if there is one; prints nothing if none is built.
default_pushgate() {
    local release="$REPO_ROOT/target/release/pushgate" debug="$REPO_ROOT/target/debug/pushgate"
    if [ -x "$release" ] && { [ "${1:-}" = release ] || [ ! -x "$debug" ] || [ "$release" -nt "$debug" ]; }; then
        echo "$release"
    elif [ -x "$debug" ]; then
        echo "$debug"
    fi
}

# True if the binary reports itself as upstream's Pushgateway.
is_upstream() {
    "$1" --version 2>&1 | grep -q 'pushgateway, version'
}

# start_gateway BIN NAME [FLAG...]: starts BIN on 127.0.0.1:0 and waits (at most 10 s) for
# its "Listening on" line. Sets GW_PID, GW_PORT and GW_LOG; returns 1 on failure. BIN
# may be a wrapper that ends in `exec` (env -i, setpriv): GW_PID is then the gateway's.
start_gateway() {
    local bin=$1 name=$2
    shift 2
    local flags=(--web.listen-address=127.0.0.1:0 "$@") _ flag names_file=false
    # Upstream keeps no file by default, but make sure it never touches one unless the
    # caller names one (upstream refuses the flag twice).
    for flag in "$@"; do
        case $flag in --persistence.file=*) names_file=true ;; esac
    done
    if ! $names_file && is_upstream "$bin"; then
        flags=(--persistence.file= "${flags[@]}")
    fi
    GW_LOG="$GW_TMP/$name.log"
    GW_PORT=
    # Create the log before the background job does: its redirection happens
    # in the child, so the first look below could otherwise find no file
    # (and, under pipefail, end the calling script).
    : >"$GW_LOG"
    "$bin" "${flags[@]}" </dev/null >/dev/null 2>"$GW_LOG" &
    GW_PID=$!
    GW_PIDS+=("$GW_PID")
    for _ in $(seq 1 100); do
        GW_PORT=$(sed -n 's/.*Listening on.*address="\{0,1\}127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
            "$GW_LOG" | head -n 1)
        [ -n "$GW_PORT" ] && return 0
        if ! kill -0 "$GW_PID" 2>/dev/null; then
            echo "error: $name ($bin) exited during startup:" >&2
            tail -n 5 "$GW_LOG" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "error: $name ($bin) printed no 'Listening on' line within 10 s" >&2
    return 1
}

# stop_gateway PID: stops one gateway started by start_gateway and waits for it.
stop_gateway() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
