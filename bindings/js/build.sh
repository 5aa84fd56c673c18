#!/usr/bin/env bash
# Builds the npm package @licet/verifier: licet-wasm compiled to WebAssembly, then wrapped by
# wasm-bindgen for Node (CommonJS, with an ES-module entry) and for browsers (an ES module).
#
#   bindings/js/build.sh [OUT_DIR] [-- cargo features…]
#
# OUT_DIR defaults to target/bindings/js/package. Extra arguments after `--` go to cargo (the
# benchmarks build an Ed25519-only module with `-- --no-default-features`).
#
# rustup's toolchain carries no WebAssembly standard library. Debian's rustc-web and
# rust-web-src carry a compiler with every LLVM target and the library's sources, so the
# standard library is built from source (-Zbuild-std, allowed by RUSTC_BOOTSTRAP on that
# compiler only) and linked by LLVM's wasm-ld (Debian's lld). As root on Debian the packages are
# installed when missing. wasm-bindgen-cli is installed from crates.io at the version of the
# wasm-bindgen crate in Cargo.lock, into target/bindings/tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${1:-$ROOT/target/bindings/js/package}
shift || true
[ "${1:-}" = "--" ] && shift
FEATURES=("$@")

DEBIAN_RUSTC=/usr/bin/rustc
missing=()
[ -x "$DEBIAN_RUSTC" ] && "$DEBIAN_RUSTC" --print target-list 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || missing+=(rustc-web)
ls -d /usr/lib/rustlib/src/rust/library >/dev/null 2>&1 || missing+=(rust-web-src)
command -v wasm-ld >/dev/null || missing+=(lld)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "Building the WebAssembly module needs Debian's ${missing[*]}. As root:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
fi

# The CLI must match the crate exactly: the module's custom sections are versioned.
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
TOOLS=$ROOT/target/bindings/tools
if ! "$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -qx "wasm-bindgen $BINDGEN_VERSION"; then
    echo "== installing wasm-bindgen-cli $BINDGEN_VERSION"
    # Not --locked: the CLI's own lock file names a webpki-roots release the registry here does
    # not carry; the CLI's version is pinned all the same.
    cargo install --quiet --root "$TOOLS" wasm-bindgen-cli --version "$BINDGEN_VERSION"
fi

echo "== licet-wasm → wasm32-unknown-unknown ($("$DEBIAN_RUSTC" --version))"
WASM_TARGET=$ROOT/target/wasm
RUSTC=$DEBIAN_RUSTC RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$WASM_TARGET \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
    cargo build --locked -p licet-wasm --lib --target wasm32-unknown-unknown --profile wasm \
    -Zbuild-std=std,panic_abort ${FEATURES[@]+"${FEATURES[@]}"}
MODULE=$WASM_TARGET/wasm32-unknown-unknown/wasm/licet_wasm.wasm

rm -rf "$OUT"
mkdir -p "$OUT"
"$TOOLS/bin/wasm-bindgen" --target nodejs --no-typescript --remove-name-section --remove-producers-section --out-dir "$OUT/node" --out-name licet "$MODULE"
"$TOOLS/bin/wasm-bindgen" --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$OUT/web" --out-name licet "$MODULE"
SRC=$ROOT/bindings/js/npm
cp "$SRC/package.json" "$SRC/README.md" "$SRC/licet.d.ts" "$OUT/"
cp "$SRC/index.mjs" "$OUT/node/index.mjs"
cp "$SRC/index.js" "$OUT/web/index.js"
echo "== built $OUT ($(wc -c <"$OUT/node/licet_bg.wasm") bytes of WebAssembly)"
