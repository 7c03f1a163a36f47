"""No test asserts a duration or a rate: a loaded machine must not fail a submission.

Timings are figures in ``bench/run.py``.  This reads every test module's syntax tree:
a value computed from a clock (``time.perf_counter()``, ``time.monotonic()``,
``time.time()``, ``timeit``) may steer a wait loop (``while time.monotonic() <
deadline``) but may not reach an ``assert``.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
CLOCKS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns",
          "process_time", "timeit", "default_timer"}


def _reads_clock(node: ast.AST, timed: set[str]) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in CLOCKS:
                return True
        if isinstance(n, ast.Name) and n.id in timed:
            return True
    return False


def timed_assertions(source: str) -> list[int]:
    """Line numbers of asserts that depend on a clock reading (directly or via names)."""
    tree = ast.parse(source)
    timed: set[str] = set()
    for _ in range(3):  # elapsed = end - start; ms = elapsed * 1000: follow a few steps
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) \
                    and node.value is not None and _reads_clock(node.value, timed):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            timed.add(n.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "append" and isinstance(node.func.value, ast.Name) \
                    and any(_reads_clock(a, timed) for a in node.args):
                timed.add(node.func.value.id)  # times.append(perf_counter() - t)
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Assert) and _reads_clock(n.test, timed)]


def test_the_checker_catches_a_timed_assertion() -> None:
    src = ("import time\nt = time.perf_counter()\nwork()\nelapsed = time.perf_counter() - t\n"
           "ms = elapsed * 1000\nassert ms < 50\nassert time.monotonic() > 0\n"
           "times = []\ntimes.append(time.perf_counter() - t)\nassert max(times) < 1\n"
           "deadline = time.monotonic() + 60\nwhile time.monotonic() < deadline:\n    pass\n"
           "assert done\n")
    assert timed_assertions(src) == [6, 7, 10]


def test_no_test_asserts_a_duration() -> None:
    found = {str(p.relative_to(TESTS)): lines for p in sorted(TESTS.rglob("*.py"))
             if (lines := timed_assertions(p.read_text(encoding="utf-8")))}
    assert found == {}, f"timing belongs in bench/run.py, not in an assert: {found}"
