"""Fallback documents for the paper procedure during an outage (DESIGN.md "Business
continuity").

Near the maximum acceptable outage the post prints a fallback document for each
declaration sealed and still queued; each print is recorded on its declaration
(``store.mark_fallback_printed``) once its file is safely written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client.common.i18n import ComptoirError
from client.declaration import states
from client.declaration.model import Declaration
from client.services.exports import render_fallback_pdf, write_file
from client.store import Changes, Store

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


def queued_for_fallback(store: Store) -> list[str]:
    """The declarations sealed and waiting for the single window, oldest first."""
    return store.list_ids(statuses=[states.SEALED], order_by="created_at", descending=False)


def print_fallback_documents(store: Store, actor: str, folder: Path, *,
                             lang: str | None = None,
                             on_progress: Callable[[int, int], None] | None = None
                             ) -> FallbackPrinted:
    """Render each queued declaration's fallback PDF into ``folder`` (made if missing),
    write it atomically and record it.  ``on_progress(done, total)`` after each."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ComptoirError("error.file_unwritable", 2, path=str(folder),
                            reason=exc.strerror or str(exc)) from exc
    ids = queued_for_fallback(store)
    written: list[Path] = []
    touched: list[str] = []
    taken: set[str] = set()
    for n, decl_id in enumerate(ids, 1):
        st = store.get(decl_id)
        entry = store.journal_entry(declaration_id=decl_id, version=st.declaration.version)
        if entry is not None:
            path = folder / fallback_file_name(st.declaration, taken)
            taken.add(path.name)
            write_file(path, render_fallback_pdf(st.declaration, entry, lang=lang))
            store.mark_fallback_printed(decl_id, actor)
            written.append(path)
            touched.append(decl_id)
        if on_progress is not None:
            on_progress(n, len(ids))
    return FallbackPrinted(written, tuple(touched))
