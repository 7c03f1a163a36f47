"""During a drain the GUI thread runs no statement and no per-row work (#15): thousands of
changed declarations repaint with one signal, and the status bar's figures and the sync
round's bookkeeping are read off the GUI thread."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import Qt

from client.declaration import states
from client.store import Changes
from ui.models.declarations import COL_LRN, DeclarationTableModel

WAIT = 30_000


def _watch(store: Any, monkeypatch: Any, *names: str) -> list[tuple[str, str]]:
    """Record (method, thread name) for each call of the store's ``names``."""
    calls: list[tuple[str, str]] = []
    for name in names:
        real = getattr(store, name)

        def watched(*a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            calls.append((_name, threading.current_thread().name))
            return _real(*a, **kw)

        monkeypatch.setattr(store, name, watched)
    return calls


def test_a_drain_of_changes_repaints_with_one_signal_and_no_statement(
        prof: Any, monkeypatch: Any) -> None:
    ids = prof.seed(300)
    model = DeclarationTableModel(prof.store)
    model.reload()
    model.sort(COL_LRN, Qt.SortOrder.DescendingOrder)
    for row in range(0, 300, 7):  # rows the view has shown: cached
        model.data(model.index(row, 0))
    signals: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_r: signals.append((a.row(), b.row())))
    calls = _watch(prof.store, monkeypatch, "summaries", "list_ids", "id_column", "count",
                   "counts_by_status")
    # What one flush during a drain reports: every declaration moved on, statuses too.
    prof.store.execute_raw_for_tests(f"UPDATE declaration SET status = '{states.SUBMITTED}'")
    model.apply_changes(Changes(declarations=tuple(ids), outbox=True, statuses=True))
    assert calls == []  # nothing read: not the rows, not the ids
    assert len(signals) == 1 and signals[0][0] <= 7 and signals[0][1] >= 290
    # The rows read again when shown are the new ones.
    assert {model.summary(r).status for r in (0, 150, 299)} == {states.SUBMITTED}


def test_the_status_bar_reads_the_queue_off_the_gui_thread(prof: Any, qtbot: Any,
                                                          monkeypatch: Any) -> None:
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController

    prof.seed(2)
    ctx = prof.context(threaded=True)
    window = MainWindow(ctx, sync=SyncController(ctx, auto=False))
    qtbot.addWidget(window)
    calls = _watch(prof.store, monkeypatch, "outbox_stats")
    window.queue_label.setText("")
    window.update_status()
    qtbot.waitUntil(lambda: window.queue_label.text() != "", timeout=WAIT)
    assert calls and all(name != threading.main_thread().name for _m, name in calls)
    assert "0" in window.queue_label.text()
    window.close()
    ctx.writer.shutdown()
    ctx.network.shutdown()
