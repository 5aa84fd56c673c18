"""An independent LicenseCM client: stdlib plus `cryptography`, written from LicenseCM's
documentation and its SDKs' conventions (not from licet's code).

    python client.py SETUP.json

SETUP.json (written by the Rust test): {"url", "product_id", "secret", "keys": {...}}.
Prints one line per check and exits 1 on the first failure.
"""

import hashlib
import hmac
import http.client
import json
import os
import sys
import time
import urllib.parse
from base64 import b64decode, urlsafe_b64decode

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SETUP = json.load(open(sys.argv[1]))
URL = urllib.parse.urlparse(SETUP["url"])
PRODUCT = SETUP["product_id"]
SECRET = SETUP["secret"]
KEYS = SETUP["keys"]
CHECKS = 0


def check(cond, what, detail=""):
    global CHECKS
    if not cond:
        print(f"FAIL {what}: {detail}")
        sys.exit(1)
    CHECKS += 1
    print(f"ok   {what}")


def post(path, body, headers=None, chunked=False):
    conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)
    h = {"Content-Type": "application/json; charset=utf-8"}
    h.update(headers or {})
    raw = json.dumps(body).encode()
    if chunked:
        # Node's SDK streams the body: chunked, no Content-Length.
        conn.request("POST", path, body=iter([raw[:10], raw[10:]]), headers=h, encode_chunked=True)
    else:
        conn.request("POST", path, body=raw, headers=h)
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"null")
    conn.close()
    return resp.status, data


def get(path):
    conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)
    conn.request("GET", path)
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


def encrypt(payload, iv_len=16, used=16, secret=SECRET, ts=None):
    """The SDK envelope: AES-256-GCM keyed by the first 32 bytes of the secret, HMAC over
    iv:data:tag:timestamp keyed by the whole secret."""
    key = secret.encode()[:32]
    iv = os.urandom(iv_len)
    plain = json.dumps(payload).encode()
    if used == 12:
        sealed = AESGCM(key).encrypt(iv[:12], plain, None)
        data, tag = sealed[:-16], sealed[-16:]
    else:
        enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        data = enc.update(plain) + enc.finalize()
        tag = enc.tag
    ts = int(time.time() * 1000) if ts is None else ts
    iv_h, data_h, tag_h = iv.hex(), data.hex(), tag.hex()
    sig = hmac.new(secret.encode(), f"{iv_h}:{data_h}:{tag_h}:{ts}".encode(), hashlib.sha256).hexdigest()
    return {"encrypted": True, "iv": iv_h, "data": data_h, "tag": tag_h, "signature": sig,
            "product_id": PRODUCT, "timestamp": ts}


def decrypt(answer):
    key = SECRET.encode()[:32]
    iv = bytes.fromhex(answer["iv"])
    sealed = bytes.fromhex(answer["data"]) + bytes.fromhex(answer["tag"])
    return json.loads(AESGCM(key).decrypt(iv, sealed, None))


status, pk = get("/api/client/public-key")
check(status == 200 and pk["success"], "public-key", pk)
PUBLIC = serialization.load_pem_public_key(pk["data"]["public_key"].encode())


def verify_signature(data, what):
    """As the SDKs check it: PKCS#1 v1.5 / SHA-512 over the JSON encoding of data.data."""
    check(isinstance(data.get("data"), str) and "signature" in data, f"{what}: signed data present", data)
    message = json.dumps(data["data"]).encode()
    try:
        PUBLIC.verify(b64decode(data["signature"]), message, padding.PKCS1v15(), hashes.SHA512())
        good = True
    except Exception as e:  # noqa: BLE001
        good, data = False, e
    check(good, f"{what}: RSA signature verifies", data)
    facts = json.loads(urlsafe_b64decode(data["data"] + "=" * (-len(data["data"]) % 4)))
    return facts


def request(key, hwid, **extra):
    body = {"license_key": key, "hwid": hwid, "product_id": PRODUCT}
    body.update(extra)
    return body


HW = hashlib.sha256(b"python machine").hexdigest()

# ---- plaintext: activate -> heartbeat x3 -> validate -> challenge -> deactivate
key = KEYS["main"]
status, r = post("/api/client/activate", request(key, HW, client_data={"platform": "linux", "vmIndicators": None, "debugIndicators": []}), chunked=True)
check(status == 200 and r["success"] and r["data"]["activated"], "activate (chunked body)", r)
facts = verify_signature(r["data"], "activate")
check(facts["license_key"] == key and facts["hwid"] == HW, "signed facts name the license and hwid", facts)
session = r["data"]["session"]
check(len(session["expires_at"]) == 20 and session["expires_at"].endswith("Z"), "session expires_at format", session)
token = session["token"]
for i in range(3):
    status, r = post("/api/client/heartbeat", request(key, HW, session_token=token))
    check(status == 200 and r["data"]["valid"] and r["data"]["new_token"] != token, f"heartbeat {i + 1} rotates", r)
    token = r["data"]["new_token"]
status, r = post("/api/client/validate", request(key, HW))
check(status == 200 and r["data"]["valid"] is True, "validate", r)
verify_signature(r["data"], "validate")
challenge = r["data"]["challenge"]
answer = hmac.new(HW.encode(), challenge.encode(), hashlib.sha256).hexdigest()
status, r = post("/api/client/verify-challenge", {"license_key": key, "hwid": HW, "challenge": challenge, "response": answer})
check(status == 200 and r["data"]["valid"] is True, "verify-challenge", r)
status, r = post("/api/client/deactivate", request(key, HW))
check(status == 200 and r["data"]["deactivated"] is True, "deactivate", r)
status, r = post("/api/client/heartbeat", request(key, HW, session_token=token))
check(status == 401 and ("expired" in r["message"] or "invalid" in r["message"]), "heartbeat after deactivate ends the session", r)

# ---- encrypted, in all three IV styles
for n, (iv_len, used) in enumerate([(16, 16), (16, 12), (12, 12)]):
    hw = f"{HW[:60]}{n:04d}"
    status, r = post("/api/client/activate", encrypt(request(key, hw), iv_len, used))
    check(status == 200 and r.get("encrypted") is True, f"encrypted activate, iv {iv_len}/{used}", r)
    inner = decrypt(r)
    check(inner["success"] and inner["data"]["activated"], f"answer decrypts, iv {iv_len}/{used}", inner)
    verify_signature(inner["data"], f"encrypted activate {iv_len}/{used}")
    tok = inner["data"]["session"]["token"]
    status, r = post("/api/client/heartbeat", encrypt(request(key, hw, session_token=tok), iv_len, used))
    inner = decrypt(r)
    check(status == 200 and inner["data"]["new_token"] != tok, f"encrypted heartbeat rotates, iv {iv_len}/{used}", inner)
    status, r = post("/api/client/deactivate", encrypt(request(key, hw), iv_len, used))
    check(status == 200 and decrypt(r)["data"]["deactivated"], f"encrypted deactivate, iv {iv_len}/{used}", r)

# ---- envelope refusals (errors are never encrypted)
env = encrypt(request(key, HW))
env["signature"] = ("0" if env["signature"][0] != "0" else "1") + env["signature"][1:]
status, r = post("/api/client/validate", env)
check(status == 403 and r["error_code"] == "SECURITY_VIOLATION" and "encrypted" not in r, "tampered HMAC refused", r)
status, r = post("/api/client/validate", encrypt(request(key, HW), ts=int(time.time() * 1000) - 3_600_000))
check(status == 403 and r["error_code"] == "SECURITY_VIOLATION", "stale timestamp refused", r)
env = encrypt(request(key, HW))
status, r = post("/api/client/validate", env)
check(status == 200, "first use of an envelope", r)
status, r = post("/api/client/validate", env)
check(status == 403 and r["error_code"] == "SECURITY_VIOLATION", "replayed envelope refused", r)
status, r = post("/api/client/validate", encrypt(request(key, HW), secret="sk_live_" + "w" * 40))
check(status == 403, "wrong secret refused", r)

# ---- license and security refusals
status, r = post("/api/client/activate", request(key, HW), headers={"X-Forwarded-For": SETUP["blocked_ip"]})
check(status == 403 and r.get("security_blocked") is True and r["security_details"]["type"] == "ip", "blacklisted IP", r)
status, r = post("/api/client/activate", request(key, SETUP["blocked_hwid"]))
check(status == 403 and r["security_details"] == {"reason": "blacklist_hit", "type": "hwid"}, "blacklisted HWID", r)
status, r = post("/api/client/activate", request(KEYS["single"], "machine-one"))
check(status == 200, "first machine of a one-use license", r)
status, r = post("/api/client/activate", request(KEYS["single"], "machine-two"))
check(status == 403 and r["error_code"] == "HWID_MISMATCH", "HWID mismatch on a locked license", r)
status, r = post("/api/client/activate", request(KEYS["unlocked"], "machine-one"))
status, r = post("/api/client/activate", request(KEYS["unlocked"], "machine-two"))
check(status == 403 and r["error_code"] == "MAX_USES_EXCEEDED", "max_uses exceeded", r)
status, r = post("/api/client/validate", request(KEYS["expired"], HW))
check(status == 403 and r["error_code"] == "LICENSE_EXPIRED", "expired license", r)
status, r = post("/api/client/validate", request(KEYS["suspended"], HW))
check(status == 403 and r["error_code"] == "LICENSE_SUSPENDED", "suspended license", r)
status, r = post("/api/client/validate", request("NOPE-NOPE-NOPE-NOPE", HW))
check(status == 404 and r["error_code"] == "LICENSE_NOT_FOUND" and r["success"] is False, "unknown key", r)

print(f"{CHECKS} checks passed")
