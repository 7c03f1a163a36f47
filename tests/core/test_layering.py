"""The house's rooms and the direction of their doors.

Each room (a package of the project) may import only the rooms below it, as the table says;
the checker reads every import, including those placed inside functions, so a dependency
cannot hide.  No import cycle may exist among the project's modules.  ARCHITECTURE.md draws
the same table.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {"PySide6", "ui"}
PACKAGES = ("client", "sync", "ui")

# room -> the rooms of the project it may import (besides itself).  Lower never imports higher.
_CLIENT_BELOW_SERVICES = {"client.common", "client.declaration", "client.interchange",
                          "client.store", "client.seal", "client.officer"}
ALLOWED: dict[str, set[str]] = {
    "client.common": set(),
    "client.declaration": {"client.common"},
    "client.interchange": {"client.common", "client.declaration"},
    "client.store": {"client.common", "client.declaration"},
    "client.seal": {"client.common", "client.declaration", "client.interchange", "client.store"},
    "client.officer": {"client.common", "client.declaration", "client.interchange",
                       "client.store", "client.seal"},
    "client.services": _CLIENT_BELOW_SERVICES,
    "client.cli": _CLIENT_BELOW_SERVICES | {"client.services"},
    "sync": _CLIENT_BELOW_SERVICES | {"client.services"},
    "ui": _CLIENT_BELOW_SERVICES | {"client.services", "sync"},
}


def _imports(path: Path) -> set[str]:
    """Top-level names of everything ``path`` imports (anywhere in the file)."""
    return {name.split(".")[0] for name in _imported_modules(path)}


def _imported_modules(path: Path) -> set[str]:
    """Dotted names ``path`` imports, wherever the import stands (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                in ("import_module", "__import__") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.add(node.args[0].value)
    return found


def _module_files() -> dict[str, Path]:
    """Every module of the project by dotted name (packages by their ``__init__``)."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            if "migrations" in path.parts and "versions" in path.parts:
                continue
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _room(module: str) -> str | None:
    """The room of a module: ``client.<room>`` inside client/, else its top package."""
    parts = module.split(".")
    if parts[0] == "client":
        return ".".join(parts[:2]) if len(parts) > 1 else None
    return parts[0] if parts[0] in PACKAGES else None


def _targets(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules that ``path`` imports: ``from pkg import name`` points at the
    submodule ``pkg.name`` when there is one, else at ``pkg``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif node.module in modules:
                    found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                in ("import_module", "__import__") and node.args \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in modules:
            found.add(node.args[0].value)
    return found


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project's modules it imports, imports inside functions included."""
    return {name: _targets(path, modules) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


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


def test_every_room_imports_only_the_rooms_below_it() -> None:
    modules = _module_files()
    offenders = []
    for name, path in sorted(modules.items()):
        room = _room(name)
        if room is None:
            continue
        assert room in ALLOWED, f"{name}: room {room} is missing from the layering table"
        for imp in sorted(_imported_modules(path)):
            target = _room(imp)
            if target is None or target == room:
                continue
            if target not in ALLOWED[room]:
                offenders.append(f"{name} -> {imp} ({room} may not import {target})")
    assert offenders == []


def test_no_module_outside_cli_imports_cli() -> None:
    offenders = [f"{name} -> {imp}" for name, path in _module_files().items()
                 if not name.startswith("client.cli")
                 for imp in _imported_modules(path) if imp.startswith("client.cli")]
    assert offenders == []


def test_no_import_cycle_among_the_project_modules() -> None:
    modules = _module_files()
    assert len(modules) > 50
    assert _cycles(_graph(modules)) == []


def test_client_modules_stay_under_600_lines() -> None:
    long = [f"{p.relative_to(REPO)}: {n}" for p in (REPO / "client").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600]
    assert long == []


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from PySide6.QtCore import QObject\nimport importlib\n"
                   "def later():\n    importlib.import_module('ui.app')\n")
    assert _imports(bad) >= {"PySide6", "ui"}


def test_the_cycle_finder_sees_a_cycle_through_a_function_import(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    b = tmp_path / "b.py"
    a.write_text("import b\n")
    b.write_text("def late():\n    from a import thing\n")
    graph = _graph({"a": a, "b": b})
    assert _cycles(graph) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("room,imp,ok", [
    ("client.store", "client.seal.envelope", False),
    ("client.seal", "client.store", True),
    ("ui", "client.cli.main", False),
    ("client.declaration", "client.common.i18n", True),
])
def test_the_table_says_which_door_is_open(room: str, imp: str, ok: bool) -> None:
    assert (_room(imp) in ALLOWED[room]) is ok


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


def test_one_of_each_helper() -> None:
    """One atomic write, one base64url codec, one JSON depth guard for client/, sync/ and ui/."""
    import re

    patterns = {
        "a hand-made atomic rename": re.compile(r"os\.replace\("),
        "a hand-made base64url codec": re.compile(r"urlsafe_b64(en|de)code\("),
        "a hand-made JSON depth walk": re.compile(r"def _depth\w*\("),
    }
    homes = {"a hand-made atomic rename": "client/common/files.py",
             "a hand-made base64url codec": "client/common/b64.py",
             "a hand-made JSON depth walk": "client/common/jsonguard.py"}
    offenders = []
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            rel = str(path.relative_to(REPO))
            text = path.read_text(encoding="utf-8")
            for what, pat in patterns.items():
                if pat.search(text) and rel != homes[what]:
                    offenders.append(f"{rel}: {what}")
    assert offenders == []
