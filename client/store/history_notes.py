"""History notes: what happened to a declaration, stored as a message code, rendered late.

A history row's ``note`` holds the code of what happened (``history.note.sealed`` …) and
its ``detail`` JSON holds the code's parameters beside the facts recorded there already
(journal seq, MRN, the single window's errors).  The front ends render the note with
:func:`history_message` in the user's language at display time, so a French user reads
French whatever language the row was written in.

Why no new column (and no migration): the history table is append-only — triggers refuse
UPDATE and DELETE, on purpose — so the rows written before codes existed can never be
rewritten; a new column would sit empty beside them for ever.  ``note`` and ``detail``
already mean "a short note" and "JSON codes and parameters", and every code starts with
``history.note.``, a prefix no English note ever had.  A note that is not a declared code
is therefore an old free-text note, and it is shown exactly as it was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.common.i18n import Message, catalogue
from client.store.types import HistoryEntry

PREFIX = "history.note."
AS_WRITTEN = "history.note_as_written"  # an old row's free text, shown as it is


@dataclass(frozen=True)
class NoteKind:
    """One kind of history note: its message code and the parameters it takes."""

    code: str
    params: tuple[str, ...] = ()

    def __call__(self, **params: Any) -> Message:
        """The note for one event; the parameters must be exactly the declared ones."""
        if set(params) != set(self.params):
            raise TypeError(f"{self.code} takes {self.params}, got {tuple(sorted(params))}")
        return Message(self.code, params)


CREATED = NoteKind(PREFIX + "created")
IMPORTED = NoteKind(PREFIX + "imported")
IMPORTED_FROM = NoteKind(PREFIX + "imported_from", ("file",))
COPIED_FROM = NoteKind(PREFIX + "copied_from", ("source",))
FROM_TEMPLATE = NoteKind(PREFIX + "from_template", ("template",))
DEMO_SEED = NoteKind(PREFIX + "demo_seed")
TRAINING_EXAMPLE = NoteKind(PREFIX + "training_example")  # written by the training seed
EDITED = NoteKind(PREFIX + "edited")  # a ready declaration edited goes back to draft
CHECKED = NoteKind(PREFIX + "checked")  # checked by the rules and marked ready
NEW_VERSION = NoteKind(PREFIX + "new_version", ("function",))  # DE 1/2 function
SEALED = NoteKind(PREFIX + "sealed", ("seq",))  # the journal's sequence number
RECEIPT = NoteKind(PREFIX + "receipt")
REJECTED = NoteKind(PREFIX + "rejected")
NOTIFICATION = NoteKind(PREFIX + "notification", ("status",))  # the feed's status
FALLBACK_PRINTED = NoteKind(PREFIX + "fallback_printed")
FALLBACK_LINKED = NoteKind(PREFIX + "fallback_linked")
# the single window's answer to a request (amendment, invalidation): the status is kept
REQUEST_ACCEPTED = NoteKind(PREFIX + "request_accepted", ("request", "status"))
REQUEST_REFUSED = NoteKind(PREFIX + "request_refused", ("request",))
# continuity: transit sent to the paper procedure, a lodged one's withdrawal queued
PAPER_PROCEDURE = NoteKind(PREFIX + "paper_procedure", ("procedure",))
WITHDRAWAL_QUEUED = NoteKind(PREFIX + "withdrawal_queued", ("procedure",))
# a transit sent to paper whose envelope had been lodged after all (the answer was lost)
LODGED_BEFORE_PAPER = NoteKind(PREFIX + "lodged_before_paper")
MRN_INVALID = NoteKind(PREFIX + "mrn_invalid", ("mrn",))  # received, check digit wrong

# UK CDS connector (sync/cds): what happened to an attempt to lodge
CDS_LODGED = NoteKind(PREFIX + "cds_lodged", ("via",))  # 202, a notification, conversation
CDS_REFUSED = NoteKind(PREFIX + "cds_refused", ("http_status",))
CDS_UNRESOLVED = NoteKind(PREFIX + "cds_unresolved")
CDS_RESEND = NoteKind(PREFIX + "cds_resend")
CDS_KNOWN_LODGED = NoteKind(PREFIX + "cds_known_lodged")
CDS_WITHDRAWN = NoteKind(PREFIX + "cds_withdrawn")
CDS_EARLIER_TAKEN = NoteKind(PREFIX + "cds_earlier_taken")  # CDS12003 on our own resend
CDS_NOTIFICATION = NoteKind(PREFIX + "cds_notification", ("status",))
# a DMS amendment or cancellation received from outside, applied as the next version
AMENDMENT_APPLIED = NoteKind(PREFIX + "amendment_applied", ("function", "file"))

NOTES: dict[str, NoteKind] = {k.code: k for k in (
    CREATED, IMPORTED, IMPORTED_FROM, COPIED_FROM, FROM_TEMPLATE, DEMO_SEED, EDITED, CHECKED, NEW_VERSION,
    SEALED, RECEIPT, REJECTED, NOTIFICATION, FALLBACK_PRINTED, FALLBACK_LINKED,
    CDS_LODGED, CDS_REFUSED, CDS_UNRESOLVED, CDS_RESEND, CDS_KNOWN_LODGED, CDS_WITHDRAWN,
    CDS_EARLIER_TAKEN, CDS_NOTIFICATION,
    REQUEST_ACCEPTED, REQUEST_REFUSED, MRN_INVALID, PAPER_PROCEDURE, WITHDRAWAL_QUEUED,
    LODGED_BEFORE_PAPER, AMENDMENT_APPLIED, TRAINING_EXAMPLE)}

# parameters that are themselves codes: rendered through their own catalogue entry
_CODED_PARAMS = {"status": "history.feed_status.", "function": "history.function.",
                 "request": "lifecycle.request.", "procedure": "continuity.procedure."}


def note_columns(note: Message | None, detail: dict[str, Any] | None = None,
                 ) -> tuple[str | None, dict[str, Any] | None]:
    """The ``note`` and ``detail`` values a history row stores for ``note``.

    The note's parameters join the event's ``detail``; a code that is not declared is a
    programming error, refused before anything is written.
    """
    if note is None:
        return None, detail or None
    if not isinstance(note, Message) or note.code not in NOTES:
        raise TypeError(f"not a declared history note: {note!r}")
    merged = {**(detail or {}), **note.params}
    return note.code, merged or None


def history_message(entry: HistoryEntry) -> Message:
    """What the history shows for ``entry``: its note in the user's language.

    A declared code is rendered with its parameters taken from the entry's detail; any
    other note (rows written before notes were codes) is shown as written.
    """
    kind = NOTES.get(entry.note or "")
    if kind is None:
        return Message(AS_WRITTEN, {"text": entry.note or ""})
    detail = entry.detail or {}
    params: dict[str, Any] = {}
    for name in kind.params:
        value = detail.get(name, "-")
        prefix = _CODED_PARAMS.get(name)
        if prefix and isinstance(value, str) and prefix + value in catalogue("en"):
            value = Message(prefix + value)
        params[name] = value
    return Message(kind.code, params)


__all__ = ["AMENDMENT_APPLIED", "AS_WRITTEN", "CHECKED", "COPIED_FROM", "CREATED", "DEMO_SEED", "EDITED",
           "FROM_TEMPLATE",
           "FALLBACK_LINKED", "FALLBACK_PRINTED", "IMPORTED", "IMPORTED_FROM", "NEW_VERSION",
           "MRN_INVALID", "NOTES", "NOTIFICATION", "PAPER_PROCEDURE", "WITHDRAWAL_QUEUED", "NoteKind", "PREFIX", "RECEIPT", "REJECTED",
           "REQUEST_ACCEPTED", "REQUEST_REFUSED", "SEALED",
           "TRAINING_EXAMPLE", "history_message", "note_columns"]
