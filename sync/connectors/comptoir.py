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
        migrate_older_signatures(self.engine)
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


def migrate_older_signatures(engine: Any) -> int:
    """Before a drain: re-seal the undelivered tail an older build signed high-S (#12).

    Done here, at the start of a sync, rather than when the store opens: the store knows
    no cryptography and cannot reach the keyring, a read-only command should not need the
    key, and the sync is the one moment it matters (before anything is sent), with the
    key and the one writer at hand.  A downgrade that seals again is caught the same way.
    The scan reads only signatures, and only of envelopes queued since the last scan
    (this build never signs high-S; a downgraded one appends later seqs).
    """
    from client.seal.reseal import first_high_s, migrate_high_s
    from client.store import settings_keys as keys

    if not (engine.profile.server or {}).get("enrolled_at"):
        return 0  # not enrolled: enrolment re-seals every queued envelope anyway (low-S)
    checked = engine.store.get_setting(keys.SIGNATURES_CHECKED)
    start, through = first_high_s(engine.store, after=checked)
    if start is None:
        if through > checked:
            engine._write(lambda: engine.store.set_setting(keys.SIGNATURES_CHECKED, through))
        return 0

    def signing_key() -> tuple[dict[str, Any], list[str]]:
        from client.seal.keys import load_private_jwk, require_active_key, x5c

        info = require_active_key(engine.profile.home)
        return load_private_jwk(engine.secrets, info), x5c(info)

    made = engine._write(lambda: migrate_high_s(engine.store, signing_key,
                                                engine.profile.actor()))
    return len(made or [])
