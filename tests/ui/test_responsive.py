"""The GUI thread never waits on an fsync or a socket: it keeps answering while 2,000
sealed envelopes drain to the sandbox on the network pool.

Proven without a clock: the writer is held busy while the drain runs (the network
thread has sent its first batch and waits to record the answers), and meanwhile the
window runs a queued callback, repaints and fills its detail pane from the reader
pool.  Had any GUI-thread code waited for the writer or the network, it could not
have.  Then the writer is let go and the whole outbox drains.  How long the event
loop's gaps are is a figure (``bench/run.py ui``: ``ui_max_gap_ms``, ``ui_p99_gap_ms``),
never an assertion: a loaded machine stretches it.

The sandbox runs in its own process here, as a real single window would: this test
is about what the app's GUI thread does, not about sharing one interpreter with the
server (the training mode does that, with a handful of declarations).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, QTimer

from client.declaration import states

pytest.importorskip("sync.engine")
N = 2000
WAIT = 60000  # ms: a failure guard for waitUntil, not a measurement


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Any:
    home = tmp_path / "sandbox"
    cli = [sys.executable, "-m", "client.cli", "sandbox"]
    proc = subprocess.Popen(cli + ["serve", "--home", str(home), "--port", "0", "--lane",
                                   "green"], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        url = proc.stdout.readline().strip() if proc.stdout else ""
        assert url.startswith("https://"), "sandbox did not start"
        yield url, home, cli
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


class _Paints(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _obj: Any, event: Any) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_window_keeps_answering_while_outbox_drains(qtbot: Any, prof: Any,
                                                     sandbox_process: Any) -> None:
    from client.seal.sealing import Sealer
    from sync.enrolment import enrol
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController

    url, sb_home, cli = sandbox_process
    out = subprocess.run(cli + ["enrolment", "--home", str(sb_home), "--trader",
                                "GB123456789000", "--json"], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    got = json.loads(out)
    enrol(prof.profile, prof.secrets, server_url=url, code=got["code"],
          ca_pem_path=Path(got["ca_pem_path"]), trader_id="GB123456789000")
    ctx = prof.context(threaded=True)
    gate = threading.Event()
    try:
        ids = prof.seed(N)
        sealer = Sealer(prof.profile, prof.store, prof.secrets)
        for decl_id in ids:
            sealer.seal(decl_id)
        assert prof.store.outbox_stats()[0] == N
        w = MainWindow(ctx, sync=SyncController(ctx, auto=False))
        qtbot.addWidget(w)
        w.show()
        progress: list[tuple[int, int]] = []
        ctx.signals.sync_progress.connect(lambda d, t: progress.append((d, t)))
        paints = _Paints()
        w.table.viewport().installEventFilter(paints)

        ctx.writer.submit(gate.wait)  # the writer is stuck (a slow disk, say)
        assert w.sync.sync_now()
        qtbot.waitUntil(lambda: (0, N) in progress, timeout=WAIT)  # the drain has begun
        answered: list[bool] = []
        QTimer.singleShot(0, lambda: answered.append(w.sync.running))
        before = paints.count
        w.table.viewport().update()
        w.detail.show_declaration(ids[-1])
        qtbot.waitUntil(lambda: bool(answered) and paints.count > before
                        and w.detail.decl_id == ids[-1], timeout=WAIT)
        # all of that happened mid-drain: nothing can be recorded while the writer is stuck
        assert answered == [True] and w.sync.running
        assert prof.store.outbox_stats()[0] == N
        assert "LRN01001999" in w.detail.summary.toPlainText()
        gate.set()

        errors: list[Any] = []

        def drained() -> bool:  # the engine retries forever; so does this loop
            if not w.sync.running:
                if prof.store.outbox_stats()[0] == 0:
                    return True
                errors.append(w.sync.last_error)
                w.sync.sync_now()
            return False

        qtbot.waitUntil(drained, timeout=120000)
        assert len(errors) <= 3, errors
        assert prof.store.counts_by_status().get(states.SEALED, 0) == 0
        assert any(t == N for _d, t in progress), "the progress bar saw the drain"
        assert w.isVisible()
        w.close()
    finally:
        gate.set()
        ctx.network.shutdown()
        if ctx.sync is not None:
            ctx.sync.close()
        ctx.writer.shutdown()
