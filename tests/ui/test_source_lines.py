"""The app loads with linecache keeping no module's source (ui.app.hold_back_source_lines):
PySide6's import hook reads every module's source, ~28 MB of lines that stayed (#15)."""

from __future__ import annotations

import linecache

import ui.app
from ui.app import hold_back_source_lines, release_source_lines


class _FrozenLoader:
    """A packaged build's modules: no file on disk, the source (if any) from the loader."""

    @staticmethod
    def get_source(name: str) -> str:
        return "frozen = True\n"


def test_lines_are_read_while_held_back_but_not_kept() -> None:
    hold_back_source_lines()
    try:
        assert linecache.getlines(ui.app.__file__)[0].startswith('"""')
        assert linecache.getlines(linecache.__file__)
        assert len(linecache.cache) <= 1  # the latest file only: nothing accumulates
        # A module without a file (PyInstaller's), its lines from its loader: linecache
        # stores the lazy entry and reads it back; that must still work.
        module_globals = {"__name__": "comptoir_frozen_module", "__loader__": _FrozenLoader()}
        assert linecache.getlines("/nonexistent/comptoir_frozen_module.py",
                                  module_globals) == ["frozen = True\n"]
    finally:
        release_source_lines()
    assert type(linecache.cache) is dict
    linecache.getlines(ui.app.__file__)
    assert ui.app.__file__ in linecache.cache  # cached again once the window is up
