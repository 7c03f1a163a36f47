"""The main window: views in a sidebar, the declaration table, a detail pane, status bar.

Every write goes through :class:`~ui.workers.Op` on the writer executor and comes back
as ``operation_did_execute``; the table, sidebar, detail pane and status bar each
refresh only what concerns them.  Network work (sync, enrolment) runs on the pool.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QSplitter,
    QSystemTrayIcon,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from client.declaration import states
from client.declaration.model import Declaration, new_declaration_id
from client.store import Changes
from client.store import history_notes as notes
from ui.context import AppContext, error_text
from ui.i18n import render, status_label, t
from ui.models.declarations import DeclarationTableModel
from ui.models.findings import FindingsModel
from ui.models.history import HistoryModel
from ui.models.sidebar import SidebarModel
from ui.syncbridge import SyncController, age_text
from ui.workers import Op

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def icon(name: str) -> QIcon:
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def new_lrn() -> str:
    from client.declaration.model import new_lrn as make

    return make()


class DetailPane(QTabWidget):
    """Summary, history, receipts and findings (with rejection explanations) of one."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.decl_id: str | None = None
        self.summary = QTextBrowser()
        self.summary.setOpenLinks(False)
        self.history_model = HistoryModel(self)
        self.history = QTableView()
        self.history.setModel(self.history_model)
        self.history.horizontalHeader().setStretchLastSection(True)
        self.history.verticalHeader().hide()
        self.receipts = QPlainTextEdit()
        self.receipts.setReadOnly(True)
        self.findings_model = FindingsModel(self)
        self.findings = QTableView()
        self.findings.setModel(self.findings_model)
        self.findings.horizontalHeader().setStretchLastSection(True)
        self.findings.verticalHeader().hide()
        self.findings.setWordWrap(True)
        for w in (self.summary, self.history, self.receipts, self.findings):
            self.addTab(w, "")
        self.retranslate()

    def retranslate(self) -> None:
        for i, key in enumerate(("detail.summary", "detail.history", "detail.receipts",
                                 "detail.findings")):
            self.setTabText(i, t(key))
        self.summary.setAccessibleName(t("detail.summary"))
        self.history.setAccessibleName(t("detail.history"))
        self.receipts.setAccessibleName(t("detail.receipts"))
        self.findings.setAccessibleName(t("detail.findings"))
        self.show_declaration(self.decl_id)

    def show_declaration(self, decl_id: str | None) -> None:
        self.decl_id = decl_id
        if decl_id is None or not self.ctx.store.exists(decl_id):
            self.decl_id = None
            self.summary.setHtml(f"<p>{t('detail.none')}</p>")
            self.history_model.set_entries([])
            self.receipts.setPlainText("")
            self.findings_model.set_findings([])
            return
        st = self.ctx.store.get(decl_id)
        d = st.declaration
        rows = [
            (t("field.lrn"), d.lrn or ""), (t("field.type"), d.type),
            (t("col.status"), status_label(st.status)), (t("col.mrn"), st.mrn or ""),
            (t("field.version"), str(d.version)),
            (t("col.declarant"), (d.declarant.name or d.declarant.id or "") if d.declarant else ""),
            (t("col.items"), str(len(d.goods_items))),
            (t("field.invoice_total"), f"{d.invoice_total or ''} {d.invoice_currency or ''}"),
            (t("col.updated"), st.updated_at[:19].replace("T", " ")),
        ]
        if st.sealed_at:
            rows.append((t("detail.sealed_at"), st.sealed_at[:19].replace("T", " ")))
        if st.envelope_hash:
            rows.append((t("detail.envelope_hash"), st.envelope_hash[:32] + "…"))
        if st.fallback_printed_at:
            rows.append((t("detail.fallback_printed"), st.fallback_printed_at[:19]))
        html = "<table cellspacing='4'>" + "".join(
            f"<tr><td><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>" for k, v in rows) + "</table>"
        history = self.ctx.store.history(decl_id)
        explanations = self.rejection_explanations(history)
        if explanations:
            html += f"<h3>{_esc(t('detail.rejection'))}</h3><ul>" + "".join(
                f"<li><b>{_esc(c)}</b>: {_esc(x)}</li>" for c, x in explanations) + "</ul>"
        self.summary.setHtml(html)
        self.history_model.set_entries(history)
        receipts = self.ctx.store.receipts(decl_id)
        self.receipts.setPlainText("\n\n".join(
            t("detail.receipt_line", seq=r["seq"], version=r["version"], mrn=r.get("mrn") or "-",
              received_at=r["received_at"]) + "\n" + r["token"][:120] + "…"
            for r in receipts) or t("detail.no_receipts"))
        from client.seal.sealing import validation_findings

        findings = validation_findings(d, self.ctx.store, exclude_id=d.id) \
            if st.status in states.EDITABLE else []
        self.findings_model.set_findings(findings)

    def rejection_explanations(self, history: list[Any]) -> list[tuple[str, str]]:
        """Each server error code of the latest rejection, explained from the reference data."""
        out: list[tuple[str, str]] = []
        for e in reversed(history):
            errors = (e.detail or {}).get("errors") if e.to_status == states.REJECTED else None
            if errors:
                for err in errors:
                    code = str(err.get("code", ""))
                    text = self.ctx.refdata.explain_error(code) or err.get("detail") or ""
                    pointer = err.get("pointer")
                    out.append((code, f"{text} ({pointer})" if pointer else text))
                break
        return out


def _esc(text: Any) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, *, sync: SyncController | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.sync = sync if sync is not None else SyncController(ctx)
        ctx.sync = self.sync
        ctx.error_sink = self.show_error
        self.editors: dict[str, Any] = {}
        self.notices: list[str] = []
        self.last_error: str | None = None
        self._sealer: Any = None
        self.setObjectName("MainWindow")
        self.resize(1200, 720)

        # ---- models and views --------------------------------------------------------
        self.sidebar_model = SidebarModel(ctx.store, self)
        self.sidebar = QListView()
        self.sidebar.setModel(self.sidebar_model)
        self.sidebar.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sidebar.setMinimumWidth(150)
        self.table_model = DeclarationTableModel(ctx.store, self)
        if ctx.reader is not None:
            reader = ctx.reader
            self.table_model.loader = lambda q, cb: reader.submit(q, cb, ctx.report_error)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setDefaultSectionSize(120)
        self.table.setWordWrap(False)
        self.table.doubleClicked.connect(lambda _i: self.edit_selected())
        self.filter = QLineEdit()
        self.filter.setClearButtonEnabled(True)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(150)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter.textChanged.connect(lambda _t: self._filter_timer.start())
        self.filter_label = QLabel()
        self.filter_label.setBuddy(self.filter)
        self.detail = DetailPane(ctx)
        self._detail_timer = QTimer(self, singleShot=True, interval=0)
        self._detail_timer.timeout.connect(self._show_current_detail)

        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.filter_label)
        row.addWidget(self.filter, 1)
        lay.addLayout(row)
        lay.addWidget(self.table, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([190, 640, 370])
        self.setCentralWidget(self.splitter)

        self._make_actions()
        self._make_status_bar()
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon("comptoir"), self)
            self.tray.show()

        # ---- wiring -------------------------------------------------------------------
        self.sidebar.selectionModel().currentChanged.connect(self._view_changed)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        sig = ctx.signals
        sig.operation_did_execute.connect(self.on_operation)
        sig.connectivity_changed.connect(lambda _s: self.update_status())
        sig.sync_progress.connect(self._on_progress)
        sig.sync_finished.connect(self._on_sync_finished)
        sig.statuses_reported.connect(self.on_statuses)
        sig.language_changed.connect(lambda _l: self.retranslate())
        self.sync.state_changed.connect(self.update_status)
        self._pending = Changes()
        self._coalesce = QTimer(self, singleShot=True, interval=250)
        self._coalesce.timeout.connect(self._flush_pending)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self.update_status)
        self._status_timer.start()

        self.sidebar_model.refresh()
        self.retranslate()
        self.select_view("all")

    # ---- actions ---------------------------------------------------------------------------
    def _action(self, name: str, shortcut: Any, slot: Any, *, checkable: bool = False) -> QAction:
        a = QAction(self)
        a.setObjectName(f"action_{name}")
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        a.setIcon(icon(name))
        a.setCheckable(checkable)
        a.triggered.connect(slot)
        self.actions_by_name[name] = a
        return a

    def _make_actions(self) -> None:
        self.actions_by_name: dict[str, QAction] = {}
        K = QKeySequence.StandardKey
        self._action("new", K.New, lambda: self.new_declaration())
        self._action("copy", "Ctrl+D", lambda: self.copy_selected())
        self._action("edit", "Ctrl+E", lambda: self.edit_selected())
        self._action("ready", "Ctrl+R", lambda: self.mark_ready_selected())
        self._action("seal", "Ctrl+Shift+S", lambda: self.seal_selected())
        self._action("amend", "Ctrl+Shift+A", lambda: self.amend_selected())
        self._action("sync", "F5", lambda: self.sync_now())
        self._action("offline", "Ctrl+Shift+O", lambda on: self.sync.set_offline(bool(on)),
                     checkable=True)
        self._action("export", "Ctrl+Shift+E", lambda: self.export_selected())
        self._action("print", K.Print, lambda: self.print_selected())
        self._action("continuity", "Ctrl+Shift+C", lambda: self.open_continuity())
        self._action("settings", "Ctrl+,", lambda: self.open_settings())
        self._action("officer", "Ctrl+Shift+V", lambda: self.open_officer())
        self._action("find", K.Find, lambda: (self.filter.setFocus(), self.filter.selectAll()))
        self._action("quit", K.Quit, lambda: self.close())
        self.actions_by_name["offline"].setChecked(self.sync.offline)

        mb = self.menuBar()
        self.menus: dict[str, Any] = {}
        for key, names in (("file", ("new", "copy", "export", "print", None, "settings", None,
                                     "quit")),
                           ("declaration", ("edit", "ready", "seal", "amend", None, "find")),
                           ("sync", ("sync", "offline", None, "continuity", "officer"))):
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
        for n in ("new", "copy", "seal", "sync", "export", "print", "continuity"):
            self.toolbar.addAction(self.actions_by_name[n])

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.conn_label = QLabel()
        self.queue_label = QLabel()
        self.oldest_label = QLabel()
        self.last_sync_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.progress.hide()
        for w in (self.conn_label, self.queue_label, self.oldest_label, self.last_sync_label):
            sb.addPermanentWidget(w)
        sb.addPermanentWidget(self.progress)

    def retranslate(self) -> None:
        self.setWindowTitle(t("app.title_training") if self.ctx.training else t("app.title"))
        for name, a in self.actions_by_name.items():
            a.setText(t(f"action.{name}"))
            a.setToolTip(t(f"action.{name}.tip") + (
                f" ({a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                if not a.shortcut().isEmpty() else ""))
        for key, menu in self.menus.items():
            menu.setTitle(t(f"menu.{key}"))
        self._fill_toolbar()
        self.filter_label.setText(t("main.filter_label"))
        self.filter.setPlaceholderText(t("main.filter_placeholder"))
        self.filter.setAccessibleName(t("main.filter_label"))
        self.table.setAccessibleName(t("main.table"))
        self.sidebar.setAccessibleName(t("main.views"))
        self.progress.setAccessibleName(t("status.progress"))
        self.sidebar_model.retranslate()
        hint = self.sidebar.sizeHintForColumn(0) + 2 * self.sidebar.frameWidth() + 8
        self.sidebar.setMinimumWidth(max(150, min(hint, 360)))
        self.table_model.retranslate()
        self.detail.retranslate()
        self.update_status()

    # ---- views ------------------------------------------------------------------------------
    def select_view(self, key: str) -> None:
        row = self.sidebar_model.row_of_key(key)
        index = self.sidebar_model.index(row, 0)
        if self.sidebar.currentIndex() == index:
            self._view_changed(index)  # same view again: re-query
        else:
            self.sidebar.setCurrentIndex(index)  # currentChanged re-queries

    def current_view(self) -> str:
        idx = self.sidebar.currentIndex()
        return self.sidebar_model.key(idx.row()) if idx.isValid() else "all"

    def _view_changed(self, index: QModelIndex, _prev: Any = None) -> None:
        if index.isValid():
            self.table_model.set_view(self.sidebar_model.statuses(index.row()))
            self._select_first()

    def _apply_filter(self) -> None:
        self.table_model.set_search(self.filter.text())
        self._select_first()

    def _select_first(self) -> None:
        if self.table_model.rowCount() and not self.table.currentIndex().isValid():
            self.table.setCurrentIndex(self.table_model.index(0, 0))
        self._row_changed(self.table.currentIndex())

    def _row_changed(self, index: QModelIndex, _prev: Any = None) -> None:
        self._update_actions()
        self._detail_timer.start()  # after the paint; a burst of moves shows the last one

    def _show_current_detail(self) -> None:
        index = self.table.currentIndex()
        decl_id = self.table_model.id_at(index.row()) if index.isValid() else None
        if decl_id != self.detail.decl_id:
            self.detail.show_declaration(decl_id)

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        if not rows and self.table.currentIndex().isValid():
            rows = [self.table.currentIndex().row()]
        return [d for d in (self.table_model.id_at(r) for r in rows) if d]

    def select_id(self, decl_id: str) -> bool:
        row = self.table_model.row_of(decl_id)
        if row < 0:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.table_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(self.table_model.index(row, 0))
        return True

    def _update_actions(self) -> None:
        summ = self.table_model.summary(self.table.currentIndex().row()) \
            if self.table.currentIndex().isValid() else None
        has = summ is not None
        for n in ("copy", "edit", "export", "print"):
            self.actions_by_name[n].setEnabled(has)
        self.actions_by_name["seal"].setEnabled(has and summ.status in states.EDITABLE)
        self.actions_by_name["ready"].setEnabled(has and summ.status == states.DRAFT)
        self.actions_by_name["amend"].setEnabled(
            has and summ.status not in states.EDITABLE and summ.status != states.SEALED)

    # ---- changes --------------------------------------------------------------------------------
    def on_operation(self, changes: Changes, initiator: object) -> None:
        """Local ops refresh at once; bursts from sync are coalesced (one refresh per 250 ms)."""
        if initiator is not self.sync:
            self._refresh(changes)
            return
        p = self._pending
        self._pending = Changes(declarations=tuple(dict.fromkeys(p.declarations
                                                                 + changes.declarations)),
                                outbox=p.outbox or changes.outbox,
                                statuses=p.statuses or changes.statuses,
                                settings=p.settings or changes.settings)
        if not self._coalesce.isActive():
            self._coalesce.start()

    def _flush_pending(self) -> None:
        changes, self._pending = self._pending, Changes()
        if changes != Changes():
            self._refresh(changes)

    def _refresh(self, changes: Changes) -> None:
        self.table_model.apply_changes(changes)
        if changes.declarations or changes.statuses:
            self.sidebar_model.refresh()
        if self.detail.decl_id and (self.detail.decl_id in changes.declarations):
            self.detail.show_declaration(self.detail.decl_id)
        elif not self.table.currentIndex().isValid():
            self._select_first()
        if changes.outbox or changes.statuses:
            self.update_status()
        self._update_actions()

    def on_statuses(self, items: list[Any]) -> None:
        """Tray notice for released / rejected (status bar where there is no tray)."""
        for decl_id, status in items:
            if status not in (states.RELEASED, states.REJECTED):
                continue
            try:
                lrn = self.ctx.store.get(decl_id).declaration.lrn or decl_id[:8]
            except Exception:  # noqa: BLE001 - a notice about an unknown declaration
                lrn = decl_id[:8]
            text = t(f"notice.{status}", lrn=lrn)
            self.notices.append(text)
            if self.tray is not None and self.tray.isVisible():
                self.tray.showMessage(t("app.title"), text,
                                      QSystemTrayIcon.MessageIcon.Information, 8000)
            self.statusBar().showMessage(text, 15000)

    def update_status(self) -> None:
        queued, oldest = self.ctx.store.outbox_stats()
        state = self.sync.connectivity
        if self.sync.offline:
            state = "offline"
        self.conn_label.setText(t(f"conn.{state}"))
        self.conn_label.setProperty("state", state)
        self.queue_label.setText(t("status.queued", n=queued))
        self.oldest_label.setText(t("status.oldest", age=age_text(oldest)) if queued else "")
        self.oldest_label.setVisible(bool(queued))
        self.last_sync_label.setText(t("status.last_sync", age=age_text(self.sync.last_sync_ok)))
        self.actions_by_name["sync"].setEnabled(not self.sync.running)

    def _on_progress(self, done: int, total: int) -> None:
        if total <= 0:
            self.progress.hide()
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.show()

    def _on_sync_finished(self, report: Any) -> None:
        self._flush_pending()
        self.progress.hide()
        if report is None and self.sync.last_error == "not_configured":
            self.statusBar().showMessage(t("sync.not_configured"), 8000)
        elif report is not None and not getattr(report, "reachable", True):
            err = getattr(report, "error", None)
            self.statusBar().showMessage(render(err) if err is not None else t("conn.offline"),
                                         8000)
        self.update_status()
        self.sidebar_model.refresh()

    def show_error(self, exc: BaseException | str) -> None:
        text = exc if isinstance(exc, str) else error_text(exc)
        self.last_error = text
        self.statusBar().showMessage(text, 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, t("app.title"), text,
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("error_box")
        box.open()

    # ---- operations --------------------------------------------------------------------------
    def new_declaration(self, *, open_editor: bool = True) -> None:
        store, actor = self.ctx.store, self.ctx.actor()
        declarant = self.ctx.profile.declarant_id
        decl = Declaration(lrn=new_lrn(), declarant={"id": declarant} if declarant else None)

        def done(_ch: Any) -> None:
            self.table.clearSelection()
            self.select_id(decl.id)
            if open_editor:
                self.open_editor(decl.id)

        Op(self.ctx, lambda: store.create(decl, actor), initiator=self).success(done).run()

    def copy_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        store, actor = self.ctx.store, self.ctx.actor()
        src = store.get(ids[0]).declaration
        copy = src.model_copy(update={"id": new_declaration_id(), "version": 1,
                                      "lrn": new_lrn(), "mrn": None, "function": "original",
                                      "amends": None}, deep=True)
        Op(self.ctx, lambda: store.create(copy, actor, note=notes.COPIED_FROM(source=src.id)),
           initiator=self).success(lambda _c: self.select_id(copy.id)).run()

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

    def sealer(self) -> Any:
        if self._sealer is None:
            from client.seal.sealing import Sealer

            self._sealer = Sealer(self.ctx.profile, self.ctx.store, self.ctx.secrets)
        return self._sealer

    def reset_sealer(self) -> None:
        self._sealer = None

    def seal(self, decl_ids: list[str], on_done: Any = None) -> None:
        """Seal and queue on the writer; refusals show their findings."""
        try:
            sealer = self.sealer()
        except Exception as exc:  # noqa: BLE001 - no key yet: say so in the user's words
            self.show_error(exc)
            return
        from client.seal.sealing import SealRefused

        def work() -> Changes:
            for decl_id in decl_ids:
                sealer.seal(decl_id)
            return Changes(declarations=tuple(decl_ids), outbox=True, statuses=True)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, SealRefused):
                lines = [render(f.message) for f in exc.findings if f.severity == "error"][:8]
                self.show_error(error_text(exc) + "\n\n" + "\n".join(lines))
            else:
                self.show_error(exc)
            self._refresh(Changes(declarations=tuple(decl_ids), statuses=True))

        def ok(_ch: Any) -> None:
            self.statusBar().showMessage(t("seal.done", n=len(decl_ids)), 8000)
            if on_done is not None:
                on_done()
            if not self.sync.offline and self.sync.configured():
                self.sync.sync_now()

        Op(self.ctx, work, initiator=self).success(ok).failure(failed).run()

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
        from client.declaration.validation import has_errors
        from client.seal.sealing import validation_findings

        store, actor = self.ctx.store, self.ctx.actor()
        ready: list[str] = []
        for decl_id in self.selected_ids():
            st = store.get(decl_id)
            if st.status != states.DRAFT:
                continue
            findings = validation_findings(st.declaration, store, exclude_id=decl_id)
            if has_errors(findings):
                lines = [render(f.message) for f in findings if f.severity == "error"][:8]
                self.show_error(t("ready.refused", lrn=st.declaration.lrn or decl_id[:8])
                                + "\n\n" + "\n".join(lines))
                return
            ready.append(decl_id)
        if not ready:
            return

        def work() -> Changes:
            for decl_id in ready:
                store.transition(decl_id, states.READY, actor, note=notes.CHECKED())
            return Changes(declarations=tuple(ready), statuses=True)

        Op(self.ctx, work, initiator=self).run()

    def amend_selected(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        store, actor = self.ctx.store, self.ctx.actor()
        decl_id = ids[0]

        def work() -> Changes:
            store.new_version(decl_id, actor)
            return Changes(declarations=(decl_id,), statuses=True)

        Op(self.ctx, work, initiator=self).success(lambda _c: self.open_editor(decl_id)).run()

    def sync_now(self) -> None:
        self.sync.sync_now()
        self.update_status()

    def export_selected(self, path: Path | None = None) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        if path is None:
            name, _f = QFileDialog.getSaveFileName(self, t("action.export"), "",
                                                   t("export.filter"))
            if not name:
                return
            path = Path(name)
        st = self.ctx.store.get(ids[0])

        def work() -> None:
            if path.suffix.lower() == ".xml":
                from client.interchange.dms import export_dms

                path.write_bytes(export_dms(st.declaration))
            else:
                path.write_text(json.dumps(st.declaration.to_json_dict(), indent=2,
                                           ensure_ascii=False), encoding="utf-8")

        Op(self.ctx, work, initiator=self).success(
            lambda _r: self.statusBar().showMessage(t("export.done", path=str(path)), 8000)).run()

    def print_selected(self, path: Path | None = None) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        if path is None:
            name, _f = QFileDialog.getSaveFileName(self, t("action.print"), "",
                                                   "PDF (*.pdf)")
            if not name:
                return
            path = Path(name)
        st = self.ctx.store.get(ids[0])

        def work() -> None:
            from client.common.i18n import language
            from client.interchange import printing

            path.write_bytes(printing.render_pdf(st.declaration, status=st.status, mrn=st.mrn,
                                                 envelope_hash=st.envelope_hash,
                                                 lang=language()))

        Op(self.ctx, work, initiator=self).success(
            lambda _r: self.statusBar().showMessage(t("export.done", path=str(path)), 8000)).run()

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

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        for ed in list(self.editors.values()):
            ed.close()
        self.sync.stop()
        self._status_timer.stop()
        if self.tray is not None:
            self.tray.hide()
        super().closeEvent(event)
