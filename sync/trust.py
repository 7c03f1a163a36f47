"""Pulling the single window's trust material for offline verification (#8).

An officer device keeps, from its last sync, the CA certificates, the revoked
certificates and the enrolled devices with their last known chain position
(:mod:`client.seal.trust` reads them back).  Traders do not need it (their token may not
read it): only officer profiles pull.
"""

from __future__ import annotations

from typing import Any

from client.declaration.model import now_utc
from client.seal.profile import Profile
from client.seal.trust import TrustMaterial, save_trust
from sync.transport import SingleWindowClient


def pull_trust(profile: Profile, client: SingleWindowClient) -> TrustMaterial | None:
    """Fetch ``GET /v1/trust`` and keep it under ``home/trust`` (officer profiles only).

    Network trouble raises :class:`sync.transport.TransportError` like every other
    step of a sync pass, so the engine retries it with the rest.
    """
    if profile.role != "officer":
        return None
    resp = client.trust()
    material: dict[str, Any] = resp.model_dump(mode="json")
    return save_trust(profile.home, material, fetched_at=now_utc())
