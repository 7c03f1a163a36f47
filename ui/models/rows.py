"""Editable rows over a list inside the editor's working document (goods items, documents).

The model edits the very list held by the editor's document dict, so what the table
shows is what gets autosaved.  Edits go through ``edit_hook`` when one is set (the
editor turns them into undoable commands) and otherwise apply at once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ui.i18n import t

PathRole = Qt.ItemDataRole.UserRole + 1  # the column's path relative to the row
Index = QModelIndex | QPersistentModelIndex


def get_in(obj: Any, path: str) -> Any:
    """``packages[0].kind`` inside a plain dict/list structure (None where missing)."""
    from client.declaration.model import split_path

    cur = obj
    for step in split_path(path):
        if isinstance(step, int):
            cur = cur[step] if isinstance(cur, list) and 0 <= step < len(cur) else None
        else:
            cur = cur.get(step) if isinstance(cur, dict) else None
        if cur is None:
            return None
    return cur


def set_in(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set (creating dicts/lists on the way) or, for ``None``/``""``, remove the value."""
    from client.declaration.model import split_path

    steps = split_path(path)
    cur: Any = obj
    for i, step in enumerate(steps[:-1]):
        nxt = steps[i + 1]
        empty: Any = [] if isinstance(nxt, int) else {}
        if isinstance(step, int):
            while len(cur) <= step:
                cur.append({} if not isinstance(nxt, int) else [])
            if not isinstance(cur[step], (dict, list)):
                cur[step] = empty
            cur = cur[step]
        else:
            if not isinstance(cur.get(step), (dict, list)):
                cur[step] = empty
            cur = cur[step]
    last = steps[-1]
    if isinstance(last, int) and (value is None or value == ""):
        if last < len(cur):  # a cleared list entry goes (no empty code in a code list)
            cur.pop(last)
    elif isinstance(last, int):
        while len(cur) <= last:
            cur.append(None)
        cur[last] = value
    elif value is None or value == "":
        cur.pop(last, None)
    else:
        cur[last] = value


class RowsModel(QAbstractTableModel):
    """``columns``: (path within a row, header key) pairs."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[tuple[str, str]],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self._rows = rows
        self.columns = columns
        self.edit_hook: Callable[[int, str, Any], None] | None = None
        # the name of a coded cell's value ("DE" -> "Germany"), shown beside the code
        self.describe: Callable[[dict[str, Any], str], str | None] | None = None

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rows(self) -> list[dict[str, Any]]:
        return self._rows

    def column_of(self, path: str) -> int:
        for i, (p, _) in enumerate(self.columns):
            if p == path:
                return i
        for i, (p, _) in enumerate(self.columns):  # packages[0].kind ~ packages
            if p.split("[")[0].split(".")[0] == path.split("[")[0].split(".")[0]:
                return i
        return -1

    # ---- editing (also called by undo commands) -----------------------------------
    def apply(self, row: int, path: str, value: Any) -> None:
        set_in(self._rows[row], path, value)
        col = self.column_of(path)
        if col >= 0:
            idx = self.index(row, col)
            self.dataChanged.emit(idx, idx)

    def insert(self, row: int, data: dict[str, Any]) -> None:
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, data)
        self.endInsertRows()

    def remove(self, row: int) -> dict[str, Any]:
        self.beginRemoveRows(QModelIndex(), row, row)
        data = self._rows.pop(row)
        self.endRemoveRows()
        return data

    def duplicate_of(self, row: int) -> dict[str, Any]:
        return copy.deepcopy(self._rows[row])

    # ---- Qt model API -----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        path = self.columns[index.column()][0]
        if role == PathRole:
            return path
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole,
                    Qt.ItemDataRole.ToolTipRole):
            value = get_in(self._rows[index.row()], path)
            text = "" if value is None else str(value)
            if role != Qt.ItemDataRole.EditRole and text and self.describe is not None:
                name = self.describe(self._rows[index.row()], path)
                if name and role == Qt.ItemDataRole.DisplayRole and len(name) > 48:
                    name = name[:47].rstrip() + "…"  # the whole name in the tooltip
                if name:
                    return f"{text} — {name}"
            return text
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        path = self.columns[index.column()][0]
        text = "" if value is None else str(value).strip()
        if (get_in(self._rows[index.row()], path) or "") == text:
            return False
        if self.edit_hook is not None:
            self.edit_hook(index.row(), path, text)
        else:
            self.apply(index.row(), path, text)
        return True

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsEditable)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            return t(self.columns[section][1])
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._rows):
            return str(section + 1)
        return None


GOODS_COLUMNS: list[tuple[str, str]] = [
    ("description", "field.description"),
    ("commodity_code", "field.commodity_code"),
    ("country_of_origin", "field.country_of_origin"),
    ("procedure_code", "field.procedure_code"),
    ("additional_procedure_codes[0]", "field.additional_procedure_code"),
    ("packages[0].kind", "field.package_kind"),
    ("packages[0].number", "field.package_number"),
    ("packages[0].marks", "field.package_marks"),
    ("gross_mass", "field.gross_mass"),
    ("net_mass", "field.net_mass"),
    ("item_price", "field.item_price"),
    ("valuation_method", "field.valuation_method"),
]

# A header-level document (DE 2/3) carries only its category, type and reference in DMS
# (rules_cds.HEADER_DOCUMENT_ROOM); its status (LPCOExemptionCode) exists only on a goods
# item's document, so the header table has no status column.
DOCUMENT_COLUMNS: list[tuple[str, str]] = [
    ("category", "field.doc_category"),
    ("type", "field.doc_type"),
    ("reference", "field.doc_reference"),
]
