"""licet.Client against a real licet-server on a loopback port: activation, status, check-ins,
revocation, deactivation, an unreachable server, and the air-gapped walk."""

from __future__ import annotations

import socket

import pytest

import licet


def test_activate_check_in_and_give_back(server, tmp_path) -> None:
    license_id, key = server.license("acme-py", {"max_machines": 1})
    client = licet.Client(server.url, "acme-py", server.public_pem, state_dir=tmp_path)
    assert client.status().state == "needs_activation"
    assert not client.status()

    with pytest.raises(licet.Refused) as e:
        client.activate("NOT-A-KEY")
    assert e.value.code == "license_not_found"
    assert client.status().state == "needs_activation"

    status = client.activate(key)
    assert status.state == "valid" and status and status.licensed
    assert isinstance(status.until, int)
    assert client.status().state == "valid"
    assert client.ensure().state == "valid"
    assert client.heartbeat().state == "valid"
    assert client.check_in().state == "valid"
    assert server.machines(license_id) == 1

    # The stored token verifies offline, bound to this machine.
    lic = licet.verify(client.token(), server.public_pem, product="acme-py", this_machine=True)
    assert lic.license_id == license_id and lic.verified

    # Revoked on the server: the next check-in says so and the token is forgotten.
    server.call("POST", f"/v1/licenses/{license_id}/revoke", {})
    assert client.check_in().state == "revoked"
    assert client.status().state == "needs_activation"
    with pytest.raises(licet.StateError) as e:
        client.token()
    assert e.value.code == "not_activated"

    other_id, other_key = server.license("acme-py2", {"max_machines": 1})
    other = licet.Client(server.url, "acme-py2", server.public_pem, state_dir=tmp_path)
    assert other.activate(other_key).state == "valid"
    assert server.machines(other_id) == 1
    other.deactivate()
    assert other.status().state == "needs_activation"
    assert server.machines(other_id) == 0


def test_an_unreachable_server_is_unreachable_and_leaves_the_state(server, tmp_path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    client = licet.Client(dead, "acme-py", server.public_pem, state_dir=tmp_path, timeout=5)
    with pytest.raises(licet.Unreachable) as e:
        client.activate("ANY-KEY")
    assert e.value.code == "unreachable"
    assert client.status().state == "needs_activation"
    # A wrong key pinned: nothing from the server is trusted.
    with pytest.raises(licet.Refused):
        licet.Client(server.url, "acme-py", "no key", state_dir=tmp_path)


def test_the_air_gapped_walk(server, tmp_path) -> None:
    license_id, key = server.license(
        "air-py", {"offline_lease": 3600, "require_device_key": True}
    )
    # The machine has no network: an address nothing answers at.
    client = licet.Client(
        "http://127.0.0.1:9", "air-py", server.public_pem, state_dir=tmp_path
    )
    request = client.offline_request(key, note="lab PC 3")
    assert request.startswith("-----BEGIN LICET ACTIVATION REQUEST-----")
    assert client.status().state == "needs_activation"

    # The vendor's side reads it before answering at the desk.
    seen = licet.OfflineRequest.verify(request)
    seen.check_age(7 * 86400)
    assert (seen.product, seen.license_key, seen.note) == ("air-py", key, "lab PC 3")
    assert seen.fingerprint == licet.machine_fingerprint("air-py")
    response = server.call("POST", "/v1/offline/activations", {"request": request})["response"]

    # The machine checks it before installing: bound to its pending device key.
    lic = licet.verify_offline_response(
        response, server.public_pem, seen, product="air-py", this_machine=True
    )
    assert lic.license_id == license_id and lic.device_key == seen.device_key
    again = licet.verify_offline_response(
        response, server.public_pem, seen, product="air-py",
        fingerprint=seen.fingerprint, hwid_parts=seen.parts,
    )
    assert again.token_id == lic.token_id
    with pytest.raises(licet.Refused) as e:
        licet.verify_offline_response(
            response, server.public_pem, seen, product="air-py", fingerprint="0" * 64,
            hwid_parts=[bytes(8)] * len(seen.parts),
        )
    assert e.value.code == "hwid_mismatch"

    # A tampered response is refused and nothing is installed.
    mid = len(response) // 2
    tampered = response[:mid] + ("B" if response[mid] == "A" else "A") + response[mid + 1 :]
    with pytest.raises(licet.Error):
        client.offline_install(tampered)
    assert client.status().state == "needs_activation"

    assert client.offline_install(response).state == "valid"
    assert server.machines(license_id) == 1

    # Given back without a network: the receipt frees the seat at the desk.
    receipt = client.offline_deactivate()
    assert receipt.startswith("-----BEGIN LICET DEACTIVATION RECEIPT-----")
    assert client.status().state == "needs_activation"
    r = licet.Receipt.decode(receipt)
    assert (r.product, r.license_id) == ("air-py", license_id)
    assert r.request_id == seen.request_id
    r.check("machine", seen.device_key)
    with pytest.raises(licet.Refused) as e:
        r.check("revoked")
    assert e.value.code == "receipt_replayed"
    server.call("POST", "/v1/offline/deactivations", {"receipt": receipt})
    assert server.machines(license_id) == 0
