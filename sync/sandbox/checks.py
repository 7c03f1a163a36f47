"""The stateless per-envelope checks: signature, certificate chain, business rules.

They need no database, so a large batch is split across worker processes (the other
cores) while the store work stays in the server process.  Results are plain picklable
values.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from client.common.i18n import ComptoirError
from client.declaration.validation import validate
from client.seal.envelope import EnvelopeError, envelope_hash, sign_receipt, verify_envelope
from client.seal.jws import P256_ORDER, b64u_decode

POOL_MIN_BATCH = 64  # smaller batches are checked inline: shipping them costs more


@dataclass
class Checked:
    """A verified envelope: what the intake needs of it."""

    header: dict[str, Any]
    document: dict[str, Any]  # id, version, type (DE 1/1), lrn (DE 2/5), declarant.id
    hash: str
    signer_cn: str | None
    rule_errors: list[dict[str, str]] = field(default_factory=list)
    signer_device: str | None = None  # the leaf's serialNumber attribute (device id)
    signer_serial: str | None = None  # the leaf's serial, lower-case hex
    signer_role: str | None = None  # the leaf's OU
    signer_not_before: float = 0.0
    signer_not_after: float = 0.0
    high_s: bool = False  # an ES256 signature whose S is above n/2 (malleable twin)


@dataclass
class Refused:
    """An envelope that failed verification."""

    code: str
    detail: str
    hash: str


def _cn(cert: x509.Certificate, oid: x509.ObjectIdentifier = NameOID.COMMON_NAME) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None


_P256_HALF_N = P256_ORDER // 2


def _high_s(env: dict[str, Any], header: dict[str, Any]) -> bool:
    """One content, one signature: ES256 S must be in the lower half (as the client signs)."""
    if header.get("alg") != "ES256":
        return False
    sig = b64u_decode(str(env.get("signature", "")), "signature")
    return len(sig) == 64 and int.from_bytes(sig[32:], "big") > _P256_HALF_N


def rule_errors(document: dict[str, Any]) -> list[dict[str, str]]:
    """The client's validation rules, errors only (warnings do not reject)."""
    return [{"code": f.code, "pointer": f.path, "detail": f.message.render("en")}
            for f in validate(document) if f.severity == "error"]


def check_one(env: dict[str, Any], ca: x509.Certificate, revoked: set[int],
              with_rules: bool = True) -> Checked | Refused:
    try:
        v = verify_envelope(env, trust_roots=[ca], revoked_serials=revoked)
    except (EnvelopeError, ComptoirError, ValueError, TypeError, KeyError) as exc:
        try:
            h = envelope_hash(env)
        except (ComptoirError, ValueError, TypeError):
            h = ""
        detail = exc.render("en") if isinstance(exc, ComptoirError) else str(exc)[:200]
        return Refused(getattr(exc, "code", "SIGNATURE_INVALID"), detail, h)
    document = v.document if isinstance(v.document, dict) else {}
    errors = rule_errors(document) if with_rules and v.header.get("knd") == "declaration" else []
    cert = v.certificate
    return Checked(v.header, _slim(document), v.hash, _cn(cert), errors,
                   signer_device=_cn(cert, NameOID.SERIAL_NUMBER),
                   signer_serial=format(cert.serial_number, "x"),
                   signer_role=_cn(cert, NameOID.ORGANIZATIONAL_UNIT_NAME),
                   signer_not_before=cert.not_valid_before_utc.timestamp(),
                   signer_not_after=cert.not_valid_after_utc.timestamp(),
                   high_s=_high_s(env, v.header))


def _slim(document: dict[str, Any]) -> dict[str, Any]:
    """The few fields the intake reads after the checks (cheap to ship between processes)."""
    out = {k: document[k] for k in ("id", "version", "type", "lrn", "function", "mrn",
                                    "amends", "transit_type", "additional_type")
           if k in document}
    items = document.get("goods_items")
    if isinstance(items, list) and items and isinstance(items[0], dict) \
            and isinstance(items[0].get("procedure_code"), str):
        out["procedure_code"] = items[0]["procedure_code"][:4]  # DE 1/10: the MRN's letter
    declarant = document.get("declarant")
    if isinstance(declarant, dict) and "id" in declarant:
        out["declarant"] = {"id": declarant["id"]}
    rep = document.get("representative")  # DE 3/19-3/21: who may lodge for the declarant
    if isinstance(rep, dict):
        out["representative"] = {k: rep[k] for k in ("id", "status") if k in rep}
    return out


_ca_cache: dict[bytes, x509.Certificate] = {}


def _check_chunk(envs: list[dict[str, Any]], ca_pem: bytes,
                 revoked: set[int]) -> list[Checked | Refused]:
    ca = _ca_cache.get(ca_pem)
    if ca is None:
        ca = _ca_cache.setdefault(ca_pem, x509.load_pem_x509_certificate(ca_pem))
    return [check_one(e, ca, revoked) for e in envs]


def _sign_chunk(claims: list[dict[str, Any]], jwk: dict[str, Any]) -> list[str]:
    return [sign_receipt(c, jwk) for c in claims]


def _warm() -> int:
    return os.getpid()


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit when the server process is gone (even after SIGKILL)."""
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class Checker:
    """Checks batches inline, or across a lazily started pool of worker processes."""

    def __init__(self, ca: x509.Certificate, ca_pem: bytes, workers: int = 0) -> None:
        self.ca, self.ca_pem, self.workers = ca, ca_pem, workers
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_watch_parent,
                                             initargs=(os.getpid(),))
            for f in [self._pool.submit(_warm) for _ in range(self.workers)]:
                f.result()
        return self._pool

    def start(self) -> None:
        """Start the workers now (a server about to take load)."""
        if self.workers > 0:
            self._get_pool()

    def check(self, envs: list[dict[str, Any]], revoked: set[int]) -> list[Checked | Refused]:
        if self.workers <= 0 or len(envs) < POOL_MIN_BATCH:
            return [check_one(e, self.ca, revoked) for e in envs]
        pool = self._get_pool()
        parts = self.workers * 2
        size = -(-len(envs) // parts)
        futures = [pool.submit(_check_chunk, envs[i:i + size], self.ca_pem, revoked)
                   for i in range(0, len(envs), size)]
        out: list[Checked | Refused] = []
        for f in futures:
            out.extend(f.result())
        return out

    def sign_receipts(self, claims: list[dict[str, Any]], jwk: dict[str, Any]) -> list[str]:
        """Signed receipts for these claims, in order."""
        if self.workers <= 0 or len(claims) < POOL_MIN_BATCH:
            return _sign_chunk(claims, jwk)
        pool = self._get_pool()
        size = -(-len(claims) // self.workers)
        futures = [pool.submit(_sign_chunk, claims[i:i + size], jwk)
                   for i in range(0, len(claims), size)]
        out: list[str] = []
        for f in futures:
            out.extend(f.result())
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
