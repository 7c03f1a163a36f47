"""The editor's documents: the header table offers only what a header-level document can
carry in DMS (category, type, reference: DE 2/3), and a document's status (DE 2/3, the
LPCOExemptionCode of a goods item's document) takes the published codes (AE, AC, JP...)
and refuses others with a finding named by the form's labels, in English and French."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from ui.models.rows import get_in

EditRole = Qt.ItemDataRole.EditRole
ROW = {"category": "N", "type": "935", "reference": "INV-2026-118"}


def _editor(window: Any) -> Any:
    window.new_declaration()
    return next(iter(window.editors.values()))


def test_every_header_document_column_takes_a_valid_value(window: Any) -> None:
    """Each column of the header table accepts some value: none is refused whatever is
    typed (a status there was, since DMS has no place for it at header level)."""
    ed = _editor(window)
    ed.docs_buttons["add"].click()
    samples = {"category": "N", "type": "935", "reference": "INV-2026-118", "status": "AE"}
    for col, (path, _key) in enumerate(ed.docs_model.columns):
        assert path in samples, path
        assert ed.docs_model.setData(ed.docs_model.index(0, col), samples[path], EditRole)
    assert get_in(ed.doc, "additional_documents[0].reference") == "INV-2026-118"
    refused = [f.path for f in ed.validate_now()
               if f.path.startswith("additional_documents[") and f.severity == "error"]
    assert refused == []
    # nor does the "more data elements" tab offer a header document's status...
    ed.more.rebuild()
    paths = {r.path for r in ed.more.model.all}
    assert not any(p.startswith("additional_documents[") for p in paths), sorted(paths)[:5]


def test_a_header_status_a_file_brought_is_refused_and_can_be_cleared(window: Any) -> None:
    """...except where a file brought one: refused with its field, and clearable there."""
    from ui.editor.elements import COL_VALUE

    ed = _editor(window)
    ed.docs_buttons["add"].click()
    ed.doc["additional_documents"][0].update(ROW, status="AE")
    ed.more.rebuild()
    model = ed.more.model
    row = model.row_of("additional_documents[0].status")
    assert row >= 0
    found = [f for f in ed.validate_now() if f.path == "additional_documents[0].status"]
    assert [f.code for f in found] == ["V-HEADER-DOCUMENT-FIELDS"]
    assert model.setData(model.index(row, COL_VALUE), "", EditRole)
    assert get_in(ed.doc, "additional_documents[0].status") is None
    assert not [f for f in ed.validate_now() if f.path.startswith("additional_documents[")]


def _status_finding(ed: Any, status: str) -> tuple[str, str] | None:
    ed.goods_buttons["add"].click() if not ed.doc.get("goods_items") else None
    ed.doc["goods_items"][0]["documents"] = [dict(ROW)]
    ed.more.rebuild()
    model = ed.more.model
    row = model.row_of("goods_items[0].documents[0].status")
    assert row >= 0, "the goods item's document status is offered in the elements tab"
    from ui.editor.elements import COL_VALUE

    assert model.setData(model.index(row, COL_VALUE), status, EditRole)
    assert get_in(ed.doc, "goods_items[0].documents[0].status") == status
    ed.validate_now()
    m = ed.findings_model
    for r in range(m.rowCount()):
        if m.finding(r).path == "goods_items[0].documents[0].status":
            return m.data(m.index(r, 2)), m.data(m.index(r, 3))
    return None


@pytest.mark.parametrize("status", ["AE", "AC", "JP"])
def test_a_published_document_status_passes(window: Any, status: str) -> None:
    assert _status_finding(_editor(window), status) is None


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_an_unknown_document_status_is_refused_in_words(window: Any, lang: str) -> None:
    from ui.settings import apply_language

    apply_language(window.ctx, lang)
    found = _status_finding(_editor(window), "Q9")
    assert found is not None
    text, where = found
    assert where.startswith("Goods item 1 › " if lang == "en" else "Article 1 › "), where
    assert "goods_items" not in where and "documents[" not in where, where
    assert text.startswith("Q9"), text
    assert ("document status code" if lang == "en" else "code de statut de document") in text
