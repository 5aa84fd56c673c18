#!/usr/bin/env bash
# Builds licet's bindings and runs their tests, each against the golden vectors and a real
# licet-server on a loopback port:
#
#   C       liblicet.a / liblicet.so and the committed header; C and C++ programs compiled
#           by the system's compilers, run under valgrind (cargo nextest, package licet-ffi)
#   Python  an abi3 wheel built by maturin, installed into a virtual environment, pytest, and
#           mypy --strict over code using the type stubs
#   JS      the npm package @licet/verifier (WebAssembly, bindings/js/build.sh); Node's test
#           runner through `require` and `import`, the same cases in headless Chromium over
#           WebDriver, and its TypeScript declarations compiled by tsc
#
#   scripts/test-bindings.sh
#
# scripts/test.sh runs it after the workspace's other tests (so the workspace is built once);
# on its own it builds what it needs. It needs what scripts/test.sh installs (C and C++
# compilers, valgrind, cJSON's headers, Python 3 with venv, Node with npm, Chromium and
# chromedriver, Debian's rustc-web, rust-web-src and lld). maturin, pytest and mypy come from PyPI
# at the versions bindings/python/requirements-dev.txt pins, into target/bindings/venv;
# TypeScript from npm at the version bindings/js/package-lock.json pins. A chromedriver is
# started unless LICET_TEST_WEBDRIVER_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "== bindings: C (licet-ffi)"
# The same selection as the workspace's test build, so nothing is compiled twice.
cargo nextest run --workspace --locked --no-fail-fast -E 'package(licet-ffi)'

echo "== bindings: Python (bindings/python)"
VENV=$ROOT/target/bindings/venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r bindings/python/requirements-dev.txt
# The online tests start the licet-server of the workspace's test build (already built when
# scripts/test.sh calls this).
cargo build --workspace --lib --tests --locked
WHEELS=$ROOT/target/bindings/wheels
rm -rf "$WHEELS"
# The test profile the workspace was built with: dependencies are shared, not built again.
(cd bindings/python && PATH="$VENV/bin:$PATH" maturin build --locked --profile dev --out "$WHEELS")
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/licet-*.whl
(cd bindings/python && LICET_SERVER="$ROOT/target/debug/licet-server" \
    "$VENV/bin/python" -m pytest -p no:cacheprovider -q tests)
# The stubs (.pyi) against code written as an application writes it.
(cd bindings/python && "$VENV/bin/mypy" --strict --cache-dir=/dev/null tests/typed_usage.py)

echo "== bindings: JavaScript (bindings/js)"
PKG=$ROOT/target/bindings/js/package
bash bindings/js/build.sh "$PKG"
(cd bindings/js && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
# The tests import the built package by its name, as an application would.
mkdir -p bindings/js/node_modules/@licet
ln -sfn "$PKG" bindings/js/node_modules/@licet/verifier
(cd bindings/js && npx --no-install tsc -p tsconfig.json)
DRIVER_PID=
trap '[ -n "$DRIVER_PID" ] && kill "$DRIVER_PID" 2>/dev/null || true' EXIT
if [ -z "${LICET_TEST_WEBDRIVER_URL:-}" ]; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    chromedriver --port="$PORT" >/dev/null 2>&1 &
    DRIVER_PID=$!
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$PORT/status" >/dev/null 2>&1 && break
        sleep 0.1
    done
    export LICET_TEST_WEBDRIVER_URL="http://127.0.0.1:$PORT"
fi
(cd bindings/js && node --test test/*.test.mjs test/*.test.cjs)

echo "== bindings passed"
