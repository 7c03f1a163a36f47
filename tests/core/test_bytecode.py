"""The window starts from compiled modules where bytecode is never written at run time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scripts.compile_bytecode import ROOT as REPO
from scripts.compile_bytecode import compile_packages

# Counts the project's modules compiled from source while the window's modules load.
_CHILD = """
import importlib._bootstrap_external as ext, sys
root = sys.argv[1]
compiled = []
original = ext.SourceLoader.source_to_code
def counting(self, data, path, *args, **kwargs):
    if str(path).startswith(root):
        compiled.append(str(path))
    return original(self, data, path, *args, **kwargs)
ext.SourceLoader.source_to_code = counting
import ui.app, ui.mainwindow, client.store, client.seal.sealing, sync.engine
print(len(compiled), *compiled[:5])
"""


def _compiled_from_source(**extra: str) -> list[str]:
    """(count, first names) of the project's modules a fresh child compiled from source."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", QT_QPA_PLATFORM="offscreen", **extra)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(REPO)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.split()


def test_the_window_loads_its_modules_from_bytecode_once_compiled() -> None:
    assert compile_packages(REPO)
    count, *names = _compiled_from_source()
    assert int(count) == 0, names


def test_a_child_without_bytecode_would_compile_them(tmp_path: Path) -> None:
    """The check above can fail: with an empty bytecode folder the same imports compile."""
    assert int(_compiled_from_source(PYTHONPYCACHEPREFIX=str(tmp_path))[0]) > 20
