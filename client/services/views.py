"""What the user reads about declarations: the list, one declaration in full, its history.

Read-only: safe to run away from the writer (the desktop's reader pool).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError
from client.declaration import states
from client.services.rejections import RejectionReason, rejection_reasons_for
from client.store import HistoryEntry, Store, Stored, Summary


def status_filter(status: str | None) -> list[str] | None:
    """The statuses to list (None for all); refuses an unknown status by name."""
    if not status:
        return None
    if status not in states.STATES:
        raise ComptoirError("list.bad_status", 2, status=status, known=", ".join(states.STATES))
    return [status]


def list_declarations(store: Store, *, statuses: list[str] | None = None,
                      search: str | None = None, limit: int | None = None) -> list[Summary]:
    """The declarations, most recently changed first, filtered by status and text."""
    for s in statuses or ():
        status_filter(s)
    return store.list(statuses=statuses, search=search, limit=limit)


@dataclass(frozen=True)
class DeclarationDetail:
    """One declaration with what the single window said about it."""

    id: str
    stored: Stored
    receipts: list[dict[str, Any]]
    rejection: list[RejectionReason]


def declaration_detail(store: Store, decl_id: str, home: Path) -> DeclarationDetail:
    """The stored declaration, its receipts, and the reasons of its rejection when it is
    rejected (explained from the profile's reference data)."""
    st = store.get(decl_id)
    receipts = store.receipts(decl_id)
    reasons = rejection_reasons_for(store, decl_id, home) \
        if st.status == states.REJECTED else []
    return DeclarationDetail(decl_id, st, receipts, reasons)


def declaration_history(store: Store, decl_id: str) -> list[HistoryEntry]:
    """Every move of the declaration, oldest first."""
    return store.history(decl_id)
