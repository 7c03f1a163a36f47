"""The Comptoir protocol connector: today's batches, receipts and feed, unchanged.

The protocol code itself stays in :mod:`sync.engine` (drain, feed, reference data) and
:mod:`sync.transport`; this class is the seam's face of it.
"""

from __future__ import annotations

from typing import Any

from sync.connectors.base import ConnectorInfo
from sync.trust import pull_trust


class ComptoirConnector:
    name = "comptoir"

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def deliver(self, report: Any) -> None:
        self.engine._drain(report)

    def pull(self, report: Any) -> None:
        self.engine._pull_feed(report)
        self.engine._pull_refdata(report)
        pull_trust(self.engine.profile, self.engine.client())  # officers: offline trust (#8)

    def probe(self) -> None:
        self.engine.client().health()

    def info(self) -> ConnectorInfo:
        server = self.engine.server
        url = server.get("url")
        return ConnectorInfo("comptoir", environment="comptoir", url=url,
                             credentials="enrolled" if url else "none",
                             details={"trader": server.get("trader_id")})

    def close(self) -> None:
        self.engine.close_client()
