"""The editor: validation as you type, findings that jump to fields, undo, autosave."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from client.declaration import states
from client.store import settings_keys
from tests.ui.helpers import VALID_HEADER, VALID_ITEM, add_item, codes, type_into


def _next_tab_stop(w: Any) -> Any:
    n = w.nextInFocusChain()
    while not (n.focusPolicy() & Qt.FocusPolicy.TabFocus):
        n = n.nextInFocusChain()
    return n


def _editor(window: Any) -> Any:
    window.new_declaration()
    return next(iter(window.editors.values()))


def test_validation_as_you_type_and_fix(window: Any, prof: Any, qtbot: Any) -> None:
    ed = _editor(window)
    for path, value in VALID_HEADER.items():
        type_into(qtbot, ed, path, value)
    add_item(ed, VALID_ITEM)
    qtbot.waitUntil(lambda: ed.findings_model.errors() == 1, timeout=15000)
    (missing,) = [f for f in ed.findings_model.findings() if f.severity == "error"]
    assert missing.path == "invoice_currency"
    # messages in the user's language, with the data element
    assert "DE" in ed.findings_model.data(ed.findings_model.index(0, 1))
    # click the finding: its field comes to the front with the focus
    ed.tabs.setCurrentIndex(2)
    ed.findings_view.clicked.emit(ed.findings_model.index(0, 2))
    assert ed.tabs.currentIndex() == 0
    assert ed.focusWidget() is ed.widgets["invoice_currency"]
    qtbot.keyClicks(ed.widgets["invoice_currency"], "ZZZ")
    qtbot.waitUntil(lambda: codes(ed) == {"V-CURRENCY-UNKNOWN"}, timeout=15000)
    ed.widgets["invoice_currency"].clear()
    qtbot.keyClicks(ed.widgets["invoice_currency"], "USD")
    qtbot.waitUntil(lambda: ed.findings_model.errors() == 0, timeout=15000)
    qtbot.waitUntil(lambda: prof.store.get(ed.decl_id).declaration.invoice_currency == "USD",
                    timeout=15000)


def test_goods_item_finding_selects_the_cell(window: Any, qtbot: Any) -> None:
    ed = _editor(window)
    add_item(ed, {"description": "Tea"})
    add_item(ed, {"description": "Coffee"})
    assert ed.focus_path("goods_items[1].commodity_code")
    assert ed.tabs.currentIndex() == 3
    idx = ed.goods_view.currentIndex()
    assert (idx.row(), idx.column()) == (1, ed.goods_model.column_of("commodity_code"))


def test_rows_add_duplicate_delete_and_undo(window: Any, prof: Any, qtbot: Any) -> None:
    ed = _editor(window)
    add_item(ed, VALID_ITEM)
    ed.goods_view.setCurrentIndex(ed.goods_model.index(0, 0))
    ed.goods_buttons["duplicate"].click()
    assert ed.goods_model.rowCount() == 2
    assert [i["sequence"] for i in ed.doc["goods_items"]] == [1, 2]
    ed.goods_view.setCurrentIndex(ed.goods_model.index(0, 0))
    ed.goods_buttons["delete"].click()
    assert ed.goods_model.rowCount() == 1
    ed.undo_stack.undo()
    assert ed.goods_model.rowCount() == 2
    qtbot.waitUntil(lambda: len(prof.store.get(ed.decl_id).declaration.goods_items) == 2,
                    timeout=15000)


def test_undo_redo_field_edits(window: Any, qtbot: Any) -> None:
    ed = _editor(window)
    type_into(qtbot, ed, "ucr", "ABC")
    assert ed.doc["ucr"] == "ABC"
    ed.undo_stack.undo()  # consecutive keystrokes in one field merge into one step
    assert ed.widgets["ucr"].text() == "" and "ucr" not in ed.doc
    ed.undo_stack.redo()
    assert ed.widgets["ucr"].text() == "ABC"


def test_unparseable_value_is_kept_as_scratch(window: Any, prof: Any, qtbot: Any) -> None:
    ed = _editor(window)
    type_into(qtbot, ed, "invoice_total", "12,5x")
    qtbot.waitUntil(lambda: prof.store.get_setting(settings_keys.SCRATCH(ed.decl_id)) is not None,
                    timeout=15000)
    assert prof.store.get_setting(settings_keys.SCRATCH(ed.decl_id))["invoice_total"] == "12,5x"
    ed.close()
    again = window.open_editor(ed.decl_id)
    assert again.widgets["invoice_total"].text() == "12,5x"
    assert "V-STRUCTURE" in codes(again)
    again.widgets["invoice_total"].clear()
    qtbot.keyClicks(again.widgets["invoice_total"], "12.5")
    qtbot.waitUntil(lambda: prof.store.get_setting(settings_keys.SCRATCH(ed.decl_id)) is None,
                    timeout=15000)
    assert str(prof.store.get(ed.decl_id).declaration.invoice_total) == "12.5"


def test_seal_from_editor_makes_it_read_only(window: Any, prof: Any, qtbot: Any) -> None:
    from client.seal.keys import create_key

    create_key(prof.home, prof.secrets)
    ed = _editor(window)
    for path, value in {**VALID_HEADER, "invoice_currency": "USD"}.items():
        type_into(qtbot, ed, path, value)
    add_item(ed, VALID_ITEM)
    ed.seal_button.click()
    qtbot.waitUntil(lambda: prof.store.get(ed.decl_id).status == states.SEALED, timeout=15000)
    qtbot.waitUntil(lambda: not ed.editable(), timeout=15000)
    assert ed.widgets["ucr"].isReadOnly()


def test_accessible_names_and_tab_order(window: Any) -> None:
    ed = _editor(window)
    for path, w in ed.widgets.items():
        assert w.accessibleName(), path
    assert "DE 2/5" in ed.widgets["lrn"].accessibleName()
    # Tab from LRN goes to the next field of the General tab
    lrn: QLineEdit = ed.widgets["lrn"]
    assert _next_tab_stop(lrn) is ed.widgets["ucr"]
    assert _next_tab_stop(ed.widgets["declarant.id"]) is ed.widgets["declarant.name"]
    for b in ed.goods_buttons.values():
        assert "&" in b.text()


def test_french_findings(window: Any, qtbot: Any) -> None:
    from ui.settings import apply_language

    ed = _editor(window)
    apply_language(window.ctx, "fr")
    assert ed.tabs.tabText(0) == "&Général"
    messages = [ed.findings_model.data(ed.findings_model.index(r, 2))
                for r in range(ed.findings_model.rowCount())]
    assert any("obligatoire" in m for m in messages), messages
    assert window.sidebar_model.data(window.sidebar_model.index(0, 0)).startswith("Brouillons")


def test_completion_and_ctrl_z_reach_the_document(window: Any, qtbot: Any) -> None:
    ed = _editor(window)
    field = ed.widgets["invoice_currency"]
    ed.activateWindow()
    ed.focus_path("invoice_currency")
    qtbot.waitUntil(field.hasFocus, timeout=15000)  # QLineEdit wires its completer on focus
    comp = field.completer()
    assert comp is not None
    comp.setCompletionPrefix("EU")
    assert comp.currentCompletion() == "EUR"
    comp.activated.emit("EUR")  # the user picks it in the popup
    assert field.text() == "EUR" and ed.doc["invoice_currency"] == "EUR"
    qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert field.text() == "" and "invoice_currency" not in ed.doc
    qtbot.keyClick(field, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert field.text() == "EUR" and ed.doc["invoice_currency"] == "EUR"


def test_completion_labels_follow_the_language(window: Any) -> None:
    from ui.settings import apply_language

    ed = _editor(window)

    def label(code: str) -> str:
        model = ed.widgets["country_of_dispatch"].completer().model()
        for r in range(model.rowCount()):
            if model.index(r, 0).data(Qt.ItemDataRole.EditRole) == code:
                return model.index(r, 0).data()
        return ""

    assert "Germany" in label("DE")
    apply_language(window.ctx, "fr")
    assert "Allemagne" in label("DE")


def test_commodity_finder_fills_the_code_from_words_by_keyboard(window: Any, prof: Any,
                                                                 qtbot: Any) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    ed = _editor(window)
    add_item(ed, {"description": "Coffee beans"})
    ed.goods_view.setCurrentIndex(ed.goods_model.index(0, 0))
    seen: dict[str, Any] = {}

    def drive() -> None:
        finder = QApplication.activeModalWidget()
        if finder is None or finder.objectName() != "commodity_finder":
            QTimer.singleShot(50, drive)
            return
        search = finder.findChild(QLineEdit, "finder_search")
        qtbot.keyClicks(search, "coffee roasted decaffeinated")
        results = finder.results
        texts = [results.item(i).text() for i in range(results.count())]
        seen["texts"], seen["title"] = texts, finder.windowTitle()
        target = next(i for i, x in enumerate(texts) if x.startswith("0901 22"))
        for _ in range(target):  # arrows from the search box, as a keyboard user would
            qtbot.keyClick(search, Qt.Key.Key_Down)
        qtbot.keyClick(search, Qt.Key.Key_Return)

    QTimer.singleShot(0, drive)
    qtbot.keyClick(ed.goods_buttons["find"], Qt.Key.Key_Space)
    assert seen["texts"] and all(x.startswith("0901") for x in seen["texts"])
    assert all(" — " in x for x in seen["texts"])  # the heading's name beside each code
    assert "DE 6/14" in seen["title"]
    qtbot.waitUntil(lambda: (prof.store.get(ed.decl_id).declaration.goods_items or [None])[0]
                    is not None and prof.store.get(ed.decl_id).declaration.goods_items[0]
                    .commodity_code == "09012200", timeout=15000)  # + national extension
