"""Compile Comptoir's own modules to bytecode, as pip does for every package it installs.

An editable install (``./dev.sh setup``) leaves the project's sources out of pip's
compile step, and where bytecode is never written at run time (PYTHONDONTWRITEBYTECODE,
set on this build machine and in many container images) every launch of the window
compiled its hundred-odd modules again: 0.15-0.5 s before the first paint (bench ui).
Run by ``./dev.sh setup`` and by ``bench/run.py`` before it times a launch; only what
changed since the last run is compiled again (timestamps, as Python checks them).
One process: a pool took longer than the whole job (0.15-0.25 s against 0.05 s when up
to date, the common case of every ``./dev.sh run``).
"""

from __future__ import annotations

import compileall
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("client", "sync", "ui", "resources")


def compile_packages(root: Path = ROOT) -> bool:
    """Write the bytecode of the packages the app imports; False if one failed."""
    ok = True
    for name in PACKAGES:
        ok = bool(compileall.compile_dir(root / name, quiet=1)) and ok
    return ok


if __name__ == "__main__":
    sys.exit(0 if compile_packages() else 1)
