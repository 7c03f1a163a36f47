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
    if resp.tree_head:
        _check_tree_head(profile, client, resp.tree_head)
    return save_trust(profile.home, material, fetched_at=now_utc())


def _check_tree_head(profile: Profile, client: SingleWindowClient, token: str) -> None:
    """The trust material's tree head of the receipts log (#16): signed by the single
    window and consistent with the last one this officer kept, then kept in its turn, so
    that a receipt shown at a roadside check can be compared with it offline."""
    from cryptography import x509

    from client.common.i18n import ComptoirError
    from client.seal import translog as tl
    from sync.receipts import LogKeeper
    from sync.transport import TransportError

    def certificate() -> Any:
        return x509.load_pem_x509_certificate(
            (profile.home / "trust" / "receipt.pem").read_bytes())

    keeper = LogKeeper(profile.home, lambda: client, certificate)
    try:
        keeper.keep(keeper.check_head(tl.verify_tree_head(token, certificate())))
    except (OSError, ValueError) as exc:
        raise TransportError("transport.bad_response", reason=str(exc)[:200]) from exc
    except TransportError:
        raise
    except ComptoirError as exc:
        raise TransportError("transport.bad_response", reason=exc.render()) from exc
