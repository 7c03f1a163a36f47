"""Test hooks for driving a real app process from tests (``COMPTOIR_UI_TEST_HOOK``).

``type:<text>``   create a draft, open its editor and type ``<text>`` into the UCR
                  field with real key events (QTest), then print ``typed <id>`` and
                  keep running (the test kills the process).
``show-draft``    open the newest draft's editor, print ``ucr=<text>`` and quit.
``training-ready`` wait until the training sandbox is up, enrolled, its examples
                  written and synced once, print its address and quit.
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest


def run_hook(window: Any, hook: str) -> None:
    kind, _, arg = hook.partition(":")
    if kind == "type":
        def opened(ed: Any) -> None:
            field = ed.widgets["ucr"]
            ed.tabs.setCurrentIndex(0)
            field.setFocus()
            for ch in arg:
                QTest.keyClicks(field, ch)
                QTest.qWait(5)
            print(f"typed {ed.decl_id}", flush=True)

        def created() -> None:
            window.editor_opened_hook = opened
            window.new_declaration()

        window.editor_opened_hook = None
        QTimer.singleShot(0, created)
    elif kind == "show-draft":
        def show() -> None:
            from client.declaration import states

            ids = window.ctx.store.list_ids(statuses=[states.DRAFT], order_by="created_at")
            ed = window.open_editor(ids[0])
            print(f"ucr={ed.widgets['ucr'].text()}", flush=True)
            window.close()

        QTimer.singleShot(0, show)
    elif kind == "training-ready":
        def poll() -> None:
            ctx = window.ctx
            switch = getattr(window, "link_switch", None)
            if (ctx.training is not None and window.sync.last_sync_ok and switch is not None
                    and switch.button.isEnabled()):
                from PySide6.QtWidgets import QLabel

                badge = window.statusBar().findChild(QLabel, "trainingBadge")
                print(f"training {ctx.profile.server.get('url')} "
                      f"title={window.windowTitle()} "
                      f"badge={badge.text() if badge else None} "
                      f"examples={ctx.store.count()}", flush=True)
                window.close()
            else:
                QTimer.singleShot(100, poll)

        QTimer.singleShot(0, poll)
    else:
        print(f"unknown hook {hook}", file=sys.stderr)
