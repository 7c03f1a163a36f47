"""Sealing one declaration or many, and checking the device journal.

Each seal is its own transaction (validate, canonicalise, sign, journal, queue): a
refusal of one (:class:`~client.seal.sealing.SealRefused`, with its findings) leaves it
as it was and, unless the caller asks to stop, the others are still sealed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from client.declaration import states
from client.seal.journal import JournalCheck, verify_journal
from client.seal.sealing import Sealer, SealRefused
from client.store import Changes, JournalEntry, Store

__all__ = ["SealOutcome", "SealReport", "SealRefused", "check_journal", "ready_to_seal",
           "seal_declarations"]


@dataclass(frozen=True)
class SealOutcome:
    """One declaration's seal: its journal entry, or why it was refused."""

    declaration_id: str
    entry: JournalEntry | None = None
    refused: SealRefused | None = None


@dataclass
class SealReport:
    outcomes: list[SealOutcome] = field(default_factory=list)

    @property
    def sealed(self) -> list[SealOutcome]:
        return [o for o in self.outcomes if o.entry is not None]

    @property
    def refused(self) -> list[SealOutcome]:
        return [o for o in self.outcomes if o.refused is not None]

    @property
    def changes(self) -> Changes:
        """What the desktop refreshes after it."""
        return Changes(declarations=tuple(o.declaration_id for o in self.outcomes),
                       outbox=bool(self.sealed), statuses=True)


def ready_to_seal(store: Store) -> list[str]:
    """The ready declarations, oldest first: what "seal all ready" seals."""
    return store.list_ids(statuses=[states.READY], order_by="created_at", descending=False)


def seal_declarations(sealer: Sealer, decl_ids: Sequence[str], *,
                      stop_on_refusal: bool = False,
                      on_outcome: Callable[[SealOutcome], None] | None = None) -> SealReport:
    """Seal and queue each declaration in turn.

    A refusal is recorded in the report (and ``on_outcome`` hears each result as it
    comes); with ``stop_on_refusal`` the first refusal is raised instead and the rest
    are left alone.  Any other error (no key, a store failure) is raised at once.
    """
    report = SealReport()
    for decl_id in decl_ids:
        try:
            outcome = SealOutcome(decl_id, entry=sealer.seal(decl_id))
        except SealRefused as exc:
            if stop_on_refusal:
                raise
            outcome = SealOutcome(decl_id, refused=exc)
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return report


def check_journal(store: Store) -> JournalCheck:
    """The device journal's hash chain walked from the first envelope (first break named)."""
    return verify_journal(store)
