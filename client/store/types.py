"""Plain values the store hands out (no SQLAlchemy rows leave the store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from client.common.i18n import ComptoirError

if TYPE_CHECKING:  # the list's types load without the pydantic models (#15)
    from client.declaration.model import Declaration

# --------------------------------------------------------------------------- values

@dataclass(frozen=True)
class Summary:
    """One row of a declaration list: what the table and `list --json` show."""

    id: str
    lrn: str | None
    type: str
    status: str
    mrn: str | None
    version: int
    declarant: str | None
    items: int
    updated_at: str
    created_at: str
    lodge_by: str | None = None  # a fallback document's electronic lodging is due then

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "lrn": self.lrn, "type": self.type, "status": self.status,
                "mrn": self.mrn, "version": self.version, "declarant": self.declarant,
                "items": self.items, "updated_at": self.updated_at,
                "created_at": self.created_at, "lodge_by": self.lodge_by}


@dataclass(frozen=True)
class Stored:
    """A declaration as held locally: the document plus its lifecycle facts."""

    declaration: Declaration
    status: str
    mrn: str | None
    created_at: str
    updated_at: str
    sealed_at: str | None
    envelope_hash: str | None
    fallback_printed_at: str | None
    lodged_after_fallback_at: str | None = None


@dataclass(frozen=True)
class AmendmentOutcome:
    """What became of a received amendment: ``applied`` onto ``declaration_id`` as its
    ``version``, or held as ``pending`` (``pending_id``) until its original arrives."""

    status: str
    declaration_id: str | None
    version: int | None
    pending_id: int | None


@dataclass(frozen=True)
class PendingAmendment:
    id: int
    kind: str
    mrn: str | None
    lrn: str | None
    source: str
    received_at: str
    applied_to: str | None
    applied_at: str | None


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    version: int
    at: str
    actor: str
    from_status: str | None
    to_status: str
    note: str | None
    detail: dict[str, Any] | None
    has_document: bool


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    kind: str
    declaration_id: str
    version: int
    envelope_hash: str
    prev_hash: str
    sealed_at: str
    envelope: dict[str, Any]


#: The outbox state of an envelope withdrawn before lodging (a transit ended on paper): the
#: single window still receives it as a link of the device's chain, marked withdrawn, and
#: never lodges it; without it every later envelope would wait behind the gap.
CHAIN_LINK = "chain_link"


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    declaration_id: str
    version: int
    kind: str
    envelope_hash: str
    envelope: dict[str, Any]
    attempts: int
    state: str


@dataclass(frozen=True)
class DeliveryResult:
    """What the single window said about one envelope (from the sync engine)."""

    seq: int
    outcome: str  # accepted | duplicate | rejected | held | conflict
    mrn: str | None = None
    receipt: str | None = None
    received_at: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Changes:
    """What an operation changed, for views to refresh only what concerns them."""

    declarations: tuple[str, ...] = ()
    outbox: bool = False
    statuses: bool = False
    settings: bool = False


@dataclass(frozen=True)
class ChainLink:
    """What a sealer hands back to the journal: the envelope, its hash, the link it signed.

    The store never computes envelope hashes itself (that is :mod:`client.seal`'s job):
    it gives the sealer the sequence number and the previous hash (``None`` for the
    first entry of the chain) and records what comes back.
    """

    envelope: dict[str, Any]
    envelope_hash: str
    prev_hash: str


LrnLookup = Callable[[str | None, str, str | None], bool]
"""(declarant id, LRN, declaration id to leave out) -> taken: the store's LRN lookup."""
SealFn = Callable[[Any, dict[str, Any], int, str | None], ChainLink]
MakeLink = Callable[[int, str | None], ChainLink]
"""(declaration as read_declaration reads it, its stored JSON form, seq, prev_hash) ->
envelope dict; called inside the seal transaction."""


# --------------------------------------------------------------------------- store

class StoreError(ComptoirError):
    pass

