"""The desktop entry launches ``comptoir`` with the project's icon, named in both languages."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRY = REPO / "resources" / "comptoir.desktop"


def _entry() -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    cp.read(ENTRY, encoding="utf-8")
    return cp["Desktop Entry"]


def test_desktop_entry_names_the_command_and_an_icon_we_ship() -> None:
    e = _entry()
    assert e["Type"] == "Application"
    assert e["Exec"].split()[0] == "comptoir"  # the console script and the packaged binary
    assert (REPO / "resources" / "icons" / f"{e['Icon']}.svg").is_file()
    assert e["Name"] and e["Comment"] and e["Comment[fr]"] != e["Comment"]
    assert e["StartupWMClass"] == "Comptoir"  # the app's name: the dock groups its windows


def test_desktop_entry_is_valid_for_desktop_file_validate() -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils)")
    out = subprocess.run([tool, str(ENTRY)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
