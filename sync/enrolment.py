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
from sync.transport import ProblemError, SingleWindowClient


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
    # The one-time code names the trader and role; what the device believes (an explicit
    # --trader, else the profile's declarant) is only sent to be checked, never required.
    expected = trader_id or profile.declarant_id or None
    if ca_pem_path is not None and not Path(ca_pem_path).is_file():
        raise ComptoirError("error.file_unreadable", 2, path=str(ca_pem_path),
                            reason="not found")
    csr = make_csr(home, secrets, info.kid, expected or "Comptoir device", expected or "unknown")
    with SingleWindowClient(server_url, ca_pem_path=ca_pem_path, pin_sha256=pin_sha256) as client:
        try:
            resp = client.enrol(EnrolRequest(trader_id=expected, code=code, csr_pem=csr,
                                             device_id=profile.device_id, role=profile.role))
        except ProblemError as exc:
            raise _mismatch(exc, expected or "", profile.role) from exc
    if resp.device_id != profile.device_id or resp.role != profile.role:
        raise ComptoirError("sync.enrol_mismatch", 2)
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
                      "enrolled_at": _now()}
    if not profile.declarant_id:
        profile.declarant_id = resp.trader_id
    profile.save()
    return EnrolResult(resp.trader_id, resp.role, installed.subject, server_url)


def _mismatch(exc: ProblemError, given: str, role: str) -> ComptoirError:
    """A code for another trader or role becomes one clear local line, not an HTTP status."""
    code_trader, _, code_role = (exc.detail or "").partition(" ")
    if exc.problem_code == "sandbox.enrol_trader_mismatch":
        return ComptoirError("sync.enrol_trader_mismatch", 2, given=given,
                             code_trader=code_trader or "?")
    if exc.problem_code == "sandbox.enrol_role_mismatch":
        return ComptoirError("sync.enrol_role_mismatch", 2, role=role, code_role=code_role or "?")
    return exc


def _now() -> str:
    from client.declaration.model import now_utc

    return now_utc()
