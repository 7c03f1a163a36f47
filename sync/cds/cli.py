"""``comptoir connect cds`` and ``comptoir cds …``: the CDS connector's commands."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Add the CDS connector's subcommands."""
