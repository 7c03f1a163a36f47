"""A declaration out of the store: JSON, sealed envelope, WCO DMS XML, the PDF print and
the fallback document.

Rendering (:func:`render_export`) only reads, so a front end may run it away from the
writer; :func:`export_to_file` then writes the bytes through the one atomic write
(:func:`client.common.files.atomic_write`): the path holds the old file or the whole new
one, never a part.  Printing a fallback document is recorded on the declaration, after
the file is safely written (a failed write records nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.files import atomic_write
from client.common.i18n import ComptoirError, language
from client.declaration.model import Declaration
from client.seal.sealing import fallback_qr_payload, signature_fingerprint
from client.store import Changes, JournalEntry, Store, Stored

FORMATS = ("json", "envelope", "dms-xml", "pdf", "fallback-pdf")
FILE_ONLY = frozenset({"pdf", "fallback-pdf"})  # binary documents: never to a terminal
MEDIA_TYPES = {"json": "application/json", "envelope": "application/jose+json",
               "dms-xml": "application/xml", "pdf": "application/pdf",
               "fallback-pdf": "application/pdf"}


@dataclass(frozen=True)
class Exported:
    """A file written: where, in which format, how many bytes."""

    path: Path
    format: str
    size: int
    declaration_id: str

    @property
    def changes(self) -> Changes:
        """Only a fallback document is recorded on its declaration."""
        return Changes(declarations=(self.declaration_id,)) if self.format == "fallback-pdf" \
            else Changes()


def json_text(value: Any) -> str:
    """The project's JSON form of a document: indented, UTF-8 as is."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def write_file(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically; a failure is one clear error."""
    try:
        atomic_write(Path(path), data, mode=mode)
    except OSError as exc:
        raise ComptoirError("error.file_unwritable", 2, path=str(path),
                            reason=exc.strerror or str(exc)) from exc


def export_format_for(path: Path) -> str:
    """The format a chosen file name asks for: ``.xml`` is DMS XML, anything else JSON."""
    return "dms-xml" if Path(path).suffix.lower() == ".xml" else "json"


def sealed_entry(store: Store, decl_id: str, version: int) -> JournalEntry:
    """The journal entry of a declaration's version; refuses one not sealed yet."""
    entry = store.journal_entry(declaration_id=decl_id, version=version)
    if entry is None:
        raise ComptoirError("export.not_sealed", 2, id=decl_id)
    return entry


def render_declaration_pdf(st: Stored, *, lang: str | None = None) -> bytes:
    """The declaration print (any status; sealed ones carry their envelope hash)."""
    from client.interchange import printing  # reportlab: loaded when a PDF is made

    return printing.render_pdf(st.declaration, status=st.status, mrn=st.mrn,
                               envelope_hash=st.envelope_hash, lang=lang or language())


def render_fallback_pdf(decl: Declaration, entry: JournalEntry, *,
                        lang: str | None = None) -> bytes:
    """The paper document the continuity rule of ``decl`` names (a fallback SAD, or the
    offline transit accompanying document with its list of items) for a sealed version:
    its hash, the signature's fingerprint and a QR code carrying the envelope."""
    from client.declaration.continuity import rule_for
    from client.interchange import printing

    return printing.render_fallback_pdf(
        decl, envelope_hash=entry.envelope_hash,
        signature_fingerprint=signature_fingerprint(entry.envelope),
        sealed_at=entry.sealed_at, lang=lang or language(),
        qr_payload=fallback_qr_payload(entry.envelope),
        document=rule_for(decl).paper_document)


def render_export(store: Store, decl_id: str, fmt: str, *, lang: str | None = None) -> bytes:
    """The bytes of one export format (reads only; nothing is recorded)."""
    if fmt not in FORMATS:
        raise ComptoirError("export.bad_format", 2, format=fmt, known=", ".join(FORMATS))
    st = store.get(decl_id)
    decl = st.declaration
    if fmt == "json":
        return json_text(decl.to_json_dict()).encode("utf-8")
    if fmt == "envelope":
        return json_text(sealed_entry(store, decl_id, decl.version).envelope).encode("utf-8")
    if fmt == "dms-xml":
        from client.interchange.dms import export_dms  # lxml: loaded when XML is made

        return export_dms(decl)
    if fmt == "pdf":
        return render_declaration_pdf(st, lang=lang)
    return render_fallback_pdf(decl, sealed_entry(store, decl_id, decl.version), lang=lang)


def export_to_file(store: Store, decl_id: str, fmt: str, path: Path, *, actor: str,
                   lang: str | None = None, data: bytes | None = None) -> Exported:
    """Render (or take the already rendered ``data``) and write atomically; a fallback
    document is then recorded as printed by ``actor``."""
    if data is None:
        data = render_export(store, decl_id, fmt, lang=lang)
    write_file(path, data)
    if fmt == "fallback-pdf":
        store.mark_fallback_printed(decl_id, actor)
    return Exported(Path(path), fmt, len(data), decl_id)


def print_declaration(store: Store, decl_id: str, path: Path, *, actor: str,
                      lang: str | None = None) -> Exported:
    """"Print": the declaration as a PDF file (the desktop's print action)."""
    return export_to_file(store, decl_id, "pdf", path, actor=actor, lang=lang)
