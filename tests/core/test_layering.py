"""The core never imports the GUI: client/ and sync/ import neither PySide6 nor ui/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {"PySide6", "ui"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                in ("import_module", "__import__") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.add(node.args[0].value.split(".")[0])
    return found


def test_client_and_sync_never_import_qt_or_ui() -> None:
    offenders = []
    files = [p for pkg in ("client", "sync") for p in (REPO / pkg).rglob("*.py")]
    assert len(files) > 5
    for path in files:
        bad = _imports(path) & FORBIDDEN
        if bad:
            offenders.append(f"{path.relative_to(REPO)}: {sorted(bad)}")
    assert offenders == []


def test_client_never_imports_sync() -> None:
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "client").rglob("*.py")
                 if "sync" in _imports(p)]
    assert offenders == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtCore import QObject\nimport importlib\nimportlib.import_module('ui.app')\n")
    assert _imports(bad) >= {"PySide6", "ui"}


def test_importing_the_whole_core_loads_no_qt() -> None:
    code = ("import sys, pkgutil, importlib, client, sync\n"
            "for pkg in (client, sync):\n"
            "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
            "        if 'migrations' in m.name: continue\n"
            "        importlib.import_module(m.name)\n"
            "print(sorted(k for k in sys.modules if k.startswith(('PySide6', 'ui'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
