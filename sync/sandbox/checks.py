"""The stateless per-envelope checks: signature, certificate chain, business rules.

They need no database, so they run before the intake lock is taken (several worker
processes check in parallel) and, for a large batch, can be split across a pool of
processes.  What a check leaves is small and plain (no certificates, no ``x5c``): the
header fields the intake reads, a slim document, the rule errors, the hash.

Per envelope the cost is kept near the signature: the certificate chain is verified
once per chain (client.seal.envelope caches it), a payload that arrived as
``payload_json`` is never decoded again, and only the rules that can reject run.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from client.common.b64 import b64u_encode
from client.common.i18n import ComptoirError
from client.declaration.validation import validate
from client.seal.envelope import EnvelopeError, envelope_hash, verify_envelope
from client.seal.jws import P256_ORDER, b64u_decode

POOL_MIN_BATCH = 64  # smaller batches are checked inline: shipping them costs more

_HEADER_KEEP = ("knd", "did", "ver", "dev", "seq", "prev", "sigT", "orig", "sup")


@dataclass
class Checked:
    """A verified envelope: what the intake needs of it."""

    header: dict[str, Any]  # knd, did, ver, dev, seq, prev, sigT; orig, sup (a re-seal)
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checked:
        return cls(**data)


@dataclass
class Refused:
    """An envelope that failed verification."""

    code: str
    detail: str
    hash: str


@dataclass
class Prepared:
    """An envelope as received: its three members as signed, the payload's bytes when
    they travelled as ``payload_json`` (so they are not decoded again), its hash."""

    envelope: dict[str, str]
    payload_bytes: bytes | None
    hash: str

    @property
    def raw(self) -> str:
        """The flattened JWS as stored (base64url members need no JSON escaping)."""
        e = self.envelope
        return (f'{{"protected":"{e["protected"]}","payload":"{e["payload"]}",'
                f'"signature":"{e["signature"]}"}}')


def prepare(wire: dict[str, Any]) -> Prepared:
    """From the wire form (``payload`` or ``payload_json``) to the envelope as signed."""
    payload_bytes: bytes | None = None
    payload = wire.get("payload")
    if payload is None:
        payload_bytes = str(wire.get("payload_json", "")).encode("utf-8")
        payload = b64u_encode(payload_bytes)
    env = {"protected": wire["protected"], "payload": payload, "signature": wire["signature"]}
    try:
        h = envelope_hash(env)
    except (ComptoirError, ValueError, TypeError):
        h = ""
    return Prepared(env, payload_bytes, h)


def _attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None


@dataclass(frozen=True)
class _Signer:
    """What the intake reads of a leaf certificate (#12's bindings)."""

    cn: str | None  # trader id
    ou: str | None  # role
    device: str | None  # serialNumber attribute: the device id
    serial: str  # lower-case hex
    not_before: float
    not_after: float


_signers: dict[str, _Signer] = {}


def _signer(leaf_b64: str, cert: x509.Certificate) -> _Signer:
    """The leaf's names and validity, read once per certificate (keyed by its base64 DER,
    from which ``cert`` was parsed): the same chain comes with every envelope of a device."""
    got = _signers.get(leaf_b64)
    if got is None:
        got = _Signer(_attr(cert, NameOID.COMMON_NAME),
                      _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME),
                      _attr(cert, NameOID.SERIAL_NUMBER), format(cert.serial_number, "x"),
                      cert.not_valid_before_utc.timestamp(),
                      cert.not_valid_after_utc.timestamp())
        if len(_signers) > 4096:
            _signers.clear()
        _signers[leaf_b64] = got
    return got


_P256_HALF_N = P256_ORDER // 2


def _high_s(env: dict[str, Any], header: dict[str, Any]) -> bool:
    """One content, one signature: ES256 S must be in the lower half (as the client signs)."""
    if header.get("alg") != "ES256":
        return False
    sig = b64u_decode(str(env.get("signature", "")), "signature")
    return len(sig) == 64 and int.from_bytes(sig[32:], "big") > _P256_HALF_N


def rule_errors(document: dict[str, Any]) -> list[dict[str, str]]:
    """The client's validation rules that reject (warnings are never computed)."""
    return [{"code": f.code, "pointer": f.path, "detail": f.message.render("en")}
            for f in validate(document, errors_only=True)]


def check_one(env: dict[str, Any], ca: x509.Certificate, revoked: set[int],
              with_rules: bool = True, payload_bytes: bytes | None = None,
              env_hash: str | None = None) -> Checked | Refused:
    try:
        v = verify_envelope(env, trust_roots=[ca], revoked_serials=revoked,
                            payload_bytes=payload_bytes)
    except (EnvelopeError, ComptoirError, ValueError, TypeError, KeyError) as exc:
        h = env_hash
        if h is None:
            try:
                h = envelope_hash(env)
            except (ComptoirError, ValueError, TypeError):
                h = ""
        detail = exc.render("en") if isinstance(exc, ComptoirError) else str(exc)[:200]
        return Refused(getattr(exc, "code", "SIGNATURE_INVALID"), detail, h)
    document = v.document if isinstance(v.document, dict) else {}
    errors = rule_errors(document) if with_rules and v.header.get("knd") == "declaration" else []
    who = _signer(v.header["x5c"][0], v.certificate)
    return Checked({k: v.header.get(k) for k in _HEADER_KEEP}, _slim(document), v.hash, who.cn,
                   errors, signer_device=who.device, signer_serial=who.serial,
                   signer_role=who.ou, signer_not_before=who.not_before,
                   signer_not_after=who.not_after, high_s=_high_s(env, v.header))


def check_prepared(p: Prepared, ca: x509.Certificate, revoked: set[int]) -> Checked | Refused:
    return check_one(p.envelope, ca, revoked, payload_bytes=p.payload_bytes, env_hash=p.hash)


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


def _check_chunk(items: list[tuple[dict[str, str], bytes | None, str]], ca_pem: bytes,
                 revoked: set[int]) -> list[Checked | Refused]:
    ca = _ca_cache.get(ca_pem)
    if ca is None:
        ca = _ca_cache.setdefault(ca_pem, x509.load_pem_x509_certificate(ca_pem))
    return [check_one(e, ca, revoked, payload_bytes=b, env_hash=h) for e, b, h in items]


def _warm() -> int:
    return os.getpid()


def watch_parent(parent: int) -> None:
    """Exit when the process ``parent`` is gone (even after SIGKILL): the check pool's
    initializer, and the server's workers' fallback where the kernel cannot do it."""
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class Checker:
    """Checks batches inline, or across a lazily started pool of processes (one round
    trip per batch: the envelopes out, slim results back)."""

    def __init__(self, ca: x509.Certificate, ca_pem: bytes, processes: int = 0) -> None:
        self.ca, self.ca_pem, self.processes = ca, ca_pem, processes
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(self.processes,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=watch_parent,
                                             initargs=(os.getpid(),))
            for f in [self._pool.submit(_warm) for _ in range(self.processes)]:
                f.result()
        return self._pool

    def start(self) -> None:
        """Start the pool now (a server about to take load)."""
        if self.processes > 0:
            self._get_pool()

    def check(self, items: list[Prepared], revoked: set[int]) -> list[Checked | Refused]:
        if self.processes <= 0 or len(items) < POOL_MIN_BATCH:
            return [check_prepared(p, self.ca, revoked) for p in items]
        pool = self._get_pool()
        parts = self.processes + 1  # this process checks a share too
        size = -(-len(items) // parts)
        wire = [(p.envelope, p.payload_bytes, p.hash) for p in items]
        futures = [pool.submit(_check_chunk, wire[i:i + size], self.ca_pem, revoked)
                   for i in range(size, len(items), size)]
        out = [check_prepared(p, self.ca, revoked) for p in items[:size]]
        for f in futures:
            out.extend(f.result())
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
