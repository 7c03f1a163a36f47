"""The desktop's names for the places of a declaration: those of
:mod:`client.declaration.labels` (shared with the command line), in the pseudo-locale's
stretched form when it is on, so that every front end says "Country of dispatch (DE 5/14)".
"""

from __future__ import annotations

from typing import Any

from client.common.i18n import Message
from client.declaration import labels
from ui.i18n import pseudo, render, stretch


def field_label(path: str, *, with_de: bool = True) -> str:
    """``Country of dispatch (DE 5/14)``: the label a field has in the form."""
    text = labels.field_label(path, with_de=with_de)
    return stretch(text) if pseudo() else text


def field_help(path: str) -> str:
    """The one-line help of a field: its data element's description."""
    return labels.field_help(path)


def kind_label(kind: str) -> str:
    """``IMA`` -> "import, A: Standard declaration"; ``IM/T1`` -> "import, transit T1"."""
    return labels.kind_label(kind)


def finding_text(message: Any) -> str:
    """A finding's message with its ``field`` and ``kind`` parameters in human words."""
    if not isinstance(message, Message):
        return render(message)
    return render(labels.finding_message(message))
