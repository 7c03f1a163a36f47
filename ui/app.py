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
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, set_language
from client.store import settings_keys as keys


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


def main(home: Path | None = None, argv: list[str] | None = None) -> int:
    """Run the desktop app on the profile in ``home``; returns the exit code."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    home = Path(args.home or home or _default_home()).expanduser().resolve()

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox

    from ui.context import AppContext, error_text
    from ui.i18n import set_pseudo, t
    from ui.signals import AppSignals
    from ui.workers import NetworkPool, ReaderPool, WriterExecutor

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

    def ask() -> str | None:
        text, ok = QInputDialog.getText(None, "Comptoir", t("app.passphrase"),
                                        QLineEdit.EchoMode.Password)
        return text if ok else None

    from client.seal.profile import profile_exists, training_home

    training = args.training or env_flag("COMPTOIR_TRAINING")
    if not training and not profile_exists(home) and not env_flag("COMPTOIR_UI_NO_PROMPT"):
        training = offer_training(None)
    if training:  # its own profile folder: the user's profile is never opened
        home = training_home(home)
    try:
        profile, secrets, store, first_run = open_profile(home, ask, training=training)
    except ComptoirError as exc:
        QMessageBox.critical(None, "Comptoir", error_text(exc))
        print(f"comptoir: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    if not args.lang:
        lang = store.get_setting(keys.LANGUAGE)
        if lang:
            set_language(lang)

    from ui.mainwindow import MainWindow

    writer = WriterExecutor()
    network = NetworkPool()
    ctx = AppContext(profile=profile, store=store, signals=AppSignals(), writer=writer,
                     network=network, reader=ReaderPool(), secrets_factory=lambda: secrets)
    window = MainWindow(ctx)
    window.show()

    if training:
        from ui.training import start_training

        start_training(ctx, window)

    hook = os.environ.get("COMPTOIR_UI_TEST_HOOK")
    if hook:
        from ui.testhook import run_hook

        run_hook(window, hook)

    try:
        rc = app.exec()
    finally:
        window.sync.stop()
        network.shutdown()
        window.sync.close()
        ctx.reader.shutdown()
        writer.shutdown()
        if ctx.training is not None:
            ctx.training.stop()
        store.close()
    return int(rc)


def _default_home() -> Path:
    from client.seal.profile import default_home

    return default_home()


if __name__ == "__main__":
    sys.exit(main())
