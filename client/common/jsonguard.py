"""A depth bound for untrusted JSON: one guard for every reader of files and wire bodies.

``json.loads`` itself recurses in C and stops only at the interpreter's limit; a
declaration is never more than a few levels deep, so anything deeper is refused as
hostile before it reaches pydantic or the model.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 32


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of ``value``, counting stops as soon as it passes ``limit``."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests deeper than ``limit``."""
    return json_depth(value, limit) > limit
