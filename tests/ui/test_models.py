"""The item models, without widgets: qtmodeltester on each, laziness, SQL-side filters."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from client.declaration import states
from client.store import Changes
from ui.models.declarations import COL_LRN, COL_UPDATED, DeclarationTableModel, IdRole
from ui.models.findings import FindingsModel
from ui.models.history import HistoryModel
from ui.models.rows import GOODS_COLUMNS, RowsModel, get_in, set_in
from ui.models.sidebar import SidebarModel


def test_declaration_table_passes_modeltester(qtmodeltester: Any, prof: Any) -> None:
    prof.seed(25)
    model = DeclarationTableModel(prof.store)
    model.reload()
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 25


def test_declaration_table_is_lazy(prof: Any) -> None:
    prof.seed(1000)
    model = DeclarationTableModel(prof.store)
    model.reload()
    assert model.rowCount() == 1000
    assert model.fetches == 0  # ids only until a row is asked for
    model.data(model.index(10, COL_LRN))
    assert model.fetches == 1
    assert len(model._cache) <= 250  # one window, not the whole table
    for r in range(10, 60):
        model.data(model.index(r, COL_LRN))
    assert model.fetches == 1  # same window served from the cache
    model.data(model.index(900, COL_LRN))
    assert model.fetches == 2


def test_sort_and_filter_happen_in_sql(prof: Any) -> None:
    prof.seed(40)
    model = DeclarationTableModel(prof.store)
    model.reload()
    model.sort(COL_LRN, Qt.SortOrder.AscendingOrder)
    assert model.data(model.index(0, COL_LRN)) == "LRN01000000"
    model.sort(COL_LRN, Qt.SortOrder.DescendingOrder)
    assert model.data(model.index(0, COL_LRN)) == "LRN01000039"
    model.set_search("LRN0100002")
    assert model.rowCount() == 10
    assert all(model.data(model.index(r, COL_LRN)).startswith("LRN0100002")
               for r in range(10))
    model.set_search("no such thing")
    assert model.rowCount() == 0


def test_changes_refresh_rows_in_place_or_membership(prof: Any) -> None:
    ids = prof.seed(5, status=states.DRAFT)
    model = DeclarationTableModel(prof.store)
    model.set_view([states.DRAFT])
    model.sort(COL_LRN, Qt.SortOrder.AscendingOrder)
    assert model.rowCount() == 5
    seen: list[int] = []
    model.dataChanged.connect(lambda a, b, *_r: seen.append(a.row()))
    # an edit: same membership, same order: only that row repaints
    d = prof.store.get(ids[2]).declaration
    d.ucr = "changed"
    ch = prof.store.save_draft(d, "t")
    model.apply_changes(ch)
    assert seen == [model.row_of(ids[2])]
    # in the order of the last change, the edited row moves to the top
    model.sort(COL_UPDATED, Qt.SortOrder.DescendingOrder)
    d = prof.store.get(ids[4]).declaration
    d.ucr = "changed again"
    model.apply_changes(prof.store.save_draft(d, "t"))
    assert model.row_of(ids[4]) == 0
    # a status move out of the view: membership changes
    ch = prof.store.transition(ids[0], states.READY, "t")
    model.apply_changes(ch)
    assert model.rowCount() == 4
    assert model.row_of(ids[0]) == -1
    assert {model.data(model.index(r, 0), IdRole) for r in range(4)} == set(ids[1:])


def test_sidebar_counts(qtmodeltester: Any, prof: Any) -> None:
    prof.seed(3, status=states.DRAFT)
    prof.seed(2, status=states.READY, seed=2)
    model = SidebarModel(prof.store)
    model.refresh()
    qtmodeltester.check(model, force_py=True)
    counts = {model.key(r): model.data(model.index(r, 0), Qt.ItemDataRole.UserRole + 3)
              for r in range(model.rowCount())}
    assert counts["drafts"] == 3 and counts["ready"] == 2 and counts["all"] == 5
    assert counts["outbox"] == 0
    assert model.data(model.index(0, 0)) == "Drafts (3)"


def test_history_model(qtmodeltester: Any, prof: Any) -> None:
    ids = prof.seed(1, status=states.DRAFT)
    prof.store.transition(ids[0], states.READY, "tester")
    model = HistoryModel()
    model.set_entries(prof.store.history(ids[0]))
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 2
    assert model.data(model.index(1, 3)) == "Ready"
    assert model.data(model.index(1, 1)) == "tester"


def test_history_model_reads_notes_in_the_users_language(prof: Any) -> None:
    from client.common.i18n import set_language
    from client.store import history_notes as notes

    (src,) = prof.seed(1, status=states.DRAFT)
    copy = prof.store.get(src).declaration.model_copy(update={"id": "copy-0001", "lrn": "L2"})
    prof.store.create(copy, "tester", note=notes.COPIED_FROM(source=src))
    prof.store.transition(copy.id, states.READY, "tester", note=notes.CHECKED())
    prof.store.execute_raw_for_tests(  # a row written before notes were codes
        "INSERT INTO history (declaration_id, version, at, actor, from_status, to_status, "
        "note) VALUES ('copy-0001', 1, '2024-01-01T00:00:00Z', 'old', 'ready', 'ready', "
        "'printed by hand')")
    model = HistoryModel()
    model.set_entries(prof.store.history(copy.id))
    shown = [model.data(model.index(r, 4)) for r in range(model.rowCount())]
    assert shown == [f"copied from {src}", "checked", "printed by hand"]
    set_language("fr")  # rendered when shown: the same rows read in French
    shown = [model.data(model.index(r, 4)) for r in range(model.rowCount())]
    assert shown == [f"copiée depuis {src}", "vérifiée", "printed by hand"]


def test_findings_model_errors_first(qtmodeltester: Any) -> None:
    from client.declaration.validation import validate

    findings = validate({"type": "IM", "lrn": "x", "invoice_currency": "ZZZ"})
    model = FindingsModel()
    model.set_findings(findings)
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == len(findings) > 0
    sev = [model.finding(r).severity for r in range(model.rowCount())]
    assert sev == sorted(sev, key=lambda s: 0 if s == "error" else 1)
    assert model.data(model.index(0, 1)).startswith("DE ")


def test_goods_items_model_edits_the_document(qtmodeltester: Any) -> None:
    rows: list[dict[str, Any]] = [{"description": "Tea", "packages": [{"kind": "BX"}]}, {}]
    model = RowsModel(rows, GOODS_COLUMNS)
    qtmodeltester.check(model, force_py=True)
    col = model.column_of("packages[0].number")
    assert model.setData(model.index(1, col), "12")
    assert rows[1] == {"packages": [{"number": "12"}]}
    assert model.data(model.index(0, model.column_of("packages[0].kind"))) == "BX"
    model.insert(2, model.duplicate_of(0))
    assert model.rowCount() == 3 and rows[2] == rows[0] and rows[2] is not rows[0]
    model.remove(0)
    assert model.rowCount() == 2


def test_set_in_and_get_in() -> None:
    doc: dict[str, Any] = {}
    set_in(doc, "declarant.address.city", "Dover")
    set_in(doc, "goods_items[1].packages[0].kind", "CT")
    assert get_in(doc, "declarant.address.city") == "Dover"
    assert get_in(doc, "goods_items[1].packages[0].kind") == "CT"
    set_in(doc, "declarant.address.city", "")
    assert get_in(doc, "declarant.address.city") is None


def test_completion_model(qtmodeltester: Any, qapp: Any) -> None:
    from client.declaration.refdata import default_reference_data
    from ui.editor.completion import CompletionModel, completer_for

    model = CompletionModel([("FR", "France"), ("GB", "United Kingdom")])
    qtmodeltester.check(model, force_py=True)
    comp = completer_for("countries", default_reference_data())
    proxy = comp.model()  # the picker's word filter: by code or by any word of the name

    def codes(text: str) -> list[str]:
        proxy.set_text(text)
        return [proxy.index(r, 0).data(Qt.ItemDataRole.EditRole) for r in range(proxy.rowCount())]

    by_f = codes("F")
    assert by_f[0] == "FI" and by_f.index("FR") < by_f.index("AF")  # codes F… first
    assert "GB" in codes("king unit") and "US" not in codes("king unit")
    assert "GB" not in codes("fran") and "FR" in codes("fran")
    assert codes("") and len(codes("")) > 240  # nothing typed: the whole list


def test_changes_value_is_hashable() -> None:
    assert Changes() == Changes()


def test_first_page_then_the_rest_off_the_gui_thread(qtmodeltester: Any, prof: Any) -> None:
    from ui.models.declarations import FIRST_PAGE

    prof.seed(FIRST_PAGE + 150)
    model = DeclarationTableModel(prof.store)
    pending: list[Any] = []
    model.loader = lambda query, done: pending.append((query, done))
    model.reload()
    assert model.rowCount() == FIRST_PAGE and not model.complete
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, a, b: inserted.append((a, b)))
    query, done = pending.pop()
    done(query())  # what the reader thread delivers
    assert model.rowCount() == FIRST_PAGE + 150 and model.complete
    assert inserted == [(FIRST_PAGE, FIRST_PAGE + 149)]
    # a stale answer (the filter changed meanwhile) is dropped
    model.set_search("LRN010000")
    stale_query, stale_done = pending.pop() if pending else (None, None)
    model.set_search("LRN0100001")
    assert model.rowCount() == 10
    if stale_done is not None:
        stale_done(stale_query())
        assert model.rowCount() == 10
    qtmodeltester.check(model, force_py=True)
