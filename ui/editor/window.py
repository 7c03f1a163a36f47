"""The declaration editor.

What the user types lives in a working document (a plain dict in the canonical JSON
shape).  Every change is an undoable command; validation runs 300 ms after the last
change and lists its findings (click one to jump to its field); the autosave runs
600 ms after the last change, on focus-out and on close, through the writer
executor.  A document that does not parse yet (``12,5`` in a mass) is still kept:
it is saved as a scratch copy in the profile settings, so a crash loses nothing typed.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QEvent, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QTableView,
    QWidget,
)

from client.common.i18n import language, tr
from client.declaration import states
from client.declaration.model import Declaration, de_number, now_utc
from client.services.validation import validate_document
from client.store import Changes
from client.store import settings_keys as keys
from ui.context import AppContext, error_text
from ui.editor.commands import CellEdit, FieldEdit, RowInsert, RowRemove
from ui.editor.completion import attach_picker, code_name
from ui.editor.fields import (
    DECLARATION_TYPES,
    TAB_DOCUMENTS,
    TAB_GOODS,
    TAB_MORE,
    field_text,
    prune_empty,
)
from ui.editor.labels import field_help, field_label
from ui.editor.layout import EditorLayout
from ui.i18n import status_label, t
from ui.models.rows import RowsModel, get_in, set_in
from ui.workers import Op

VALIDATE_MS = 300
AUTOSAVE_MS = 600


class EditorWindow(EditorLayout, QDialog):
    """Edits one declaration; sealed ones open read-only."""

    seal_requested = Signal(str)
    saved = Signal(str)

    def __init__(self, ctx: AppContext, decl_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.decl_id = decl_id
        self.setObjectName("EditorWindow")
        self.setModal(False)
        self.setSizeGripEnabled(True)
        self.resize(980, 720)
        self.undo_stack = QUndoStack(self)
        self.widgets: dict[str, QWidget] = {}
        self.tab_of: dict[str, int] = {}
        self.labels: list[tuple[QLabel, str, str]] = []  # (label, key, path)
        self.groups: list[tuple[QGroupBox, str]] = []
        self.completions: list[tuple[QLineEdit, str]] = []
        self.names: dict[str, QLabel] = {}
        self._completion_lang = language()
        self._loading = False
        self.dirty = False
        self.saves = 0
        self.last_save_error: str | None = None

        st = ctx.store.get(decl_id)
        self.status = st.status
        self.version = st.declaration.version
        scratch = ctx.store.get_setting(keys.SCRATCH(decl_id)) if st.status in states.EDITABLE \
            else None
        self.doc: dict[str, Any] = scratch if isinstance(scratch, dict) \
            else st.declaration.to_json_dict()
        self.doc.setdefault("goods_items", [])
        self.doc.setdefault("additional_documents", [])

        self._build()
        for view, prefix in ((self.goods_view, "goods_items"),
                             (self.docs_view, "additional_documents")):
            view.selectionModel().currentChanged.connect(
                lambda cur, _prev, v=view, p=prefix: self._cell_help(v, p, cur))
        self._load_widgets()
        self._validate_timer = QTimer(self, singleShot=True, interval=VALIDATE_MS)
        self._validate_timer.timeout.connect(self.validate_now)
        self._save_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self._save_timer.timeout.connect(self.save_now)
        ctx.signals.operation_did_execute.connect(self._on_operation)
        ctx.signals.language_changed.connect(lambda _l: self.retranslate())
        parent_seal = getattr(parent, "seal", None)
        if parent_seal is not None:
            self.seal_requested.connect(lambda d: parent_seal([d]))
        self.retranslate()
        self._apply_editable()
        self.validate_now()

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt API
        """Ctrl+Z / Ctrl+Y in a field go to the editor's undo stack, not the field's own;
        a field taking the focus shows its help line."""
        if event.type() == QEvent.Type.FocusIn and isinstance(obj, QLineEdit) \
                and obj.objectName().startswith("field:"):
            self.show_help(obj.objectName()[6:])
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) \
                and isinstance(obj, QLineEdit):
            for key, action in ((QKeySequence.StandardKey.Undo, self.undo_stack.undo),
                                (QKeySequence.StandardKey.Redo, self.undo_stack.redo)):
                if event.matches(key):
                    if event.type() == QEvent.Type.KeyPress:
                        action()
                    event.accept()
                    return True
        return super().eventFilter(obj, event)

    def retranslate(self) -> None:
        if language() != self._completion_lang:  # code labels in the new language
            self._completion_lang = language()
            for edit, list_name in self.completions:
                attach_picker(edit, list_name, self.ctx.refdata)
                edit.textChanged.emit(edit.text())  # the name beside it, in the new language
        d = self.doc
        self.setWindowTitle(t("editor.title", lrn=d.get("lrn") or "—",
                              version=d.get("version", 1)))
        for i, key in enumerate(("editor.tab.general", "editor.tab.parties",
                                 "editor.tab.transport", "editor.tab.goods",
                                 "editor.tab.documents")):
            self.tabs.setTabText(i, t(key))
        self.tabs.setTabText(TAB_MORE, tr("elements.tab"))
        self.more.retranslate()
        for label, key, path in self.labels:
            de = de_number(path)
            text = t(key) + (f" (DE {de})" if de else "")
            label.setText(text)
            w = self.widgets[path]
            w.setAccessibleName(text)
            w.setToolTip(self._tooltip(path))
            label.setToolTip(w.toolTip())
        for i, code in enumerate(DECLARATION_TYPES):
            self.type_combo.setItemText(i, f"{code} — {t('decl_type.' + code)}")
        for box, key in self.groups:
            box.setTitle(t(key))
        for buttons, what in ((self.goods_buttons, "goods"), (self.docs_buttons, "documents")):
            for name, b in buttons.items():
                b.setText(t(f"editor.{what}.{name}"))
                b.setAccessibleName(t(f"editor.{what}.{name}").replace("&", ""))
        self.goods_view.setAccessibleName(t("editor.tab.goods").replace("&", ""))
        self.docs_view.setAccessibleName(t("editor.tab.documents").replace("&", ""))
        self.findings_view.setAccessibleName(t("editor.findings"))
        self.undo_button.setText(t("editor.undo"))
        self.redo_button.setText(t("editor.redo"))
        self.seal_button.setText(t("editor.seal"))
        self.close_button.setText(t("editor.close"))
        self.template_save_button.setText(t("editor.template_save"))
        self.template_save_button.setToolTip(t("editor.template_save.tip") + " (Ctrl+Shift+T)")
        self.template_new_button.setText(t("editor.template_new"))
        self.template_new_button.setToolTip(t("editor.template_new.tip") + " (Ctrl+Shift+N)")
        self.state_label.setText(status_label(self.status))
        self._update_findings_title()
        self.findings_model.set_findings(self.findings_model.findings())

    def _tooltip(self, path: str) -> str:
        hint = t("editor.picker_hint") if path in self.names else ""
        return "\n".join(x for x in (field_label(path), field_help(path), hint) if x)

    def show_help(self, path: str) -> None:
        """The focused field's name, DE number and one-line help, under the tabs."""
        helptext = field_help(path)
        hint = t("editor.picker_hint") if path in self.names else ""
        self.help_line.setText(" — ".join(x for x in (field_label(path), helptext, hint) if x))

    def _cell_help(self, view: QTableView, prefix: str, index: QModelIndex) -> None:
        if index.isValid():
            model = view.model()
            self.show_help(f"{prefix}[{index.row()}].{model.columns[index.column()][0]}")

    # ---- loading / applying values --------------------------------------------------------
    def _load_widgets(self) -> None:
        self._loading = True
        try:
            self.type_combo.setCurrentIndex(
                max(0, self.type_combo.findData(field_text(self.doc.get("type", "IM")))))
            for path, w in self.widgets.items():
                if isinstance(w, QLineEdit):
                    w.setText(field_text(get_in(self.doc, path)))
        finally:
            self._loading = False

    def _apply_value(self, path: str, value: Any) -> None:
        """Set a header value in the document and in its widget (undo/redo land here)."""
        set_in(self.doc, path, value if value != "" else None)
        prune_empty(self.doc, path)
        self.more.value_changed(path)
        w = self.widgets.get(path)
        self._loading = True
        try:
            if isinstance(w, QLineEdit) and w.text() != field_text(value):
                w.setText(field_text(value))
            elif isinstance(w, QComboBox) and w.currentData() != field_text(value):
                w.setCurrentIndex(max(0, w.findData(field_text(value))))
        finally:
            self._loading = False
        self._changed()

    def _edited(self, path: str, text: str) -> None:
        if self._loading:
            return
        old = get_in(self.doc, path)
        self.undo_stack.push(FieldEdit(path, old, text, self._apply_value))

    def _element_edited(self, path: str, old: Any, new: Any) -> None:
        self.undo_stack.push(FieldEdit(path, old, new, self._apply_value))

    def _cell_edited(self, model: RowsModel, row: int, path: str, value: Any) -> None:
        doc_code = model is self.docs_model and path == "type" and isinstance(value, str) \
            and len(value) == 4 and code_name("document_codes", value, self.ctx.refdata)
        if doc_code:  # a DE 2/3 code picked whole: N935 is category N, type 935
            self.undo_stack.beginMacro(value)
            for sub, part in (("category", value[0]), ("type", value[1:])):
                old = get_in(model.rows()[row], sub)
                self.undo_stack.push(CellEdit(model, row, sub, old, part, self._rows_changed))
            self.undo_stack.endMacro()
            return
        old = get_in(model.rows()[row], path)
        self.undo_stack.push(CellEdit(model, row, path, old, value, self._rows_changed))

    def _row_action(self, name: str, model: RowsModel, view: QTableView) -> None:
        row = view.currentIndex().row() if view.currentIndex().isValid() else -1
        if name == "add":
            at = model.rowCount()
            self.undo_stack.push(RowInsert(model, at, {}, self._rows_changed))
            view.setCurrentIndex(model.index(at, 0))
            view.setFocus()
        elif name == "duplicate" and row >= 0:
            self.undo_stack.push(RowInsert(model, row + 1, model.duplicate_of(row),
                                           self._rows_changed))
            view.setCurrentIndex(model.index(row + 1, 0))
        elif name == "delete" and row >= 0:
            self.undo_stack.push(RowRemove(model, row, self._rows_changed))

    def _rows_changed(self) -> None:
        for i, item in enumerate(self.doc["goods_items"]):  # DE 1/6: 1..n in order
            item["sequence"] = i + 1
        self.more.rebuild()
        self._changed()

    def _changed(self) -> None:
        self.dirty = True
        self.save_label.setText(t("editor.unsaved"))
        self._validate_timer.start()
        self._save_timer.start()

    # ---- validation --------------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        doc = copy.deepcopy(self.doc)
        for key in ("goods_items", "additional_documents"):
            if not doc.get(key):
                doc.pop(key, None)
        return doc

    def validate_now(self) -> list[Any]:
        """The findings of the document as typed, by the rules and reference data that
        sealing will apply (the action layer's :func:`validate_document`)."""
        findings = validate_document(self.payload(), self.ctx.store, self.decl_id,
                                     home=self.ctx.profile.home)
        self.findings_model.set_findings(findings)
        self._update_findings_title()
        return findings

    def _update_findings_title(self) -> None:
        n = self.findings_model.rowCount()
        e = self.findings_model.errors()
        self.findings_title.setText(t("editor.findings_count", errors=e, warnings=n - e)
                                    if n else t("editor.no_findings"))

    def next_finding(self) -> None:
        """F8: the next finding's field, from the keyboard (wraps round)."""
        n = self.findings_model.rowCount()
        if not n:
            return
        row = (self.findings_view.currentIndex().row() + 1) % n
        self.findings_view.setCurrentIndex(self.findings_model.index(row, 2))
        self.focus_path(self.findings_model.finding(row).path)

    # ---- templates (ui/templates.py: the handlers the main window shares) --------------------
    def keep_as_template(self, name: str | None = None) -> None:
        """Ctrl+Shift+T: the parties, transport and usual goods as a named template."""
        from ui.templates import keep_as_template

        self.save_now()  # the writer runs in order: the template sees this very draft
        party = (self.doc.get("exporter") or self.doc.get("importer") or {}).get("name") or ""
        keep_as_template(self, self.decl_id, str(party), name)

    def start_from_template(self, name: str | None = None) -> None:
        """Ctrl+Shift+N: a new declaration from a template, in its own editor."""
        from ui.templates import start_from_template

        main = self.parent()
        start_from_template(main if hasattr(main, "made_declaration") else self, name)

    def ask_template(self, names: list[str]) -> str | None:
        from ui.templates import ask_template

        return ask_template(self, names)

    def ask_template_name(self, suggestion: str) -> str | None:
        from ui.templates import ask_template_name

        return ask_template_name(self, suggestion)

    def show_status(self, text: str) -> None:
        self.save_label.setText(text)

    def show_refusal(self, exc: BaseException) -> None:
        self.save_label.setText(error_text(exc))

    def made_declaration(self, decl_id: str) -> None:  # without a main window (tests)
        self.show_status(decl_id)

    def _finding_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.focus_path(self.findings_model.finding(index.row()).path)

    def focus_path(self, path: str) -> bool:
        """Bring the field named by a finding's path to the front and focus it."""
        for prefix, model, view, tab in (("goods_items[", self.goods_model, self.goods_view,
                                          TAB_GOODS),
                                         ("additional_documents[", self.docs_model,
                                          self.docs_view, TAB_DOCUMENTS)):
            if path.startswith(prefix):
                try:
                    row = int(path[len(prefix):path.index("]")])
                except ValueError:
                    row = 0
                rest = path[path.index("]") + 2:] if "]." in path else ""
                col = model.column_of(rest) if rest else 0
                if col < 0 and self.more.focus(path):  # not a column: a "more" element
                    self.tabs.setCurrentIndex(TAB_MORE)
                    return True
                col = max(0, col)
                self.tabs.setCurrentIndex(tab)
                if 0 <= row < model.rowCount():
                    view.setCurrentIndex(model.index(row, col))
                view.setFocus()
                return True
        target = path if path in self.widgets else next(
            (p for p in self.widgets if p.startswith(path + ".")),
            next((p for p in sorted(self.widgets, key=len, reverse=True)
                  if path.startswith(p)), None))
        if target is None:
            if self.more.focus(path):
                self.tabs.setCurrentIndex(TAB_MORE)
                return True
            return False
        self.tabs.setCurrentIndex(self.tab_of[target])
        self.show_help(target)
        w = self.widgets[target]
        w.setFocus(Qt.FocusReason.OtherFocusReason)
        area = w.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        if isinstance(area, QScrollArea):
            area.ensureWidgetVisible(w)
        return True

    # ---- saving -------------------------------------------------------------------------------
    def editable(self) -> bool:
        return self.status in states.EDITABLE

    def save_now(self) -> None:
        """Autosave through the writer: the draft when it parses, else a scratch copy."""
        self._save_timer.stop()
        if not self.dirty or not self.editable():
            return
        self.dirty = False
        doc = self.payload()
        store, actor, decl_id = self.ctx.store, self.ctx.actor(), self.decl_id
        try:
            decl: Declaration | None = Declaration.model_validate(doc)
        except (ValidationError, ValueError):
            decl = None
        had_scratch = store.get_setting(keys.SCRATCH(decl_id)) is not None

        def work() -> Changes:
            if decl is None:
                store.set_setting(keys.SCRATCH(decl_id), doc)
                return Changes()
            changes = store.save_draft(decl, actor)
            if had_scratch:
                store.set_setting(keys.SCRATCH(decl_id), None)
            return changes

        def ok(_c: Any) -> None:
            self.saves += 1
            self.save_label.setText(t("editor.saved_at", time=now_utc()[11:19]) if decl
                                    else t("editor.saved_scratch"))
            self.saved.emit(decl_id)

        def bad(exc: BaseException) -> None:
            self.last_save_error = error_text(exc)
            self.save_label.setText(self.last_save_error)

        self.save_label.setText(t("editor.saving"))
        Op(self.ctx, work, initiator=self).success(ok).failure(bad).run()

    def request_seal(self) -> None:
        self.save_now()
        self.validate_now()
        self.seal_requested.emit(self.decl_id)

    def _on_operation(self, changes: Changes, initiator: object) -> None:
        if initiator is self or self.decl_id not in changes.declarations:
            return
        if not self.ctx.store.exists(self.decl_id):
            return
        st = self.ctx.store.get(self.decl_id)
        if st.status != self.status or st.declaration.version != self.version:
            self.status = st.status
            if st.declaration.version != self.version:  # a new version: reload its document
                self.version = st.declaration.version
                self.doc.clear()
                self.doc.update(st.declaration.to_json_dict())
                self.doc.setdefault("goods_items", [])
                self.doc.setdefault("additional_documents", [])
                self.goods_model.set_rows(self.doc["goods_items"])
                self.docs_model.set_rows(self.doc["additional_documents"])
                self.more.rebuild()
                self._load_widgets()
                self.undo_stack.clear()
            self.state_label.setText(status_label(self.status))
            self._apply_editable()
            self.validate_now()

    def _apply_editable(self) -> None:
        on = self.editable()
        for w in self.widgets.values():
            if isinstance(w, QLineEdit):
                w.setReadOnly(not on)
            else:
                w.setEnabled(on)
        for view in (self.goods_view, self.docs_view):
            view.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers if on
                                 else QAbstractItemView.EditTrigger.NoEditTriggers)
        for b in list(self.goods_buttons.values()) + list(self.docs_buttons.values()):
            b.setEnabled(on)
        self.more.set_editable(on)
        self.seal_button.setEnabled(on)
        if not on:
            self.save_label.setText(t("editor.read_only"))

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        focus = self.focusWidget()
        if isinstance(focus, QTableView) and focus.state() == QAbstractItemView.State.EditingState:
            focus.setFocus()
        self.save_now()
        super().closeEvent(event)

    def done(self, r: int) -> None:
        self.save_now()
        super().done(r)
