"""One translation mechanism for the CLI and the GUI.

The domain never builds sentences: it returns a message *code* and parameters
(:class:`Message`), and the front end renders it in the user's language from the
catalogues in ``resources/translations/<lang>/*.json``.  Each catalogue file belongs
to one part of the code (``core.json``, ``validation.json``, ``sync.json`` …) so that
parts can grow their strings without touching each other's files.  The same
placeholders must appear in every language (checked by a test).
"""

from __future__ import annotations

import json
import os
import string
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


def detect_language(environ: dict[str, str] | None = None) -> str:
    """The user's language from COMPTOIR_LANG, then the POSIX locale variables."""
    env = os.environ if environ is None else environ
    for var in ("COMPTOIR_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = env.get(var, "")
        if value:
            code = value.split(":")[0].split("_")[0].split(".")[0].lower()
            if code in LANGUAGES:
                return code
            if var != "COMPTOIR_LANG" and code not in ("c", "posix"):
                return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


_language: str | None = None


def set_language(lang: str | None) -> None:
    """Override the process language (the GUI's language setting, tests)."""
    global _language
    _language = lang if lang in LANGUAGES else None


def language() -> str:
    return _language or detect_language()


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All message templates of one language, merged from its catalogue files."""
    merged: dict[str, str] = {}
    folder = resources.files("resources") / "translations" / lang
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            merged.update(json.loads(entry.read_text(encoding="utf-8")))
    return merged


def placeholders(template: str) -> set[str]:
    """The named fields of a ``str.format`` template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class _Lenient(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def tr(code: str, lang: str | None = None, /, **params: Any) -> str:
    """Render message ``code`` with ``params`` in ``lang`` (falls back to English)."""
    lang = lang or language()
    template = catalogue(lang).get(code) or catalogue(DEFAULT_LANGUAGE).get(code)
    if template is None:
        detail = ", ".join(f"{k}={v}" for k, v in params.items())
        return f"{code}" + (f" ({detail})" if detail else "")
    return template.format_map(_Lenient({k: _fmt(v, lang) for k, v in params.items()}))


def _fmt(value: Any, lang: str) -> Any:
    if isinstance(value, Message):
        return value.render(lang)
    return value


@dataclass(frozen=True)
class Message:
    """A translatable message: a stable code plus parameters, rendered late."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        return tr(self.code, lang, **self.params)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params}


class ComptoirError(Exception):
    """An error the user must see as one clear line; ``exit_code`` for the CLI.

    Exit codes: 1 validation errors, 2 bad usage or unreadable input, 3 server
    unreachable with work still queued.
    """

    exit_code = 2

    def __init__(self, code: str, exit_code: int | None = None, /, **params: Any) -> None:
        super().__init__(code)
        self.message = Message(code, params)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def code(self) -> str:
        return self.message.code

    def render(self, lang: str | None = None) -> str:
        return self.message.render(lang)

    def __str__(self) -> str:
        return self.render(DEFAULT_LANGUAGE)
