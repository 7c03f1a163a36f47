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
          trader_id: str | None = None, store: Any = None) -> EnrolResult:
    """Enrol this device; on success the profile knows its server, token and trust.

    What was sealed before the first enrolment (self-signed) is re-sealed under the new
    certificate (client.seal.reseal); the server's view of the chain starts where the
    journal stood.  ``store``: the profile's open store (opened here when None).
    """
    own_store = store is None
    if own_store:
        from client.seal.profile import open_store

        store = open_store(profile, secrets=secrets)
    try:
        return _enrol(profile, secrets, store, server_url=server_url, code=code,
                      ca_pem_path=ca_pem_path, pin_sha256=pin_sha256, trader_id=trader_id)
    finally:
        if own_store:
            store.close()


def _enrol(profile: Profile, secrets: Any, store: Any, *, server_url: str, code: str,
           ca_pem_path: Path | None, pin_sha256: str | None,
           trader_id: str | None) -> EnrolResult:
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
        _same_world(profile, client.health().training)
        try:
            first_enrolment = not (profile.server or {}).get("enrolled_at")
            head = store.journal_entry() if first_enrolment else None
            resp = client.enrol(EnrolRequest(
                trader_id=expected, code=code, csr_pem=csr, device_id=profile.device_id,
                role=profile.role, chain_seq=head.seq if head else 0,
                chain_head=head.envelope_hash if head else "0" * 64))
        except ProblemError as exc:
            raise _mismatch(exc, expected or "", profile.role) from exc
    if resp.device_id != profile.device_id or resp.role != profile.role:
        raise ComptoirError("sync.enrol_mismatch", 2)
    _same_world(profile, resp.training)
    installed = install_certificate_chain(home, info.kid, resp.certificate_chain_pem)
    from client.seal.keys import load_private_jwk, x5c
    from client.seal.reseal import reseal_pending

    if first_enrolment:  # later enrolments keep the chain position the server knows
        reseal_pending(store, load_private_jwk(secrets, installed), x5c(installed),
                       profile.actor())
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
