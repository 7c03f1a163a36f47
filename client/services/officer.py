"""The field officer's actions and what a trader reads of them: verify an envelope offline,
record a control decision, list decisions, the age of the trust material."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError
from client.officer.decisions import (
    DecisionRecord,
    ReceivedDecision,
    list_decisions,
    received_decisions,
    record_decision,
)
from client.officer.verify import MAX_TOKEN, VerifyOutcome, verify_input
from client.seal.profile import load_profile
from client.seal.trust import load_trust
from client.store import Changes, JournalEntry

__all__ = ["Decision", "decide", "envelope_target", "officer_decisions", "received",
           "trust_summary", "verify_envelope"]

_ENVELOPE_PARTS = ("protected", "payload", "signature")


@dataclass(frozen=True)
class Decision:
    """A decision sealed and queued: what was verified, its journal entry, the document."""

    verify: VerifyOutcome
    entry: JournalEntry
    document: dict[str, Any]

    @property
    def changes(self) -> Changes:
        return Changes(outbox=True)  # queued for the single window


def envelope_target(text: str) -> str:
    """What :func:`verify_envelope` and :func:`decide` take, from text a user pasted: the
    JSON of an exported envelope becomes its compact token; a token, a QR payload or a
    path passes as is.  Bounded: text longer than any envelope is never parsed."""
    text = text.strip()
    if not text.startswith("{") or len(text) > 2 * MAX_TOKEN:
        return text
    try:
        env = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if isinstance(env, dict) and all(isinstance(env.get(k), str) for k in _ENVELOPE_PARTS):
        return ".".join(env[k] for k in _ENVELOPE_PARTS)
    return text


def verify_envelope(home: Path, target: str) -> VerifyOutcome:
    """Verify a sealed envelope offline: an exported file, a pasted compact token or a
    fallback document's QR payload; with the single window's trust material of ``home``."""
    return verify_input(home, target)


def decide(home: Path, target: str, outcome: str, reason: str | None, *, store: Any = None,
           secrets: Any = None) -> Decision:
    """Verify ``target``, then seal and queue the officer's decision on it.

    Refuses on a trader's profile, an envelope that does not verify, anything but a
    declaration, an outcome that needs a reason given without one.  The desktop passes
    its open ``store`` and ``secrets``; otherwise the profile's are opened for the call.
    """
    result, entry, doc = record_decision(home, target, outcome, reason, store=store,
                                         secrets=secrets)
    return Decision(result, entry, doc)


def officer_decisions(home: Path) -> list[DecisionRecord]:
    """This officer device's decisions with their delivery state (officer profiles only)."""
    if load_profile(home).role != "officer":
        raise ComptoirError("officer.not_officer_list", 2)
    return list_decisions(home)


def received(home: Path, decl_id: str) -> list[ReceivedDecision]:
    """Officers' decisions about one of this trader's declarations, each verified."""
    return received_decisions(home, decl_id)


def trust_summary(home: Path) -> dict[str, Any] | None:
    """The single window's trust material held (its date, age, counts), None without any."""
    tm = load_trust(home)
    return None if tm is None else tm.summary()
