#!/usr/bin/env bash
# Measures licet-server with many licenses: start-up time, resident memory idle and under load.
#
#   scripts/bench-memory.sh [counts, default "100000 1000000"] [seconds of load, default 20]
#
# For each count: fills a fresh data directory through the store (examples/seed_licenses), starts
# the release server on it, records the time until it listens and its RSS, then validates random
# seeded keys with wrk for the given seconds (the culler and expiry sweep run every 10 s meanwhile)
# and records RSS and peak RSS again. Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNTS=${1:-"100000 1000000"}
SECS=${2:-20}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
cargo build --release -q -p licet-server --bin licet-server --example seed_licenses

rss() { awk -v k="$2:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
ROWS=""
for N in $COUNTS; do
    DATA=$(mktemp -d)
    OUT=$(mktemp)
    SEED=$(./target/release/examples/seed_licenses "$DATA" "$N")
    DISK=$(du -sm "$DATA/db" | cut -f1)
    START=$(date +%s.%N)
    LICET_LOG=warn ./target/release/licet-server --data "$DATA" --listen 127.0.0.1:0 \
        --rate-limit-ip 0 --rate-limit-license 0 >"$OUT" 2>/dev/null &
    PID=$!
    for _ in $(seq 1 6000); do grep -q '^listening on' "$OUT" 2>/dev/null && break; sleep 0.01; done
    UP=$(python3 -c "import time; print(f'{time.time() - $START:.2f}')")
    URL="http://$(sed -n 's/^listening on //p' "$OUT")"
    IDLE=$(rss "$PID" VmRSS)
    LUA=$(mktemp --suffix .lua)
    {
        echo "local keys = {"
        sed 's/.*/"&",/' "$DATA/seed-keys.txt"
        echo "}"
        echo 'request = function()'
        echo '  local body = string.format([[{"key":"%s"}]], keys[math.random(#keys)])'
        echo '  return wrk.format("POST", "/v1/client/validate", {["Content-Type"] = "application/json"}, body)'
        echo 'end'
    } >"$LUA"
    RPS=$(wrk -t2 -c32 -d"${SECS}s" -s "$LUA" "$URL" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    LOADED=$(rss "$PID" VmRSS)
    PEAK=$(rss "$PID" VmHWM)
    kill "$PID"; wait "$PID" 2>/dev/null || true
    rm -rf "$DATA" "$OUT" "$LUA"
    ROWS+="| $N | $SEED s | $DISK MiB | $UP s | $IDLE MiB | $LOADED MiB | $PEAK MiB | $RPS |"$'\n'
done
echo "| licenses | seeding | store on disk | start-up (to listening) | RSS idle | RSS after ${SECS} s of validations | peak RSS | validations/s |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s' "$ROWS"
