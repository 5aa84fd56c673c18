#!/usr/bin/env bash
# Where a validation's time goes on PostgreSQL: one release server on this script's own
# PostgreSQL, validations under wrk, and the CPU the server and PostgreSQL's backends spent
# per validation during the run (from /proc, user and system time). With BEFORE=path/to/build,
# that build is measured the same way in alternating rounds, each on a fresh database.
#
#   scripts/bench-pg-validate.sh [rounds, default 3] [seconds, default 10] [connections, default 64]
#   BEFORE=target/bench-ab/REV/release/licet-server scripts/bench-pg-validate.sh
#
# PERF=1 also records the server with perf (perf.data in the current directory) in the last
# round of this tree. Needs wrk, curl, python3 and the PostgreSQL binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-10}
CONNS=${3:-64}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
cargo build --release -q --locked -p licet-server --bin licet-server
bench_workdir licet-bench-pg-validate
HZ=$(getconf CLK_TCK)

# CPU ticks (user and system) of a process, and of all of PostgreSQL's processes.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
    local t=0 p
    for p in $(pgrep -u postgres postgres); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# One round of a build: "side requests/s server-µs postgres-µs".
round() { # side, binary, round number
    local side=$1 bin=$2 db="${1}_$3" s0 p0 s1 p1 rps perf=""
    psql_ -c "CREATE DATABASE $db"
    declare -A URL ADMIN
    BIN=$bin bench_named "$db" --database-url "host=$WORK/pg user=postgres dbname=$db" \
        --master-key-file "$WORK/master.key" --db-pool-size 16
    SEATS=10 bench_fixtures "${URL[$db]}" "${ADMIN[$db]}" "$WORK/$db/lua" >/dev/null
    local pid=${PIDS[-1]}
    if [ -n "${PERF:-}" ] && [ "$side" = this ] && [ "$3" = "$ROUNDS" ]; then
        perf record -F 1999 -g -o perf.data -p "$pid" -- sleep "$((SECS - 1))" >/dev/null 2>&1 &
        perf=$!
    fi
    s0=$(ticks "$pid")
    p0=$(pg_ticks)
    bench_wrk "${URL[$db]}" "$WORK/$db/lua" validate validate.lua /v1/client/validate "$SECS" "$CONNS" >/dev/null
    s1=$(ticks "$pid")
    p1=$(pg_ticks)
    [ -n "$perf" ] && wait "$perf"
    kill "$pid"
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$db/lua/validate.txt")
    python3 -c "r = $rps * $SECS; print('$side', $rps, f'{($s1 - $s0) / $HZ * 1e6 / r:.0f}', f'{($p1 - $p0) / $HZ * 1e6 / r:.0f}')"
}

for r in $(seq 1 "$ROUNDS"); do
    round this ./target/release/licet-server "$r"
    [ -n "${BEFORE:-}" ] && round before "$BEFORE" "$r"
done >"$WORK/runs"
echo "wrk -t2 -c$CONNS -d${SECS}s of validations on PostgreSQL (pool 16), $ROUNDS rounds, on $(nproc) cores; medians"
python3 - "$WORK/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    side, rps, server, pg = line.split()
    runs.setdefault(side, []).append((float(rps), int(server), int(pg)))
print()
print("| build | validations/s | server CPU µs a validation | PostgreSQL CPU µs a validation |")
print("|---|---:|---:|---:|")
for side, rows in runs.items():
    med = [statistics.median(c) for c in zip(*rows)]
    print(f"| {side} | {med[0]:,.0f} | {med[1]:.0f} | {med[2]:.0f} |")
PY
