"""The import result and the notifications' child reader shared by the DMS modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree

from client.common.i18n import Message
from client.declaration.model import Declaration
from client.interchange.dms.spec import NS_DEC, NS_MD
from client.interchange.safexml import local

__all__ = ["NS_DEC", "NS_MD", "DmsImport", "StatusChange", "Kind"]

Kind = Literal["declaration", "amendment", "cancellation", "notification", "wrapped", "unknown"]


@dataclass
class StatusChange:
    """One status change of a lodged declaration, in the shape of the sync feed."""

    declaration_mrn: str | None
    lrn: str | None
    function_code: str | None
    status: str
    at: str | None
    errors: list[dict[str, str]] = field(default_factory=list)
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "declaration_mrn": self.declaration_mrn,
            "lrn": self.lrn,
            "function_code": self.function_code,
            "status": self.status,
            "at": self.at,
            "errors": self.errors,
            "version": self.version,
        }


@dataclass
class DmsImport:
    """What one XML file turned out to be, and what of it the model holds."""

    kind: Kind
    function_code: str | None
    declaration: Declaration | None
    unmapped: list[str]
    original: bytes
    notification: list[StatusChange] | None
    message: Message
    # Values the model refused (out of its bounds), kept verbatim: (element path, reason).
    refused: list[tuple[str, str]] = field(default_factory=list)
    # Schema hints (xsi:schemaLocation…) not carried over: they name the sender's files.
    dropped: list[str] = field(default_factory=list)
    # Schema errors of a file imported all the same (lenient), by line and element.
    schema_errors: list[Any] = field(default_factory=list)

    def report(self) -> list[Any]:
        """What exporting this import would change, after canonicalisation: values
        normalised (``05`` -> ``5``), siblings reordered, hints dropped.  Empty: lossless."""
        if self.declaration is None:
            return []
        from client.interchange.dms.canonical import Difference, differences
        from client.interchange.dms.writer import export_dms

        out = [Difference("dropped", p) for p in self.dropped]
        return out + differences(self.original, export_dms(self.declaration))

    @property
    def importable(self) -> bool:
        """True when there is a declaration to store (original, amendment, cancellation, unwrapped)."""
        return self.declaration is not None

    def to_json(self) -> dict[str, Any]:
        d = self.declaration
        return {
            "id": d.id if d else None,
            "kind": self.kind,
            "lrn": d.lrn if d else None,
            "function_code": self.function_code,
            "unmapped": self.unmapped,
            "refused": [{"path": p, "reason": r} for p, r in self.refused],
            "message": self.message.to_json(),
        }



class _Reader:
    """Reads children by local name (the notifications' light reader)."""

    def kid(self, el: etree._Element | None, name: str) -> etree._Element | None:
        if el is None:
            return None
        for c in el:
            if local(c) == name:
                return c
        return None

    def text(self, el: etree._Element | None, *path: str) -> str | None:
        """Text at a child path; None if absent or empty."""
        cur = el
        for step in path:
            cur = self.kid(cur, step)
            if cur is None:
                return None
        value = (cur.text or "").strip() if cur is not None else ""
        return value or None
