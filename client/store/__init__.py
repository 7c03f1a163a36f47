"""The local store: the one door to the profile's database.

SQLModel tables over SQLite (SQLCipher-encrypted when a key is given), WAL with
``synchronous=FULL`` so that everything the user was told is saved survives a kill -9,
foreign keys on, Alembic migrations applied on open.  No SQL lives anywhere else: the
UI, the CLI and the sync engine call the methods of :class:`Store`, grouped by topic
(declarations, history, journal + outbox, receipts, notifications, settings, amendments
received from outside).

Hot paths (autosave, seal, outbox) use SQLAlchemy Core on one connection per
transaction; the ORM classes only declare the schema (and drive Alembic).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Where each public name lives.  Resolved on first use (PEP 562): the desktop app reads its
# first screen of rows through client.store.firstscreen before SQLAlchemy, SQLModel and
# the pydantic models are imported at all (#15); every other caller sees no difference.
_WHERE = {
    "Store": "client.store.facade",
    "StoreBase": "client.store.connection",
    "_connect_url": "client.store.connection",
    "SCHEMA_VERSION": "client.store.schema",
    "history_message": "client.store.history_notes",
    "OperationalError": "sqlalchemy.exc",
    "CdsAttempt": "client.store.cds",
    "CdsLodging": "client.store.cds",
    **{name: "client.store.types" for name in (
        "CHAIN_LINK", "AmendmentOutcome", "ChainLink", "Changes", "DeliveryResult",
        "HistoryEntry", "JournalEntry", "MakeLink", "OutboxItem", "PendingAmendment",
        "SealFn", "Stored", "StoreError", "Summary")},
}

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

    from client.store.cds import CdsAttempt, CdsLodging
    from client.store.connection import StoreBase, _connect_url
    from client.store.facade import Store
    from client.store.history_notes import history_message
    from client.store.schema import SCHEMA_VERSION
    from client.store.types import (
        CHAIN_LINK,
        AmendmentOutcome,
        ChainLink,
        Changes,
        DeliveryResult,
        HistoryEntry,
        JournalEntry,
        MakeLink,
        OutboxItem,
        PendingAmendment,
        SealFn,
        Stored,
        StoreError,
        Summary,
    )


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'client.store' has no attribute {name!r}")
    value = getattr(import_module(where), name)
    globals()[name] = value
    return value


__all__ = ["Store", "StoreBase", "StoreError", "Changes", "DeliveryResult", "HistoryEntry",
           "JournalEntry", "OutboxItem", "SealFn", "ChainLink", "MakeLink", "Stored", "Summary",
           "SCHEMA_VERSION", "history_message", "AmendmentOutcome", "PendingAmendment",
           "_connect_url", "OperationalError", "CdsAttempt", "CdsLodging", "CHAIN_LINK"]
