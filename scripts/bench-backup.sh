#!/usr/bin/env bash
# Measures `licet-server backup` against a running release server: how long the server holds
# writers back while it copies the store, how long the whole backup takes, and the backup's size
# beside the store's, for stores of several sizes.
#
#   scripts/bench-backup.sh [license counts, default "10000 100000"]
#
# Each store is filled through the store itself (examples/seed_licenses); the server is idle
# during the backup, so the held time is the copy alone.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNTS=${1:-"10000 100000"}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q --locked -p licet-server --bin licet-server --example seed_licenses
export LICET_BACKUP_PASSPHRASE="a passphrase for the benchmark"

echo "| licenses | store entries | store on disk | held writes | whole backup | backup file |"
echo "|---:|---:|---:|---:|---:|---:|"
for N in $COUNTS; do
    WORK=$(mktemp -d)
    DATA="$WORK/data"
    "$TARGET/release/examples/seed_licenses" "$DATA" "$N" >/dev/null
    OUT="$WORK/out"
    LICET_LOG=warn "$TARGET/release/licet-server" --data "$DATA" --listen 127.0.0.1:0 >"$OUT" 2>/dev/null &
    PID=$!
    for _ in $(seq 1 6000); do grep -q '^listening on' "$OUT" 2>/dev/null && break; sleep 0.01; done
    START=$(date +%s.%N)
    SAID=$("$TARGET/release/licet-server" backup --data "$DATA" --to "$WORK/backup")
    END=$(date +%s.%N)
    kill -TERM "$PID"; wait "$PID" || true
    ENTRIES=$(echo "$SAID" | sed -n 's/.*: \([0-9]*\) store entries.*/\1/p')
    HELD=$(echo "$SAID" | sed -n 's/.*held writes for \([0-9]*\) ms.*/\1/p')
    WHOLE=$(python3 -c "print(f'{($END - $START) * 1000:.0f}')")
    STORE=$(du -sm "$DATA/db" | cut -f1)
    SIZE=$(python3 -c "import os; print(f'{os.path.getsize(\"$WORK/backup\") / 1048576:.1f}')")
    echo "| $N | $ENTRIES | $STORE MiB | $HELD ms | $WHOLE ms | $SIZE MiB |"
    rm -rf "$WORK"
done
