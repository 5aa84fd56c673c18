"""Checked by mypy --strict in the tests (scripts/test-bindings.sh), never run: the stubs
describe the package as an application uses it."""

from __future__ import annotations

import datetime

import licet


def check(token: bytes, pem: str) -> str:
    keys: licet.Keys = licet.Keys.from_pem(pem)
    try:
        lic: licet.License = licet.verify(
            token, keys, product="acme-pro", entitlements=["pro"], now=datetime.datetime.now()
        )
    except licet.Refused as e:
        code: str = e.code
        return code
    until: int | None = lic.expires_at
    meta: dict[str, str | int | bool] = lic.metadata
    return f"{lic.license_id} {until} {meta} {lic.token_id.hex()}"


def online(pem: str) -> bool:
    client = licet.Client("https://licenses.example.com", "acme-pro", pem, timeout=5.0)
    status: licet.Status = client.ensure()
    if status.state == "needs_activation":
        status = client.activate("KEY")
    return bool(status)


def wrong() -> None:
    licet.verify(b"", "pem", product=1)  # type: ignore[arg-type]
