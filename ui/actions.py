"""The main window's actions: the QAction table, menus, toolbar and one thin handler each.

A handler reads the selection, asks for a path where one is needed, and runs exactly one
function of the action layer (:mod:`client.services`, the same functions the command line
calls) in a background operation: store writes on the writer (:class:`~ui.workers.Op`),
exports and prints rendered and written on the reader pool (:class:`~ui.workers.QueryOp`),
so an autosave never waits for a PDF.  Results come back on the GUI thread; a refusal
shows its findings in the user's words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from client.common.i18n import language
from client.declaration import states
from client.seal.sealing import Sealer
from client.services.declarations import (
    amend_declaration,
    copy_declaration,
    create_declaration,
    mark_ready,
)
from client.services.exports import export_format_for, export_to_file, print_declaration
from client.services.sealing import seal_declarations
from client.store import Changes
from ui.context import error_text
from ui.i18n import render, t
from ui.icons import icon
from ui.templates import TemplateActionsMixin
from ui.workers import Op, QueryOp

_K = QKeySequence.StandardKey

#: (name, shortcut, handler method, checkable): text and tip are ``action.<name>[.tip]``.
ACTIONS: tuple[tuple[str, Any, str, bool], ...] = (
    ("new", _K.New, "new_declaration", False),
    ("copy", "Ctrl+D", "copy_selected", False),
    ("previous", "Ctrl+Shift+P", "previous_selected", False),
    ("template_new", "Ctrl+Shift+N", "template_new", False),
    ("edit", "Ctrl+E", "edit_selected", False),
    ("ready", "Ctrl+R", "mark_ready_selected", False),
    ("seal", "Ctrl+Shift+S", "seal_selected", False),
    ("amend", "Ctrl+Shift+A", "amend_selected", False),
    ("sync", "F5", "sync_now", False),
    ("offline", "Ctrl+Shift+O", "set_work_offline", True),
    ("export", "Ctrl+Shift+E", "export_selected", False),
    ("print", _K.Print, "print_selected", False),
    ("continuity", "Ctrl+Shift+C", "open_continuity", False),
    ("settings", "Ctrl+,", "open_settings", False),
    ("officer", "Ctrl+Shift+V", "open_officer", False),
    ("lodgings", None, "open_lodgings", False),
    ("find", _K.Find, "focus_filter", False),
    ("quit", _K.Quit, "close", False),
)
MENUS: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("file", ("new", "template_new", "previous", "copy", "export", "print", None, "settings", None, "quit")),
    ("declaration", ("edit", "ready", "seal", "amend", None, "find")),
    ("sync", ("sync", "offline", None, "continuity", "officer", "lodgings")),
)
TOOLBAR = ("new", "template_new", "previous", "seal", "sync", "export", "print", "continuity")


def refusal_text(exc: BaseException) -> str:
    """A refusal in one line, then the first few of its errors (seal, mark ready)."""
    findings = getattr(exc, "findings", None)
    if not findings:
        return error_text(exc)
    lines = [render(f.message) for f in findings if f.severity == "error"][:8]
    return error_text(exc) + "\n\n" + "\n".join(lines)


class ActionsMixin(TemplateActionsMixin):
    """The actions half of :class:`~ui.mainwindow.MainWindow` (it provides ``ctx``,
    ``sync``, ``table``, ``table_model``, ``filter``, ``editors``, ``selected_ids``,
    ``select_id``, ``show_error`` and ``_refresh``)."""

    ctx: Any
    sync: Any
    editors: dict[str, Any]
    table: Any
    table_model: Any
    filter: Any
    _sealer: Any = None

    # ---- building ------------------------------------------------------------------------
    def _make_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        for name, shortcut, method, checkable in ACTIONS:
            a = QAction(self)
            a.setObjectName(f"action_{name}")
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.setIcon(icon(name))
            a.setCheckable(checkable)
            handler = getattr(self, method)
            if checkable:
                a.triggered.connect(lambda on, h=handler: h(bool(on)))
            else:
                a.triggered.connect(lambda _on=False, h=handler: h())
            self.actions_by_name[name] = a
        self.actions_by_name["offline"].setChecked(self.sync.offline)
        mb = self.menuBar()
        self.menus: dict[str, Any] = {}
        for key, names in MENUS:
            menu = mb.addMenu("")
            self.menus[key] = menu
            for n in names:
                if n is None:
                    menu.addSeparator()
                else:
                    menu.addAction(self.actions_by_name[n])
        self.toolbar = self.addToolBar("main")
        self.toolbar.setObjectName("toolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._fill_toolbar()

    def _fill_toolbar(self) -> None:
        """(Re)build the toolbar: tool buttons keep the width of their first text otherwise."""
        self.toolbar.clear()
        for n in TOOLBAR:
            self.toolbar.addAction(self.actions_by_name[n])

    def retranslate_actions(self) -> None:
        for name, a in self.actions_by_name.items():
            a.setText(t(f"action.{name}"))
            a.setToolTip(t(f"action.{name}.tip") + (
                f" ({a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                if not a.shortcut().isEmpty() else ""))
        for key, menu in self.menus.items():
            menu.setTitle(t(f"menu.{key}"))
        self._fill_toolbar()

    def _update_actions(self) -> None:
        current = self.table.currentIndex()
        summ = self.table_model.summary(current.row()) if current.isValid() else None
        has = summ is not None
        for n in ("copy", "previous", "edit", "export", "print"):
            self.actions_by_name[n].setEnabled(has)
        self.actions_by_name["seal"].setEnabled(has and summ.status in states.EDITABLE)
        self.actions_by_name["ready"].setEnabled(has and summ.status == states.DRAFT)
        self.actions_by_name["amend"].setEnabled(
            has and summ.status not in states.EDITABLE and summ.status != states.SEALED)

    # ---- helpers ---------------------------------------------------------------------------
    def _ask_path(self, title: str, filters: str) -> Path | None:
        name, _f = QFileDialog.getSaveFileName(self, title, "", filters)
        return Path(name) if name else None

    def _saved(self, exported: Any) -> None:
        self.statusBar().showMessage(t("export.done", path=str(exported.path)), 8000)

    def _refused(self, exc: BaseException) -> None:
        self.show_error(refusal_text(exc))

    def sealer(self) -> Any:
        """The profile's sealer, made once (loads the active key; refuses without one)."""
        if self._sealer is None:
            self._sealer = Sealer(self.ctx.profile, self.ctx.store, self.ctx.secrets)
        return self._sealer

    def reset_sealer(self) -> None:
        self._sealer = None

    # ---- handlers ----------------------------------------------------------------------------
    def new_declaration(self, *, open_editor: bool = True) -> None:
        store, actor, declarant = self.ctx.store, self.ctx.actor(), self.ctx.profile.declarant_id

        def done(made: Any) -> None:
            self.table.clearSelection()
            self.select_id(made.id)
            if open_editor:
                self.open_editor(made.id)

        Op(self.ctx, lambda: create_declaration(store, actor, declarant_id=declarant),
           initiator=self).success(done).run()

    def copy_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        store, actor = self.ctx.store, self.ctx.actor()
        Op(self.ctx, lambda: copy_declaration(store, actor, ids[0]), initiator=self).success(
            lambda made: self.select_id(made.id)).run()

    def edit_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.open_editor(ids[0])

    def open_editor(self, decl_id: str) -> Any:
        from ui.editor import EditorWindow

        ed = self.editors.get(decl_id)
        if ed is None or not ed.isVisible():
            ed = EditorWindow(self.ctx, decl_id, parent=self)
            ed.finished.connect(lambda _r, d=decl_id: self.editors.pop(d, None))
            self.editors[decl_id] = ed
        ed.show()
        ed.raise_()
        ed.activateWindow()
        hook = getattr(self, "editor_opened_hook", None)
        if hook is not None:
            hook(ed)
        return ed

    def seal(self, decl_ids: list[str], on_done: Any = None) -> None:
        """Seal and queue on the writer, in turn; the first refusal stops there and shows
        its findings (those before it stay sealed)."""
        try:
            sealer = self.sealer()
        except Exception as exc:  # noqa: BLE001 - no key yet: say so in the user's words
            self.show_error(exc)
            return

        def failed(exc: BaseException) -> None:
            self._refused(exc)
            self._refresh(Changes(declarations=tuple(decl_ids), statuses=True))

        def ok(_ch: Any) -> None:
            self.statusBar().showMessage(t("seal.done", n=len(decl_ids)), 8000)
            if on_done is not None:
                on_done()
            if not self.sync.offline and self.sync.configured():
                self.sync.sync_now()

        Op(self.ctx, lambda: seal_declarations(sealer, decl_ids, stop_on_refusal=True),
           initiator=self).success(ok).failure(failed).run()

    def seal_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        for ed in (self.editors.get(d) for d in ids):
            if ed is not None:
                ed.save_now()
        self.seal(ids)

    def mark_ready_selected(self) -> None:
        """Draft -> ready, only when validation finds no error (otherwise say which)."""
        ids = self.selected_ids()
        if not ids:
            return
        store, actor, home = self.ctx.store, self.ctx.actor(), self.ctx.profile.home
        Op(self.ctx, lambda: mark_ready(store, actor, ids, home=home, drafts_only=True),
           initiator=self).failure(self._refused).run()

    def amend_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        store, actor, decl_id = self.ctx.store, self.ctx.actor(), ids[0]
        Op(self.ctx, lambda: amend_declaration(store, actor, decl_id), initiator=self).success(
            lambda _c: self.open_editor(decl_id)).run()

    def sync_now(self) -> None:
        self.sync.sync_now()
        self.update_status()

    def set_work_offline(self, offline: bool) -> None:
        self.sync.set_offline(offline)

    def focus_filter(self) -> None:
        self.filter.setFocus()
        self.filter.selectAll()

    def export_selected(self, path: Path | None = None) -> None:
        """JSON or DMS XML (by the file's suffix), rendered and written off the writer."""
        ids = self.selected_ids()
        if not ids or (path := path or self._ask_path(t("action.export"),
                                                      t("export.filter"))) is None:
            return
        store, actor, target = self.ctx.store, self.ctx.actor(), path
        fmt = export_format_for(target)
        QueryOp(self.ctx, lambda: export_to_file(store, ids[0], fmt, target, actor=actor)
                ).success(self._saved).run()

    def print_selected(self, path: Path | None = None) -> None:
        """The declaration's PDF, rendered and written off the writer."""
        ids = self.selected_ids()
        if not ids or (path := path or self._ask_path(t("action.print"),
                                                      "PDF (*.pdf)")) is None:
            return
        store, actor, target, lang = self.ctx.store, self.ctx.actor(), path, language()
        QueryOp(self.ctx, lambda: print_declaration(store, ids[0], target, actor=actor,
                                                    lang=lang)).success(self._saved).run()

    def open_continuity(self) -> Any:
        from ui.continuity import ContinuityDialog

        dlg = ContinuityDialog(self.ctx, self)
        dlg.show()
        return dlg

    def open_settings(self) -> Any:
        from ui.settings import SettingsDialog

        dlg = SettingsDialog(self.ctx, self)
        dlg.show()
        return dlg

    def open_officer(self) -> Any:
        """Verify a sealed envelope (file, pasted token or QR payload) and, on an
        officer's profile, record a control decision."""
        from ui.officer import OfficerDialog

        dlg = OfficerDialog(self.ctx, self)
        dlg.show()
        return dlg

    def open_lodgings(self, decl_id: str | None = None) -> Any:
        """The unresolved lodgings with CDS and the user's decision on each (the current
        row is ``decl_id``'s when given)."""
        from ui.lodgings import LodgingsDialog

        dlg = LodgingsDialog(self.ctx, self, select=decl_id)
        dlg.decided.connect(lambda _d, _decision: self.refresh_connector())
        dlg.show()
        return dlg
