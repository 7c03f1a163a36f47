"""The editor's "more data elements" tab (#18): the rare data elements of an imported DMS
declaration, found by name or DE number, edited with undo, saved, in both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from client.common.i18n import set_language
from client.interchange.dms import import_dms_file


@pytest.fixture
def imported(prof: Any, conformance: Path) -> str:
    imp = import_dms_file(conformance / "hmrc-dms/samples/TT_IM001a__Step1_TT_IM001a.xml")
    prof.store.create(imp.declaration, "test")
    return imp.declaration.id


def _editor(ctx: Any, decl_id: str, qtbot: Any) -> Any:
    from ui.editor.window import EditorWindow

    ed = EditorWindow(ctx, decl_id)
    qtbot.addWidget(ed)
    ed.show()
    return ed


def _value(panel: Any, path: str) -> str:
    m = panel.model
    return m.data(m.index(m.row_of(path), 2))


def test_rare_elements_are_listed_found_edited_and_saved(ctx: Any, prof: Any, qtbot: Any,
                                                         imported: str) -> None:
    ed = _editor(ctx, imported, qtbot)
    panel = ed.more
    paths = {r.path for r in panel.model.all}
    assert "authorisations[1].category" in paths and "goods_items[0].valuation_indicators" \
        in paths and "guarantees[0].type" in paths
    # what the other tabs show is not repeated here
    assert "lrn" not in paths and "goods_items[0].description" not in paths
    panel.search.setText("3/39")
    assert {r.de for r in panel.model.shown} == {"3/39"} and len(panel.model.shown) >= 4
    panel.search.setText("valuation indicators")
    assert [r.path for r in panel.model.shown] == ["goods_items[0].valuation_indicators"]
    assert _value(panel, "goods_items[0].valuation_indicators") == "0000"
    m = panel.model
    m.setData(m.index(0, 2), "0100")
    assert ed.doc["goods_items"][0]["valuation_indicators"] == "0100"
    ed.undo_stack.undo()
    assert ed.doc["goods_items"][0]["valuation_indicators"] == "0000"
    assert _value(panel, "goods_items[0].valuation_indicators") == "0000"
    ed.undo_stack.redo()
    qtbot.waitUntil(lambda: prof.store.get(imported).declaration.goods_items[0]
                    .valuation_indicators == "0100", timeout=15000)


def test_a_list_gets_an_entry_and_a_finding_leads_to_it(ctx: Any, prof: Any, qtbot: Any,
                                                        imported: str) -> None:
    ed = _editor(ctx, imported, qtbot)
    panel = ed.more
    panel.search.setText("warehouse")
    m = panel.model
    row = m.row_of("warehouse.type")
    m.setData(m.index(row, 2), "Q")  # not a warehouse type: DE 2/7's rule says so
    ed.validate_now()
    codes = {f.code for f in ed.findings_model.findings()}
    assert "V-WAREHOUSE" in codes
    finding = next(f for f in ed.findings_model.findings() if f.path == "warehouse.type")
    panel.search.setText("nothing matches this")
    ed.tabs.setCurrentIndex(0)
    assert ed.focus_path(finding.path)
    assert ed.tabs.currentIndex() == 5
    assert panel.model.row_at(panel.view.currentIndex().row()).path == "warehouse.type"
    # countries of routing (DE 5/18): add an entry to the list, fill it in
    panel.search.setText("5/18")
    panel.view.setCurrentIndex(m.index(m.row_of("routing"), 1))
    panel.add_button.click()
    assert ed.doc["routing"] == [{}]
    m.setData(m.index(m.row_of("routing[0].country"), 2), "FR")
    assert ed.doc["routing"] == [{"country": "FR"}]
    qtbot.waitUntil(lambda: [r.country for r in prof.store.get(imported).declaration.routing]
                    == ["FR"], timeout=15000)
    panel.view.setCurrentIndex(m.index(m.row_of("routing[0].country"), 1))
    panel.remove_button.click()
    assert ed.doc.get("routing") in (None, [])


def test_names_and_help_in_both_languages(ctx: Any, qtbot: Any, imported: str) -> None:
    from PySide6.QtCore import Qt

    ed = _editor(ctx, imported, qtbot)
    m = ed.more.model
    row = m.row_of("authorisations[0].id")
    en_name = m.data(m.index(row, 1))
    en_help = m.data(m.index(row, 1), Qt.ItemDataRole.ToolTipRole)
    assert "authorisation" in en_name and "DE 3/39" in en_help
    set_language("fr")
    ed.retranslate()
    row = m.row_of("authorisations[0].id")
    fr_name = m.data(m.index(row, 1))
    assert "autorisation" in fr_name and fr_name != en_name
    assert ed.tabs.tabText(5) != "More data elements"


def test_a_sealed_declaration_is_read_only_here_too(ctx: Any, prof: Any, qtbot: Any,
                                                    imported: str) -> None:
    from client.declaration import states

    prof.store.transition(imported, states.READY, "test")
    ed = _editor(ctx, imported, qtbot)
    ed.status = states.SEALED
    ed._apply_editable()
    m = ed.more.model
    from PySide6.QtCore import Qt

    flags = m.flags(m.index(m.row_of("authorisations[0].id"), 2))
    assert not flags & Qt.ItemFlag.ItemIsEditable
    assert not ed.more.add_button.isEnabled()


@pytest.mark.parametrize("lang,words,name", [("en", "germany", "Germany"),
                                             ("fr", "allemagne", "Allemagne")])
def test_a_coded_element_is_edited_through_its_picker(ctx: Any, prof: Any, qtbot: Any,
                                                      imported: str, lang: str, words: str,
                                                      name: str) -> None:
    """The seller's country (DE 3/24) has no form of its own: here, F2 opens the same
    country picker the forms use; a name typed in part and chosen gives the code."""
    from PySide6.QtCore import Qt

    from tests.ui.test_guided_editor import cell_editor, choose
    from ui.models.rows import get_in

    set_language(lang)
    ed = _editor(ctx, imported, qtbot)
    panel, m = ed.more, ed.more.model
    ed.tabs.setCurrentIndex(5)
    path = "seller.address.country"
    panel.search.setText("3/24")
    row = m.row_of(path)
    assert row >= 0 and get_in(ed.doc, path) != "DE"
    panel.view.setFocus()
    panel.view.setCurrentIndex(m.index(row, 2))
    qtbot.keyClick(panel.view, Qt.Key.Key_F2)
    edit = cell_editor(panel.view)
    assert edit.property("picker") == "countries"
    choose(qtbot, edit, words, "DE")
    qtbot.keyClick(edit, Qt.Key.Key_Return)  # the view commits on its next turn
    qtbot.waitUntil(lambda: get_in(ed.doc, path) == "DE", timeout=5000)
    assert m.data(m.index(m.row_of(path), 2)) == f"DE — {name}"  # the name beside the code
    assert m.data(m.index(m.row_of(path), 2), Qt.ItemDataRole.EditRole) == "DE"
    qtbot.waitUntil(lambda: get_in(prof.store.get(imported).declaration.to_json_dict(), path)
                    == "DE", timeout=15000)  # saved
    # a free value (no code list) keeps a plain editor
    panel.search.clear()
    free = m.row_at(m.row_of("delivery_terms.country_relationship"))
    assert free is not None and m.code_list(free) is None
