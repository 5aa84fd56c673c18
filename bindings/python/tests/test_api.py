"""The Python API's contract: the forms it takes, the types it gives back, the errors it raises
(each with its stable code), and that the GIL is let go while licet works."""

from __future__ import annotations

import datetime
import socket
import threading
import time

import pytest

import licet

from conftest import VECTORS, load

EXPECTED = load("expected.json")
TYPICAL = next(c for c in EXPECTED["cases"] if c["name"] == "valid-ed25519")
CTX = TYPICAL["context"]
PEM_A = (VECTORS / "keys/ed25519-a.pem").read_text()
PEM_B = (VECTORS / "keys/ed25519-b.pem").read_text()
TOKEN = (VECTORS / TYPICAL["token"]).read_bytes()
TEXT = (VECTORS / TYPICAL["token_text"]).read_text()


def check(token, keys, **kw):
    args = dict(
        product=CTX["product"],
        fingerprint=CTX["fingerprint"],
        domain=CTX["domain"],
        entitlements=CTX["entitlements"],
        now=CTX["now"],
    )
    args.update(kw)
    return licet.verify(token, keys, **args)


def test_a_token_in_any_form_gives_typed_claims() -> None:
    armored = "-----BEGIN LICET LICENSE-----\n" + TEXT.strip() + "\n-----END LICET LICENSE-----\n"
    for form in (TOKEN, bytearray(TOKEN), TEXT, armored, "\r\n  " + TEXT + "\n"):
        lic = check(form, PEM_A)
        assert isinstance(lic, licet.License)
        assert lic.license_id == "LIC-0001"
        assert lic.product == "acme-pro"
        assert isinstance(lic.issued_at, int) and isinstance(lic.expires_at, int)
        assert lic.issued_at < CTX["now"] < lic.expires_at
        assert lic.entitlements == ["export", "pro", "sso"]
        assert lic.has_entitlement("pro") and not lic.has_entitlement("enterprise")
        assert lic.algorithm == "EdDSA"
        assert lic.kid == bytes.fromhex(EXPECTED["keys"]["ed25519-a"]["kid"])
        assert lic.token_id == bytes.fromhex(TYPICAL["claims"]["token_id"])
        assert lic.verified is True
        assert isinstance(lic.metadata, dict)
        assert "LIC-0001" in repr(lic)


def test_key_sets_from_every_form() -> None:
    a = licet.Keys.from_pem(PEM_A)
    both = licet.Keys.from_pem(PEM_A + "\n" + PEM_B.replace("\n", "\r\n"))
    assert len(both) == 2 and both.kids[0] == a.kids[0]
    raw = bytes.fromhex(EXPECTED["keys"]["ed25519-a"]["raw"]["x"])
    assert licet.Keys.ed25519(raw).kids == a.kids
    assert (licet.Keys.ed25519(raw) + licet.Keys.from_pem(PEM_B)).kids == both.kids
    assert licet.Keys.from_pem(a.to_pem()).kids == a.kids
    # Only a key of the set verifies: B alone does not know the token's key.
    with pytest.raises(licet.Refused) as e:
        check(TOKEN, licet.Keys.from_pem(PEM_B))
    assert e.value.code == "unknown_key"
    assert check(TOKEN, both).license_id == "LIC-0001"


def test_refusals_carry_the_verifiers_code() -> None:
    cases = {
        "wrong_product": dict(product="acme-lite"),
        "expired": dict(now=TYPICAL["claims"]["expires_at"]),
        "hwid_mismatch": dict(fingerprint="0" * 64),
        "domain_mismatch": dict(domain="evil.example"),
        "missing_entitlement": dict(entitlements=["enterprise"]),
    }
    for code, kw in cases.items():
        with pytest.raises(licet.Refused) as e:
            check(TOKEN, PEM_A, **kw)
        assert e.value.code == code, kw
        assert isinstance(e.value, licet.Error) and e.value.message
    with pytest.raises(licet.Refused) as e:
        check(TOKEN[:-1] + bytes([TOKEN[-1] ^ 1]), PEM_A)
    assert e.value.code == "bad_signature"
    with pytest.raises(licet.Refused) as e:
        check("not a token", PEM_A)
    assert e.value.code == "bad_encoding"


def test_the_caller_s_mistakes_are_invalid_arguments() -> None:
    mistakes = [
        lambda: licet.Keys.ed25519(b"short"),
        lambda: check(TOKEN, PEM_A, device_key=b"x" * 31),
        lambda: check(TOKEN, PEM_A, hwid_parts=[b"1234567"]),
        lambda: check(TOKEN, PEM_A, now="yesterday"),
        lambda: check(12345, PEM_A),
        lambda: check(TOKEN, 42),
        lambda: licet.Receipt.decode(b"").check("someone"),
    ]
    for m in mistakes:
        with pytest.raises((licet.InvalidArgument, licet.Refused, TypeError)) as e:
            m()
        if isinstance(e.value, licet.InvalidArgument):
            assert e.value.code == "invalid_argument"
            assert isinstance(e.value, ValueError)
    with pytest.raises(licet.InvalidArgument):
        licet.Keys.ed25519(b"short")
    with pytest.raises(licet.InvalidArgument):
        check(TOKEN, PEM_A, now="yesterday")
    # An unreadable key text is the key's refusal, not a silent empty set.
    with pytest.raises(licet.Refused) as e:
        licet.Keys.from_pem("not a key")
    assert e.value.code == "invalid_key"
    # A product must be named, or None said on purpose.
    with pytest.raises(TypeError):
        licet.verify(TOKEN, PEM_A, now=CTX["now"])  # type: ignore[call-arg]


def test_now_as_a_datetime_and_any_product() -> None:
    at = datetime.datetime.fromtimestamp(CTX["now"], tz=datetime.timezone.utc)
    assert check(TOKEN, PEM_A, now=at).license_id == "LIC-0001"
    lic = licet.verify(TOKEN, PEM_A, product=None, fingerprint=CTX["fingerprint"],
                       domain=CTX["domain"], now=CTX["now"])
    assert lic.product == "acme-pro"
    # Without a time the system clock is used: a token whose nbf is ahead of today's clock
    # is refused, and accepted at a time past it.
    early = (VECTORS / "tokens/not-yet-valid.cbor").read_bytes()
    nbf = licet.inspect(early).not_before
    assert nbf is not None and time.time() < nbf
    with pytest.raises(licet.Refused) as e:
        check(early, PEM_A, now=None)
    assert e.value.code == "not_yet_valid"
    assert check(early, PEM_A, now=nbf).license_id == "LIC-0001"


def test_inspect_reads_without_verifying() -> None:
    lic = licet.inspect(TOKEN[:-1] + bytes([TOKEN[-1] ^ 1]))
    assert lic.verified is False and lic.license_id == "LIC-0001"


def test_revocation_lists() -> None:
    case = next(c for c in EXPECTED["cases"] if c["expected"] == "revoked")
    keys = licet.Keys.from_pem(
        "".join((VECTORS / EXPECTED["keys"][n]["spki_pem"]).read_text() for n in case["keys"])
    )
    data = (VECTORS / case["context"]["revocations"]).read_bytes()
    lst = licet.RevocationList.verify(data, keys)
    assert lst.sequence >= 1 and lst.token_count + lst.license_count >= 1
    assert lst.issued_at < lst.next_update
    assert lst.is_stale(lst.next_update) and not lst.is_stale(lst.issued_at)
    assert "RevocationList" in repr(lst)
    with pytest.raises(licet.Refused) as e:
        licet.RevocationList.verify(data, keys, last_seen_sequence=lst.sequence + 1)
    assert e.value.code == "revocation_rollback"
    with pytest.raises(licet.InvalidArgument):
        lst.contains_token(b"short")


def test_this_machine_binds_to_the_clients_fingerprint() -> None:
    fp = licet.machine_fingerprint("acme-pro")
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert fp == licet.machine_fingerprint("acme-pro")
    assert fp != licet.machine_fingerprint("acme-lite")
    with pytest.raises(licet.InvalidArgument):
        licet.verify(TOKEN, PEM_A, product=None, this_machine=True, now=CTX["now"])
    # The golden token is bound to another machine.
    with pytest.raises(licet.Refused) as e:
        check(TOKEN, PEM_A, fingerprint=None, this_machine=True)
    assert e.value.code == "hwid_mismatch"


def test_the_gil_is_let_go_while_the_client_waits_on_the_network(tmp_path) -> None:
    # A server that takes the connection and never answers: the client waits out its
    # timeout. Were the GIL held meanwhile, this thread could not count at all.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    url = f"http://127.0.0.1:{hole.getsockname()[1]}"
    client = licet.Client(url, "acme-pro", PEM_A, state_dir=tmp_path, timeout=1.5)
    errors: list[BaseException] = []

    def activate() -> None:
        try:
            client.activate("KEY")
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)

    worker = threading.Thread(target=activate)
    counted = 0
    worker.start()
    time.sleep(0.2)
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        counted += 1
    still_waiting = worker.is_alive()
    worker.join()
    hole.close()
    assert still_waiting, "the client returned before its timeout"
    assert counted > 10_000, counted
    assert len(errors) == 1 and isinstance(errors[0], licet.Unreachable)
    assert errors[0].code == "unreachable"


def test_the_package_is_typed() -> None:
    import importlib.resources

    files = importlib.resources.files("licet")
    assert files.joinpath("py.typed").is_file()
    stub = files.joinpath("_licet.pyi").read_text()
    for name in licet.__all__:
        if name in {"Error", "InvalidArgument", "Refused", "StateError", "Unreachable", "Untrusted"}:
            continue
        assert name in stub, name


def test_a_device_s_proof_of_possession() -> None:
    # Made once with Node's Ed25519 (node:crypto): the device key's signature of
    # "licet/device-pop/v1\0" followed by the challenge.
    key = bytes.fromhex("b3d6b3b32fb353a430fc4d3183419d8bc275c6409d9fe2cf3b21c70ad87f02d1")
    challenge = b"licet possession test challenge 01"
    signature = bytes.fromhex(
        "e1830fd9116cc0254bf8a804565c3246a4f613e43233dbfb39a8905b2460b942"
        "b67966f80fe4f2572cca8c54dc4bf0b509e708dc019111c4543123c4fc25d207"
    )
    assert licet.verify_possession(key, challenge, signature) is None
    with pytest.raises(licet.Refused) as e:
        licet.verify_possession(key, challenge + b"!", signature)
    assert e.value.code == "device_key_mismatch"
    with pytest.raises(licet.InvalidArgument):
        licet.verify_possession(key[:31], challenge, signature)
