"""The window the user sees while the store opens: the main window's layout, its first rows.

Most of the time from start to a usable window goes into importing the store's libraries
(SQLAlchemy, SQLModel, pydantic) and the editor, sealing and interchange code.  None of it
is needed to show the declarations: this window reads one screen of rows through
:mod:`client.store.firstscreen`, paints, and the app builds the main window behind it,
which then takes its place (same size, position, filter text and current row).  Only the
modules this file imports are loaded before the first paint (a test checks which).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from client.store.firstscreen import FirstScreen
from ui.i18n import t
from ui.models.declarations import DeclarationTableModel
from ui.models.sidebar import VIEWS


class FirstScreenWindow(QMainWindow):
    """The main window's sidebar, filter and table, read-only, until it is ready."""

    def __init__(self, screen: FirstScreen, *, training: bool = False) -> None:
        super().__init__()
        self.setObjectName("FirstScreen")
        self.resize(1200, 720)
        self.setWindowTitle(t("app.title_training") if training else t("app.title"))
        self.sidebar = QListView()
        self.sidebar.setModel(QStringListModel([t(f"view.{key}") for key, _ in VIEWS],
                                               self))
        self.sidebar.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sidebar.setCurrentIndex(self.sidebar.model().index(len(VIEWS) - 1, 0))  # all
        self.sidebar.setMinimumWidth(150)
        self.table_model = DeclarationTableModel(None, self)
        self.table_model.preload(screen.rows, screen.order_by, screen.descending)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setDefaultSectionSize(120)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(0, Qt.SortOrder.DescendingOrder if screen.descending
                                else Qt.SortOrder.AscendingOrder)
        self.table.setWordWrap(False)
        if screen.rows:
            self.table.setCurrentIndex(self.table_model.index(0, 0))
        self.filter = QLineEdit()
        self.filter.setClearButtonEnabled(True)
        self.filter.setPlaceholderText(t("main.filter_placeholder"))
        self.filter.setAccessibleName(t("main.filter_label"))
        label = QLabel(t("main.filter_label"))
        label.setBuddy(self.filter)
        self.table.setAccessibleName(t("main.table"))
        self.sidebar.setAccessibleName(t("main.views"))

        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.filter, 1)
        lay.addLayout(row)
        lay.addWidget(self.table, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(QWidget())  # the detail pane's place
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([190, 640, 370])
        self.setCentralWidget(self.splitter)
        self.statusBar().showMessage(t("status.opening"))

    def hand_over(self, window: Any) -> None:
        """Put ``window`` (the main window, built) where this one is, then close."""
        window.setGeometry(self.geometry())
        if self.isMaximized():
            window.showMaximized()
        else:
            window.show()
        text = self.filter.text()
        if text:
            window.filter.setText(text)
        current = self.table.currentIndex()
        decl_id = self.table_model.id_at(current.row()) if current.isValid() else None
        if decl_id and current.row() > 0:
            window.select_id(decl_id)
        self.close()
        self.deleteLater()
