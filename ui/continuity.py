"""The continuity view (DESIGN.md "Business continuity").

Shows where the post stands during an outage: since when the link is down, how much
is queued and since when, how long the queue will take to drain once the link is
back (queue length / the measured drain rate), and the current outage against the
post's maximum acceptable outage (MAO, a setting).  Near the MAO it proposes the
fallback procedure: print the fallback documents of the queued declarations, which
is recorded on each declaration.  The action layer renders and writes the documents
(:func:`client.services.continuity.write_fallback_documents`, on the reader pool) and
records them (:func:`~client.services.continuity.record_fallback_printed`, on the writer).
It also counts down to the electronic lodging each printed import or export still owes
(the rule table's deadline from the print, "overdue" past it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from client.common.i18n import language
from client.declaration.continuity import countdown
from client.services.continuity import (
    FallbackWritten,
    record_fallback_printed,
    write_fallback_documents,
)
from client.store import settings_keys as keys
from ui.context import AppContext
from ui.i18n import render, t
from ui.syncbridge import DEFAULT_DRAIN_RATE, age_text, duration_text
from ui.workers import Op, QueryOp

DEFAULT_MAO_HOURS = keys.MAO_HOURS.default
WARN_FRACTION = 0.75


def stored_facts(ctx: AppContext) -> dict[str, Any]:
    """What the view needs from the store: read when something changed, not every tick."""
    queued, oldest = ctx.store.outbox_stats()
    due = ctx.store.lodgings_due()  # a partial index of the printed rows (0007)
    return {"lodgings_due": len(due), "nearest_lodge_by": due[0].lodge_by if due else None,
            "queued": queued, "oldest": oldest, "mao_hours": ctx.store.get_setting(keys.MAO_HOURS)}


def continuity_facts(ctx: AppContext, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """The numbers the view shows (no widgets: tested directly); ``stored``: the store's
    part as last read (:func:`stored_facts`), the clock's part is worked out now."""
    f = dict(stored if stored is not None else stored_facts(ctx))
    sync = ctx.sync
    rate = float(getattr(sync, "drain_rate", 0) or DEFAULT_DRAIN_RATE)
    outage = sync.outage_seconds() if sync is not None else 0.0
    mao_h = f["mao_hours"]
    f.update({"drain_rate": rate, "drain_seconds": f["queued"] / rate if rate > 0 else 0.0,
              "offline_since": getattr(sync, "offline_since", None), "outage_seconds": outage,
              "mao_fraction": outage / (mao_h * 3600) if mao_h else 0.0})
    return f


class ContinuityDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("ContinuityDialog")
        self.setSizeGripEnabled(True)
        self.labels: dict[str, QLabel] = {}
        self.names: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for key in ("offline_since", "queued", "oldest", "drain", "outage", "recovery", "due"):
            name, value = QLabel(), QLabel()
            value.setObjectName(f"cont_{key}")
            value.setWordWrap(True)
            form.addRow(name, value)
            self.names[key], self.labels[key] = name, value
        self.mao = QSpinBox()
        self.mao.setRange(1, 24 * 30)
        self.mao.setValue(ctx.store.get_setting(keys.MAO_HOURS))
        self.mao.valueChanged.connect(self._mao_changed)
        self.mao_label = QLabel()
        self.mao_label.setBuddy(self.mao)
        form.addRow(self.mao_label, self.mao)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.advice = QLabel()
        self.advice.setWordWrap(True)
        self.advice.setObjectName("cont_advice")
        self.print_button = QPushButton()
        self.print_button.setObjectName("print_fallback")
        self.print_button.clicked.connect(lambda: self.print_fallback())
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.close)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.title = QLabel()
        self.title.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addLayout(form)
        lay.addWidget(self.bar)
        lay.addWidget(self.advice)
        lay.addWidget(self.result_label)
        row = QHBoxLayout()
        row.addWidget(self.print_button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        lay.addLayout(row)
        # The clock's part (ages, countdowns, the outage) moves every second; the store's
        # part is read again only when a change was signalled, at most once a tick.
        self._stored: dict[str, Any] | None = None
        self.timer = QTimer(self, interval=1000)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        ctx.signals.operation_did_execute.connect(lambda *_a: self.reload())
        ctx.signals.sync_progress.connect(lambda *_a: self._stale())
        ctx.signals.sync_finished.connect(lambda *_a: self._stale())
        ctx.signals.language_changed.connect(lambda _l: self.retranslate())
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(t("cont.title"))
        self.title.setText(t("cont.intro"))
        for key, name in self.names.items():
            name.setText(t(f"cont.{key}"))
        self.mao_label.setText(t("cont.mao"))
        self.mao.setSuffix(" " + t("cont.hours"))
        self.mao.setAccessibleName(t("cont.mao"))
        self.print_button.setText(t("cont.print"))
        self.close_button.setText(t("editor.close"))
        self.bar.setAccessibleName(t("cont.outage"))
        self.refresh()

    def _stale(self) -> None:
        self._stored = None  # the next tick reads the store again

    def reload(self) -> None:
        """Read the store's part now (after an operation of this window) and show it."""
        self._stale()
        self.refresh()

    def refresh(self) -> None:
        if self._stored is None:
            self._stored = stored_facts(self.ctx)
        f = continuity_facts(self.ctx, self._stored)
        since = f["offline_since"]
        self.labels["offline_since"].setText(
            t("cont.offline_since_value", at=since[:19].replace("T", " "),
              age=age_text(since)) if since else t("cont.online"))
        self.labels["queued"].setText(str(f["queued"]))
        self.labels["oldest"].setText(
            t("cont.oldest_value", at=f["oldest"][:19].replace("T", " "),
              age=age_text(f["oldest"])) if f["oldest"] else "—")
        self.labels["drain"].setText(t("cont.drain_value", time=duration_text(f["drain_seconds"]),
                                       rate=int(f["drain_rate"])))
        self.labels["outage"].setText(t("cont.outage_value", outage=duration_text(
            f["outage_seconds"]), mao=f["mao_hours"]))
        rec = getattr(self.ctx.sync, "last_recovery", None)
        self.labels["recovery"].setText(t(
            "cont.recovery_value", outage=duration_text(rec["outage_s"]), n=rec["carried"],
            drain=duration_text(rec["drain_s"]), at=rec["recovered_at"][:19].replace("T", " "))
            if rec else "—")
        due = countdown(f["nearest_lodge_by"])
        self.labels["due"].setText(t("cont.due_value", n=f["lodgings_due"], countdown=render(due))
                                   if due else t("cont.due_none"))
        self.bar.setValue(min(100, int(f["mao_fraction"] * 100)))
        near = f["mao_fraction"] >= WARN_FRACTION and f["queued"] > 0
        self.advice.setText(t("cont.advice_near") if near else t("cont.advice_ok"))
        self.print_button.setEnabled(f["queued"] > 0)

    def _mao_changed(self, hours: int) -> None:
        store = self.ctx.store
        Op(self.ctx, lambda: store.set_setting(keys.MAO_HOURS, hours),
           initiator=self).success(lambda _c: self.reload()).run()

    def print_fallback(self, folder: Path | None = None) -> None:
        if folder is None:
            name = QFileDialog.getExistingDirectory(self, t("cont.print"))
            if not name:
                return
            folder = Path(name)
        store, actor, target, lang = self.ctx.store, self.ctx.actor(), folder, language()

        def written(result: FallbackWritten) -> None:
            Op(self.ctx, lambda: record_fallback_printed(store, actor, result),
               initiator=self).success(lambda _c: self.result_label.setText(
                   t("cont.printed", n=len(result.paths), folder=str(target)))).run()

        QueryOp(self.ctx, lambda: write_fallback_documents(store, target, lang=lang)).success(
            written).run()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        self.timer.stop()
        super().closeEvent(event)
