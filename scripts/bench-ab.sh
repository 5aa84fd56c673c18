#!/usr/bin/env bash
# A/B benchmark: licet-server at a git revision BEFORE against this working tree, both servers up
# at once on the same machine, each endpoint measured in short alternating wrk runs (before,
# after, then after, before, …), so that whatever the machine does meanwhile falls on both
# sides alike. Each side's requests/s are the median of its runs, and each is given as a ratio
# to that side's own /healthz, measured in the same alternation.
#
#   scripts/bench-ab.sh BEFORE [rounds, default 3] [seconds per run, default 5] [connections, default 64]
#   ONLY="activate heartbeat" scripts/bench-ab.sh 780ef14      # some endpoints (and healthz)
#
# BEFORE is built once into target/bench-ab/<commit> (a git worktree, removed afterwards).
# Needs wrk, curl, python3 and git. See scripts/bench-server.sh for what each endpoint does.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE_REV=${1:?usage: scripts/bench-ab.sh BEFORE [rounds] [seconds] [connections]}
ROUNDS=${2:-3}
SECS=${3:-5}
CONNS=${4:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

bench_build_both "$BEFORE_REV"

WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
declare -A URL
for side in before after; do
    mkdir -p "$WORK/$side/data" "$WORK/$side/lua"
    bin=./target/release/licet-server
    [ "$side" = before ] && bin="$BEFORE_DIR/release/licet-server"
    bench_start "$bin" "$WORK/$side/data" "$WORK/$side/out"
    PIDS+=("$BENCH_PID")
    URL[$side]=$BENCH_URL
    bench_fixtures "$BENCH_URL" "$BENCH_ADMIN" "$WORK/$side/lua"
done
# shellcheck disable=SC1091
source "$WORK/after/lua/env"

echo "before: $COMMIT, after: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + changes')"
echo "wrk -t2 -c$CONNS -d${SECS}s, $ROUNDS runs a side per endpoint, alternating, on $(nproc) cores"
bench_endpoints "$NUMBER" | while read -r name script path; do
    if [ -n "${ONLY:-}" ] && [ "$name" != healthz ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    [ "$script" = - ] && script=
    for r in $(seq 1 "$ROUNDS"); do
        order="before after"
        [ $((r % 2)) -eq 0 ] && order="after before"
        for side in $order; do
            echo "$side $(bench_wrk "${URL[$side]}" "$WORK/$side/lua" "$name" "$script" "$path" "$SECS" "$CONNS")"
        done
    done
done >"$WORK/runs"

python3 - "$WORK/runs" <<'PY'
import statistics, sys
runs = {}
order = []
for line in open(sys.argv[1]):
    side, name, rps, *_ = line.split()
    if name not in order:
        order.append(name)
    runs.setdefault((side, name), []).append(float(rps))
med = {k: statistics.median(v) for k, v in runs.items()}
print()
print("| endpoint | before req/s | before ÷ /healthz | after req/s | after ÷ /healthz | change of the ratio |")
print("|---|---|---|---|---|---|")
for name in order:
    b, a = med[("before", name)], med[("after", name)]
    rb, ra = b / med[("before", "healthz")], a / med[("after", "healthz")]
    print(f"| {name} | {b:.0f} | {rb:.3f}× | {a:.0f} | {ra:.3f}× | {ra / rb - 1:+.1%} |")
PY
