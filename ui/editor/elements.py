"""The editor's "more data elements" tab: every data element the other tabs do not show,
searchable by name, DE number or path, edited in place (through the editor's undo stack).

The rows come from :func:`client.declaration.elements.element_rows`; names and help are in
the user's language (resources/translations/*/elements.json).  Lists (holders of
authorisations, guarantees, countries of routing…) get entries added and removed here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from client.common.i18n import tr
from client.declaration.elements import ElementRow, element_rows, parse_value, show_value
from client.declaration.fields import element_code_list
from ui.editor.completion import attach_picker, code_name
from ui.i18n import pseudo, stretch
from ui.models.rows import get_in

COL_DE, COL_NAME, COL_VALUE, COL_WHERE = range(4)
_HEADERS = ("elements.col.de", "elements.col.name", "elements.col.value", "elements.col.where")
Index = QModelIndex | QPersistentModelIndex


def _t(key: str, **params: Any) -> str:
    text = tr(key, **params)
    return stretch(text) if pseudo() else text


class ElementsModel(QAbstractTableModel):
    """The rows matching the search, over the editor's working document."""

    def __init__(self, doc: dict[str, Any], skip: set[str], parent: Any = None, *,
                 held_only: frozenset[str] = frozenset(), refdata: Any = None) -> None:
        super().__init__(parent)
        self.doc, self.skip, self.held_only = doc, skip, held_only
        self.refdata = refdata
        self.all: list[ElementRow] = []
        self.shown: list[ElementRow] = []
        self.needle = ""
        self.editable = True
        self.on_edit: Callable[[ElementRow, Any], None] | None = None
        self.rebuild()

    def rebuild(self) -> None:
        self.beginResetModel()
        self.all = [r for r in element_rows(self.doc, skip=self.skip - self.held_only)
                    if not self._held_only(r.shape) or get_in(self.doc, r.path) not in
                    (None, "")]  # offered only where a value is held (to be cleared)
        self.shown = [r for r in self.all if r.matches(self.needle)]
        self.endResetModel()

    def _held_only(self, shape: str) -> bool:
        return any(shape == h or shape.startswith(h + ".") for h in self.held_only)

    def search(self, needle: str) -> None:
        self.needle = needle
        self.beginResetModel()
        self.shown = [r for r in self.all if r.matches(needle)]
        self.endResetModel()

    def row_at(self, row: int) -> ElementRow | None:
        return self.shown[row] if 0 <= row < len(self.shown) else None

    def code_list(self, r: ElementRow | None) -> str | None:
        """The reference list a single coded value of ``r`` is picked from."""
        if r is None or r.kind != "text" or self.refdata is None:
            return None
        return element_code_list(r.shape)

    def row_of(self, path: str) -> int:
        return next((i for i, r in enumerate(self.shown) if r.path == path), -1)

    def value_changed(self, path: str) -> None:
        i = self.row_of(path)
        if i >= 0:
            self.dataChanged.emit(self.index(i, COL_VALUE), self.index(i, COL_VALUE))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.shown)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _t(_HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        r = self.row_at(index.row())
        if r is None:
            return None
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == COL_DE:
                return r.de or ""
            if col == COL_NAME:
                return r.name()
            if col == COL_WHERE:
                return r.path
            value = get_in(self.doc, r.path)
            if r.kind == "entries":
                return _t("elements.entries", count=len(value or []))
            list_name = self.code_list(r)
            name = code_name(list_name, value, self.refdata) if list_name else None
            if name and role == Qt.ItemDataRole.DisplayRole:
                return f"{show_value(value)} — {name}"  # the name beside the code
            return show_value(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = _t("elements.help", de=r.de or "—", name=r.name(), path=r.path)
            if r.kind in ("codes", "flag"):
                text += "\n" + _t(f"elements.help_{r.kind}")
            return text
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        r = self.row_at(index.row())
        if index.column() == COL_VALUE and r is not None and r.kind != "entries" \
                and self.editable:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: Index, value: Any,  # noqa: N802 - Qt API
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        r = self.row_at(index.row())
        if r is None or role != Qt.ItemDataRole.EditRole or self.on_edit is None:
            return False
        self.on_edit(r, parse_value(r.kind, str(value)))
        return True


class _PickerDelegate(QStyledItemDelegate):
    """A value whose element takes codes of a known list is edited through its picker."""

    def __init__(self, model: ElementsModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.model = model

    def createEditor(self, parent: QWidget, option: Any, index: Index) -> QWidget:  # noqa: N802
        w = super().createEditor(parent, option, index)
        list_name = self.model.code_list(self.model.row_at(index.row()))
        if list_name and index.column() == COL_VALUE and isinstance(w, QLineEdit):
            attach_picker(w, list_name, self.model.refdata)
        return w

    def destroyEditor(self, editor: QWidget, index: Index) -> None:  # noqa: N802 - Qt API
        """The picker's popup goes first: deleted from inside the line edit's destructor,
        that popup window hands the focus to a dialog still walking its children."""
        comp = editor.completer() if isinstance(editor, QLineEdit) else None
        if comp is not None:
            comp.popup().hide()
            editor.setCompleter(None)  # type: ignore[arg-type]  # the completer goes with it
        super().destroyEditor(editor, index)


class ElementsPanel(QWidget):
    """Search box, the table, add / remove an entry of the selected list, and how many
    elements of an imported file are kept as they came."""

    def __init__(self, doc: dict[str, Any], skip: set[str],
                 edit: Callable[[str, Any, Any], None], parent: QWidget | None = None, *,
                 held_only: frozenset[str] = frozenset(), refdata: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("more_elements")
        self.doc, self._edit = doc, edit
        self.model = ElementsModel(doc, skip, self, held_only=held_only, refdata=refdata)
        self.model.on_edit = lambda row, value: self._edit(row.path, get_in(doc, row.path),
                                                           value)
        self.search = QLineEdit()
        self.search.setObjectName("elements_search")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.model.search)
        self.count = QLabel()
        self.kept = QLabel()
        self.kept.setObjectName("elements_kept")
        self.kept.setWordWrap(True)
        self.view = QTableView()
        self.view.setObjectName("elements_table")
        self.view.setModel(self.model)
        self.view.setItemDelegate(_PickerDelegate(self.model, self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        self.add_button = QPushButton()
        self.add_button.setObjectName("elements_add")
        self.add_button.clicked.connect(self.add_entry)
        self.remove_button = QPushButton()
        self.remove_button.setObjectName("elements_remove")
        self.remove_button.clicked.connect(self.remove_entry)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.kept)
        lay.addWidget(self.view, 1)
        lay.addLayout(buttons)
        self.model.modelReset.connect(self._update_count)
        self.retranslate()

    def retranslate(self) -> None:
        self.search.setPlaceholderText(_t("elements.search"))
        self.search.setAccessibleName(_t("elements.search"))
        self.view.setAccessibleName(_t("elements.tab"))
        self.add_button.setText(_t("elements.add"))
        self.remove_button.setText(_t("elements.remove"))
        self.model.rebuild()  # names in the new language
        self._update_count()

    def _update_count(self) -> None:
        self.count.setText(_t("elements.count", shown=len(self.model.shown),
                              total=len(self.model.all)))
        kept = _kept(self.doc)
        self.kept.setVisible(kept > 0)
        self.kept.setText(_t("elements.kept", count=kept))

    def rebuild(self) -> None:
        self.model.rebuild()

    def set_editable(self, on: bool) -> None:
        self.model.editable = on
        self.add_button.setEnabled(on)
        self.remove_button.setEnabled(on)

    def value_changed(self, path: str) -> None:
        if isinstance(get_in(self.doc, path), list) or "[" in path and path.endswith("]"):
            self.rebuild()
        else:
            self.model.value_changed(path)

    def focus(self, path: str) -> bool:
        """Select the row of ``path`` (a finding's), clearing a search that hides it."""
        if self.model.row_of(path) < 0:
            self.search.clear()
        row = self.model.row_of(path)
        if row < 0:
            return False
        self.view.setCurrentIndex(self.model.index(row, COL_VALUE))
        self.view.setFocus()
        return True

    def _selected(self) -> ElementRow | None:
        return self.model.row_at(self.view.currentIndex().row())

    def add_entry(self) -> None:
        r = self._selected()
        if r is None or r.list_path is None:
            return
        old = get_in(self.doc, r.list_path) or []
        self._edit(r.list_path, copy.deepcopy(old), copy.deepcopy(old) + [{}])

    def remove_entry(self) -> None:
        r = self._selected()
        if r is None or r.list_path is None or r.path == r.list_path:
            return
        rest = r.path[len(r.list_path) + 1:]
        index = int(rest[: rest.index("]")])
        old = get_in(self.doc, r.list_path) or []
        new = [e for i, e in enumerate(copy.deepcopy(old)) if i != index]
        self._edit(r.list_path, copy.deepcopy(old), new)


def _kept(doc: Any) -> int:
    """Elements an import kept verbatim, anywhere in the document."""
    if isinstance(doc, dict):
        extra = doc.get("dms") or {}
        n = len(extra.get("carried") or []) if isinstance(extra, dict) else 0
        return n + sum(_kept(v) for k, v in doc.items() if k != "dms")
    if isinstance(doc, list):
        return sum(_kept(v) for v in doc)
    return 0
