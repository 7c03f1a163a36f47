"""Human names for the places of a declaration, shared by the form labels and the findings.

A finding names its field by path (``goods_items[1].country_of_origin``) and its message
by code and parameters; the desktop renders both with the very labels the form shows
("Goods item 2 › Origin (DE 5/15)"), never the model's internal names.  The one-line
help of a field is its data element's description in the ``elements`` catalogues.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from client.common.i18n import Message, tr
from client.declaration.elements import element_key
from client.declaration.model import de_number
from ui.editor.fields import GENERAL, PARTIES, PARTY_FIELDS, TRANSPORT
from ui.i18n import render, t
from ui.models.rows import DOCUMENT_COLUMNS, GOODS_COLUMNS

_LISTS = (("goods_items", "label.goods_item", GOODS_COLUMNS),
          ("additional_documents", "label.document", DOCUMENT_COLUMNS))


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


def _name(path: str) -> str | None:
    """The form's own label for ``path`` (without the DE number), None when it has none."""
    keys = _header_keys()
    if path in keys:
        text = t(keys[path]).replace("&", "")
        party = path.split(".")[0]
        if "." in path and party in PARTIES:
            text = f"{t('party.' + party)} › {text}"
        return text
    for prefix, key, columns in _LISTS:
        m = re.fullmatch(rf"{prefix}\[(\d+)\](?:\.(.+))?", path)
        if m:
            head = t(key, n=int(m.group(1)) + 1)
            rest = m.group(2)
            if not rest:
                return head
            col = next((k for p, k in columns if p == rest), None) or next(
                (k for p, k in columns if p.split("[")[0] == rest.split("[")[0]), None)
            sub = t(col) if col else _element_name(rest, prefix)
            return f"{head} › {sub}" if sub else head
    return _element_name(path)


def _element_name(path: str, within: str = "") -> str | None:
    key = element_key(f"{within}[0].{path}" if within else path)
    if key is None:
        return None
    text = tr(key)
    return text[:1].upper() + text[1:]


def field_label(path: str, *, with_de: bool = True) -> str:
    """``Country of dispatch (DE 5/14)``: the label a field has in the form."""
    name = _name(path) or path
    de = de_number(path) if with_de else None
    return f"{name} (DE {de})" if de else name


def field_help(path: str) -> str:
    """The one-line help of a field: its data element's description."""
    key = element_key(path)
    return tr(key) if key else ""


def kind_label(kind: str) -> str:
    """``IMA`` -> "import, A: Standard declaration"; ``IM/T1`` -> "import, transit T1"."""
    base, rest = kind[:2], kind[2:]
    text = t(f"decl_type.{base}") if base in ("IM", "EX", "CO") else base
    if rest.startswith("/"):
        return t("label.kind_transit", kind=text, transit=rest[1:])
    if rest:
        return t("label.kind_additional", kind=text, code=rest,
                 name=tr(f"refdata.additional_type.{rest}"))
    return text


def finding_text(message: Any) -> str:
    """A finding's message with its ``field`` and ``kind`` parameters in human words."""
    if not isinstance(message, Message):
        return render(message)
    params = dict(message.params)
    field = params.get("field")
    if isinstance(field, str) and field:
        params["field"] = " / ".join(  # pydantic's goods_items.0.mass is goods_items[0].mass
            field_label(re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", p.strip()), with_de=False)
            for p in field.split(" / "))
    if isinstance(params.get("kind"), str):
        params["kind"] = kind_label(params["kind"])
    return render(Message(message.code, params))
