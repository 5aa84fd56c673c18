#!/usr/bin/env bash
# Runs every test of licet: the workspace's tests (sled and a PostgreSQL of their own, the
# dashboard in a real headless Chromium, the python interop test), the doc tests, the verifier
# in its no-allocator build, the bindings (scripts/test-bindings.sh), the firmware on three
# microcontroller targets in QEMU (scripts/firmware.sh), the examples against a real server and
# the README's quickstarts.
#
#   ./scripts/test.sh
#
# It needs, beside the Rust toolchain: Python 3 with venv and pip, C and C++ compilers and make,
# valgrind and cJSON's headers (the C binding's tests), Node with npm, Debian's rustc-web,
# rust-web-src and lld (the JavaScript binding's WebAssembly and the firmware), QEMU for Arm and
# RISC-V (the firmware), curl, PostgreSQL's server binaries (initdb, pg_ctl), Chromium with
# chromedriver, and systemd-analyze.
# As root on Debian or Ubuntu it installs what is missing with apt-get; otherwise it prints the
# command that would and stops with exit 2. It starts a throwaway PostgreSQL (Unix socket only,
# in a temporary directory) and a chromedriver on a loopback port, and stops both when it ends,
# however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- what the tests need -------------------------------------------------------------------

missing=()
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv python3-pip)
{ command -v cc && command -v c++ && command -v make; } >/dev/null || missing+=(build-essential)
# The C binding's programs run under valgrind memcheck; its vector runner reads JSON with cJSON.
command -v valgrind >/dev/null || missing+=(valgrind)
[ -f /usr/include/cjson/cJSON.h ] || missing+=(libcjson-dev)
command -v curl >/dev/null || missing+=(curl)
# `systemd-analyze verify` checks the packaged unit file.
command -v systemd-analyze >/dev/null || missing+=(systemd)
{ command -v chromedriver >/dev/null && { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null; }; } \
    || missing+=(chromium chromium-driver)

pg_bin() {
    local b
    b=$(pg_config --bindir 2>/dev/null || true)
    if [ -x "$b/initdb" ]; then echo "$b"; return; fi
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -n "$b" ] && [ -x "$b/initdb" ]; then echo "$b"; fi
}
[ -n "$(pg_bin)" ] || missing+=(postgresql)
# The JavaScript binding's WebAssembly: Debian's compiler for every LLVM target, the standard
# library's sources, and LLVM's wasm-ld (bindings/js/build.sh).
{ [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; } || missing+=(rustc-web rust-web-src)
command -v wasm-ld >/dev/null || missing+=(lld)
command -v npm >/dev/null || missing+=(npm)
# PostgreSQL refuses to run as root: as root the server runs as the postgres user.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then missing+=(postgresql); fi

if [ ${#missing[@]} -gt 0 ]; then
    # shellcheck disable=SC2207
    missing=($(printf '%s\n' "${missing[@]}" | sort -u))
    cmd="apt-get install -y ${missing[*]}"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "The tests need packages this machine lacks. On Debian or Ubuntu, run as root:" >&2
        echo "  apt-get update && $cmd" >&2
        echo "then run ./scripts/test.sh again." >&2
        exit 2
    fi
fi
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "== installing cargo-nextest"
    cargo install cargo-nextest --locked --version 0.9.143
fi

# --- services ------------------------------------------------------------------------------

WORK=$(mktemp -d /tmp/licet-test.XXXXXX)
PG_BIN=$(pg_bin)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
DRIVER_PID=
stop_services() {
    [ -n "$DRIVER_PID" ] && kill "$DRIVER_PID" 2>/dev/null || true
    as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap stop_services EXIT

echo "== PostgreSQL for the tests ($("$PG_BIN/postgres" --version))"
mkdir -p "$WORK/pg"
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$WORK/pg"; chmod 755 "$WORK"; fi
as_postgres "$PG_BIN/initdb" -U postgres -A trust -E UTF8 --no-locale -D "$WORK/pg/data" >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
    -o "-k $WORK/pg -c listen_addresses='' -c max_connections=200" start >/dev/null
# The tests read LICET_TEST_DATABASE_URL; without a PostgreSQL they fail, they are never skipped.
export LICET_TEST_DATABASE_URL="host=$WORK/pg port=5432 user=postgres dbname=postgres"

echo "== chromedriver for the browser tests ($(chromedriver --version))"
DRIVER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chromedriver --port="$DRIVER_PORT" >"$WORK/chromedriver.log" 2>&1 &
DRIVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null
export LICET_TEST_WEBDRIVER_URL="http://127.0.0.1:$DRIVER_PORT"

# --- the tests -----------------------------------------------------------------------------
# Each suite once. Separate commands, not `a && b`: under `set -e` a failure on the left of
# `&&` would not stop the script.

echo "== the workspace's tests"
# The C binding's tests run with the other bindings' (scripts/test-bindings.sh), once.
cargo nextest run --workspace --locked --no-fail-fast -E 'not package(licet-ffi)'
echo "== doc tests"
cargo test --workspace --locked --doc
echo "== the verifier in its default build (no std, no allocator)"
cargo nextest run -p licet-verifier --locked
echo "== the bindings (C, Python, JavaScript)"
bash scripts/test-bindings.sh
echo "== the verifier on microcontrollers, in QEMU (Cortex-M4, Cortex-M0, RISC-V)"
bash scripts/firmware.sh
echo "== examples"
bash scripts/run-examples.sh
echo "== the README's quickstarts"
bash scripts/quickstart.sh
echo "== all tests passed"
