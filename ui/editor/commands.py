"""Undoable edits of the working document (QUndoStack commands)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from ui.models.rows import RowsModel

_FIELD_ID = 1001


class FieldEdit(QUndoCommand):
    """One header field's value; consecutive keystrokes in the same field merge."""

    def __init__(self, path: str, old: Any, new: Any, apply: Callable[[str, Any], None]) -> None:
        super().__init__(path)
        self.path, self.old, self.new, self._apply = path, old, new, apply

    def id(self) -> int:
        return _FIELD_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, FieldEdit) or other.path != self.path:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self._apply(self.path, self.new)

    def undo(self) -> None:
        self._apply(self.path, self.old)


class CellEdit(QUndoCommand):
    def __init__(self, model: RowsModel, row: int, path: str, old: Any, new: Any,
                 after: Callable[[], None]) -> None:
        super().__init__(f"{row}:{path}")
        self.model, self.row, self.path, self.old, self.new = model, row, path, old, new
        self.after = after

    def redo(self) -> None:
        self.model.apply(self.row, self.path, self.new)
        self.after()

    def undo(self) -> None:
        self.model.apply(self.row, self.path, self.old)
        self.after()


class RowInsert(QUndoCommand):
    def __init__(self, model: RowsModel, row: int, data: dict[str, Any],
                 after: Callable[[], None]) -> None:
        super().__init__("insert")
        self.model, self.row, self.data, self.after = model, row, data, after

    def redo(self) -> None:
        self.model.insert(self.row, self.data)
        self.after()

    def undo(self) -> None:
        self.data = self.model.remove(self.row)
        self.after()


class RowRemove(QUndoCommand):
    def __init__(self, model: RowsModel, row: int, after: Callable[[], None]) -> None:
        super().__init__("remove")
        self.model, self.row, self.after = model, row, after
        self.data: dict[str, Any] = {}

    def redo(self) -> None:
        self.data = self.model.remove(self.row)
        self.after()

    def undo(self) -> None:
        self.model.insert(self.row, self.data)
        self.after()
