"""The ``comptoir`` command: no arguments starts the desktop app, a subcommand runs headless.

Each part of the code contributes its subcommands through a module with a
``register(subparsers)`` function; handlers take the parsed arguments and return an
exit code.  Errors are :class:`client.common.i18n.ComptoirError` rendered as one line in the
user's language — never a traceback.  Exit codes: 0 success, 1 validation errors,
2 bad usage or unreadable input, 3 server unreachable with work still queued.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, tr
from client.seal.profile import default_home

# Modules of client/ that add subcommands (sync/ adds its own through the
# "comptoir.commands" entry point group, so that client/ never imports sync/).
COMMAND_MODULES = [
    "client.cli.decl",
    "client.cli.lines",
    "client.cli.templates",
    "client.cli.keys",
    "client.cli.officer",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise ComptoirError("error.usage", 2, detail=f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="comptoir", description=tr("cli.description"))
    parser.add_argument("--home", type=Path, default=None, help=tr("cli.home_help"))
    parser.add_argument("--training", action="store_true", help=tr("cli.training_help"))
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            importlib.import_module(name).register(sub)
        except ModuleNotFoundError as exc:  # a part not installed in this build
            if exc.name != name:
                raise
    for ep in entry_points(group="comptoir.commands"):
        try:
            ep.load()(sub)
        except ModuleNotFoundError:
            continue
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.home = (args.home or default_home()).expanduser().resolve()
        if not args.command:
            if args.training:
                os.environ["COMPTOIR_TRAINING"] = "1"
            return _start_gui(args.home)
        code = args.func(args)
        return int(code or 0)
    except ComptoirError as exc:
        print(f"comptoir: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last net: one line, details in a log file
        log = _log_internal_error(exc, locals().get("args"))
        print(f"comptoir: {tr('error.internal', kind=type(exc).__name__, log=log)}",
              file=sys.stderr)
        return 70


def _log_internal_error(exc: BaseException, args: Any = None) -> str:
    """Write the traceback to a private log file under the profile (never the terminal).

    ``home/logs`` (mode 0700, ours, not a link), never a shared temporary folder that
    someone else could have created first and read.
    """
    import stat
    import traceback

    try:
        home = Path(getattr(args, "home", None) or default_home()).expanduser()
        folder = home / "logs"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return "-"
        os.chmod(folder, 0o700)
        path = folder / "internal-errors.log"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(exc)))
        return str(path)
    except OSError:
        return "-"


def _start_gui(home: Path) -> int:
    """The desktop app is found through the "comptoir.gui" entry point (client/ never
    imports ui/)."""
    found = list(entry_points(group="comptoir.gui"))
    if not found:
        raise ComptoirError("error.gui_unavailable", 2, reason="no comptoir.gui entry point")
    try:
        gui_main = found[0].load()
    except ImportError as exc:
        raise ComptoirError("error.gui_unavailable", 2, reason=str(exc)) from exc
    return int(gui_main(home) or 0)


if __name__ == "__main__":
    sys.exit(main())
