"""The guided editor: a complete import declaration from the pickers and the commodity
finder only (codes never typed, names typed in part and chosen), sealed, validating
clean; names beside codes, help lines, human findings; screenshots in English and French
(tests/artifacts/screenshots/guided/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit

from client.declaration import states
from client.declaration.validation import validate
from ui.models.rows import get_in

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots" / "guided"
EditRole = Qt.ItemDataRole.EditRole

# (field, words typed: part of a NAME in the user's language, the code it must give)
HEADER_PICKS = {
    "en": [("additional_type", "standard declaration", "A"),
           ("customs_office", "dover", "GBDVR001"),
           ("country_of_dispatch", "china", "CN"),
           ("delivery_terms.incoterm", "board", "FOB"),
           ("invoice_currency", "yuan", "CNY"),
           ("nature_of_transaction", "outright", "11"),
           ("importer.address.country", "united king", "GB"),
           ("transport.mode_at_border", "sea", "1"),
           ("transport.mode_inland", "road", "3")],
    "fr": [("additional_type", "standard", "A"),
           ("customs_office", "dover", "GBDVR001"),
           ("country_of_dispatch", "chine", "CN"),
           ("delivery_terms.incoterm", "franco a bord", "FOB"),  # accents optional
           ("invoice_currency", "yuan", "CNY"),
           ("nature_of_transaction", "achat ou vente ferme", "11"),
           ("importer.address.country", "royaume-uni", "GB"),
           ("transport.mode_at_border", "maritime", "1"),
           ("transport.mode_inland", "routier", "3")],
}
ITEM_PICKS = {
    "en": [("country_of_origin", "china", "CN"),
           ("procedure_code", "release to free circulation and home use", "4000"),
           ("additional_procedure_codes[0]", "no other", "000"),
           ("packages[0].kind", "carton", "CT")],
    "fr": [("country_of_origin", "chine", "CN"),
           ("procedure_code", "libre pratique et mise", "4000"),
           ("additional_procedure_codes[0]", "aucun autre", "000"),
           ("packages[0].kind", "carton", "CT")],
}
DOC_PICK = {"en": ("invoice on which", "N935"), "fr": ("facture sur la base", "N935")}
# Free text and numbers a trader does type (names, identifiers, quantities: no codes).
TEXT = {"lrn": "GUIDED-IMPORT-1", "declarant.id": "GB123456789000",
        "declarant.name": "Albion Trading Ltd", "importer.id": "GB123456789000",
        "importer.name": "Albion Trading Ltd", "invoice_total": "1000",
        "exchange_rate": "0.11", "delivery_terms.place": "Shanghai"}
ITEM_TEXT = {"description": "Laptops", "packages[0].number": "2", "gross_mass": "12",
             "net_mass": "10", "item_price": "1000"}


def choose(qtbot: Any, edit: QLineEdit, words: str, code: str) -> Any:
    """Type part of a name into a picker, then arrow down to ``code`` and press Enter."""
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, words)
    popup = edit.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=5000)
    model = popup.model()
    found = [model.index(r, 0).data(EditRole) for r in range(model.rowCount())]
    assert code in found, (words, found[:10])
    assert len(found) < edit.completer().model().sourceModel().rowCount() or len(found) < 12
    target = found.index(code)
    current = popup.currentIndex().row() if popup.currentIndex().isValid() else -1
    key = Qt.Key.Key_Down if target > current else Qt.Key.Key_Up
    for _ in range(abs(target - current)):
        qtbot.keyClick(popup, key)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert edit.text() == code, (words, edit.text())
    return popup


def cell_editor(view: Any) -> QLineEdit:
    """The line edit F2 opened in the current cell."""
    (edit,) = [w for w in view.viewport().findChildren(QLineEdit) if w.isVisible()]
    return edit


def cell_choose(qtbot: Any, ed: Any, view: Any, model: Any, path: str, words: str,
                code: str) -> None:
    """F2 on the cell opens its picker editor; choose by name; Enter commits the cell."""
    view.setFocus()
    view.setCurrentIndex(model.index(0, model.column_of(path)))
    qtbot.keyClick(view, Qt.Key.Key_F2)
    edit = cell_editor(view)
    assert edit.completer() is not None, path
    choose(qtbot, edit, words, code)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def cell_type(qtbot: Any, view: Any, model: Any, path: str, text: str) -> None:
    view.setFocus()
    view.setCurrentIndex(model.index(0, model.column_of(path)))
    qtbot.keyClick(view, Qt.Key.Key_F2)
    edit = cell_editor(view)
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def find_commodity(qtbot: Any, ed: Any, words: str, hs6: str) -> None:
    """The commodity finder, by keyboard: words of the description, arrows, Enter."""
    def drive() -> None:
        finder = QApplication.activeModalWidget()
        if finder is None or finder.objectName() != "commodity_finder":
            QTimer.singleShot(50, drive)
            return
        qtbot.keyClicks(finder.search, words)
        texts = [finder.results.item(i).text() for i in range(finder.results.count())]
        target = next(i for i, x in enumerate(texts) if x.startswith(f"{hs6[:4]} {hs6[4:]}"))
        for _ in range(target):
            qtbot.keyClick(finder.search, Qt.Key.Key_Down)
        qtbot.keyClick(finder.search, Qt.Key.Key_Return)

    QTimer.singleShot(0, drive)
    ed.goods_view.setCurrentIndex(ed.goods_model.index(0, 0))
    qtbot.keyClick(ed.goods_buttons["find"], Qt.Key.Key_Space)
    ed.activateWindow()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_import_declaration_from_pickers_only(lang: str, window: Any, prof: Any,
                                              qtbot: Any) -> None:
    from client.seal.keys import create_key
    from ui.settings import apply_language

    create_key(prof.home, prof.secrets)
    apply_language(window.ctx, lang)
    window.new_declaration()
    ed = next(iter(window.editors.values()))
    out = SHOTS / lang
    out.mkdir(parents=True, exist_ok=True)
    ed.resize(1180, 820)
    ed.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is ed, timeout=5000)
    for path, text in TEXT.items():
        ed.focus_path(path)
        ed.widgets[path].selectAll()
        qtbot.keyClicks(ed.widgets[path], text)
    for path, words, code in HEADER_PICKS[lang]:
        ed.focus_path(path)
        popup = choose(qtbot, ed.widgets[path], words, code)
        assert get_in(ed.doc, path) == code
        name = ed.names[path].text()  # the chosen code's name beside it
        assert name and name != code, path
        if path == "country_of_dispatch":
            ed.widgets[path].selectAll()
            qtbot.keyClicks(ed.widgets[path], words[:3])
            qtbot.waitUntil(popup.isVisible, timeout=5000)
            ed.validate_now()
            assert ed.grab().save(str(out / "editor_general.png"))
            assert popup.grab().save(str(out / "picker_country.png"))
            qtbot.keyClick(popup, Qt.Key.Key_Escape)
            ed.widgets[path].setText(code)
    assert ed.names["country_of_dispatch"].text() == ("China" if lang == "en" else "Chine")
    assert ed.help_line.text() and "DE" in ed.help_line.text()

    ed.tabs.setCurrentIndex(3)
    qtbot.keyClick(ed.goods_buttons["add"], Qt.Key.Key_Space)
    find_commodity(qtbot, ed, "portable data processing", "847130")
    for path, text in ITEM_TEXT.items():
        cell_type(qtbot, ed.goods_view, ed.goods_model, path, text)
    for path, words, code in ITEM_PICKS[lang]:
        cell_choose(qtbot, ed, ed.goods_view, ed.goods_model, path, words, code)
    item = ed.doc["goods_items"][0]
    assert item["commodity_code"] == "84713000"  # subheading + national extension 00
    assert item["procedure_code"] == "4000" and item["additional_procedure_codes"] == ["000"]
    shown = ed.goods_model.index(0, ed.goods_model.column_of("country_of_origin")).data()
    assert shown == ("CN — China" if lang == "en" else "CN — Chine")
    code_cell = ed.goods_model.index(0, ed.goods_model.column_of("commodity_code"))
    assert code_cell.data().startswith("84713000 — Automatic data processing")
    assert len(code_cell.data()) < 70 and "10kg" in code_cell.data(Qt.ItemDataRole.ToolTipRole)
    assert code_cell.data(EditRole) == "84713000"
    ed.validate_now()
    ed.goods_view.scrollTo(ed.goods_model.index(0, 0))
    QApplication.processEvents()
    assert ed.grab().save(str(out / "editor_goods.png"))

    ed.tabs.setCurrentIndex(4)
    qtbot.keyClick(ed.docs_buttons["add"], Qt.Key.Key_Space)
    cell_choose(qtbot, ed, ed.docs_view, ed.docs_model, "type", *DOC_PICK[lang])
    cell_type(qtbot, ed.docs_view, ed.docs_model, "reference", "INV-2026-118")
    assert ed.doc["additional_documents"][0]["category"] == "N"
    assert ed.doc["additional_documents"][0]["type"] == "935"
    ed.validate_now()
    QApplication.processEvents()
    assert ed.grab().save(str(out / "editor_documents.png"))

    findings = ed.validate_now()
    assert [f for f in findings if f.severity == "error"] == [], \
        [(f.path, f.message.render()) for f in findings]
    ed.seal_button.click()
    qtbot.waitUntil(lambda: prof.store.get(ed.decl_id).status == states.SEALED, timeout=20000)
    sealed = prof.store.get(ed.decl_id).declaration
    assert sealed.country_of_dispatch == "CN" and sealed.goods_items[0].commodity_code \
        == "84713000"
    assert [f for f in validate(sealed, refdata=window.ctx.refdata) if f.severity == "error"] == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_findings_speak_the_form_labels_and_jump(lang: str, window: Any, qtbot: Any) -> None:
    from ui.settings import apply_language

    apply_language(window.ctx, lang)
    window.new_declaration()
    ed = next(iter(window.editors.values()))
    ed.goods_buttons["add"].click()
    ed.validate_now()
    m = ed.findings_model
    rows = {m.finding(r).path: (m.data(m.index(r, 2)), m.data(m.index(r, 3)))
            for r in range(m.rowCount())}
    text, where = rows["country_of_dispatch"]
    label = "Country of dispatch" if lang == "en" else "Pays d'expédition"
    assert where == label and text.startswith(label), text
    assert m.data(m.index(0, 1)).startswith("DE ")  # the data element in its own column
    assert "country_of_dispatch" not in text and "(IM)" not in text
    assert ("import" if lang == "en" else "importation") in text
    text, where = rows["goods_items[0].country_of_origin"]
    assert where.startswith("Goods item 1 › " if lang == "en" else "Article 1 › ")
    assert "goods_items" not in text
    out = SHOTS / lang
    out.mkdir(parents=True, exist_ok=True)
    ed.resize(1180, 820)
    QApplication.processEvents()
    assert ed.grab().save(str(out / "editor_findings.png"))
    # activating a finding (Enter on it) focuses its field
    row = next(r for r in range(m.rowCount()) if m.finding(r).path == "country_of_dispatch")
    ed.findings_view.setFocus()
    ed.findings_view.setCurrentIndex(m.index(row, 2))
    qtbot.keyClick(ed.findings_view, Qt.Key.Key_Return)
    assert ed.focusWidget() is ed.widgets["country_of_dispatch"]
    assert "DE 5/14" in ed.help_line.text()


def test_picker_opens_with_f4_and_matches_codes_too(window: Any, qtbot: Any) -> None:
    window.new_declaration()
    ed = next(iter(window.editors.values()))
    edit = ed.widgets["invoice_currency"]
    ed.focus_path("invoice_currency")
    qtbot.keyClick(edit, Qt.Key.Key_F4)
    popup = edit.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=5000)
    assert popup.model().rowCount() > 100  # the whole list
    qtbot.keyClick(popup, Qt.Key.Key_Escape)
    qtbot.keyClicks(edit, "eur")
    first = popup.model().index(0, 0)
    assert first.data(EditRole) == "EUR"  # a code typed comes first
    assert "Euro" in first.data()
    assert "Type part of a code or a name" in edit.toolTip() and "DE 4/10" in edit.toolTip()


def test_templates_and_new_from_previous_one_key_away(window: Any, prof: Any,
                                                      qtbot: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.ui.helpers import VALID_HEADER, VALID_ITEM, add_item, type_into

    window.new_declaration()
    ed = next(iter(window.editors.values()))
    ed.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is ed, timeout=5000)
    for path, value in {**VALID_HEADER, "ucr": "UCR-SHIPMENT-1"}.items():
        type_into(qtbot, ed, path, value)
    add_item(ed, VALID_ITEM)
    monkeypatch.setattr(ed, "ask_template_name", lambda suggestion: f"{suggestion} laptops")
    qtbot.keyClick(ed.focusWidget() or ed, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    from client.services.templates import list_templates

    qtbot.waitUntil(lambda: [x.name for x in list_templates(prof.store)]
                    == ["Albion Trading Ltd laptops"], timeout=15000)
    source = ed.decl_id

    chosen: list[list[str]] = []
    monkeypatch.setattr(window, "ask_template", lambda names: chosen.append(names) or names[0])
    before = set(window.editors)
    ed.template_new_button.click()  # from the editor: a new declaration in its own editor
    qtbot.waitUntil(lambda: len(set(window.editors) - before) == 1, timeout=15000)
    assert chosen == [["Albion Trading Ltd laptops"]]
    (new_id,) = set(window.editors) - before
    made = prof.store.get(new_id).declaration
    assert made.importer is not None and made.importer.name == "Albion Trading Ltd"
    assert made.customs_office == "GBDVR001" and made.ucr is None
    assert made.goods_items[0].commodity_code == "8471300000"
    assert made.goods_items[0].gross_mass is None  # the shipment's own data is not kept
    assert window.editors[new_id].names["customs_office"].text() == "Dover, Priory Court"

    window.select_id(source)
    before = set(window.editors)
    window.actions_by_name["previous"].trigger()
    qtbot.waitUntil(lambda: len(set(window.editors) - before) == 1, timeout=15000)
    (next_id,) = set(window.editors) - before
    nxt = prof.store.get(next_id).declaration
    assert nxt.lrn != prof.store.get(source).declaration.lrn and nxt.ucr is None
    assert nxt.country_of_dispatch == "CN" and nxt.goods_items[0].net_mass is None
    assert window.actions_by_name["previous"].shortcut().toString() == "Ctrl+Shift+P"
    assert window.actions_by_name["template_new"].shortcut().toString() == "Ctrl+Shift+N"
