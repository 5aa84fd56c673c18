#!/usr/bin/env bash
# Property-based API tests with schemathesis against the real server binary: every operation in
# /openapi.json, a bounded number of generated cases each (MAX_EXAMPLES, default 20), with the
# checks `not_a_server_error` (no 5xx for anything a client can send) and
# `response_schema_conformance` (documented responses match their schemas). schemathesis is
# pinned in scripts/schemathesis-requirements.txt and installed into target/schemathesis-venv.
#   scripts/schemathesis.sh            # build the server, run, stop it
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES=${MAX_EXAMPLES:-20}
VENV=target/schemathesis-venv
if [ ! -x "$VENV/bin/schemathesis" ] || ! cmp -s scripts/schemathesis-requirements.txt "$VENV/requirements.txt"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/schemathesis-requirements.txt
    cp scripts/schemathesis-requirements.txt "$VENV/requirements.txt"
fi
cargo build --locked -p licet-server 2>&1 | tail -n 1
DATA=$(mktemp -d)
OUT=$(mktemp)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DATA" "$OUT"; }
trap cleanup EXIT
LICET_LOG=warn ./target/debug/licet-server --data "$DATA" --listen 127.0.0.1:0 \
    --rate-limit-ip 0 --rate-limit-license 0 --licensecm-rate-api 0 --licensecm-rate-validation 0 \
    --login-rate-limit 0 --licensecm-registration true >"$OUT" 2>&1 &
PID=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$OUT" 2>/dev/null && break; sleep 0.1; done
URL="http://$(sed -n 's/^listening on //p' "$OUT")"
KEY=$(grep -o 'lk_[A-Za-z0-9_]*' "$OUT" | head -n 1)
[ -n "$KEY" ] || { cat "$OUT"; echo "no bootstrap key"; exit 1; }
# Something to find: a product with a policy and a license.
curl -sf -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"code":"st-app","name":"Schemathesis App"}' "$URL/v1/products" >/dev/null
echo "== schemathesis against $URL ($MAX_EXAMPLES examples per operation)"
# From the temporary directory: schemathesis keeps a cache in its working directory.
ST="$PWD/$VENV/bin/schemathesis"
cd "$DATA"
"$ST" run "$URL/openapi.json" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --header "Authorization: Bearer $KEY" \
    --request-timeout 20 \
    --no-color \
    --suppress-health-check all \
    --exclude-path /v1/downloads/upload
