"""What the editor's forms hold: each header field with its label and completion list.

Paths are those of the canonical JSON document (``delivery_terms.incoterm``); labels
are ``ui.json`` keys; the data-element number is added to each label from
:func:`client.declaration.model.de_number`.  Also the two document helpers the forms
share: the text a value shows as, and pruning parents a cleared field leaves empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.declaration.model import Document
from client.declaration.rules_cds import HEADER_DOCUMENT_ROOM
from ui.models.rows import get_in, set_in


@dataclass(frozen=True)
class FieldSpec:
    path: str
    label: str  # ui.json key
    completion: str | None = None


PARTIES = ("declarant", "exporter", "importer", "consignee", "representative")
PARTY_FIELDS = (("id", "party.id", None), ("name", "party.name", None),
                ("address.street", "party.street", None), ("address.city", "party.city", None),
                ("address.postcode", "party.postcode", None),
                ("address.country", "party.country", "countries"))

GENERAL = [
    FieldSpec("additional_type", "field.additional_type", "additional_types"),
    FieldSpec("lrn", "field.lrn"),
    FieldSpec("ucr", "field.ucr"),
    FieldSpec("customs_office", "field.customs_office", "customs_offices"),
    FieldSpec("goods_location", "field.goods_location"),
    FieldSpec("country_of_dispatch", "field.country_of_dispatch", "countries"),
    FieldSpec("country_of_destination", "field.country_of_destination", "countries"),
    FieldSpec("delivery_terms.incoterm", "field.incoterm", "incoterms"),
    FieldSpec("delivery_terms.place", "field.incoterm_place"),
    FieldSpec("invoice_currency", "field.invoice_currency", "currencies"),
    FieldSpec("invoice_total", "field.invoice_total"),
    FieldSpec("exchange_rate", "field.exchange_rate"),
    FieldSpec("nature_of_transaction", "field.nature_of_transaction",
              "natures_of_transaction"),
    FieldSpec("total_packages", "field.total_packages"),
    FieldSpec("total_gross_mass", "field.total_gross_mass"),
]
TRANSPORT = [
    FieldSpec("transport.mode_at_border", "field.mode_at_border", "transport_modes"),
    FieldSpec("transport.mode_inland", "field.mode_inland", "transport_modes"),
    FieldSpec("transport.border_means_identity", "field.border_means_identity"),
    FieldSpec("transport.border_means_nationality", "field.border_means_nationality",
              "countries"),
    FieldSpec("transport.departure_means_identity", "field.departure_means_identity"),
]
GOODS_COMPLETION = {"commodity_code": "commodity_codes", "country_of_origin": "countries",
                    "procedure_code": "procedure_codes",
                    "additional_procedure_codes[0]": "additional_procedure_codes",
                    "packages[0].kind": "package_kinds"}
# DE 2/3: the picker lists whole document codes (N935); picking one fills the category
# (N) and the type (935) of the row.
DOCUMENT_COMPLETION = {"type": "document_codes"}
DECLARATION_TYPES = ("IM", "EX", "CO")  # DE 1/1
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
