"""Fallback documents for the paper procedure during an outage (DESIGN.md "Business
continuity").

Near the maximum acceptable outage the post prints a fallback document for each
declaration sealed and still queued; each print is recorded on its declaration
(``store.mark_fallback_printed``) once its file is safely written.  The command line does
both in one call (:func:`print_fallback_documents`); the desktop writes the documents off
its writer (:func:`write_fallback_documents`) and records them on it
(:func:`record_fallback_printed`).
The continuity rule
of the declaration's procedure (:mod:`client.declaration.continuity`) decides what
follows: import and export are lodged electronically after recovery and linked to their
paper copy; transit goes to the paper procedure, out of the outbox for good, and a transit
declaration already lodged gets its withdrawal queued instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, Message
from client.declaration import states
from client.declaration.continuity import lodge_by, rule_for
from client.declaration.model import Declaration
from client.services.exports import render_fallback_pdf, write_file
from client.store import Changes, JournalEntry, Store, Stored
from client.store import history_notes as notes

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FallbackPrinted:
    """The files written, in the order of sealing, and the declarations recorded."""

    paths: list[Path]
    declaration_ids: tuple[str, ...]

    @property
    def changes(self) -> Changes:
        return Changes(declarations=self.declaration_ids)


def fallback_file_name(decl: Declaration, taken: set[str] | None = None) -> str:
    """``<LRN>-fallback.pdf``: the LRN (DE 2/5) is the trader's own reference, but it is
    free text, so anything but letters, digits, ``.``, ``_`` and ``-`` becomes ``_`` and the
    file stays inside the chosen folder.  A name already in ``taken`` (two LRNs alike once
    cleaned) gets the declaration's id as well, so that no document replaces another."""
    stem = _UNSAFE.sub("_", decl.lrn or "").strip("._") or decl.id
    name = f"{stem}-fallback.pdf"
    if taken is not None and name in taken:
        name = f"{stem}-{decl.id}-fallback.pdf"
    return name


def lodging_deadline(st: Stored) -> str | None:
    """When a declaration printed as a fallback document must be lodged electronically
    (the rule table's deadline from the print), or None when nothing is due."""
    return lodge_by(st.declaration, st.status, st.fallback_printed_at,
                    st.lodged_after_fallback_at)


def queued_for_fallback(store: Store) -> list[str]:
    """The declarations sealed and waiting for the single window, oldest first."""
    return store.list_ids(statuses=[states.SEALED], order_by="created_at", descending=False)


@dataclass(frozen=True)
class FallbackOne:
    """One declaration's paper document: where it was written (None when no file was
    asked for), and whether its movement now ends on paper or its withdrawal is queued."""

    declaration_id: str
    path: Path | None
    paper_procedure: bool
    withdrawal: JournalEntry | None
    changes: Changes


def fallback_declaration(store: Store, sealer: Any, actor: str, decl_id: str,
                         output: Path | None, *, lang: str | None = None) -> FallbackOne:
    """``comptoir fallback ID``: the paper document the declaration's continuity rule
    names, printed from its sealed version (the QR code carries the sealed envelope), then
    the rule followed and recorded in the history.

    Import, export and the other lodge-after procedures: only while sealed and queued (a
    declaration already lodged needs no paper, one never sealed has no envelope to carry);
    the print is recorded, and the later electronic lodging is linked to it.  Transit: the
    offline transit accompanying document, then the paper procedure (out of the outbox for
    good), or, when it was already lodged, its withdrawal queued.  ``output`` None writes
    ``<LRN>-fallback.pdf`` in the working folder.  Refusals leave the store unchanged.
    """
    st = store.get(decl_id)
    decl = st.declaration
    rule = rule_for(decl)
    ident = decl.lrn or decl_id
    if rule.paper_document == "none":
        raise ComptoirError("fallback.no_paper", 2, id=ident,
                            procedure=Message(f"continuity.procedure.{rule.procedure}"))
    if st.status == states.PAPER_PROCEDURE:
        raise ComptoirError("fallback.already_paper", 2, id=ident)
    if not rule.paper_procedure and st.status != states.SEALED:
        if st.status in (states.DRAFT, states.READY):
            raise ComptoirError("fallback.not_sealed", 2, id=ident)
        if st.mrn:
            raise ComptoirError("fallback.already_lodged", 2, id=ident,
                                status=Message(f"status.{st.status}"), mrn=st.mrn)
        raise ComptoirError("fallback.not_queued", 2, id=ident,
                            status=Message(f"status.{st.status}"))
    lodged = st.status not in (states.DRAFT, states.READY, states.SEALED)
    if rule.paper_procedure and lodged:
        refusal = states.request_refusal(st.status, states.INVALIDATION, st.mrn)
        if refusal is not None:  # checked before any file is written
            raise ComptoirError(refusal.code, 2, **refusal.params)
    entry = store.journal_entry(declaration_id=decl_id, version=decl.version)
    if entry is None and rule.paper_procedure:
        entry = store.journal_entry(declaration_id=decl_id)  # the version lodged
    if entry is None:
        raise ComptoirError("fallback.not_sealed", 2, id=ident)
    path = Path(output) if output is not None else Path(fallback_file_name(decl))
    write_file(path, render_fallback_pdf(decl, entry, lang=lang))
    if not rule.paper_procedure:
        return FallbackOne(decl_id, path, False, None, store.mark_fallback_printed(decl_id, actor))
    done = send_to_paper_procedure(store, sealer, actor, decl_id)
    return FallbackOne(decl_id, path, done.withdrawal is None, done.withdrawal, done.changes)


@dataclass(frozen=True)
class FallbackWritten:
    """Fallback documents written whole to disk, not yet recorded on their declarations."""

    paths: list[Path]
    declaration_ids: tuple[str, ...]


def _written_documents(store: Store, folder: Path, lang: str | None,
                       on_progress: Callable[[int, int], None] | None
                       ) -> Iterator[tuple[str, Path]]:
    """Render and atomically write each queued declaration's fallback PDF into ``folder``
    (made if missing), yielding ``(id, path)`` after each write; progress after each."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ComptoirError("error.file_unwritable", 2, path=str(folder),
                            reason=exc.strerror or str(exc)) from exc
    ids = queued_for_fallback(store)
    taken: set[str] = set()
    for n, decl_id in enumerate(ids, 1):
        st = store.get(decl_id)
        entry = store.journal_entry(declaration_id=decl_id, version=st.declaration.version)
        if entry is not None and rule_for(st.declaration).paper_document != "none":
            path = folder / fallback_file_name(st.declaration, taken)
            taken.add(path.name)
            write_file(path, render_fallback_pdf(st.declaration, entry, lang=lang))
            yield decl_id, path
        if on_progress is not None:
            on_progress(n, len(ids))


def write_fallback_documents(store: Store, folder: Path, *, lang: str | None = None,
                             on_progress: Callable[[int, int], None] | None = None
                             ) -> FallbackWritten:
    """The documents only: reads the store and writes files, records nothing (so the
    desktop runs it on its reader pool and :func:`record_fallback_printed` on the writer;
    a crash in between leaves documents unrecorded, never a record without its document)."""
    pairs = list(_written_documents(store, folder, lang, on_progress))
    return FallbackWritten([p for _d, p in pairs], tuple(d for d, _p in pairs))


def record_fallback_printed(store: Store, actor: str,
                            written: FallbackWritten) -> FallbackPrinted:
    """Record on each declaration that its fallback document was printed by ``actor``."""
    for decl_id in written.declaration_ids:
        _record_printed(store, decl_id, actor)
    return FallbackPrinted(list(written.paths), written.declaration_ids)


def _record_printed(store: Store, decl_id: str, actor: str) -> None:
    """The print recorded as its procedure's continuity rule says: a transit goes to the
    paper procedure, out of the outbox for good (Annex 72-04); others keep their fallback."""
    rule = rule_for(store.get(decl_id).declaration)
    if rule.paper_procedure:
        store.to_paper_procedure(decl_id, actor, procedure=rule.procedure)
    else:
        store.mark_fallback_printed(decl_id, actor)


def print_fallback_documents(store: Store, actor: str, folder: Path, *,
                             lang: str | None = None,
                             on_progress: Callable[[int, int], None] | None = None
                             ) -> FallbackPrinted:
    """Render each queued declaration's fallback PDF into ``folder`` (made if missing),
    write it atomically and record it, one after the other.  ``on_progress(done, total)``
    after each."""
    written: list[Path] = []
    touched: list[str] = []
    for decl_id, path in _written_documents(store, folder, lang, on_progress):
        _record_printed(store, decl_id, actor)
        written.append(path)
        touched.append(decl_id)
    return FallbackPrinted(written, tuple(touched))


@dataclass(frozen=True)
class PaperProcedure:
    """A transit declaration sent to the paper procedure; ``withdrawal`` is the sealed
    invalidation request queued when it had already been lodged."""

    declaration_id: str
    withdrawal: JournalEntry | None
    changes: Changes


def send_to_paper_procedure(store: Store, sealer: Any, actor: str, decl_id: str
                            ) -> PaperProcedure:
    """Follow the continuity rule of a declaration whose movement goes on paper.

    Not lodged yet (draft, ready, sealed and queued): out of the outbox, into the paper
    procedure.  Already lodged: its withdrawal (an invalidation request, refused with
    the Code's reason where the Code refuses it) is sealed and queued.  A procedure whose
    rule is to lodge after recovery (import, export) is refused: it keeps its fallback.
    """
    st = store.get(decl_id)
    rule = rule_for(st.declaration)
    if not rule.paper_procedure:
        raise ComptoirError("continuity.not_paper_procedure", 2,
                            id=st.declaration.lrn or decl_id,
                            procedure=Message(f"continuity.procedure.{rule.procedure}"))
    if st.status in (states.DRAFT, states.READY, states.SEALED, states.PAPER_PROCEDURE):
        return PaperProcedure(decl_id, None,
                              store.to_paper_procedure(decl_id, actor,
                                                       procedure=rule.procedure))
    store.new_version(decl_id, actor, function=states.INVALIDATION)
    entry = sealer.seal(decl_id)
    store.note_continuity(decl_id, actor, notes.WITHDRAWAL_QUEUED(procedure=rule.procedure),
                          {"seq": entry.seq})
    return PaperProcedure(decl_id, entry,
                          Changes(declarations=(decl_id,), outbox=True, statuses=True))


def queue_owed_withdrawals(store: Store, sealer: Callable[[], Any], actor: str
                           ) -> list[PaperProcedure]:
    """Queue the withdrawal of every transit sent to paper that the single window turns
    out to have lodged (its answer was lost before it went on paper): UCC-IA Annex 72-04
    wants an LRN already lodged withdrawn.  ``sealer`` is called only when one is owed."""
    owed = store.withdrawals_owed()
    if not owed:
        return []
    with_key = sealer()
    return [send_to_paper_procedure(store, with_key, actor, decl_id) for decl_id in owed]
