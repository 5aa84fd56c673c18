"""Shared fixtures: the golden vectors, and a real licet-server on a loopback port."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "test-vectors" / "vectors"


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


class Server:
    """A licet-server over a sled store in a temporary directory, and its admin API."""

    def __init__(self, url: str, admin_key: str, public_pem: str) -> None:
        self.url = url
        self.admin_key = admin_key
        self.public_pem = public_pem

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={
                "authorization": f"Bearer {self.admin_key}",
                "content-type": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def license(self, code: str, policy: dict) -> tuple[str, str]:
        """A product with one policy and a license of it: the license's id and key."""
        product = self.call("POST", "/v1/products", {"code": code, "name": code})
        pol = self.call(
            "POST",
            "/v1/policies",
            {"product_id": product["id"], "name": "std", **policy},
        )
        lic = self.call(
            "POST",
            "/v1/licenses",
            {"product_id": product["id"], "policy_id": pol["id"]},
        )
        return lic["id"], lic["key"]

    def machines(self, license_id: str) -> int:
        return len(self.call("GET", f"/v1/licenses/{license_id}/machines")["items"])


def server_binary() -> Path:
    """The licet-server this run tests: $LICET_SERVER, or the workspace's debug build."""
    given = os.environ.get("LICET_SERVER")
    path = Path(given) if given else ROOT / "target" / "debug" / "licet-server"
    if not path.exists():
        pytest.fail(
            f"no licet-server at {path}: build it (cargo build -p licet-server) "
            "or set LICET_SERVER"
        )
    return path


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "server.out"
        with out.open("w") as sink:
            proc = subprocess.Popen(
                [
                    str(server_binary()),
                    "--data",
                    str(Path(tmp) / "data"),
                    "--listen",
                    "127.0.0.1:0",
                ],
                stdout=sink,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "LICET_LOG": "warn"},
            )
        try:
            text = ""
            for _ in range(600):
                text = out.read_text()
                if re.search(r"^listening on ", text, re.M):
                    break
                if proc.poll() is not None:
                    pytest.fail(f"licet-server stopped: {text}")
                time.sleep(0.1)
            addr = re.search(r"^listening on (\S+)", text, re.M)
            admin = re.search(r"lk_[A-Za-z0-9_]+", text)
            assert addr and admin, text
            url = f"http://{addr.group(1)}"
            with urllib.request.urlopen(url + "/v1/keys", timeout=30) as resp:
                pem = json.loads(resp.read())["keys"][0]["public_key_pem"]
            yield Server(url, admin.group(0), pem)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


# --- the golden vectors' tally -------------------------------------------------------------

_vector_outcomes: dict[str, bool] = {}


def pytest_runtest_logreport(report):
    if report.when == "call" and "test_golden_case[" in report.nodeid:
        _vector_outcomes[report.nodeid] = report.passed
    elif report.when != "call" and "test_golden_case[" in report.nodeid and report.failed:
        _vector_outcomes[report.nodeid] = False


def pytest_terminal_summary(terminalreporter):
    if _vector_outcomes:
        passed = sum(_vector_outcomes.values())
        failed = len(_vector_outcomes) - passed
        terminalreporter.write_line(f"golden vectors: {passed} passed, {failed} failed")
