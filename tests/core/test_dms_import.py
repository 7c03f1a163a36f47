"""WCO DMS import over the published HMRC samples and small own fixtures."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from client.common.i18n import ComptoirError
from client.interchange.dms import import_dms_bytes, import_dms_file

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "interchange"


def _samples(conformance: Path) -> list[Path]:
    files = sorted((conformance / "hmrc-dms" / "samples").glob("*.xml"))
    assert len(files) == 48
    return files


def test_every_sample_is_classified(conformance: Path) -> None:
    kinds: dict[str, list[str]] = {}
    malformed = []
    for f in _samples(conformance):
        try:
            imp = import_dms_file(f)
        except ComptoirError as exc:
            assert exc.code == "xml.malformed"
            assert exc.exit_code == 2
            assert exc.message.params["line"] > 0 and exc.message.params["column"] > 0
            assert (
                "--" in exc.message.params["reason"]
                or "double-hyphen" in exc.message.params["reason"]
            )
            malformed.append(f.name)
            continue
        kinds.setdefault(imp.kind, []).append(f.name)
        assert imp.original == f.read_bytes()
        assert imp.message.render("en") and imp.message.render("fr")
    assert malformed == ["TT_EX002a__TT_EX002a.xml"]
    assert len(kinds["declaration"]) == 32
    assert len(kinds["amendment"]) == 8
    assert len(kinds["cancellation"]) == 2
    assert len(kinds["notification"]) == 4
    assert kinds["wrapped"] == ["TT_EX013b__TT_EX013b.xml"]
    assert "unknown" not in kinds


def test_originals_map_the_header_and_items(conformance: Path) -> None:
    imp = import_dms_file(conformance / "hmrc-dms/samples/TT_IM001a__Step1_TT_IM001a.xml")
    d = imp.declaration
    assert imp.kind == "declaration" and imp.function_code == "9"
    assert d is not None and d.function == "original"
    assert (d.lrn, d.type, d.additional_type) == ("7847767E1WB6", "IM", "A")
    assert d.total_items == 1 and d.total_packages == 50
    assert d.declarant.id == "GB603202734852"
    assert d.representative.status == "2"
    assert d.exporter.name == "US Clipper Inc." and d.exporter.address.city == "New York"
    assert d.importer.id == "GB553202734852"
    assert d.goods_location == "GBAUWLALONBTW"
    assert d.country_of_destination == "GB" and d.country_of_dispatch == "US"
    assert d.delivery_terms.incoterm == "CIF" and d.delivery_terms.place == "GBWLA"
    assert d.nature_of_transaction == "1"
    assert d.transport.mode_at_border == "1" and d.transport.border_means_nationality == "US"
    assert d.transport.container is True and d.transport.equipment_numbers == ["AD12345"]
    assert [p.reference for p in d.previous_documents] == [
        "4GB553202734852-12345",
        "24GB34F7Y1O2CX8PT4",
    ]
    assert d.additional_documents[0].type == "DAN"
    item = d.goods_items[0]
    assert item.commodity_code == "8510900000"
    assert item.procedure_code == "4000" and item.additional_procedure_codes == ["000"]
    assert item.country_of_origin == "US"
    assert item.gross_mass == Decimal("150") and item.net_mass == Decimal("100")
    assert item.item_price == Decimal("1000") and d.invoice_currency == "GBP"
    assert item.valuation_method == "1" and item.preference == "100"
    assert [(t.tax_type, t.payment_method) for t in item.duty_tax_lines] == [
        ("A00", "E"),
        ("B00", "E"),
    ]
    assert item.packages[0].kind == "BX" and item.packages[0].number == 50
    assert [doc.category + doc.type for doc in item.documents] == ["C506", "N935", "C505"]
    assert item.documents[1].status == "AC"
    # The elements the model did not hold before (#18): all mapped now, with their DE.
    assert imp.unmapped == []
    assert [(a.id, a.category) for a in d.authorisations] == [
        ("GB553202734852", "CGU"), ("GB553202734852", "DPO")]  # DE 3/39
    assert item.valuation_indicators == "0000"  # DE 4/13
    assert [(g.type, g.reference) for g in d.guarantees][0][0] == "1"  # DE 8/2
    assert d.transport.arrival_means_identity == "12345"  # DE 7/9
    assert d.transport.arrival_means_id_type == "10"
    assert item.item_price_currency is None  # the invoice currency (DE 4/10): GBP


def test_amendment_and_cancellation(conformance: Path) -> None:
    am = import_dms_file(conformance / "hmrc-dms/samples/TT_IM011a__TT_IM011a_Amendment.xml")
    assert am.kind == "amendment" and am.function_code == "13"
    assert am.declaration.function == "amendment"
    assert am.declaration.mrn == "24GBA4ZYBWXU1BSA00"
    assert am.unmapped == []
    change = am.declaration.amendments[0]
    assert change.reason == "28"
    assert [(p.section, p.tag) for p in change.pointers][-1] == ("65A", "128")
    assert am.declaration.goods_items[0].net_mass == Decimal("62")
    assert am.declaration.goods_items[0].net_mass_unit == "KGM"
    cancel = import_dms_file(conformance / "hmrc-dms/samples/TT_IM011a__TT_IM011a_Cancellation.xml")
    assert cancel.kind == "cancellation"
    d = cancel.declaration
    assert (
        d.function == "cancellation" and d.mrn == "24GBA4ZYBWXU1BSA00" and d.lrn == "7849431M0ZUP"
    )
    assert d.submitter.id == "GB427168118378"  # the requester of the cancellation
    assert cancel.unmapped == []
    assert d.additional_information[0].text


def test_notification_sample_is_not_imported(conformance: Path) -> None:
    imp = import_dms_file(conformance / "hmrc-dms/samples/TT_IM008a__04_DMSCLE.xml")
    assert imp.kind == "notification" and imp.declaration is None and not imp.importable
    assert imp.notification[0].status == "cleared"


def test_wrapped_declaration_is_unwrapped(conformance: Path) -> None:
    imp = import_dms_file(conformance / "hmrc-dms/samples/TT_EX013b__TT_EX013b.xml")
    assert imp.kind == "wrapped" and imp.importable
    assert imp.declaration.lrn == "U.78494313RFYI" and imp.declaration.type == "EX"
    assert len(imp.declaration.goods_items) == 2
    assert "/submitDeclarationRequest/requestCommon/conversationID" in imp.unmapped
    assert "submitDeclarationRequest" in imp.message.render("en")


def test_unknown_document_is_refused_with_a_message() -> None:
    imp = import_dms_bytes(b"<invoice><total>3</total></invoice>", "inv.xml")
    assert imp.kind == "unknown" and imp.declaration is None
    assert "invoice" in imp.message.render("en")
    odd = import_dms_bytes(
        b"<MetaData><Declaration><FunctionCode>42</FunctionCode></Declaration></MetaData>", "f.xml"
    )  # not a function code: told apart before any schema check
    assert odd.kind == "unknown" and odd.function_code == "42"


def test_own_fixture_and_attack_files() -> None:
    imp = import_dms_file(FIX / "minimal_im.xml")
    d = imp.declaration
    assert (d.type, d.additional_type, d.invoice_currency, d.invoice_total) == (
        "IM",
        "Z",
        "EUR",
        Decimal("1250.50"),
    )
    assert d.goods_items[0].commodity_code == "6912001000"
    assert imp.unmapped == []
    assert (d.warehouse.id, d.warehouse.type) == ("1234567GB", "R")  # DE 2/7
    assert d.goods_items[0].valuation_indicators == "0000"  # DE 4/13
    for name in ("billion_laughs.xml", "external_entity.xml"):
        with pytest.raises(ComptoirError) as info:
            import_dms_file(FIX / name)
        assert info.value.code == "xml.doctype_refused" and info.value.exit_code == 2


def test_value_out_of_model_bounds_is_kept_verbatim_and_listed() -> None:
    """A schema-valid value the model refuses (5000 items > its 999) is not a reason to
    refuse the file: it stays in the declaration verbatim, listed, and goes back out."""
    from client.interchange.dms import export_dms
    from client.interchange.dms.canonical import canonical

    xml = (
        (FIX / "minimal_im.xml")
        .read_bytes()
        .replace(b"<GoodsItemQuantity>1<", b"<GoodsItemQuantity>5000<")
    )
    imp = import_dms_bytes(xml, "big.xml")
    assert imp.declaration.total_items is None
    assert imp.unmapped == ["/MetaData/Declaration/GoodsItemQuantity"]
    assert imp.refused and imp.refused[0][0] == "/MetaData/Declaration/GoodsItemQuantity"
    assert canonical(export_dms(imp.declaration)) == canonical(xml)


def test_items_beyond_the_schema_limit_are_kept_not_dropped() -> None:
    item = b"<GovernmentAgencyGoodsItem><SequenceNumeric>1</SequenceNumeric>" \
        b"</GovernmentAgencyGoodsItem>"
    imp = import_dms_bytes(b"<MetaData><Declaration><FunctionCode>9</FunctionCode>"
                           b"<TypeCode>IMA</TypeCode><GoodsShipment>" + item * 1000
                           + b"</GoodsShipment></Declaration></MetaData>", "many.xml",
                           lenient=True)
    assert len(imp.declaration.goods_items) == 999
    assert imp.unmapped == [
        "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem[1000]/SequenceNumeric"]


def test_every_original_maps_every_element(conformance: Path) -> None:
    counts = {}
    for f in _samples(conformance):
        try:
            imp = import_dms_bytes(f.read_bytes(), f.name)
        except ComptoirError:
            continue
        if imp.kind == "declaration":
            counts[f.name] = len(imp.unmapped)
    assert len(counts) == 32
    assert counts == {name: 0 for name in counts}


# Leaves whose value is re-encoded rather than copied (codes turned into structure).
_RE_ENCODED = {"FunctionCode", "SequenceNumeric", "IdentificationTypeCode", "ContainerCode"}


def _values(obj: object) -> list[str]:
    if isinstance(obj, dict):
        return [v for x in obj.values() for v in _values(x)]
    if isinstance(obj, list):
        return [v for x in obj for v in _values(x)]
    return [str(obj)] if obj is not None else []


def test_nothing_is_dropped_silently(conformance: Path) -> None:
    """Every data leaf is either listed as unmapped or its value is in the declaration."""
    from lxml import etree

    for f in _samples(conformance):
        try:
            imp = import_dms_file(f)
        except ComptoirError:
            continue
        if imp.declaration is None:
            continue
        values = _values(imp.declaration.model_dump(mode="json", exclude={"id"}))
        joined = "\n".join(values)
        unmapped = set(imp.unmapped)
        root = etree.fromstring(imp.original)
        tree = root.getroottree()
        for el in root.iter():
            if not isinstance(el.tag, str) or len([c for c in el if isinstance(c.tag, str)]):
                continue
            name = etree.QName(el).localname
            text = (el.text or "").strip()
            if (
                not text
                or name in _RE_ENCODED
                or etree.QName(el).namespace
                and "DocumentMetaData" in etree.QName(el).namespace
            ):
                continue
            path = _path(el)
            if path in unmapped:
                continue
            if name == "TypeCode" and etree.QName(el.getparent()).localname == "Declaration":
                assert text in ("COR", "INV") or joined.find(text[:2]) >= 0, (f.name, path)
                continue
            if name == "TypeCode" and etree.QName(el.getparent()).localname == "Origin":
                continue  # 1 non-preferential / 2 preferential: which field it lands in
            assert text in values or text in joined, (f.name, path, text, tree.getpath(el))


def _path(el) -> str:
    from lxml import etree

    steps = []
    while el is not None:
        name = etree.QName(el).localname
        parent = el.getparent()
        if parent is not None:
            same = [
                c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name
            ]
            if len(same) > 1:
                name += f"[{same.index(el) + 1}]"
        steps.append(name)
        el = parent
    return "/" + "/".join(reversed(steps))


def test_unknown_type_codes_are_listed_not_swallowed() -> None:
    am = import_dms_bytes(
        b"<MetaData><Declaration><FunctionCode>13</FunctionCode><ID>X</ID>"
        b"<TypeCode>ZZZ</TypeCode></Declaration></MetaData>",
        "a.xml",
        lenient=True,
    )
    assert am.kind == "amendment" and am.unmapped == ["/MetaData/Declaration/TypeCode"]
    orig = import_dms_bytes(
        b"<MetaData><Declaration><FunctionCode>9</FunctionCode>"
        b"<TypeCode>ZZZ</TypeCode></Declaration></MetaData>",
        "b.xml",
        lenient=True,
    )
    assert orig.unmapped == ["/MetaData/Declaration/TypeCode"]
