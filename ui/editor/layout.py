"""How the editor is laid out: its tabs, forms, row tables, findings panel and buttons.

The layout half of :class:`~ui.editor.window.EditorWindow`: it builds the widgets and
connects them to the window's handlers (``_edited``, ``_cell_edited``, ``_row_action``,
``save_now``, ``request_seal``, ``_finding_activated``); the window holds the document.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.editor.completion import attach_picker, code_name
from ui.editor.elements import ElementsPanel
from ui.editor.fields import (
    DECLARATION_TYPES,
    DOCUMENT_COMPLETION,
    GENERAL,
    GOODS_COMPLETION,
    HEADER_DOCUMENT_HELD_ONLY,
    PARTIES,
    PARTY_FIELDS,
    TAB_GENERAL,
    TAB_PARTIES,
    TAB_TRANSPORT,
    TRANSPORT,
    shown_elsewhere,
)
from ui.models.findings import FindingsModel, PathRole
from ui.models.rows import DOCUMENT_COLUMNS, GOODS_COLUMNS, RowsModel


class _CompletingDelegate(QStyledItemDelegate):
    """Cell editors with reference-data completion for the coded columns."""

    def __init__(self, editor: Any, completions: dict[str, str]) -> None:
        super().__init__(editor)
        self.window, self.completions = editor, completions

    def createEditor(self, parent: QWidget, option: Any, index: QModelIndex) -> QWidget:  # noqa: N802
        w = super().createEditor(parent, option, index)
        list_name = self.completions.get(index.data(PathRole) or "")
        if list_name and isinstance(w, QLineEdit):
            attach_picker(w, list_name, self.window.ctx.refdata)
        return w


class EditorLayout:
    """Builds the editor's widgets (mixed into the editor window, a QDialog)."""

    ctx: Any
    doc: dict[str, Any]
    undo_stack: Any
    widgets: dict[str, QWidget]
    tab_of: dict[str, int]
    labels: list[tuple[QLabel, str, str]]
    groups: list[tuple[QGroupBox, str]]
    completions: list[tuple[QLineEdit, str]]
    names: dict[str, QLabel]

    # ---- building ----------------------------------------------------------------------
    def _form(self) -> tuple[QScrollArea, QFormLayout]:
        area = QScrollArea()
        area.setWidgetResizable(True)
        inner = QWidget()
        form = QFormLayout(inner)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        area.setWidget(inner)
        return area, form

    def _line(self, form: QFormLayout, tab: int, path: str, label_key: str,
              completion: str | None = None) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(f"field:{path}")
        field: QWidget = edit
        if completion:  # a picker, the chosen code's name beside it
            attach_picker(edit, completion, self.ctx.refdata)
            self.completions.append((edit, completion))
            name = QLabel()
            name.setObjectName(f"name:{path}")
            name.setMinimumWidth(260)
            name.setWordWrap(True)
            self.names[path] = name
            edit.textChanged.connect(lambda text, n=name, c=completion: n.setText(
                code_name(c, text, self.ctx.refdata) or ""))
            field = QWidget()
            row = QHBoxLayout(field)
            row.setContentsMargins(0, 0, 0, 0)
            edit.setMaximumWidth(200)
            row.addWidget(edit)
            row.addWidget(name, 1)
        # textChanged, not textEdited: a completion picked from the popup and the line
        # edit's own context-menu undo change the text too, and must reach the document.
        edit.textChanged.connect(lambda text, p=path: self._edited(p, text))
        edit.installEventFilter(self)
        edit.editingFinished.connect(self.save_now)
        label = QLabel()
        label.setBuddy(edit)
        form.addRow(label, field)
        self.labels.append((label, label_key, path))
        self.widgets[path] = edit
        self.tab_of[path] = tab
        return edit

    def _build(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.setObjectName("editor_tabs")
        # General
        area, form = self._form()
        self.type_combo = QComboBox()
        self.type_combo.setObjectName("field:type")
        for code in DECLARATION_TYPES:
            self.type_combo.addItem(code, code)
        self.type_combo.currentIndexChanged.connect(
            lambda i: self._edited("type", self.type_combo.itemData(i)))
        type_label = QLabel()
        type_label.setBuddy(self.type_combo)
        form.addRow(type_label, self.type_combo)
        self.labels.append((type_label, "field.type", "type"))
        self.widgets["type"] = self.type_combo
        self.tab_of["type"] = TAB_GENERAL
        for f in GENERAL:
            self._line(form, TAB_GENERAL, f.path, f.label, f.completion)
        self.tabs.addTab(area, "")
        # Parties
        area = QScrollArea()
        area.setWidgetResizable(True)
        inner = QWidget()
        col = QVBoxLayout(inner)
        for party in PARTIES:
            box = QGroupBox()
            form = QFormLayout(box)
            form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
            for sub, key, comp in PARTY_FIELDS:
                self._line(form, TAB_PARTIES, f"{party}.{sub}", key, comp)
            if party == "representative":
                self._line(form, TAB_PARTIES, "representative.status", "party.status")
            self.groups.append((box, f"party.{party}"))
            col.addWidget(box)
        col.addStretch(1)
        area.setWidget(inner)
        self.tabs.addTab(area, "")
        # Transport
        area, form = self._form()
        for f in TRANSPORT:
            self._line(form, TAB_TRANSPORT, f.path, f.label, f.completion)
        self.tabs.addTab(area, "")
        # Goods items, documents
        self.goods_model = RowsModel(self.doc["goods_items"], GOODS_COLUMNS, self)
        self.goods_model.edit_hook = lambda r, p, v: self._cell_edited(self.goods_model, r, p, v)
        self.goods_model.describe = lambda row, p: self._describe(GOODS_COMPLETION, row, p)
        self.goods_view, goods_page, self.goods_buttons = self._rows_page(
            self.goods_model, GOODS_COMPLETION, "goods")
        self.tabs.addTab(goods_page, "")
        self.docs_model = RowsModel(self.doc["additional_documents"], DOCUMENT_COLUMNS, self)
        self.docs_model.edit_hook = lambda r, p, v: self._cell_edited(self.docs_model, r, p, v)
        self.docs_model.describe = lambda row, p: self._describe(DOCUMENT_COMPLETION, row, p)
        self.docs_view, docs_page, self.docs_buttons = self._rows_page(
            self.docs_model, DOCUMENT_COMPLETION, "documents")
        self.tabs.addTab(docs_page, "")
        self.more = ElementsPanel(self.doc, shown_elsewhere(GOODS_COLUMNS, DOCUMENT_COLUMNS),
                                  self._element_edited, self, refdata=self.ctx.refdata,
                                  held_only=HEADER_DOCUMENT_HELD_ONLY)
        self.tabs.addTab(self.more, "")

        # findings panel
        self.findings_model = FindingsModel(self)
        self.findings_view = QTableView()
        self.findings_view.setObjectName("findings")
        self.findings_view.setModel(self.findings_model)
        self.findings_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.findings_view.verticalHeader().hide()
        header = self.findings_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.findings_view.setWordWrap(True)
        self.findings_view.activated.connect(self._finding_activated)
        self.findings_view.clicked.connect(self._finding_activated)
        self.findings_title = QLabel()
        self.findings_title.setBuddy(self.findings_view)
        fbox = QWidget()
        fl = QVBoxLayout(fbox)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.findings_title)
        fl.addWidget(self.findings_view)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tabs)
        split.addWidget(fbox)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)

        # buttons
        self.state_label = QLabel()
        self.state_label.setObjectName("state_label")
        self.save_label = QLabel()
        self.save_label.setObjectName("save_label")
        self.undo_button = QPushButton()
        self.undo_button.clicked.connect(self.undo_stack.undo)
        self.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.undo_button.setEnabled(False)
        self.redo_button = QPushButton()
        self.redo_button.clicked.connect(self.undo_stack.redo)
        self.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        self.redo_button.setEnabled(False)
        self.seal_button = QPushButton()
        self.seal_button.setObjectName("seal_button")
        self.seal_button.clicked.connect(self.request_seal)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)
        self.template_save_button = QPushButton()  # Ctrl+Shift+T
        self.template_save_button.setObjectName("template_save_button")
        self.template_save_button.clicked.connect(lambda: self.keep_as_template())
        self.template_new_button = QPushButton()  # Ctrl+Shift+N
        self.template_new_button.setObjectName("template_new_button")
        self.template_new_button.clicked.connect(lambda: self.start_from_template())
        for keys, slot in (("Ctrl+Shift+T", self.keep_as_template),
                           ("Ctrl+Shift+N", self.start_from_template),
                           ("F8", self.next_finding)):
            QShortcut(QKeySequence(keys), self, activated=lambda s=slot: s())
        undo_action = self.undo_stack.createUndoAction(self)
        undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        redo_action = self.undo_stack.createRedoAction(self)
        redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        self.addActions([undo_action, redo_action])
        self.help_line = QLabel()  # the focused field: name, DE number, one-line help
        self.help_line.setObjectName("help_line")
        self.help_line.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.state_label)
        buttons.addWidget(self.save_label, 1)
        for b in (self.template_save_button, self.template_new_button, self.undo_button,
                  self.redo_button, self.seal_button, self.close_button):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addWidget(self.help_line)
        lay.addLayout(buttons)
        self._tab_order()

    def _describe(self, completions: dict[str, str], row: dict[str, Any],
                  path: str) -> str | None:
        """The name of a coded cell's value (a document's type with its category: N935)."""
        list_name = completions.get(path)
        if list_name is None:
            return None
        value = row.get(path) if "[" not in path else None
        if path == "additional_procedure_codes[0]":
            value = (row.get("additional_procedure_codes") or [None])[0]
        elif path == "packages[0].kind":
            value = ((row.get("packages") or [{}])[0] or {}).get("kind")
        if list_name == "document_codes":
            value = f"{row.get('category') or ''}{value or ''}"
        elif list_name == "commodity_codes" and isinstance(value, str):
            value = value[:6]  # the HS subheading's name (the national extension is not held)
        return code_name(list_name, value, self.ctx.refdata)

    def _rows_page(self, model: RowsModel, completions: dict[str, str],
                   what: str) -> tuple[QTableView, QWidget, dict[str, QPushButton]]:
        view = QTableView()
        view.setObjectName(f"{what}_table")
        view.setModel(model)
        view.setItemDelegate(_CompletingDelegate(self, completions))
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 220)  # free text (description, category): user-resizable
        header.setStretchLastSection(True)
        view.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        page = QWidget()
        lay = QVBoxLayout(page)
        row = QHBoxLayout()
        buttons = {}
        for name in ("add", "duplicate", "delete"):
            b = QPushButton()
            b.setObjectName(f"{what}_{name}")
            b.clicked.connect(lambda _c=False, n=name, m=model, v=view: self._row_action(n, m, v))
            row.addWidget(b)
            buttons[name] = b
        if what == "goods":
            b = QPushButton()
            b.setObjectName("goods_find")
            b.clicked.connect(lambda _c=False, m=model, v=view: self.find_commodity(m, v))
            row.addWidget(b)
            buttons["find"] = b
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(view, 1)
        return view, page, buttons

    def find_commodity(self, model: RowsModel, view: QTableView) -> str | None:
        """Open the commodity finder; the picked code goes into the current goods item."""
        from client.common.i18n import language
        from ui.editor.finder import CommodityFinder

        finder = CommodityFinder(self.ctx.refdata, language(), self)  # type: ignore[arg-type]
        self.last_finder = finder
        if finder.exec() != CommodityFinder.DialogCode.Accepted or not finder.chosen:
            return None
        if model.rowCount() == 0:
            self._row_action("add", model, view)  # type: ignore[attr-defined]
        row = max(view.currentIndex().row(), 0)
        model.setData(model.index(row, model.column_of("commodity_code")), finder.chosen)
        return finder.chosen

    def _tab_order(self) -> None:
        order = [self.type_combo] + [self.widgets[f.path] for f in GENERAL]
        order += [self.widgets[p] for p in self.widgets if self.tab_of[p] == TAB_PARTIES]
        order += [self.widgets[f.path] for f in TRANSPORT]
        for a, b in zip(order, order[1:], strict=False):
            if self.tab_of[a.objectName()[6:]] == self.tab_of[b.objectName()[6:]]:
                QWidget.setTabOrder(a, b)

