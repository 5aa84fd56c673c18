"""Every golden case of test-vectors/vectors (expected.json and offline.json), read at
collection time so that a new case needs no change here, checked through the Python package
as its reader would check it, in each of its forms."""

from __future__ import annotations

import pytest

import licet

from conftest import VECTORS, load

EXPECTED = load("expected.json")
OFFLINE = load("offline.json")
CASES = [("token", c) for c in EXPECTED["cases"]] + [("offline", c) for c in OFFLINE["cases"]]


def keys_of(names: list[str]) -> licet.Keys:
    pems = "".join((VECTORS / EXPECTED["keys"][n]["spki_pem"]).read_text() for n in names)
    return licet.Keys.from_pem(pems)


def outcome(f) -> str:
    try:
        f()
    except licet.Refused as e:
        return e.code
    return "valid"


def check_token(case: dict, file: str) -> str:
    ctx = case["context"]
    revocations = None
    try:
        # A case may expect the key itself to be refused (`invalid_key`).
        keys = keys_of(case["keys"])
        if ctx.get("revocations"):
            revocations = licet.RevocationList.verify(
                (VECTORS / ctx["revocations"]).read_bytes(),
                keys,
                last_seen_sequence=ctx.get("last_seen_sequence"),
            )
    except licet.Refused as e:
        return e.code
    token = (VECTORS / file).read_bytes()
    try:
        lic = licet.verify(
            token,
            keys,
            product=ctx.get("product"),
            fingerprint=ctx.get("fingerprint"),
            hwid_parts=[bytes.fromhex(p) for p in ctx.get("hwid_parts") or []],
            device_key=bytes.fromhex(ctx["device_key"]) if ctx.get("device_key") else None,
            require_device_binding=bool(ctx.get("require_device_binding")),
            domain=ctx.get("domain"),
            entitlements=ctx.get("entitlements") or [],
            leeway=ctx.get("leeway") or 0,
            revocations=revocations,
            require_fresh=bool(ctx.get("require_fresh")),
            now=ctx["now"],
        )
    except licet.Refused as e:
        return e.code
    if not lic.verified:
        return "valid but not marked verified"
    want = case.get("claims") or {}
    got = {
        "license_id": lic.license_id,
        "product": lic.product,
        "issued_at": lic.issued_at,
        "expires_at": lic.expires_at,
        "token_id": lic.token_id.hex(),
        "entitlements": lic.entitlements,
    }
    for k, v in want.items():
        if got[k] != v:
            return f"valid with another {k}: {got[k]!r}"
    return "valid"


def check_offline(case: dict, file: str) -> str:
    ctx = case["context"]
    data = (VECTORS / file).read_bytes()
    kind = case["kind"]
    if kind == "request":

        def run():
            licet.OfflineRequest.verify(data).check_age(ctx["window"], now=ctx["now"])

        return outcome(run)
    if kind == "response":
        keys = keys_of(ctx["keys"])
        pending = licet.OfflineRequest.verify((VECTORS / ctx["pending_request"]).read_bytes())
        try:
            lic = licet.verify_offline_response(
                data,
                keys,
                pending,
                product=ctx["product"],
                fingerprint=ctx["fingerprint"],
                now=ctx["now"],
            )
        except licet.Refused as e:
            return e.code
        # An installed token binds the pending request's device key.
        if lic.device_key != pending.device_key:
            return "valid without the pending device key"
        return "valid"
    devices = OFFLINE["device_keys"]

    def run():
        receipt = licet.Receipt.decode(data)
        device = ctx.get("holder_device_key")
        receipt.check(ctx["holder"], bytes.fromhex(devices[device]) if device else None)

    return outcome(run)


@pytest.mark.parametrize(
    "kind,case", CASES, ids=[f"{k}:{c['name']}" for k, c in CASES]
)
def test_golden_case(kind: str, case: dict) -> None:
    if kind == "token":
        forms = {"binary": case["token"], "text": case["token_text"]}
        got = {form: check_token(case, f) for form, f in forms.items()}
    else:
        forms = {"binary": case["file"], "armor": case["armor"]}
        got = {form: check_offline(case, f) for form, f in forms.items()}
    assert got == {form: case["expected"] for form in forms}


def test_every_case_of_both_files_is_collected() -> None:
    total = len(EXPECTED["cases"]) + len(OFFLINE["cases"])
    assert len(CASES) == total
    # The set only grows: a runner that found fewer cases would hide a reader's bug.
    assert total >= 69
