"""Unresolved lodgings with CDS, decided from the desktop (#13, item 4).

Real parts: the CDS emulator as its own process over HTTPS, the client as ``comptoir``
subprocesses killed with SIGKILL after an attempt is recorded and before it is sent, the
emulator's clock driven past its 48 hours, then the window on the same profile: the status
bar says how many wait, the declaration's summary says it too, the dialog shows what is
known and records the three decisions through the action layer, the history shows them,
and the window's next sync acts on them (lodged again: once; recorded as lodged with its
MRN: not sent again; withdrawn: never sent).
Screenshots of the dialog in English and French go to ``/work/wt/shots/`` (outside the
repository) when that folder exists, else under ``tests/artifacts/screenshots/cds/``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication

from client.declaration.mrn import is_valid_mrn
from client.declaration.samples import sample_declaration
from client.store import history_message
from tests.cds.conftest import schema_dir
from tests.cds.helpers import (
    TRADER,
    EmulatorProcess,
    cds_profile,
    comptoir,
    list_json,
    ok,
    seal_offline,
)
from tests.ui.conftest import Profiled

pytestmark = pytest.mark.slow
DAY2 = {"advance_s": 49 * 3600}  # past CDS12003's 48 hours on the emulator's clock
_OUTSIDE = Path("/work/wt/shots")
SHOTS = _OUTSIDE if _OUTSIDE.is_dir() else \
    Path(__file__).resolve().parents[1] / "artifacts" / "screenshots" / "cds"


@pytest.fixture
def emu(tmp_path: Path) -> Any:
    e = EmulatorProcess(tmp_path / "cds", schema_dir()).start()
    yield e
    e.stop()


def _add_silent(home: Path) -> str:
    """A declaration whose LRN starts with 'P' (the stub then sends no notification, so
    nothing but the user can tell CDS took it), imported and made ready."""
    d = sample_declaration(random.Random(5), n_items=1, declarant_id=TRADER)
    d.lrn = "P0SILENT1"
    f = home.parent / "silent.json"
    f.write_text(json.dumps(d.to_json_dict()))
    ok(comptoir(home, "import", str(f)))
    ok(comptoir(home, "ready", d.id))
    return d.id


def _three_unresolved(home: Path, emu: EmulatorProcess) -> list[dict[str, Any]]:
    """Three sealed declarations: CDS took the first but its answer was lost (SIGKILL
    after sending); the next two were recorded and never sent (SIGKILL before sending);
    each time the emulator's clock moves past CDS12003's 48 hours."""
    cds_profile(home, emu)
    _add_silent(home)
    seal_offline(home, 2, ready_before=1)
    assert comptoir(home, "sync", "--once", crash="cds.after_send").returncode == -9
    for _ in range(2):
        emu.admin("clock", DAY2)
        assert comptoir(home, "sync", "--once", crash="cds.before_send").returncode == -9
    emu.admin("clock", DAY2)
    p = comptoir(home, "sync", "--once")
    assert p.returncode == 4 and "3 lodging(s) with CDS unresolved" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert emu.stats()["lrns"] == {"P0SILENT1": 1}  # CDS has the first, not the others
    return list_json(home)


def _dialog(window: Any) -> Any:
    from ui.lodgings import LodgingsDialog

    found = [d for d in window.findChildren(LodgingsDialog) if d.isVisible()]
    assert len(found) == 1, found
    return found[0]


def _row_of(dlg: Any, decl_id: str) -> int:
    return next(i for i, u in enumerate(dlg.rows) if u.declaration_id == decl_id)


def _shot(dlg: Any, lang: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    dlg.resize(1100, 560)
    QApplication.processEvents()
    assert dlg.grab().save(str(SHOTS / f"cds_unresolved_{lang}.png"))


def test_unresolved_lodgings_shown_decided_from_the_window_and_acted_on(
        tmp_path: Path, emu: EmulatorProcess, qtbot: Any) -> None:
    from ui.detail import DECIDE_LINK
    from ui.mainwindow import MainWindow
    from ui.settings import apply_language
    from ui.syncbridge import SyncController

    home = tmp_path / "trader"
    rows = _three_unresolved(home, emu)
    known = next(r for r in rows if r["lrn"] == "P0SILENT1")
    resend, withdraw = [r for r in rows if r is not known]
    from sync.cds_emulator.state import EmulatorState

    st = EmulatorState(emu.home)  # what the user reads in CDS's own service
    mrn = st.mrn_of("P0SILENT1")
    st.close()
    assert mrn and is_valid_mrn(mrn)
    prof = Profiled(home)
    try:
        ctx = prof.context()
        window = MainWindow(ctx, sync=SyncController(ctx, auto=False))
        qtbot.addWidget(window)
        window.show()
        # the window says so: the connector's count and a button to decide
        assert "3 lodging(s) to decide" in window.connector_label.text()
        assert window.unresolved_button.isVisible()
        assert "3 lodging(s)" in window.unresolved_button.toolTip()
        # and so does the declaration's summary, whose link opens the dialog on it
        assert window.select_id(withdraw["id"])
        qtbot.waitUntil(lambda: window.detail.decl_id == withdraw["id"], timeout=10000)
        assert "Unresolved with CDS" in window.detail.summary.toPlainText()
        window.detail.summary.anchorClicked.emit(QUrl(DECIDE_LINK))
        dlg = _dialog(window)
        assert dlg.current() is not None and dlg.current().declaration_id == withdraw["id"]
        dlg.close()

        window.unresolved_button.click()
        dlg = _dialog(window)
        assert dlg.table.rowCount() == 3
        assert {dlg.table.item(r, 0).text() for r in range(3)} == {r["lrn"] for r in rows}
        for r in range(3):  # first and last attempt, no notification, no protection left
            assert dlg.table.item(r, 1).text() != "-" and dlg.table.item(r, 2).text() != "-"
            assert dlg.table.item(r, 4).text() == "none came"
            assert dlg.table.item(r, 5).text().startswith("No longer protected:")
        dlg.table.setCurrentCell(_row_of(dlg, resend["id"]), 0)
        panel = dlg.known.toPlainText()
        assert f"LRN {resend['lrn']}" in panel and "Attempt 1:" in panel, panel
        assert "past CDS12003's 48 h" in panel
        _shot(dlg, "en")
        apply_language(ctx, "fr")
        assert dlg.table.horizontalHeaderItem(1).text() == "Première tentative"  # the open one
        fr = window.open_lodgings(resend["id"])
        assert fr.table.horizontalHeaderItem(1).text() == "Première tentative"
        assert "Plus protégée : 49,0 h" in fr.table.item(0, 5).text()
        assert fr.buttons["resend"].text() == "&Déposer à nouveau"
        _shot(fr, "fr")
        fr.close()
        apply_language(ctx, "en")

        # a wrong MRN is refused in words; nothing changes
        dlg.table.setCurrentCell(_row_of(dlg, withdraw["id"]), 0)
        assert not dlg.buttons["lodged"].isEnabled()  # no MRN typed yet
        dlg.mrn.setText("24GB0YVJ3EXXES8AA1")
        dlg.buttons["lodged"].click()
        assert dlg.message.text().startswith("Not a valid MRN"), dlg.message.text()
        assert prof.store.cds_counts()["unresolved"] == 3
        dlg.mrn.clear()
        # the decisions, through the buttons
        dlg.buttons["withdraw"].click()
        assert "withdrawn, it will not be lodged" in dlg.message.text()
        qtbot.waitUntil(lambda: dlg.table.rowCount() == 2, timeout=5000)
        dlg.table.setCurrentCell(_row_of(dlg, known["id"]), 0)
        dlg.mrn.setText(mrn.lower())  # as typed; recorded upper-case, check digit verified
        dlg.buttons["lodged"].click()
        assert f"recorded as lodged, MRN {mrn}" in dlg.message.text(), dlg.message.text()
        qtbot.waitUntil(lambda: dlg.table.rowCount() == 1, timeout=5000)
        dlg.table.setCurrentCell(_row_of(dlg, resend["id"]), 0)
        dlg.buttons["resend"].click()
        assert "lodged again with the same LRN" in dlg.message.text()
        qtbot.waitUntil(lambda: dlg.table.rowCount() == 0, timeout=5000)
        assert dlg.known.toPlainText() == "No lodging waits for a decision."
        assert not window.unresolved_button.isVisible()

        # recorded: the lodging, who decided, and the history (shown in the pane)
        by_decl = {lg.declaration_id: lg for lg in prof.store.cds_lodgings()}
        actor = prof.profile.actor()
        assert (by_decl[resend["id"]].state, by_decl[resend["id"]].decision,
                by_decl[resend["id"]].decided_by) == ("open", "resend", actor)
        assert (by_decl[withdraw["id"]].state, by_decl[withdraw["id"]].decision) == (
            "withdrawn", "withdraw")
        assert (by_decl[known["id"]].state, by_decl[known["id"]].decision) == ("lodged",
                                                                               "lodged")
        assert prof.store.get(known["id"]).mrn == mrn
        assert "CDS: known to be lodged" in [history_message(h).render("en")
                                             for h in prof.store.history(known["id"])]
        notes = [history_message(h).render("en") for h in prof.store.history(withdraw["id"])]
        assert "CDS: withdrawn, not lodged" in notes
        window.detail.show_declaration(withdraw["id"])
        qtbot.waitUntil(lambda: window.detail.decl_id == withdraw["id"], timeout=10000)
        hm = window.detail.history_model
        shown = [hm.data(hm.index(r, c)) for r in range(hm.rowCount())
                 for c in range(hm.columnCount())]
        assert "CDS: withdrawn, not lodged" in shown, shown
        assert "Unresolved with CDS" not in window.detail.summary.toPlainText()

        # the window's next sync acts on them: one lodged once, the other never sent
        assert window.sync.sync_now()
        qtbot.waitUntil(lambda: not window.sync.running, timeout=60000)
        assert emu.stats()["lrns"] == {"P0SILENT1": 1, resend["lrn"]: 1}
        posted = [r["body"] for r in emu.requests() if r["method"] == "POST"
                  and r["path"].startswith("/customs/declarations")]
        assert not any(withdraw["lrn"] in (b or "") for b in posted)
        lodged = {lg.declaration_id: lg.state for lg in prof.store.cds_lodgings()}
        assert lodged == {resend["id"]: "lodged", withdraw["id"]: "withdrawn",
                          known["id"]: "lodged"}
        window.close()
    finally:
        prof.close()
