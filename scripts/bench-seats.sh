#!/usr/bin/env bash
# What taking or refusing a seat costs on a license that already has many machines, beside one
# that has few, on sled and on PostgreSQL, all servers up at once:
#
#   - activations of new machines on a license with MACHINES machines and free seats, against
#     one with 10 machines and free seats;
#   - refused activations (409 too_many_machines) of new machines on a full node-locked license
#     of MACHINES seats, against a full one of 10 seats.
#
#   scripts/bench-seats.sh [machines, default 100000] [rounds, default 3] [seconds per run, default 5] [connections, default 32]
#
# The machines are made through the API itself (wrk activating new fingerprints until the
# license holds MACHINES), so both stores hold them as a server writes them. Each pair of runs
# alternates between the big and the small license, on one backend after the other; the table
# gives medians and the ratio big/small (1.0: the cost does not grow with the machines).
# Needs wrk, curl, python3 and the PostgreSQL binaries (run as the postgres user when root).
# LICET_SERVER_BIN names another build to measure (an older commit's, for a before and after).
set -euo pipefail
cd "$(dirname "$0")/.."
MACHINES=${1:-100000}
ROUNDS=${2:-3}
SECS=${3:-5}
CONNS=${4:-32}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
cargo build --release -q --locked -p licet-server --bin licet-server

bench_workdir licet-bench-seats
BIN=${LICET_SERVER_BIN:-./target/release/licet-server}

declare -A URL ADMIN
bench_named sled
bench_named pg --database-url "host=$WORK/pg user=postgres dbname=postgres" --master-key-file "$WORK/master.key" --db-pool-size 16

# activate.lua KEY: new machines, each request a fingerprint never seen.
activate_lua() {
    cat <<LUA
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) math.randomseed(os.time() + tid * 7919 + (tonumber(tostring({}):sub(-8), 16) or 0)) end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"key":"$1","fingerprint":"new-%d-%d-%d"}', tid, n, math.random(1, 1000000000))
  return wrk.format("POST", "/v1/client/activate", {["Content-Type"] = "application/json"}, body)
end
LUA
}

declare -A KEY ID
for b in sled pg; do
    post() { curl -sf -H "Authorization: Bearer ${ADMIN[$b]}" -H 'content-type: application/json' -d "$2" "${URL[$b]}$1"; }
    field() { python3 -c "import sys, json; print(json.load(sys.stdin)['$1'])"; }
    product=$(post /v1/products '{"code":"seats","name":"Seats"}' | field id)
    # The open licenses' own seats (a billion) stand above the policy's.
    open=$(post /v1/policies "{\"product_id\":\"$product\",\"name\":\"open\",\"max_machines\":10}" | field id)
    full_big=$(post /v1/policies "{\"product_id\":\"$product\",\"name\":\"full-big\",\"max_machines\":$MACHINES}" | field id)
    full_small=$(post /v1/policies "{\"product_id\":\"$product\",\"name\":\"full-small\",\"max_machines\":10}" | field id)
    for l in open-big:$open open-small:$open full-big:$full_big full-small:$full_small; do
        seats=null
        case $l in open-*) seats=1000000000 ;; esac
        json=$(post /v1/licenses "{\"product_id\":\"$product\",\"policy_id\":\"${l#*:}\",\"seats\":$seats}")
        KEY[$b/${l%%:*}]=$(echo "$json" | field key)
        ID[$b/${l%%:*}]=$(echo "$json" | field id)
    done
    # Fill: each license to its count of machines (the full ones to their seats), counting the
    # activations wrk saw succeed, the last few one by one.
    for l in open-big:$MACHINES open-small:10 full-big:$MACHINES full-small:10; do
        name=${l%%:*} want=${l#*:} have=0
        activate_lua "${KEY[$b/$name]}" >"$WORK/$b/lua/fill.lua"
        while [ "$have" -lt "$want" ]; do
            if [ $((want - have)) -le 64 ]; then
                curl -sf -o /dev/null -H 'content-type: application/json' \
                    -d "{\"key\":\"${KEY[$b/$name]}\",\"fingerprint\":\"fill-$have\"}" "${URL[$b]}/v1/client/activate"
                have=$((have + 1))
            else
                out=$(wrk -t2 -c16 -d1s -s "$WORK/$b/lua/fill.lua" "${URL[$b]}/v1/client/activate")
                done_=$(echo "$out" | awk '/requests in/ {print $1}')
                refused=$(echo "$out" | awk '/Non-2xx/ {print $5}')
                # Answers still in flight when wrk stops are not counted, so the count runs
                # behind; a refusal is the sure sign that a license with seats is full.
                [ "${refused:-0}" -gt 0 ] && [ "$want" -eq "$MACHINES" ] && [ "${name#full}" != "$name" ] && break
                have=$((have + done_ - ${refused:-0}))
            fi
        done
        echo "$b: $name holds about $have machines (counted by wrk; a full one: all its seats)" >&2
    done
    for name in open-big open-small full-big full-small; do
        activate_lua "${KEY[$b/$name]}" >"$WORK/$b/lua/$name.lua"
    done
done

RESULTS="$WORK/results"
: >"$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
    for b in sled pg; do
        for pair in "accepted open-big open-small" "refused full-big full-small"; do
            read -r what big small <<<"$pair"
            for name in "$big" "$small"; do
                line=$(bench_wrk "${URL[$b]}" "$WORK/$b/lua" "$name-$r" "$name.lua" /v1/client/activate "$SECS" "$CONNS")
                echo "$b $what $name $line" >>"$RESULTS"
                echo "$b $what $name $line" >&2
            done
        done
    done
done

python3 - "$RESULTS" "$MACHINES" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
machines = int(sys.argv[2])
def med(b, name):
    return statistics.median(float(r[4]) for r in rows if r[0] == b and r[2] == name)
def non2xx(b, name):
    return sum(int(r[7]) for r in rows if r[0] == b and r[2] == name)
print(f"| store | activations | {machines:,} machines, req/s | 10 machines, req/s | ratio | non-2xx (big / small) |")
print("|---|---|---:|---:|---:|---|")
for b in ("sled", "pg"):
    for what, big, small in (("accepted", "open-big", "open-small"), ("refused (full)", "full-big", "full-small")):
        x, y = med(b, big), med(b, small)
        print(f"| {b} | {what} | {x:,.0f} | {y:,.0f} | {x / y:.2f} | {non2xx(b, big)} / {non2xx(b, small)} |")
PY
