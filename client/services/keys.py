"""The declarant's signing keys: create, list, export the public part, import, certify.

The private keys stay in the profile's secret store (OS keyring, or passphrase-sealed
files where there is none); only public material leaves through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from client.seal.keys import (
    ES256,
    KeyInfo,
    create_key,
    export_public,
    get_key,
    import_pkcs12,
    list_keys,
    make_csr,
)
from client.seal.secrets import SecretStore, open_secret_store, secret_namespace
from client.services.exports import write_file

__all__ = ["CreatedKey", "KeyDescription", "create_signing_key", "describe_keys",
           "export_public_key", "import_key_file", "key_request", "list_keys",
           "open_key_store", "save_public_key"]


def open_key_store(home: Path) -> SecretStore:
    """The profile's secret store (namespaced by its profile id); its ``last_warning`` says
    when it fell back to passphrase files."""
    return open_secret_store(home, secret_namespace(home))


def _leaf(info: KeyInfo) -> x509.Certificate:
    return x509.load_pem_x509_certificate(info.certificate_chain_pem[0].encode("ascii"))


@dataclass(frozen=True)
class CreatedKey:
    info: KeyInfo
    not_after: str  # the certificate's last day, YYYY-MM-DD


DEFAULT_SUBJECT = "Comptoir declarant"


def create_signing_key(home: Path, secrets: SecretStore, *, alg: str = ES256,
                       subject: str = DEFAULT_SUBJECT) -> CreatedKey:
    """A new key pair with a self-signed certificate, made the active key."""
    home.mkdir(parents=True, exist_ok=True)
    info = create_key(home, secrets, alg=alg, subject=subject)
    return CreatedKey(info, _leaf(info).not_valid_after_utc.strftime("%Y-%m-%d"))


@dataclass(frozen=True)
class KeyDescription:
    info: KeyInfo
    not_after: str  # ISO 8601 UTC
    issuer: str

    def to_json(self) -> dict[str, Any]:
        d = self.info.to_json()
        d.pop("certificate_chain_pem")
        d["not_after"] = self.not_after
        d["issuer"] = self.issuer
        return d


def describe_keys(home: Path) -> list[KeyDescription]:
    """Every key of the profile with its certificate's expiry and issuer."""
    out = []
    for k in list_keys(home):
        cert = _leaf(k)
        out.append(KeyDescription(k, cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  cert.issuer.rfc4514_string()))
    return out


def export_public_key(home: Path, kid: str | None = None) -> str:
    """The certificate chain of a key (the active one by default), PEM."""
    return export_public(home, kid)


def save_public_key(home: Path, path: Path, kid: str | None = None) -> Path:
    """Write a key's certificate chain (PEM) to ``path`` through the one atomic write."""
    write_file(Path(path), export_public(home, kid).encode("ascii"))
    return Path(path)


def import_key_file(home: Path, secrets: SecretStore, path: Path,
                    password: str | None) -> KeyInfo:
    """A key and its certificate chain from a PKCS#12 file, made the active key."""
    home.mkdir(parents=True, exist_ok=True)
    return import_pkcs12(home, secrets, path, password)


def key_request(home: Path, secrets: SecretStore, *, trader: str, kid: str | None = None,
                subject: str | None = None) -> str:
    """A certificate signing request (PEM) for a key, naming the trader (EORI)."""
    info = get_key(home, kid)
    return make_csr(home, secrets, info.kid, subject or info.subject, trader)
