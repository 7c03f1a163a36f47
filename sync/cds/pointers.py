"""A DMS error pointer as the model's field and its data-element number.

CDS points at the faulty element with WCO identifiers (``42A.67A.68A[1].23A.21A/145``:
Declaration, GoodsShipment, goods item 1, Commodity, Classification, TagID 145 = the
commodity code).  :class:`sync.cds.wco.WcoIndex` turns that into the XML path; the table
below — the inverse of :func:`client.interchange.dms.export_dms` — turns the XML path
into the model path (``goods_items[0].commodity_code``), whose DE number
(:func:`client.declaration.model.de_number`) the user knows from the editor (DE 6/14).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from client.declaration.model import de_number
from sync.cds.wco import Step, WcoIndex

GI = "GoodsShipment/GovernmentAgencyGoodsItem"
_PARTY = {"Name": "name", "ID": "id", "Address/CityName": "address.city",
          "Address/CountryCode": "address.country", "Address/Line": "address.street",
          "Address/PostcodeID": "address.postcode"}
_DOC = {"CategoryCode": "category", "ID": "reference", "TypeCode": "type",
        "LPCOExemptionCode": "status", "LineNumeric": "line"}

# XML path below Declaration (element names, no indexes) -> model path; {i} is the goods
# item, {n} the repeated element of the last indexed step.
MODEL_PATHS: dict[str, str] = {
    "FunctionalReferenceID": "lrn", "ID": "mrn", "TypeCode": "type",
    "GoodsItemQuantity": "total_items", "InvoiceAmount": "invoice_total",
    "TotalGrossMassMeasure": "total_gross_mass", "TotalPackageQuantity": "total_packages",
    "AdditionalDocument": "additional_documents[{n}]",
    "Agent": "representative", "Agent/FunctionCode": "representative.status",
    "BorderTransportMeans": "transport",
    "BorderTransportMeans/ID": "transport.border_means_identity",
    "BorderTransportMeans/RegistrationNationalityCode": "transport.border_means_nationality",
    "BorderTransportMeans/ModeCode": "transport.mode_at_border",
    "CurrencyExchange/RateNumeric": "exchange_rate",
    "Declarant": "declarant", "Submitter": "declarant", "Exporter": "exporter",
    "ExitOffice/ID": "exit_office", "PresentationOffice/ID": "customs_office",
    "SupervisingOffice/ID": "supervising_office",
    "GoodsShipment/TransactionNatureCode": "nature_of_transaction",
    "GoodsShipment/Buyer": "buyer", "GoodsShipment/Consignee": "consignee",
    "GoodsShipment/Importer": "importer", "GoodsShipment/Seller": "seller",
    "GoodsShipment/Consignment/ContainerCode": "transport.container",
    "GoodsShipment/Consignment/ArrivalTransportMeans/ModeCode": "transport.mode_inland",
    "GoodsShipment/Consignment/DepartureTransportMeans/ID": "transport.departure_means_identity",
    "GoodsShipment/Consignment/DepartureTransportMeans/ModeCode": "transport.mode_inland",
    "GoodsShipment/Consignment/GoodsLocation": "goods_location",
    "GoodsShipment/Consignment/TransportEquipment": "transport.equipment_numbers[{n}]",
    "GoodsShipment/Destination/CountryCode": "country_of_destination",
    "GoodsShipment/ExportCountry/ID": "country_of_dispatch",
    "GoodsShipment/PreviousDocument": "previous_documents[{n}]",
    "GoodsShipment/TradeTerms/ConditionCode": "delivery_terms.incoterm",
    "GoodsShipment/TradeTerms/LocationID": "delivery_terms.place",
    "GoodsShipment/UCR/TraderAssignedReferenceID": "ucr",
    GI: "goods_items[{i}]",
    f"{GI}/SequenceNumeric": "goods_items[{i}].sequence",
    f"{GI}/StatisticalValueAmount": "goods_items[{i}].statistical_value",
    f"{GI}/AdditionalDocument": "goods_items[{i}].documents[{n}]",
    f"{GI}/PreviousDocument": "goods_items[{i}].previous_documents[{n}]",
    f"{GI}/Commodity/Description": "goods_items[{i}].description",
    f"{GI}/Commodity/Classification/ID": "goods_items[{i}].commodity_code",
    f"{GI}/Commodity/DutyTaxFee": "goods_items[{i}].duty_tax_lines",
    f"{GI}/Commodity/DutyTaxFee/DutyRegimeCode": "goods_items[{i}].preference",
    f"{GI}/Commodity/GoodsMeasure/GrossMassMeasure": "goods_items[{i}].gross_mass",
    f"{GI}/Commodity/GoodsMeasure/NetNetWeightMeasure": "goods_items[{i}].net_mass",
    f"{GI}/Commodity/GoodsMeasure/TariffQuantity": "goods_items[{i}].supplementary_units",
    f"{GI}/Commodity/InvoiceLine/ItemChargeAmount": "goods_items[{i}].item_price",
    f"{GI}/CustomsValuation/MethodCode": "goods_items[{i}].valuation_method",
    f"{GI}/GovernmentProcedure": "goods_items[{i}].procedure_code",
    f"{GI}/Origin/CountryCode": "goods_items[{i}].country_of_origin",
    f"{GI}/Packaging": "goods_items[{i}].packages[{n}]",
    f"{GI}/Packaging/QuantityQuantity": "goods_items[{i}].packages[{n}].number",
    f"{GI}/Packaging/TypeCode": "goods_items[{i}].packages[{n}].kind",
    f"{GI}/Packaging/MarksNumbersID": "goods_items[{i}].packages[{n}].marks",
}
for _prefix, _model in (("Declarant", "declarant"), ("Exporter", "exporter"),
                        ("Agent", "representative"), ("GoodsShipment/Importer", "importer"),
                        ("GoodsShipment/Consignee", "consignee"), ("GoodsShipment/Buyer", "buyer"),
                        ("GoodsShipment/Seller", "seller")):
    for _xml, _field in _PARTY.items():
        MODEL_PATHS[f"{_prefix}/{_xml}"] = f"{_model}.{_field}"
for _prefix, _model in (("AdditionalDocument", "additional_documents[{n}]"),
                        ("GoodsShipment/PreviousDocument", "previous_documents[{n}]"),
                        (f"{GI}/AdditionalDocument", "goods_items[{i}].documents[{n}]"),
                        (f"{GI}/PreviousDocument", "goods_items[{i}].previous_documents[{n}]")):
    for _xml, _field in _DOC.items():
        MODEL_PATHS[f"{_prefix}/{_xml}"] = f"{_model}.{_field}"

_STEP = re.compile(r"([0-9A-Z]{2,4})(?:\[(\d+)\])?")


@dataclass(frozen=True)
class Field:
    """Where a DMS pointer lands: the XML path, the model path and its DE number."""

    xml_path: str
    model_path: str | None
    de: str | None


def parse_pointer(text: str) -> tuple[list[Step], str | None] | None:
    """``42A.67A.68A[1]/145`` (the form :mod:`client.interchange.dms` gives) -> steps, tag."""
    if not text:
        return None
    sections_text, _, tag = text.partition("/")
    steps: list[Step] = []
    for part in sections_text.split("."):
        m = _STEP.fullmatch(part)
        if not m:
            return None
        steps.append((m.group(1), int(m.group(2)) if m.group(2) else None))
    return steps, (tag or None)


def _index(seq: int | None, items: list[Any] | None) -> int:
    if seq is None:
        return 0
    for k, it in enumerate(items or []):
        if getattr(it, "sequence", None) == seq:
            return k
    return max(0, seq - 1)


def model_field(path: list[Step], declaration: Any = None) -> Field:
    """The model path of an XML path (the deepest mapped ancestor when the leaf is not)."""
    names = [n for n, _ in path[1:]]
    xml = "/".join(f"{n}[{s}]" if s is not None else n for n, s in path)
    items = getattr(declaration, "goods_items", None)
    for cut in range(len(names), 0, -1):
        template = MODEL_PATHS.get("/".join(names[:cut]))
        if template is None:
            continue
        steps = path[1:cut + 1]
        item_seq = next((s for n, s in steps if n == "GovernmentAgencyGoodsItem"), None)
        last = next((s for n, s in reversed(steps)
                     if s is not None and n != "GovernmentAgencyGoodsItem"), None)
        model = template.format(i=_index(item_seq, items), n=max(0, (last or 1) - 1))
        try:
            de = de_number(model)
        except ValueError:
            de = None
        return Field(xml, model, de)
    return Field(xml, None, None)


def explain_pointer(text: str, index: WcoIndex | None, declaration: Any = None) -> Field | None:
    """A pointer string as a field of the model, None when it names nothing we know."""
    parsed = parse_pointer(text)
    if parsed is None or index is None:
        return None
    xml = index.resolve(*parsed)
    if xml is None:
        return None
    return model_field(xml, declaration)
