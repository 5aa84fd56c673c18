#!/usr/bin/env python3
"""Writes the data directory that server/tests/upgrade.rs opens: a store made by an earlier
release of licet-server, through its own HTTP API, with a record of every kind in it.

    scripts/upgrade-fixture.py SERVER_BINARY OUT_DIR

SERVER_BINARY is that release's licet-server (build it from a checkout of the release's
commit); OUT_DIR receives `data/` (the data directory, as the server left it after a clean
stop) and `fixture.json` (the credentials and ids the test needs, and what the old release
answered, to compare with). Only the Python standard library is used: this is an independent
client, not our own code.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

binary, out = sys.argv[1], sys.argv[2]
data = os.path.join(out, "data")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)

server = subprocess.Popen(
    [binary, "--data", data, "--listen", "127.0.0.1:0", "--licensecm-registration", "true"],
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
    text=True,
    env={**os.environ, "LICET_LOG": "warn"},
)
admin = None
for line in server.stdout:
    m = re.search(r"store it now\): (\S+)", line)
    if m:
        admin = m.group(1)
    if line.startswith("listening on "):
        url = "http://" + line.split()[-1]
        break
assert admin, "no bootstrap key"


def call(method, path, body=None, auth=admin, headers=None, raw=None):
    h = {"accept": "application/json"}
    if auth:
        h["authorization"] = "Bearer " + auth if not auth.startswith("raw:") else auth[4:]
    data_ = raw
    if body is not None:
        data_ = json.dumps(body).encode()
        h["content-type"] = "application/json"
    h.update(headers or {})
    req = urllib.request.Request(url + path, data_, h, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            text = r.read().decode()
            status = r.status
    except urllib.error.HTTPError as e:
        text, status = e.read().decode(), e.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def ok(method, path, body=None, **kw):
    status, v = call(method, path, body, **kw)
    assert 200 <= status < 300, (method, path, status, v)
    return v


f = {"admin": admin}

# The catalog: a product every family answers for, a policy of two seats, a floating policy,
# prices, a download file.
product = ok("POST", "/v1/products", {
    "code": "acme", "name": "Acme", "numeric_id": 84, "key_prefix": "CP-",
    "key_format": "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX",
})
f["product"] = product
policy = ok("POST", "/v1/policies", {
    "product_id": product["id"], "name": "two seats", "max_machines": 2, "entitlements": ["pro"],
})
f["policy"] = policy
floating = ok("POST", "/v1/policies", {
    "product_id": product["id"], "name": "floating", "floating": True, "max_machines": 5,
    "heartbeat_interval": 600, "heartbeat_ttl": 3600,
})
f["floating_policy"] = floating
f["price"] = ok("POST", f"/v1/products/{product['id']}/prices",
                {"id": 122, "name": "Monthly", "kind": "recurring", "period_days": 30, "amount": 999})
f["download"] = ok("POST", f"/v1/downloads/upload?product_id={product['id']}&name=Acme&file=acme.zip",
                   auth=admin, headers={"content-type": "application/octet-stream"},
                   raw=b"PK-acme-archive")

# Licenses: one with a machine, one suspended, one revoked (so a revocation list exists), one
# floating with a seat, one with a customer and metadata.
seated = ok("POST", "/v1/licenses", {"product_id": product["id"], "policy_id": policy["id"]})
f["seated"] = seated
f["activation"] = ok("POST", "/v1/client/activate", {"key": seated["key"], "fingerprint": "machine-one"}, auth=None)
suspended = ok("POST", "/v1/licenses", {"product_id": product["id"], "policy_id": policy["id"]})
ok("POST", f"/v1/licenses/{suspended['id']}/suspend", {})
f["suspended"] = suspended
revoked = ok("POST", "/v1/licenses", {"product_id": product["id"], "policy_id": policy["id"]})
ok("POST", f"/v1/licenses/{revoked['id']}/revoke", {})
f["revoked"] = revoked
float_license = ok("POST", "/v1/licenses", {"product_id": product["id"], "policy_id": floating["id"]})
ok("POST", "/v1/client/activate", {"key": float_license["key"], "fingerprint": "float-one"}, auth=None)
f["floating"] = float_license
f["customer_license"] = ok("POST", "/v1/licenses", {
    "product_id": product["id"], "policy_id": policy["id"],
    "metadata": {"order": "A-1001"}, "seats": 5,
})

# The families: a FaxStore check, a Verify API slot, a WemX sale (its transaction is spent) and
# validation (a domain).
status, _ = call("POST", "/api/check/84", auth="raw:" + seated["key"])
assert status == 200, status
ok("POST", "/api/v1/licenses/verify",
   {"license_key": f["customer_license"]["key"], "domain": "shop.example", "ip": "203.0.113.7"}, auth=None)
ok("POST", "/api/v1/licenses/private/create",
   {"email": "ann@example.net", "domain": "ann.example.net", "package_id": 84, "price_id": 122})
f["customers"] = ok("GET", "/v1/customers?email=ann@example.net")
f["wemx_validate"] = ok("POST", "/api/v1/licenses/public/validate",
                        {"license": f["customer_license"]["key"], "domain": "wemx.example", "packages": "Acme"}, auth=None)

# API keys: a product-limited one.
f["limited_key"] = ok("POST", "/v1/api-keys", {"name": "acme only", "scope": "admin", "product_id": product["id"]})

# LicenseCM: a user (the first is its admin), a product, a license with a machine, a webhook,
# a blacklist entry.
reg = ok("POST", "/api/auth/register", {"email": "bob@example.com", "password": "bob-password-1"}, auth=None)
bob = reg["data"]["token"]
lcm_product = ok("POST", "/api/products", {"name": "Widget"}, auth=bob)["data"]
lcm_license = ok("POST", "/api/licenses", {"product_id": lcm_product["id"], "max_uses": 1}, auth=bob)["data"]
ok("POST", "/api/client/activate",
   {"license_key": lcm_license["license_key"], "hwid": "hwid-one", "product_id": lcm_product["id"]}, auth=None)
f["licensecm"] = {"email": "bob@example.com", "password": "bob-password-1",
                  "product": lcm_product, "license": lcm_license}
f["licensecm"]["webhook"] = ok("POST", "/api/webhooks",
                               {"url": "https://93.184.216.34/licet-hook", "events": ["license.created"]}, auth=bob)
ok("POST", "/v1/licensecm/admins", {"email": "carol@example.com", "password": "carol-password-1"})
carol = ok("POST", "/api/auth/login", {"email": "carol@example.com", "password": "carol-password-1"}, auth=None)["data"]["token"]
f["licensecm"]["admin"] = {"email": "carol@example.com", "password": "carol-password-1"}
f["licensecm"]["blocked"] = ok("POST", "/api/security/block-ip", {"ip": "198.51.100.9", "reason": "fixture"}, auth=carol)

# What the old release answers, to compare with after the upgrade.
f["keys"] = ok("GET", "/v1/keys", auth=None)
f["revocations"] = ok("GET", "/v1/revocations", auth=None)
f["licenses"] = ok("GET", "/v1/licenses?limit=100")
f["audit"] = ok("GET", "/v1/audit?limit=200")
f["machines"] = ok("GET", f"/v1/licenses/{seated['id']}/machines")

server.send_signal(signal.SIGTERM)
server.wait(timeout=30)
with open(os.path.join(out, "fixture.json"), "w") as fh:
    json.dump(f, fh, indent=1, sort_keys=True)
    fh.write("\n")
print("wrote", out)
