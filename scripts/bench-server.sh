#!/usr/bin/env bash
# Measures licet-server with wrk over loopback: validations/s (native, FaxStore, Verify API,
# WemX, LicenseCM), activations/s (each one a durable write, with group commit) and heartbeats/s
# over SEATS (default 10,000) floating seats, next to /healthz on the same server in the same
# run; then raw sled writes + flush on the same disk (examples/sled_flush), for the ratio.
#
#   scripts/bench-server.sh [seconds per run, default 10] [connections, default 64]
#   ONLY="licensecm-validate activate" scripts/bench-server.sh   # some endpoints (and healthz)
#
# Needs wrk (Debian: apt-get install wrk), curl and python3. The machine's two cores are shared
# by the server and wrk, so compare the ratios; the absolute numbers are context.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

cargo build --release -q -p licet-server
cargo build --release -q -p licet-benches --example sled_flush
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
DATA=$(mktemp -d)
OUT=$(mktemp)
LUA=$(mktemp -d)
BENCH_PID=
trap 'kill $BENCH_PID 2>/dev/null || true; rm -rf "$DATA" "$OUT" "$LUA"' EXIT
bench_start ./target/release/licet-server "$DATA" "$OUT"
URL=$BENCH_URL
ADMIN=$BENCH_ADMIN
bench_fixtures "$URL" "$ADMIN" "$LUA"
# shellcheck disable=SC1091
source "$LUA/env"

run() { # name, script or "-", path
    local name=$1 script=$2 path=$3
    # ONLY="healthz licensecm-validate" limits the run to those endpoints (healthz always runs).
    if [ -n "${ONLY:-}" ] && [ "$name" != healthz ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
    [ "$script" = - ] && script=
    bench_wrk "$URL" "$LUA" "$name" "$script" "$path" "$SECS" "$CONNS"
}
echo "wrk -t2 -c$CONNS -d${SECS}s on $(nproc) cores, server and load generator sharing them"
RESULTS=$(bench_endpoints "$NUMBER" | while read -r name script path; do run "$name" "$script" "$path"; done)
BASE=$(echo "$RESULTS" | awk '$1 == "healthz" {print $2}')
echo
echo "| endpoint | requests/s | ratio to /healthz | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
echo "$RESULTS" | while read -r name rps p50 p99 non2xx; do
    ratio=$(python3 -c "print(f'{$rps / $BASE:.2f}')")
    echo "| $name | $rps | ${ratio}× | $p50 | $p99 | $non2xx |"
done
METRICS=$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/metrics")
echo
echo "activations recorded by the server: $(echo "$METRICS" | awk '/^licet_activations_total/ {print $2}')"
echo "store flushes: $(echo "$METRICS" | awk '/^licet_store_flushes_total/ {print $2}')"

# The same disk without the server: raw sled writes, each followed by a flush.
if [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" activate "* ]]; then
    RAW=$(./target/release/examples/sled_flush "$DATA" "$SECS" "$CONNS")
    ACT=$(echo "$RESULTS" | awk '$1 == "activate" {print $2}')
    echo
    echo "| raw sled on the same disk | writes/s | activations/s as a ratio of it |"
    echo "|---|---|---|"
    echo "$RAW" | while read -r name rps; do
        echo "| $name | $rps | $(python3 -c "print(f'{$ACT / $rps:.2f}')")× |"
    done
fi
