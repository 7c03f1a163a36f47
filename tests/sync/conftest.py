"""Fixtures for sync tests: a real sandbox over HTTPS on loopback, enrolled traders.

``sandbox`` runs in a thread of the test process (shared by the module, seed 0, auto
lanes); ``green_sandbox`` forces the green lane; ``sandbox_process`` runs
``comptoir sandbox serve`` in a real subprocess.  ``Trader`` enrols with a real CSR
and seals real envelopes (client.seal.envelope.seal_envelope) along its device chain.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from client.declaration.samples import sample_declaration
from client.seal.canonical import canonicalize
from client.seal.envelope import GENESIS, envelope_hash, seal_envelope
from client.seal.jws import jwk_from_private_key
from sync.sandbox.server import SandboxHandle, start_in_thread

REPO = Path(__file__).resolve().parents[2]


class Trader:
    """A trader's device: key, enrolment, token and journal chain, for tests."""

    def __init__(self, sandbox: SandboxHandle, trader_id: str | None = None, *,
                 role: str = "trader", enrol: bool = True) -> None:
        self.sandbox = sandbox
        self.trader_id = trader_id or f"GB{random.randrange(10**11, 10**12)}000"
        self.device_id = f"dev-{uuid.uuid4().hex[:12]}"
        self.role = role
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = jwk_from_private_key(self.key)
        self.seq = 0
        self.prev = GENESIS
        self.token: str | None = None
        self.x5c: list[str] = []
        self.enrolment: dict[str, Any] = {}
        self.rng = random.Random(self.trader_id)
        if enrol:
            self.enrol()

    def csr_pem(self) -> str:
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")]))
               .sign(self.key, hashes.SHA256()))
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    def enrol_request(self, code: str | None = None) -> dict[str, Any]:
        code = code or self.sandbox.new_enrolment_code(self.trader_id, self.role)
        return {"trader_id": self.trader_id, "code": code, "csr_pem": self.csr_pem(),
                "device_id": self.device_id, "role": self.role}

    def enrol(self) -> None:
        r = requests.post(f"{self.sandbox.url}/v1/enrol", json=self.enrol_request(),
                          verify=str(self.sandbox.ca_pem_path), timeout=10)
        assert r.status_code == 200, r.text
        self.enrolment = r.json()
        self.token = self.enrolment["token"]
        self.x5c = [base64.b64encode(x509.load_pem_x509_certificate(p.encode()).public_bytes(
            serialization.Encoding.DER)).decode() for p in self.enrolment["certificate_chain_pem"]]

    def declaration(self, **overrides: Any) -> dict[str, Any]:
        doc = sample_declaration(self.rng, n_items=2, declarant_id=self.trader_id).to_json_dict()
        doc.update(overrides)
        return doc

    def seal(self, doc: dict[str, Any] | None = None, *, seq: int | None = None,
             prev: str | None = None, advance: bool = True, kind: str = "declaration",
             device_id: str | None = None, sig_time: Any = None) -> dict[str, str]:
        """Seal the next envelope of this device (or at an explicit position)."""
        doc = doc or self.declaration()
        env = seal_envelope(canonicalize(doc), self.jwk, self.x5c, kind=kind,
                            sig_time=sig_time,
                            declaration_id=doc["id"], version=doc.get("version", 1),
                            device_id=device_id or self.device_id,
                            seq=self.seq + 1 if seq is None else seq,
                            prev=self.prev if prev is None else prev)
        if advance:
            self.seq = self.seq + 1 if seq is None else seq
            self.prev = envelope_hash(env)
        return env

    def headers(self, key: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"}
        h["Idempotency-Key"] = key or uuid.uuid4().hex
        return h

    def post(self, envelopes: list[dict[str, str]], key: str | None = None,
             **kw: Any) -> requests.Response:
        return requests.post(f"{self.sandbox.url}/v1/envelopes", json={"envelopes": envelopes},
                             headers=self.headers(key), verify=str(self.sandbox.ca_pem_path),
                             timeout=30, **kw)

    def feed(self, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        r = requests.get(f"{self.sandbox.url}/v1/notifications",
                         params={"after": after, "limit": limit},
                         headers={"Authorization": f"Bearer {self.token}"},
                         verify=str(self.sandbox.ca_pem_path), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


def batch_receipts(body: dict[str, Any], cert: Any) -> list[str | None]:
    """The standalone receipts a client builds from a raw batch answer (None where a
    result has none), after checking them against its signed tree head."""
    from client.seal import translog as tl

    log = body.get("log")
    want = [r["status"] in ("accepted", "duplicate") and r.get("leaf") is not None
            for r in body["results"]]
    if not any(want):
        return [None] * len(want)
    head = tl.verify_tree_head(log["tree_head"], cert)
    leaves = [tl.BatchLeaf(r["leaf"], r["log_index"],
                           tl.decode_hashes(r["path"]) if r.get("path") is not None else None)
              for r, w in zip(body["results"], want, strict=True) if w]
    texts = iter(tl.batch_receipts(head, log["first"], log["count"],
                                   tl.decode_hashes(log["range"]), leaves))
    return [next(texts) if w else None for w in want]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """A sandbox (auto lanes, seed 0) over HTTPS on loopback, in a thread."""
    handle = start_in_thread(tmp_path_factory.mktemp("sandbox"), seed=0, lane="auto")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def green_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """Every declaration on the green lane, released at once."""
    handle = start_in_thread(tmp_path_factory.mktemp("green"), seed=0, lane="green")
    yield handle
    handle.stop()


@pytest.fixture
def ca_pem_path(sandbox: SandboxHandle) -> Path:
    return sandbox.ca_pem_path


@pytest.fixture
def enrolment_code(sandbox: SandboxHandle) -> tuple[str, str]:
    """(trader id, one-time code) for a fresh trader on the module's sandbox."""
    trader = f"GB{random.randrange(10**11, 10**12)}000"
    return trader, sandbox.new_enrolment_code(trader)


@pytest.fixture
def trader(sandbox: SandboxHandle) -> Trader:
    return Trader(sandbox)


def comptoir(*args: str, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen:
    """``comptoir ...`` as a real subprocess (python -m client.cli)."""
    full_env = dict(os.environ, COMPTOIR_LANG="en", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "client.cli", *args], env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``comptoir sandbox serve --port 0 --lane green`` in a subprocess; its server.json."""
    home = tmp_path / "sbx"
    proc = comptoir("sandbox", "serve", "--home", str(home), "--port", "0", "--lane", "green")
    info_path = home / "server.json"
    deadline = time.monotonic() + 30
    while not info_path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"sandbox did not start: {err}")
        time.sleep(0.05)
    info = json.loads(info_path.read_text())
    info["home"] = home
    info["proc"] = proc
    yield info
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def Traders() -> type[Trader]:  # noqa: N802 - a class handed to tests
    """The Trader helper class (tests build as many traders as they need)."""
    return Trader
