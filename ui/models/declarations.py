"""The declaration table: a lazy model over ids with a row cache (Anki's browser table).

The store sorts and filters in SQL and hands back ids only; rows are fetched from
``store.summaries`` a window at a time as the view asks for them, so 100,000
declarations cost a list of ids and a few hundred cached rows.  Changes mark cached
rows stale (``dataChanged`` for just those rows) instead of resetting the model; only
a change of membership (a new declaration, a status move under a status filter)
re-queries the ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from client.declaration.continuity import countdown
from client.store.firstscreen import ROW_FIELDS
from client.store.idcolumn import IdColumn
from client.store.search import ListCancelled
from ui.i18n import render, status_label, t

if TYPE_CHECKING:  # the first screen shows this model before the store's libraries load
    from client.store import Changes, Store, Summary

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
FIRST_PAGE = 400  # ids fetched at once on a (re)query; the rest load off the GUI thread

Index = QModelIndex | QPersistentModelIndex
IdList = IdColumn  # a whole list's ids in list order, each one's row found by row_of
# Orders a delivery, a feed or an edit moves rows in: a change re-reads the order.
MOVING_ORDERS = ("updated_at", "status", "mrn", "version")


class FirstRow:
    """A Summary's list fields read by :mod:`client.store.firstscreen` (no lodging
    deadline: a row printed as a fallback shows its countdown once the store is open)."""

    __slots__ = (*ROW_FIELDS, "lodge_by")

    def __init__(self, row: Sequence[Any]) -> None:
        for name, value in zip(ROW_FIELDS, row, strict=False):
            setattr(self, name, value)
        self.lodge_by = None


class DeclarationTableModel(QAbstractTableModel):
    def __init__(self, store: Store | None, parent: Any = None) -> None:
        super().__init__(parent)
        self.store = store
        self._ids: list[str] | IdColumn = []  # a page as a list, a whole list packed
        self._row_of: dict[str, int] | None = None  # a page's rows (an IdColumn has its own)
        self._cache: dict[str, Summary] = {}
        self.statuses: tuple[str, ...] | None = None
        self.search: str = ""
        self.order_by = "updated_at"
        self.descending = True
        self.fetches = 0  # cache fills (tests check laziness)
        self.complete = True  # False while the ids past the first page are loading
        self._generation = 0
        #: runs a full id query off the GUI thread: loader(query, on_result); None = inline
        self.loader: Callable[[Callable[[], IdList | None],
                               Callable[[IdList | None], None]], None] | None = None

    def preload(self, rows: Sequence[Sequence[Any]], order_by: str, descending: bool) -> None:
        """Show the first screen's rows (store not open yet): the ids past them and the
        store follow (``complete`` stays False until then)."""
        self.beginResetModel()
        self.order_by, self.descending = order_by, descending
        firsts = [FirstRow(r) for r in rows]
        self._ids = [f.id for f in firsts]
        self._cache = {f.id: f for f in firsts}  # type: ignore[misc]
        self._row_of = None
        self.complete = False
        self.endResetModel()

    # ---- queries ----------------------------------------------------------------
    def _query(self, limit: int | None = None) -> list[str]:
        return self.store.list_ids(statuses=self.statuses, search=self.search or None,
                                   order_by=self.order_by, descending=self.descending,
                                   limit=limit)

    def _full_query(self) -> Callable[[], IdList | None]:
        """The full id list for the current filter, packed with its row index, made off
        the GUI thread (a 100,000-entry dict built there held it for tens of ms during a
        drain; as strings and a dict it was 16 MB).  It gives up (None) as soon as a newer
        query supersedes it: a list still being read would otherwise share the cores and
        the GIL with the filter the user typed next (#15)."""
        store, statuses, search = self.store, self.statuses, self.search or None
        order_by, descending = self.order_by, self.descending
        gen = self._generation
        assert store is not None

        def query() -> IdList | None:
            try:
                return store.id_column(statuses=statuses, search=search, order_by=order_by,
                                       descending=descending,
                                       cancelled=lambda: self._generation != gen)
            except ListCancelled:
                return None

        return query

    def reload(self) -> None:
        """Re-query (membership, filter or order changed): the first page at once, so the
        view paints and filters fast; the remaining ids arrive from the loader."""
        self._generation += 1
        self.beginResetModel()
        self._ids = self._query(limit=FIRST_PAGE)
        self.complete = len(self._ids) < FIRST_PAGE
        self._row_of = None
        self._cache.clear()
        self.endResetModel()
        if not self.complete:
            self._load_rest()

    def _load_rest(self) -> None:
        gen = self._generation
        query = self._full_query()
        if self.loader is None:
            self._rest_loaded(gen, query())
        else:
            self.loader(query, lambda ids: self._rest_loaded(gen, ids))

    def _rest_loaded(self, gen: int, got: IdList | None) -> None:
        if gen != self._generation or got is None:  # a newer query superseded this one
            return
        ids = got
        n = len(self._ids)
        if ids[:n] == list(self._ids):
            if len(ids) > n:
                self.beginInsertRows(QModelIndex(), n, len(ids) - 1)
                self._ids = ids
                self._row_of = None
                self.endInsertRows()
        else:
            self._relayout(ids)
        self.complete = True

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
        order_by = COLUMNS[column][2]
        descending = order == Qt.SortOrder.DescendingOrder
        if (order_by, descending) != (self.order_by, self.descending):
            self.order_by, self.descending = order_by, descending
            self.reload()

    # ---- ids <-> rows --------------------------------------------------------------
    def id_at(self, row: int) -> str | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, decl_id: str) -> int:
        if isinstance(self._ids, IdColumn):
            return self._ids.row_of(decl_id)
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
        if self.store is None:  # the first screen: only its own rows are known
            return
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
        """Refresh only what changed: stale rows in place, or re-query on membership.

        No statement on the GUI thread here: changed rows are dropped from the cache and
        repainted with one signal (the view refetches what it shows, one window), and a
        re-query — a new declaration, a change under a status filter, a search or an
        order a change can move — runs on the loader.  A drain reports thousands of
        changes at once (#15)."""
        if not changes.declarations and not changes.statuses:
            return
        changed = tuple(changes.declarations)
        for decl_id in changed:
            self._cache.pop(decl_id, None)
        requery = (any(self.row_of(d) < 0 for d in changed)
                   or (self.statuses is not None and (changes.statuses or bool(changed)))
                   or (bool(self.search) and bool(changed))
                   or (self.order_by in MOVING_ORDERS and bool(changed)))
        if requery and self.store is not None:
            self._generation += 1
            gen = self._generation
            query = self._full_query()
            if self.loader is None:
                self._membership_loaded(gen, query(), changed)
            else:
                self.loader(query, lambda got: self._membership_loaded(gen, got, changed))
            return
        self._repaint(changed)

    def _repaint(self, changed: Iterable[str]) -> None:
        """One ``dataChanged`` over the rows of ``changed`` (not one signal per row)."""
        rows = [r for r in (self.row_of(d) for d in changed) if r >= 0]
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0),
                                  self.index(max(rows), len(COLUMNS) - 1))

    def _membership_loaded(self, gen: int, got: IdList | None,
                           changed: tuple[str, ...]) -> None:
        if gen != self._generation or got is None:
            return
        self.complete = True
        if got != self._ids:
            self._relayout(got)
            return
        self._ids = got
        self._row_of = None
        self._repaint(changed)

    def _relayout(self, ids: list[str] | IdColumn) -> None:
        """New ids, same model: persistent indexes (selection, current row) follow their id."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        old_ids = [self.id_at(i.row()) for i in old]
        self._ids = ids
        self._row_of = None
        for idx, decl_id in zip(old, old_ids, strict=True):
            row = self.row_of(decl_id) if decl_id else -1
            self.changePersistentIndex(
                idx, self.index(row, idx.column()) if row >= 0 else QModelIndex())
        self.layoutChanged.emit()

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
            due = countdown(summ.lodge_by)
            return t("list.status_due", status=status_label(value), countdown=render(due)) \
                if due else status_label(value)
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
