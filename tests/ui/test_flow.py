"""The whole flow through the UI against the real in-process sandbox over HTTPS.

Real threads here (the writer executor and the network pool): draft in the editor,
a validation error fixed, sealed while offline, queued in the status bar, back
online, synced, released — and a tray/status notice about it.
"""

from __future__ import annotations

from typing import Any

import pytest

from client.declaration import states
from tests.ui.helpers import VALID_HEADER, VALID_ITEM, add_item, codes, type_into

pytest.importorskip("sync.engine")


@pytest.fixture
def live(qtbot: Any, prof: Any) -> Any:
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController
    from ui.training import start_sandbox_and_enrol

    ctx = prof.context(threaded=True)
    ctx.profile.training = True  # training enrols only a training profile (#12)
    handle = start_sandbox_and_enrol(ctx, lane="green")
    ctx.training = handle
    w = MainWindow(ctx, sync=SyncController(ctx, auto=False))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    ctx.network.shutdown()
    w.sync.close()
    ctx.writer.shutdown()
    handle.stop()


def test_draft_fix_seal_offline_queue_sync_released(live: Any, prof: Any, qtbot: Any) -> None:
    w = live
    store = prof.store
    assert prof.profile.server.get("url", "").startswith("https://")
    # go offline first (the user's switch)
    w.actions_by_name["offline"].trigger()
    assert w.sync.offline
    qtbot.waitUntil(lambda: w.conn_label.text() == "○ Offline", timeout=15000)

    # create a declaration in the editor
    w.actions_by_name["new"].trigger()
    qtbot.waitUntil(lambda: len(w.editors) == 1, timeout=10000)
    ed = next(iter(w.editors.values()))
    for path, value in VALID_HEADER.items():
        type_into(qtbot, ed, path, value)
    add_item(ed, VALID_ITEM)
    # a validation error shows, explained, and leads to its field
    qtbot.waitUntil(lambda: ed.findings_model.errors() == 1, timeout=10000)
    assert codes(ed) == {"V-MANDATORY"}
    ed.findings_view.clicked.emit(ed.findings_model.index(0, 2))
    assert ed.focusWidget() is ed.widgets["invoice_currency"]
    qtbot.keyClicks(ed.widgets["invoice_currency"], "USD")
    qtbot.waitUntil(lambda: ed.findings_model.errors() == 0, timeout=10000)

    # seal from the editor: signed and queued while offline
    ed.seal_button.click()
    qtbot.waitUntil(lambda: store.get(ed.decl_id).status == states.SEALED, timeout=15000)
    qtbot.waitUntil(lambda: w.queue_label.text() == "Queued: 1", timeout=10000)
    assert w.oldest_label.isVisible()
    w.select_view("outbox")
    qtbot.waitUntil(lambda: w.table_model.row_of(ed.decl_id) >= 0, timeout=15000)

    # come back online: the switch triggers a sync round on the network pool
    w.actions_by_name["offline"].trigger()
    assert not w.sync.offline

    def released() -> bool:
        if store.get(ed.decl_id).status == states.RELEASED:
            return True
        if not w.sync.running:
            w.sync.sync_now()
        return False

    qtbot.waitUntil(released, timeout=60000)
    qtbot.waitUntil(lambda: w.queue_label.text() == "Queued: 0", timeout=10000)
    qtbot.waitUntil(lambda: w.conn_label.text() == "● Online", timeout=10000)
    qtbot.waitUntil(lambda: "never" not in w.last_sync_label.text(), timeout=10000)
    assert store.receipts(ed.decl_id), "a signed receipt is kept"
    qtbot.waitUntil(lambda: any("released" in n for n in w.notices), timeout=10000)
    w.select_view("released")
    qtbot.waitUntil(lambda: w.table_model.row_of(ed.decl_id) >= 0, timeout=15000)
    w.select_id(ed.decl_id)
    qtbot.waitUntil(lambda: w.detail.decl_id == ed.decl_id, timeout=15000)
    # The pane may still show an earlier read of this declaration (from the outbox view,
    # before its receipt came): the new selection's read lands asynchronously.
    qtbot.waitUntil(lambda: "Receipt #" in w.detail.receipts.toPlainText(), timeout=15000)
