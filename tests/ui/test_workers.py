"""QueryOp, the read-only background operation: on the reader pool, never the writer.

Real threads here (the app's writer executor and reader pool).  "Not on the writer" is
proven without a clock: the writer is held busy by a job waiting on an event (an
autosave stuck on a slow disk), and the query still answers; "stale answers dropped"
by holding a reader thread on an event so that answers come late or out of order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication

from client.common.i18n import ComptoirError
from client.declaration import states

WAIT = 15000  # ms: a failure guard for waitUntil, not a measurement


@pytest.fixture
def tctx(prof: Any) -> Iterator[Any]:
    """A context with the app's real runners (the reader pool is closed by ``prof``)."""
    ctx = prof.context(threaded=True)
    yield ctx
    ctx.network.shutdown()
    ctx.writer.shutdown()


@pytest.fixture
def busy_writer(tctx: Any) -> Iterator[threading.Event]:
    """The writer stuck on one job until the test lets it go."""
    gate = threading.Event()
    tctx.writer.submit(gate.wait)
    yield gate
    gate.set()


def _one_reader(prof: Any, ctx: Any) -> Any:
    from ui.workers import ReaderPool

    reader = ReaderPool(max_threads=1)
    prof.readers.append(reader)
    ctx.reader = reader
    return reader


def _settle(reader: Any) -> None:
    """Every job has run and every answer it queued has been delivered."""
    assert reader.wait_idle()
    QCoreApplication.processEvents()


def _writer_thread(th: threading.Thread) -> bool:
    return th.name.startswith("comptoir-writer")


def test_query_runs_on_the_reader_pool_and_answers_on_the_gui_thread(qtbot: Any,
                                                                       tctx: Any) -> None:
    from ui.workers import QueryOp

    seen: dict[str, Any] = {}

    def fn() -> int:
        seen["fn"] = threading.current_thread()
        return 42

    def ok(value: int) -> None:
        seen["cb"] = threading.current_thread()
        seen["value"] = value

    QueryOp(tctx, fn).success(ok).run()
    qtbot.waitUntil(lambda: "value" in seen, timeout=WAIT)
    assert seen["value"] == 42
    assert seen["cb"] is threading.main_thread()
    assert seen["fn"] is not threading.main_thread() and not _writer_thread(seen["fn"])


def test_a_query_answers_while_the_writer_is_busy(qtbot: Any, tctx: Any, prof: Any,
                                                  busy_writer: threading.Event) -> None:
    from ui.workers import QueryOp

    ids = prof.seed(1)
    got: list[str] = []
    QueryOp(tctx, lambda: prof.store.get(ids[0]).declaration.lrn).success(got.append).run()
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT)
    assert got == ["LRN01000000"]
    assert tctx.writer.pending == 1  # still stuck: the answer did not pass through it


def test_queued_queries_superseded_by_a_newer_one_never_run(qtbot: Any, tctx: Any,
                                                            prof: Any) -> None:
    from ui.workers import LatestOnly, QueryOp

    reader = _one_reader(prof, tctx)
    lane = LatestOnly()
    started, release = threading.Event(), threading.Event()
    ran: list[int] = []
    got: list[int] = []

    def first() -> int:
        started.set()
        release.wait(30)
        ran.append(1)
        return 1

    QueryOp(tctx, first, latest=lane).success(got.append).run()
    assert started.wait(30)  # the only reader thread is now held
    for n in (2, 3, 4):  # the user moves down three rows meanwhile
        QueryOp(tctx, lambda n=n: ran.append(n) or n, latest=lane).success(got.append).run()
    release.set()
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT)
    _settle(reader)
    assert got == [4]  # the first answer came first and was dropped; only the last shows
    assert ran == [1, 4]  # 2 and 3 were superseded before they started


def test_a_late_answer_arriving_out_of_order_is_dropped(qtbot: Any, tctx: Any) -> None:
    from ui.workers import LatestOnly, QueryOp

    lane = LatestOnly()
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []
    got: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(30)
        ran.append("old")
        return "old"

    QueryOp(tctx, slow, latest=lane).success(got.append).run()
    assert started.wait(30)
    QueryOp(tctx, lambda: "new", latest=lane).success(got.append).run()  # the other thread
    qtbot.waitUntil(lambda: got == ["new"], timeout=WAIT)
    release.set()
    _settle(tctx.reader)
    assert ran == ["old"] and got == ["new"]


def test_failures_are_reported_on_the_gui_thread(qtbot: Any, tctx: Any) -> None:
    from ui.workers import QueryOp

    def boom() -> None:
        raise ComptoirError("error.file_unwritable", 2, path="/x", reason="full")

    failed: list[tuple[BaseException, threading.Thread]] = []
    QueryOp(tctx, boom).success(lambda _r: pytest.fail("no result")).failure(
        lambda exc: failed.append((exc, threading.current_thread()))).run()
    qtbot.waitUntil(lambda: bool(failed), timeout=WAIT)
    exc, th = failed[0]
    assert isinstance(exc, ComptoirError) and exc.code == "error.file_unwritable"
    assert th is threading.main_thread()

    sunk: list[BaseException] = []  # no failure callback: the app's error sink says it
    tctx.error_sink = sunk.append
    QueryOp(tctx, boom).run()
    qtbot.waitUntil(lambda: bool(sunk), timeout=WAIT)
    assert isinstance(sunk[0], ComptoirError)


def test_a_superseded_failure_and_a_cancelled_answer_are_dropped(qtbot: Any, tctx: Any,
                                                                 prof: Any) -> None:
    from ui.workers import LatestOnly, QueryOp

    reader = _one_reader(prof, tctx)
    lane = LatestOnly()
    started, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []
    got: list[str] = []

    def fails_late() -> None:
        started.set()
        release.wait(30)
        raise RuntimeError("an answer nobody wants")

    QueryOp(tctx, fails_late, latest=lane).failure(failed.append).run()
    assert started.wait(30)
    QueryOp(tctx, lambda: "newer", latest=lane).success(got.append).failure(failed.append).run()
    release.set()
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT)
    _settle(reader)
    assert got == ["newer"] and failed == []

    QueryOp(tctx, lambda: "cancelled", latest=lane).success(got.append).run()
    lane.cancel()  # the pane went blank meanwhile
    _settle(reader)
    assert got == ["newer"]


def test_without_a_reader_pool_a_query_runs_inline(ctx: Any) -> None:
    from ui.workers import QueryOp

    assert ctx.reader is None
    got: list[int] = []
    QueryOp(ctx, lambda: 7).success(got.append).run()
    assert got == [7]


# ---- the detail pane and the exports use it ------------------------------------------------

@pytest.fixture
def threaded_window(qtbot: Any, tctx: Any) -> Iterator[Any]:
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController

    w = MainWindow(tctx, sync=SyncController(tctx, auto=False))
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_detail_pane_fills_from_the_reader_pool_while_the_writer_is_busy(
        qtbot: Any, prof: Any, tctx: Any, monkeypatch: Any) -> None:
    import ui.detail
    from ui.i18n import t
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController

    ids = prof.seed(3)
    readers: list[threading.Thread] = []
    real = ui.detail.load_detail

    def watched(*args: Any) -> Any:
        readers.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(ui.detail, "load_detail", watched)
    w = MainWindow(tctx, sync=SyncController(tctx, auto=False))
    qtbot.addWidget(w)
    w.show()
    gate = threading.Event()
    tctx.writer.submit(gate.wait)
    try:
        assert w.select_id(ids[1])
        qtbot.waitUntil(lambda: w.detail.decl_id == ids[1], timeout=WAIT)
        assert "LRN01000001" in w.detail.summary.toPlainText()
        assert w.detail.history_model.rowCount() >= 1
        assert w.detail.receipts.toPlainText() == t("detail.no_receipts")
        assert readers and all(th is not threading.main_thread() and not _writer_thread(th)
                               for th in readers)
        assert tctx.writer.pending == 1
    finally:
        gate.set()
        w.close()


def test_the_detail_pane_shows_the_last_selection(qtbot: Any, prof: Any,
                                                  threaded_window: Any) -> None:
    ids = prof.seed(5)
    w = threaded_window
    w.table_model.reload()
    for decl_id in ids:  # a burst of moves: each asks, only the last one counts
        w.detail.show_declaration(decl_id)
    qtbot.waitUntil(lambda: w.detail.decl_id == ids[-1], timeout=WAIT)
    _settle(w.ctx.reader)
    assert w.detail.decl_id == ids[-1] and w.detail.requested_id == ids[-1]
    assert "LRN01000004" in w.detail.summary.toPlainText()
    w.detail.show_declaration(None)
    _settle(w.ctx.reader)
    assert w.detail.decl_id is None and w.detail.history_model.rowCount() == 0


def test_export_and_print_are_written_while_the_writer_is_busy(
        qtbot: Any, prof: Any, threaded_window: Any, tmp_path: Path,
        busy_writer: threading.Event) -> None:
    ids = prof.seed(1)
    w = threaded_window
    w.table_model.reload()
    assert w.select_id(ids[0])
    w.export_selected(tmp_path / "d.xml")
    qtbot.waitUntil(lambda: (tmp_path / "d.xml").exists(), timeout=WAIT)
    assert b"urn:wco:datamodel:WCO:DEC-DMS:2" in (tmp_path / "d.xml").read_bytes()
    qtbot.waitUntil(lambda: "d.xml" in w.statusBar().currentMessage(), timeout=WAIT)
    pytest.importorskip("client.interchange.printing")
    w.print_selected(tmp_path / "d.pdf")
    qtbot.waitUntil(lambda: (tmp_path / "d.pdf").exists(), timeout=WAIT)
    assert (tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")
    assert w.ctx.writer.pending == 1  # neither went through the writer
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, then renamed


def test_an_unwritable_export_is_one_clear_line(qtbot: Any, prof: Any,
                                                threaded_window: Any, tmp_path: Path) -> None:
    ids = prof.seed(1)
    w = threaded_window
    w.table_model.reload()
    assert w.select_id(ids[0])
    (tmp_path / "file").write_text("not a folder")
    w.export_selected(tmp_path / "file" / "d.json")
    qtbot.waitUntil(lambda: w.last_error is not None, timeout=WAIT)
    assert w.last_error.startswith("Cannot write") and "Traceback" not in w.last_error


def test_fallback_documents_render_off_the_writer_and_are_recorded_on_it(
        qtbot: Any, prof: Any, threaded_window: Any, tmp_path: Path) -> None:
    pytest.importorskip("client.interchange.printing")
    from client.seal.keys import create_key
    from client.seal.sealing import Sealer

    create_key(prof.home, prof.secrets)
    sealer = Sealer(prof.profile, prof.store, prof.secrets)
    ids = prof.seed(2)
    for d in ids:
        sealer.seal(d)
    assert {prof.store.get(d).status for d in ids} == {states.SEALED}
    dlg = threaded_window.open_continuity()
    gate = threading.Event()
    threaded_window.ctx.writer.submit(gate.wait)
    try:
        dlg.print_fallback(tmp_path / "fallback")
        qtbot.waitUntil(lambda: len(list((tmp_path / "fallback").glob("*.pdf"))) == 2,
                        timeout=WAIT)
        _settle(threaded_window.ctx.reader)
        # the documents exist; their record waits for the writer (never the other way)
        assert not any(prof.store.get(d).fallback_printed_at for d in ids)
    finally:
        gate.set()
    qtbot.waitUntil(lambda: all(prof.store.get(d).fallback_printed_at for d in ids),
                    timeout=WAIT)
    qtbot.waitUntil(lambda: "2" in dlg.result_label.text(), timeout=WAIT)
    dlg.close()


def test_table_id_queries_superseded_while_queued_never_run(qtbot: Any, prof: Any, tctx: Any,
                                                            monkeypatch: Any) -> None:
    from ui.mainwindow import MainWindow
    from ui.models.declarations import FIRST_PAGE
    from ui.syncbridge import SyncController
    from ui.workers import QueryOp

    prof.seed(FIRST_PAGE + 50)
    reader = _one_reader(prof, tctx)
    w = MainWindow(tctx, sync=SyncController(tctx, auto=False))
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.table_model.complete, timeout=WAIT)
    _settle(reader)
    off_gui: list[str] = []
    real = prof.store.id_column  # the full id list (the first page is list_ids, on the GUI)

    def watched(**kw: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            off_gui.append(kw.get("search") or "")
        return real(**kw)

    monkeypatch.setattr(prof.store, "id_column", watched)
    started, release = threading.Event(), threading.Event()
    QueryOp(tctx, lambda: (started.set(), release.wait(30))).run()  # the reader is busy
    assert started.wait(30)
    for text in ("LRN", "LRN0", "LRN01"):  # typed fast: three re-queries asked for
        w.table_model.set_search(text)
    release.set()
    qtbot.waitUntil(lambda: w.table_model.complete, timeout=WAIT)
    _settle(reader)
    assert off_gui == ["LRN01"]  # only the last full id list was read
    assert w.table_model.rowCount() == FIRST_PAGE + 50
    w.close()
