"""The sidebar's counts follow the first paint (#15): over a large profile the GROUP BY
runs on the reader pool, never on the GUI thread, and its answer repaints the labels."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from client.declaration import states

WAIT = 15000


@pytest.fixture
def tctx(prof: Any) -> Iterator[Any]:
    ctx = prof.context(threaded=True)
    yield ctx
    ctx.network.shutdown()
    ctx.writer.shutdown()


def test_counts_arrive_after_the_model_is_shown(prof: Any) -> None:
    from ui.models.sidebar import CountRole, SidebarModel

    prof.seed(5, status=states.READY)
    model = SidebarModel(prof.store)
    pending: list[Any] = []
    model.loader = lambda query, done: pending.append((query, done))
    model.refresh()
    all_row = model.row_of_key("all")
    assert model.data(model.index(all_row, 0), CountRole) == 0  # not waited for
    changed: list[int] = []
    model.dataChanged.connect(lambda a, _b, _r=(): changed.append(a.row()))
    query, done = pending.pop()
    done(query())  # what the reader thread delivers
    assert model.data(model.index(all_row, 0), CountRole) == 5
    assert all_row in changed


def test_the_window_counts_on_the_reader_pool(qtbot: Any, prof: Any, tctx: Any) -> None:
    from ui.mainwindow import MainWindow
    from ui.models.sidebar import CountRole
    from ui.syncbridge import SyncController

    prof.seed(7, status=states.DRAFT)
    threads: list[threading.Thread] = []
    real = prof.store.counts_by_status

    def counting() -> dict[str, int]:
        threads.append(threading.current_thread())
        return real()

    prof.store.counts_by_status = counting  # type: ignore[method-assign]
    try:
        w = MainWindow(tctx, sync=SyncController(tctx, auto=False))
        qtbot.addWidget(w)
        w.show()
        model = w.sidebar_model
        row = model.row_of_key("drafts")
        qtbot.waitUntil(lambda: model.data(model.index(row, 0), CountRole) == 7, timeout=WAIT)
        assert threads and all(t is not threading.main_thread() for t in threads)
    finally:
        del prof.store.counts_by_status
