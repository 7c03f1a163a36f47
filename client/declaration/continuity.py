"""What each procedure allows during an outage of the single window (issue #14).

The rule table is reference data (``resources/refdata/continuity.csv``), one row per
procedure: the paper document to print, whether the declaration must be lodged
electronically after recovery (and within how many days) or must never be, and what
must be withdrawn.  Import and export fall back on a paper SAD that is lodged
electronically once the link returns, once; transit (UCC-IA Annex 72-04) ends on paper,
is never lodged afterwards, and an LRN already lodged for it is withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal

from client.declaration.refdata import _seed_rows

LodgeAfter = Literal["must", "never"]
SIMPLIFIED_TYPES = frozenset("BCEF")  # DE 1/2 simplified / pre-lodged simplified
SUPPLEMENTARY_TYPES = frozenset("XYZ")  # DE 1/2 supplementary declarations


@dataclass(frozen=True)
class ContinuityRule:
    """One procedure's continuity rule."""

    procedure: str
    paper_document: str  # fallback_sad | transit_accompanying_document | none
    lodge_after: LodgeAfter
    deadline_days: int | None
    withdraw: str  # none | lodged_lrn
    basis: str

    @property
    def paper_procedure(self) -> bool:
        """True when the movement ends on paper and must never be lodged electronically."""
        return self.lodge_after == "never"

    def deadline(self, printed_at: str) -> str | None:
        """When the electronic lodging is due after a paper document printed at
        ``printed_at`` (ISO 8601, UTC); None without a deadline."""
        if self.deadline_days is None:
            return None
        start = datetime.fromisoformat(printed_at.replace("Z", "+00:00"))
        return (start + timedelta(days=self.deadline_days)).astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ")


@cache
def rule_table() -> dict[str, ContinuityRule]:
    """The rule table as shipped, by procedure."""
    out: dict[str, ContinuityRule] = {}
    for row in _seed_rows("continuity.csv"):
        procedure, paper, lodge, days, withdraw, basis = row
        if lodge not in ("must", "never"):
            raise ValueError(f"continuity.csv: {procedure}: lodge_after {lodge!r}")
        out[procedure] = ContinuityRule(procedure, paper, lodge,  # type: ignore[arg-type]
                                        int(days) if days else None, withdraw, basis)
    return out


def procedure_of(decl: Any) -> str:
    """Which row applies to a declaration (a model or its JSON document)."""
    get = decl.get if isinstance(decl, dict) else (lambda k: getattr(decl, k, None))
    if (get("transit_type") or "").strip():
        return "transit"
    additional = (get("additional_type") or "").strip().upper()
    if additional in SUPPLEMENTARY_TYPES:
        return "supplementary"
    if additional in SIMPLIFIED_TYPES:
        return "simplified"
    return {"EX": "export", "CO": "fiscal"}.get(get("type") or "IM", "import")


def rule_for(decl: Any) -> ContinuityRule:
    """The continuity rule of a declaration."""
    return rule_table()[procedure_of(decl)]
