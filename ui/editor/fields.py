"""What the editor's forms hold: each header field with its label and completion list.

Paths are those of the canonical JSON document (``delivery_terms.incoterm``); labels
are ``ui.json`` keys; the data-element number is added to each label from
:func:`client.declaration.model.de_number`.  Also the two document helpers the forms
share: the text a value shows as, and pruning parents a cleared field leaves empty.
"""

from __future__ import annotations

from typing import Any

from client.declaration.fields import (  # noqa: F401 - the forms' tables, re-exported
    DECLARATION_TYPES,
    DOCUMENT_COMPLETION,
    GENERAL,
    GOODS_COMPLETION,
    PARTIES,
    PARTY_FIELDS,
    TRANSPORT,
    FieldSpec,
)
from client.declaration.model import Document
from client.declaration.rules_cds import HEADER_DOCUMENT_ROOM
from ui.models.rows import get_in, set_in

TAB_GENERAL, TAB_PARTIES, TAB_TRANSPORT, TAB_GOODS, TAB_DOCUMENTS, TAB_MORE = range(6)


def shown_elsewhere(goods_columns: Any, document_columns: Any) -> set[str]:
    """The data elements the forms and tables show: the "more data elements" tab leaves
    them out (paths with their list indices emptied)."""
    shown = {"type"} | {f.path for f in GENERAL + TRANSPORT}
    shown |= {f"{p}.{sub}" for p in PARTIES for sub, _k, _c in PARTY_FIELDS}
    shown |= {"representative.status", "goods_items[].sequence"}
    shown |= {"goods_items[]." + c[0].replace("[0]", "[]") for c in goods_columns}
    shown |= {"additional_documents[]." + c[0] for c in document_columns}
    return shown


# The fields DMS has no room for on a header-level document (V-HEADER-DOCUMENT-FIELDS
# refuses them): the "more data elements" tab offers them only where a file brought one,
# so that the finding's field can be found and cleared.
HEADER_DOCUMENT_HELD_ONLY = frozenset(
    "additional_documents[]." + name for name in Document.model_fields
    if name not in HEADER_DOCUMENT_ROOM)


def field_text(value: Any) -> str:
    return "" if value is None else str(value)


def prune_empty(doc: dict[str, Any], path: str) -> None:
    """Drop parents left empty by clearing a field (``declarant: {}`` is not a party)."""
    parts = path.split(".")
    for depth in range(len(parts) - 1, 0, -1):
        parent = get_in(doc, ".".join(parts[:depth]))
        if isinstance(parent, dict) and not parent:
            set_in(doc, ".".join(parts[:depth]), None)
