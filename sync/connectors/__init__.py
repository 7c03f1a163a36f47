"""Connectors: how the outbox reaches a single window.

The outbox engine (:mod:`sync.engine`) owns the pass — offline switch, connectivity,
backoff, progress — and hands the two halves of a pass to the profile's connector:
``deliver`` (send what the outbox holds) and ``pull`` (bring status back).  The sealed
envelope stays the local proof of what the declarant signed and when, whichever
connector carries it.

- ``comptoir``: the Comptoir protocol (the sandbox, or any single window implementing
  it): idempotent batches of envelopes, signed receipts, a cursor feed.
- ``cds``: the UK CDS Customs Declarations API (:mod:`sync.cds`): DMS XML, OAuth 2.0,
  202 + conversation id, pulled notifications, no idempotency key.

The connector is chosen per profile by ``profile.server["connector"]`` (``comptoir``
when absent).  Connectors take the engine (duck-typed, never imported here, so that no
import cycle exists) and raise :class:`sync.transport.TransportError` for trouble that
a retry may fix and :class:`ConnectorError` for trouble it will not.
"""

from __future__ import annotations

from typing import Any

from sync.connectors.base import CONNECTORS, Connector, ConnectorError, ConnectorInfo

__all__ = ["CONNECTORS", "Connector", "ConnectorError", "ConnectorInfo", "connector_for",
           "connector_name"]


def connector_name(profile: Any) -> str:
    """The profile's connector (``comptoir`` unless the profile says otherwise)."""
    server = getattr(profile, "server", None) or {}
    name = str(server.get("connector") or "comptoir")
    if name not in CONNECTORS:
        raise ConnectorError("connector.unknown", 2, name=name, known=", ".join(CONNECTORS))
    return name


def connector_for(engine: Any) -> Connector:
    """The connector the engine's profile asks for, bound to that engine."""
    name = connector_name(engine.profile)
    if name == "cds":
        from sync.cds.connector import CdsConnector

        return CdsConnector(engine)
    from sync.connectors.comptoir import ComptoirConnector

    return ComptoirConnector(engine)
