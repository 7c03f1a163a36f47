"""The main window with synchronous runners: views, filter, actions, detail pane."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from client.declaration import states


def test_views_and_counts(window: Any, prof: Any, qtbot: Any) -> None:
    prof.seed(4, status=states.DRAFT)
    prof.seed(3, status=states.READY, seed=2)
    window.sidebar_model.refresh()
    window.select_view("drafts")
    assert window.table_model.rowCount() == 4
    window.select_view("ready")
    assert window.table_model.rowCount() == 3
    window.select_view("all")
    assert window.table_model.rowCount() == 7
    qtbot.waitUntil(lambda: window.detail.decl_id == window.table_model.id_at(0), timeout=15000)


def test_filter_box_filters_in_sql(window: Any, prof: Any, qtbot: Any) -> None:
    prof.seed(20)
    window.table_model.reload()
    qtbot.keyClicks(window.filter, "LRN0100001")
    qtbot.waitUntil(lambda: window.table_model.rowCount() == 10, timeout=15000)


def test_every_action_has_a_shortcut_or_mnemonic(window: Any) -> None:
    for name, action in window.actions_by_name.items():
        assert not action.shortcut().isEmpty() or "&" in action.text(), name
        assert action.text(), name
    for menu in window.menus.values():
        assert "&" in menu.title()


def test_new_declaration_opens_editor_and_autosaves(window: Any, prof: Any, qtbot: Any) -> None:
    window.new_declaration()
    assert len(window.editors) == 1
    decl_id, ed = next(iter(window.editors.items()))
    assert prof.store.get(decl_id).status == states.DRAFT
    field: QLineEdit = ed.widgets["ucr"]
    field.setFocus()
    qtbot.keyClicks(field, "UCR-42")
    qtbot.waitUntil(lambda: prof.store.get(decl_id).declaration.ucr == "UCR-42", timeout=15000)
    assert window.table_model.row_of(decl_id) >= 0


def test_copy_creates_a_new_draft(window: Any, prof: Any) -> None:
    ids = prof.seed(1)
    window.table_model.reload()
    window.select_id(ids[0])
    window.copy_selected()
    assert prof.store.count() == 2
    assert prof.store.counts_by_status().get(states.DRAFT) == 1


def test_seal_without_a_key_says_so(window: Any, prof: Any) -> None:
    (prof.home / "keys.json").unlink(missing_ok=True)  # no signing key on this profile
    ids = prof.seed(1)
    window.table_model.reload()
    window.select_id(ids[0])
    window.seal_selected()
    assert window.last_error  # no signing key yet: one translated line, no traceback
    assert prof.store.get(ids[0]).status == states.READY


def test_seal_with_a_key_queues(window: Any, prof: Any, qtbot: Any) -> None:
    from client.seal.keys import create_key

    create_key(prof.home, prof.secrets)
    ids = prof.seed(2)
    window.table_model.reload()
    window.select_id(ids[0])
    window.seal_selected()
    assert prof.store.get(ids[0]).status == states.SEALED
    assert prof.store.outbox_stats()[0] == 1
    window.update_status()
    assert "1" in window.queue_label.text()
    window.select_view("outbox")
    assert window.table_model.rowCount() == 1


def test_status_notice_without_tray(window: Any, prof: Any) -> None:
    ids = prof.seed(1)
    window.on_statuses([(ids[0], states.RELEASED), (ids[0], states.REGISTERED)])
    assert len(window.notices) == 1
    assert "LRN01000000" in window.notices[0]


def test_sort_by_header(window: Any, prof: Any) -> None:
    prof.seed(5)
    window.table_model.reload()
    window.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert window.table_model.data(window.table_model.index(0, 0)) == "LRN01000000"


def test_mark_ready_checks_first(window: Any, prof: Any) -> None:
    from client.declaration.model import Declaration

    ids = prof.seed(1, status=states.DRAFT)
    bad = Declaration(lrn="BAD-ONE")
    prof.store.create(bad, "t")
    window.table_model.reload()
    window.select_id(bad.id)
    window.mark_ready_selected()
    assert prof.store.get(bad.id).status == states.DRAFT
    assert "BAD-ONE" in (window.last_error or "")
    window.select_id(ids[0])
    assert window.actions_by_name["ready"].isEnabled()
    window.mark_ready_selected()
    assert prof.store.get(ids[0]).status == states.READY


def test_rejection_is_explained_in_the_detail_pane(window: Any, prof: Any, qtbot: Any) -> None:
    from client.seal.keys import create_key
    from client.seal.sealing import Sealer
    from client.store import DeliveryResult

    create_key(prof.home, prof.secrets)
    ids = prof.seed(1)
    entry = Sealer(prof.profile, prof.store, prof.secrets).seal(ids[0])
    changes = prof.store.record_deliveries([DeliveryResult(
        entry.seq, "rejected",
        errors=[{"code": "CDS12056", "pointer": "/goods_items/0/procedure_code"}])])
    window.ctx.signals.operation_did_execute.emit(changes, None)
    window.select_view("needs_action")
    assert window.table_model.row_of(ids[0]) >= 0
    window.select_id(ids[0])
    qtbot.waitUntil(lambda: window.detail.decl_id == ids[0], timeout=15000)
    html = window.detail.summary.toPlainText()
    explanation = window.ctx.refdata.explain_error("CDS12056")
    assert "CDS12056" in html and explanation and explanation[:30] in html
    assert "Goods item 1 › Procedure (DE 1/10)" in html  # the field it points to, in words
    assert window.actions_by_name["amend"].isEnabled()
    window.amend_selected()
    assert prof.store.get(ids[0]).status == states.DRAFT
    assert prof.store.get(ids[0]).declaration.version == 2
    assert ids[0] in window.editors
    # the new version is no longer rejected: the pane stops saying why it was
    qtbot.waitUntil(lambda: window.detail.data is not None
                    and window.detail.data.state.declaration.version == 2, timeout=15000)
    assert "CDS12056" not in window.detail.summary.toPlainText()


def test_export_and_print(window: Any, prof: Any, tmp_path: Any) -> None:
    import json

    import pytest

    ids = prof.seed(1)
    window.table_model.reload()
    window.select_id(ids[0])
    window.export_selected(tmp_path / "d.json")
    assert json.loads((tmp_path / "d.json").read_text())["id"] == ids[0]
    window.export_selected(tmp_path / "d.xml")
    assert b"urn:wco:datamodel:WCO:DEC-DMS:2" in (tmp_path / "d.xml").read_bytes()
    pytest.importorskip("client.interchange.printing")
    window.print_selected(tmp_path / "d.pdf")
    assert (tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")


def test_first_run_offers_training(window: Any, monkeypatch: Any) -> None:
    from PySide6.QtWidgets import QMessageBox

    from ui.app import offer_training

    asked: list[str] = []

    def question(_parent: Any, title: str, text: str, *_a: Any) -> Any:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    assert offer_training(window) is True
    assert "training mode" in asked[0]


def test_window_says_when_the_device_is_not_enrolled(window: Any, prof: Any) -> None:
    from client.common.i18n import set_language

    prof.profile.server = {}
    window.update_status()
    assert window.enrol_label.isVisibleTo(window)
    assert "Not enrolled" in window.enrol_label.text()
    assert "sealed again" in window.enrol_label.toolTip()
    set_language("fr")
    window.update_status()
    assert "Non enrôlé" in window.enrol_label.text()
    set_language("en")
    prof.profile.server = {"url": "https://127.0.0.1:1", "trader_id": "GB123456789000"}
    window.update_status()
    assert not window.enrol_label.isVisibleTo(window)


def test_a_drain_reporting_thousands_makes_one_notice_without_reading_documents(
        window: Any, prof: Any) -> None:
    """#15: the feed of a 10,000-declaration drain reports every release at once; the
    GUI thread used to parse each declaration's document for its LRN (seconds)."""
    ids = prof.seed(40)
    reads: list[str] = []
    real_get = prof.store.get
    prof.store.get = lambda decl_id: reads.append(decl_id) or real_get(decl_id)
    try:
        window.notices.clear()
        report = [(d, states.RELEASED) for d in ids[:30]] + [(d, states.REJECTED)
                                                            for d in ids[30:]]
        window.on_statuses(report + [(ids[0], states.REGISTERED)])
        assert reads == []
        assert len(window.notices) == 1
        assert "30" in window.notices[0] and "10" in window.notices[0]
        window.notices.clear()
        window.on_statuses([(ids[1], states.RELEASED), (ids[2], states.REJECTED)])
        assert reads == [] and len(window.notices) == 2
        assert "LRN01000001" in window.notices[0] or "LRN01000001" in window.notices[1]
    finally:
        del prof.store.get
