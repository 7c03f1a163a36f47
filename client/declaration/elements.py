"""Every data element of a declaration as a flat list, for the editor's "more data
elements" panel: the rare ones (DE 3/39 authorisations, 8/2-8/3 guarantees, 5/18 routing…)
have no form of their own, so they are listed by path with their DE number and name.

Names come from the catalogues (``element.<Model>.<field>``, resources/translations/*/
elements.json), one per model field, so a path's name is the chain of its steps' names:
"Holders of authorisations 2 › authorisation type code".
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from client.common.i18n import tr
from client.declaration.model import Declaration, de_number

_HEADER_ONLY = frozenset({"id", "version", "function", "amends"})  # not data elements
_INDEX = "[]"


@dataclass(frozen=True)
class ElementRow:
    """One data element at one place: ``path`` (``guarantees[0].type``), the catalogue
    key of each step with its list index, what kind of value it holds, and for a list
    (kind ``entries``) or an entry of one, the list's path."""

    path: str
    steps: tuple[tuple[str, int | None], ...]
    kind: str  # text | number | flag | codes | entries
    list_path: str | None = None

    @property
    def de(self) -> str | None:
        return de_number(self.path)

    @property
    def shape(self) -> str:
        """The path with every index emptied (``goods_items[].charges[].type``)."""
        out, i = [], 0
        p = self.path
        while i < len(p):
            if p[i] == "[":
                j = p.index("]", i)
                out.append(_INDEX)
                i = j + 1
            else:
                out.append(p[i])
                i += 1
        return "".join(out)

    def name(self, lang: str | None = None) -> str:
        parts = []
        for key, index in self.steps:
            text = tr(key, lang)
            parts.append(f"{text[:1].upper()}{text[1:]}" if not parts else text)
            if index is not None:
                parts[-1] += f" {index + 1}"
        return " › ".join(parts)

    def matches(self, needle: str, lang: str | None = None) -> bool:
        n = needle.strip().lower()
        return not n or n in self.name(lang).lower() or n in self.path.lower() \
            or (self.de is not None and n.removeprefix("de ").strip() == self.de)


def _model(annotation: Any) -> type[BaseModel] | None:
    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        stack.extend(get_args(a))
    return None


def _is_list(annotation: Any) -> bool:
    stack = [annotation]
    while stack:
        a = stack.pop()
        if get_origin(a) is list:
            return True
        stack.extend(get_args(a))
    return False


def _scalar_kind(annotation: Any) -> str:
    found = set()
    stack = [annotation]
    while stack:
        a = stack.pop()
        if a in (bool,):
            found.add("flag")
        elif a in (int, Decimal):
            found.add("number")
        stack.extend(get_args(a))
    return "flag" if "flag" in found else "number" if "number" in found else "text"


def element_rows(doc: dict[str, Any], *, skip: Collection[str] = ()) -> list[ElementRow]:
    """The rows for ``doc`` (a declaration in its JSON shape), the shapes in ``skip``
    (shown elsewhere, e.g. ``lrn`` or ``goods_items[].description``) left out."""
    return list(_walk(Declaration, doc, "", (), set(skip)))


def _walk(model: type[BaseModel], value: dict[str, Any] | None, prefix: str,
          steps: tuple[tuple[str, int | None], ...], skip: set[str]) -> Iterator[ElementRow]:
    value = value if isinstance(value, dict) else {}
    for name, info in model.model_fields.items():
        if name == "dms" or (model is Declaration and name in _HEADER_ONLY):
            continue
        path = f"{prefix}{name}"
        here = steps + ((f"element.{_owner(model, name)}.{name}", None),)
        shape = ElementRow(path, here, "text").shape
        if shape in skip:
            continue
        sub = _model(info.annotation)
        if sub is None:
            kind = "codes" if _is_list(info.annotation) else _scalar_kind(info.annotation)
            yield ElementRow(path, here, kind)
        elif _is_list(info.annotation):
            entries = value.get(name) if isinstance(value.get(name), list) else []
            if name != "goods_items":
                yield ElementRow(path, here, "entries", list_path=path)
            for i, entry in enumerate(entries):
                indexed = steps + ((here[-1][0], i),)
                for row in _walk(sub, entry, f"{path}[{i}].", indexed, skip):
                    yield row if row.list_path else ElementRow(row.path, row.steps, row.kind,
                                                               list_path=path)
        else:
            yield from _walk(sub, value.get(name), f"{path}.", here, skip)


def _owner(model: type[BaseModel], name: str) -> str:
    """The model class that declares ``name`` (Representative inherits Party's fields)."""
    for cls in model.__mro__:
        if name in getattr(cls, "__annotations__", {}):
            return cls.__name__
    return model.__name__


def element_key(path: str) -> str | None:
    """The catalogue key naming the data element at ``path`` (``importer.address.country``
    -> ``element.Address.country``): its one-line help in the user's language."""
    import re

    model: type[BaseModel] | None = Declaration
    key = None
    for name in re.sub(r"\[\d*\]", "", path).split("."):
        info = model.model_fields.get(name) if model is not None else None
        if info is None or model is None:
            return None
        key = f"element.{_owner(model, name)}.{name}"
        model = _model(info.annotation)
    return key


def parse_value(kind: str, text: str) -> Any:
    """What the user typed, in the shape the document holds (a typing error stays text:
    validation says what is wrong with it)."""
    text = text.strip()
    if text == "":
        return None
    if kind == "codes":
        return [c.strip() for c in text.split(",") if c.strip()]
    if kind == "flag":
        low = text.lower()
        if low in ("1", "true", "yes", "oui", "vrai"):
            return True
        if low in ("0", "false", "no", "non", "faux"):
            return False
    return text


def show_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if not isinstance(v, dict | list))
    return str(value)
