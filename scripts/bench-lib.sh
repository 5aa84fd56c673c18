# Shared by scripts/bench-server.sh and scripts/bench-ab.sh (sourced, not run): starting a
# server, making the fixtures every endpoint's wrk script needs, and one wrk run.

# bench_workdir PREFIX: a temporary WORK directory holding a throwaway PostgreSQL (a Unix socket
# in WORK/pg, the defaults: fsync and synchronous_commit on) and a master key (WORK/master.key),
# both gone on exit with every server in PIDS. Sets WORK, PG_BIN, PIDS; defines as_postgres
# and psql_. Run as root, PostgreSQL runs as the postgres user.
bench_workdir() {
    PG_BIN=$(pg_config --bindir 2>/dev/null || ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    PIDS=()
    as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    psql_() { as_postgres "$PG_BIN/psql" -h "$WORK/pg" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
    bench_cleanup() {
        kill "${PIDS[@]}" 2>/dev/null || true
        as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
        rm -rf "$WORK"
    }
    trap bench_cleanup EXIT
    chmod 755 "$WORK"
    mkdir "$WORK/pg"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$WORK/pg"; fi
    as_postgres "$PG_BIN/initdb" -U postgres -A trust -E UTF8 --no-locale -D "$WORK/pg" >/dev/null
    as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/log" -w \
        -o "-k $WORK/pg -c listen_addresses='' -c max_connections=300" start >/dev/null
    head -c 32 /dev/urandom >"$WORK/master.key" && chmod 600 "$WORK/master.key"
}

# bench_start BINARY DATA_DIR OUT_FILE [EXTRA ARGS…]: starts a server; sets BENCH_PID, BENCH_URL,
# BENCH_ADMIN (empty for a server that found its API keys in a shared database).
bench_start() {
    LICET_LOG=warn "$1" --data "$2" --listen 127.0.0.1:0 \
        --rate-limit-ip 0 --rate-limit-license 0 --licensecm-rate-api 0 --licensecm-rate-validation 0 --licensecm-registration true \
        --login-rate-limit 0 "${@:4}" >"$3" 2>/dev/null &
    BENCH_PID=$!
    for _ in $(seq 1 600); do grep -q '^listening on' "$3" 2>/dev/null && break; sleep 0.1; done
    BENCH_URL="http://$(sed -n 's/^listening on //p' "$3")"
    BENCH_ADMIN=$(grep -o 'lk_[A-Za-z0-9_]*' "$3" || true)
}

# bench_named NAME [EXTRA ARGS…]: starts $BIN with its data in WORK/NAME (and a WORK/NAME/lua for
# its wrk scripts), and records it in the caller's PIDS and associative arrays URL and ADMIN.
bench_named() {
    local name=$1
    shift
    mkdir -p "$WORK/$name/data" "$WORK/$name/lua"
    bench_start "$BIN" "$WORK/$name/data" "$WORK/$name/out" "$@"
    PIDS+=("$BENCH_PID")
    URL[$name]=$BENCH_URL
    ADMIN[$name]=$BENCH_ADMIN
}

# bench_fixtures URL ADMIN LUA_DIR: products, licenses, SEATS floating seats, a LicenseCM user,
# and the wrk scripts in LUA_DIR; writes LUA_DIR/env (NUMBER, for the FaxStore path).
bench_fixtures() {
    local URL=$1 ADMIN=$2 LUA=$3
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

# 1,000 more licenses, for activations spread over many licenses (as many customers make them).
curl -sf -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d "{\"count\":1000,\"license\":{\"product_id\":\"$PRODUCT\"}}" "$URL/v1/licenses/bulk" \
    | python3 -c "import sys, json; print('\n'.join(l['key'] for l in json.load(sys.stdin)['items']))" >"$LUA/spread-keys.txt"
{
    echo "local keys = {"
    sed 's/.*/"&",/' "$LUA/spread-keys.txt"
    echo "}"
    echo 'local threads = 0'
    echo 'function setup(thread) thread:set("tid", threads); threads = threads + 1 end'
    echo 'function init(args) math.randomseed(os.time() + tid * 7919 + (tonumber(tostring({}):sub(-8), 16) or 0)) end'
    echo 'local n = 0'
    echo 'request = function()'
    echo '  n = n + 1'
    echo '  local body = string.format([[{"key":"%s","fingerprint":"sp-%d-%d-%d"}]], keys[math.random(#keys)], tid, n, math.random(1, 1000000000))'
    echo '  return wrk.format("POST", "/v1/client/activate", {["Content-Type"] = "application/json"}, body)'
    echo 'end'
} >"$LUA/activate-spread.lua"

cat >"$LUA/activate.lua" <<LUA
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
-- Seeded apart per thread and process (a table's address differs between processes).
function init(args) math.randomseed(os.time() + tid * 7919 + (tonumber(tostring({}):sub(-8), 16) or 0)) end
local n = 0
request = function()
  n = n + 1
  -- The random part keeps two load generators (two instances) from naming one machine.
  local body = string.format('{"key":"$KEY","fingerprint":"fp-%d-%d-%d"}', tid, n, math.random(1, 1000000000))
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
    echo "NUMBER=$NUMBER" >"$LUA/env"
}

# bench_wrk URL LUA_DIR NAME SCRIPT_OR_EMPTY PATH SECONDS CONNECTIONS: one wrk run; prints
# "name requests/s p50 p99 non-2xx".
bench_wrk() {
    local URL=$1 LUA=$2 name=$3 script=$4 path=$5 secs=$6 conns=$7 args=()
    [ -n "$script" ] && args=(-s "$LUA/$script")
    wrk -t2 -c"$conns" -d"${secs}s" --latency "${args[@]}" "$URL$path" >"$LUA/$name.txt"
    local rps p50 p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' "$LUA/$name.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$LUA/$name.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$LUA/$name.txt")
    non2xx=$(awk '/Non-2xx/ {print $5}' "$LUA/$name.txt")
    echo "$name $rps $p50 $p99 ${non2xx:-0}"
}

# bench_endpoints NUMBER: the endpoints measured, one per line: name, wrk script ("-" for
# none), path.
bench_endpoints() {
    cat <<ENDPOINTS
healthz - /healthz
validate validate.lua /v1/client/validate
faxstore faxstore.lua /api/check/$1?log=false
verify-api verify.lua /api/v1/licenses/verify
wemx-validate wemx.lua /api/v1/licenses/public/validate
licensecm-validate licensecm.lua /api/client/validate
activate activate.lua /v1/client/activate
heartbeat heartbeat.lua /v1/client/heartbeat
ENDPOINTS
}

# bench_build_both REV: licet-server at REV, built once into target/bench-ab/<commit> (a git
# worktree, removed afterwards), and this working tree's release build. Sets COMMIT and
# BEFORE_DIR.
bench_build_both() {
    COMMIT=$(git rev-parse --short "$1")
    BEFORE_DIR="$PWD/target/bench-ab/$COMMIT"
    if [ ! -x "$BEFORE_DIR/release/licet-server" ]; then
        local tree
        tree=$(mktemp -d)
        git worktree add -q --detach "$tree/src" "$COMMIT"
        (cd "$tree/src" && CARGO_TARGET_DIR="$BEFORE_DIR" cargo build --release -q --locked -p licet-server)
        git worktree remove --force "$tree/src"
        rm -rf "$tree"
    fi
    cargo build --release -q --locked -p licet-server
}
