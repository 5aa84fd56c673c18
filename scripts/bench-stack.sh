#!/usr/bin/env bash
# The fixed cost of a request: licet-server (this working tree, on sled) beside a bare axum
# server of the same axum, hyper and tokio (server/examples/axum_baseline.rs: a `/healthz`
# answering the same JSON, and axum's own 404), both up at once, in alternating wrk runs
# (baseline, licet, then licet, baseline, …). Each figure is the median of its runs; the table
# gives licet's /healthz and 404 as a ratio of the baseline's, and licet's validate (signed) as a
# ratio of its own /healthz, all from the same alternation.
#
#   scripts/bench-stack.sh [rounds, default 3] [seconds per run, default 8] [connections, default 32]
#   LICET_BIN=target/bench-ab/<commit>/release/licet-server scripts/bench-stack.sh   # another build
#
# Needs wrk, curl and python3. licet runs with its protections as shipped: the per-IP and
# per-license limits (set far above what wrk sends from one address, so that they are counted
# but never refuse), the body and time limits, request ids and metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-8}
CONNS=${3:-32}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

cargo build --release --locked -q -p licet-server --bin licet-server --example axum_baseline

WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/licet/data" "$WORK/licet/lua" "$WORK/baseline/lua"

./target/release/examples/axum_baseline 127.0.0.1:0 >"$WORK/baseline/out" &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^listening on' "$WORK/baseline/out" 2>/dev/null && break; sleep 0.1; done
BASELINE="http://$(sed -n 's/^listening on //p' "$WORK/baseline/out")"

# bench_start switches the limits off; here they stay on, at a rate no run reaches.
LICET_LOG=warn "${LICET_BIN:-./target/release/licet-server}" --data "$WORK/licet/data" --listen 127.0.0.1:0 \
    --rate-limit-ip 1000000000 --rate-limit-license 1000000000 --licensecm-rate-api 1000000000 \
    --licensecm-rate-validation 1000000000 --login-rate-limit 1000000000 --licensecm-registration true \
    >"$WORK/licet/out" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 1 600); do grep -q '^listening on' "$WORK/licet/out" 2>/dev/null && break; sleep 0.1; done
LICET="http://$(sed -n 's/^listening on //p' "$WORK/licet/out")"
ADMIN=$(grep -o 'lk_[A-Za-z0-9_]*' "$WORK/licet/out")
SEATS=10 bench_fixtures "$LICET" "$ADMIN" "$WORK/licet/lua" >/dev/null

echo "licet: ${LICET_BIN:-$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + changes')}; baseline: axum_baseline"
echo "wrk -t2 -c$CONNS -d${SECS}s, $ROUNDS runs a side per endpoint, alternating, on $(nproc) cores"
for r in $(seq 1 "$ROUNDS"); do
    order="baseline licet"
    [ $((r % 2)) -eq 0 ] && order="licet baseline"
    for side in $order; do
        url=$BASELINE lua=$WORK/baseline/lua
        [ "$side" = licet ] && url=$LICET lua=$WORK/licet/lua
        echo "$side $(bench_wrk "$url" "$lua" healthz "" /healthz "$SECS" "$CONNS")"
        echo "$side $(bench_wrk "$url" "$lua" 404 "" /no/such/route "$SECS" "$CONNS")"
    done
    echo "licet $(bench_wrk "$LICET" "$WORK/licet/lua" validate validate.lua /v1/client/validate "$SECS" "$CONNS")"
done >"$WORK/runs"

python3 - "$WORK/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    side, name, rps, p50, p99, non2xx = line.split()
    runs.setdefault((side, name), []).append((float(rps), p50, p99, int(non2xx)))
def med(side, name):
    return statistics.median(r[0] for r in runs[(side, name)])
def errors(side, name):
    return sum(r[3] for r in runs[(side, name)])
print()
print("| endpoint | baseline req/s | licet req/s | licet ÷ baseline | licet ÷ its /healthz | non-2xx (licet) |")
print("|---|---:|---:|---:|---:|---:|")
h = med("licet", "healthz")
for name in ["healthz", "404", "validate"]:
    l = med("licet", name)
    base = f"{med('baseline', name):,.0f}" if ("baseline", name) in runs else "—"
    ratio = f"{l / med('baseline', name):.2f}×" if ("baseline", name) in runs else "—"
    own = f"{l / h:.2f}×" if name != "healthz" else "1"
    # A 404 is the answer asked for there; elsewhere any non-2xx is an error.
    bad = errors("licet", name) if name != "404" else 0
    print(f"| {name} | {base} | {l:,.0f} | {ratio} | {own} | {bad} |")
PY
