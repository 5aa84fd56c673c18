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
DATA=$(mktemp -d)
OUT=$(mktemp)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA" "$OUT"' EXIT
LICET_LOG=warn ./target/release/licet-server --data "$DATA" --listen 127.0.0.1:0 \
    --rate-limit-ip 0 --rate-limit-license 0 --licensecm-rate-api 0 --licensecm-rate-validation 0 --licensecm-registration true \
    --login-rate-limit 0 >"$OUT" 2>/dev/null &
PID=$!
for _ in $(seq 1 600); do grep -q '^listening on' "$OUT" 2>/dev/null && break; sleep 0.1; done
URL="http://$(sed -n 's/^listening on //p' "$OUT")"
ADMIN=$(grep -o 'lk_[A-Za-z0-9_]*' "$OUT")

post() { curl -sf -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' -d "$2" "$URL$1"; }
field() { python3 -c "import sys, json; print(json.load(sys.stdin)['$1'])"; }
PRODUCT_JSON=$(post /v1/products '{"code":"bench","name":"Bench","key_prefix":"CP-","key_format":"XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX"}')
PRODUCT=$(echo "$PRODUCT_JSON" | field id)
NUMBER=$(echo "$PRODUCT_JSON" | field numeric_id)
post /v1/policies "{\"product_id\":\"$PRODUCT\",\"name\":\"many\",\"max_machines\":100000,\"entitlements\":[\"pro\"]}" >/dev/null
KEY=$(post /v1/licenses "{\"product_id\":\"$PRODUCT\"}" | field key)
curl -sf -H 'content-type: application/json' -d "{\"key\":\"$KEY\",\"fingerprint\":\"validated-machine\"}" "$URL/v1/client/activate" >/dev/null
curl -sf -H 'content-type: application/json' -d "{\"license_key\":\"$KEY\",\"domain\":\"bench.example\",\"ip\":\"127.0.0.1\"}" "$URL/api/v1/licenses/verify" >/dev/null
curl -sf -H 'content-type: application/json' -d "{\"license\":\"$KEY\",\"domain\":\"bench.example\",\"packages\":\"Bench\"}" "$URL/api/v1/licenses/public/validate" >/dev/null

# Floating seats: a license whose policy floats, with SEATS machines activated (concurrently, by
# python3's standard library), for the heartbeat run.
SEATS=${SEATS:-10000}
FLOAT_POLICY=$(post /v1/policies "{\"product_id\":\"$PRODUCT\",\"name\":\"floating\",\"floating\":true,\"max_machines\":$SEATS,\"heartbeat_interval\":600,\"heartbeat_ttl\":3600}" | field id)
FLOAT_KEY=$(post /v1/licenses "{\"product_id\":\"$PRODUCT\",\"policy_id\":\"$FLOAT_POLICY\"}" | field key)
python3 - "$URL" "$FLOAT_KEY" "$SEATS" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, key, seats = sys.argv[1], sys.argv[2], int(sys.argv[3])
def activate(i):
    body = json.dumps({"key": key, "fingerprint": f"seat-{i}"}).encode()
    req = urllib.request.Request(url + "/v1/client/activate", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 201, r.status
with ThreadPoolExecutor(16) as pool:
    list(pool.map(activate, range(seats)))
PY

# LicenseCM: a user, a product and a license, one activated machine.
LCM_TOKEN=$(curl -sf -H 'content-type: application/json' -d '{"email":"bench@example.com","password":"bench-password"}' "$URL/api/auth/register" | python3 -c "import sys, json; print(json.load(sys.stdin)['data']['token'])")
lcm() { curl -sf -H "Authorization: Bearer $LCM_TOKEN" -H 'content-type: application/json' -d "$2" "$URL$1"; }
LCM_PRODUCT=$(lcm /api/products '{"name":"Bench"}' | python3 -c "import sys, json; print(json.load(sys.stdin)['data']['id'])")
LCM_KEY=$(lcm /api/licenses "{\"product_id\":\"$LCM_PRODUCT\",\"max_uses\":10}" | python3 -c "import sys, json; print(json.load(sys.stdin)['data']['license_key'])")
curl -sf -H 'content-type: application/json' -d "{\"license_key\":\"$LCM_KEY\",\"hwid\":\"bench-hwid\",\"product_id\":\"$LCM_PRODUCT\"}" "$URL/api/client/activate" >/dev/null

LUA=$(mktemp -d)
cat >"$LUA/activate.lua" <<LUA
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"key":"$KEY","fingerprint":"fp-%d-%d"}', tid, n)
  return wrk.format("POST", "/v1/client/activate", {["Content-Type"] = "application/json"}, body)
end
LUA
cat >"$LUA/validate.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"key":"$KEY","fingerprint":"validated-machine","entitlements":["pro"]}'
LUA

cat >"$LUA/heartbeat.lua" <<LUA
request = function()
  local body = string.format('{"key":"$FLOAT_KEY","fingerprint":"seat-%d"}', math.random(0, $SEATS - 1))
  return wrk.format("POST", "/v1/client/heartbeat", {["Content-Type"] = "application/json"}, body)
end
LUA

cat >"$LUA/faxstore.lua" <<LUA
wrk.method = "POST"
wrk.headers["authorization"] = "$KEY"
wrk.headers["accept"] = "application/json, text/plain, */*"
LUA
cat >"$LUA/verify.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"license_key":"$KEY","domain":"bench.example","ip":"203.0.113.42"}'
LUA

cat >"$LUA/wemx.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '{"license":"$KEY","domain":"bench.example","packages":"Bench"}'
LUA

cat >"$LUA/licensecm.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"license_key":"$LCM_KEY","hwid":"bench-hwid","product_id":"$LCM_PRODUCT"}'
LUA

run() { # name, script or "", path
    local name=$1 script=$2 path=$3 args=()
    # ONLY="healthz licensecm-validate" limits the run to those endpoints (healthz always runs).
    if [ -n "${ONLY:-}" ] && [ "$name" != healthz ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
    [ -n "$script" ] && args=(-s "$LUA/$script")
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "${args[@]}" "$URL$path" >"$LUA/$name.txt"
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$LUA/$name.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$LUA/$name.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$LUA/$name.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$LUA/$name.txt")
    echo "$name $rps $p50 $p99 ${non2xx:-0}"
}
echo "wrk -t2 -c$CONNS -d${SECS}s on $(nproc) cores, server and load generator sharing them"
RESULTS=$(
    run healthz "" /healthz
    run validate validate.lua /v1/client/validate
    run faxstore faxstore.lua "/api/check/$NUMBER?log=false"
    run verify-api verify.lua /api/v1/licenses/verify
    run wemx-validate wemx.lua /api/v1/licenses/public/validate
    run licensecm-validate licensecm.lua /api/client/validate
    run activate activate.lua /v1/client/activate
    run heartbeat heartbeat.lua /v1/client/heartbeat
)
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
rm -rf "$LUA"
