"""The unresolved lodgings with UK CDS, and the user's decision on each (#13, item 4).

Past CDS12003's window the connector never resends an attempt whose answer was lost: it
sets the lodging aside and the window says so (the status bar's count, a line in the
declaration's summary).  This dialog lists each one with what is known — the LRN (DE 2/5),
the first and last attempt, what the notifications said, whether CDS12003 still catches a
resend — and records the decision through the action layer's
:func:`~client.services.lodgings.decide_lodging`, the function ``comptoir cds decide``
calls: lodge it again, record it as lodged with its MRN, or withdraw it.  Reading runs on
the reader pool, the decision on the writer; the history shows it afterwards.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from client.common.i18n import catalogue, language, tr
from client.services.lodgings import DECISIONS, Unresolved, decide_lodging, unresolved_lodgings
from ui.i18n import render, t
from ui.workers import LatestOnly, Op, QueryOp

COLUMNS = ("lrn", "first", "last", "attempts", "said", "protection")
_OUTCOMES = ("started", "ambiguous", "accepted", "duplicate", "refused")


def _when(at: str | None) -> str:
    return at[:19].replace("T", " ") if at else "-"


def protection_text(u: Unresolved) -> str:
    """Whether CDS12003 would still catch a resend with the same LRN, in words."""
    if u.endpoint != "submit":
        return t("lodgings.protection_none")
    if u.age_h is None:
        return t("lodgings.protection_unknown")
    key = "lodgings.protection_yes" if u.protected else "lodgings.protection_no"
    age = f"{u.age_h:.1f}"
    return t(key, age=age.replace(".", ",") if language() == "fr" else age)


def said_text(u: Unresolved) -> str:
    """What the notifications pulled for it said (their statuses), or that none came."""
    if not u.said:
        return t("lodgings.said_none")
    return "; ".join(t("lodgings.said_item", at=_when(n["issued_at"]),
                       status=_status_word(n["status"]), mrn=n["mrn"] or "-")
                     for n in u.said)


def _status_word(status: str | None) -> str:
    """A notification's status as the history names it ("accepted", "acceptée")."""
    key = f"history.feed_status.{status}"
    return tr(key) if status and key in catalogue("en") else (status or "-")


def known_text(u: Unresolved) -> str:
    """Everything known about one lodging, line by line, for the panel under the list."""
    lines = [t("lodgings.known_head", lrn=u.lrn, id=u.declaration_id[:12],
               endpoint=t(f"lodgings.endpoint.{u.endpoint}"))]
    for n, a in enumerate(u.attempts, start=1):
        outcome = a["outcome"] if a["outcome"] not in _OUTCOMES \
            else t(f"lodgings.outcome.{a['outcome']}")
        lines.append(t("lodgings.attempt_line", n=n, at=_when(a["started_at"]),
                       outcome=outcome, http=a["http_status"] or "-",
                       conversation=a["conversation_id"] or "-"))
    lines.append(t("lodgings.said", said=said_text(u)))
    lines.append(protection_text(u))
    lines.append(t("lodgings.options"))
    return "\n".join(lines)


class LodgingsDialog(QDialog):
    """Each unresolved lodging, what is known, and the three decisions."""

    decided = Signal(str, str)  # declaration id, decision

    def __init__(self, ctx: Any, parent: Any = None, *, select: str | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("LodgingsDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.rows: list[Unresolved] = []
        self._want = select
        self._reading = LatestOnly()
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("unresolved")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.currentCellChanged.connect(lambda *_a: self._show_known())
        self.known = QPlainTextEdit(self)
        self.known.setObjectName("known")
        self.known.setReadOnly(True)
        self.mrn = QLineEdit(self)
        self.mrn.setObjectName("mrn")
        self.mrn.textChanged.connect(lambda _t: self._enable())
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for decision in DECISIONS:
            b = QPushButton(self)
            b.setObjectName(f"decide_{decision}")
            b.clicked.connect(lambda _c=False, d=decision: self.record_decision(d))
            self.buttons[decision] = b
            if decision == "lodged":
                row.addWidget(self.mrn)
            row.addWidget(b)
        self.message = QLabel(self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.intro)
        lay.addWidget(self.table, 2)
        lay.addWidget(self.known, 1)
        lay.addLayout(row)
        lay.addWidget(self.message)
        self.retranslate()
        self.resize(900, 520)
        ctx.signals.language_changed.connect(self._language_changed)
        self.reload()

    def retranslate(self) -> None:
        self.setWindowTitle(t("lodgings.title"))
        self.intro.setText(t("lodgings.intro"))
        self.table.setHorizontalHeaderLabels([t(f"lodgings.col.{c}") for c in COLUMNS])
        self.table.setAccessibleName(t("lodgings.title"))
        self.mrn.setPlaceholderText(t("lodgings.mrn_placeholder"))
        self.mrn.setAccessibleName(t("lodgings.mrn_placeholder"))
        for decision, b in self.buttons.items():
            b.setText(t(f"lodgings.decide.{decision}"))
            b.setToolTip(t(f"lodgings.decide.{decision}.tip"))

    def _language_changed(self, _lang: str) -> None:
        self.retranslate()
        self.reload()  # the words of each row in the new language

    # ---- reading ------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the unresolved lodgings (reader pool) and show them."""
        from sync.cds.config import window_of

        store, window = self.ctx.store, window_of(self.ctx.profile)
        QueryOp(self.ctx, lambda: unresolved_lodgings(store, window),
                latest=self._reading).success(self._fill).failure(
            lambda exc: self.message.setText(render(exc))).run()

    def _fill(self, rows: list[Unresolved]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, u in enumerate(rows):
            cells = (u.lrn, _when(u.first_attempt), _when(u.last_attempt),
                     str(len(u.attempts)), said_text(u), protection_text(u))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setData(Qt.ItemDataRole.UserRole, u.declaration_id)
                self.table.setItem(r, c, item)
        if not rows:
            self.known.setPlainText(t("lodgings.none"))
        want = next((i for i, u in enumerate(rows) if u.declaration_id == self._want), 0)
        if rows:
            self.table.setCurrentCell(want, 0)
        self._show_known()

    def current(self) -> Unresolved | None:
        row = self.table.currentRow()
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def select(self, decl_id: str) -> bool:
        """Make ``decl_id``'s lodging the current row (False: it is not unresolved)."""
        self._want = decl_id
        for i, u in enumerate(self.rows):
            if u.declaration_id == decl_id:
                self.table.setCurrentCell(i, 0)
                return True
        return False

    def _show_known(self) -> None:
        u = self.current()
        if u is not None:
            self.known.setPlainText(known_text(u))
        self._enable()

    def _enable(self) -> None:
        on = self.current() is not None
        for decision, b in self.buttons.items():
            b.setEnabled(on and (decision != "lodged" or bool(self.mrn.text().strip())))

    # ---- deciding ------------------------------------------------------------------------
    def record_decision(self, decision: str) -> None:
        """Record ``decision`` on the current lodging (on the writer), then re-read."""
        u = self.current()
        if u is None:
            return
        mrn = self.mrn.text().strip().upper() or None if decision == "lodged" else None
        store, actor, decl_id = self.ctx.store, self.ctx.profile.actor(), u.declaration_id

        def done(_changes: Any) -> None:
            self.message.setText(tr(f"cds.decided_{decision}", id=u.lrn, mrn=mrn or "-"))
            self.mrn.clear()
            self.decided.emit(decl_id, decision)
            self.reload()

        Op(self.ctx, lambda: decide_lodging(store, decl_id, decision, actor, mrn=mrn),
           initiator=self).success(done).failure(
            lambda exc: self.message.setText(render(exc))).run()
