"""Export to WCO DEC-DMS 2: schema-valid, and import -> export -> import is lossless."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from client.common.i18n import ComptoirError
from client.declaration.model import Declaration, GoodsItem, Party
from client.interchange.dms import export_dms, import_dms_bytes, import_dms_file, validate_dms


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


def _party(n: int) -> dict:
    return {
        "id": f"GB{n:012d}",
        "name": f"Trader {n}",
        "address": {
            "street": "1 Rue de la Paix",
            "city": "Lyon",
            "postcode": "69001",
            "country": "FR",
        },
    }


@pytest.mark.parametrize("decl_type", ["IM", "EX"])
def test_every_model_field_exports_validly_and_comes_back(
    conformance: Path, decl_type: str
) -> None:
    schema_dir = conformance / "hmrc-dms" / "schemas" / "declaration"
    D = Decimal
    decl = Declaration.model_validate(
        dict(
            lrn="FULL-1",
            ucr="UCR-77",
            type=decl_type,
            additional_type="A",
            declarant=_party(1),
            exporter=_party(2),
            consignee=_party(3),
            importer=_party(4),
            representative={**_party(5), "status": "2"},
            seller=_party(6),
            buyer=_party(7),
            customs_office="GB000060",
            exit_office="GB000041",
            supervising_office="GB000052",
            goods_location="GBAUFXTFXTFXT",
            country_of_dispatch="CN",
            country_of_destination="GB",
            delivery_terms={"incoterm": "FOB", "place": "CNSHA"},
            invoice_currency="USD",
            invoice_total=D("1000.50"),
            exchange_rate=D("0.78"),
            nature_of_transaction="11",
            transport={
                "mode_at_border": "1",
                "mode_inland": "3",
                "container": False,
                "equipment_numbers": ["ABCU1234567"],
                "border_means_identity": "SHIP",
                "border_means_nationality": "PA",
                "departure_means_identity": "TRUCK",
            },
            previous_documents=[
                {"category": "Z", "type": "355", "reference": "24GB34F7Y1O2CX8PT4", "line": "1"}
            ],
            additional_documents=[{"category": "1", "type": "DAN", "reference": "1108654"}],
            total_items=2,
            total_packages=5,
            total_gross_mass=D("55.5"),
            goods_items=[
                dict(
                    sequence=1,
                    description="Toys",
                    commodity_code="9503007000",
                    additional_codes=["4099"],
                    country_of_origin="CN",
                    preferential_origin="CN",
                    preference="100",
                    procedure_code="4000",
                    additional_procedure_codes=["000"],
                    packages=[{"kind": "CT", "number": 5, "marks": "M"}],
                    gross_mass=D("55.5"),
                    net_mass=D("50"),
                    supplementary_units=D("100"),
                    item_price=D("1000.50"),
                    valuation_method="1",
                    statistical_value=D("780"),
                    documents=[
                        {"category": "N", "type": "935", "reference": "INV1", "status": "AC"}
                    ],
                    previous_documents=[
                        {"category": "Y", "type": "CLE", "reference": "20240101", "line": "1"}
                    ],
                    duty_tax_lines=[
                        {
                            "tax_type": "A00",
                            "base": D("780"),
                            "rate": D("4.7"),
                            "amount": D("36.66"),
                            "payment_method": "E",
                        }
                    ],
                ),
                dict(sequence=2, description="Dolls", commodity_code="950300", procedure_code="10"),
            ],
        )
    )
    xml = export_dms(decl)
    assert validate_dms(xml, schema_dir) == []
    back = import_dms_bytes(xml, "full.xml")
    assert back.unmapped == []
    assert back.declaration.model_dump(exclude={"id"}) == decl.model_dump(exclude={"id"})


@pytest.mark.parametrize("function", ["amendment", "cancellation"])
def test_function_codes(function: str) -> None:
    xml = export_dms(Declaration(function=function, lrn="L", mrn="24GBA4ZYBWXU1BSA00"))
    assert b"<FunctionCode>13</FunctionCode>" in xml
    assert (b"<TypeCode>INV</TypeCode>" in xml) == (function == "cancellation")
    assert import_dms_bytes(xml, "x").kind == function
