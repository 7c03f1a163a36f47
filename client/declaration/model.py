"""The goods declaration: a subset of the WCO Data Model (UK CDS DEC-DMS 2 profile).

Every field names its WCO/UCC data element (``DE n/m``) in ``json_schema_extra``
under ``x-de`` so that validation findings, the editor and the XML mapping speak the
same language.  Every field is reachable by a stable path such as
``goods_items[2].commodity_code`` (zero-based list index).

Drafts may be incomplete: apart from the id and the declaration type every field is
optional here; completeness is the business of :mod:`client.declaration.validation`, which reports
instead of refusing.  Amounts and masses are ``Decimal`` (serialised as JSON strings,
so the canonical form never rounds a customs value through a binary float).

The model covers the WCO DEC-DMS 2 declaration as the UK CDS profile uses it.  Where an
element carries an attribute the model has no field for (a code list id, a language), or
where an imported file holds something the model cannot represent, it travels in the
``dms`` member of the object it belongs to (:class:`DmsExtra`), so that nothing that came
in is lost on the way out.
"""

from __future__ import annotations

import random
import re
import secrets as pysecrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from uuid6 import uuid7

# Bounds on untrusted input: a declaration is read from files, the network and paste.
MAX_ITEMS = 999  # DE 1/6 is n..3
MAX_LIST = 99
MAX_TEXT = 512

DeclarationType = Literal["IM", "EX", "CO"]


def de(number: str, description: str, **kw: Any) -> Any:
    """A model field documented with its WCO/UCC data-element number."""
    # "3/x"-style numbers belong to the enclosing party/address: inherit the parent's.
    extra = {} if number.endswith("/x") or number == "x" else {"x-de": number}
    return Field(default=kw.pop("default", None), description=f"DE {number}: {description}",
                 json_schema_extra=extra, **kw)


def many(number: str, description: str, *, limit: int = MAX_LIST) -> Any:
    """A repeated element (a list field) documented with its data-element number."""
    return Field(default_factory=list, max_length=limit, description=f"DE {number}: {description}",
                 json_schema_extra={"x-de": number})


Text = Annotated[str, Field(max_length=MAX_TEXT)]
Code = Annotated[str, Field(max_length=35)]
Amount = Annotated[Decimal, Field(max_digits=18, decimal_places=6, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=99_999)]  # SequenceNumeric and friends: n..5
MAX_CARRIED_XML = 65_536  # one element kept verbatim, serialised


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False,
                              str_strip_whitespace=True)


class CarriedElement(_Base):
    """An element of an imported DMS file that the model cannot hold, kept verbatim.

    ``parent`` is the element path below the object's own element (``""`` directly under
    it, ``"Commodity/GoodsMeasure"`` deeper); ``index`` is the element's position among
    its same-named siblings and ``position`` among all of them, so that the export puts it
    back where it was.
    """

    parent: Annotated[str, Field(max_length=256)] = ""
    index: int = Field(default=0, ge=0, le=MAX_ITEMS)
    position: int = Field(default=0, ge=0, le=99_999)
    xml: Annotated[str, Field(max_length=MAX_CARRIED_XML)]


Key = Annotated[str, Field(max_length=128)]  # a field name or an element path
Name = Annotated[str, Field(max_length=64)]
ElementPath = Annotated[str, Field(max_length=256)]


class DmsExtra(_Base):
    """What an imported DMS element carried beyond the model's fields.

    ``attrs`` maps a field name to the XML attributes of its element that have no field
    of their own (e.g. ``listID``); an attribute given as ``""`` was absent in the file and
    must not be filled in with a default on export.  ``carried`` holds whole elements.
    ``envelope`` (declaration only) is the MetaData header as received.  ``order`` keeps,
    for elements the model holds in another shape (origins, classifications, procedures),
    the order they came in where it was not the one the export writes by default.
    ``absent`` names the elements the export would write by default (a sequence number,
    the type code) that the file did not have as the model reads them: none is made up.
    ``empty`` lists the element paths that came empty (``<SupervisingOffice/>``);
    ``lexical`` numbers as they were written where that is not their plain form (``007``,
    ``+5``, ``.5``): written so again while the value is unchanged.
    """

    attrs: dict[Key, dict[Name, Text]] = Field(default_factory=dict, max_length=MAX_ITEMS)
    carried: list[CarriedElement] = Field(default_factory=list, max_length=MAX_ITEMS)
    envelope: dict[Name, Text] | None = Field(default=None, max_length=32)
    order: dict[Name, list[Annotated[str, Field(max_length=8)]]] = Field(
        default_factory=dict, max_length=32)
    absent: list[Name] = Field(default_factory=list, max_length=32)
    empty: list[ElementPath] = Field(default_factory=list, max_length=MAX_LIST)
    lexical: dict[Key, Name] = Field(default_factory=dict, max_length=MAX_LIST)


class _Strict(_Base):
    dms: DmsExtra | None = Field(
        default=None, description="DMS attributes and elements kept verbatim from an import")


class Address(_Strict):
    street: Text | None = de("3/x", "street and number")
    city: Text | None = de("3/x", "city")
    postcode: Code | None = de("3/x", "postcode")
    country: Code | None = de("3/x", "country (ISO 3166-1 alpha-2)")
    subdivision_code: Code | None = de("3/x", "country subdivision code")
    subdivision_name: Text | None = de("3/x", "country subdivision name")
    type: Code | None = de("3/x", "address type code")


class Communication(_Strict):
    id: Text | None = de("3/x", "communication number (telephone, e-mail…)")
    type: Code | None = de("3/x", "communication type code (TE telephone, EM e-mail…)")


class Party(_Strict):
    """A trader: identified by an EORI-style number, or by name and address."""

    id: Code | None = de("3/x", "identification number (EORI)")
    name: Text | None = de("3/x", "name")
    address: Address | None = de("3/x", "address")
    contact: Text | None = de("3/x", "contact person")
    communication: Communication | None = de("3/x", "communication (telephone, e-mail)")


class PartyRole(_Strict):
    """A party known only by its number and role (DE 3/37 supply chain actors, 3/40 fiscal
    references)."""

    id: Code | None = de("3/x", "identification number (EORI or VAT number)")
    role: Code | None = de("3/x", "role code")


class Authorisation(_Strict):
    """DE 3/39: holder of an authorisation, by type of authorisation."""

    id: Code | None = de("3/39", "holder of the authorisation: identification number")
    category: Code | None = de("3/39", "authorisation type code (CGU, DPO, EIR…)")


class DateTimeValue(_Strict):
    """A DMS date/time: CCYYMMDD (format 102) or CCYYMMDDhhmmss+zone (format 304)."""

    value: Code | None = de("x", "date and time as written")
    format: Code | None = de("x", "format code (102 date, 304 date and time)")


class Pointer(_Strict):
    """A step down the WCO declaration tree (amendments, rejection pointers)."""

    sequence: Count | None = de("x", "occurrence of the section (sequence number)")
    section: Code | None = de("x", "WCO document section code (42A declaration, 67A shipment…)")
    tag: Code | None = de("x", "WCO tag of the data element")


class AdditionalInformation(_Strict):
    """DE 2/2: additional information (a coded statement and/or a text)."""

    code: Code | None = de("2/2", "additional information code")
    text: Text | None = de("2/2", "additional information text")
    type: Code | None = de("2/2", "statement type code (AES for an amendment)")
    pointers: list[Pointer] = many("2/2", "what the statement refers to")


class Amendment(_Strict):
    """One change of an amendment (function code 13, type COR): why and where."""

    reason: Code | None = de("x", "change reason code")
    pointers: list[Pointer] = many("x", "path to the amended element")


class Representative(Party):
    status: Code | None = de("3/21", "representative status code (1 direct… 3 indirect)")


class Document(_Strict):
    """A previous document (DE 2/1) or an additional document / certificate (DE 2/3)."""

    category: Code | None = de("2/1", "document category (X, Y, Z for previous documents)")
    type: Code | None = de("2/3", "document type code")
    reference: Text | None = de("2/3", "document reference / identifier")
    status: Code | None = de("2/3", "document status code")
    line: Code | None = de("2/1", "goods item identifier within the document")
    name: Text | None = de("2/3", "document name or reason (e.g. why it is not produced)")
    effective_date: DateTimeValue | None = de("2/3", "date of validity of the document")
    issuer_name: Text | None = de("2/3", "issuing authority")
    issuer_role: Code | None = de("2/3", "issuing authority role code")
    write_off_quantity: Amount | None = de("8/7", "writing-off: quantity")
    write_off_unit: Code | None = de("8/7", "writing-off: measurement unit and qualifier")
    write_off_amount: Amount | None = de("8/7", "writing-off: amount")
    write_off_currency: Code | None = de("8/7", "writing-off: currency")


class Packaging(_Strict):
    kind: Code | None = de("6/9", "type of packages (UN/ECE Rec 21)")
    number: int | None = de("6/10", "number of packages", ge=0, le=99_999_999)
    marks: Text | None = de("6/11", "shipping marks")
    sequence: Count | None = de("6/10", "packaging sequence number (1, 2… when left empty)")
    material: Text | None = de("6/9", "packing material description")
    length: Amount | None = de("6/9", "length")
    length_unit: Code | None = de("6/9", "length unit")
    width: Amount | None = de("6/9", "width")
    width_unit: Code | None = de("6/9", "width unit")
    height: Amount | None = de("6/9", "height")
    height_unit: Code | None = de("6/9", "height unit")
    volume: Amount | None = de("6/9", "volume")
    volume_unit: Code | None = de("6/9", "volume unit")


class DutyTaxLine(_Strict):
    tax_type: Code | None = de("4/3", "calculation of taxes: tax type")
    base: Amount | None = de("4/4", "tax base")
    rate: Amount | None = de("4/5", "tax rate")
    amount: Amount | None = de("4/6", "payable tax amount")
    payment_method: Code | None = de("4/8", "method of payment")
    base_currency: Code | None = de("4/4", "tax base currency (empty: the invoice currency)")
    amount_currency: Code | None = de("4/6", "payable tax currency (empty: the invoice currency)")
    deduction: Amount | None = de("4/6", "amount deducted")
    deduction_currency: Code | None = de("4/6", "currency of the amount deducted")
    quantity_base: Amount | None = de("4/4", "tax base: quantity")
    quantity_base_unit: Code | None = de("4/4", "tax base: measurement unit")
    quota: Code | None = de("8/1", "quota order number")
    total: Amount | None = de("4/7", "total taxes paid")
    total_currency: Code | None = de("4/7", "currency of the total")
    preference: Code | None = de("4/17", "preference claimed on this line (the item's own "
                                 "preference rides on its first line)")


class ChargeDeduction(_Strict):
    """DE 4/9: an addition to or deduction from the customs value."""

    type: Code | None = de("4/9", "addition / deduction code")
    amount: Amount | None = de("4/9", "amount")
    currency: Code | None = de("4/9", "currency")


class EquipmentRef(_Strict):
    """DE 7/10 on a goods item: the container the item travels in."""

    sequence: Count | None = de("7/10", "container sequence number")
    id: Code | None = de("7/10", "container identification number")


class Seal(_Strict):
    """DE 7/18: a seal, on the container with sequence number ``equipment``."""

    equipment: Count | None = de("7/18", "sequence number of the sealed container")
    sequence: Count | None = de("7/18", "seal sequence number")
    id: Code | None = de("7/18", "seal identification number")


class Routing(_Strict):
    """DE 5/18: a country of routing, in order."""

    sequence: Count | None = de("5/18", "sequence number")
    country: Code | None = de("5/18", "country of routing (ISO 3166-1)")


class Guarantee(_Strict):
    """DE 8/2 guarantee type and DE 8/3 guarantee reference."""

    type: Code | None = de("8/2", "guarantee type (security details code)")
    reference: Text | None = de("8/3", "guarantee reference number (GRN)")
    other_reference: Text | None = de("8/3", "other guarantee reference")
    access_code: Code | None = de("8/3", "access code")
    amount: Amount | None = de("8/3", "amount of import duty and other charges")
    currency: Code | None = de("8/3", "currency of the amount")
    office: Code | None = de("8/3", "customs office of guarantee")


class ConsignmentItem(_Strict):
    """A consignment item (safety and security data: consignor, transport charges)."""

    sequence: Count | None = de("x", "consignment item number")
    consignor: Party | None = de("3/7", "consignor (3/7, id 3/8)")
    freight_payment: Code | None = de("4/2", "transport charges method of payment")


class Warehouse(_Strict):
    """DE 2/7: identification of the warehouse."""

    id: Code | None = de("2/7", "warehouse identifier")
    type: Code | None = de("2/7", "warehouse type code")


class Authentication(_Strict):
    """DE 1/8: signature / authentication."""

    text: Text | None = de("1/8", "signature / authentication")
    name: Text | None = de("1/8", "name of the signatory")


class GoodsItem(_Strict):
    sequence: int | None = de("1/6", "goods item number", ge=0, le=MAX_ITEMS)
    description: Text | None = de("6/8", "description of goods")
    commodity_code: Code | None = de(
        "6/14", "commodity code: HS 6 digits + national extension (CN 6/14, TARIC 6/15)")
    additional_codes: list[Code] = Field(default_factory=list, max_length=MAX_LIST,
                                         description="DE 6/16: TARIC additional codes",
                                         json_schema_extra={"x-de": "6/16"})
    country_of_origin: Code | None = de("5/15", "country of origin (ISO 3166-1)")
    preferential_origin: Code | None = de("5/16", "country of preferential origin")
    preference: Code | None = de("4/17", "preference code")
    procedure_code: Code | None = de("1/10", "procedure: requested + previous (4 digits)")
    additional_procedure_codes: list[Code] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="DE 1/11: additional procedure codes", json_schema_extra={"x-de": "1/11"})
    packages: list[Packaging] = Field(default_factory=list, max_length=MAX_LIST,
                                      description="DE 6/9-6/11: packages",
                                      json_schema_extra={"x-de": "6/10"})
    gross_mass: Amount | None = de("6/5", "gross mass (kg)", ge=0)
    net_mass: Amount | None = de("6/1", "net mass (kg)", ge=0)
    supplementary_units: Amount | None = de("6/2", "supplementary units", ge=0)
    item_price: Amount | None = de("4/14", "item price / amount", ge=0)
    valuation_method: Code | None = de("4/16", "valuation method (1-6)")
    statistical_value: Amount | None = de("8/6", "statistical value", ge=0)
    documents: list[Document] = Field(default_factory=list, max_length=MAX_LIST,
                                      description="DE 2/3: documents for this item",
                                      json_schema_extra={"x-de": "2/3"})
    previous_documents: list[Document] = Field(
        default_factory=list, max_length=MAX_LIST,
        description="DE 2/1: previous documents for this item", json_schema_extra={"x-de": "2/1"})
    duty_tax_lines: list[DutyTaxLine] = Field(default_factory=list, max_length=MAX_LIST,
                                              description="DE 4/3-4/8: duties and taxes",
                                              json_schema_extra={"x-de": "4/3"})
    national_codes: list[Code] = many("6/17", "national additional codes")
    cus_code: Code | None = de("6/13", "CUS code (customs union and statistics)")
    dangerous_goods: list[Code] = many("6/12", "UN dangerous goods codes")
    item_price_currency: Code | None = de("4/14", "item price currency (empty: the invoice currency)")
    statistical_value_currency: Code | None = de(
        "8/6", "statistical value currency (empty: the invoice currency)")
    customs_value: Amount | None = de("4/18", "value of the goods item (postal / low value)")
    customs_value_currency: Code | None = de("4/18", "currency of the value")
    gross_mass_unit: Code | None = de("6/5", "gross mass unit (KGM)")
    net_mass_unit: Code | None = de("6/1", "net mass unit (KGM)")
    supplementary_units_unit: Code | None = de("6/2", "supplementary units: measurement unit")
    nature_of_transaction: Code | None = de("8/5", "nature of transaction for this item")
    additional_information: list[AdditionalInformation] = many("2/2", "additional information")
    supply_chain_actors: list[PartyRole] = many("3/37", "additional supply chain actors")
    fiscal_references: list[PartyRole] = many("3/40", "additional fiscal references")
    buyer: Party | None = de("3/26", "buyer of this item (3/26, id 3/27)")
    seller: Party | None = de("3/24", "seller of this item (3/24, id 3/25)")
    consignee: Party | None = de("3/9", "consignee of this item (3/9, id 3/10)")
    consignor: Party | None = de("3/7", "consignor of this item (3/7, id 3/8)")
    charges: list[ChargeDeduction] = many("4/9", "additions and deductions")
    valuation_indicators: Code | None = de("4/13", "valuation indicators")
    country_of_destination: Code | None = de("5/8", "country of destination of this item")
    region_of_destination: Code | None = de("5/9", "region of destination of this item")
    country_of_dispatch: Code | None = de("5/14", "country of dispatch of this item")
    equipment: list[EquipmentRef] = many("7/10", "containers of this item")
    ucr: Text | None = de("2/4", "reference number / UCR of this item")
    ucr_id: Text | None = de("2/4", "UCR identifier of this item")


class DeliveryTerms(_Strict):
    incoterm: Code | None = de("4/1", "Incoterms 2020 code")
    place: Text | None = de("4/1", "named place (UN/LOCODE or text)")
    place_name: Text | None = de("4/1", "named place, as text")
    country_relationship: Code | None = de("4/1", "country relationship code")
    description: Text | None = de("4/1", "description")


class Transport(_Strict):
    mode_at_border: Code | None = de("7/4", "mode of transport at the border (1-9)")
    mode_inland: Code | None = de("7/5", "inland mode of transport (1-9)")
    container: bool | None = de("7/2", "container indicator")
    equipment_numbers: list[Code] = Field(default_factory=list, max_length=MAX_LIST,
                                          description="DE 7/10: container identification",
                                          json_schema_extra={"x-de": "7/10"})
    border_means_identity: Text | None = de("7/15", "active border transport means identity")
    border_means_nationality: Code | None = de("7/15", "nationality of active means")
    departure_means_identity: Text | None = de("7/7", "identity of means at departure")
    departure_means_id_type: Code | None = de("7/7", "type of identification at departure")
    departure_means_name: Text | None = de("7/7", "name of the means at departure")
    departure_means_type: Code | None = de("7/7", "type of means at departure")
    arrival_means_identity: Text | None = de("7/9", "identity of means on arrival")
    arrival_means_id_type: Code | None = de("7/9", "type of identification on arrival")
    arrival_means_name: Text | None = de("7/9", "name of the means on arrival")
    arrival_means_type: Code | None = de("7/9", "type of means on arrival")
    border_means_id_type: Code | None = de("7/14", "type of identification of the active means")
    border_means_name: Text | None = de("7/14", "name of the active border means")
    border_means_type: Code | None = de("7/14", "type of active border means")
    seals: list[Seal] = many("7/18", "seal numbers")


def new_declaration_id() -> str:
    """A UUIDv7: time-ordered, so ids sort by creation and index well."""
    return str(uuid7())


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Declaration(_Strict):
    """A goods declaration (WCO DEC-DMS 2 subset)."""

    id: str = Field(default_factory=new_declaration_id, max_length=36,
                    description="Declaration id (UUIDv7), stable across versions")
    version: int = Field(default=1, ge=1, le=9999,
                         description="Version: 1, then one more per amendment")
    type: DeclarationType = de("1/1", "declaration type (IM import, EX export, CO special fiscal territories)", default="IM")
    additional_type: Code | None = de("1/2", "additional declaration type (A standard, D pre-lodged…)")
    transit_type: Code | None = de("1/3", "transit declaration type (T1, T2, T2F…)")
    function: Literal["original", "amendment", "post_release_amendment", "cancellation"] = Field(
        default="original",
        description="Function code: original (9); amendment, post-release amendment (UCC "
                    "Art. 173) or invalidation request (Art. 174, 'cancellation') (13)")
    amends: str | None = Field(default=None, max_length=36,
                               description="Id of the sealed declaration this amends")
    lrn: Code | None = de("2/5", "local reference number (unique per declarant)")
    mrn: Code | None = de("2/x", "movement reference number, allocated by customs")
    ucr: Text | None = de("2/4", "reference number / UCR")
    declarant: Party | None = de("3/17", "declarant (name/address 3/17, id 3/18)")
    exporter: Party | None = de("3/1", "exporter (3/1, id 3/2)")
    consignee: Party | None = de("3/9", "consignee (3/9, id 3/10)")
    importer: Party | None = de("3/15", "importer (3/15, id 3/16)")
    representative: Representative | None = de("3/19", "representative (3/19, id 3/20, status 3/21)")
    seller: Party | None = de("3/24", "seller")
    buyer: Party | None = de("3/26", "buyer")
    customs_office: Code | None = de("5/26", "customs office of presentation")
    exit_office: Code | None = de("5/12", "customs office of exit")
    supervising_office: Code | None = de("5/27", "supervising customs office")
    goods_location: Code | None = de("5/23", "location of goods")
    country_of_dispatch: Code | None = de("5/14", "country of dispatch / export (ISO 3166-1)")
    country_of_destination: Code | None = de("5/8", "country of destination (ISO 3166-1)")
    delivery_terms: DeliveryTerms | None = de("4/1", "delivery terms")
    invoice_currency: Code | None = de("4/10", "invoice currency (ISO 4217)")
    invoice_total: Amount | None = de("4/11", "total amount invoiced", ge=0)
    exchange_rate: Amount | None = de("4/15", "exchange rate", gt=0)
    nature_of_transaction: Code | None = de("8/5", "nature of transaction")
    transport: Transport | None = de("7/x", "transport")
    previous_documents: list[Document] = Field(default_factory=list, max_length=MAX_LIST,
                                               description="DE 2/1: previous documents",
                                               json_schema_extra={"x-de": "2/1"})
    additional_documents: list[Document] = Field(default_factory=list, max_length=MAX_LIST,
                                                 description="DE 2/3: documents and certificates",
                                                 json_schema_extra={"x-de": "2/3"})
    total_items: int | None = de("1/9", "total number of items", ge=0, le=MAX_ITEMS)
    total_packages: int | None = de("6/18", "total packages", ge=0, le=99_999_999)
    total_gross_mass: Amount | None = de("6/5", "total gross mass (kg)", ge=0)
    goods_items: list[GoodsItem] = Field(default_factory=list, max_length=MAX_ITEMS,
                                         description="DE 1/6…: goods items",
                                         json_schema_extra={"x-de": "1/6"})
    # --- the rest of the DEC-DMS declaration as the UK CDS profile uses it
    acceptance_date: DateTimeValue | None = de("5/31", "date of acceptance")
    issue_date: DateTimeValue | None = de("5/4", "date of declaration")
    issue_place: Code | None = de("5/5", "place of declaration")
    declaration_office: Code | None = de("5/25", "customs office of lodgement")
    loading_lists: int | None = de("x", "number of loading lists", ge=0, le=99_999)
    total_items_unit: Code | None = de("1/9", "unit of the number of items")
    total_packages_unit: Code | None = de("6/18", "unit of the number of packages")
    loading_lists_unit: Code | None = de("x", "unit of the number of loading lists")
    total_gross_mass_unit: Code | None = de("6/5", "total gross mass unit (KGM)")
    specific_circumstances: Code | None = de("1/7", "specific circumstance indicator")
    authentication: Authentication | None = de("1/8", "signature / authentication")
    submitter: Party | None = de("3/x", "submitter of the message (a cancellation's requester)")
    additional_information: list[AdditionalInformation] = many("2/2", "additional information")
    amendments: list[Amendment] = many("x", "amended elements and why")
    authorisations: list[Authorisation] = many("3/39", "holders of authorisations")
    carrier: Party | None = de("3/31", "carrier (3/31, id 3/32)")
    consignment_items: list[ConsignmentItem] = many("x", "consignment items", limit=MAX_ITEMS)
    consignor: Party | None = de("3/7", "consignor (3/7, id 3/8)")
    freight_payment: Code | None = de("4/2", "transport charges method of payment")
    routing: list[Routing] = many("5/18", "countries of routing")
    exchange_currency: Code | None = de("4/15", "currency of the exchange rate")
    exit_date: DateTimeValue | None = de("x", "date of exit")
    supply_chain_actors: list[PartyRole] = many("3/37", "additional supply chain actors")
    loading_place: Text | None = de("5/21", "place of loading (name)")
    loading_place_id: Code | None = de("5/21", "place of loading (code)")
    shipment_consignor: Party | None = de("3/7", "consignor of the goods shipment")
    freight_charge: Amount | None = de("4/19", "transport costs to the final destination")
    freight_charge_currency: Code | None = de("4/19", "currency of the transport costs")
    charges: list[ChargeDeduction] = many("4/9", "additions and deductions")
    region_of_destination: Code | None = de("5/9", "region of destination")
    fiscal_references: list[PartyRole] = many("3/40", "additional fiscal references")
    invoice_number: Text | None = de("x", "invoice number")
    invoice_date: DateTimeValue | None = de("x", "invoice date")
    payer: Party | None = de("3/46", "person paying the customs duty")
    surety: Party | None = de("3/45", "person providing the guarantee")
    ucr_id: Text | None = de("2/4", "UCR identifier")
    warehouse: Warehouse | None = de("2/7", "identification of warehouse")
    guarantees: list[Guarantee] = many("8/3", "guarantees")

    def to_json_dict(self) -> dict[str, Any]:
        """The canonical JSON form (what is signed): no nulls, no empty lists."""
        return _prune(self.model_dump(mode="json", exclude_none=True))


def _prune(value: Any) -> Any:
    """Drop nulls, empty lists and empty objects (in one pass: it runs on every save)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, dict | list):
                v = _prune(v)
                if not v:
                    continue
            elif v is None:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune(v) if isinstance(v, dict | list) else v for v in value]
    return value


_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


def split_path(path: str) -> list[str | int]:
    """``goods_items[2].packages[0].kind`` -> ``['goods_items', 2, 'packages', 0, 'kind']``."""
    steps: list[str | int] = []
    for part in path.split("."):
        m = _STEP.fullmatch(part)
        if not m:
            raise ValueError(f"bad path step {part!r}")
        steps.append(m.group(1))
        if m.group(2) is not None:
            steps.append(int(m.group(2)))
    return steps


def get_path(obj: Any, path: str) -> Any:
    """The value at a stable path, or None where any step is missing."""
    cur = obj
    for step in split_path(path):
        if cur is None:
            return None
        if isinstance(step, int):
            cur = cur[step] if isinstance(cur, list) and 0 <= step < len(cur) else None
        elif isinstance(cur, dict):
            cur = cur.get(step)
        else:
            cur = getattr(cur, step, None)
    return cur


def de_number(path: str) -> str | None:
    """The WCO data-element number of the field at ``path`` (e.g. ``6/14``)."""
    model: Any = Declaration
    found: str | None = None
    for step in split_path(path):
        if isinstance(step, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or step not in fields:
            return found
        info = fields[step]
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        found = extra.get("x-de", found)  # type: ignore[assignment]
        model = _inner_model(info.annotation)
    return found


def _inner_model(annotation: Any) -> Any:
    from typing import get_args

    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        stack.extend(get_args(a))
    return None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the declaration (``comptoir schema``)."""
    schema = Declaration.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "urn:comptoir:declaration:1"
    return schema


def new_lrn(rng: random.Random | None = None) -> str:
    """A fresh LRN (DE 2/5, an..22): date, time and 4 random characters."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    pick = (rng or pysecrets.SystemRandom()).choice
    return datetime.now(UTC).strftime("%y%m%d%H%M%S") + "".join(pick(alphabet) for _ in range(4))
