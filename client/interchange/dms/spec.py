"""The WCO DEC-DMS 2 declaration as the UK CDS profile uses it, bound to the model.

One tree says, for every element of the profile's ``Declaration``: its place among its
siblings (the schema's sequence order), how often it may occur, the WCO format of its
value, its data-element number, and which model field holds it.  The reader and the writer
both walk this tree (:mod:`client.interchange.dms.codec`), so that each element is mapped
the same way in and out; the structural check of an imported file
(:mod:`client.interchange.dms.check`) walks it too.

Node kinds:

- ``leaf``: an element with a value, held by a field of the current model object (a
  dotted path such as ``transport.mode_at_border``); mapped attributes (``currencyID``,
  ``unitCode``, ``formatCode``) have fields of their own.
- ``group``: an element with children but no model object of its own (``GoodsShipment``,
  ``Commodity``); its children bind to the current object.
- ``one`` / ``many``: an element (or a repeated element) held by a model sub-object (or a
  list of them).
- ``codec``: elements whose meaning the model holds in another shape (``TypeCode`` IMA as
  type + additional type; classifications as one commodity code; …): a named codec in
  :mod:`client.interchange.dms.codecs` reads and writes them, and checks that what it
  writes back is what it read.

Formats (WCO notation, as the CDS schema restricts them): ``c..3`` code of at most 3,
``c2`` code of exactly 2, ``i..35`` identifier, ``t..70`` text, ``a16,3`` amount (16 digits,
3 decimals), ``m16,6`` measure, ``q8,0`` quantity, ``n5,0`` / ``n`` numeric, ``dt`` a
date/time (a ``DateTimeString`` child with its ``formatCode``); ``:A`` letters only, ``:9``
digits only (else a value must not be blank).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

NS_MD = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2"
NS_DEC = "urn:wco:datamodel:WCO:DEC-DMS:2"
NS_DS = "urn:wco:datamodel:WCO:Declaration_DS:DMS:2"

# The MetaData envelope's own elements, in the order of DocumentMetaData_2_DMS.
ENVELOPE = (
    "WCODataModelVersionCode",
    "WCOTypeName",
    "ResponsibleCountryCode",
    "ResponsibleAgencyName",
    "AgencyAssignedCustomizationCode",
    "AgencyAssignedCustomizationVersionCode",
)
ENVELOPE_DEFAULTS = {
    "WCODataModelVersionCode": "3.6",
    "WCOTypeName": "DEC",
    "ResponsibleCountryCode": "GB",
    "ResponsibleAgencyName": "HMRC",
    "AgencyAssignedCustomizationVersionCode": "v2.1",
}

# Optional attributes the unqualified data types allow, by the format's first letter.
ATTRIBUTES = {
    "c": ("listID", "listAgencyID", "listAgencyName", "listName", "listVersionID", "name",
          "languageID", "listURI", "listSchemeURI"),
    "i": ("schemeID", "schemeName", "schemeAgencyID", "schemeAgencyName", "schemeVersionID",
          "schemeDataURI", "schemeURI"),
    "t": ("languageID",),
    "a": ("currencyID",),
    "m": ("unitCode",),
    "q": ("unitCode",),
    "n": (),
    "d": ("formatCode",),
}


@dataclass(frozen=True, eq=False)
class Node:
    """One element of the profile (see the module docstring for the kinds)."""

    tag: str
    kind: str
    field: str | None = None
    fmt: str | None = None
    attrs: tuple[tuple[str, str], ...] = ()
    default_currency: bool = False
    children: tuple[Node, ...] = ()
    limit: int | None = 1
    required: bool = False
    ns: str = NS_DEC
    de: str | None = None
    codec: str | None = None
    when: str | None = None  # "import" / "export": bound only for that declaration type
    transform: str | None = None  # "bool01": ContainerCode 0/1 as a boolean
    hook: str | None = None  # a list node with a codec-level rule (see codecs.HOOKS)
    index_default: bool = False  # SequenceNumeric left empty: the position, from 1
    own: str | None = None  # "^field" leaves: the element's own field beyond the first

    @cached_property
    def rank(self) -> dict[str, int]:
        """Position of each child tag in the schema's sequence."""
        return {c.tag: i for i, c in enumerate(self.children)}

    @cached_property
    def by_tag(self) -> dict[str, Node]:
        return {c.tag: c for c in self.children}

    @property
    def repeated(self) -> bool:
        return self.limit is None or self.limit > 1

    @cached_property
    def qname(self) -> str:
        return f"{{{self.ns}}}{self.tag}"


def leaf(tag: str, fld: str | None, fmt: str, de: str | None = None, **kw: object) -> Node:
    return Node(tag, "leaf", field=fld, fmt=fmt, de=de, **kw)  # type: ignore[arg-type]


def amount(tag: str, fld: str, currency: str, fmt: str = "a16,3", de: str | None = None, *,
           default: bool = False) -> Node:
    """An amount with its currencyID (``default``: empty means the invoice currency)."""
    return Node(tag, "leaf", field=fld, fmt=fmt, de=de, attrs=(("currencyID", currency),),
                default_currency=default)


def measure(tag: str, fld: str, unit: str, fmt: str, de: str | None = None) -> Node:
    """A measure or quantity with its unitCode."""
    return Node(tag, "leaf", field=fld, fmt=fmt, de=de, attrs=(("unitCode", unit),))


def group(tag: str, *children: Node, **kw: object) -> Node:
    return Node(tag, "group", children=children, **kw)  # type: ignore[arg-type]


def one(tag: str, fld: str, *children: Node, de: str | None = None) -> Node:
    return Node(tag, "one", field=fld, children=children, de=de)


def many(tag: str, fld: str, *children: Node, limit: int | None = None, de: str | None = None,
         hook: str | None = None) -> Node:
    return Node(tag, "many", field=fld, children=children, limit=limit, de=de, hook=hook)


def codec(tag: str, name: str, fmt: str | None = None, *, limit: int | None = 1,
          children: tuple[Node, ...] = (), de: str | None = None,
          required: bool = False) -> Node:
    return Node(tag, "codec", codec=name, fmt=fmt, limit=limit, children=children, de=de,
                required=required)


def datetime(tag: str, fld: str, de: str | None = None) -> Node:
    """A date/time element: its DateTimeString child (DS namespace) and formatCode."""
    return one(tag, fld, Node("DateTimeString", "leaf", field="value", fmt="dt", ns=NS_DS,
                              attrs=(("formatCode", "format"),), required=True), de=de)


def address(*, typed: bool = False, subdivision: bool = True) -> Node:
    kids = [leaf("TypeCode", "type", "c..3")] if typed else []
    kids += [leaf("CityName", "city", "t..35"), leaf("CountryCode", "country", "c2:A")]
    if subdivision:
        kids += [leaf("CountrySubDivisionCode", "subdivision_code", "c..9"),
                 leaf("CountrySubDivisionName", "subdivision_name", "t..35")]
    kids += [leaf("Line", "street", "t..70"), leaf("PostcodeID", "postcode", "i..9")]
    return one("Address", "address", *kids)


def party(tag: str, fld: str, de: str, *, contact: bool = False, comm: bool = False,
          typed: bool = False, status: bool = False) -> Node:
    """A trader: Name, ID (EORI), [FunctionCode], Address, [Contact], [Communication]."""
    kids = [leaf("Name", "name", "t..70"), leaf("ID", "id", "i..17")]
    if status:
        kids.append(leaf("FunctionCode", "status", "c..3", "3/21"))
    kids.append(address(typed=typed))
    if contact:
        kids.append(group("Contact", leaf("Name", "contact", "t..70")))
    if comm:
        kids.append(one("Communication", "communication", leaf("ID", "id", "i..50"),
                        leaf("TypeCode", "type", "c..3")))
    return one(tag, fld, *kids, de=de)


def pointers() -> Node:
    return many("Pointer", "pointers", leaf("SequenceNumeric", "sequence", "n5,0"),
                leaf("DocumentSectionCode", "section", "c..3"), leaf("TagID", "tag", "i..4"))


def charge_deduction() -> Node:
    return many("ChargeDeduction", "charges", leaf("ChargesTypeCode", "type", "c..3"),
                amount("OtherChargeDeductionAmount", "amount", "currency"), de="4/9")


def role_party(tag: str, fld: str, de: str) -> Node:
    return many(tag, fld, leaf("ID", "id", "i..17"), leaf("RoleCode", "role", "c..3"), de=de)


def means(tag: str, prefix: str, de: str, mode_when: str) -> Node:
    """Arrival / departure transport means: DE 7/5 inland mode on the one that fits the
    declaration type (arrival for imports, departure for exports)."""
    return group(
        tag,
        leaf("Name", f"transport.{prefix}_means_name", "t..35", de),
        leaf("ID", f"transport.{prefix}_means_identity", "i..35", de),
        leaf("IdentificationTypeCode", f"transport.{prefix}_means_id_type", "c..17", de),
        leaf("TypeCode", f"transport.{prefix}_means_type", "c..4", de),
        leaf("ModeCode", "transport.mode_inland", "c1:9", "7/5", when=mode_when),
    )


GOODS_ITEM = many(
    "GovernmentAgencyGoodsItem", "goods_items",
    amount("CustomsValueAmount", "customs_value", "customs_value_currency", de="4/18"),
    leaf("SequenceNumeric", "sequence", "n5,0", "1/6", required=True),
    amount("StatisticalValueAmount", "statistical_value", "statistical_value_currency",
           de="8/6", default=True),
    leaf("TransactionNatureCode", "nature_of_transaction", "c..2:9", "8/5"),
    many("AdditionalDocument", "documents",
         leaf("CategoryCode", "category", "c..3"),
         datetime("EffectiveDateTime", "effective_date"),
         leaf("ID", "reference", "i..70"),
         leaf("Name", "name", "t..35"),
         leaf("TypeCode", "type", "c..3"),
         leaf("LPCOExemptionCode", "status", "c..3"),
         group("Submitter", leaf("Name", "issuer_name", "t..70"),
               leaf("RoleCode", "issuer_role", "c..3")),
         group("WriteOff",
               measure("QuantityQuantity", "write_off_quantity", "write_off_unit", "q16,6"),
               amount("AmountAmount", "write_off_amount", "write_off_currency")),
         de="2/3"),
    many("AdditionalInformation", "additional_information",
         leaf("StatementCode", "code", "c..17"), leaf("StatementDescription", "text", "t..512"),
         leaf("StatementTypeCode", "type", "c..3"), de="2/2"),
    role_party("AEOMutualRecognitionParty", "supply_chain_actors", "3/37"),
    party("Buyer", "buyer", "3/26", contact=True, comm=True),
    group(
        "Commodity",
        leaf("Description", "description", "t..512", "6/8"),
        codec("Classification", "classification", limit=None, de="6/14",
              children=(leaf("ID", None, "i..18"), leaf("IdentificationTypeCode", None, "c..3"))),
        many("DangerousGoods", "dangerous_goods", leaf("UNDGID", "", "i..4:9"), de="6/12"),
        many("DutyTaxFee", "duty_tax_lines",
             amount("AdValoremTaxBaseAmount", "base", "base_currency", default=True),
             amount("DeductAmount", "deduction", "deduction_currency"),
             leaf("DutyRegimeCode", "^preference", "c..3", "4/17", own="preference"),
             measure("SpecificTaxBaseQuantity", "quantity_base", "quantity_base_unit", "q16,6"),
             leaf("TaxRateNumeric", "rate", "n", "4/5"),
             leaf("TypeCode", "tax_type", "c..3", "4/3"),
             leaf("QuotaOrderID", "quota", "i..17", "8/1"),
             group("Payment",
                   leaf("MethodCode", "payment_method", "c1:A", "4/8"),
                   amount("TaxAssessedAmount", "amount", "amount_currency", default=True),
                   amount("PaymentAmount", "total", "total_currency")),
             de="4/3", hook="duty"),
        group("GoodsMeasure",
              measure("GrossMassMeasure", "gross_mass", "gross_mass_unit", "m16,6", "6/5"),
              measure("NetNetWeightMeasure", "net_mass", "net_mass_unit", "m16,6", "6/1"),
              measure("TariffQuantity", "supplementary_units", "supplementary_units_unit",
                      "q16,6", "6/2")),
        group("InvoiceLine", amount("ItemChargeAmount", "item_price", "item_price_currency",
                                    de="4/14", default=True)),
        many("TransportEquipment", "equipment",
             leaf("SequenceNumeric", "sequence", "n5,0", required=True),
             leaf("ID", "id", "i..17"), de="7/10"),
    ),
    party("Consignee", "consignee", "3/9"),
    party("Consignor", "consignor", "3/7"),
    group("CustomsValuation", leaf("MethodCode", "valuation_method", "c..3", "4/16"),
          charge_deduction()),
    group("Destination", leaf("CountryCode", "country_of_destination", "c2:A", "5/8"),
          leaf("RegionID", "region_of_destination", "i..9", "5/9")),
    role_party("DomesticDutyTaxParty", "fiscal_references", "3/40"),
    group("ExportCountry", leaf("ID", "country_of_dispatch", "c2:A", "5/14")),
    codec("GovernmentProcedure", "procedure", limit=None, de="1/10",
          children=(leaf("CurrentCode", None, "c..7"), leaf("PreviousCode", None, "c..7"))),
    codec("Origin", "origin", limit=None, de="5/15",
          children=(leaf("CountryCode", None, "c..4"), leaf("RegionID", None, "i..9"),
                    leaf("TypeCode", None, "c..3"))),
    many("Packaging", "packages",
         Node("SequenceNumeric", "leaf", field="sequence", fmt="n5,0", required=True,
              index_default=True),
         leaf("MarksNumbersID", "marks", "i..512", "6/11"),
         leaf("QuantityQuantity", "number", "q8,0", "6/10"),
         leaf("TypeCode", "kind", "c..2", "6/9"),
         leaf("PackingMaterialDescription", "material", "t..256"),
         measure("LengthMeasure", "length", "length_unit", "m15,0"),
         measure("WidthMeasure", "width", "width_unit", "m15,0"),
         measure("HeightMeasure", "height", "height_unit", "m15,0"),
         measure("VolumeMeasure", "volume", "volume_unit", "m16,6"),
         de="6/9"),
    many("PreviousDocument", "previous_documents",
         leaf("CategoryCode", "category", "c..3"), leaf("ID", "reference", "i..70"),
         leaf("TypeCode", "type", "c..3"), leaf("LineNumeric", "line", "n5,0"), de="2/1"),
    party("Seller", "seller", "3/24", contact=True, comm=True),
    group("UCR", leaf("ID", "ucr_id", "i..35", "2/4"),
          leaf("TraderAssignedReferenceID", "ucr", "i..35", "2/4")),
    group("ValuationAdjustment", leaf("AdditionCode", "valuation_indicators", "c..4", "4/13")),
    limit=999, de="1/6",
)

GOODS_SHIPMENT = group(
    "GoodsShipment",
    datetime("ExitDateTime", "exit_date"),
    leaf("TransactionNatureCode", "nature_of_transaction", "c..2:9", "8/5"),
    role_party("AEOMutualRecognitionParty", "supply_chain_actors", "3/37"),
    party("Buyer", "buyer", "3/26", contact=True, comm=True),
    party("Consignee", "consignee", "3/9"),
    group(
        "Consignment",
        leaf("ContainerCode", "transport.container", "c..3", "7/2", transform="bool01"),
        means("ArrivalTransportMeans", "arrival", "7/9", "import"),
        means("DepartureTransportMeans", "departure", "7/7", "export"),
        codec("GoodsLocation", "goods_location", de="5/23", children=(
            leaf("Name", None, "t..256"), leaf("ID", None, "i..17"), leaf("TypeCode", None, "c..3"),
            group("Address", leaf("TypeCode", None, "c..3"), leaf("CityName", None, "t..35"),
                  leaf("CountryCode", None, "c2:A"), leaf("Line", None, "t..70"),
                  leaf("PostcodeID", None, "i..9")))),
        group("LoadingLocation", leaf("Name", "loading_place", "t..256", "5/21"),
              leaf("ID", "loading_place_id", "i..17", "5/21")),
        codec("TransportEquipment", "equipment", limit=None, de="7/10", children=(
            leaf("SequenceNumeric", None, "n5,0", required=True), leaf("ID", None, "i..17"),
            group("Seal", leaf("SequenceNumeric", None, "n5,0", required=True),
                  leaf("ID", None, "i..35"), limit=None))),
    ),
    party("Consignor", "shipment_consignor", "3/7"),
    group("CustomsValuation",
          amount("FreightChargeAmount", "freight_charge", "freight_charge_currency", de="4/19"),
          charge_deduction()),
    group("Destination", leaf("CountryCode", "country_of_destination", "c2:A", "5/8"),
          leaf("RegionID", "region_of_destination", "i..9", "5/9")),
    role_party("DomesticDutyTaxParty", "fiscal_references", "3/40"),
    group("ExportCountry", leaf("ID", "country_of_dispatch", "c2:A", "5/14")),
    GOODS_ITEM,
    party("Importer", "importer", "3/15", contact=True, comm=True),
    group("Invoice", leaf("ID", "invoice_number", "i..70"), datetime("IssueDateTime", "invoice_date")),
    party("Payer", "payer", "3/46"),
    many("PreviousDocument", "previous_documents",
         leaf("CategoryCode", "category", "c..3"), leaf("ID", "reference", "i..70"),
         leaf("TypeCode", "type", "c..3"), leaf("LineNumeric", "line", "n5,0"), de="2/1"),
    party("Seller", "seller", "3/24", contact=True, comm=True),
    party("Surety", "surety", "3/45"),
    one("TradeTerms", "delivery_terms",
        leaf("ConditionCode", "incoterm", "c3:A"), leaf("CountryRelationshipCode",
                                                      "country_relationship", "c..3"),
        leaf("Description", "description", "t..70"), leaf("LocationID", "place", "i..17"),
        leaf("LocationName", "place_name", "t..256"), de="4/1"),
    group("UCR", leaf("ID", "ucr_id", "i..35", "2/4"),
          leaf("TraderAssignedReferenceID", "ucr", "i..35", "2/4")),
    one("Warehouse", "warehouse", leaf("ID", "id", "i..35"), leaf("TypeCode", "type", "c..3"),
        de="2/7"),
)

DECLARATION = group(
    "Declaration",
    datetime("AcceptanceDateTime", "acceptance_date", "5/31"),
    codec("FunctionCode", "function_type", "c..2:9", required=True),
    leaf("FunctionalReferenceID", "lrn", "i..35", "2/5"),
    leaf("ID", "mrn", "i..70"),
    datetime("IssueDateTime", "issue_date", "5/4"),
    leaf("IssueLocationID", "issue_place", "i..5", "5/5"),
    codec("TypeCode", "function_type", "c..3", de="1/1"),
    measure("GoodsItemQuantity", "total_items", "total_items_unit", "q5,0", "1/9"),
    leaf("DeclarationOfficeID", "declaration_office", "i..17", "5/25"),
    amount("InvoiceAmount", "invoice_total", "invoice_currency", de="4/11"),
    measure("LoadingListQuantity", "loading_lists", "loading_lists_unit", "q5,0"),
    measure("TotalGrossMassMeasure", "total_gross_mass", "total_gross_mass_unit", "m16,6", "6/5"),
    measure("TotalPackageQuantity", "total_packages", "total_packages_unit", "q8,0", "6/18"),
    leaf("SpecificCircumstancesCodeCode", "specific_circumstances", "c..3", "1/7"),
    one("Authentication", "authentication", leaf("Authentication", "text", "t..256"),
        group("Authenticator", leaf("Name", "name", "t..70")), de="1/8"),
    party("Submitter", "submitter", "3/x"),
    many("AdditionalDocument", "additional_documents", leaf("CategoryCode", "category", "c..3"),
         leaf("ID", "reference", "i..70"), leaf("TypeCode", "type", "c..3"), de="2/6"),
    many("AdditionalInformation", "additional_information",
         leaf("StatementCode", "code", "c..17"), leaf("StatementDescription", "text", "t..512"),
         leaf("StatementTypeCode", "type", "c..3"), pointers(), de="2/2"),
    party("Agent", "representative", "3/19", status=True),
    many("Amendment", "amendments", leaf("ChangeReasonCode", "reason", "c..3"), pointers()),
    many("AuthorisationHolder", "authorisations", leaf("ID", "id", "i..17"),
         leaf("CategoryCode", "category", "c..4"), de="3/39"),
    group("BorderTransportMeans",
          leaf("Name", "transport.border_means_name", "t..35", "7/14"),
          leaf("ID", "transport.border_means_identity", "i..35", "7/14"),
          leaf("IdentificationTypeCode", "transport.border_means_id_type", "c..17", "7/14"),
          leaf("TypeCode", "transport.border_means_type", "c..4", "7/14"),
          leaf("RegistrationNationalityCode", "transport.border_means_nationality", "c2:A",
               "7/15"),
          leaf("ModeCode", "transport.mode_at_border", "c1:9", "7/4")),
    group(
        "Consignment",
        party("Carrier", "carrier", "3/31", comm=True),
        many("ConsignmentItem", "consignment_items",
             leaf("SequenceNumeric", "sequence", "n5,0", required=True),
             party("Consignor", "consignor", "3/7", typed=True),
             group("Freight", leaf("PaymentMethodCode", "freight_payment", "c..3", "4/2")),
             limit=999),
        party("Consignor", "consignor", "3/7", typed=True),
        group("Freight", leaf("PaymentMethodCode", "freight_payment", "c..3", "4/2")),
        many("Itinerary", "routing", leaf("SequenceNumeric", "sequence", "n5,0", required=True),
             leaf("RoutingCountryCode", "country", "c2:A"), de="5/18"),
    ),
    group("CurrencyExchange", leaf("CurrencyTypeCode", "exchange_currency", "c3:A", "4/15"),
          leaf("RateNumeric", "exchange_rate", "n12,5", "4/15"), limit=None),
    party("Declarant", "declarant", "3/17", contact=True, comm=True),
    group("ExitOffice", leaf("ID", "exit_office", "i..17", "5/12")),
    party("Exporter", "exporter", "3/1", contact=True, comm=True),
    GOODS_SHIPMENT,
    many("ObligationGuarantee", "guarantees",
         amount("AmountAmount", "amount", "currency"),
         leaf("ID", "reference", "i..70", "8/3"),
         leaf("ReferenceID", "other_reference", "i..35", "8/3"),
         leaf("SecurityDetailsCode", "type", "c..3", "8/2"),
         leaf("AccessCode", "access_code", "c..4", "8/3"),
         group("GuaranteeOffice", leaf("ID", "office", "i..17", "8/3")), de="8/3"),
    group("PresentationOffice", leaf("ID", "customs_office", "i..17", "5/26")),
    group("SupervisingOffice", leaf("ID", "supervising_office", "i..17", "5/27")),
)


@dataclass
class SpecIndex:
    """Element paths (local names from ``Declaration``) to their node: for the canonical
    comparison's schema order and the structural check."""

    nodes: dict[tuple[str, ...], Node] = field(default_factory=dict)

    @classmethod
    def build(cls, root: Node) -> SpecIndex:
        out = cls()

        def walk(node: Node, path: tuple[str, ...]) -> None:
            out.nodes[path] = node
            for c in node.children:
                walk(c, path + (c.tag,))

        walk(root, (root.tag,))
        return out


INDEX = SpecIndex.build(DECLARATION)
