"""The commodity-code finder (DE 6/14): words of a description in, a subheading out.

A trader knows the goods, not the Harmonized System: typing "roasted coffee" lists the
6-digit subheadings whose text (or heading/chapter) holds those words, heading beside each,
and Enter picks one.  Keyboard only: type, arrows, Enter; Escape cancels.

A declared commodity code has 8 or 10 digits: the HS subheading and the national
extension (CN / TARIC), which is not held offline.  The extension field says so and
starts at ``00`` (the subheading not further subdivided), for the trader to confirm.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRegularExpression, Qt
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from ui.i18n import t


class CommodityFinder(QDialog):
    """Search the HS nomenclature by words; ``chosen`` holds the picked code."""

    def __init__(self, refdata: Any, lang: str | None, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("commodity_finder")
        self.setWindowTitle(t("editor.finder.title"))
        self.refdata, self.lang = refdata, lang
        self.chosen: str | None = None
        self.search = QLineEdit()
        self.search.setObjectName("finder_search")
        self.search.setPlaceholderText(t("editor.finder.placeholder"))
        self.results = QListWidget()
        self.results.setObjectName("finder_results")
        label = QLabel(t("editor.finder.label"))
        label.setBuddy(self.search)
        self.extension = QLineEdit("00")
        self.extension.setObjectName("finder_extension")
        self.extension.setMaximumWidth(80)
        self.extension.setValidator(QRegularExpressionValidator(
            QRegularExpression(r"[0-9]{0,4}"), self.extension))
        self.extension.returnPressed.connect(self.accept_current)
        ext_label = QLabel(t("editor.finder.extension"))
        ext_label.setBuddy(self.extension)
        ext_form = QFormLayout()
        ext_form.addRow(ext_label, self.extension)
        ext_help = QLabel(t("editor.finder.extension_help"))
        ext_help.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(label)
        lay.addWidget(self.search)
        lay.addWidget(self.results, 1)
        lay.addLayout(ext_form)
        lay.addWidget(ext_help)
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self.accept_current)
        self.results.itemActivated.connect(lambda _item: self.accept_current())
        self.resize(720, 420)

    def refresh(self, text: str) -> None:
        self.results.clear()
        for code, label in self.refdata.find_commodity(text, self.lang, limit=50):
            item = QListWidgetItem(f"{code[:4]} {code[4:]}  {label}")
            item.setData(Qt.ItemDataRole.UserRole, code)
            self.results.addItem(item)
        if self.results.count():
            self.results.setCurrentRow(0)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        """Up/Down in the search box move through the results."""
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up) and self.results.count():
            row = self.results.currentRow() + (1 if event.key() == Qt.Key.Key_Down else -1)
            self.results.setCurrentRow(max(0, min(row, self.results.count() - 1)))
            return
        super().keyPressEvent(event)

    def accept_current(self) -> None:
        item = self.results.currentItem()
        if item is None:
            return
        ext = self.extension.text().strip()
        if len(ext) not in (2, 4):
            self.extension.setFocus()
            return
        self.chosen = str(item.data(Qt.ItemDataRole.UserRole)) + ext
        self.accept()
