"""GUI strings through the project's one translation mechanism (client.common.i18n).

Every GUI string is a key of ``resources/translations/<lang>/ui.json``; :func:`t`
renders it.  A pseudo-locale (``COMPTOIR_PSEUDO=1`` or :func:`set_pseudo`) stretches
every string by about 40 % and brackets it, so clipped layouts show up in screenshots
and tests before a translator finds them (Vorta's ``TRANS_SCALE``).
"""

from __future__ import annotations

import os
from typing import Any

from client.common.i18n import Message, language, tr

_pseudo: bool | None = None


def set_pseudo(enabled: bool) -> None:
    """Turn the stretching pseudo-locale on or off for this process."""
    global _pseudo
    _pseudo = enabled


def pseudo() -> bool:
    if _pseudo is not None:
        return _pseudo
    return os.environ.get("COMPTOIR_PSEUDO", "") not in ("", "0")


def stretch(text: str) -> str:
    """``Drafts`` -> ``[Ðŕàƒţš~~~]``: longer, accented, bracketed, still readable."""
    table = str.maketrans("aceinorsuyACEINORSUY", "àçéîñøŕšüýÀÇÉÎÑØŔŠÜÝ")
    pad = "~" * max(2, int(len(text) * 0.4))
    return f"[{text.translate(table)}{pad}]"


def t(key: str, **params: Any) -> str:
    """Render ``ui.<key>`` in the current language (pseudo-stretched when asked)."""
    text = tr(f"ui.{key}", **params)
    return stretch(text) if pseudo() else text


def render(message: Message | Any) -> str:
    """A domain Message (findings, errors) in the user's language."""
    text = message.render() if hasattr(message, "render") else str(message)
    return stretch(text) if pseudo() else text


def status_label(status: str) -> str:
    return t(f"status.{status}")


__all__ = ["language", "pseudo", "render", "set_pseudo", "status_label", "stretch", "t"]
