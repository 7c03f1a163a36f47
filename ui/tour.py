"""The guided tour of training mode: seven steps, each checked, each reachable from Help.

The tour teaches what Comptoir is for by making the user do it against the training
single window: seal one, cut the link, seal more (they wait in the outbox), restore the
link, watch the outbox drain, read a rejection's reasons and fix it, print a fallback
document.  A step is done when the store shows it done (:func:`client.services.training.
tour_facts`, compared with the facts when the step began) or the link is as it asks; the
panel then ticks it and moves on by itself.  Nothing here writes: the user acts through
the window's own actions, so the tour cannot teach a path the window does not have.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from client.services.training import TourFacts, tour_facts
from ui.i18n import t

Check = Callable[[TourFacts, TourFacts, bool], bool]


@dataclass(frozen=True)
class TourStep:
    """One step: its key (``tour.step.<key>.title`` / ``.text``) and when it is done,
    from the facts now, the facts when the step began, and whether the link is up."""

    key: str
    done: Check


STEPS: tuple[TourStep, ...] = (
    TourStep("seal_one", lambda now, base, _up: now.sealed >= base.sealed + 1),
    TourStep("cut_link", lambda _now, _base, up: not up),
    TourStep("seal_more", lambda now, base, up: not up and now.sealed >= base.sealed + 2
             and now.queued >= 2),
    TourStep("restore", lambda _now, _base, up: up),
    TourStep("drain", lambda now, _base, up: up and now.queued == 0),
    TourStep("fix_rejection", lambda now, _base, _up: now.rejection_fixed),
    TourStep("fallback", lambda now, base, _up: now.fallback_printed
             > base.fallback_printed),
)


class TourPanel(QDockWidget):
    """The tour beside the declarations: the checklist, the step's explanation, whether it
    is done yet, and Back / Next (a step may be skipped; it still ticks when done)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window_ = window
        self.ctx = window.ctx
        self.setObjectName("tourPanel")
        self.index = 0
        self.done: set[str] = set()
        self.base: TourFacts = self._facts()
        self.steps = QListWidget()
        self.steps.setObjectName("tourSteps")
        self.steps.currentRowChanged.connect(self._row_chosen)
        self.title_text = ""
        self.text = QTextBrowser()  # wraps and scrolls long explanations in any language
        self.text.setObjectName("tourText")
        self.text.setFrameShape(QFrame.Shape.NoFrame)
        self.text.setOpenLinks(False)
        self.state = QLabel()
        self.state.setObjectName("tourState")
        self.state.setWordWrap(True)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.back_button = QPushButton()
        self.next_button = QPushButton()
        self.back_button.clicked.connect(lambda: self.go(self.index - 1))
        self.next_button.clicked.connect(lambda: self.go(self.index + 1))
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.addWidget(self.notice)
        lay.addWidget(self.steps)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.state)
        row = QHBoxLayout()
        row.addWidget(self.back_button)
        row.addStretch(1)
        row.addWidget(self.next_button)
        lay.addLayout(row)
        self.setWidget(body)
        self.setMinimumWidth(320)
        self._timer = QTimer(self, interval=500)
        self._timer.timeout.connect(self.check)
        self.ctx.signals.operation_did_execute.connect(lambda _c, _i: self.check())
        self.ctx.signals.language_changed.connect(lambda _l: self.retranslate())
        self.retranslate()

    def _facts(self) -> TourFacts:
        return tour_facts(self.ctx.store)

    @property
    def link_up(self) -> bool:
        return self.ctx.training is not None and bool(self.ctx.training.up)

    def step(self) -> TourStep:
        return STEPS[self.index]

    def retranslate(self) -> None:
        self.setWindowTitle(t("tour.title"))
        self.back_button.setText(t("tour.back"))
        self.next_button.setText(t("tour.next"))
        self.notice.setText("" if self.ctx.profile.training else t("tour.training_only"))
        self.notice.setVisible(not self.ctx.profile.training)
        self.steps.blockSignals(True)
        self.steps.clear()
        for n, s in enumerate(STEPS, 1):
            mark = "\u2713" if s.key in self.done else "\u25cb"
            item = QListWidgetItem(f"{mark} {n}. {t(f'tour.step.{s.key}.title')}")
            item.setData(Qt.ItemDataRole.UserRole, s.key)
            self.steps.addItem(item)
        self.steps.setCurrentRow(self.index)
        self.steps.blockSignals(False)
        rows = self.steps.sizeHintForRow(0) * len(STEPS) + 2 * self.steps.frameWidth() + 4
        self.steps.setFixedHeight(max(rows, 60))
        key = self.step().key
        self.title_text = t("tour.step_of", n=self.index + 1, total=len(STEPS),
                            title=t(f"tour.step.{key}.title"))
        self.text.setHtml(f"<h3>{html.escape(self.title_text)}</h3>"
                          f"<p>{html.escape(t(f'tour.step.{key}.text'))}</p>")
        if key in self.done:
            last = self.index == len(STEPS) - 1
            self.state.setText(t("tour.finished") if last and len(self.done) == len(STEPS)
                               else t("tour.done"))
        else:
            self.state.setText(t("tour.waiting"))
        self.back_button.setEnabled(self.index > 0)
        self.next_button.setEnabled(self.index < len(STEPS) - 1)

    def _row_chosen(self, row: int) -> None:
        if 0 <= row < len(STEPS) and row != self.index:
            self.go(row)

    def go(self, index: int) -> None:
        """Show step ``index``; its check starts from the facts as they are now."""
        self.index = max(0, min(index, len(STEPS) - 1))
        self.base = self._facts()
        self.retranslate()
        self.check()

    def start(self, index: int = 0) -> None:
        self.go(index)
        self.show()
        self.raise_()
        self._timer.start()

    def check(self) -> bool:
        """Tick the current step when it is done, and move on to the next one."""
        if not self.isVisible() or self.ctx.training is None:
            return False  # no training single window (yet): nothing to check against
        s = self.step()
        if s.key in self.done or not s.done(self._facts(), self.base, self.link_up):
            return False
        self.done.add(s.key)
        if self.index < len(STEPS) - 1:
            self.go(self.index + 1)
        else:
            self.retranslate()
        return True

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        self._timer.stop()
        super().closeEvent(event)


class HelpMenu:
    """The window's Help menu: the guided tour, and each of its steps directly."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.panel: TourPanel | None = None
        self.menu = window.menuBar().addMenu("")
        self.menu.setObjectName("menu_help")
        self.tour_action = QAction(window)
        self.tour_action.setObjectName("action_tour")
        self.tour_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.tour_action.triggered.connect(lambda _on=False: self.open_tour())
        self.menu.addAction(self.tour_action)
        self.steps_menu = self.menu.addMenu("")
        self.step_actions: list[QAction] = []
        for n, _s in enumerate(STEPS):
            a = QAction(window)
            a.setObjectName(f"action_tour_{STEPS[n].key}")
            a.triggered.connect(lambda _on=False, i=n: self.open_tour(i))
            self.steps_menu.addAction(a)
            self.step_actions.append(a)
        window.ctx.signals.language_changed.connect(lambda _l: self.retranslate())
        self.retranslate()

    def retranslate(self) -> None:
        self.menu.setTitle(t("menu.help"))
        self.tour_action.setText(t("action.tour"))
        self.tour_action.setToolTip(t("action.tour.tip"))
        self.steps_menu.setTitle(t("menu.tour_steps"))
        for n, (a, s) in enumerate(zip(self.step_actions, STEPS, strict=True), 1):
            a.setText(f"&{n}. {t(f'tour.step.{s.key}.title')}")

    def link_changed(self) -> None:
        """The training link was cut or restored: the tour checks its step now."""
        if self.panel is not None:
            self.panel.check()

    def open_tour(self, index: int | None = None) -> TourPanel:
        """Show the tour (at step ``index``, else where the user left it)."""
        if self.panel is None:
            self.panel = TourPanel(self.window)
            self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel)
        self.panel.start(self.panel.index if index is None else index)
        return self.panel
