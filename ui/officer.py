"""The field officer's verify / decide dialog (#8).

Paste a token (or the text of an exported envelope), or open a file; the outcome is
shown in words — valid, valid but the trust data is N days old, or invalid and why —
with the declaration's content.  On a valid declaration an officer profile can record
a control decision (hold and refusal need a reason); it is sealed on this device's
journal and delivered at the next sync.  Everything works offline.  Verifying and
deciding are the action layer's (:mod:`client.services.officer`, as ``comptoir verify``
and ``comptoir officer decide``): verification reads on the reader pool, the decision is
sealed on the writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from client.common.i18n import Message
from client.officer.decisions import NEEDS_REASON, OUTCOMES
from client.services.officer import decide, envelope_target, trust_summary, verify_envelope
from ui.i18n import render, t
from ui.workers import LatestOnly, Op, QueryOp

_BADGE_STYLE = {
    "valid": "background:#1b7f3b;color:white;padding:4px;font-weight:bold",
    "valid_stale": "background:#b26a00;color:white;padding:4px;font-weight:bold",
    "reference_lodged": "background:#1b7f3b;color:white;padding:4px;font-weight:bold",
    "reference_decided": "background:#1b7f3b;color:white;padding:4px;font-weight:bold",
    "invalid": "background:#b00020;color:white;padding:4px;font-weight:bold",
    "reference_unknown": "background:#b26a00;color:white;padding:4px;font-weight:bold",
}


class OfficerDialog(QDialog):
    """Verify a sealed envelope offline and record a control decision on it."""

    decided = Signal(str)  # the decision id

    def __init__(self, ctx: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("OfficerDialog")
        self.setWindowTitle(t("officer.title"))
        self.outcome: Any = None
        self.file: Path | None = None
        self._verifying = LatestOnly()  # an edit drops the answer of a verification under way

        self.input = QPlainTextEdit(self)
        self.input.setObjectName("token")
        self.input.setPlaceholderText(t("officer.paste"))
        self.open_button = QPushButton(t("officer.open"), self)
        self.open_button.clicked.connect(self._open)
        self.verify_button = QPushButton(t("officer.verify"), self)
        self.verify_button.setObjectName("verify")
        self.verify_button.clicked.connect(self.verify)
        self.badge = QLabel("", self)
        self.badge.setObjectName("badge")
        self.result = QPlainTextEdit(self)
        self.result.setObjectName("result")
        self.result.setReadOnly(True)
        self.trust_label = QLabel(self._trust_text(), self)
        self.trust_label.setObjectName("trust")
        self.reason = QLineEdit(self)
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText(t("officer.reason"))
        self.message = QLabel("", self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.decide_buttons: dict[str, QPushButton] = {}

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.verify_button)
        top.addStretch(1)
        decide = QHBoxLayout()
        for outcome in OUTCOMES:
            b = QPushButton(render(Message(f"officer.outcome.{outcome}")), self)
            b.setObjectName(f"decide_{outcome}")
            b.setEnabled(False)
            b.clicked.connect(lambda _=False, o=outcome: self.decide_outcome(o))
            self.decide_buttons[outcome] = b
            decide.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.trust_label)
        lay.addWidget(self.input)
        lay.addLayout(top)
        lay.addWidget(self.badge)
        lay.addWidget(self.result, 1)
        lay.addWidget(self.reason)
        lay.addLayout(decide)
        lay.addWidget(self.message)
        self.input.textChanged.connect(self._changed)
        self.resize(760, 560)

    # ---- helpers ----------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return Path(self.ctx.profile.home)

    @property
    def is_officer(self) -> bool:
        return getattr(self.ctx.profile, "role", "trader") == "officer"

    def _trust_text(self) -> str:
        try:
            summary = trust_summary(self.home)
        except Exception as exc:  # noqa: BLE001 - shown, never raised into Qt
            return render(exc)
        if summary is None:
            return t("officer.no_trust")
        return render(Message("trust.age", {"date": summary["fetched_at"],
                                            "days": summary["age_days"]}))

    def _changed(self) -> None:
        self.file = None
        self._verifying.cancel()
        self._enable(False)

    def _enable(self, on: bool) -> None:
        for b in self.decide_buttons.values():
            b.setEnabled(on and self.is_officer)

    def _target(self) -> str:
        if self.file is not None:
            return str(self.file)
        return envelope_target(self.input.toPlainText())

    def _open(self) -> None:
        name, _f = QFileDialog.getOpenFileName(self, t("officer.open"), "",
                                               "Envelope (*.json *.jws *.txt);;* (*)")
        if name:
            self.load_file(Path(name))

    # ---- actions ------------------------------------------------------------------------
    def load_file(self, path: Path) -> None:
        """Verify an exported envelope file (the path is what is verified)."""
        self.input.blockSignals(True)
        self.input.setPlainText(str(path))
        self.input.blockSignals(False)
        self.file = path
        self.verify()

    def verify(self) -> None:
        """Verify what was pasted or opened, on the reader pool; the outcome is shown."""
        self.message.setText("")
        self.trust_label.setText(self._trust_text())
        target = self._target()
        if not target:
            return
        home = self.home

        def shown(outcome: Any) -> None:
            self.outcome = outcome
            self._show(outcome.status or ("valid" if outcome.ok else "invalid"),
                       [render(m) for m in outcome.lines])
            self._enable(outcome.ok and outcome.verified is not None
                         and getattr(outcome.verified, "kind", "") == "declaration")

        def unreadable(exc: BaseException) -> None:  # said, not raised
            self.outcome = None
            self._show("invalid", [render(exc)])
            self._enable(False)

        QueryOp(self.ctx, lambda: verify_envelope(home, target), latest=self._verifying
                ).success(shown).failure(unreadable).run()

    def _show(self, status: str, lines: list[str]) -> None:
        self.badge.setText(t(f"officer.badge.{status}"))
        self.badge.setStyleSheet(_BADGE_STYLE.get(status, ""))
        self.result.setPlainText("\n".join(lines))

    def decide_outcome(self, outcome: str) -> None:
        """Seal and queue a decision on the envelope just verified (on the writer)."""
        reason = self.reason.text().strip() or None
        if outcome in NEEDS_REASON and not reason:
            self.message.setText(render(Message("officer.reason_required", {
                "outcome": Message(f"officer.outcome.{outcome}")})))
            self.reason.setFocus()
            return
        home, target, store, secrets = self.home, self._target(), self.ctx.store, \
            self.ctx.secrets

        def recorded(decision: Any) -> None:
            doc, entry = decision.document, decision.entry
            self.message.setText(render(Message("officer.decided", {
                "outcome": Message(f"officer.outcome.{outcome}"),
                "id": doc["declaration_id"], "version": doc["declaration_version"],
                "seq": entry.seq, "decision": doc["id"]})))
            self._enable(False)
            self.decided.emit(doc["id"])

        Op(self.ctx, lambda: decide(home, target, outcome, reason, store=store,
                                    secrets=secrets), initiator=self).success(recorded).failure(
            lambda exc: self.message.setText(render(exc))).run()
