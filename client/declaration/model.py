"""The goods declaration: a subset of the WCO Data Model (UK CDS DEC-DMS 2 profile).

Every field names its WCO/UCC data element (``DE n/m``) in ``json_schema_extra``
under ``x-de`` so that validation findings, the editor and the XML mapping speak the
same language.  Every field is reachable by a stable path such as
``goods_items[2].commodity_code`` (zero-based list index).

Drafts may be incomplete: apart from the id and the declaration type every field is
optional here; completeness is the business of :mod:`client.declaration.validation`, which reports
instead of refusing.  Amounts and masses are ``Decimal`` (serialised as JSON strings,
so the canonical form never rounds a customs value through a binary float).
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
    extra = {} if number.endswith("/x") else {"x-de": number}
    return Field(default=kw.pop("default", None), description=f"DE {number}: {description}",
                 json_schema_extra=extra, **kw)


Text = Annotated[str, Field(max_length=MAX_TEXT)]
Code = Annotated[str, Field(max_length=35)]
Amount = Annotated[Decimal, Field(max_digits=18, decimal_places=6, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False,
                              str_strip_whitespace=True)


class Address(_Strict):
    street: Text | None = de("3/x", "street and number")
    city: Text | None = de("3/x", "city")
    postcode: Code | None = de("3/x", "postcode")
    country: Code | None = de("3/x", "country (ISO 3166-1 alpha-2)")


class Party(_Strict):
    """A trader: identified by an EORI-style number, or by name and address."""

    id: Code | None = de("3/x", "identification number (EORI)")
    name: Text | None = de("3/x", "name")
    address: Address | None = de("3/x", "address")


class Representative(Party):
    status: Code | None = de("3/21", "representative status code (1 direct… 3 indirect)")


class Document(_Strict):
    """A previous document (DE 2/1) or an additional document / certificate (DE 2/3)."""

    category: Code | None = de("2/1", "document category (X, Y, Z for previous documents)")
    type: Code | None = de("2/3", "document type code")
    reference: Text | None = de("2/3", "document reference / identifier")
    status: Code | None = de("2/3", "document status code")
    line: Code | None = de("2/1", "goods item identifier within the document")


class Packaging(_Strict):
    kind: Code | None = de("6/9", "type of packages (UN/ECE Rec 21)")
    number: int | None = de("6/10", "number of packages", ge=0, le=99_999_999)
    marks: Text | None = de("6/11", "shipping marks")


class DutyTaxLine(_Strict):
    tax_type: Code | None = de("4/3", "calculation of taxes: tax type")
    base: Amount | None = de("4/4", "tax base")
    rate: Amount | None = de("4/5", "tax rate")
    amount: Amount | None = de("4/6", "payable tax amount")
    payment_method: Code | None = de("4/8", "method of payment")


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


class DeliveryTerms(_Strict):
    incoterm: Code | None = de("4/1", "Incoterms 2020 code")
    place: Text | None = de("4/1", "named place (UN/LOCODE or text)")


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

    def to_json_dict(self) -> dict[str, Any]:
        """The canonical JSON form (what is signed): no nulls, no empty lists."""
        return _prune(self.model_dump(mode="json"))


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_prune(v) for v in value]
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
