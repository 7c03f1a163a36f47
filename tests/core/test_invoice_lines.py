"""Invoice lines from CSV / XLSX into goods items."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from client.common.i18n import ComptoirError
from client.declaration.model import Declaration, GoodsItem
from client.interchange.invoice_lines import (
    MappingMemory,
    apply_to_declaration,
    parse_number,
    preview,
    read_invoice_table,
    suggest_mapping,
)

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "interchange"


def test_french_latin1_semicolon_csv() -> None:
    table = read_invoice_table(FIX / "fournisseur_fr_latin1.csv")
    assert table.columns[0] == "Désignation" and table.decimal_comma is True
    mapping = suggest_mapping(table.columns)
    assert mapping == {
        "description": "Désignation",
        "commodity_code": "Code NC",
        "country_of_origin": "Origine",
        "packages": "Nb colis",
        "package_kind": "Type de colis",
        "gross_mass": "Poids brut (kg)",
        "net_mass": "Poids net (kg)",
        "item_price": "Montant",
    }
    p = preview(table, mapping)
    assert [it.commodity_code for it in p.items] == ["69120010", "70132810"]
    first = p.items[0]
    assert first.description == "Assiettes en faïence"
    assert (first.gross_mass, first.net_mass, first.item_price) == (
        Decimal("12.5"),
        Decimal("10"),
        Decimal("1250.50"),
    )
    assert first.packages[0].kind == "CT" and first.packages[0].number == 3
    assert p.item_rows == [2, 3]
    # Row 4 lacks a description, row 5 has a non-numeric package count: both reported.
    assert [(row, m.code) for row, m in p.row_errors] == [
        (4, "invoice.missing_description"),
        (5, "invoice.bad_number"),
    ]
    assert "Row 5" in p.row_errors[1][1].render("en") and "deux" in p.row_errors[1][1].render("en")
    assert "Ligne 4" in p.row_errors[0][1].render("fr")


def test_english_utf8_bom_comma_csv() -> None:
    table = read_invoice_table(FIX / "supplier_en_bom.csv")
    assert table.columns[0] == "Description"  # BOM gone
    p = preview(table, suggest_mapping(table.columns))
    assert p.row_errors == []
    assert p.items[0].gross_mass == Decimal("1250.5") and p.items[0].item_price == Decimal(
        "2400.00"
    )
    assert p.items[1].commodity_code == "7318159590"


def test_xlsx(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(
        ["Item description", "Commodity code", "Origin", "Qty", "Gross mass", "Net mass", "Value"]
    )
    ws.append(["Bicycles", 87120030, "TW", 4, 58.4, 50, 1999.99])
    ws.append(["Pumps", "8413200000", "tw", 1, -1, 0.5, 12])
    ws.append([None, None, None, None, None, None, None])
    path = tmp_path / "lines.xlsx"
    wb.save(path)
    table = read_invoice_table(path)
    assert len(table.rows) == 2
    mapping = suggest_mapping(table.columns)
    assert mapping["packages"] == "Qty" and mapping["item_price"] == "Value"
    p = preview(table, mapping)
    assert p.items[0].commodity_code == "87120030" and p.items[0].gross_mass == Decimal("58.4")
    assert [(r, m.code) for r, m in p.row_errors] == [(3, "invoice.negative_number")]


def test_bounds(tmp_path: Path, bytes_read: Callable[[], int]) -> None:
    many = tmp_path / "many.csv"
    many.write_text("description;mass\n" + "x;1\n" * 20)
    with pytest.raises(ComptoirError) as info:
        read_invoice_table(many, max_rows=10)
    assert info.value.code == "invoice.too_many_rows"
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:
        fh.truncate(200 << 20)
    before = bytes_read()
    with pytest.raises(ComptoirError) as info:
        read_invoice_table(big)
    assert info.value.code == "invoice.too_large"
    assert bytes_read() - before < 1 << 20  # refused on its size, never read
    with pytest.raises(ComptoirError) as info:
        read_invoice_table(tmp_path / "x.pdf")
    assert info.value.code == "invoice.unsupported_format"
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ComptoirError) as info:
        read_invoice_table(broken)
    assert info.value.code == "invoice.unreadable" and info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "comma", "expected"),
    [
        ("1 234,56", True, "1234.56"),
        ("1,234.56", None, "1234.56"),
        ("1.234,56", True, "1234.56"),
        ("12,5", None, "12.5"),
        ("1,234", False, "1234"),
        ("1,234", True, "1.234"),
        ("1.234.567", True, "1234567"),
        ("€12.50", None, "12.50"),
        ("3 kg", None, "3"),
    ],
)
def test_parse_number(text: str, comma: bool | None, expected: str) -> None:
    assert parse_number(text, comma) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "abc", "1,2,3", "NaN", "inf"])
def test_parse_number_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


def test_apply_appends_contiguously_and_updates_totals() -> None:
    decl = Declaration(
        goods_items=[
            GoodsItem(
                sequence=7, description="old", gross_mass=Decimal("1"), packages=[{"number": 2}]
            )
        ]
    )
    table = read_invoice_table(FIX / "supplier_en_bom.csv")
    items = preview(table, suggest_mapping(table.columns)).items
    out = apply_to_declaration(decl, items)
    assert [it.sequence for it in out.goods_items] == [1, 2, 3]
    assert out.total_items == 3 and out.total_packages == 17
    assert out.total_gross_mass == Decimal("1551.5")
    assert decl.goods_items[0].sequence == 7  # the input is not modified
    with pytest.raises(ComptoirError):
        apply_to_declaration(decl, [GoodsItem(description="x")] * 999)


def test_mapping_memory_per_supplier() -> None:
    store: dict[str, dict] = {}
    mem = MappingMemory(store.get, store.__setitem__)
    cols = ["Ref", "Texte", "Poids", "Code"]
    assert mem.recall("ACME SA", cols) is None
    mem.remember("ACME SA", {"description": "Texte", "gross_mass": "Poids", "bogus": "Ref"})
    assert mem.recall("acme sa", cols) == {"description": "Texte", "gross_mass": "Poids"}
    assert mem.recall("Other Ltd", cols) is None
    # Remembered choices win over header guesses; missing columns are dropped.
    assert mem.suggest("ACME SA", ["Texte", "Poids", "Description"]) == {
        "description": "Texte",
        "gross_mass": "Poids",
    }
    assert mem.recall("ACME SA", ["Texte"]) == {"description": "Texte"}
