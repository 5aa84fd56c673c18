"""The Python side of the bindings' benchmark (scripts/bench-bindings.sh): the typical golden
token verified N times through licet.verify, as a Python application verifies it (the key set
read once). Prints nanoseconds per verify."""

import sys
import time
from pathlib import Path

import licet

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
vectors = Path(__file__).resolve().parents[3] / "test-vectors" / "vectors"
token = (vectors / "tokens/valid-ed25519.cbor").read_bytes()
keys = licet.Keys.from_pem((vectors / "keys/ed25519-a.pem").read_text())
fp = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def verify():
    return licet.verify(
        token, keys, product="acme-pro", fingerprint=fp, domain="example.com",
        entitlements=["pro"], now=1800000000,
    ).issued_at


for _ in range(n // 10):
    verify()
start = time.perf_counter_ns()
for _ in range(n):
    verify()
print(round((time.perf_counter_ns() - start) / max(n, 1)))
