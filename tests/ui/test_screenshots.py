"""Screenshots of the main views in English and French (tests/artifacts/screenshots/),
and layouts that survive long strings (a stretching pseudo-locale) and right-to-left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QGroupBox, QLabel, QWidget

from client.common.i18n import set_language
from client.declaration import states

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


def clipped(root: QWidget) -> list[str]:
    """Visible labels and buttons narrower than their text needs."""
    QApplication.processEvents()
    bad = []
    for w in root.findChildren(QWidget):
        if not w.isVisible() or w.width() <= 0:
            continue
        if isinstance(w, QLabel) and not w.wordWrap() and w.text():
            if w.width() + 1 < w.minimumSizeHint().width():
                bad.append(f"label {w.text()!r} {w.width()} < {w.minimumSizeHint().width()}")
        elif isinstance(w, QAbstractButton) and w.text() and type(w).__name__ == "QPushButton":
            if w.width() + 1 < w.sizeHint().width():
                bad.append(f"button {w.text()!r} {w.width()} < {w.sizeHint().width()}")
        elif isinstance(w, QGroupBox) and w.width() + 1 < w.minimumSizeHint().width():
            bad.append(f"group {w.title()!r}")
    return bad


def _populate(prof: Any) -> str:
    from client.seal.keys import create_key
    from client.seal.sealing import Sealer

    prof.seed(12, status=states.READY, seed=1)
    drafts = prof.seed(5, status=states.DRAFT, seed=2)
    create_key(prof.home, prof.secrets)
    sealer = Sealer(prof.profile, prof.store, prof.secrets)
    for decl_id in prof.seed(3, status=states.READY, seed=3):
        sealer.seal(decl_id)
    return drafts[0]


def _editor_with_findings(window: Any, draft: str) -> Any:
    ed = window.open_editor(draft)
    ed.widgets["invoice_currency"].setText("")
    ed._edited("invoice_currency", "")
    ed.validate_now()
    return ed


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_screenshots(lang: str, window: Any, prof: Any, qtbot: Any) -> None:
    from ui.settings import apply_language

    draft = _populate(prof)
    apply_language(window.ctx, lang)
    out = SHOTS / lang
    out.mkdir(parents=True, exist_ok=True)
    window.resize(1280, 760)
    window.sidebar_model.refresh()
    for r in range(window.sidebar_model.rowCount()):
        key = window.sidebar_model.key(r)
        window.select_view(key)
        QApplication.processEvents()
        assert window.grab().save(str(out / f"main_{key}.png"))
    ed = _editor_with_findings(window, draft)
    for i in range(ed.tabs.count()):
        ed.tabs.setCurrentIndex(i)
        QApplication.processEvents()
        assert ed.grab().save(str(out / f"editor_{i}_{ed.tabs.tabText(i).replace('&', '')}.png"))
        assert not clipped(ed), clipped(ed)
    cont = window.open_continuity()
    QApplication.processEvents()
    assert cont.grab().save(str(out / "continuity.png"))
    assert not clipped(cont), clipped(cont)
    sett = window.open_settings()
    QApplication.processEvents()
    assert sett.grab().save(str(out / "settings.png"))
    assert not clipped(sett), clipped(sett)
    assert len(list(out.glob("*.png"))) >= 7 + 5 + 2


@pytest.mark.parametrize("mode", ["pseudo", "rtl", "pseudo-fr-rtl"])
def test_long_strings_and_right_to_left(mode: str, window: Any, prof: Any, qtbot: Any) -> None:
    from ui.i18n import set_pseudo

    draft = _populate(prof)
    app = QApplication.instance()
    if "pseudo" in mode:
        set_pseudo(True)
    if "fr" in mode:
        set_language("fr")
    if "rtl" in mode:
        app.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    try:
        window.ctx.signals.language_changed.emit("x")
        out = SHOTS / "layout"
        out.mkdir(parents=True, exist_ok=True)
        QApplication.processEvents()
        assert window.grab().save(str(out / f"main_{mode}.png"))
        from PySide6.QtWidgets import QToolButton

        for b in window.toolbar.findChildren(QToolButton):
            if b.isVisible() and b.defaultAction() is not None:
                assert b.width() + 1 >= b.sizeHint().width(), b.text()
        ed = _editor_with_findings(window, draft)
        for i in range(3):
            ed.tabs.setCurrentIndex(i)
            assert not clipped(ed), (i, clipped(ed))
        ed.tabs.setCurrentIndex(0)
        assert ed.grab().save(str(out / f"editor_{mode}.png"))
        if "pseudo" in mode:
            assert ed.tabs.tabText(0).startswith("[")
        for dlg in (window.open_continuity(), window.open_settings()):
            assert not clipped(dlg), clipped(dlg)
            assert dlg.grab().save(str(out / f"{dlg.objectName()}_{mode}.png"))
    finally:
        app.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        set_pseudo(False)
        set_language("en")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_commodity_finder_screenshot(window: Any, lang: str) -> None:
    from client.common.i18n import set_language
    from ui.editor.finder import CommodityFinder

    set_language(lang)
    finder = CommodityFinder(window.ctx.refdata, lang, window)
    finder.search.setText("coffee roasted")
    finder.show()
    QApplication.processEvents()
    assert finder.results.count() > 0 and " — " in finder.results.item(0).text()
    assert "DE 6/14" in finder.windowTitle()
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"commodity-finder-{lang}.png"
    assert finder.grab().save(str(path))
    assert not clipped(finder)
    finder.close()
    set_language("en")
