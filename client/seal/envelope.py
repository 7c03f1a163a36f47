"""The sealed envelope: a declaration (or a control decision) signed for the single window.

A JWS JSON flattened serialization ``{"protected", "payload", "signature"}`` whose payload
is the RFC 8785 canonical JSON of the document and whose protected header is JAdES-shaped:
who signed (``kid``, ``x5c``), when (``sigT``), what (``knd``, ``did``, ``ver``) and where
it sits in its device's journal (``dev``, ``seq``, ``prev``).  ``prev`` is the hash of the
same device's previous envelope, so the journal is a hash chain: an envelope cannot be
removed, reordered, back-dated or slipped in later without breaking it.  All journal
fields are listed in ``crit``: a verifier that does not know them must refuse the
envelope rather than ignore them.

This is the contract with the server: the sandbox single window verifies with the same
code.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from client.common.b64 import is_b64u_text
from client.common.i18n import ComptoirError, Message
from client.seal.canonical import canonicalize, parse_canonical, sha256_hex
from client.seal.jws import (
    MAX_TOKEN_BYTES,
    SignatureError,
    allowed_algs,
    b64u_decode,
    check_header,
    decode_protected,
    jwk_from_public_key,
    jwk_thumbprint,
    key_from_jwk,
    raw_verify,
    sign_compact,
    sign_flattened_with_key,
    signing_alg,
    split_flattened,
    verify_compact_header,
)
from client.seal.keys import subject_text

GENESIS = "0" * 64
TYP = "comptoir-envelope+jws"
RECEIPT_TYP = "comptoir-receipt+jws"
KINDS = ("declaration", "decision")
CRIT = ("sigT", "knd", "did", "ver", "dev", "seq", "prev")
UNDERSTOOD_CRIT = frozenset(CRIT)
MAX_ENVELOPE_BYTES = MAX_TOKEN_BYTES
MAX_CHAIN = 8
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)  # sigT may run this far ahead of the verifier

_HEX64 = re.compile(r"[0-9a-f]{64}")
_SIGT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class EnvelopeError(ComptoirError):
    """An envelope is malformed, forged, untrusted or out of its chain (code says which)."""

    exit_code = 2


@dataclass
class VerifiedEnvelope:
    """What a verified envelope says, for humans and for the journal."""

    header: dict[str, Any]
    payload: bytes
    document: dict[str, Any]
    signer_subject: str
    signer_kid: str
    certificate: x509.Certificate
    sig_time: dt.datetime
    hash: str
    trusted: bool = False
    chain: list[x509.Certificate] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.header["knd"])

    @property
    def declaration_id(self) -> str:
        return str(self.header["did"])

    @property
    def version(self) -> int:
        return int(self.header["ver"])

    @property
    def device_id(self) -> str:
        return str(self.header["dev"])

    @property
    def seq(self) -> int:
        return int(self.header["seq"])

    @property
    def prev(self) -> str:
        return str(self.header["prev"])


# --------------------------------------------------------------------------- hashing


def _hash_members(protected: str, payload: str, signature: str) -> str:
    # base64url text needs no JSON escaping, so this is the RFC 8785 form of the three
    # members (keys in order: payload, protected, signature).
    text = f'{{"payload":"{payload}","protected":"{protected}","signature":"{signature}"}}'
    return sha256_hex(text.encode("ascii"))


def envelope_hash(env: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of the three envelope members (the chain link)."""
    try:
        core = {
            "protected": env["protected"],
            "payload": env["payload"],
            "signature": env["signature"],
        }
    except (KeyError, TypeError) as exc:
        raise EnvelopeError("envelope.malformed", part="envelope") from exc
    if all(is_b64u_text(v) for v in core.values()):
        return _hash_members(core["protected"], core["payload"], core["signature"])
    return sha256_hex(canonicalize(core))


def format_sig_time(t: dt.datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ`` (naive datetimes are taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_sig_times: dict[str, dt.datetime] = {}


def parse_sig_time(text: Any) -> dt.datetime:
    if not isinstance(text, str) or not _SIGT.fullmatch(text):
        raise EnvelopeError("envelope.header_invalid", param="sigT")
    got = _sig_times.get(text)  # a device seals many envelopes within one second
    if got is None:
        try:
            got = dt.datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                              int(text[14:16]), int(text[17:19]), tzinfo=dt.UTC)
        except ValueError as exc:
            raise EnvelopeError("envelope.header_invalid", param="sigT") from exc
        if len(_sig_times) > 4096:
            _sig_times.clear()
        _sig_times[text] = got
    return got


# --------------------------------------------------------------------------- sealing


_kid_cache: dict[tuple[Any, ...], str] = {}


def _kid(jwk: dict[str, Any]) -> str:
    ck = (jwk.get("kty"), jwk.get("crv"), jwk.get("x"), jwk.get("y"))
    kid = _kid_cache.get(ck)
    if kid is None:
        kid = jwk_thumbprint(jwk)
        if len(_kid_cache) > 64:
            _kid_cache.clear()
        _kid_cache[ck] = kid
    return kid


def _is_int(v: Any) -> bool:
    return type(v) is int


def seal_envelope(
    payload: bytes,
    private_jwk: dict[str, Any],
    x5c: list[str],
    *,
    kind: str,
    declaration_id: str,
    version: int,
    device_id: str,
    seq: int,
    prev: str,
    sig_time: dt.datetime | None = None,
    original: tuple[str, str] | None = None, superseded_from: int | None = None,
) -> dict[str, str]:
    """Sign ``payload`` (canonical JSON bytes) into a sealed envelope.

    ``original`` (hash, sigT) marks a re-seal at enrolment: the protected header then carries
    the hash and signing time of the pre-enrolment envelope it replaces (``orig``/``origT``),
    as signed evidence of when the declaration was first sealed.
    """
    if kind not in KINDS:
        raise EnvelopeError("envelope.header_invalid", param="knd")
    if not isinstance(declaration_id, str) or not _ID.fullmatch(declaration_id):
        raise EnvelopeError("envelope.header_invalid", param="did")
    if not isinstance(device_id, str) or not _ID.fullmatch(device_id):
        raise EnvelopeError("envelope.header_invalid", param="dev")
    if not _is_int(version) or version < 1:
        raise EnvelopeError("envelope.header_invalid", param="ver")
    if not _is_int(seq) or seq < 1:
        raise EnvelopeError("envelope.header_invalid", param="seq")
    if not isinstance(prev, str) or not _HEX64.fullmatch(prev):
        raise EnvelopeError("envelope.header_invalid", param="prev")
    if not x5c or not all(isinstance(c, str) for c in x5c):
        raise EnvelopeError("envelope.header_invalid", param="x5c")
    try:
        key = key_from_jwk(private_jwk, private=True)
        alg = signing_alg(private_jwk, key)
    except SignatureError as exc:
        raise EnvelopeError(exc.code, **exc.message.params) from exc
    header = {
        "alg": alg,
        "kid": _kid(private_jwk),
        "x5c": list(x5c),
        "sigT": format_sig_time(sig_time or dt.datetime.now(dt.UTC)),
        "typ": TYP,
        "knd": kind,
        "did": declaration_id,
        "ver": version,
        "dev": device_id,
        "seq": seq,
        "prev": prev,
        "crit": list(CRIT),
    }
    if original is not None:
        if not _HEX64.fullmatch(original[0]):
            raise EnvelopeError("envelope.header_invalid", param="orig")
        header["orig"], header["origT"] = original[0], original[1]
    header.update({} if superseded_from is None else {"sup": superseded_from})  # #12, reseal
    return sign_flattened_with_key(payload, header, key, alg)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- certificates

_cert_cache: dict[str, x509.Certificate] = {}
_link_ok: set[tuple[str, str]] = set()


def _cert(b64: Any) -> x509.Certificate:
    if not isinstance(b64, str) or len(b64) > 16 * 1024:
        raise EnvelopeError("envelope.header_invalid", param="x5c")
    cert = _cert_cache.get(b64)
    if cert is None:
        try:
            der = base64.b64decode(b64, validate=True)
            cert = x509.load_der_x509_certificate(der)
        except (binascii.Error, ValueError, x509.InvalidVersion) as exc:
            raise EnvelopeError("envelope.header_invalid", param="x5c") from exc
        if len(_cert_cache) > 256:
            _cert_cache.clear()
        _cert_cache[b64] = cert
    return cert


_leaf_kids: dict[str, str] = {}


def _leaf_kid(b64: str, key: Any) -> str:
    kid = _leaf_kids.get(b64)
    if kid is None:
        kid = jwk_thumbprint(jwk_from_public_key(key))
        if len(_leaf_kids) > 1024:
            _leaf_kids.clear()
        _leaf_kids[b64] = kid
    return kid


def _issued_by(child: x509.Certificate, parent: x509.Certificate, ck: tuple[str, str]) -> bool:
    if ck in _link_ok:
        return True
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    if len(_link_ok) > 4096:
        _link_ok.clear()
    _link_ok.add(ck)
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise EnvelopeError("envelope.header_invalid", param="x5c") from exc


def _der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def _check_chain(
    x5c: list[str], chain: list[x509.Certificate], trust_roots: list[x509.Certificate] | None
) -> bool:
    """Each certificate signed by the next; with trust roots, the chain must end at one."""
    for i in range(len(chain) - 1):
        if not _is_ca(chain[i + 1]) or not _issued_by(chain[i], chain[i + 1], (x5c[i], x5c[i + 1])):
            raise EnvelopeError(
                "envelope.untrusted_chain", reason=Message("envelope.chain_reason.link"), position=i
            )
    if trust_roots is None:
        return False
    last, last_b64 = chain[-1], x5c[-1]
    for root in trust_roots:
        if last == root:
            return True
        if _is_ca(root) and _issued_by(last, root, (last_b64, _der_b64(root))):
            return True
    raise EnvelopeError(
        "envelope.untrusted_chain",
        reason=Message("envelope.chain_reason.root"),
        position=len(chain) - 1,
    )


# --------------------------------------------------------------------------- verification


def _header_fields(header: dict[str, Any]) -> None:
    if header.get("typ") != TYP:
        raise EnvelopeError("envelope.header_invalid", param="typ")
    if header.get("knd") not in KINDS:
        raise EnvelopeError("envelope.header_invalid", param="knd")
    for name in ("did", "dev"):
        v = header.get(name)
        if not isinstance(v, str) or not _ID.fullmatch(v):
            raise EnvelopeError("envelope.header_invalid", param=name)
    for name in ("ver", "seq"):
        v = header.get(name)
        if not _is_int(v) or v < 1:
            raise EnvelopeError("envelope.header_invalid", param=name)
    prev = header.get("prev")
    if not isinstance(prev, str) or not _HEX64.fullmatch(prev):
        raise EnvelopeError("envelope.header_invalid", param="prev")
    crit = header.get("crit")
    if not isinstance(crit, list) or not UNDERSTOOD_CRIT.issubset(
        c for c in crit if isinstance(c, str)
    ):
        raise EnvelopeError("envelope.header_invalid", param="crit")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not 1 <= len(x5c) <= MAX_CHAIN:
        raise EnvelopeError("envelope.header_invalid", param="x5c")
    if not isinstance(header.get("kid"), str):
        raise EnvelopeError("envelope.header_invalid", param="kid")


_SIGNING_TO_ENVELOPE = {
    "signing.bad_signature": "envelope.bad_signature",
    "signing.alg_refused": "envelope.alg_refused",
    "signing.header_too_large": "envelope.too_large",
    "signing.token_too_large": "envelope.too_large",
}


def _from_signing(exc: SignatureError) -> EnvelopeError:
    if exc.code == "signing.crit_unsupported":
        return EnvelopeError("envelope.header_invalid", param="crit")
    code = _SIGNING_TO_ENVELOPE.get(exc.code, "envelope.malformed")
    params = dict(exc.message.params)
    if code == "envelope.malformed":
        params = {"part": params.get("part", "envelope")}
    return EnvelopeError(code, **params)


def _public_key(cert: x509.Certificate) -> Any:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise EnvelopeError("envelope.header_invalid", param="x5c") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise EnvelopeError("envelope.alg_refused", alg=type(key).__name__)
    return key


@dataclass
class _Signer:
    """An ``x5c`` chain worked out once (a device seals thousands of envelopes with one):
    certificates, key, algorithms, kid; the rest only once trusted (a damaged
    certificate may fail to parse there, as it did before caching)."""

    chain: tuple[x509.Certificate, ...]
    key: Any
    algs: frozenset[str]
    kid: str
    windows: tuple[tuple[dt.datetime, dt.datetime], ...] | None = None
    serials: tuple[int, ...] | None = None
    subject: str | None = None

    def details(self) -> tuple[tuple[tuple[dt.datetime, dt.datetime], ...], tuple[int, ...], str]:
        if self.windows is None or self.serials is None or self.subject is None:
            ch = self.chain
            self.windows = tuple((c.not_valid_before_utc, c.not_valid_after_utc) for c in ch)
            self.serials, self.subject = tuple(c.serial_number for c in ch), subject_text(ch[0])
        return self.windows, self.serials, self.subject


_signers: dict[tuple[str, ...], _Signer] = {}
_trusted: dict[tuple[Any, ...], bool] = {}  # (x5c, trust roots) -> trusted


def _signer(x5c_list: list[str]) -> _Signer:
    ck = tuple(x5c_list)
    got = _signers.get(ck)
    if got is not None:
        return got
    chain = tuple(_cert(c) for c in x5c_list)
    key = _public_key(chain[0])
    got = _Signer(chain, key, allowed_algs(key), _leaf_kid(x5c_list[0], key))
    if len(_signers) > 1024:
        _signers.clear()
    _signers[ck] = got
    return got


def _chain_trusted(x5c_list: list[str], signer: _Signer,
                   trust_roots: list[x509.Certificate] | None) -> bool:
    ck = (tuple(x5c_list), tuple(trust_roots) if trust_roots is not None else None)
    got = _trusted.get(ck)
    if got is None:
        got = _check_chain(x5c_list, list(signer.chain), trust_roots)  # raises when untrusted
        if len(_trusted) > 1024:
            _trusted.clear()
        _trusted[ck] = got
    return got


def verify_envelope(
    env: dict[str, Any],
    *,
    trust_roots: list[x509.Certificate] | None = None,
    at: dt.datetime | None = None,
    revoked_serials: set[int] | None = None,
    payload_bytes: bytes | None = None,
) -> VerifiedEnvelope:
    """Verify a sealed envelope completely, or raise EnvelopeError naming the failure.

    Checks, in order: size and structure; the protected header (fields, ``crit``); the
    algorithm pinned to the leaf certificate's key type and ``kid`` equal to its RFC 7638
    thumbprint; the signature; the payload is canonical JSON; the ``x5c`` chain (each
    certificate issued by the next, ending at one of ``trust_roots`` when given — without
    them a self-consistent chain is accepted but ``trusted`` is False); every certificate
    valid at ``sigT``; ``sigT`` not later than ``at`` (default now) plus a clock skew;
    no certificate serial in ``revoked_serials``.

    ``payload_bytes``: the decoded payload when the caller produced the base64url
    ``payload`` from it (the single window receiving ``payload_json``), so it is not
    decoded again.  The signature is always checked over ``payload`` as given.
    """
    try:
        enc_header, enc_payload, enc_sig = split_flattened(env)
        header = decode_protected(enc_header)
    except SignatureError as exc:
        raise _from_signing(exc) from exc
    if sum(map(len, (enc_header, enc_payload, enc_sig))) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError("envelope.too_large", limit=MAX_ENVELOPE_BYTES)
    _header_fields(header)
    x5c_list: list[str] = header["x5c"]
    signer = _signer(x5c_list)
    try:
        alg = check_header(header, signer.algs, UNDERSTOOD_CRIT)
    except SignatureError as exc:
        raise _from_signing(exc) from exc
    if header["kid"] != signer.kid:
        raise EnvelopeError("envelope.header_invalid", param="kid")
    sig_time = parse_sig_time(header.get("sigT"))
    try:
        if payload_bytes is not None and len(enc_payload) == -(-len(payload_bytes) * 4 // 3):
            payload = payload_bytes
        else:
            payload = b64u_decode(enc_payload, "payload")
        signature = b64u_decode(enc_sig, "signature")
        raw_verify(signer.key, alg, (enc_header + "." + enc_payload).encode("ascii"), signature)
    except SignatureError as exc:
        raise _from_signing(exc) from exc
    try:
        document = parse_canonical(payload)
    except ComptoirError as exc:
        if exc.code == "canonical.not_canonical":
            raise EnvelopeError("envelope.not_canonical") from exc
        raise EnvelopeError("envelope.malformed", part="payload") from exc
    if not isinstance(document, dict):
        raise EnvelopeError("envelope.malformed", part="payload")
    trusted = _chain_trusted(x5c_list, signer, trust_roots)
    windows, serials, subject = signer.details()
    for cert, (not_before, not_after) in zip(signer.chain, windows, strict=True):
        if not not_before <= sig_time <= not_after:
            raise EnvelopeError(
                "envelope.expired",
                subject=cert.subject.rfc4514_string(),
                sig_time=format_sig_time(sig_time),
                not_before=format_sig_time(not_before),
                not_after=format_sig_time(not_after),
            )
    now = at or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    if sig_time > now + MAX_CLOCK_SKEW:
        raise EnvelopeError("envelope.sig_time_future", sig_time=format_sig_time(sig_time))
    if revoked_serials:
        for cert, serial in zip(signer.chain, serials, strict=True):
            if serial in revoked_serials:
                raise EnvelopeError(
                    "envelope.revoked",
                    subject=cert.subject.rfc4514_string(),
                    serial=format(serial, "x"),
                )
    return VerifiedEnvelope(
        header=header,
        payload=payload,
        document=document,
        signer_subject=subject,
        signer_kid=signer.kid,
        certificate=signer.chain[0],
        sig_time=sig_time,
        hash=_hash_members(enc_header, enc_payload, enc_sig),
        trusted=trusted,
        chain=list(signer.chain),
    )


def check_chain_link(prev_hash: str | None, prev_seq: int | None, header: dict[str, Any]) -> None:
    """The device journal link: ``seq`` follows ``prev_seq`` and ``prev`` is ``prev_hash``."""
    expected_seq = (prev_seq or 0) + 1
    expected_prev = prev_hash or GENESIS
    seq = header.get("seq")
    if seq != expected_seq or not _is_int(seq):
        raise EnvelopeError("envelope.chain_seq", expected=expected_seq, found=str(seq))
    if header.get("prev") != expected_prev:
        raise EnvelopeError("envelope.chain_prev", seq=expected_seq, expected=expected_prev,
                            found=str(header.get("prev")))


def describe(verified: VerifiedEnvelope) -> Message:
    """Who signed what and when, in words (``comptoir verify``)."""
    return Message("envelope.described", {
        "subject": verified.signer_subject, "kid": verified.signer_kid,
        "sig_time": format_sig_time(verified.sig_time),
        "kind": Message(f"envelope.kind.{verified.kind}"),
        "declaration_id": verified.declaration_id, "version": verified.version,
        "device": verified.device_id, "seq": verified.seq})


# --------------------------------------------------------------------------- receipts


def sign_receipt(receipt: dict[str, Any], private_jwk: dict[str, Any]) -> str:
    """The single window's signed receipt: a compact JWS over the canonical receipt."""
    try:
        return sign_compact(
            canonicalize(receipt), private_jwk, {"typ": RECEIPT_TYP, "kid": _kid(private_jwk)}
        )
    except SignatureError as exc:
        raise EnvelopeError("envelope.receipt_invalid", detail=exc.message) from exc


def verify_receipt(token: str, key: dict[str, Any] | x509.Certificate) -> dict[str, Any]:
    """The receipt's content after verifying it with the server's key or certificate: a
    receipt of the log (:mod:`client.seal.translog`) through its head's signature and its
    inclusion path, an older one signed on its own through its signature."""
    from client.seal import translog

    if translog.is_merkle_receipt(token):
        try:
            return translog.verify_receipt(token, key).claims
        except translog.LogError as exc:
            raise EnvelopeError("envelope.receipt_invalid", detail=exc.message) from exc
    try:
        jwk = jwk_from_public_key(key.public_key()) if isinstance(key, x509.Certificate) else key
        header, payload = verify_compact_header(token, jwk)
    except SignatureError as exc:
        raise EnvelopeError("envelope.receipt_invalid", detail=exc.message) from exc
    if header.get("typ") != RECEIPT_TYP:
        raise EnvelopeError("envelope.receipt_invalid", detail=Message("envelope.receipt_typ"))
    try:
        receipt = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(
            "envelope.receipt_invalid", detail=Message("envelope.receipt_payload")
        ) from exc
    if not isinstance(receipt, dict):
        raise EnvelopeError("envelope.receipt_invalid", detail=Message("envelope.receipt_payload"))
    return receipt
