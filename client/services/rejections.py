"""Why the single window rejected a declaration, in the user's language.

The rejection's error codes (the DMS error code list) are explained from the reference
data held, each with the field it points to (a JSON pointer from the single window, shown
as the model's path) and that field's WCO data-element number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import language
from client.declaration import states
from client.declaration.model import de_number
from client.declaration.refdata import profile_reference_data
from client.store import HistoryEntry, Store


@dataclass(frozen=True)
class RejectionReason:
    code: str
    pointer: str
    de: str | None
    explanation: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "pointer": self.pointer, "de": self.de,
                "explanation": self.explanation, "detail": self.detail}


def pointer_to_path(pointer: str) -> str:
    """A JSON pointer (``/goods_items/0/procedure_code``) as a model path
    (``goods_items[0].procedure_code``); model paths pass through."""
    if not pointer.startswith("/"):
        return pointer
    out = ""
    for step in pointer[1:].split("/"):
        step = step.replace("~1", "/").replace("~0", "~")
        out += f"[{step}]" if step.isdigit() else ("." if out else "") + step
    return out


def _de_of(path: str) -> str | None:
    try:
        return de_number(path) if path else None
    except ValueError:
        return None


def rejection_reasons(history: Sequence[HistoryEntry], refdata: Any,
                      lang: str | None = None) -> list[RejectionReason]:
    """The reasons of the rejection the declaration is in now (none once it has moved on
    from it), from its ``history`` and ``refdata``'s explanations of the codes."""
    lang = lang or language()
    for entry in reversed(history):
        if entry.to_status == states.REJECTED and entry.detail and entry.detail.get("errors"):
            out = []
            for err in entry.detail["errors"]:
                code = str(err.get("code", ""))
                pointer = str(err.get("pointer") or "")
                detail = err.get("detail") or ""
                out.append(RejectionReason(
                    code=code, pointer=pointer, de=_de_of(pointer_to_path(pointer)),
                    explanation=refdata.explain_error(code, lang) or detail, detail=detail))
            return out
        if entry.to_status != states.REJECTED and entry.from_status == states.REJECTED:
            return []
    return []


def rejection_reasons_for(store: Store, decl_id: str, home: Path,
                          lang: str | None = None) -> list[RejectionReason]:
    """:func:`rejection_reasons` of a stored declaration, with the profile's reference data
    (the built-in seed plus the deltas the last sync brought into ``home/refdata``)."""
    return rejection_reasons(store.history(decl_id), profile_reference_data(home / "refdata"),
                             lang)
