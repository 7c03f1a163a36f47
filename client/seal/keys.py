"""The declarant's signing identity: keys, certificates, PKCS#12 import, CSR.

Public metadata (kid, algorithm, certificate chain, whether enrolled) lives in
``home/keys.json``; private keys never do: they are PKCS#8 PEM inside the profile's
:class:`client.seal.secrets.SecretStore` under ``signing-key/<kid>``.  The kid is the RFC 7638
thumbprint of the public key, so it names the key itself, not a file.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from client.common.i18n import ComptoirError
from client.seal.jws import (
    ED25519,
    ES256,
    jwk_from_private_key,
    jwk_from_public_key,
    jwk_thumbprint,
)
from client.seal.secrets import SecretStore, atomic_write

ALGS = (ES256, ED25519)
SELF_SIGNED_DAYS = 730
MAX_P12_BYTES = 1024 * 1024


@dataclass
class KeyInfo:
    """Public facts about one signing key of this profile."""

    kid: str
    alg: str
    created_at: str
    subject: str
    certificate_chain_pem: list[str] = field(default_factory=list)
    source: str = "generated"  # "generated" | "pkcs12"
    enrolled: bool = False
    active: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyInfo:
        return cls(
            kid=str(data["kid"]),
            alg=str(data["alg"]),
            created_at=str(data["created_at"]),
            subject=str(data.get("subject", "")),
            certificate_chain_pem=[str(p) for p in data.get("certificate_chain_pem", [])],
            source=str(data.get("source", "generated")),
            enrolled=bool(data.get("enrolled", False)),
            active=bool(data.get("active", False)),
        )


def secret_name(kid: str) -> str:
    return f"signing-key/{kid}"


# --------------------------------------------------------------------------- keys.json


def _path(home: Path) -> Path:
    return Path(home) / "keys.json"


def list_keys(home: Path) -> list[KeyInfo]:
    """Every key of the profile, in creation order."""
    path = _path(home)
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [KeyInfo.from_json(k) for k in data["keys"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ComptoirError("keys.file_corrupt", 2, path=str(path)) from exc


def _save(home: Path, keys: list[KeyInfo]) -> None:
    doc = {"version": 1, "keys": [k.to_json() for k in keys]}
    atomic_write(_path(home), json.dumps(doc, indent=1).encode("utf-8"), 0o600)


def active_key(home: Path) -> KeyInfo | None:
    """The key that seals new declarations, or None."""
    for k in list_keys(home):
        if k.active:
            return k
    return None


def require_active_key(home: Path) -> KeyInfo:
    """The active key; ComptoirError ``keys.none`` (exit 2) when there is none."""
    info = active_key(home)
    if info is None:
        raise ComptoirError("keys.none", 2)
    return info


def get_key(home: Path, kid: str | None) -> KeyInfo:
    """The key ``kid`` (a unique prefix is enough), or the active one when None."""
    if kid is None:
        return require_active_key(home)
    matches = [k for k in list_keys(home) if k.kid.startswith(kid)]
    if len(matches) != 1:
        raise ComptoirError("keys.not_found", 2, kid=kid)
    return matches[0]


def _add(home: Path, info: KeyInfo, make_active: bool = True) -> KeyInfo:
    keys = [k for k in list_keys(home) if k.kid != info.kid]
    if make_active:
        for k in keys:
            k.active = False
        info.active = True
    keys.append(info)
    _save(home, keys)
    return info


def _replace(home: Path, info: KeyInfo) -> KeyInfo:
    keys = [info if k.kid == info.kid else k for k in list_keys(home)]
    _save(home, keys)
    return info


# --------------------------------------------------------------------------- helpers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _alg_of(key: Any) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return ES256
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return ED25519
    raise ComptoirError("keys.unsupported_key_type", 2, kind=type(key).__name__)


def kid_of(public_key: Any) -> str:
    """RFC 7638 thumbprint of a public key object."""
    return jwk_thumbprint(jwk_from_public_key(public_key))


def _sign_algo(key: Any) -> hashes.HashAlgorithm | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _subject_name(subject: str, trader_id: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, subject or "Comptoir declarant")]
    if trader_id:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, trader_id))
    return x509.Name(attrs)


def subject_text(cert: x509.Certificate) -> str:
    """The certificate subject's common name (else the full RFC 4514 form)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        return str(cns[0].value)
    return cert.subject.rfc4514_string()


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _pkcs8(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def self_signed_certificate(
    key: Any, subject: str, days: int = SELF_SIGNED_DAYS
) -> x509.Certificate:
    """A self-signed certificate for signing before enrolment (or for the sandbox)."""
    name = _subject_name(subject)
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, _sign_algo(key))
    )


# --------------------------------------------------------------------------- create / import


def create_key(
    home: Path, secrets: SecretStore, alg: str = ES256, subject: str = "Comptoir declarant"
) -> KeyInfo:
    """Generate a key pair and a self-signed certificate; it becomes the active key."""
    if alg not in ALGS:
        raise ComptoirError("keys.unsupported_alg", 2, alg=alg, allowed=", ".join(ALGS))
    key: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if alg == ES256
        else ed25519.Ed25519PrivateKey.generate()
    )
    cert = self_signed_certificate(key, subject)
    return _keep(home, secrets, key, alg, subject, [cert], source="generated")


def _keep(home: Path, secrets: SecretStore, key: Any, alg: str, subject: str,
          chain: list[x509.Certificate], *, source: str, enrolled: bool = False) -> KeyInfo:
    """The private key into the secret store, its record (certificate chain) into keys.json."""
    kid = kid_of(key.public_key())
    secrets.set(secret_name(kid), _pkcs8(key))
    info = KeyInfo(kid=kid, alg=alg, created_at=_iso(_now()), subject=subject,
                   certificate_chain_pem=[_pem(c) for c in chain], source=source,
                   enrolled=enrolled)
    _private_cache[kid] = key
    return _add(home, info)


def _order_chain(leaf: x509.Certificate, others: list[x509.Certificate]) -> list[x509.Certificate]:
    chain = [leaf]
    pool = [c for c in others if c != leaf]
    while pool:
        nxt = next((c for c in pool if c.subject == chain[-1].issuer), None)
        if nxt is None or chain[-1].issuer == chain[-1].subject:
            break
        chain.append(nxt)
        pool.remove(nxt)
    return chain


def import_pkcs12(home: Path, secrets: SecretStore, path: Path, password: str | None) -> KeyInfo:
    """Import a key and its certificate chain from a PKCS#12 file (e.g. a national CA's)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ComptoirError(
            "error.file_unreadable", 2, path=str(path), reason=exc.strerror
        ) from exc
    if len(data) > MAX_P12_BYTES:
        raise ComptoirError(
            "error.input_too_large", 2, path=str(path), size=len(data), limit=MAX_P12_BYTES
        )
    try:
        p12 = pkcs12.load_pkcs12(data, password.encode("utf-8") if password else None)
    except (ValueError, TypeError) as exc:
        raise ComptoirError("keys.pkcs12_unreadable", 2, path=str(path)) from exc
    key = p12.key
    if key is None or p12.cert is None:
        raise ComptoirError("keys.pkcs12_incomplete", 2, path=str(path))
    alg = _alg_of(key)
    leaf = p12.cert.certificate
    if kid_of(leaf.public_key()) != kid_of(key.public_key()):
        raise ComptoirError("keys.certificate_mismatch", 2)
    chain = _order_chain(leaf, [c.certificate for c in p12.additional_certs])
    return _keep(home, secrets, key, alg, subject_text(leaf), chain, source="pkcs12",
                 enrolled=len(chain) > 1 or leaf.issuer != leaf.subject)


# --------------------------------------------------------------------------- use


_private_cache: dict[str, Any] = {}
_jwk_cache: dict[str, dict[str, str]] = {}
_x5c_cache: dict[tuple[str, ...], list[str]] = {}


def private_key(secrets: SecretStore, info: KeyInfo) -> Any:
    """The ``cryptography`` private key object (cached: loaded once per process)."""
    key = _private_cache.get(info.kid)
    if key is not None:
        return key
    pem = secrets.get(secret_name(info.kid))
    if pem is None:
        raise ComptoirError("keys.private_missing", 2, kid=info.kid)
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError) as exc:
        raise ComptoirError("keys.private_corrupt", 2, kid=info.kid) from exc
    if kid_of(key.public_key()) != info.kid:
        raise ComptoirError("keys.private_corrupt", 2, kid=info.kid)
    _private_cache[info.kid] = key
    return key


def load_private_jwk(secrets: SecretStore, info: KeyInfo) -> dict[str, str]:
    """The private JWK of ``info`` with ``alg`` and ``kid`` set (a fresh copy)."""
    jwk = _jwk_cache.get(info.kid)
    if jwk is None:
        jwk = jwk_from_private_key(private_key(secrets, info))
        jwk["alg"] = info.alg
        jwk["kid"] = info.kid
        _jwk_cache[info.kid] = jwk
    return dict(jwk)


def forget_cached(kid: str | None = None) -> None:
    """Drop cached private keys (all, or one kid), e.g. after deleting a key."""
    for cache in (_private_cache, _jwk_cache):
        if kid is None:
            cache.clear()
        else:
            cache.pop(kid, None)


def certificates(info: KeyInfo) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(p.encode("ascii")) for p in info.certificate_chain_pem]


def x5c(info: KeyInfo) -> list[str]:
    """The chain as JWS ``x5c``: standard base64 DER, leaf first."""
    ck = tuple(info.certificate_chain_pem)
    out = _x5c_cache.get(ck)
    if out is None:
        out = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
            for c in certificates(info)
        ]
        _x5c_cache[ck] = out
    return list(out)


def export_public(home: Path, kid: str | None = None) -> str:
    """The key's certificate chain as PEM (leaf first): what others need to verify."""
    return "".join(get_key(home, kid).certificate_chain_pem)


def make_csr(
    home: Path, secrets: SecretStore, kid: str | None, subject: str, trader_id: str
) -> str:
    """A PKCS#10 CSR (PEM) for enrolment: CN=subject, serialNumber=trader id (EORI)."""
    info = get_key(home, kid)
    key = private_key(secrets, info)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_subject_name(subject or info.subject, trader_id))
        .sign(key, _sign_algo(key))
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def install_certificate_chain(home: Path, kid: str | None, chain_pem: list[str]) -> KeyInfo:
    """Install the chain issued at enrolment; the leaf must certify this very key."""
    info = get_key(home, kid)
    pems: list[str] = []
    for block in chain_pem:
        try:
            certs = x509.load_pem_x509_certificates(block.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ComptoirError("keys.certificate_unreadable", 2) from exc
        pems.extend(_pem(c) for c in certs)
    if not pems:
        raise ComptoirError("keys.certificate_unreadable", 2)
    leaf = x509.load_pem_x509_certificate(pems[0].encode("ascii"))
    if kid_of(leaf.public_key()) != info.kid:
        raise ComptoirError("keys.certificate_mismatch", 2)
    info.certificate_chain_pem = pems
    info.enrolled = True
    info.subject = subject_text(leaf)
    return _replace(home, info)


def set_active(home: Path, kid: str) -> KeyInfo:
    """Make ``kid`` the key that seals from now on."""
    target = get_key(home, kid)
    keys = list_keys(home)
    for k in keys:
        k.active = k.kid == target.kid
    _save(home, keys)
    target.active = True
    return target
