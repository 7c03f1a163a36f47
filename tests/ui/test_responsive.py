"""The GUI thread never waits on an fsync or a socket: it keeps ticking while 2,000
sealed envelopes drain to the sandbox on the network pool.

The sandbox runs in its own process here, as a real single window would: this test
is about what the app's GUI thread does, not about sharing one interpreter with the
server (the training mode does that, with a handful of declarations).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from client.declaration import states

pytest.importorskip("sync.engine")
N = 2000


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

        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.monotonic()))
        timer.start()
        qtbot.wait(100)
        start = time.monotonic()
        assert w.sync.sync_now()
        errors: list[Any] = []

        def drained() -> bool:  # the engine retries forever; so does this loop
            if not w.sync.running:
                if prof.store.outbox_stats()[0] == 0:
                    return True
                errors.append(w.sync.last_error)
                w.sync.sync_now()
            return False

        qtbot.waitUntil(drained, timeout=120000)
        elapsed = time.monotonic() - start
        timer.stop()
        assert len(errors) <= 3, errors
        assert prof.store.counts_by_status().get(states.SEALED, 0) == 0

        during = [t for t in ticks if t >= start]
        gaps = sorted(b - a for a, b in zip(during, during[1:], strict=False))
        assert len(during) >= elapsed / 0.010 * 0.3, (len(during), elapsed)
        p95 = gaps[int(len(gaps) * 0.95)]
        print(f"drain {elapsed:.2f}s ticks {len(during)} p95 gap {p95*1000:.0f} ms "
              f"max {gaps[-1]*1000:.0f} ms")
        # Small gaps almost always; a rare stall of ~1 s was measured with no GUI-thread
        # code running (another thread holding the GIL), hence the coverage check.
        assert p95 < 0.100
        windows = {int((t - start) / 0.1) for t in during}
        coverage = len(windows) / max(1, int(elapsed / 0.1))
        assert coverage > 0.80, coverage
        assert gaps[-1] < 5.0
        assert any(t == N for _d, t in progress), "the progress bar saw the drain"
        w.close()
    finally:
        ctx.network.shutdown()
        if ctx.sync is not None:
            ctx.sync.close()
        ctx.writer.shutdown()
