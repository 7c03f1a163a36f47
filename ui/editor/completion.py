"""Completion from the reference data: countries, currencies, Incoterms, package kinds,
commodity codes (and customs offices, transport modes).

The popup shows ``code — label`` in the user's language; what is matched and inserted
is the code alone (the completion role is EditRole).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QCompleter

from client.common.i18n import language

Index = QModelIndex | QPersistentModelIndex


class CompletionModel(QAbstractListModel):
    """A fixed list of (code, label) pairs."""

    def __init__(self, entries: list[tuple[str, str]], parent: Any = None) -> None:
        super().__init__(parent)
        self._entries = entries

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        code, label = self._entries[index.row()]
        if role == Qt.ItemDataRole.EditRole:
            return code
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return f"{code} — {label}" if label and label != code else code
        return None


@cache
def _entries(refdata_id: int, list_name: str, lang: str, refdata: Any) -> list[tuple[str, str]]:
    entries = refdata.completions(list_name, "", lang, limit=100_000)
    if list_name == "commodity_codes":  # subheadings (6 digits) are what a line declares
        entries = [e for e in entries if len(e[0]) >= 4]
    return entries


def completer_for(list_name: str, refdata: Any, parent: Any = None) -> QCompleter:
    comp = QCompleter(parent)
    model = CompletionModel(_entries(id(refdata), list_name, language(), refdata), comp)
    comp.setModel(model)
    comp.setCompletionRole(Qt.ItemDataRole.EditRole)
    comp.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    comp.setFilterMode(Qt.MatchFlag.MatchStartsWith)
    comp.setModelSorting(QCompleter.ModelSorting.CaseInsensitivelySortedModel)
    comp.setMaxVisibleItems(12)
    comp.setObjectName(f"completer_{list_name}")
    return comp
