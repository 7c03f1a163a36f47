"""Declarations into the store from files: the project's JSON form, or WCO DMS XML.

Two steps, so that a bad file never changes the store: :func:`read_import` reads and
checks every file (size, depth, schema, the model) and :func:`commit_import` checks for
duplicates before it stores anything.  :func:`import_files` does both for a caller that
already holds the store.

A DMS file not valid against the DEC-DMS schema is refused with its errors
(:class:`~client.interchange.dms.DmsSchemaError`) unless read ``lenient``.  A DMS amendment
or cancellation is applied onto the stored declaration it names (its next version), or held
as pending until that declaration is imported; every declaration imported applies the
pending amendments that name it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, Message
from client.declaration.amendment import validate_received
from client.declaration.model import Declaration
from client.declaration.validation import validate
from client.interchange.dms import DmsImport, import_dms_file
from client.interchange.json_io import read_declarations
from client.store import Changes, Store
from client.store import history_notes as notes

_CHANGES = ("amendment", "cancellation")


@dataclass(frozen=True)
class ImportedItem:
    """One declaration stored, or one XML file that held none (with why)."""

    file: Path | None
    declaration_id: str | None
    kind: str
    lrn: str | None = None
    unmapped: tuple[str, ...] = ()
    message: Message | None = None
    # DMS: schema errors of a file read leniently; what an export would normalise
    schema_errors: tuple[Any, ...] = ()
    normalised: tuple[Any, ...] = ()
    # a DMS amendment or cancellation: "applied" (as ``version`` of ``declaration_id``)
    # or "pending" (``pending_id``), with the error count of the check it had as such
    applied: str | None = None
    version: int | None = None
    pending_id: int | None = None
    mrn: str | None = None
    errors: int | None = None
    amendments_applied: tuple[int, ...] = ()  # pending ones applied onto this declaration


@dataclass
class PendingImport:
    """Files read and checked, nothing stored yet."""

    files: list[Path]
    declarations: list[Declaration] = field(default_factory=list)  # the JSON form
    dms: list[DmsImport] | None = None  # DMS XML: one result per file

    @property
    def is_xml(self) -> bool:
        return self.dms is not None


@dataclass
class ImportReport:
    items: list[ImportedItem]
    xml: bool

    @property
    def ok(self) -> bool:
        return all(i.declaration_id or i.pending_id for i in self.items)

    @property
    def changes(self) -> Changes:
        return Changes(declarations=tuple(i.declaration_id for i in self.items
                                          if i.declaration_id))

    @property
    def exit_code(self) -> int:
        """0 when every file gave a declaration; 1 when the rest were notifications
        (valid DMS, just not declarations), 2 for anything else."""
        if self.ok:
            return 0
        return max(1 if i.kind == "notification" else 2
                   for i in self.items if not (i.declaration_id or i.pending_id))


def read_import(files: Sequence[Path], *, lenient: bool = False) -> PendingImport:
    """Read and check every file before the store is touched.

    Any ``.xml`` among them makes the whole batch DMS XML; otherwise each file is the JSON
    form (one declaration or an array).  The first bad file raises its error (a DMS file
    not valid against the schema: unless ``lenient``).
    """
    files = [Path(f) for f in files]
    if any(f.suffix.lower() == ".xml" for f in files):
        return PendingImport(files, dms=[import_dms_file(f, lenient=lenient) for f in files])
    decls: list[Declaration] = []
    for f in files:
        decls.extend(read_declarations(f))
    return PendingImport(files, declarations=decls)


def _refuse_duplicates(store: Store, decls: Sequence[Declaration]) -> None:
    seen: set[str] = set()
    for d in decls:
        if d.id in seen or store.exists(d.id):
            raise ComptoirError("import.duplicate_id", 2, id=d.id)
        seen.add(d.id)


def commit_import(store: Store, actor: str, pending: PendingImport) -> ImportReport:
    """Store what :func:`read_import` read; a declaration already in the profile (or twice
    in the batch) refuses the whole batch before anything is stored.

    The JSON form goes in as one transaction; each DMS declaration is stored with its
    original file attached (never dropping an element the model does not map).
    """
    if pending.dms is None:
        _refuse_duplicates(store, pending.declarations)
        store.create_many(pending.declarations, actor, note=notes.IMPORTED())
        return ImportReport([ImportedItem(None, d.id, "declaration", d.lrn)
                             for d in pending.declarations], xml=False)
    _refuse_duplicates(store, [r.declaration for r in pending.dms if r.declaration is not None
                               and r.kind not in _CHANGES])
    items: list[ImportedItem] = []
    for f, r in zip(pending.files, pending.dms, strict=True):
        d = r.declaration
        if d is None:
            items.append(ImportedItem(f, None, r.kind, unmapped=tuple(r.unmapped),
                                      message=r.message))
            continue
        dms = {"schema_errors": tuple(r.schema_errors), "normalised": tuple(r.report())}
        if r.kind in _CHANGES:
            got = store.receive_amendment(d, actor, source=f.name, original=r.original)
            found = validate(store.get(got.declaration_id).declaration) \
                if got.declaration_id else validate_received(d)
            items.append(ImportedItem(
                f, got.declaration_id, r.kind, d.lrn, tuple(r.unmapped), r.message, **dms,
                applied=got.status, version=got.version, pending_id=got.pending_id, mrn=d.mrn,
                errors=sum(x.severity == "error" for x in found)))
            continue
        store.create(d, actor, note=notes.IMPORTED_FROM(file=f.name))
        store.add_attachment(d.id, f.name, "application/xml", r.original)
        applied = store.apply_pending(d.id, actor)
        items.append(ImportedItem(f, d.id, r.kind, d.lrn, tuple(r.unmapped), r.message, **dms,
                                  amendments_applied=tuple(a.pending_id or 0 for a in applied)))
    return ImportReport(items, xml=True)


def import_files(store: Store, actor: str, files: Sequence[Path], *,
                 lenient: bool = False) -> ImportReport:
    """Read, check and store ``files`` (see :func:`read_import`, :func:`commit_import`)."""
    return commit_import(store, actor, read_import(files, lenient=lenient))
