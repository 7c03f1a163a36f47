"""Validation findings of the declaration being edited, in the user's language."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ui.i18n import t

COLUMNS = ("col.severity", "col.de", "col.message", "col.field")
PathRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex


class FindingsModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []

    def set_findings(self, findings: list[Any]) -> None:
        # errors first, then warnings, stable within each
        rows = sorted(findings, key=lambda f: 0 if f.severity == "error" else 1)
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def finding(self, row: int) -> Any:
        return self._rows[row]

    def findings(self) -> list[Any]:
        return list(self._rows)

    def errors(self) -> int:
        return sum(1 for f in self._rows if f.severity == "error")

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        f = self._rows[index.row()]
        if role == PathRole:
            return f.path
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        from ui.editor.labels import field_label, finding_text  # ui.editor imports this module

        col = index.column()
        if col == 0:
            return t(f"severity.{f.severity}")
        if col == 1:
            return f"DE {f.de}" if f.de else ""
        if col == 2:
            return finding_text(f.message)
        return field_label(f.path, with_de=False) if f.path else ""  # DE: column 1

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return t(COLUMNS[section])
        return None
