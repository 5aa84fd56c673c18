#!/usr/bin/env bash
# The verifier on microcontrollers, in QEMU: firmware/ built for a Cortex-M4F (mps2-an386), a
# Cortex-M0 (micro:bit, 16 KiB of RAM) and a RISC-V core (sifive_e). On each:
#
#   vectors    every Ed25519 case of the golden vectors, compared with the outcome the files
#              give; must print "N passed, 0 failed" with N all of them
#   minimal    one token check with the key compiled in, as a vendor's firmware has it: its
#              flash (text + rodata), the peak stack of one verify (the stack painted, then the
#              high-water mark found), and its cost in instructions under QEMU's -icount
#   calibrate  a loop of 2,000,000 instructions, timed as the verify is: the timer's scale
#
#   scripts/firmware.sh
#
# Needs QEMU (Debian: qemu-system-arm, qemu-system-misc), Debian's rustc-web and rust-web-src
# (rustup has no library for these targets: core is built from source) and lld (ld.lld links
# them). As root on Debian it installs what is missing. Prints one table of figures
# (BENCHMARKS.md); fails on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

missing=()
command -v qemu-system-arm >/dev/null || missing+=(qemu-system-arm)
command -v qemu-system-riscv32 >/dev/null || missing+=(qemu-system-misc)
command -v ld.lld >/dev/null || missing+=(lld)
{ [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; } || missing+=(rustc-web rust-web-src)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing: ${missing[*]}"
        apt-get update -qq
        for p in "${missing[@]}"; do
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"
        done
    else
        echo "The firmware needs Debian's ${missing[*]}. As root:" >&2
        echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
fi

# The cases a target must run: every token case whose keys are all Ed25519, and every offline
# case.
WANT=$(python3 - "$ROOT/test-vectors/vectors" <<'PY'
import json, sys
d = sys.argv[1]
e = json.load(open(f"{d}/expected.json"))
o = json.load(open(f"{d}/offline.json"))
ed = [c for c in e["cases"] if all(e["keys"][k]["alg"] == "EdDSA" for k in c["keys"])]
print(len(ed) + len(o["cases"]))
PY
)

# target, QEMU command, instructions per timer unit, typical clock (MHz) for the estimate.
TARGETS=(
    "thumbv7em-none-eabihf|qemu-system-arm -cpu cortex-m4 -machine mps2-an386|40|64"
    "thumbv6m-none-eabi|qemu-system-arm -cpu cortex-m0 -machine microbit|62.5|16"
    "riscv32imac-unknown-none-elf|qemu-system-riscv32 -machine sifive_e -bios none|1|320"
)
ROWS=()
status=0
for t in "${TARGETS[@]}"; do
    IFS='|' read -r target qemu _ mhz <<<"$t"
    echo "== $target"
    (cd firmware && RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        cargo build --locked --release --target "$target" -Zbuild-std=core)
    bin=firmware/target/$target/release
    run() { timeout 600 $qemu -nographic -semihosting-config enable=on,target=native "$@"; }
    out=$(run -kernel "$bin/vectors") || { echo "$out"; echo "vectors failed on $target" >&2; status=1; continue; }
    echo "$out"
    if [ "$(tail -1 <<<"$out")" != "$WANT passed, 0 failed" ]; then
        echo "expected \"$WANT passed, 0 failed\" on $target" >&2
        status=1
        continue
    fi
    cal=$(run -icount shift=0 -kernel "$bin/calibrate")
    min=$(run -icount shift=0 -kernel "$bin/minimal") || { echo "$min"; echo "the minimal image refused its license on $target" >&2; status=1; continue; }
    echo "$cal"
    echo "$min"
    ROWS+=("$(python3 - "$bin/minimal" "$target" "$mhz" "$cal" "$min" <<'PY'
import re, struct, sys
path, target, mhz, cal, minimal = sys.argv[1:]
b = open(path, "rb").read()
shoff = struct.unpack_from("<I", b, 0x20)[0]
entsize, num, strndx = struct.unpack_from("<HHH", b, 0x2E)
hdrs = [struct.unpack_from("<IIIIII", b, shoff + i * entsize) for i in range(num)]
# Allocated, not writable, not NOBITS: what the image puts in flash (text and rodata).
flash = sum(h[5] for h in hdrs if h[2] & 2 and not h[2] & 1 and h[1] != 8)
units = int(re.search(r"2000000 instructions: (\d+)", cal).group(1))
per_unit = 2_000_000 / units
stack = int(re.search(r"stack (\d+) bytes", minimal).group(1))
count = int(re.search(r"; (\d+) ", minimal).group(1))
insns = round(count * per_unit)
ms = insns / (float(mhz) * 1000)
print(f"| `{target}` | {flash:,} B ({flash / 1024:.1f} KiB) | {stack:,} B | {insns:,} | ~{ms:,.0f} ms at {mhz} MHz |")
PY
)")
done
echo
echo "| target | flash of the minimal image | peak stack of one verify | instructions per verify | estimate, one instruction a cycle |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
exit $status
