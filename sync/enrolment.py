"""Enrolment: a device becomes known to the single window.

The device's key signs a CSR; with a one-time code the single window's CA issues the
certificate chain, and returns an API token and the certificate that signs receipts.
Everything needed to trust the single window later, offline, is kept under
``home/trust/``: the CA (``ca.pem``), the receipt certificate and the TLS CA used to
reach the server.  The token goes to the secret store, never to a file in clear.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError
from client.seal.profile import Profile
from sync.protocol import EnrolRequest
from sync.transport import SingleWindowClient


@dataclass(frozen=True)
class EnrolResult:
    trader_id: str
    role: str
    subject: str
    server_url: str


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def enrol(profile: Profile, secrets: Any, *, server_url: str, code: str,
          ca_pem_path: Path | None = None, pin_sha256: str | None = None,
          trader_id: str | None = None) -> EnrolResult:
    """Enrol this device; on success the profile knows its server, token and trust."""
    from client.seal.keys import create_key, install_certificate_chain, make_csr, require_active_key

    home = profile.home
    try:
        info = require_active_key(home)
    except ComptoirError:
        info = create_key(home, secrets)
    trader = trader_id or profile.declarant_id or ""
    if ca_pem_path is not None and not Path(ca_pem_path).is_file():
        raise ComptoirError("error.file_unreadable", 2, path=str(ca_pem_path),
                            reason="not found")
    csr = make_csr(home, secrets, info.kid, trader or "Comptoir device", trader or "unknown")
    with SingleWindowClient(server_url, ca_pem_path=ca_pem_path, pin_sha256=pin_sha256) as client:
        _same_world(profile, client.health().training)
        resp = client.enrol(EnrolRequest(trader_id=trader or "-", code=code, csr_pem=csr,
                                         device_id=profile.device_id, role=profile.role))
    if resp.device_id != profile.device_id or resp.role != profile.role:
        raise ComptoirError("sync.enrol_mismatch", 2)
    _same_world(profile, resp.training)
    installed = install_certificate_chain(home, info.kid, resp.certificate_chain_pem)
    trust = home / "trust"
    _write(trust / "ca.pem", resp.ca_pem)
    _write(trust / "receipt.pem", resp.receipt_certificate_pem)
    tls_ca = None
    if ca_pem_path is not None:
        tls_ca = trust / "tls-ca.pem"
        shutil.copyfile(ca_pem_path, tls_ca)
    secrets.set("api-token", resp.token)
    profile.server = {"url": server_url.rstrip("/"),
                      "ca_pem_path": "trust/tls-ca.pem" if tls_ca else None,
                      "pin_sha256": pin_sha256, "trader_id": resp.trader_id,
                      "enrolled_at": _now(), "token_expires_at": resp.token_expires_at}
    if not profile.declarant_id:
        profile.declarant_id = resp.trader_id
    profile.save()
    return EnrolResult(resp.trader_id, resp.role, installed.subject, server_url)


def _same_world(profile: Profile, server_training: bool) -> None:
    """A training profile enrols only with a training single window, and vice versa."""
    if profile.training and not server_training:
        raise ComptoirError("sync.enrol_training_needs_training_server", 2)
    if server_training and not profile.training:
        raise ComptoirError("sync.enrol_real_profile_with_training", 2,
                            home=str(profile.home))


def _now() -> str:
    from client.declaration.model import now_utc

    return now_utc()
