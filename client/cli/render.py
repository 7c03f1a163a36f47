"""Rendering for the command line: JSON on stdout, findings and warnings as lines.

Every command prints through these, so that the output's shape (indentation, one line per
finding, ``comptoir:`` before a warning on stderr) is the same everywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from client.common.i18n import Message, tr
from client.declaration.labels import finding_text, place_label
from client.services.exports import json_text, write_file

dumps = json_text  # JSON as the commands print it: the export form, indented, UTF-8 as is


def render(value: Any) -> str:
    """A message (or anything else) as text in the user's language."""
    return value.render() if isinstance(value, Message) else str(value)


def emit(text: str, output: Path | None) -> None:
    """Text to stdout (with a final newline), or as the whole of ``output``."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_file(output, text.encode("utf-8"))


def warn(message: Message) -> None:
    """A warning on stderr, after the program's name."""
    print(f"comptoir: {message.render()}", file=sys.stderr)


def print_findings(findings: list[Any], out: TextIO | None = None) -> None:
    """One line per finding: severity, rule code, the field as the editor labels it (with
    its DE number; items counted from 1), then the message in the same words."""
    out = out or sys.stdout
    for f in findings:
        sev = tr(f"severity.{f.severity}")
        print(f"{sev} {f.code} {place_label(f.path, f.de)}: {finding_text(f.message)}", file=out)

