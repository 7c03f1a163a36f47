"""The sandbox's certificate authority, TLS certificate and receipt-signing certificate.

Generated once into the sandbox home so that a trader's enrolment survives restarts:
``ca.pem`` (trust this), ``ca.key`` (mode 0600), ``tls.pem``/``tls.key`` for HTTPS on
loopback, ``receipt.pem``/``receipt.key`` for signing receipts.  Enrolment turns a CSR
into a leaf certificate: CN = trader id (DE 3/18), OU = role, serialNumber = device id.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client.common.b64 import b64u_encode
from client.common.i18n import ComptoirError

LEAF_VALIDITY = timedelta(days=730)
CA_VALIDITY = timedelta(days=3650)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey,
               password: bytes | None = None) -> None:
    """PKCS#8 PEM, mode 0600; encrypted under ``password`` when given (training mode)."""
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password
        else serialization.NoEncryption())
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _load_key(path: Path, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=password)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def ec_public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    nums = key.public_numbers()
    b = lambda n: b64u_encode(n.to_bytes(32, "big"))  # noqa: E731
    return {"kty": "EC", "crv": "P-256", "x": b(nums.x), "y": b(nums.y)}


def ec_private_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    jwk = ec_public_jwk(key.public_key())
    d = key.private_numbers().private_value.to_bytes(32, "big")
    jwk["d"] = b64u_encode(d)
    return jwk


@dataclass
class SandboxPKI:
    """The sandbox home's key material, created on first use."""

    home: Path
    key_password: bytes | None = None  # keys encrypted at rest (the desktop's training mode)

    @property
    def ca_pem_path(self) -> Path:
        return self.home / "ca.pem"

    @property
    def tls_cert_path(self) -> Path:
        return self.home / "tls.pem"

    @property
    def tls_key_path(self) -> Path:
        return self.home / "tls.key"

    def ensure(self) -> SandboxPKI:
        """Generate the CA, the TLS and the receipt certificates where missing."""
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.ca_pem_path.exists() or not (self.home / "ca.key").exists():
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Comptoir sandbox"),
                              x509.NameAttribute(NameOID.COMMON_NAME, "Comptoir sandbox CA")])
            now = datetime.now(UTC)
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - timedelta(minutes=5))
                    .not_valid_after(now + CA_VALIDITY)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                 False, False), critical=True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                   critical=False)
                    .sign(key, hashes.SHA256()))
            _write_key(self.home / "ca.key", key, self.key_password)
            self.ca_pem_path.write_text(_pem(cert))
            for stale in ("tls.pem", "tls.key", "receipt.pem", "receipt.key"):
                (self.home / stale).unlink(missing_ok=True)
        if not self.tls_cert_path.exists() or not self.tls_key_path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            san = x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ])
            cert = self._issue(key.public_key(), "localhost", san=san,
                               eku=[ExtendedKeyUsageOID.SERVER_AUTH])
            _write_key(self.tls_key_path, key, self.key_password)
            self.tls_cert_path.write_text(_pem(cert))
        if not (self.home / "receipt.pem").exists() or not (self.home / "receipt.key").exists():
            key = ec.generate_private_key(ec.SECP256R1())
            cert = self._issue(key.public_key(), "Comptoir sandbox receipts")
            _write_key(self.home / "receipt.key", key, self.key_password)
            (self.home / "receipt.pem").write_text(_pem(cert))
        return self

    @cached_property
    def ca_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_pem_path.read_bytes())

    @cached_property
    def ca_key(self) -> ec.EllipticCurvePrivateKey:
        return _load_key(self.home / "ca.key", self.key_password)

    @property
    def ca_pem(self) -> str:
        return self.ca_pem_path.read_text()

    @property
    def receipt_cert_pem(self) -> str:
        return (self.home / "receipt.pem").read_text()

    @cached_property
    def receipt_key(self) -> ec.EllipticCurvePrivateKey:
        return _load_key(self.home / "receipt.key", self.key_password)

    @cached_property
    def receipt_private_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = ec_private_jwk(self.receipt_key)
        jwk["alg"] = "ES256"
        jwk["kid"] = hashlib.sha256(
            x509.load_pem_x509_certificate(self.receipt_cert_pem.encode()).public_bytes(
                serialization.Encoding.DER)).hexdigest()[:16]
        return jwk

    def _issue(self, public_key: Any, cn: str, *, extra_name: list[x509.NameAttribute] = (),  # type: ignore[assignment]
               san: x509.SubjectAlternativeName | None = None,
               eku: list[x509.ObjectIdentifier] | None = None,
               validity: timedelta = LEAF_VALIDITY) -> x509.Certificate:
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), *extra_name])
        builder = (x509.CertificateBuilder().subject_name(name)
                   .issuer_name(self.ca_cert.subject).public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + validity)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                                False, False), critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.ca_key.public_key()), critical=False))
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def issue_leaf(self, csr_pem: str, *, trader_id: str, role: str,
                   device_id: str) -> tuple[x509.Certificate, str]:
        """Check the CSR's self-signature and issue the declarant's certificate.

        The subject is set by the CA (never copied from the CSR): CN = trader id,
        OU = role, serialNumber = device id.  Returns the certificate and its PEM.
        """
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode("utf-8"))
        except (ValueError, UnicodeError) as exc:
            raise ComptoirError("sandbox.csr_rejected", 2, reason=str(exc)[:200]) from exc
        try:
            ok = csr.is_signature_valid
        except (InvalidSignature, ValueError):
            ok = False
        if not ok:
            raise ComptoirError("sandbox.csr_rejected", 2, reason="bad CSR signature")
        key = csr.public_key()
        if isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise ComptoirError("sandbox.csr_rejected", 2, reason="only P-256 EC keys")
        elif not isinstance(key, ed25519.Ed25519PublicKey):
            raise ComptoirError("sandbox.csr_rejected", 2, reason="only P-256 or Ed25519 keys")
        cert = self._issue(key, trader_id, extra_name=[
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, device_id[:64]),
        ], eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
        return cert, _pem(cert)


def cert_serial(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")
