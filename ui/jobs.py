"""The work behind the desktop's actions, one plain function per action (no widgets).

Each runs on a background runner: store writes on the writer (:class:`~ui.workers.Op`),
reads and rendering on the reader pool (:class:`~ui.workers.QueryOp`), so that an
autosave never waits for a PDF.  The handlers in :mod:`ui.actions` call exactly one of
these, so each can be pointed at the shared action layer with a one-line change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError
from client.declaration import states
from client.declaration.model import Declaration, new_declaration_id, new_lrn
from client.store import Changes
from client.store import history_notes as notes


@dataclass(frozen=True)
class Created:
    """A declaration the action created, and what changed (for the broadcast)."""

    decl_id: str
    changes: Changes


class ReadyRefused(ComptoirError):
    """Draft -> ready refused: validation still finds errors (listed in ``findings``)."""

    def __init__(self, lrn: str, findings: list[Any]) -> None:
        super().__init__("ui.ready.refused", 1, lrn=lrn)
        self.findings = findings


def create_declaration(store: Any, actor: str, declarant_id: str | None) -> Created:
    """A new draft with a fresh LRN (DE 2/5), the profile's declarant filled in."""
    decl = Declaration(lrn=new_lrn(), declarant={"id": declarant_id} if declarant_id else None)
    return Created(decl.id, store.create(decl, actor))


def copy_declaration(store: Any, src_id: str, actor: str) -> Created:
    """"New from previous": the same content as a new original draft, a new LRN."""
    src = store.get(src_id).declaration
    copy = src.model_copy(update={"id": new_declaration_id(), "version": 1, "lrn": new_lrn(),
                                  "mrn": None, "function": "original", "amends": None},
                          deep=True)
    return Created(copy.id, store.create(copy, actor, note=notes.COPIED_FROM(source=src.id)))


def mark_ready(store: Any, decl_ids: list[str], actor: str) -> Changes:
    """Draft -> ready for each draft among ``decl_ids``, only when none has an error."""
    from client.declaration.validation import has_errors
    from client.seal.sealing import validation_findings

    ready: list[str] = []
    for decl_id in decl_ids:
        st = store.get(decl_id)
        if st.status != states.DRAFT:
            continue
        findings = validation_findings(st.declaration, store, exclude_id=decl_id)
        if has_errors(findings):
            raise ReadyRefused(st.declaration.lrn or decl_id[:8], findings)
        ready.append(decl_id)
    for decl_id in ready:
        store.transition(decl_id, states.READY, actor, note=notes.CHECKED())
    return Changes(declarations=tuple(ready), statuses=bool(ready))


def seal_declarations(sealer: Any, decl_ids: list[str]) -> Changes:
    """Seal each and queue it in the outbox (SealRefused lists the findings)."""
    for decl_id in decl_ids:
        sealer.seal(decl_id)
    return Changes(declarations=tuple(decl_ids), outbox=True, statuses=True)


def amend_declaration(store: Any, decl_id: str, actor: str) -> Changes:
    """Start version n+1 of a declaration the single window has answered."""
    store.new_version(decl_id, actor)
    return Changes(declarations=(decl_id,), statuses=True)


def write_output(path: Path, data: bytes) -> Path:
    """The one file write of an export: atomic and durable, a clear error otherwise."""
    from client.seal.secrets import atomic_write

    try:
        atomic_write(path, data)
    except OSError as exc:
        raise ComptoirError("error.file_unwritable", 2, path=str(path),
                            reason=exc.strerror or str(exc)) from exc
    return path


def export_declaration(store: Any, decl_id: str, path: Path) -> Path:
    """DMS XML for ``.xml``, canonical-shape JSON otherwise (reader pool: no store write)."""
    decl = store.get(decl_id).declaration
    if path.suffix.lower() == ".xml":
        from client.interchange.dms import export_dms

        data = export_dms(decl)
    else:
        data = json.dumps(decl.to_json_dict(), indent=2, ensure_ascii=False).encode("utf-8")
    return write_output(path, data)


def print_declaration(store: Any, decl_id: str, path: Path, lang: str) -> Path:
    """The declaration's PDF print in ``lang`` (reader pool: no store write)."""
    from client.interchange import printing

    st = store.get(decl_id)
    return write_output(path, printing.render_pdf(st.declaration, status=st.status, mrn=st.mrn,
                                                  envelope_hash=st.envelope_hash, lang=lang))


@dataclass(frozen=True)
class FallbackWritten:
    """Fallback documents written to disk, not yet recorded on their declarations."""

    paths: list[Path]
    decl_ids: list[str]


def write_fallback_documents(store: Any, folder: Path, lang: str) -> FallbackWritten:
    """Render each queued (sealed) declaration's fallback PDF into ``folder``.

    Reader pool: reads and renders only; :func:`record_fallback_printed` then records
    them on the writer.  A crash in between leaves documents not yet recorded, which
    the next print writes again: never a record without its document.
    """
    from client.declaration.continuity import rule_for
    from client.interchange import printing
    from client.seal.sealing import fallback_qr_payload, signature_fingerprint

    paths: list[Path] = []
    ids: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    for decl_id in store.list_ids(statuses=[states.SEALED], order_by="created_at",
                                  descending=False):
        st = store.get(decl_id)
        entry = store.journal_entry(declaration_id=decl_id, version=st.declaration.version)
        if entry is None:
            continue
        data = printing.render_fallback_pdf(
            st.declaration, envelope_hash=entry.envelope_hash,
            signature_fingerprint=signature_fingerprint(entry.envelope),
            sealed_at=entry.sealed_at, lang=lang, qr_payload=fallback_qr_payload(entry.envelope),
            document=rule_for(st.declaration).paper_document)
        paths.append(write_output(folder / f"{st.declaration.lrn or decl_id}-fallback.pdf", data))
        ids.append(decl_id)
    return FallbackWritten(paths, ids)


def record_fallback_printed(store: Any, decl_ids: list[str], actor: str) -> Changes:
    """Record on each declaration that its fallback document was printed (writer); a
    transit follows its continuity rule: the paper procedure, out of the outbox for good."""
    from client.declaration.continuity import rule_for

    for decl_id in decl_ids:
        rule = rule_for(store.get(decl_id).declaration)
        if rule.paper_procedure:
            store.to_paper_procedure(decl_id, actor, procedure=rule.procedure)
        else:
            store.mark_fallback_printed(decl_id, actor)
    return Changes(declarations=tuple(decl_ids), outbox=True, statuses=True)
