"""Reference data the sandbox serves: code lists read from a folder, plus its own lists.

A folder holds JSON code lists in the HMRC ``conf/code-lists`` shape: a list of
``{"code": ..., "en": ..., "fr"?: ...}``.  Files of another shape are skipped.  The
sandbox adds ``sandboxErrorCodes`` (explanations of its own rejection codes, from the
translation catalogues) and ``validationProfile``.  Each list is versioned by the store:
its version moves when its content changes, so clients fetch deltas with ``since``.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from client.common.i18n import LANGUAGES, tr

# The sandbox's own per-envelope rejection codes (explained in the catalogues as
# "sandbox.code.<CODE>").
SERVER_CODES = (
    "SIGNATURE_INVALID", "CERT_NOT_OWNED", "KIND_NOT_SUPPORTED", "HEADER_MISMATCH",
    "IDEMPOTENCY_CONFLICT", "CHAIN_FORK", "PAYLOAD_INVALID",
)

MAX_LIST_FILE = 32 << 20


def builtin_dir() -> Path:
    """resources/refdata/sandbox: the small demo set."""
    return Path(str(resources.files("resources") / "refdata" / "sandbox"))


def load_lists(folder: Path | None, country: str = "GB") -> dict[str, dict[str, dict[str, str]]]:
    """Every list by name: code -> {language: text} (French falls back to English)."""
    folder = folder or builtin_dir()
    lists: dict[str, dict[str, dict[str, str]]] = {}
    for path in sorted(folder.glob("*.json")):
        if path.stat().st_size > MAX_LIST_FILE:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeError):
            continue
        entries = _entries(data)
        if entries:
            lists[path.stem] = entries
    lists["sandboxErrorCodes"] = {
        code: {lang: tr(f"sandbox.code.{code}", lang) for lang in LANGUAGES}
        for code in SERVER_CODES}
    lists["validationProfile"] = {
        "mrn_country": {"en": country, "fr": country},
        "max_batch": {"en": "500", "fr": "500"},
    }
    return lists


def _entries(data: Any) -> dict[str, dict[str, str]]:
    if not isinstance(data, list):
        return {}
    out: dict[str, dict[str, str]] = {}
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            return {}
        en = item.get("en")
        if not isinstance(en, str):
            return {}
        fr = item.get("fr") if isinstance(item.get("fr"), str) else en
        out[item["code"]] = {"en": en, "fr": fr}
    return out


def digest(entries: dict[str, dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
