"""The project's own JSON form of a declaration: read untrusted, one clear error otherwise."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from client.common.files import read_json_file
from client.common.i18n import ComptoirError, tr
from client.declaration.model import Declaration


def parse_declaration(value: Any, source: str) -> Declaration:
    """A Declaration from parsed JSON, or one clear error naming the first bad field."""
    if not isinstance(value, dict):
        raise ComptoirError("error.declaration_invalid", 2, path=source, field="(root)",
                            reason=tr("error.expected_object"))
    try:
        return Declaration.model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _path_of(err.get("loc", ()))
        reason = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            reason = tr("error.unknown_field")
        raise ComptoirError("error.declaration_invalid", 2, path=source, field=loc or "(root)",
                            reason=reason) from exc


def _path_of(loc: Iterable[Any]) -> str:
    out = ""
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


def read_declarations(path: Path) -> list[Declaration]:
    """The project's JSON form: one declaration object, or an array of them."""
    value = read_json_file(path)
    items = value if isinstance(value, list) else [value]
    if len(items) > 10_000:
        raise ComptoirError("error.input_too_large", 2, path=str(path), size=len(items),
                            limit=10_000)
    return [parse_declaration(v, f"{path}[{i}]" if isinstance(value, list) else str(path))
            for i, v in enumerate(items)]
