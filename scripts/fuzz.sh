#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each) from its committed corpus, on
# the nightly toolchain with cargo-fuzz (installed if missing). Fails on a crash, a panic or a
# sanitizer report. New inputs go to a temporary copy of the corpus, never into the tree.
#   scripts/fuzz.sh            # every target, 60 s each
#   SECONDS_EACH=10 scripts/fuzz.sh cose_key
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${SECONDS_EACH:-60}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(token_decode revocation_decode cose_key licensecm_envelope offline_artefacts)
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# No separate `cargo fuzz build`: `fuzz run` builds with flags of its own (line tables only)
# and would build everything a second time. The first run builds the shared dependencies.
for t in "${TARGETS[@]}"; do
    mkdir -p "$WORK/$t"
    cp -r "corpus/$t/." "$WORK/$t/"
    echo "== fuzz: $t (${SECONDS_EACH} s)"
    if ! cargo +nightly fuzz run "$t" "$WORK/$t" -- -max_total_time="$SECONDS_EACH" \
        -rss_limit_mb=2048 >"$WORK/$t.log" 2>&1; then
        tail -n 60 "$WORK/$t.log"
        echo "fuzz target $t failed"
        exit 1
    fi
    grep -E "^#[0-9]+ +DONE|^Done " "$WORK/$t.log" | tail -n 1 || true
done
echo "fuzz: every target ran ${SECONDS_EACH} s without a crash"
