"""Independent verification of licet tokens with python `pycose` and `cwt` (pinned in
requirements.txt). Run by test-vectors/tests/interop.rs; not meant to be run by hand, but:

    python verify.py VECTORS_DIR FRESH_MANIFEST.json

1. Every golden vector whose signature is valid must verify with pycose, and every tampered one
   must be refused, using only the public key numbers from expected.json.
2. Every air-gapped artefact (offline.json) must verify, or be refused, with the key that
   should have signed it.
3. Fresh tokens issued by licet-issuer at the current time must decode with cwt.decode (which
   checks the signature, exp and nbf itself) to the claims the manifest lists.

Prints one line per check and a final "N passed, M failed"; exits 1 if anything failed.
"""

import base64
import json
import os
import sys

import cwt
from cwt import COSEKey
from pycose.keys import OKPKey, RSAKey
from pycose.keys.curves import Ed25519
from pycose.messages import CoseMessage

passed = 0
failed = 0


def report(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(("ok   " if ok else "FAIL ") + what)


def b64(h):
    return base64.urlsafe_b64encode(bytes.fromhex(h)).rstrip(b"=").decode()


def pycose_key(info):
    raw = info["raw"]
    if info["alg"] == "EdDSA":
        return OKPKey(crv=Ed25519, x=bytes.fromhex(raw["x"]))
    return RSAKey(n=bytes.fromhex(raw["n"]), e=bytes.fromhex(raw["e"]))


ALG_IDS = {"EdDSA": -8, "PS256": -37, "RS256": -257}


def cwt_key(info):
    # COSE_Key labels (RFC 9052 §7, RFC 8230): kty 1, kid 2, alg 3; OKP crv -1, x -2; RSA n -1, e -2.
    raw = info["raw"]
    kid = bytes.fromhex(info["kid"])
    if info["alg"] == "EdDSA":
        return COSEKey.new({1: 1, 2: kid, 3: -8, -1: 6, -2: bytes.fromhex(raw["x"])})
    return COSEKey.new(
        {1: 3, 2: kid, 3: ALG_IDS[info["alg"]], -1: bytes.fromhex(raw["n"]), -2: bytes.fromhex(raw["e"])}
    )


def pycose_verifies(token, key):
    try:
        msg = CoseMessage.decode(token)
        msg.key = key
        return bool(msg.verify_signature())
    except Exception:
        return False


def golden(vectors):
    expected = json.load(open(os.path.join(vectors, "expected.json")))
    keys = expected["keys"]
    checked = 0
    # Every real key of the set: a signature is judged on its own, whatever key set the case
    # gives licet (the unknown-kid case is validly signed, by a key not in licet's set).
    names = [k for k in keys if keys[k]["alg"] in ("EdDSA", "PS256", "RS256")]
    for case in expected["cases"]:
        if any(keys[k]["alg"] == "none" for k in case["keys"]):
            continue  # a key licet refuses (small order): nothing for pycose to check
        token = open(os.path.join(vectors, case["token"]), "rb").read()
        name = case["name"]
        try:
            CoseMessage.decode(token)
        except Exception as e:  # noqa: BLE001 - malformed vectors are expected to fail here
            if "CoseAlgorithm - -19" in str(e):
                # pycose 1.1 predates the fully specified Ed25519 id (-19, RFC 9864).
                print(f"note {name}: pycose does not know algorithm -19; licet's own tests cover it")
                continue
            if case["signature_valid"]:
                report(False, f"pycose cannot decode {name}: {e}")
                continue
        if case["signature_valid"]:
            ok = any(pycose_verifies(token, pycose_key(keys[k])) for k in names)
            report(ok, f"pycose verifies {name}")
            checked += 1
        elif name.startswith("tampered") or name == "non-canonical-signature":
            ok = not any(pycose_verifies(token, pycose_key(keys[k])) for k in names)
            report(ok, f"pycose refuses {name}")
            checked += 1
    report(checked >= 20, f"pycose checked {checked} golden vectors")


def offline(vectors):
    """The air-gapped artefacts: each signature judged by pycose with the key that should
    have made it (a device key for requests and receipts, a vendor key for responses)."""
    expected = json.load(open(os.path.join(vectors, "expected.json")))
    manifest = json.load(open(os.path.join(vectors, "offline.json")))
    checked = 0
    for case in manifest["cases"]:
        signer = case["signer"]
        if signer in manifest["device_keys"]:
            key = OKPKey(crv=Ed25519, x=bytes.fromhex(manifest["device_keys"][signer]))
        else:
            key = pycose_key(expected["keys"][signer])
        blob = open(os.path.join(vectors, case["file"]), "rb").read()
        ok = pycose_verifies(blob, key) == case["signature_valid"]
        verb = "verifies" if case["signature_valid"] else "refuses"
        report(ok, f"pycose {verb} offline {case['name']}")
        checked += 1
    report(checked >= 20, f"pycose checked {checked} offline vectors")


def fresh(manifest):
    for t in json.load(open(manifest))["tokens"]:
        token = bytes.fromhex(t["token_hex"])
        try:
            claims = cwt.decode(token, cwt_key(t["key"]))
        except Exception as e:  # noqa: BLE001 - any refusal is a failure to report
            report(False, f"cwt.decode {t['alg']}: {type(e).__name__}: {e}")
            continue
        licet = claims.get(-65537, {})
        want = t["expect"]
        ok = (
            claims.get(1) == want["iss"]
            and claims.get(4) == want["exp"]
            and claims.get(6) == want["iat"]
            and claims.get(7) == bytes.fromhex(want["cti"])
            and licet.get(1) == want["product"]
            and licet.get(2) == want["license_id"]
            and licet.get(3) == bytes.fromhex(want["hwid"])
            and licet.get(4) == want["domains"]
            and licet.get(5) == want["entitlements"]
        )
        report(ok, f"cwt.decode {t['alg']} gives the issued claims")
        # Re-encoding the claims with cbor2's canonical mode reproduces the signed payload:
        # licet's payload is RFC 8949 core deterministic.
        msg = CoseMessage.decode(token)
        import cbor2

        again = cbor2.dumps(cbor2.loads(msg.payload), canonical=True)
        report(again == msg.payload, f"{t['alg']} payload is canonical CBOR")


if __name__ == "__main__":
    golden(sys.argv[1])
    offline(sys.argv[1])
    fresh(sys.argv[2])
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)
