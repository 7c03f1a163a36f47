"""Declarations into the store from files: the project's JSON form, or WCO DMS XML.

Two steps, so that a bad file never changes the store: :func:`read_import` reads and
checks every file (size, depth, schema, the model) and :func:`commit_import` checks for
duplicates before it stores anything.  :func:`import_files` does both for a caller that
already holds the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from client.common.i18n import ComptoirError, Message
from client.declaration.model import Declaration
from client.interchange.dms import DmsImport, import_dms_file
from client.interchange.json_io import read_declarations
from client.store import Changes, Store
from client.store import history_notes as notes


@dataclass(frozen=True)
class ImportedItem:
    """One declaration stored, or one XML file that held none (with why)."""

    file: Path | None
    declaration_id: str | None
    kind: str
    lrn: str | None = None
    unmapped: tuple[str, ...] = ()
    message: Message | None = None


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
        return all(i.declaration_id for i in self.items)

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
                   for i in self.items if not i.declaration_id)


def read_import(files: Sequence[Path]) -> PendingImport:
    """Read and check every file before the store is touched.

    Any ``.xml`` among them makes the whole batch DMS XML; otherwise each file is the JSON
    form (one declaration or an array).  The first bad file raises its error.
    """
    files = [Path(f) for f in files]
    if any(f.suffix.lower() == ".xml" for f in files):
        return PendingImport(files, dms=[import_dms_file(f) for f in files])
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
    _refuse_duplicates(store, [r.declaration for r in pending.dms if r.declaration is not None])
    items: list[ImportedItem] = []
    for f, r in zip(pending.files, pending.dms, strict=True):
        d = r.declaration
        if d is None:
            items.append(ImportedItem(f, None, r.kind, unmapped=tuple(r.unmapped),
                                      message=r.message))
            continue
        store.create(d, actor, note=notes.IMPORTED_FROM(file=f.name))
        store.add_attachment(d.id, f.name, "application/xml", r.original)
        items.append(ImportedItem(f, d.id, r.kind, d.lrn, tuple(r.unmapped), r.message))
    return ImportReport(items, xml=True)


def import_files(store: Store, actor: str, files: Sequence[Path]) -> ImportReport:
    """Read, check and store ``files`` (see :func:`read_import`, :func:`commit_import`)."""
    return commit_import(store, actor, read_import(files))
