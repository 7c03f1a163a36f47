"""A depth bound for untrusted JSON: one guard for every reader of files and wire bodies.

``json.loads`` itself recurses in C and stops only at the interpreter's limit; a
declaration is never more than a few levels deep, so anything deeper is refused as
hostile before it reaches pydantic or the model.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 32


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of ``value`` (a scalar is 1, ``{"a": 1}`` 2), counting stops as
    soon as it passes ``limit``.  Walked one level at a time over the containers only: a
    batch's answer holds tens of thousands of scalars, each once a stack entry (#16)."""
    if not isinstance(value, (dict, list)):
        return 1
    level: list[Any] = [value]
    depth = 1
    while True:
        below: list[Any] = []
        leaves = False
        for v in level:
            children = v.values() if isinstance(v, dict) else v
            leaves = leaves or len(children) > 0
            below += [c for c in children if isinstance(c, (dict, list))]
        if not below:
            return depth + 1 if leaves else depth
        depth += 1
        if depth > limit:
            return depth
        level = below


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests deeper than ``limit``."""
    return json_depth(value, limit) > limit
