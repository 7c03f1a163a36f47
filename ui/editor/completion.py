"""Pickers over the reference data: every coded field is searchable by code or by name.

A trader knows "Germany", "road" or "commercial invoice", not DE, 3 or N935.  The popup
lists ``code — name`` in the user's language; typing filters it by every word typed,
found anywhere in the code or the name (accents and case ignored), so "allem" finds
"DE — Allemagne" and "935" finds "N935 — Facture commerciale".  What is inserted is the
code alone (the completion role is EditRole).  F4 or Alt+Down opens the whole list.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import QCompleter, QLineEdit

from client.common.i18n import DEFAULT_LANGUAGE, language

Index = QModelIndex | QPersistentModelIndex
SearchRole = Qt.ItemDataRole.UserRole + 7


def fold(text: str) -> str:
    """Case- and accent-free form for matching ("Équateur" ~ "equateur")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class CompletionModel(QAbstractListModel):
    """A fixed list of (code, label) pairs."""

    def __init__(self, entries: list[tuple[str, str]], parent: Any = None) -> None:
        super().__init__(parent)
        self._entries = entries
        self._folded = [fold(f"{c} {lbl}") for c, lbl in entries]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        code, label = self._entries[index.row()]
        if role == Qt.ItemDataRole.EditRole:
            return code
        if role == SearchRole:
            return self._folded[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return f"{code} — {label}" if label and label != code else code
        return None


class WordFilter(QSortFilterProxyModel):
    """Rows whose code or name holds every word typed; codes that start with the text
    typed come first (typing "FR" puts France before Africa)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.words: list[str] = []
        self.prefix = ""
        self.setDynamicSortFilter(False)

    def set_text(self, text: str) -> None:
        self.words = fold(text).split()[:8]
        self.prefix = fold(text.strip())
        self.invalidate()
        self.sort(0 if self.prefix else -1)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802 - Qt API
        if not self.words:
            return True
        text = self.sourceModel().index(row, 0, parent).data(SearchRole) or ""
        return all(w in text for w in self.words)

    def lessThan(self, left: Index, right: Index) -> bool:  # noqa: N802 - Qt API
        def rank(i: Index) -> tuple[int, int]:
            code = fold(str(i.data(Qt.ItemDataRole.EditRole)))
            return (0 if code.startswith(self.prefix) else 1, i.row())
        return rank(left) < rank(right)


@cache
def _entries(refdata_id: int, list_name: str, lang: str, refdata: Any) -> list[tuple[str, str]]:
    entries = refdata.completions(list_name, "", lang, limit=100_000)
    if list_name == "commodity_codes":  # subheadings (6 digits) are what a line declares
        chapters = {c: lbl for c, lbl in entries if len(c) == 2
                    and lbl != refdata.hs_description(c, DEFAULT_LANGUAGE)}
        # where only the chapters are translated (French), each code names its chapter
        entries = [(c, f"{lbl} ({chapters[c[:2]]})" if c[:2] in chapters else lbl)
                   for c, lbl in entries if len(c) >= 4]
    return entries


@cache
def _names(refdata_id: int, list_name: str, lang: str, refdata: Any) -> dict[str, str]:
    return dict(_entries(refdata_id, list_name, lang, refdata))


def code_name(list_name: str, code: Any, refdata: Any) -> str | None:
    """The name of ``code`` in ``list_name`` in the user's language (None when unknown)."""
    if not isinstance(code, str) or not code:
        return None
    return _names(id(refdata), list_name, language(), refdata).get(code.strip())


class _PickerKeys(QObject):
    """F4 / Alt+Down in a picker's line edit: the whole list, filtered by what is typed."""

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.KeyPress and isinstance(obj, QLineEdit):
            alt_down = event.key() == Qt.Key.Key_Down \
                and event.modifiers() & Qt.KeyboardModifier.AltModifier
            if event.key() == Qt.Key.Key_F4 or alt_down:
                open_picker(obj)
                return True
        return False


_KEYS: _PickerKeys | None = None


def open_picker(edit: QLineEdit, text: str | None = None) -> None:
    """Show the picker's popup, filtered by ``text`` (default: nothing, the whole list)."""
    comp = edit.completer()
    if comp is None or edit.isReadOnly():
        return
    proxy = comp.model()
    if isinstance(proxy, WordFilter):
        proxy.set_text(text or "")
    comp.setCompletionPrefix("")
    comp.complete()


def completer_for(list_name: str, refdata: Any, parent: Any = None) -> QCompleter:
    """A picker's completer: the list behind a word filter, the popup unfiltered by Qt
    (the filter does the matching, by words anywhere in code or name)."""
    comp = QCompleter(parent)
    model = CompletionModel(_entries(id(refdata), list_name, language(), refdata), comp)
    proxy = WordFilter(comp)
    proxy.setSourceModel(model)
    comp.setModel(proxy)
    comp.setCompletionRole(Qt.ItemDataRole.EditRole)
    comp.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    comp.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
    comp.setMaxVisibleItems(12)
    comp.popup().setMinimumWidth(460)  # names are longer than the code field
    comp.setObjectName(f"completer_{list_name}")
    return comp


def attach_picker(edit: QLineEdit, list_name: str, refdata: Any) -> QCompleter:
    """Make ``edit`` a picker of ``list_name``: typing filters, F4 lists everything."""
    global _KEYS
    comp = completer_for(list_name, refdata, edit)
    edit.setCompleter(comp)
    # QLineEdit wires its completer only while it has the focus; a pick must land anyway
    comp.activated.connect(lambda code, e=edit: e.setText(code) if e.text() != code else None)
    edit.setProperty("picker", list_name)
    if not edit.property("picker_wired"):
        edit.setProperty("picker_wired", True)
        edit.textEdited.connect(lambda text, e=edit: _filter(e, text))
        if _KEYS is None:
            _KEYS = _PickerKeys()
        edit.installEventFilter(_KEYS)
    return comp


def _filter(edit: QLineEdit, text: str) -> None:
    comp = edit.completer()
    proxy = comp.model() if comp is not None else None
    if isinstance(proxy, WordFilter):
        proxy.set_text(text)
        if text.strip() and proxy.rowCount():
            comp.setCompletionPrefix("")
            comp.complete()
        else:
            comp.popup().hide()
