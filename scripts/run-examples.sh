#!/usr/bin/env bash
# Runs the verifier's examples the way their users would: the embedded check on its own, and
# the desktop application against a real licet-server (first run activates online, the second
# starts from the stored license, the third works with the server stopped). CI runs this.
#
#   scripts/run-examples.sh
#
# Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== example: embedded"
cargo run -q -p licet-verifier --example embedded

echo "== example: desktop (against a real server)"
cargo build -q -p licet-server -p licet-client --example desktop
WORK=$(mktemp -d)
OUT="$WORK/server.out"
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
LICET_LOG=warn ./target/debug/licet-server --data "$WORK/data" --listen 127.0.0.1:0 >"$OUT" 2>/dev/null &
PID=$!
for _ in $(seq 1 600); do grep -q '^listening on' "$OUT" 2>/dev/null && break; sleep 0.1; done
URL="http://$(sed -n 's/^listening on //p' "$OUT")"
ADMIN=$(grep -o 'lk_[A-Za-z0-9_]*' "$OUT")
post() { curl -sf -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' -d "$2" "$URL$1"; }
field() { python3 -c "import sys, json; print(json.load(sys.stdin)['$1'])"; }
PRODUCT=$(post /v1/products '{"code":"acme-desk","name":"Acme Desk"}' | field id)
post /v1/policies "{\"product_id\":\"$PRODUCT\",\"name\":\"desk\",\"max_machines\":1}" >/dev/null
KEY=$(post /v1/licenses "{\"product_id\":\"$PRODUCT\"}" | field key)
# Written as `jq -r` would: the PEM's own final newline and one more.
curl -sf "$URL/v1/keys" | python3 -c "import sys, json; print(json.load(sys.stdin)['keys'][0]['public_key_pem'])" >"$WORK/public-key.pem"

DESKTOP=./target/debug/examples/desktop
# A key file that is not a key is reported, not dropped without a word.
echo "not a key" >"$WORK/garbage.pem"
if "$DESKTOP" --server "$URL" --product acme-desk --pubkey "$WORK/garbage.pem" 2>"$WORK/err"; then
    echo "the desktop example started with an unreadable key" >&2; exit 1
fi
grep -q "not a public key PEM" "$WORK/err"
ARGS=(--server "$URL" --product acme-desk --pubkey "$WORK/public-key.pem" --state-dir "$WORK/state")
first=$("$DESKTOP" "${ARGS[@]}" --key "$KEY")
echo "$first"
grep -q "first run: activating online" <<<"$first"
grep -q "licensed until" <<<"$first"
second=$("$DESKTOP" "${ARGS[@]}")
echo "$second"
grep -q "starting from the stored license (offline)" <<<"$second"
kill "$PID"
wait "$PID" 2>/dev/null || true
third=$("$DESKTOP" "${ARGS[@]}")
echo "$third"
grep -q "licensed until" <<<"$third"
echo "examples ok"
