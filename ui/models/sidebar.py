"""The sidebar of views (Drafts, Ready, Outbox, …) with their counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from client.declaration import states
from ui.i18n import t

if TYPE_CHECKING:
    from client.store import Store

StatusesRole = Qt.ItemDataRole.UserRole + 1
KeyRole = Qt.ItemDataRole.UserRole + 2
CountRole = Qt.ItemDataRole.UserRole + 3

# (key, statuses shown; None = all)
VIEWS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("drafts", (states.DRAFT,)),
    ("ready", (states.READY,)),
    ("outbox", (states.SEALED,)),
    ("submitted", (states.SUBMITTED, states.REGISTERED)),
    ("needs_action", tuple(sorted(states.NEEDS_ACTION))),
    ("released", (states.RELEASED,)),
    ("all", None),
)

Index = QModelIndex | QPersistentModelIndex


class SidebarModel(QAbstractListModel):
    def __init__(self, store: Store, parent: Any = None) -> None:
        super().__init__(parent)
        self.store = store
        self._counts: list[int] = [0] * len(VIEWS)
        #: runs the count off the GUI thread: loader(query, on_result); None = inline
        self.loader: Callable[[Callable[[], dict[str, int]],
                               Callable[[dict[str, int]], None]], None] | None = None

    def refresh(self) -> None:
        """Recount (one GROUP BY) and repaint the labels whose count moved.

        With a loader the count runs on the reader pool: over 100,000 declarations the
        GROUP BY reads the whole status index, which the first paint and every change
        during a drain must not wait for (#15)."""
        if self.loader is None:
            self._apply(self.store.counts_by_status())
        else:
            self.loader(self.store.counts_by_status, self._apply)

    def _apply(self, by_status: dict[str, int]) -> None:
        total = sum(by_status.values())
        for row, (_key, statuses) in enumerate(VIEWS):
            n = total if statuses is None else sum(by_status.get(s, 0) for s in statuses)
            if n != self._counts[row]:
                self._counts[row] = n
                idx = self.index(row, 0)
                self.dataChanged.emit(idx, idx)

    def statuses(self, row: int) -> tuple[str, ...] | None:
        return VIEWS[row][1]

    def key(self, row: int) -> str:
        return VIEWS[row][0]

    def row_of_key(self, key: str) -> int:
        return next(i for i, (k, _) in enumerate(VIEWS) if k == key)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(VIEWS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(VIEWS):
            return None
        key, statuses = VIEWS[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return t("view.label", name=t(f"view.{key}"), count=self._counts[index.row()])
        if role == Qt.ItemDataRole.ToolTipRole:
            return t(f"view.{key}.tip")
        if role == StatusesRole:
            return statuses
        if role == KeyRole:
            return key
        if role == CountRole:
            return self._counts[index.row()]
        return None

    def retranslate(self) -> None:
        self.dataChanged.emit(self.index(0, 0), self.index(len(VIEWS) - 1, 0))
