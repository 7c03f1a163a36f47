"""Where each data element sits in the editor's forms, and the catalogue key of its name.

Shared by the desktop forms and every front end that names a field (the command line's
findings, the desktop's findings list): one table, so that a finding says "Country of
dispatch (DE 5/14)" wherever it is shown.  Paths are those of the canonical JSON document;
label keys are ``ui.json`` keys (without the ``ui.`` prefix); ``completion`` names the
reference list a coded field is picked from (:mod:`client.declaration.refdata`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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

GOODS_COLUMNS: list[tuple[str, str]] = [
    ("description", "field.description"),
    ("commodity_code", "field.commodity_code"),
    ("country_of_origin", "field.country_of_origin"),
    ("procedure_code", "field.procedure_code"),
    ("additional_procedure_codes[0]", "field.additional_procedure_code"),
    ("packages[0].kind", "field.package_kind"),
    ("packages[0].number", "field.package_number"),
    ("packages[0].marks", "field.package_marks"),
    ("gross_mass", "field.gross_mass"),
    ("net_mass", "field.net_mass"),
    ("item_price", "field.item_price"),
    ("valuation_method", "field.valuation_method"),
]

# A header-level document (DE 2/3) carries only its category, type and reference in DMS
# (rules_cds.HEADER_DOCUMENT_ROOM); its status (LPCOExemptionCode) exists only on a goods
# item's document, so the header table has no status column.
DOCUMENT_COLUMNS: list[tuple[str, str]] = [
    ("category", "field.doc_category"),
    ("type", "field.doc_type"),
    ("reference", "field.doc_reference"),
]


# The reference list of a data element of the "more data elements" tab, by its shape
# (path with list indices emptied): the same pickers as the forms' coded fields.
_ELEMENT_LISTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), list_name) for pattern, list_name in (
        (r"(?:.+\.)?(?:country|country_of_[a-z_]+|[a-z_]+_nationality)", "countries"),
        (r"(?:.+\.)?(?:[a-z_]+_)?currency", "currencies"),
        (r"(?:.+\.)?(?:[a-z_]+_)?office", "customs_offices"),
        (r"goods_items\[\]\.packages\[\]\.kind", "package_kinds"),
        (r"goods_items\[\]\.procedure_code", "procedure_codes"),
        (r"goods_items\[\]\.commodity_code", "commodity_codes"),
        (r"delivery_terms\.incoterm", "incoterms"),
        (r"transport\.mode_(?:at_border|inland)", "transport_modes"),
        (r"additional_type", "additional_types"),
        (r"(?:goods_items\[\]\.)?nature_of_transaction", "natures_of_transaction"),
    ))


def element_code_list(shape: str) -> str | None:
    """The reference list whose codes the element at ``shape`` takes
    (``routing[].country`` -> ``countries``), None for a free or unlisted value."""
    return next((name for pattern, name in _ELEMENT_LISTS if pattern.fullmatch(shape)), None)
