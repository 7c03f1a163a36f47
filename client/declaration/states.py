"""The declaration lifecycle (DESIGN.md "The declaration"): one state machine.

::

    draft -> ready -> sealed (signed, queued) -> submitted -> registered (MRN)
                                                     |          +-> under_control / documents_requested
                                                     |          +-> released
                                                     |          +-> invalidated
                                                     +-> rejected

Local moves (edit, mark ready, seal) are strict.  Moves reported by the single window
arrive over an unreliable network, possibly late or out of order, so they are accepted
whenever they go *forward* (a later stage of processing), and a late "accepted" after
"released" is ignored rather than moving the declaration back.
"""

from __future__ import annotations

DRAFT = "draft"
READY = "ready"
SEALED = "sealed"
SUBMITTED = "submitted"
REGISTERED = "registered"
UNDER_CONTROL = "under_control"
DOCUMENTS_REQUESTED = "documents_requested"
RELEASED = "released"
INVALIDATED = "invalidated"
REJECTED = "rejected"

STATES = (DRAFT, READY, SEALED, SUBMITTED, REGISTERED, UNDER_CONTROL, DOCUMENTS_REQUESTED,
          RELEASED, INVALIDATED, REJECTED)

EDITABLE = frozenset({DRAFT, READY})
IMMUTABLE = frozenset(STATES) - EDITABLE
NEEDS_ACTION = frozenset({REJECTED, DOCUMENTS_REQUESTED, UNDER_CONTROL})
FINAL = frozenset({RELEASED, INVALIDATED, REJECTED})

# Local, user-driven transitions.
LOCAL = {
    (DRAFT, READY), (READY, DRAFT), (READY, SEALED),
}

# Processing rank for transitions reported by the single window.
RANK = {
    SEALED: 0, SUBMITTED: 1, REGISTERED: 2, DOCUMENTS_REQUESTED: 3, UNDER_CONTROL: 3,
    REJECTED: 5, RELEASED: 5, INVALIDATED: 6,
}

# Server notification status -> local state.
FROM_SERVER = {
    "received": SUBMITTED,
    "accepted": REGISTERED,
    "registered": REGISTERED,
    "tax_assessed": REGISTERED,
    "under_control": UNDER_CONTROL,
    "control": UNDER_CONTROL,
    "documents_requested": DOCUMENTS_REQUESTED,
    "released": RELEASED,
    "cleared": RELEASED,
    "invalidated": INVALIDATED,
    "rejected": REJECTED,
}


def server_move_allowed(current: str, new: str) -> bool:
    """Whether a state reported by the single window may replace ``current``."""
    if current in EDITABLE or new not in RANK or current not in RANK:
        return False
    if current == new:
        return False
    if current in (RELEASED, REJECTED) and new != INVALIDATED:
        return False
    if current in (UNDER_CONTROL, DOCUMENTS_REQUESTED) and new in (UNDER_CONTROL, DOCUMENTS_REQUESTED):
        return True
    return RANK[new] > RANK[current]


def local_move_allowed(current: str, new: str) -> bool:
    return (current, new) in LOCAL
