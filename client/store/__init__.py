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

from sqlalchemy.exc import OperationalError

from client.store.amendments import AmendmentsMixin
from client.store.cds import CdsAttempt, CdsLodging, CdsMixin
from client.store.connection import StoreBase, _connect_url
from client.store.declarations import DeclarationsMixin
from client.store.feed import FeedMixin
from client.store.history_notes import history_message
from client.store.journal import JournalMixin
from client.store.outbox import OutboxMixin
from client.store.schema import SCHEMA_VERSION
from client.store.settings import SettingsMixin
from client.store.types import (
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


class Store(DeclarationsMixin, JournalMixin, OutboxMixin, FeedMixin, SettingsMixin, CdsMixin,
            AmendmentsMixin, StoreBase):
    """The profile's database.  Thread-safe for readers; writers are serialised.

    The desktop app funnels every write through one executor thread; the lock here
    makes the CLI and tests safe as well.  Each topic lives in a module of its own.
    """


__all__ = ["Store", "StoreBase", "StoreError", "Changes", "DeliveryResult", "HistoryEntry",
           "JournalEntry", "OutboxItem", "SealFn", "ChainLink", "MakeLink", "Stored", "Summary", "SCHEMA_VERSION",
           "history_message", "AmendmentOutcome", "PendingAmendment",
           "_connect_url", "OperationalError", "CdsAttempt", "CdsLodging"]
