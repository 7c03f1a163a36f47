"""Shared helpers for driving the editor like a user."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLineEdit

VALID_HEADER = {
    "declarant.id": "GB123456789000", "declarant.name": "Albion Trading Ltd",
    "importer.id": "GB123456789000", "importer.name": "Albion Trading Ltd",
    "country_of_dispatch": "CN", "exchange_rate": "0.79", "invoice_total": "1000",
    "delivery_terms.incoterm": "FOB", "delivery_terms.place": "CNSHA",
    "customs_office": "GBDVR001",
}
VALID_ITEM = {"description": "Laptops", "commodity_code": "8471300000",
              "country_of_origin": "CN", "procedure_code": "4000", "net_mass": "10",
              "gross_mass": "12", "packages[0].kind": "CT", "packages[0].number": "1",
              "item_price": "1000"}


def type_into(qtbot: Any, ed: Any, path: str, text: str) -> None:
    """Focus the field (switching tab) and type with real key events."""
    ed.focus_path(path)
    field: QLineEdit = ed.widgets[path]
    field.selectAll()
    qtbot.keyClicks(field, text)


def add_item(ed: Any, values: dict[str, str]) -> int:
    ed.goods_buttons["add"].click()
    row = ed.goods_model.rowCount() - 1
    for path, value in values.items():
        ed.goods_model.setData(ed.goods_model.index(row, ed.goods_model.column_of(path)), value)
    return row


def codes(ed: Any) -> set[str]:
    return {f.code for f in ed.findings_model.findings() if f.severity == "error"}
