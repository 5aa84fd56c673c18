#!/usr/bin/env bash
# Runs the README's two quickstarts as a newcomer pastes them: the `sh` block after each
# `<!-- quickstart: … -->` marker, line by line, from a directory outside the checkout, with a
# home directory of its own and the `licet` CLI on PATH (as `cargo install --path tools` puts
# it). The server quickstart runs against a licet-server started on a free loopback port, its
# printed admin key in place of the README's `lk_…`. Fails if any line fails, or if a run
# writes anything into the working tree. scripts/test.sh runs it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

cargo build -q --locked -p licet-tools -p licet-server --bins
BIN="$ROOT/target/debug"
WORK=$(mktemp -d /tmp/licet-quickstart.XXXXXX)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
before=$(git -C "$ROOT" status --porcelain)

# The sh block following a marker in the README.
block() {
    awk -v m="<!-- quickstart: $1 -->" '
        $0 == m { found = 1; next }
        found && /^```sh$/ { inside = 1; next }
        inside && /^```$/ { exit }
        inside { print }
    ' "$ROOT/README.md"
}

run_block() {
    local name=$1 script=$2
    [ -n "$script" ] || { echo "README.md has no quickstart block '$name'" >&2; exit 1; }
    echo "== quickstart: $name"
    printf '%s\n' "$script" | sed 's/^/   $ /'
    mkdir -p "$WORK/cwd"
    (cd "$WORK/cwd" && env -i PATH="$BIN:/usr/local/bin:/usr/bin:/bin" HOME="$WORK/home" \
        LICET_URL="${LICET_URL:-http://127.0.0.1:47293}" bash -euo pipefail -c "$script")
}

mkdir -p "$WORK/home"
run_block offline "$(block offline)"

# The server quickstart: a server of its own, on a free port, its admin key substituted.
"$BIN/licet-server" --data "$WORK/data" --listen 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 300); do grep -q '^listening on' "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening on' "$WORK/server.out" || { cat "$WORK/server.err" >&2; exit 1; }
export LICET_URL="http://$(sed -n 's/^listening on //p' "$WORK/server.out")"
ADMIN=$(grep -o 'lk_[A-Za-z0-9_]*' "$WORK/server.out" | head -1)
server=$(block server)
case "$server" in *"LICET_API_KEY=lk_…"*) ;; *) echo "the server quickstart sets no LICET_API_KEY=lk_…" >&2; exit 1 ;; esac
run_block server "${server//lk_…/$ADMIN}"

after=$(git -C "$ROOT" status --porcelain)
if [ "$before" != "$after" ]; then
    echo "the quickstarts wrote into the working tree:" >&2
    diff <(echo "$before") <(echo "$after") >&2 || true
    exit 1
fi
echo "== quickstarts passed"
