#!/usr/bin/env bash
# Disk per activation: N activations of new machines (each a machine of its own, on licenses
# whose policy allows them all), and the growth they cause, on sled (the data directory, sled's
# own overhead included, after the server stopped) and on PostgreSQL (the database's size, its
# indexes and TOAST included, after a VACUUM so that only live rows and what PostgreSQL keeps
# for them count). Both servers are this working tree's release build, run one after the other.
#
#   scripts/bench-disk.sh [N, default 100000] [clients, default 8]
#   STORES=sled scripts/bench-disk.sh 20000      # one store only
#
# Needs python3 and PostgreSQL's server binaries (as scripts/bench-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
CLIENTS=${2:-8}
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
cargo build --release -q --locked -p licet-server --bin licet-server

bench_workdir licet-bench-disk
psql_ -c "CREATE DATABASE disk"
BIN=./target/release/licet-server

# activate URL ADMIN: N activations over CLIENTS connections kept alive; prints the time.
activate() {
    python3 - "$1" "$2" "$N" "$CLIENTS" <<'PY'
import http.client, json, sys, time, urllib.parse
from concurrent.futures import ThreadPoolExecutor
url, admin, n, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host = urllib.parse.urlsplit(url).netloc
def call(conn, method, path, body, auth=False):
    headers = {"content-type": "application/json"}
    if auth:
        headers["authorization"] = "Bearer " + admin
    conn.request(method, path, json.dumps(body), headers)
    r = conn.getresponse()
    text = r.read()
    assert r.status in (200, 201), (path, r.status, text)
    return json.loads(text)
c = http.client.HTTPConnection(host, timeout=60)
product = call(c, "POST", "/v1/products", {"code": "disk", "name": "Disk"}, True)["id"]
policy = call(c, "POST", "/v1/policies", {"product_id": product, "name": "site", "max_machines": n}, True)["id"]
key = call(c, "POST", "/v1/licenses", {"product_id": product, "policy_id": policy}, True)["key"]
def run(t):
    conn = http.client.HTTPConnection(host, timeout=60)
    for i in range(t, n, clients):
        call(conn, "POST", "/v1/client/activate", {"key": key, "fingerprint": f"machine-{i:08d}"})
start = time.time()
with ThreadPoolExecutor(clients) as pool:
    list(pool.map(run, range(clients)))
print(f"{n} activations in {time.time() - start:.1f} s")
PY
}

STORES=${STORES:-sled postgres}
SLED_BEFORE=0 SLED_AFTER=0 PG_BEFORE=0 PG_AFTER=0

# sled: the data directory after a first start (keys, an empty store), then after N
# activations, each measured with the server stopped (everything flushed).
if [[ " $STORES " == *" sled "* ]]; then
mkdir -p "$WORK/sled"
bench_start "$BIN" "$WORK/sled" "$WORK/sled.out"
kill -TERM "$BENCH_PID"; wait "$BENCH_PID" || true
SLED_BEFORE=$(du -sb "$WORK/sled" | cut -f1)
bench_start "$BIN" "$WORK/sled" "$WORK/sled.out2"
ADMIN=$(grep -o 'lk_[A-Za-z0-9_]*' "$WORK/sled.out")
activate "$BENCH_URL" "$ADMIN"
kill -TERM "$BENCH_PID"; wait "$BENCH_PID" || true
SLED_AFTER=$(du -sb "$WORK/sled" | cut -f1)
echo "sled: $SLED_BEFORE bytes before, $SLED_AFTER after"
du -sb "$WORK/sled"/* | sort -n | tail -5
fi

# PostgreSQL: the database's size after the first start, then after N activations.
if [[ " $STORES " == *" postgres "* ]]; then
mkdir -p "$WORK/pg-data"
bench_start "$BIN" "$WORK/pg-data" "$WORK/pg.out" --database-url "host=$WORK/pg user=postgres dbname=disk" \
    --master-key-file "$WORK/master.key"
PIDS+=("$BENCH_PID")
psql_ -d disk -c "VACUUM"
PG_BEFORE=$(psql_ -d disk -c "SELECT pg_database_size('disk')")
activate "$BENCH_URL" "$BENCH_ADMIN"
psql_ -d disk -c "VACUUM"
PG_AFTER=$(psql_ -d disk -c "SELECT pg_database_size('disk')")
echo "PostgreSQL: $PG_BEFORE bytes before, $PG_AFTER after; the largest relations:"
psql_ -d disk -c "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' ORDER BY 2 DESC LIMIT 6"
fi

python3 - "$N" "$SLED_BEFORE" "$SLED_AFTER" "$PG_BEFORE" "$PG_AFTER" <<'PY'
import sys
n, sb, sa, pb, pa = map(int, sys.argv[1:])
print()
print(f"| store | before | after {n:,} activations | per activation |")
print("|---|---:|---:|---:|")
if sa:
    print(f"| sled (data directory) | {sb / 1e6:.1f} MB | {sa / 1e6:.1f} MB | {(sa - sb) / n:,.0f} B |")
if pa:
    print(f"| PostgreSQL (database) | {pb / 1e6:.1f} MB | {pa / 1e6:.1f} MB | {(pa - pb) / n:,.0f} B |")
PY
