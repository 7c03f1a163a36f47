"""The main window: views in a sidebar, the declaration table, a detail pane, status bar.

Every write goes through :class:`~ui.workers.Op` on the writer executor and comes back
as ``operation_did_execute``; the table, sidebar, detail pane and status bar each
refresh only what concerns them.  Network work (sync, enrolment) runs on the pool;
reads for the detail pane and rendering for exports on the reader pool.  The actions
and their handlers live in :mod:`ui.actions`, the detail pane in :mod:`ui.detail`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QSystemTrayIcon,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from client.common.i18n import tr
from client.declaration import states
from client.store import Changes
from ui.actions import ActionsMixin
from ui.context import AppContext, error_text
from ui.detail import DetailPane
from ui.i18n import render, t
from ui.icons import icon
from ui.models.declarations import DeclarationTableModel
from ui.models.sidebar import SidebarModel
from ui.syncbridge import SyncController, age_text
from ui.tour import HelpMenu
from ui.workers import LatestOnly, QueryOp

NOTICES_EACH = 3  # released/rejected reported at once: above this, one notice with counts
# A drain's answers refresh the list at most once a second: each refresh of a 100,000-row
# list ordered by last change reads its id list again, and at one every 250 ms the
# window's p99 event-loop gap during a 2,000-declaration drain was 54-64 ms (bench ui;
# 21 ms at one a second).  The progress bar still moves with every batch.
SYNC_REFRESH_MS = 1000

__all__ = ["DetailPane", "MainWindow"]


class MainWindow(ActionsMixin, QMainWindow):
    """The declarations at a glance; every action in :mod:`ui.actions`."""

    def __init__(self, ctx: AppContext, *, sync: SyncController | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.sync = sync if sync is not None else SyncController(ctx)
        ctx.sync = self.sync
        ctx.error_sink = self.show_error
        self.editors: dict[str, Any] = {}
        self._stats_lane = LatestOnly()  # the status bar's queue figures
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
        if ctx.reader is not None:  # a newer id query supersedes one still queued
            ids_lane = LatestOnly()
            self.table_model.loader = lambda q, cb: QueryOp(ctx, q, latest=ids_lane).success(
                cb).run()
            counts_lane = LatestOnly()  # the sidebar's counts follow the first paint
            self.sidebar_model.loader = lambda q, cb: QueryOp(
                ctx, q, latest=counts_lane).success(cb).run()
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
        self.help_menu = HelpMenu(self)  # the guided tour and its steps
        self.link_switch: Any = None  # training mode's "Link" switch (ui.training)
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
        self.detail.decide_requested.connect(self.open_lodgings)
        sig.connectivity_changed.connect(lambda _s: self.update_status())
        sig.sync_progress.connect(self._on_progress)
        sig.sync_finished.connect(self._on_sync_finished)
        sig.statuses_reported.connect(self.on_statuses)
        sig.language_changed.connect(lambda _l: self.retranslate())
        self.sync.state_changed.connect(self.update_status)
        self.sync.state_changed.connect(self.refresh_connector)
        self._pending = Changes()
        self._coalesce = QTimer(self, singleShot=True, interval=SYNC_REFRESH_MS)
        self._coalesce.timeout.connect(self._flush_pending)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(1000)
        self._status_timer.timeout.connect(self.update_status)
        self._status_timer.start()

        self.sidebar_model.refresh()
        self.retranslate()
        self.select_view("all")

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.conn_label = QLabel()
        self.queue_label = QLabel()
        self.oldest_label = QLabel()
        self.last_sync_label = QLabel()
        self.enrol_label = QLabel()
        self.enrol_label.setObjectName("not_enrolled")
        self.connector_label = QLabel()  # which single window, environment, credentials
        self.connector_label.setObjectName("connector_state")
        self.unresolved_button = QPushButton()  # lodgings only the user can settle (CDS)
        self.unresolved_button.setObjectName("cds_unresolved")
        self.unresolved_button.setFlat(True)
        self.unresolved_button.clicked.connect(lambda _c=False: self.open_lodgings())
        self.unresolved_button.hide()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.progress.hide()
        for w in (self.enrol_label, self.connector_label, self.unresolved_button,
                  self.conn_label, self.queue_label, self.oldest_label, self.last_sync_label):
            sb.addPermanentWidget(w)
        sb.addPermanentWidget(self.progress)

    def retranslate(self) -> None:
        self.setWindowTitle(t("app.title_training") if self.ctx.training else t("app.title"))
        self.retranslate_actions()
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
        self.refresh_connector()
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
        if decl_id != self.detail.requested_id:
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

    # ---- changes --------------------------------------------------------------------------------
    def on_operation(self, changes: Changes, initiator: object) -> None:
        """Local ops refresh at once; bursts from sync are coalesced (one refresh per
        ``SYNC_REFRESH_MS``)."""
        if changes.settings:
            self.refresh_connector()
            self.update_status()
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
        if self.detail.requested_id in changes.declarations:
            self.detail.refresh_if_changed(changes)
        elif not self.table.currentIndex().isValid():
            self._select_first()
        if changes.outbox or changes.statuses:
            self.update_status()
        self._update_actions()

    def on_statuses(self, items: list[Any]) -> None:
        """Tray notice for released / rejected (status bar where there is no tray).

        A drain's feed reports thousands at once: the LRNs come from one summary query
        (never a document parsed per item, which held the GUI thread for seconds, #15),
        and more than a few make one notice with the counts instead of a notice each.
        """
        notable = list(dict.fromkeys((d, s) for d, s in items
                                     if s in (states.RELEASED, states.REJECTED)))
        if not notable:
            return
        if len(notable) > NOTICES_EACH:
            released = sum(1 for _d, s in notable if s == states.RELEASED)
            self._notice(t("notice.many", released=released,
                           rejected=len(notable) - released))
            return
        try:
            rows = self.ctx.store.summaries([d for d, _s in notable])
        except Exception:  # noqa: BLE001 - a notice must not fail on a store hiccup
            rows = {}
        for decl_id, status in notable:
            row = rows.get(decl_id)
            lrn = (row.lrn if row is not None else None) or decl_id[:8]
            self._notice(t(f"notice.{status}", lrn=lrn))

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        if self.tray is not None and self.tray.isVisible():
            self.tray.showMessage(t("app.title"), text,
                                  QSystemTrayIcon.MessageIcon.Information, 8000)
        self.statusBar().showMessage(text, 15000)

    def update_status(self) -> None:
        """The status bar.  The queue's figures are read on the reader pool (every second,
        and after every change: a count on the GUI thread waited behind a drain's reads,
        #15); the labels follow when they arrive."""
        QueryOp(self.ctx, self.ctx.store.outbox_stats, latest=self._stats_lane).success(
            self._show_status).run()

    def _show_status(self, stats: tuple[int, str | None]) -> None:
        queued, oldest = stats
        state = self.sync.connectivity
        if self.sync.offline:
            state = "offline"
        self.conn_label.setText(t(f"conn.{state}"))
        self.conn_label.setProperty("state", state)
        self.queue_label.setText(t("status.queued", n=queued))
        self.oldest_label.setText(t("status.oldest", age=age_text(oldest)) if queued else "")
        self.oldest_label.setVisible(bool(queued))
        self.last_sync_label.setText(t("status.last_sync", age=age_text(self.sync.last_sync_ok)))
        server = self.ctx.profile.server or {}
        enrolled = bool(server.get("url") or (server.get("cds") or {}).get("url"))
        self.enrol_label.setVisible(not enrolled)
        self.enrol_label.setText("" if enrolled else t("status.not_enrolled", n=queued))
        self.enrol_label.setToolTip("" if enrolled else t("status.not_enrolled.tip"))
        self.actions_by_name["sync"].setEnabled(not self.sync.running)

    def refresh_connector(self) -> None:
        """The profile's connector in the status bar: CDS with its environment and
        credentials ("sign in again" after a refused refresh), or the single window's
        host.  Read on a state change, not every second (the keyring is asked)."""
        from ui.cds_settings import connector_tip, connector_view

        view = connector_view(self.ctx)
        server = self.ctx.profile.server or {}
        unresolved = 0
        if view.connector == "cds" or view.url != "-":
            state = "error" if view.error is not None else view.credentials
            text = t("status.connector_cds", environment=view.environment,
                     credentials=t(f"status.credentials_{state}"))
            tip = error_text(view.error) if view.error is not None else connector_tip(view)
            unresolved = self.ctx.store.cds_counts().get("unresolved", 0)
            if unresolved:  # only the user can settle these: say so where it is seen
                text += " · " + t("status.cds_unresolved", n=unresolved)
                tip += "\n" + tr("sync.unresolved", count=unresolved)
        elif server.get("url"):
            state = "enrolled"
            text = t("status.connector_comptoir",
                     host=urlsplit(str(server["url"])).hostname or str(server["url"]))
            tip = str(server["url"])
        else:
            state, text, tip = "none", "", ""
        self.connector_label.setText(text)
        self.connector_label.setToolTip(tip)
        self.connector_label.setAccessibleName(tip or text)
        self.connector_label.setProperty("state", state)
        self.connector_label.setVisible(bool(text))
        self.unresolved_button.setText(t("status.cds_unresolved_button"))
        self.unresolved_button.setToolTip(t("status.cds_unresolved_button.tip", n=unresolved))
        self.unresolved_button.setAccessibleName(t("status.cds_unresolved", n=unresolved))
        self.unresolved_button.setVisible(unresolved > 0)

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
        self.refresh_connector()
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

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        for ed in list(self.editors.values()):
            ed.close()
        self.sync.stop()
        self._status_timer.stop()
        if self.tray is not None:
            self.tray.hide()
        super().closeEvent(event)
