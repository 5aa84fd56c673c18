#!/usr/bin/env bash
# The bindings measured side by side (BENCHMARKS.md): the typical golden token (valid-ed25519)
# verified natively in Rust, through the Python package (a release wheel) and through the npm
# package in Node, in alternating rounds of one run, each round N verifies per language after
# a warm-up; then the C ABI against native in one process (bindings/c/examples/ratio.rs); then
# the sizes of what is shipped.
#
#   scripts/bench-bindings.sh            ROUNDS=7 N=20000 by default
#
# Needs what scripts/test-bindings.sh needs. Not a test: run by hand on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-7}
N=${N:-20000}
OUT=$ROOT/target/bindings/bench
mkdir -p "$OUT"

echo "== native (release)"
cargo build --release --locked -q -p licet-test-vectors --example golden_verify
NATIVE=$ROOT/target/release/examples/golden_verify

echo "== Python (release wheel)"
VENV=$ROOT/target/bindings/bench-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r bindings/python/requirements-dev.txt
rm -rf "$OUT/wheels"
(cd bindings/python && PATH="$VENV/bin:$PATH" maturin build --release --locked --out "$OUT/wheels" >/dev/null)
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$OUT/wheels"/licet-*.whl

echo "== JavaScript (the package as shipped, and Ed25519-only builds for their size)"
PKG=$ROOT/target/bindings/js/package
bash bindings/js/build.sh "$PKG" >/dev/null
bash bindings/js/build.sh "$OUT/js-ed25519" -- --no-default-features >/dev/null
bash bindings/js/build.sh "$OUT/js-ed25519-fast" -- --no-default-features --features fast >/dev/null
bash bindings/js/build.sh "$OUT/js-rsa-slow" -- --no-default-features --features rsa >/dev/null
mkdir -p bindings/js/node_modules/@licet
ln -sfn "$PKG" bindings/js/node_modules/@licet/verifier

echo "== $ROUNDS rounds of $N verifies each, native / Python / Node"
: >"$OUT/rounds.txt"
for i in $(seq 1 "$ROUNDS"); do
    n=$("$NATIVE" "$N")
    p=$("$VENV/bin/python" bindings/python/bench/verify.py "$N")
    j=$(node bindings/js/bench/verify.mjs "$N")
    echo "$n $p $j" | tee -a "$OUT/rounds.txt"
done
python3 - "$OUT/rounds.txt" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
med = lambda xs: statistics.median(xs)
def q(xs, f):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(f * (len(xs) - 1) + 0.5))]
print("| binding | per verify (median) | ratio to native, median of rounds | range of rounds |")
print("|---|---|---|---|")
print(f"| native Rust | {med([r[0] for r in rows]) / 1000:.1f} µs | 1 | — |")
for name, i in (("Python (`licet.verify`)", 1), ("Node (`verify`, WebAssembly)", 2)):
    ratios = [r[i] / r[0] for r in rows]
    print(f"| {name} | {med([r[i] for r in rows]) / 1000:.1f} µs | **{med(ratios):.2f}×** "
          f"| {min(ratios):.2f}–{max(ratios):.2f}× |")
PY

echo "== C ABI against native, one process"
cargo run --release --locked -q -p licet-ffi --example ratio

echo "== sizes"
cargo build --release --locked -q -p licet-ffi
size() { stat -c %s "$1"; }
gz() { gzip -9c "$1" | wc -c; }
echo "| artefact | bytes | gzip -9 |"
echo "|---|---|---|"
for f in "$PKG/node/licet_bg.wasm:.wasm, as shipped (Ed25519, RSA, fast tables)" \
         "$OUT/js-rsa-slow/node/licet_bg.wasm:.wasm, Ed25519 and RSA, no tables" \
         "$OUT/js-ed25519-fast/node/licet_bg.wasm:.wasm, Ed25519 only, fast tables" \
         "$OUT/js-ed25519/node/licet_bg.wasm:.wasm, Ed25519 only" \
         "$(ls "$OUT"/wheels/licet-*.whl):Python wheel (abi3)" \
         "$ROOT/target/release/liblicet.a:liblicet.a" \
         "$ROOT/target/release/liblicet.so:liblicet.so"; do
    path=${f%%:*}; what=${f#*:}
    echo "| $what | $(size "$path") | $(gz "$path") |"
done
