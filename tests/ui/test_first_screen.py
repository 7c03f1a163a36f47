"""The first screen (#15): the rows paint before the store's libraries load, and the main
window that takes over shows the same rows in the same order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from client.store.firstscreen import read_first_screen

REPO = Path(__file__).resolve().parents[2]


def _python(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Python in a fresh process, offscreen, its key from the keyring as on a desktop."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", COMPTOIR_UI_NO_PROMPT="1",
               PYTHONPATH=str(REPO))
    env.pop("COMPTOIR_PASSPHRASE", None)
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


def _start_app(home: Path) -> dict[str, Any]:
    """The real start-up in a fresh process (ui.bench's child: ui.app.Launch), one JSON line."""
    out = _python("-m", "ui.bench", "--child", str(home), timeout=300)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("{")), None)
    assert line is not None, out.stderr[-3000:]
    return dict(json.loads(line))


def _keyring_profile(prof: Any) -> None:
    from client.seal.secrets import KIND_KEYRING, recorded_backend

    if recorded_backend(prof.home) != KIND_KEYRING:
        pytest.skip("no Secret Service here (run under .ci/with-keyring): the first screen "
                    "reads its key from the keyring only")


def test_the_first_rows_paint_before_the_store_libraries_load(prof: Any) -> None:
    _keyring_profile(prof)
    prof.seed(150)
    prof.close()
    got = _start_app(prof.home)
    # Nothing of SQLAlchemy, SQLModel, pydantic, the model, sealing, interchange, the
    # editor or the main window was imported when the first rows were painted …
    assert got["heavy_before_paint"] == []
    assert got["rss_first_paint_mb"] > 0
    # … and those rows were the declarations, as the main window then shows them.
    assert len(got["first_ids"]) == 20
    assert got["ready_ids"] == got["first_ids"]
    assert got["rows"] == 150
    # PySide6's import hook read every module's source into linecache (~28 MB, 700
    # files); the window at rest holds only what was imported after it was ready
    # (pycountry, once a country is shown).
    assert len(got["source_files_cached"]) < 10, got["source_files_cached"]


def test_a_profile_with_passphrase_files_has_no_first_screen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its key needs the passphrase: the app opens as before, the main window first."""
    from client.seal import secrets as secrets_mod
    from client.seal.profile import load_or_init, open_store, secret_store
    from ui.firstload import load_first_screen

    home = tmp_path / "files"
    monkeypatch.setattr(secrets_mod, "keyring_available", lambda attempts=1: False)
    profile = load_or_init(home)
    open_store(profile, secrets=secret_store(profile)).close()
    assert secrets_mod.recorded_backend(home) == secrets_mod.KIND_FILE
    assert load_first_screen(home) is None


def test_the_first_screen_reads_what_the_main_window_lists(prof: Any, qtbot: Any) -> None:
    """Same ids, same order as the main window's model in its first order; language too."""
    from client.store import settings_keys as keys
    from ui.firstload import ORDER
    from ui.firstscreen import FirstScreenWindow
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController

    prof.seed(60)
    prof.store.set_setting(keys.LANGUAGE, "fr")
    key = prof.secrets.get("db-key")
    screen = read_first_screen(prof.profile.db_path, key, limit=25, order_by=ORDER[0],
                               descending=ORDER[1])
    assert screen is not None and screen.language == "fr"
    first = FirstScreenWindow(screen)
    qtbot.addWidget(first)
    ctx = prof.context()
    window = MainWindow(ctx, sync=SyncController(ctx, auto=False))
    qtbot.addWidget(window)
    assert (window.table_model.order_by, window.table_model.descending) == ORDER
    assert first.table_model.ids() == window.table_model.ids()[:25]
    for col in range(first.table_model.columnCount()):  # each cell renders the same
        assert first.table_model.index(3, col).data() == window.table_model.index(3, col).data()
    first.filter.setText("LRN01")
    first.hand_over(window)
    assert window.filter.text() == "LRN01"


def test_a_wrong_key_or_no_file_is_no_first_screen(prof: Any, tmp_path: Path) -> None:
    prof.seed(3)
    assert read_first_screen(prof.profile.db_path, "00" * 32, limit=5) is None
    assert read_first_screen(tmp_path / "absent.db", "00" * 32, limit=5) is None
    assert read_first_screen(prof.profile.db_path, prof.secrets.get("db-key"), limit=5,
                             order_by="document; DROP TABLE declaration") is None
    got = read_first_screen(prof.profile.db_path, prof.secrets.get("db-key"), limit=5)
    assert got is not None and len(got.rows) == 3 and got.language is None


_IMPORTS_OFF_THE_MAIN_THREAD = """
import sys, threading
from pathlib import Path
seen = []
def hook(event, args):
    if event == "import" and threading.current_thread() is not threading.main_thread():
        seen.append(args[0])
sys.addaudithook(hook)
from ui.firstload import prefetch
result = prefetch(Path(sys.argv[1]))
got = result()
print("FIRST", got is not None)
print("IMPORTS", sorted(set(seen)))
"""


def test_the_first_screen_thread_imports_nothing_while_qt_loads(prof: Any) -> None:
    """PySide6's start-up (shiboken's signature bootstrap) walks ``sys.modules``; a module
    imported meanwhile by the first-screen thread aborted the app at start ("dictionary
    changed size during iteration", then a fatal error).  The thread now finds every
    module it uses already imported: it reads, it never imports."""
    _keyring_profile(prof)
    prof.seed(5)
    prof.close()
    out = _python("-c", _IMPORTS_OFF_THE_MAIN_THREAD, str(prof.home))
    assert "FIRST True" in out.stdout, out.stdout + out.stderr[-3000:]
    assert "IMPORTS []" in out.stdout, out.stdout


def test_the_main_window_loads_no_printing_or_xml_library() -> None:
    """reportlab, Pillow, segno and lxml (~15 MB resident) load when a PDF or an XML file is
    made, not with the window (#15's memory)."""
    code = ("import sys; import ui.mainwindow, ui.app; "
            "print(sorted(m for m in ('reportlab', 'PIL', 'segno', 'lxml') if m in sys.modules))")
    out = _python("-c", code)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr[-2000:]


def test_a_list_row_is_spelled_once() -> None:
    """The first screen's columns, the store's Summary and the table's FirstRow share one
    list (client.store.firstscreen.ROW_COLUMNS): a column added to one is in all three."""
    from dataclasses import fields

    from client.store.firstscreen import ROW_FIELDS
    from client.store.types import Summary
    from ui.models.declarations import FirstRow

    assert tuple(f.name for f in fields(Summary))[:len(ROW_FIELDS)] == ROW_FIELDS
    row = FirstRow([f"v{i}" for i in range(len(ROW_FIELDS))])
    assert [getattr(row, name) for name in ROW_FIELDS] == [f"v{i}" for i in range(len(ROW_FIELDS))]
    assert row.lodge_by is None
