"""The desktop application's entry point: ``comptoir`` with no subcommand.

``main(home)`` opens (or creates) the profile, builds the context (store, writer
executor, network pool, app-wide signals) and shows the main window.  On a first run
it offers the training mode (the in-process sandbox single window); ``--training`` or
``COMPTOIR_TRAINING=1`` starts it directly.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, set_language


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="comptoir")
    p.add_argument("--home", type=Path, default=None)
    p.add_argument("--training", action="store_true")
    p.add_argument("--lang", choices=("en", "fr"), default=None)
    p.add_argument("--pseudo", action="store_true", help="stretching pseudo-locale")
    p.add_argument("--rtl", action="store_true", help="right-to-left layout")
    args, _qt = p.parse_known_args(argv)
    return args


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def open_profile(home: Path, ask_passphrase: Any = None, *,
                 training: bool = False) -> tuple[Any, Any, Any, bool]:
    """(profile, secrets, store, first_run); asks for a passphrase where no keyring is."""
    from client.seal.profile import load_or_init, open_store, profile_exists, secret_store

    first_run = not profile_exists(home)
    passphrase: str | None = None
    for _attempt in range(2):
        try:
            profile = load_or_init(home, passphrase=passphrase, training=training)
            secrets = secret_store(profile, passphrase)
            store = open_store(profile, secrets=secrets)
            return profile, secrets, store, first_run
        except ComptoirError as exc:
            if exc.code not in ("secrets.no_keyring_no_passphrase",
                                "secrets.passphrase_required") or ask_passphrase is None:
                raise
            passphrase = ask_passphrase()
            if not passphrase:
                raise
    raise ComptoirError("secrets.passphrase_required", 2, env="COMPTOIR_PASSPHRASE")


def offer_training(parent: Any) -> bool:
    """First run: ask whether to start the training single window (default: yes)."""
    from PySide6.QtWidgets import QMessageBox

    from ui.i18n import t

    answer = QMessageBox.question(parent, t("training.offer_title"), t("training.offer"),
                                  QMessageBox.StandardButton.Yes
                                  | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


class _SourceLinesNotKept(dict):  # type: ignore[type-arg]
    """:mod:`linecache`'s cache while the app loads: the latest file only (linecache
    reads back what it has just stored), so nothing accumulates."""

    def __setitem__(self, key: Any, value: Any) -> None:
        self.clear()
        super().__setitem__(key, value)


def hold_back_source_lines() -> None:
    """Keep no module's source lines while the window's modules load.

    shiboken's ``__import__`` replacement reads the source of every module imported after
    PySide6 (``inspect.getsource``, to see whether it uses PySide), and linecache kept
    each file's lines: about 28 MB for the window's 700 modules, which clearing the cache
    afterwards did not give back (the freed strings stay in the allocator's arenas).
    A traceback meanwhile reads the lines it shows from the file, as always."""
    import linecache

    if not isinstance(linecache.cache, _SourceLinesNotKept):
        linecache.cache = _SourceLinesNotKept()


def release_source_lines() -> None:
    """The window has loaded: linecache caches again (see hold_back_source_lines)."""
    import linecache

    if isinstance(linecache.cache, _SourceLinesNotKept):
        linecache.cache = {}


class Launch:
    """Start-up in two steps: the first screen, then the main window behind it (#15).

    ``start()`` shows :class:`~ui.firstscreen.FirstScreenWindow` with one screen of rows
    when the profile exists and its key comes from the keyring; its first paint starts
    ``finish()``, which imports the rest, opens the store, builds the main window and
    hands over.  Without a first screen (a first run, a passphrase to ask, training)
    ``finish()`` runs at once, as before.  ``on_ready(window)`` is called once the main
    window shows; ``painted_at`` is the time of the first paint of either table.
    """

    def __init__(self, app: Any, home: Path, args: argparse.Namespace,
                 prefetched: Any = None) -> None:
        self.app, self.home, self.args = app, home, args
        self.prefetched = prefetched  # ui.firstload.prefetch's answer, started before Qt
        self.first: Any = None
        self.window: Any = None
        self.ctx: Any = None
        self.store: Any = None
        self.rc: int | None = None
        self.painted_at: float | None = None
        self.on_ready: Any = None
        self.on_painted: Any = None  # called at the first paint (the bench's figures)
        self._watch: Any = None
        self._finishing = False

    def _watch_paint(self, view: Any, then: Any) -> None:
        from PySide6.QtCore import QEvent, QObject, QTimer

        launch = self

        class FirstPaint(QObject):
            def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt API
                if event.type() == QEvent.Type.Paint:
                    obj.removeEventFilter(self)
                    if launch.painted_at is None:
                        launch.painted_at = time.time()
                        if launch.on_painted is not None:
                            launch.on_painted()
                    if then is not None:
                        QTimer.singleShot(0, then)
                return False

        self._watch = FirstPaint()
        view.installEventFilter(self._watch)

    def start(self) -> None:
        from PySide6.QtCore import QTimer

        training = self.args.training or env_flag("COMPTOIR_TRAINING")
        if training:
            got = None
        elif self.prefetched is not None:
            got = self.prefetched()
        else:
            got = _first_screen(self.home)
        if got is None:
            self.finish()
            return
        profile, screen = got
        if not self.args.lang and screen.language:
            set_language(screen.language)
        from ui.firstscreen import FirstScreenWindow

        self.first = FirstScreenWindow(screen, training=profile.training)
        self._watch_paint(self.first.table.viewport(), self.finish)
        self.first.show()
        QTimer.singleShot(2000, self.finish)  # no paint (a hidden screen): go on anyway

    def finish(self) -> None:
        """Open the store, build the main window, show it (in the first screen's place)."""
        if self._finishing:  # once; a dialog's own event loop may fire the fallback timer
            return
        self._finishing = True
        from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox

        from client.seal.profile import profile_exists, training_home
        from client.store import settings_keys as keys
        from ui.context import AppContext, error_text
        from ui.i18n import t
        from ui.signals import AppSignals
        from ui.workers import NetworkPool, ReaderPool, WriterExecutor

        def ask() -> str | None:
            text, ok = QInputDialog.getText(None, "Comptoir", t("app.passphrase"),
                                            QLineEdit.EchoMode.Password)
            return text if ok else None

        home = self.home
        training = self.args.training or env_flag("COMPTOIR_TRAINING")
        if not training and not profile_exists(home) and not env_flag("COMPTOIR_UI_NO_PROMPT"):
            training = offer_training(None)
        if training:  # its own profile folder: the user's profile is never opened
            home = training_home(home)
        try:
            profile, secrets, store, _first_run = open_profile(home, ask, training=training)
        except ComptoirError as exc:
            QMessageBox.critical(None, "Comptoir", error_text(exc))
            print(f"comptoir: {exc.render()}", file=sys.stderr)
            self.rc = exc.exit_code
            if self.first is not None:
                self.first.close()
            self.app.exit(exc.exit_code)
            return
        self.store = store
        if not self.args.lang:
            lang = store.get_setting(keys.LANGUAGE)
            if lang:
                set_language(lang)

        from ui.mainwindow import MainWindow

        self.ctx = ctx = AppContext(profile=profile, store=store, signals=AppSignals(),
                                    writer=WriterExecutor(), network=NetworkPool(),
                                    reader=ReaderPool(), secrets_factory=lambda: secrets)
        self.window = window = MainWindow(ctx)
        if self.painted_at is None:
            self._watch_paint(window.table.viewport(), None)
        if self.first is not None:
            self.first.hand_over(window)
            self.first = None
        else:
            window.show()

        if training:
            from ui.training import start_training

            start_training(ctx, window)

        hook = os.environ.get("COMPTOIR_UI_TEST_HOOK")
        if hook:
            from ui.testhook import run_hook

            run_hook(window, hook)
        release_source_lines()
        if self.on_ready is not None:
            self.on_ready(window)

    def shutdown(self) -> None:
        if self.window is not None:
            self.window.sync.stop()
        ctx = self.ctx
        if ctx is not None:
            ctx.network.shutdown()
            self.window.sync.close()
            ctx.reader.shutdown()
            ctx.writer.shutdown()
            if ctx.training is not None:
                ctx.training.stop()
        if self.store is not None:
            self.store.close()


def _first_screen(home: Path) -> Any:
    from ui.firstload import load_first_screen

    return load_first_screen(home)


def prefetch_first_screen(home: Path, args: argparse.Namespace) -> Any:
    """Read the first screen on a thread while Qt loads (None in training mode)."""
    if args.training or env_flag("COMPTOIR_TRAINING"):
        return None
    from ui.firstload import prefetch

    return prefetch(home)


def make_app(args: argparse.Namespace) -> Any:
    """The QApplication, named, with its icon, layout direction and language."""
    hold_back_source_lines()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from ui.i18n import set_pseudo

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Comptoir")
    app.setDesktopFileName("comptoir")  # resources/comptoir.desktop: the dock shows its icon

    from ui.icons import icon

    app.setWindowIcon(icon("comptoir"))
    if args.pseudo:
        set_pseudo(True)
    if args.rtl:
        app.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    if args.lang:
        set_language(args.lang)
    return app


def main(home: Path | None = None, argv: list[str] | None = None) -> int:
    """Run the desktop app on the profile in ``home``; returns the exit code."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    home = Path(args.home or home or _default_home()).expanduser().resolve()
    prefetched = prefetch_first_screen(home, args)
    app = make_app(args)
    launch = Launch(app, home, args, prefetched)
    launch.start()
    try:
        rc = app.exec() if launch.rc is None else launch.rc
    finally:
        launch.shutdown()
    return int(launch.rc if launch.rc is not None else rc)


def _default_home() -> Path:
    from client.seal.profile import default_home

    return default_home()


if __name__ == "__main__":
    sys.exit(main())
