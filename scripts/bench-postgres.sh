#!/usr/bin/env bash
# licet-server on PostgreSQL beside sled (issue #14), all up at once on one machine:
#
#   1. /healthz, validations and activations (one license, and spread over 1,000) of three
#      setups side by side: sled, PostgreSQL with one instance, PostgreSQL with two instances
#      (two wrk at once, half the connections each, their requests/s added). Each endpoint's
#      runs alternate between the setups; each setup's figures are also given as a ratio to its
#      own /healthz of the same run.
#   2. The physical limit: pgbench on the same PostgreSQL with a custom script making the
#      single-row writes an activation makes (the machine number, the license row locked, the
#      machine, the culler's mark, the audit entry, in one transaction), at the server's pool
#      size and at wrk's connection count.
#   3. Memory with LICENSES licenses: a sled directory seeded with them, moved to PostgreSQL
#      with `licet-server migrate` (timed), then each server started on its store, idle and
#      after validations of random keys.
#
#   scripts/bench-postgres.sh [rounds, default 3] [seconds per run, default 5] [connections, default 64] [licenses, default 1000000]
#
# BEFORE=path/to/licet-server adds a fourth setup, that build on PostgreSQL with one instance
# (a database of its own), measured in the same alternating rounds: a change's effect on
# PostgreSQL, side by side. ONLY="validate" limits the endpoints (healthz always runs) and
# leaves out pgbench and the memory runs.
#
# Needs wrk, curl, python3 and the PostgreSQL binaries (initdb, pg_ctl, pgbench), run as the
# postgres user when this runs as root. The PostgreSQL is this script's own, in a temporary
# directory, on a Unix socket, with the defaults (fsync and synchronous_commit on).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
CONNS=${3:-64}
LICENSES=${4:-1000000}
POOL=16
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
cargo build --release -q --locked -p licet-server --bin licet-server --example seed_licenses

bench_workdir licet-bench-pg
for db in one two memory before; do psql_ -c "CREATE DATABASE $db"; done
db_url() { echo "host=$WORK/pg user=postgres dbname=$1"; }
BIN=./target/release/licet-server
pg_args() { PG_ARGS=(--database-url "$(db_url "$1")" --master-key-file "$WORK/master.key" --db-pool-size "$POOL"); }

# The setups: sled; PostgreSQL, one instance; PostgreSQL, two instances on one database.
declare -A URL ADMIN
bench_named sled
pg_args one
bench_named pg1 "${PG_ARGS[@]}"
pg_args two
bench_named pg2a "${PG_ARGS[@]}"
bench_named pg2b "${PG_ARGS[@]}"
SETUPS=(sled pg1 pg2)
if [ -n "${BEFORE:-}" ]; then
    pg_args before
    BIN=$BEFORE bench_named before "${PG_ARGS[@]}"
    SETUPS+=(before)
fi

# Heartbeats are not measured here: few floating seats, to make the fixtures quickly.
export SEATS=100
for side in sled pg1 pg2a ${BEFORE:+before}; do
    bench_fixtures "${URL[$side]}" "${ADMIN[$side]}" "$WORK/$side/lua"
done
# shellcheck disable=SC1091
source "$WORK/pg1/lua/env"

# One run of an endpoint on a setup: "setup name requests/s".
measure() { # setup, name, script, path
    local side=$1 name=$2 script=$3 path=$4
    if [ "$side" = pg2 ]; then
        local half=$((CONNS / 2)) a b
        bench_wrk "${URL[pg2a]}" "$WORK/pg2a/lua" "$name-a" "$script" "$path" "$SECS" "$half" >"$WORK/a" &
        local first=$!
        bench_wrk "${URL[pg2b]}" "$WORK/pg2a/lua" "$name-b" "$script" "$path" "$SECS" "$half" >"$WORK/b"
        wait "$first"
        a=$(awk '{print $2, $5}' "$WORK/a")
        b=$(awk '{print $2, $5}' "$WORK/b")
        echo "pg2 $name $(python3 -c "a, b = '$a'.split(), '$b'.split(); print(float(a[0]) + float(b[0]), int(a[1]) + int(b[1]))")"
    else
        echo "$side $(bench_wrk "${URL[$side]}" "$WORK/$side/lua" "$name" "$script" "$path" "$SECS" "$CONNS" | awk '{print $1, $2, $5}')"
    fi
}
echo "wrk -t2 -c$CONNS -d${SECS}s (two instances: two wrk of -c$((CONNS / 2)) at once), $ROUNDS runs a setup per endpoint, alternating, on $(nproc) cores; pool $POOL connections an instance"
for line in "healthz - /healthz" "validate validate.lua /v1/client/validate" \
    "activate activate.lua /v1/client/activate" "activate-spread activate-spread.lua /v1/client/activate"; do
    read -r name script path <<<"$line"
    [ "$script" = - ] && script=
    if [ -n "${ONLY:-}" ] && [ "$name" != healthz ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
    for r in $(seq 1 "$ROUNDS"); do
        # Rotate the order, so that no setup always runs first.
        for i in "${!SETUPS[@]}"; do
            measure "${SETUPS[$(((i + r) % ${#SETUPS[@]}))]}" "$name" "$script" "$path"
        done
    done
done >"$WORK/runs"
python3 - "$WORK/runs" "${SETUPS[@]}" <<'PY'
import statistics, sys
runs, order = {}, []
for line in open(sys.argv[1]):
    side, name, rps, non2xx = line.split()[:4]
    if name not in order:
        order.append(name)
    runs.setdefault((side, name), []).append(float(rps))
    if int(non2xx):
        print(f"warning: {side} {name}: {non2xx} answers were not 2xx")
med = {k: statistics.median(v) for k, v in runs.items()}
sides = sys.argv[2:]
title = {"sled": "sled req/s", "pg1": "PostgreSQL, 1 instance", "pg2": "PostgreSQL, 2 instances",
         "before": "BEFORE, PostgreSQL, 1 instance"}
print()
print("| endpoint | " + " | ".join(f"{title[s]} | ÷ /healthz" for s in sides) + " |")
print("|---" * (1 + 2 * len(sides)) + "|")
for name in order:
    cells = []
    for side in sides:
        v = med[(side, name)]
        cells += [f"{v:.0f}", f"{v / med[(side, 'healthz')]:.3f}×"]
    print(f"| {name} | " + " | ".join(cells) + " |")
PY

# With ONLY, the side-by-side table is the whole run.
[ -n "${ONLY:-}" ] && exit 0

# The physical limit: the writes of an activation, straight from pgbench, on database "one"
# (its schema and licenses are the server's), over the same 1,000 licenses as activate-spread.
psql_ -d one <<'SQL'
CREATE TABLE pgb_licenses AS
    SELECT row_number() OVER (ORDER BY id) AS n, id FROM licenses
    WHERE id IN (SELECT id FROM licenses ORDER BY id LIMIT 1000);
CREATE UNIQUE INDEX ON pgb_licenses (n);
CREATE TABLE pgb_template AS
    SELECT (SELECT data FROM machines LIMIT 1) AS machine,
           (SELECT data FROM audit ORDER BY seq DESC LIMIT 1) AS audit;
SQL
cat >"$WORK/activation.sql" <<'SQL'
\set r random(1, 1000)
\set fp random(1, 1000000000000)
INSERT INTO counters (name, value) VALUES ('pgbench_machine_number', 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value;
BEGIN;
SELECT data FROM licenses WHERE id = (SELECT id FROM pgb_licenses WHERE n = :r) FOR UPDATE;
INSERT INTO machines (id, license_id, fingerprint, data) SELECT 'mch_pgb_' || :fp, id, 'pgb-' || :fp, (SELECT machine FROM pgb_template) FROM pgb_licenses WHERE n = :r ON CONFLICT (license_id, fingerprint) DO UPDATE SET id = EXCLUDED.id, data = EXCLUDED.data RETURNING (xmax = 0);
INSERT INTO floating_licenses (license_id) SELECT id FROM pgb_licenses WHERE n = :r ON CONFLICT DO NOTHING;
INSERT INTO audit (seq, at, actor, action, subject, product_id, data) SELECT nextval('audit_seq'), 0, 'pgbench', 'machine.activated', id, NULL, (SELECT audit FROM pgb_template) FROM pgb_licenses WHERE n = :r;
COMMIT;
SQL
chmod 644 "$WORK/activation.sql"
echo
echo "| pgbench, the activation's writes | transactions/s | PostgreSQL activate-spread, 1 instance, as a ratio of it |"
echo "|---|---|---|"
SPREAD=$(awk '$1 == "pg1" && $2 == "activate-spread" {print $3}' "$WORK/runs" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
for c in "$POOL" "$CONNS"; do
    TPS=$(as_postgres "$PG_BIN/pgbench" -h "$WORK/pg" -U postgres -n -M prepared -c "$c" -j 2 -T "$((SECS * 2))" -f "$WORK/activation.sql" one 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}')
    echo "| $c clients | $TPS | $(python3 -c "print(f'{$SPREAD / $TPS:.2f}')")× |"
done

# Memory: LICENSES licenses on sled, moved to PostgreSQL, each server on its store.
kill "${PIDS[@]}" 2>/dev/null || true
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
SEEDED="$WORK/seeded"
SEED=$(./target/release/examples/seed_licenses "$SEEDED" "$LICENSES")
MOVE_START=$(date +%s.%N)
$BIN migrate --from-data "$SEEDED" --to-database-url "$(db_url memory)" --master-key-file "$WORK/master.key" >/dev/null
MOVED=$(python3 -c "import time; print(f'{time.time() - $MOVE_START:.1f}')")
PG_SIZE=$(psql_ -d memory -c "SELECT pg_database_size('memory') / 1048576")
rss() { awk -v k="$2:" '$1 == k {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
LUA="$WORK/random-keys.lua"
{
    echo "local keys = {"
    sed 's/.*/"&",/' "$SEEDED/seed-keys.txt"
    echo "}"
    echo 'request = function()'
    echo '  local body = string.format([[{"key":"%s"}]], keys[math.random(#keys)])'
    echo '  return wrk.format("POST", "/v1/client/validate", {["Content-Type"] = "application/json"}, body)'
    echo 'end'
} >"$LUA"
ROWS=""
for side in sled postgres; do
    OUT="$WORK/mem-$side.out"
    if [ "$side" = sled ]; then
        args=(--data "$SEEDED")
        size=$(du -sm "$SEEDED/db" | cut -f1)
    else
        mkdir -p "$WORK/mem-data"
        args=(--data "$WORK/mem-data" --database-url "$(db_url memory)" --master-key-file "$WORK/master.key")
        size=$PG_SIZE
    fi
    START=$(date +%s.%N)
    LICET_LOG=warn $BIN "${args[@]}" --listen 127.0.0.1:0 --rate-limit-ip 0 --rate-limit-license 0 >"$OUT" 2>/dev/null &
    PID=$!
    for _ in $(seq 1 6000); do grep -q '^listening on' "$OUT" 2>/dev/null && break; sleep 0.01; done
    UP=$(python3 -c "import time; print(f'{time.time() - $START:.2f}')")
    URL_M="http://$(sed -n 's/^listening on //p' "$OUT")"
    IDLE=$(rss "$PID" VmRSS)
    RPS=$(wrk -t2 -c32 -d"$((SECS * 4))s" -s "$LUA" "$URL_M" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    LOADED=$(rss "$PID" VmRSS)
    PEAK=$(rss "$PID" VmHWM)
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    ROWS+="| $side | $size MiB | $UP s | $IDLE MiB | $LOADED MiB | $PEAK MiB | $RPS |"$'\n'
done
echo
echo "$LICENSES licenses: seeded into sled in $SEED s, moved to PostgreSQL by licet-server migrate in $MOVED s"
echo
echo "| store | on disk | start-up (to listening) | RSS idle | RSS after $((SECS * 4)) s of validations | peak RSS | validations/s |"
echo "|---|---|---|---|---|---|---|"
printf '%s' "$ROWS"
