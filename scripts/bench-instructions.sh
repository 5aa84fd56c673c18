#!/usr/bin/env bash
# Instructions per request, which do not depend on the machine's load: licet-server at a git
# revision BEFORE and this working tree, each run under callgrind on sled, given the same
# fixtures, then N requests of each endpoint one after the other; the count is taken between
# callgrind's counters zeroed just before the requests and dumped just after (every thread of
# the server: the runtime, the store's flushes, the background tasks), over one connection kept
# alive. The bare axum server of
# server/examples/axum_baseline.rs is measured the same way on healthz and notfound (a 404),
# as the stack's own cost.
#
#   scripts/bench-instructions.sh BEFORE [N, default 200] [endpoints, default "healthz notfound validate heartbeat activate"]
#
# Each side's callgrind output is kept in target/bench-instructions/<side>/ for
# callgrind_annotate (where the instructions go, by function).
#
# BEFORE is built as scripts/bench-ab.sh builds it (target/bench-ab/<commit>). Needs valgrind
# (callgrind_control), curl, python3 and git.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE_REV=${1:?usage: scripts/bench-instructions.sh BEFORE [N] [endpoints]}
N=${2:-200}
ENDPOINTS=${3:-healthz notfound validate heartbeat activate}
command -v callgrind_control >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

bench_build_both "$BEFORE_REV"
cargo build --release --locked -q -p licet-server --example axum_baseline
KEEP=target/bench-instructions
rm -rf "$KEEP"

WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

# measure SIDE BINARY: prints "SIDE ENDPOINT instructions-per-request" for each endpoint.
measure() {
    local side=$1 bin=$2 dir="$WORK/$1" endpoints=$ENDPOINTS args
    mkdir -p "$dir/data"
    # The limits on, at a rate no run reaches: they are counted, as in service.
    args=(--data "$dir/data" --listen 127.0.0.1:0 --rate-limit-ip 1000000000 --rate-limit-license 1000000000)
    if [ "$side" = baseline ]; then
        args=(127.0.0.1:0)
        endpoints=$(for e in $ENDPOINTS; do case $e in healthz | notfound) echo "$e" ;; esac; done)
    fi
    LICET_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" \
        "$bin" "${args[@]}" >"$dir/out" 2>"$dir/err" &
    PID=$!
    for _ in $(seq 1 1200); do grep -q '^listening on' "$dir/out" 2>/dev/null && break; sleep 0.1; done
    local url admin
    url="http://$(sed -n 's/^listening on //p' "$dir/out")"
    admin=$(grep -o 'lk_[A-Za-z0-9_]*' "$dir/out" || echo none)
    python3 - "$url" "$admin" "$N" "$endpoints" "$PID" "$side" <<'PY'
import http.client, json, subprocess, sys, urllib.parse
url, admin, n, endpoints, pid, side = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(), sys.argv[5], sys.argv[6]
# One connection kept alive, as wrk's are: what is counted is the requests, not connecting.
conn = http.client.HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=120)

def call(method, path, body=None, auth=True, ok=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    headers = {}
    if data is not None:
        headers["content-type"] = "application/json"
    if auth:
        headers["authorization"] = "Bearer " + admin
    conn.request(method, path, data, headers)
    r = conn.getresponse()
    status, text = r.status, r.read()
    assert status in ok, (path, status, text)
    return json.loads(text or b"null")

requests = {
    "healthz": lambda i: ("GET", "/healthz", None, (200,)),
    "notfound": lambda i: ("GET", "/no/such/route", None, (404,)),
}

def measure(endpoints):
    for ep in endpoints:
        subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
        for i in range(n):
            method, path, body, ok = requests[ep](i)
            call(method, path, body, auth=False, ok=ok)
        subprocess.run(["callgrind_control", f"--dump={ep}", pid], check=True, capture_output=True)

if side == "baseline":
    measure([e for e in endpoints if e in requests])
    sys.exit(0)

product = call("POST", "/v1/products", {"code": "bench", "name": "Bench"})["id"]
node = call("POST", "/v1/policies", {"product_id": product, "name": "many", "max_machines": 100000, "entitlements": ["pro"]})["id"]
floating = call("POST", "/v1/policies", {"product_id": product, "name": "floating", "floating": True, "max_machines": 1000, "heartbeat_interval": 600, "heartbeat_ttl": 3600})["id"]
key = call("POST", "/v1/licenses", {"product_id": product, "policy_id": node})["key"]
float_key = call("POST", "/v1/licenses", {"product_id": product, "policy_id": floating})["key"]
call("POST", "/v1/client/activate", {"key": key, "fingerprint": "validated-machine"}, auth=False)
seats = 50
for i in range(seats):
    call("POST", "/v1/client/activate", {"key": float_key, "fingerprint": f"seat-{i}"}, auth=False)

requests.update({
    "validate": lambda i: ("POST", "/v1/client/validate", {"key": key, "fingerprint": "validated-machine", "entitlements": ["pro"]}, (200,)),
    "heartbeat": lambda i: ("POST", "/v1/client/heartbeat", {"key": float_key, "fingerprint": f"seat-{i % seats}"}, (200,)),
    "activate": lambda i: ("POST", "/v1/client/activate", {"key": key, "fingerprint": f"fp-{i}"}, (201,)),
})
measure(endpoints)
PY
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
    mkdir -p "$KEEP/$side"
    cp "$dir"/cg.* "$KEEP/$side/"
    # Each dump is one file, named after the endpoint it ended (cg.<pid>.<n>); its totals line
    # is every thread's instructions since the counters were zeroed.
    python3 - "$dir" "$N" "$side" <<'PY'
import glob, re, sys
d, n, side = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for f in sorted(glob.glob(f"{d}/cg.*"), key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p)]):
    text = open(f, errors="replace").read()
    trigger = re.search(r"^desc: Trigger: (?:Client Request: |dump )(\S+)", text, re.M)
    totals = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
    if trigger and totals:
        print(f"{side} {trigger.group(1)} {int(totals.group(1)) / n:.0f}")
PY
}

{
    measure baseline ./target/release/examples/axum_baseline
    measure before "$BEFORE_DIR/release/licet-server"
    measure after ./target/release/licet-server
} | tee "$WORK/results"
python3 - "$WORK/results" "$COMMIT" "$N" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[2].isdigit():
        rows.setdefault(parts[1], {})[parts[0]] = int(parts[2])
print(f"\nbefore: {sys.argv[2]}, after: this tree; instructions per request, {sys.argv[3]} requests each\n")
print("| endpoint | axum baseline | before | after | after ÷ before | baseline ÷ after |")
print("|---|---:|---:|---:|---:|---:|")
for ep, v in rows.items():
    if "before" in v and "after" in v:
        base = f"{v['baseline']:,}" if "baseline" in v else "—"
        share = f"{v['baseline'] / v['after']:.2f}" if "baseline" in v else "—"
        print(f"| {ep} | {base} | {v['before']:,} | {v['after']:,} | {v['after'] / v['before']:.3f}× | {share} |")
PY
