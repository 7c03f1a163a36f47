"""Export to WCO DEC-DMS 2: schema-valid, and import -> export -> import is lossless."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from client.dms import export_dms, import_dms_bytes, import_dms_file, validate_dms
from client.i18n import ComptoirError
from client.model import Declaration, GoodsItem, Party


def _importable(conformance: Path) -> list[Path]:
    out = []
    for f in sorted((conformance / "hmrc-dms" / "samples").glob("*.xml")):
        try:
            imp = import_dms_file(f)
        except ComptoirError:
            continue
        if imp.declaration is not None:
            out.append(f)
    return out


def test_every_sample_roundtrips_and_validates(conformance: Path) -> None:
    schema_dir = conformance / "hmrc-dms" / "schemas" / "declaration"
    files = _importable(conformance)
    assert len(files) == 43  # 32 originals, 8 amendments, 2 cancellations, 1 unwrapped
    for f in files:
        first = import_dms_file(f).declaration
        xml = export_dms(first)
        assert validate_dms(xml, schema_dir) == [], f.name
        second = import_dms_bytes(xml, "export.xml")
        a, b = first.model_dump(exclude={"id"}), second.declaration.model_dump(exclude={"id"})
        for name in Declaration.model_fields:
            if name != "id":
                assert a[name] == b[name], f"{f.name}: {name}"
        assert second.unmapped == [], f.name  # everything we write, we read back


def test_schema_valid_original_samples_validate_as_published(conformance: Path) -> None:
    schema_dir = conformance / "hmrc-dms" / "schemas" / "declaration"
    f = conformance / "hmrc-dms/samples/TT_IM001a__Step1_TT_IM001a.xml"
    assert validate_dms(f.read_bytes(), schema_dir) == []


def test_validate_reports_errors(conformance: Path) -> None:
    schema_dir = conformance / "hmrc-dms" / "schemas" / "declaration"
    xml = export_dms(Declaration(lrn="L1", type="EX", additional_type="D"))
    assert validate_dms(xml, schema_dir) == []
    bad = xml.replace(b"<FunctionalReferenceID>L1<", b"<FunctionalReferenceID>" + b"X" * 40 + b"<")
    errors = validate_dms(bad, schema_dir)
    assert errors and "FunctionalReferenceID" in errors[0] and errors[0].startswith("line ")


def test_export_of_a_built_declaration(conformance: Path) -> None:
    schema_dir = conformance / "hmrc-dms" / "schemas" / "declaration"
    decl = Declaration(
        lrn="BUILT-1",
        type="EX",
        additional_type="D",
        invoice_currency="EUR",
        invoice_total=Decimal("99.5"),
        declarant=Party(id="FR12345678901234"),
        goods_location="GBAUFXTFXTFXT",
        transport={"mode_inland": "3", "mode_at_border": "1"},
        goods_items=[
            GoodsItem(
                sequence=1,
                description="Wine",
                commodity_code="2204210000",
                additional_codes=["VAT1"],
                preferential_origin="FR",
                country_of_origin="FR",
                procedure_code="1040",
                item_price=Decimal("99.5"),
                preference="300",
                packages=[{"kind": "CT", "number": 2}],
            )
        ],
    )
    xml = export_dms(decl)
    assert validate_dms(xml, schema_dir) == []
    back = import_dms_bytes(xml, "x").declaration
    assert back.model_dump(exclude={"id"}) == decl.model_dump(exclude={"id"})
    assert b"<DepartureTransportMeans>" in xml  # DE 7/5 on the departure means for exports


@pytest.mark.parametrize("function", ["amendment", "cancellation"])
def test_function_codes(function: str) -> None:
    xml = export_dms(Declaration(function=function, lrn="L", mrn="24GBA4ZYBWXU1BSA00"))
    assert b"<FunctionCode>13</FunctionCode>" in xml
    assert (b"<TypeCode>INV</TypeCode>" in xml) == (function == "cancellation")
    assert import_dms_bytes(xml, "x").kind == function
