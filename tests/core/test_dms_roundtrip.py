"""Lossless DEC-DMS (#18): import then export gives the original back, after exclusive C14N.

Whitespace, comments, namespace prefixes and the schema's order of differently named
elements aside, the export of an imported declaration is the declaration that came in:
every published original maps completely (nothing unmapped), and what the model cannot
hold travels verbatim in its place.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from client.common.i18n import ComptoirError
from client.declaration.model import Declaration
from client.interchange.dms import export_dms, import_dms_bytes, validate_dms
from client.interchange.dms.canonical import canonical, differences

SAMPLES = "hmrc-dms/samples"


def _declarations(conformance: Path) -> dict[str, tuple[bytes, object]]:
    out = {}
    for f in sorted((conformance / SAMPLES).glob("*.xml")):
        data = f.read_bytes()
        try:
            imp = import_dms_bytes(data, f.name)
        except ComptoirError:
            continue
        if imp.declaration is not None:
            out[f.name] = (data, imp)
    return out


def test_every_original_roundtrips_equal_after_canonicalisation(conformance: Path) -> None:
    schema_dir = conformance / "hmrc-dms" / "schemas" / "declaration"
    found = _declarations(conformance)
    originals = {n: v for n, v in found.items() if v[1].kind == "declaration"}
    assert len(originals) == 32
    for name, (data, imp) in found.items():
        xml = export_dms(imp.declaration)
        assert canonical(xml) == canonical(data), (name, differences(data, xml)[:5])
        assert validate_dms(xml, schema_dir) == [], name
        assert [d.kind for d in imp.report()] == ["dropped"] * len(imp.dropped), name
        if imp.kind == "declaration":
            assert imp.unmapped == [], name


def test_the_canonical_form_ignores_only_what_it_should(conformance: Path) -> None:
    data = (conformance / SAMPLES / "TT_IM001a__Step1_TT_IM001a.xml").read_bytes()
    root = etree.fromstring(data)
    # other prefixes, no comments, no indentation: the same declaration
    plain = etree.tostring(root, method="c14n", with_comments=False)
    plain = plain.replace(b"<md:", b"<m:").replace(b"</md:", b"</m:").replace(
        b"xmlns:md=", b"xmlns:m=")
    assert canonical(plain) == canonical(data)
    # a value changed is a difference, and says where
    changed = data.replace(b"<NetNetWeightMeasure>100<", b"<NetNetWeightMeasure>101<")
    diffs = differences(data, changed)
    assert [(d.kind, d.before, d.after) for d in diffs] == [("changed", "100", "101")]
    assert diffs[0].path.endswith("/Commodity/GoodsMeasure/NetNetWeightMeasure")
    # same-named siblings in another order are a difference (the order is data)
    first = data.index(b"<AuthorisationHolder>")
    second = data.index(b"<AuthorisationHolder>", first + 1)
    end = data.index(b"</AuthorisationHolder>", second) + len(b"</AuthorisationHolder>")
    a_end = data.index(b"</AuthorisationHolder>", first) + len(b"</AuthorisationHolder>")
    swapped = data[:first] + data[second:end] + data[a_end:second] + data[first:a_end] \
        + data[end:]
    assert [d.kind for d in differences(data, swapped)] == ["reordered"]


def _with(data: bytes, before: bytes, insert: bytes) -> bytes:
    at = data.index(before)
    return data[:at] + insert + data[at:]


def test_what_the_model_cannot_hold_goes_back_in_place(conformance: Path) -> None:
    data = (conformance / SAMPLES / "TT_IM001a__Step1_TT_IM001a.xml").read_bytes()
    odd = _with(data, b"<Declarant>", b"<FutureElement><Code>X1</Code></FutureElement>")
    odd = _with(odd, b"<CustomsValuation>", b"<Mystery a='1'>m</Mystery>")
    odd = odd.replace(b"<TypeCode>DAN</TypeCode>",
                      b'<TypeCode listID="CDS-DOC" listAgencyID="5">DAN</TypeCode>')
    odd = odd.replace(b"<ID>GB603202734852</ID>",
                      b"<ID>GB603202734852</ID><ID>GB000000000000</ID>", 1)
    imp = import_dms_bytes(odd, "odd.xml", lenient=True)  # two unknown elements, two IDs
    assert sorted(e.message.code for e in imp.schema_errors) == [
        "dms.schema.too_many", "dms.schema.unknown", "dms.schema.unknown"]
    assert sorted(imp.unmapped) == sorted([
        "/MetaData/Declaration/FutureElement/Code",
        "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem/Mystery",
        "/MetaData/Declaration/GoodsShipment/GovernmentAgencyGoodsItem/Mystery/@a",
        "/MetaData/Declaration/AdditionalDocument/TypeCode/@listID",
        "/MetaData/Declaration/AdditionalDocument/TypeCode/@listAgencyID",
        "/MetaData/Declaration/Declarant/ID[2]",
    ])
    d = imp.declaration
    assert d.additional_documents[0].type == "DAN"  # mapped all the same
    assert d.declarant.id == "GB603202734852"
    assert canonical(export_dms(d)) == canonical(odd)
    # through the store's JSON form and an edit: still there, the edit applied
    again = Declaration.model_validate_json(d.model_dump_json())
    again.goods_items[0].description = "Shaver parts"
    xml = export_dms(again)
    diffs = differences(odd, xml)
    assert [(x.kind, x.after) for x in diffs] == [("changed", "Shaver parts")]
    assert b"<FutureElement>" in xml and b'listID="CDS-DOC"' in xml


def test_numbers_keep_how_they_were_written_and_hints_are_reported(conformance: Path) -> None:
    data = (conformance / SAMPLES / "TT_IM001a__Step1_TT_IM001a.xml").read_bytes()
    padded = data.replace(b"<TotalPackageQuantity>50<", b"<TotalPackageQuantity>050<")
    imp = import_dms_bytes(padded, "padded.xml")
    assert imp.declaration.total_packages == 50 and imp.unmapped == []
    assert b"<TotalPackageQuantity>050</TotalPackageQuantity>" in export_dms(imp.declaration)
    assert sorted((r.kind, r.path) for r in imp.report()) == [
        ("dropped", "/MetaData/@schemaLocation"),
        ("dropped", "/MetaData/Declaration/@schemaLocation")]
    # a value changed is written plainly
    imp.declaration.total_packages = 51
    assert b"<TotalPackageQuantity>51</TotalPackageQuantity>" in export_dms(imp.declaration)


def test_amounts_keep_their_own_currency(conformance: Path) -> None:
    data = (conformance / SAMPLES / "TT_IM001a__Step1_TT_IM001a.xml").read_bytes()
    usd = data.replace(b'<ItemChargeAmount currencyID="GBP">1000<',
                       b'<ItemChargeAmount currencyID="USD">1000<')
    usd = usd.replace(b"<TotalPackageQuantity>", b'<InvoiceAmount currencyID="GBP">800'
                      b"</InvoiceAmount><TotalPackageQuantity>")
    imp = import_dms_bytes(usd, "usd.xml")
    item = imp.declaration.goods_items[0]
    assert (item.item_price, item.item_price_currency) == (Decimal("1000"), "USD")
    assert canonical(export_dms(imp.declaration)) == canonical(usd)
    bare = data.replace(b'<ItemChargeAmount currencyID="GBP">', b"<ItemChargeAmount>")
    bare = bare.replace(b"<TotalPackageQuantity>", b'<InvoiceAmount currencyID="GBP">1000'
                        b"</InvoiceAmount><TotalPackageQuantity>")
    imp = import_dms_bytes(bare, "bare.xml")
    assert imp.declaration.invoice_currency == "GBP"
    # the amount had no currency of its own: it does not get the invoice's on the way out
    assert canonical(export_dms(imp.declaration)) == canonical(bare)


def test_a_built_declaration_gets_the_invoice_currency_on_its_amounts() -> None:
    decl = Declaration(lrn="B1", type="IM", invoice_currency="EUR",
                       goods_items=[{"sequence": 1, "item_price": "10"}])
    xml = export_dms(decl)
    assert b'<ItemChargeAmount currencyID="EUR">10</ItemChargeAmount>' in xml


@pytest.mark.parametrize("name", ["TT_IM004a__TT_IM004a.xml", "TT_IM006a__TT_IM006a.xml"])
def test_shapes_the_model_folds_keep_their_order(conformance: Path, name: str) -> None:
    """Preferential origin before the other (IM004a), DE 4/17 on a second duty line
    with a quota (IM006a): folded into the model's fields, written back as they were."""
    data = (conformance / SAMPLES / name).read_bytes()
    imp = import_dms_bytes(data, name)
    assert imp.unmapped == []
    assert canonical(export_dms(imp.declaration)) == canonical(data)
    if name.startswith("TT_IM006a"):
        lines = imp.declaration.goods_items[0].duty_tax_lines
        assert [(ln.preference, ln.quota) for ln in lines] == [(None, None), ("120", "094067")]


@pytest.mark.parametrize(("name", "pattern", "after"), [
    # a required SequenceNumeric missing: not made up on the way out
    ("TT_IM005a__TT_IM005a.xml", rb"(<Packaging>\s*)<SequenceNumeric>1</SequenceNumeric>",
     rb"\1"),
    # ... nor replaced when it is no number
    ("TT_IM005a__TT_IM005a.xml", rb"(<Packaging>\s*<SequenceNumeric>)1<", rb"\1one<"),
    # a type code the model cannot fold (an attribute on it) is not replaced by a default
    ("TT_IM005a__TT_IM005a.xml", rb"<TypeCode>IMJ</TypeCode>",
     rb'<TypeCode colour="red">IMJ</TypeCode>'),
    ("TT_IM005a__TT_IM005a.xml", rb"<FunctionCode>9</FunctionCode>",
     rb'<FunctionCode colour="red">9</FunctionCode>'),
    # ... an export's type is still known (DE 7/5 stays on the departure means)
    ("TT_EX010a__TT_EX010a.xml", rb"<TypeCode>EXA</TypeCode>",
     rb'<TypeCode colour="red">EXA</TypeCode>'),
    # ... and an amendment stays one
    ("TT_IM003a__TT_IM003a_Amendment_(Step_3).xml", rb"<FunctionCode>13</FunctionCode>",
     rb'<FunctionCode colour="red">13</FunctionCode>'),
    # a seal number longer than the model holds: the container is kept as it came
    ("TT_EX009a__TT_EX009a.xml", rb"<ID>2589793487</ID>", b"<ID>" + b"7" * 60 + b"</ID>"),
])
def test_damaged_shapes_still_go_back_as_they_came(conformance: Path, name: str,
                                                   pattern: bytes, after: bytes) -> None:
    import re

    data = (conformance / SAMPLES / name).read_bytes()
    damaged, n = re.subn(pattern, after, data, count=1)
    assert n == 1
    imp = import_dms_bytes(damaged, name, lenient=True)
    assert imp.schema_errors
    assert differences(damaged, export_dms(imp.declaration)) == []


def test_a_kept_element_is_never_dropped_on_export() -> None:
    """Even one whose place the profile does not know (an edited JSON form)."""
    decl = Declaration.model_validate({
        "lrn": "K1", "exporter": {"name": "X", "dms": {"carried": [
            {"parent": "Nowhere/Known", "xml": '<Odd xmlns="urn:x">1</Odd>'}]}},
        "dms": {"carried": [{"parent": "^", "position": 9, "xml": "<Extra>2</Extra>"}]}})
    xml = export_dms(decl)
    root = etree.fromstring(xml)
    assert etree.QName(root[-1]).localname == "Extra"  # beside the declaration
    exporter = next(e for e in root.iter() if etree.QName(e).localname == "Exporter")
    assert [etree.QName(c).localname for c in exporter] == ["Name", "Odd"]
