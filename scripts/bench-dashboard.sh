#!/usr/bin/env bash
# Measures the admin dashboard with wrk over loopback, signed in with a session cookie as a
# browser would be: the license list page (the first page of 50, and a search by the last four
# characters of a key) and the overview over LICENSES licenses (default 100,000), next to
# /healthz on the same server in the same run (issue #16: the list page at ≥ 0.3× /healthz);
# and, for what the pages cost beyond the API they call, the API's page of 50 licenses and its
# product list with an API key.
#
#   scripts/bench-dashboard.sh [seconds per run, default 10] [connections, default 32]
#   LICENSES=10000 scripts/bench-dashboard.sh
#
# Needs wrk (Debian: apt-get install wrk), curl and python3. The machine's cores are shared by
# the server and wrk, so compare the ratios; the absolute numbers are context.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-32}
LICENSES=${LICENSES:-100000}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

cargo build --release -q -p licet-server
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

# LICENSES licenses of one product, made 1,000 at a time (the bulk API's limit), four requests
# at once.
python3 - "$URL" "$ADMIN" "$LICENSES" >"$LUA/fixture" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, admin, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(path, body):
    req = urllib.request.Request(url + path, json.dumps(body).encode(),
        {"content-type": "application/json", "authorization": "Bearer " + admin})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
product = call("/v1/products", {"code": "dash", "name": "Dash"})
call("/v1/policies", {"product_id": product["id"], "name": "std", "max_machines": 3})
def bulk(n):
    return call("/v1/licenses/bulk", {"count": n, "license": {"product_id": product["id"]}})["items"]
sizes = [1000] * (total // 1000) + ([total % 1000] if total % 1000 else [])
with ThreadPoolExecutor(4) as pool:
    batches = list(pool.map(bulk, sizes))
print(batches[-1][-1]["key"][-4:])
PY
LAST4=$(cat "$LUA/fixture")

# A session, as the sign-in form gives one: the form's CSRF token, then the key posted.
FORM=$(curl -sf "$URL/admin/sign-in")
CSRF=$(echo "$FORM" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
COOKIE=$(curl -s -o /dev/null -D - --data-urlencode "csrf=$CSRF" --data-urlencode "api_key=$ADMIN" \
    "$URL/admin/sign-in" | sed -n 's/^[Ss]et-[Cc]ookie: \(licet_admin=[^;]*\).*/\1/p')
[ -n "$COOKIE" ] || { echo "signing in gave no session cookie" >&2; exit 1; }
cat >"$LUA/session.lua" <<LUA
wrk.headers["Cookie"] = "$COOKIE"
LUA
cat >"$LUA/bearer.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $ADMIN"
LUA
# Each page must answer 200 with the session before it is measured.
for path in /admin/licenses "/admin/licenses?q=$LAST4" /admin; do
    code=$(curl -s -o "$LUA/page.html" -w '%{http_code}' -H "Cookie: $COOKIE" "$URL$path")
    [ "$code" = 200 ] || { echo "$path answered $code" >&2; exit 1; }
done
grep -q 'id="count-active">'"$LICENSES"'<' "$LUA/page.html" \
    || { echo "the overview does not count $LICENSES active licenses" >&2; exit 1; }

echo "wrk -t2 -c$CONNS -d${SECS}s on $(nproc) cores, server and load generator sharing them; $LICENSES licenses"
# Each page is measured right after a /healthz run and compared with it: on a shared machine
# the throughput of /healthz alone drifts by a quarter over a minute, and a page compared with
# a /healthz measured much earlier would carry that drift in its ratio.
PAGES=(
    "license-list session.lua /admin/licenses"
    "api-v1-licenses-50 bearer.lua /v1/licenses?limit=50"
    "api-v1-products bearer.lua /v1/products"
    "license-search-last4 session.lua /admin/licenses?q=$LAST4"
    "overview session.lua /admin"
)
echo
echo "| page | requests/s | /healthz just before | ratio to it | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|---|"
for spec in "${PAGES[@]}"; do
    read -r name script path <<<"$spec"
    read -r _ base _ <<<"$(bench_wrk "$URL" "$LUA" "healthz-before-$name" "" /healthz "$SECS" "$CONNS")"
    read -r _ rps p50 p99 non2xx <<<"$(bench_wrk "$URL" "$LUA" "$name" "$script" "$path" "$SECS" "$CONNS")"
    ratio=$(python3 -c "print(f'{$rps / $base:.2f}')")
    echo "| $name | $rps | $base | ${ratio}× | $p50 | $p99 | $non2xx |"
done
