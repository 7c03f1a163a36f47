"""The declaration lifecycle (DESIGN.md "The declaration"): one state machine.

::

    draft -> ready -> sealed (signed, queued) -> submitted -> registered (MRN)
                                                     |          +-> under_control / documents_requested
                                                     |          +-> released
                                                     |          +-> release_refused (officer)
                                                     |          +-> invalidated
                                                     +-> rejected (lodging refused: no MRN)

Requests about a lodged declaration (UCC Art. 173 and 174) are versions n+1 of it with
their own function (DE 1/2 of the DMS message, "13"): an amendment, a post-release
amendment, an invalidation ("cancellation" in DMS).  Which request the Code allows in
which state is :func:`request_refusal`; while a request is sealed and assessed the
declaration keeps its MRN and its status, and a refused request leaves it as it was.

Local moves (edit, mark ready, seal) are strict.  Moves reported by the single window
arrive over an unreliable network, possibly late or out of order, so they are accepted
whenever they go *forward* (a later stage of processing), and a late "accepted" after
"released" is ignored rather than moving the declaration back.
"""

from __future__ import annotations

from client.common.i18n import Message

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
RELEASE_REFUSED = "release_refused"  # an officer refused release (not a lodging rejection)
# Transit started on paper during an outage (UCC-IA Annex 72-04): it ends on paper and is
# never lodged electronically; no move reported by the single window applies to it.
PAPER_PROCEDURE = "paper_procedure"

STATES = (DRAFT, READY, SEALED, SUBMITTED, REGISTERED, UNDER_CONTROL, DOCUMENTS_REQUESTED,
          RELEASED, INVALIDATED, REJECTED, RELEASE_REFUSED, PAPER_PROCEDURE)

# Request functions (Declaration.function): a version that asks something of a lodged one.
ORIGINAL = "original"
AMENDMENT = "amendment"  # Art. 173(1): before release
POST_RELEASE_AMENDMENT = "post_release_amendment"  # Art. 173(3): a separate, limited request
INVALIDATION = "cancellation"  # Art. 174 (DMS calls the request "cancellation")
REQUESTS = frozenset({AMENDMENT, POST_RELEASE_AMENDMENT, INVALIDATION})

EDITABLE = frozenset({DRAFT, READY})
IMMUTABLE = frozenset(STATES) - EDITABLE
NEEDS_ACTION = frozenset({REJECTED, DOCUMENTS_REQUESTED, UNDER_CONTROL})
FINAL = frozenset({RELEASED, INVALIDATED, REJECTED, RELEASE_REFUSED, PAPER_PROCEDURE})

# Local, user-driven transitions.
LOCAL = {
    (DRAFT, READY), (READY, DRAFT), (READY, SEALED),
}

# Processing rank for transitions reported by the single window.
RANK = {
    SEALED: 0, SUBMITTED: 1, REGISTERED: 2, DOCUMENTS_REQUESTED: 3, UNDER_CONTROL: 3,
    REJECTED: 5, RELEASED: 5, RELEASE_REFUSED: 5, INVALIDATED: 6,
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
    "release_refused": RELEASE_REFUSED,
}

# Answers to a request (DMS response types), applied by the store to the declaration that
# asked: none of them changes its status but "invalidated" (DMSINV), which FROM_SERVER has.
REQUEST_ANSWERS = {
    "amended": "accepted",  # DMSRES (07): amendment accepted
    "cancellation_granted": "accepted",  # DMSREQ (11) status 39
    "cancellation_denied": "refused",  # DMSREQ (11) status 41
}


def server_move_allowed(current: str, new: str) -> bool:
    """Whether a state reported by the single window may replace ``current``."""
    if current in EDITABLE or new not in RANK or current not in RANK:
        return False
    if current == new:
        return False
    if current in (RELEASED, REJECTED, RELEASE_REFUSED) and new != INVALIDATED:
        return False
    if current in (UNDER_CONTROL, DOCUMENTS_REQUESTED) and new in (UNDER_CONTROL, DOCUMENTS_REQUESTED):
        return True
    return RANK[new] > RANK[current]


def local_move_allowed(current: str, new: str) -> bool:
    return (current, new) in LOCAL


# Why the Code refuses a request in a state (UCC Art. 173 amendment, Art. 174 invalidation).
_REFUSALS: dict[str, dict[str, str]] = {
    AMENDMENT: {
        SUBMITTED: "not_accepted",  # Art. 173(1): only an accepted declaration (an MRN)
        UNDER_CONTROL: "examination_notified",  # Art. 173(1)(a)
        DOCUMENTS_REQUESTED: "examination_notified",  # Art. 173(1)(a): a documentary check
        RELEASE_REFUSED: "found_incorrect",  # Art. 173(1)(b): particulars found incorrect
        RELEASED: "after_release",  # Art. 173(1)(c): post-release amendment instead
        INVALIDATED: "invalidated",
    },
    POST_RELEASE_AMENDMENT: {
        SUBMITTED: "not_released", REGISTERED: "not_released",
        UNDER_CONTROL: "not_released", DOCUMENTS_REQUESTED: "not_released",
        RELEASE_REFUSED: "not_released", INVALIDATED: "invalidated",
    },
    INVALIDATION: {
        SUBMITTED: "not_accepted",
        UNDER_CONTROL: "examination_pending",  # Art. 174(2): not until the examination is done
        DOCUMENTS_REQUESTED: "examination_pending",
        RELEASED: "invalidate_after_release",  # Art. 174(1), IA Art. 148: not by this request
        RELEASE_REFUSED: "found_incorrect",
        INVALIDATED: "invalidated",
    },
}


def request_refusal(status: str, function: str, mrn: str | None) -> Message | None:
    """Why the Code refuses ``function`` (a request) on a declaration in ``status``, as a
    translatable message naming the article, or None when it may be made.

    A rejected lodging is not a request's business: it is corrected by a new original.
    """
    if function not in REQUESTS:
        return Message("lifecycle.refused.not_a_request", {"function": function})
    if status == REJECTED:
        return Message("lifecycle.refused.rejected_resubmit", {})
    reason = _REFUSALS[function].get(status)
    if reason is None and not mrn:
        reason = "not_accepted"
    if reason is None and status not in (REGISTERED, RELEASED):
        reason = "not_lodged"
    if reason is None:
        return None
    return Message(f"lifecycle.refused.{reason}",
                   {"status": Message(f"lifecycle.status.{status}"),
                    "request": Message(f"lifecycle.request.{function}")})

