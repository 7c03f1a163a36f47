"""The detail pane: summary, history, receipts and findings of the selected declaration.

Everything it shows is read on the reader pool (:class:`~ui.workers.QueryOp`) through
the action layer the command line's ``show`` uses (:mod:`client.services.views`,
:mod:`client.services.validation`): the declaration, its receipts, why it was rejected,
its history and a full validation, none of it on the GUI thread, none of it queued
behind an autosave on the writer.  A newer selection supersedes an older one, so holding
the arrow key down shows the last row only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QPlainTextEdit, QTableView, QTabWidget, QTextBrowser, QWidget

from client.declaration import states
from client.declaration.continuity import countdown
from client.declaration.labels import place_label
from client.services.continuity import lodging_deadline
from client.services.lodgings import is_unresolved
from client.services.rejections import RejectionReason, pointer_to_path
from client.services.validation import validate_stored
from client.services.views import declaration_detail, declaration_history
from client.store import Changes
from ui.context import AppContext
from ui.i18n import render, status_label, t
from ui.models.findings import FindingsModel
from ui.models.history import HistoryModel
from ui.workers import LatestOnly, QueryOp


@dataclass(frozen=True)
class DetailData:
    """What the pane shows of one declaration, read in one go off the GUI thread."""

    state: Any  # client.store.Stored
    history: list[Any]
    receipts: list[dict[str, Any]]
    findings: list[Any] = field(default_factory=list)
    rejection: list[RejectionReason] = field(default_factory=list)
    unresolved: bool = False  # a lodging with CDS waits for the user's decision


def load_detail(store: Any, home: Path, decl_id: str) -> DetailData | None:
    """Read what the pane shows (runs on the reader pool; None: no such declaration)."""
    if not store.exists(decl_id):
        return None
    detail = declaration_detail(store, decl_id, home)
    findings = validate_stored(store, decl_id, home) \
        if detail.stored.status in states.EDITABLE else []
    return DetailData(state=detail.stored, history=declaration_history(store, decl_id),
                      receipts=detail.receipts, findings=findings, rejection=detail.rejection,
                      unresolved=is_unresolved(store, decl_id))


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def summary_html(data: DetailData) -> str:
    """The summary tab: the declaration's key fields and, if rejected, why."""
    st = data.state
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
    due = countdown(lodging_deadline(st))
    if due is not None:
        rows.append((t("detail.lodge_by"), render(due)))
    html = "<table cellspacing='4'>" + "".join(
        f"<tr><td><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>" for k, v in rows) + "</table>"
    if data.unresolved:
        html += (f"<p><b>{_esc(t('detail.cds_unresolved'))}</b> "
                 f"<a href='{DECIDE_LINK}'>{_esc(t('detail.cds_decide'))}</a></p>")
    if data.rejection:
        html += f"<h3>{_esc(t('detail.rejection'))}</h3><ul>" + "".join(
            f"<li><b>{_esc(r.code)}</b>: {_esc(rejection_line(r))}</li>"
            for r in data.rejection) + "</ul>"
    return html


DECIDE_LINK = "comptoir:decide-lodging"


def rejection_line(reason: RejectionReason) -> str:
    """One reason: the explanation, and the field it points to with its DE number."""
    if not reason.pointer:
        return reason.explanation
    return t("detail.rejection_line", explanation=reason.explanation,
             field=place_label(pointer_to_path(reason.pointer), reason.de))


def receipts_text(receipts: list[dict[str, Any]]) -> str:
    return "\n\n".join(
        t("detail.receipt_line", seq=r["seq"], version=r["version"], mrn=r.get("mrn") or "-",
          received_at=r["received_at"]) + "\n" + r["token"][:120] + "…"
        for r in receipts) or t("detail.no_receipts")


class DetailPane(QTabWidget):
    """Summary, history, receipts and findings (with rejection explanations) of one.

    ``requested_id`` is the declaration asked for; ``decl_id`` the one shown, set when
    its data arrives from the reader pool.
    """

    decide_requested = Signal(str)  # the declaration whose unresolved lodging to decide

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.decl_id: str | None = None
        self.requested_id: str | None = None
        self.data: DetailData | None = None
        self._latest = LatestOnly()
        self.summary = QTextBrowser()
        self.summary.setOpenLinks(False)
        self.summary.anchorClicked.connect(self._link)
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
        self._fill(self.decl_id, self.data)  # the same data in the new language, then
        if self.requested_id is not None:  # the rejection's explanations re-read in it
            self.show_declaration(self.requested_id)

    def _link(self, url: QUrl) -> None:
        if url.toString() == DECIDE_LINK and self.decl_id is not None:
            self.decide_requested.emit(self.decl_id)

    def show_declaration(self, decl_id: str | None) -> None:
        """Ask for ``decl_id``'s detail on the reader pool; shown when it arrives."""
        self.requested_id = decl_id
        if decl_id is None:
            self._latest.cancel()
            self._fill(None, None)
            return
        store, home = self.ctx.store, self.ctx.profile.home
        QueryOp(self.ctx, lambda: load_detail(store, home, decl_id),
                latest=self._latest).success(lambda data: self._fill(decl_id, data)).run()

    def refresh_if_changed(self, changes: Changes) -> None:
        """Re-read the declaration asked for when an operation touched it."""
        if self.requested_id is not None and self.requested_id in changes.declarations:
            self.show_declaration(self.requested_id)

    def _fill(self, decl_id: str | None, data: DetailData | None) -> None:
        if data is None:
            self.decl_id, self.data = None, None
            self.summary.setHtml(f"<p>{t('detail.none')}</p>")
            self.history_model.set_entries([])
            self.receipts.setPlainText("")
            self.findings_model.set_findings([])
            return
        self.decl_id, self.data = decl_id, data
        self.summary.setHtml(summary_html(data))
        self.history_model.set_entries(data.history)
        self.receipts.setPlainText(receipts_text(data.receipts))
        self.findings_model.set_findings(data.findings)
