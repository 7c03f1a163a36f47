"""The declaration table: a lazy model over ids with a row cache (Anki's browser table).

The store sorts and filters in SQL and hands back ids only; rows are fetched from
``store.summaries`` a window at a time as the view asks for them, so 100,000
declarations cost a list of ids and a few hundred cached rows.  Changes mark cached
rows stale (``dataChanged`` for just those rows) instead of resetting the model; only
a change of membership (a new declaration, a status move under a status filter)
re-queries the ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from client.store import Changes, Store, Summary
from ui.i18n import status_label, t

ObjectRole = Qt.ItemDataRole.UserRole + 1  # the row's Summary (None while not cached)
IdRole = Qt.ItemDataRole.UserRole + 2  # the declaration id
SortRole = Qt.ItemDataRole.UserRole + 3  # the store column this view column sorts on

# (header key, Summary attribute, store sort column)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("col.lrn", "lrn", "lrn"),
    ("col.type", "type", "type"),
    ("col.status", "status", "status"),
    ("col.mrn", "mrn", "mrn"),
    ("col.declarant", "declarant", "declarant_name"),
    ("col.items", "items", "items"),
    ("col.updated", "updated_at", "updated_at"),
)
COL_LRN, COL_TYPE, COL_STATUS, COL_MRN, COL_DECLARANT, COL_ITEMS, COL_UPDATED = range(7)
WINDOW = 200  # rows fetched per cache miss

Index = QModelIndex | QPersistentModelIndex


class DeclarationTableModel(QAbstractTableModel):
    def __init__(self, store: Store, parent: Any = None) -> None:
        super().__init__(parent)
        self.store = store
        self._ids: list[str] = []
        self._row_of: dict[str, int] | None = None
        self._cache: dict[str, Summary] = {}
        self.statuses: tuple[str, ...] | None = None
        self.search: str = ""
        self.order_by = "updated_at"
        self.descending = True
        self.fetches = 0  # cache fills (tests check laziness)

    # ---- queries ----------------------------------------------------------------
    def _query(self) -> list[str]:
        return self.store.list_ids(statuses=self.statuses, search=self.search or None,
                                   order_by=self.order_by, descending=self.descending)

    def reload(self) -> None:
        """Re-query the ids (membership or order changed); the cache is dropped."""
        self.beginResetModel()
        self._ids = self._query()
        self._row_of = None
        self._cache.clear()
        self.endResetModel()

    def set_view(self, statuses: Iterable[str] | None) -> None:
        self.statuses = tuple(statuses) if statuses else None
        self.reload()

    def set_search(self, text: str) -> None:
        text = text.strip()
        if text != self.search:
            self.search = text
            self.reload()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        self.layoutAboutToBeChanged.emit()
        self.order_by = COLUMNS[column][2]
        self.descending = order == Qt.SortOrder.DescendingOrder
        self._ids = self._query()
        self._row_of = None
        self._cache.clear()
        self.layoutChanged.emit()

    # ---- ids <-> rows --------------------------------------------------------------
    def id_at(self, row: int) -> str | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, decl_id: str) -> int:
        if self._row_of is None:
            self._row_of = {d: i for i, d in enumerate(self._ids)}
        return self._row_of.get(decl_id, -1)

    def ids(self) -> list[str]:
        return list(self._ids)

    def summary(self, row: int) -> Summary | None:
        decl_id = self.id_at(row)
        if decl_id is None:
            return None
        got = self._cache.get(decl_id)
        if got is None:
            self._fill(row)
            got = self._cache.get(decl_id)
        return got

    def _fill(self, row: int) -> None:
        start = max(0, row - WINDOW // 4)
        window = [i for i in self._ids[start:start + WINDOW] if i not in self._cache]
        if not window:
            return
        self.fetches += 1
        if len(self._cache) > 20 * WINDOW:  # keep memory flat while scrolling far
            self._cache.clear()
        self._cache.update(self.store.summaries(window))

    # ---- changes ----------------------------------------------------------------------
    def apply_changes(self, changes: Changes) -> None:
        """Refresh only what changed: stale rows in place, or re-query on membership."""
        if not changes.declarations and not changes.statuses:
            return
        fresh = self.store.summaries(list(changes.declarations)) if changes.declarations else {}
        membership = changes.statuses or any(self.row_of(d) < 0 for d in changes.declarations)
        if not membership and self.statuses is not None:
            membership = any(s.status not in self.statuses for s in fresh.values())
        if membership:
            new_ids = self._query()
            if new_ids != self._ids:
                self.layoutAboutToBeChanged.emit()
                old = self.persistentIndexList()
                old_ids = [self.id_at(i.row()) for i in old]
                self._ids = new_ids
                self._row_of = None
                for decl_id in changes.declarations:
                    self._cache.pop(decl_id, None)
                for idx, decl_id in zip(old, old_ids, strict=True):
                    row = self.row_of(decl_id) if decl_id else -1
                    self.changePersistentIndex(
                        idx, self.index(row, idx.column()) if row >= 0 else QModelIndex())
                self.layoutChanged.emit()
                return
        for decl_id, summ in fresh.items():
            row = self.row_of(decl_id)
            if row >= 0:
                self._cache[decl_id] = summ
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    # ---- Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        if role == IdRole:
            return self._ids[index.row()]
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                        ObjectRole, SortRole, Qt.ItemDataRole.AccessibleTextRole):
            return None
        col = index.column()
        if role == SortRole:
            return COLUMNS[col][2]
        summ = self.summary(index.row())
        if role == ObjectRole:
            return summ
        if summ is None:
            return "…"
        value = getattr(summ, COLUMNS[col][1])
        if col == COL_STATUS:
            return status_label(value)
        if col == COL_UPDATED:
            return (value or "")[:19].replace("T", " ")
        if col == COL_ITEMS:
            return str(value)
        return value or ""

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return t(COLUMNS[section][0])
            if role == SortRole:
                return COLUMNS[section][2]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(COLUMNS) - 1)
        if self._ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, len(COLUMNS) - 1))
