"""The desktop app's benchmark: first paint, filter latency and memory with 100,000 rows.

``measure(home)`` starts the app in a fresh subprocess (offscreen) on a profile that
already holds the declarations (``comptoir demo seed --count 100000``) and returns::

    {"ui_first_paint_s": process start -> first paint of the declaration table,
     "ui_filter_ms":     a filter string applied to the table model -> first row shown,
     "ui_rss_mb":        resident memory after the first paint}

Targets (DESIGN.md): <= 1.5 s, <= 100 ms, <= 300 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FILTERS = ("Thames", "2611", "GB1234")  # a declarant, an LRN prefix, an EORI


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child(home: Path) -> int:
    """Runs in the subprocess: the real window, timed from inside."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    from ui.app import open_profile
    from ui.context import AppContext
    from ui.mainwindow import MainWindow
    from ui.signals import AppSignals
    from ui.syncbridge import SyncController
    from ui.workers import NetworkPool, ReaderPool, WriterExecutor

    profile, secrets, store, _first = open_profile(home)
    ctx = AppContext(profile=profile, store=store, signals=AppSignals(),
                     writer=WriterExecutor(), network=NetworkPool(), reader=ReaderPool(),
                     secrets_factory=lambda: secrets)
    window = MainWindow(ctx, sync=SyncController(ctx, auto=False))
    result: dict[str, Any] = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint and "painted_at" not in result:
                result["painted_at"] = time.time()
                QTimer.singleShot(0, after_paint)
            return False

    def after_paint() -> None:
        result["rows"] = window.table_model.rowCount()
        result["rss_mb"] = _rss_mb()
        model = window.table_model
        timings = []
        for text in FILTERS:
            t0 = time.perf_counter()
            model.set_search(text)
            if model.rowCount():
                model.data(model.index(0, 0))
            timings.append((time.perf_counter() - t0) * 1000)
            model.set_search("")
        result["filter_ms"] = sorted(timings)[len(timings) // 2]
        t0 = time.perf_counter()  # a string found nowhere: the whole table is scanned
        model.set_search("no-such-text")
        result["filter_nomatch_ms"] = (time.perf_counter() - t0) * 1000
        model.set_search("")
        result["filter_all_ms"] = timings
        print(json.dumps(result), flush=True)
        window.close()
        app.quit()

    watcher = FirstPaint()
    window.table.viewport().installEventFilter(watcher)
    window.show()
    app.exec()
    ctx.network.shutdown()
    ctx.writer.shutdown()
    store.close()
    return 0


def measure(home_with_100k: Path) -> dict[str, float]:
    """Run the app on ``home_with_100k`` in a subprocess and time it (see module doc)."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["COMPTOIR_UI_NO_PROMPT"] = "1"
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(repo) + os.pathsep + env.get("PYTHONPATH", "")
    started = time.time()
    out = subprocess.run([sys.executable, "-m", "ui.bench", "--child", str(home_with_100k)],
                         env=env, capture_output=True, text=True, timeout=300, cwd=repo)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"ui bench child failed: {out.stderr[-2000:]}")
    got = json.loads(line)
    return {"ui_first_paint_s": round(got["painted_at"] - started, 3),
            "ui_filter_ms": round(got["filter_ms"], 1),
            "ui_rss_mb": round(got["rss_mb"], 1),
            "ui_filter_nomatch_ms": round(got["filter_nomatch_ms"], 1),
            "ui_rows_first_page": got["rows"]}


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        sys.exit(_child(Path(sys.argv[2])))
    print(json.dumps(measure(Path(sys.argv[1])), indent=1))
