"""The guided tour, walked whole against the real training single window (in-process HTTPS).

Each step is done through the window's own actions and controls (the Help menu, the
status bar's Link switch, seal, new version, Continuity's print), and the tour must tick
it and move on by itself; between steps the store is checked for what the step teaches
(envelopes waiting while the link is cut, all of them lodged after it is restored, the
rejection explained in the user's language).  Screenshots of every step in English and
French go to tests/artifacts/tour/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.common.i18n import set_language
from client.declaration import states
from client.services.training import KINDS, REJECTED_LRN

pytest.importorskip("sync.engine")

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "tour"


class Training:
    """A training profile and its open store (the app opens it the same way)."""

    def __init__(self, home: Path) -> None:
        from client.seal.profile import load_or_init, open_store, secret_store

        self.profile = load_or_init(home, training=True)
        self.secrets = secret_store(self.profile)
        self.store = open_store(self.profile, secrets=self.secrets)

    def context(self) -> Any:
        from ui.context import AppContext
        from ui.signals import AppSignals
        from ui.workers import ImmediateRunner

        return AppContext(profile=self.profile, store=self.store, signals=AppSignals(),
                          writer=ImmediateRunner(), network=ImmediateRunner(),
                          secrets_factory=lambda: self.secrets)


@pytest.fixture
def trained(qtbot: Any, tmp_path: Path) -> Iterator[Any]:
    from client.seal.profile import training_home
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController
    from ui.training import start_training

    prof = Training(training_home(tmp_path / "home"))
    ctx = prof.context()
    window = MainWindow(ctx, sync=SyncController(ctx, auto=False))
    qtbot.addWidget(window)
    window.resize(1400, 820)
    window.show()
    start_training(ctx, window)  # synchronous runners: up, enrolled, seeded, synced
    try:
        yield window
    finally:
        window.close()
        if ctx.training is not None:
            ctx.training.stop()
        prof.store.close()


def _shot(window: Any, lang: str, n: int, name: str) -> None:
    from PySide6.QtTest import QTest

    QTest.qWait(80)  # the toolbar and the dock lay out before the grab
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SHOTS / f"tour-{lang}-{n}-{name}.png"))


def _ready_ids(window: Any) -> list[str]:
    return window.ctx.store.list_ids(statuses=[states.READY], order_by="created_at",
                                     descending=False)


def _seal_one_ready(window: Any) -> str:
    decl_id = _ready_ids(window)[0]
    window.table_model.refresh() if hasattr(window.table_model, "refresh") else None
    window.select_view("all")
    assert window.select_id(decl_id)
    window.seal_selected()
    return decl_id


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_whole_tour_is_walked_from_the_help_menu(trained: Any, qtbot: Any,
                                                     tmp_path: Path, lang: str) -> None:
    window, store = trained, trained.ctx.store
    set_language(lang)
    trained.ctx.signals.language_changed.emit(lang)
    counts = store.counts_by_status()
    assert counts.get(states.READY) == sum(1 for _k, s in KINDS if s == states.READY)
    assert counts.get(states.REJECTED) == 1 and counts.get(states.UNDER_CONTROL) == 1
    assert window.link_switch.button.isEnabled() and window.link_switch.up

    # the tour is in the Help menu, and so is each step
    help_titles = [a.text() for a in window.menuBar().actions()]
    assert window.help_menu.menu.title() in help_titles
    assert len(window.help_menu.step_actions) == 7
    window.help_menu.tour_action.trigger()
    panel = window.help_menu.panel
    assert panel is not None and panel.isVisible() and panel.index == 0
    _shot(window, lang, 1, "seal_one")

    # 1. seal one: it leaves at once and the single window registers and releases it
    first = _seal_one_ready(window)
    assert panel.index == 1 and "seal_one" in panel.done
    assert store.get(first).status in (states.REGISTERED, states.RELEASED)
    assert store.get(first).mrn
    _shot(window, lang, 2, "cut_link")

    # 2. cut the link: the Link switch in the status bar stops the single window
    window.link_switch.button.click()
    assert not window.ctx.training.up
    assert panel.index == 2
    _shot(window, lang, 3, "seal_more")

    # 3. seal more: they wait in the outbox, signed
    waiting = [_seal_one_ready(window), _seal_one_ready(window)]
    assert store.outbox_stats()[0] == 2
    assert all(store.get(i).status == states.SEALED for i in waiting)
    assert panel.index == 3
    _shot(window, lang, 4, "restore")

    # 4. + 5. restore the link: the outbox drains and each gets its MRN
    window.link_switch.button.click()
    assert window.ctx.training.up
    assert {"restore", "drain"} <= panel.done and panel.index == 5
    assert store.outbox_stats()[0] == 0
    assert all(store.get(i).mrn for i in waiting)
    _shot(window, lang, 5, "fix_rejection")

    # 6. the rejection, explained in the user's language, then fixed and sealed again
    rejected = store.resolve_id(REJECTED_LRN)
    window.select_view("all")
    assert window.select_id(rejected)
    window._show_current_detail()
    qtbot.waitUntil(lambda: window.detail.requested_id == rejected, timeout=5000)
    shown = window.detail.findChildren(object)
    texts = " ".join(w.text() for w in shown if hasattr(w, "text") and callable(w.text)
                     and isinstance(w.text(), str))
    texts += " ".join(w.toPlainText() for w in shown if hasattr(w, "toPlainText"))
    assert "CDS12119" in texts
    low = texts.lower()  # the field is named as the editor does ("Documents for this item")
    assert ("2/3" in texts) and (("document" in low) if lang == "en" else ("document" in low
                                                                           and "régime" in low))
    _shot(window, lang, 6, "rejection_explained")
    window.amend_selected()
    for ed in list(window.editors.values()):
        ed.close()
    draft = store.get(rejected).declaration
    assert draft.version == 2 and store.get(rejected).status == states.DRAFT
    draft.goods_items[0].documents = [d for d in draft.goods_items[0].documents
                                      if d.type != "C505"]
    store.save_draft(draft, window.ctx.actor())
    assert window.select_id(rejected)
    window.seal_selected()
    assert store.get(rejected).status in (states.REGISTERED, states.RELEASED)
    assert panel.index == 6 and "fix_rejection" in panel.done
    _shot(window, lang, 7, "fallback")

    # 7. a fallback document: cut, seal, print from Continuity, restore
    window.link_switch.button.click()
    queued = _seal_one_ready(window)
    dlg = window.open_continuity()
    dlg.print_fallback(tmp_path / "fallback")
    assert store.get(queued).fallback_printed_at
    assert list((tmp_path / "fallback").glob("*.pdf"))
    assert "fallback" in panel.done and len(panel.done) == 7
    _shot(window, lang, 8, "finished")
    dlg.close()
    window.link_switch.button.click()
    assert store.outbox_stats()[0] == 0
    assert store.get(queued).status in (states.REGISTERED, states.RELEASED)


def test_each_step_opens_from_the_help_menu(trained: Any) -> None:
    """Each step from Help; one already true (the link is up: "restore", an empty outbox:
    "drain") is ticked at once and the tour moves past it."""
    from ui.tour import STEPS

    window = trained
    for n, action in enumerate(window.help_menu.step_actions):
        action.trigger()
        panel = window.help_menu.panel
        assert panel.isVisible()
        if STEPS[n].key in ("restore", "drain"):
            assert STEPS[n].key in panel.done and panel.index >= n
            continue
        assert panel.index == n
        assert panel.title_text.startswith(f"Step {n + 1} of 7")
        shown = panel.text.toPlainText()
        assert panel.title_text in shown and len(shown) > len(panel.title_text) + 40
        assert "tour.step" not in shown


def test_a_step_is_not_ticked_until_it_is_done(trained: Any) -> None:
    window = trained
    panel = window.help_menu.open_tour(1)  # cut the link
    assert not panel.check() and panel.index == 1 and not panel.done
    window.help_menu.open_tour(0)  # seal one: opening it again seals nothing
    assert not panel.check() and "seal_one" not in panel.done


def test_outside_training_the_tour_says_where_it_runs(window: Any, prof: Any) -> None:
    """A trader's profile: the tour is in Help all the same, and says it needs training
    mode; its link steps cannot tick (there is no training single window to cut)."""
    assert not prof.profile.training
    panel = window.help_menu.open_tour(1)
    assert not panel.notice.isHidden() and "--training" in panel.notice.text()
    assert not panel.check() and not panel.done
    assert window.link_switch is None
