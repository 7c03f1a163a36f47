"""Human names for the places of a declaration, for every front end.

A finding names its field by path (``goods_items[1].country_of_origin``) and its message
by code and parameters; the command line and the desktop render both with the very labels
the editor's form shows ("Goods item 2 › Country of origin (DE 5/16)"), never the model's
internal names.  The one-line help of a field is its data element's description in the
``elements`` catalogues.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from client.common.i18n import Message, tr
from client.declaration.elements import element_key
from client.declaration.fields import (
    DOCUMENT_COLUMNS,
    GENERAL,
    GOODS_COLUMNS,
    PARTIES,
    PARTY_FIELDS,
    TRANSPORT,
)
from client.declaration.model import de_number
from client.declaration.refdata import ADDITIONAL_TYPES

_LISTS = (("goods_items", "label.goods_item", GOODS_COLUMNS),
          ("additional_documents", "label.document", DOCUMENT_COLUMNS))


def _ui(key: str, lang: str | None, **params: Any) -> str:
    return tr(f"ui.{key}", lang, **params).replace("&", "")  # no keyboard mnemonics


@cache
def _header_keys() -> dict[str, str]:
    keys = {f.path: f.label for f in GENERAL + TRANSPORT}
    keys["type"] = "field.type"
    for party in PARTIES:
        keys[party] = f"party.{party}"
        for sub, key, _c in PARTY_FIELDS:
            keys[f"{party}.{sub}"] = key
    keys["representative.status"] = "party.status"
    keys["goods_items"] = "editor.tab.goods"
    keys["additional_documents"] = "editor.tab.documents"
    return keys


def _name(path: str, lang: str | None) -> str | None:
    """The form's own label for ``path`` (without the DE number), None when it has none."""
    keys = _header_keys()
    if path in keys:
        text = _ui(keys[path], lang)
        party = path.split(".")[0]
        if "." in path and party in PARTIES:
            text = f"{_ui('party.' + party, lang)} › {text}"
        return text
    for prefix, key, columns in _LISTS:
        m = re.fullmatch(rf"{prefix}\[(\d+)\](?:\.(.+))?", path)
        if m:
            head = _ui(key, lang, n=int(m.group(1)) + 1)
            rest = m.group(2)
            if not rest:
                return head
            col = next((k for p, k in columns if p == rest), None) or next(
                (k for p, k in columns if p.split("[")[0] == rest.split("[")[0]), None)
            sub = _ui(col, lang) if col else _element_name(rest, lang, prefix)
            return f"{head} › {sub}" if sub else head
    return _element_name(path, lang)


def _element_name(path: str, lang: str | None, within: str = "") -> str | None:
    key = element_key(f"{within}[0].{path}" if within else path)
    if key is None:
        return None
    text = tr(key, lang)
    return text[:1].upper() + text[1:]


def model_path(path: str) -> str:
    """pydantic's ``goods_items.0.mass`` or a JSON pointer's steps as ``goods_items[0].mass``."""
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", path.strip().strip("/").replace("/", "."))


def field_label(path: str, lang: str | None = None, *, with_de: bool = True) -> str:
    """``Country of dispatch (DE 5/14)``: the label a field has in the form."""
    path = model_path(path)
    name = _name(path, lang) or path
    de = de_number(path) if with_de else None
    return f"{name} (DE {de})" if de else name


def place_label(path: str | None, de: str | None = None, lang: str | None = None) -> str:
    """``Goods item 1 › Commodity code (DE 6/14)`` for a model path or a JSON pointer (a
    rejection's); the bare DE number when there is no path, ``-`` when there is neither."""
    if path:
        label = field_label(path, lang)
        return label if "(DE " in label or not de else f"{label} (DE {de})"
    return f"DE {de}" if de else "-"


def field_help(path: str, lang: str | None = None) -> str:
    """The one-line help of a field: its data element's description."""
    key = element_key(path)
    return tr(key, lang) if key else ""


def kind_label(kind: str, lang: str | None = None) -> str:
    """``IMA`` -> "import, A: Standard declaration"; ``IM/T1`` -> "import, transit T1"."""
    base, rest = kind[:2], kind[2:]
    text = _ui(f"decl_type.{base}", lang) if base in ("IM", "EX", "CO") else base
    if rest.startswith("/"):
        return _ui("label.kind_transit", lang, kind=text, transit=rest[1:])
    if rest in ADDITIONAL_TYPES:
        return _ui("label.kind_additional", lang, kind=text, code=rest,
                   name=tr(f"refdata.additional_type.{rest}", lang))
    if rest:  # a code DE 1/2 does not know (its own finding says so): no name to give
        return _ui("label.kind_additional_unknown", lang, kind=text, code=rest)
    return text


def finding_message(message: Any, lang: str | None = None) -> Any:
    """A finding's message with its ``field`` and ``kind`` parameters in human words."""
    if not isinstance(message, Message):
        return message
    params = dict(message.params)
    field = params.get("field")
    if isinstance(field, str) and field:
        params["field"] = " / ".join(field_label(p, lang, with_de=False) for p in field.split(" / "))
    if isinstance(params.get("kind"), str):
        params["kind"] = kind_label(params["kind"], lang)
    return Message(message.code, params)


def finding_text(message: Any, lang: str | None = None) -> str:
    """:func:`finding_message` rendered in ``lang`` (the user's language by default)."""
    got = finding_message(message, lang)
    return got.render(lang) if isinstance(got, Message) else str(got)
