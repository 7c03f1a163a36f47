"""The Comptoir protocol connector: today's batches, receipts and feed, unchanged.

The protocol code itself stays in :mod:`sync.engine` (drain, feed, reference data) and
:mod:`sync.transport`; this class is the seam's face of it.
"""

from __future__ import annotations

import logging
from typing import Any

from client.common.i18n import ComptoirError
from client.store import settings_keys as keys
from sync.connectors.base import ConnectorInfo
from sync.trust import pull_trust

log = logging.getLogger(__name__)


class ComptoirConnector:
    name = "comptoir"

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def deliver(self, report: Any) -> None:
        checked_through = migrate_older_signatures(self.engine)
        self.engine._drain(report)
        if checked_through:  # after the drain: nothing waits on the writer before it starts
            self.engine._write(lambda: self.engine.store.set_setting(
                keys.SIGNATURES_CHECKED, checked_through))
        if queue_owed_withdrawals(self.engine):
            self.engine._drain(report)  # the withdrawals go out in the same sync

    def pull(self, report: Any) -> None:
        self.engine._pull_refdata(report, self.engine._pull_feed(report))
        pull_trust(self.engine.profile, self.engine.client())  # officers: offline trust (#8)
        self.engine.client().warm_offer()  # a pass that sent nothing: the next one will

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
    (this build never signs high-S; a downgraded one appends later seqs).  Returns the seq
    the scan found clean through, for the caller to record after the drain (0: nothing to
    record), so that a sync with nothing to migrate writes nothing before it sends.
    """
    from client.seal.reseal import first_high_s, migrate_high_s

    if not (engine.profile.server or {}).get("enrolled_at"):
        return 0  # not enrolled: enrolment re-seals every queued envelope anyway (low-S)
    checked = engine.store.get_setting(keys.SIGNATURES_CHECKED)
    start, through = first_high_s(engine.store, after=checked)
    if start is None:
        return through if through > checked else 0  # the caller records it after the drain

    def signing_key() -> tuple[dict[str, Any], list[str]]:
        from client.seal.keys import load_private_jwk, require_active_key, x5c

        info = require_active_key(engine.profile.home)
        return load_private_jwk(engine.secrets, info), x5c(info)

    engine._write(lambda: migrate_high_s(engine.store, signing_key, engine.profile.actor(),
                                         start=start))
    return 0


def queue_owed_withdrawals(engine: Any) -> int:
    """After a drain: seal and queue the withdrawal of a transit sent to paper that the
    single window answered as lodged (its answer had been lost before it went on paper;
    UCC-IA Annex 72-04 wants it withdrawn, #14).  Here, in the engine's sync, so that the
    desktop, ``comptoir sync`` and ``comptoir sync --once`` all do it; through the one
    writer, like every other write of the sync."""
    from client.seal.sealing import Sealer
    from client.services.continuity import queue_owed_withdrawals as queue

    if not engine.store.withdrawals_owed():
        return 0
    try:
        done = engine._write(lambda: queue(engine.store,
                                           lambda: Sealer(engine.profile, engine.store,
                                                          engine.secrets),
                                           engine.profile.actor()))
    except ComptoirError as exc:  # one the Code refuses: said, and the sync goes on
        log.warning("withdrawal not queued: %s", exc.message.code)
        return 0
    return sum(1 for d in done or [] if d.withdrawal is not None)
