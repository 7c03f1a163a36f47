"""The simulated customs pipeline: risk lanes on a compressed clock.

The lane of a declaration is a pure function of the seed and the declaration id, so a
run is reproducible (``--seed``).  Timelines are in sandbox seconds; ``clock_speed``
sandbox seconds pass per real second.  With the default speed the green lane goes
received -> accepted -> released within about a second; ``lane="green"`` forces every
declaration green and releases at once (tests).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Lane = Literal["green", "control", "documents", "rejected"]
LaneMode = Literal["auto", "green"]

DEFAULT_CLOCK_SPEED = 60.0  # sandbox seconds per real second

# Cumulative percentages: 85 green, 7 control, 5 documents requested, 3 rejected.
_LANES: tuple[tuple[int, Lane], ...] = ((85, "green"), (92, "control"), (97, "documents"),
                                        (100, "rejected"))

# (sandbox seconds after acceptance, status) per lane, after "received" and "accepted".
TIMELINES: dict[Lane, tuple[tuple[float, str], ...]] = {
    "green": ((45.0, "released"),),
    "control": ((30.0, "under_control"), (240.0, "tax_assessed"), (300.0, "released")),
    "documents": ((30.0, "documents_requested"), (420.0, "released")),
    "rejected": (),
}

# Rule codes the sandbox's risk engine rejects with (explained in the reference data).
REJECTION_RULES: tuple[tuple[str, str], ...] = (
    ("CDS12056", "/goods_items/0/procedure_code"),
    ("CDS12119", "/goods_items/0/documents"),
    ("CDS10020", "/goods_items/0/commodity_code"),
)


def lane_for(seed: int, declaration_id: str, mode: LaneMode = "auto", version: int = 1) -> Lane:
    """The risk lane of a declaration: deterministic from the seed, its id and version
    (a corrected version after a rejection is assessed afresh)."""
    if mode == "green":
        return "green"
    key = f"{seed}:{declaration_id}" if version == 1 else f"{seed}:{declaration_id}:{version}"
    digest = hashlib.sha256(key.encode()).digest()
    roll = int.from_bytes(digest[:4], "big") % 100
    for bound, lane in _LANES:
        if roll < bound:
            return lane
    return "green"


def rejection_rule(seed: int, declaration_id: str) -> tuple[str, str]:
    digest = hashlib.sha256(f"rule:{seed}:{declaration_id}".encode()).digest()
    return REJECTION_RULES[digest[0] % len(REJECTION_RULES)]


@dataclass(frozen=True)
class Clock:
    """Converts sandbox-time offsets into real-time delays."""

    speed: float = DEFAULT_CLOCK_SPEED
    instant: bool = False

    def delay(self, sandbox_seconds: float) -> float:
        if self.instant or sandbox_seconds <= 0:
            return 0.0
        return sandbox_seconds / max(self.speed, 1e-6)


def schedule(lane: Lane, accepted_at: float, clock: Clock) -> list[tuple[float, str]]:
    """Real-time (due_at, status) steps after acceptance for this lane."""
    return [(accepted_at + clock.delay(offset), status) for offset, status in TIMELINES[lane]]
