"""The Store facade: one class composed of the topic mixins (see the package docstring)."""

from __future__ import annotations

from client.store.amendments import AmendmentsMixin
from client.store.cds import CdsMixin
from client.store.connection import StoreBase
from client.store.declarations import DeclarationsMixin
from client.store.feed import FeedMixin
from client.store.journal import JournalMixin
from client.store.outbox import OutboxMixin
from client.store.settings import SettingsMixin


class Store(DeclarationsMixin, JournalMixin, OutboxMixin, FeedMixin, SettingsMixin, CdsMixin,
            AmendmentsMixin, StoreBase):
    """The profile's database.  Thread-safe for readers; writers are serialised.

    The desktop app funnels every write through one executor thread; the lock here
    makes the CLI and tests safe as well.  Each topic lives in a module of its own.
    """
