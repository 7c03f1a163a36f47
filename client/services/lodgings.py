"""Unresolved lodgings with UK CDS: what is known about each, and the user's decision.

Past CDS12003's window an attempt whose answer was lost is never resent on its own (the
connector sets it aside as *unresolved*): the user is told what is known — when it was
first and last sent, what CDS answered, which notifications came, whether CDS12003 still
catches a resend with the same LRN (DE 2/5) — and decides: lodge it again (they checked
it is not in CDS), record it as lodged (they know its MRN), or withdraw it.  The decision
is kept in the lodging and in the declaration's history with who took it and when.  The
command line (``comptoir cds unresolved | decide``) and the desktop both call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.common.i18n import ComptoirError
from client.declaration.mrn import mrn_problem
from client.store import Changes, Store
from client.store import history_notes as notes

DECISIONS = ("resend", "lodged", "withdraw")


@dataclass(frozen=True)
class Unresolved:
    """One unresolved lodging and what is known about it."""

    declaration_id: str
    seq: int
    lrn: str
    endpoint: str
    attempts: list[dict[str, Any]]
    notifications: int
    #: the notifications pulled for it: function code, status, MRN, when issued
    said: list[dict[str, Any]]
    #: the age of the first attempt CDS may have taken, judged on both clocks when it
    #: was set aside (hours), None when not known
    age_h: float | None
    #: True while CDS12003 would still catch a resend with the same LRN (original
    #: declarations only: amendments and cancellations have no such check)
    protected: bool

    @property
    def first_attempt(self) -> str | None:
        return self.attempts[0]["started_at"] if self.attempts else None

    @property
    def last_attempt(self) -> str | None:
        return self.attempts[-1]["started_at"] if self.attempts else None

    def to_json(self) -> dict[str, Any]:
        return {"declaration_id": self.declaration_id, "seq": self.seq, "lrn": self.lrn,
                "endpoint": self.endpoint, "attempts": self.attempts,
                "notifications": self.notifications, "said": self.said, "age_h": self.age_h,
                "protected": self.protected, "options": list(DECISIONS)}


def _age_when_set_aside(store: Store, decl_id: str) -> float | None:
    """The age the connector judged (both clocks) in its latest "unresolved" note."""
    for entry in reversed(store.history(decl_id)):
        if entry.note == notes.CDS_UNRESOLVED.code and entry.detail:
            age = entry.detail.get("age_h")
            return float(age) if isinstance(age, (int, float)) else None
    return None


def unresolved_lodgings(store: Store, window_s: float) -> list[Unresolved]:
    """Every unresolved lodging with what is known; ``window_s`` is CDS12003's window as
    the connector applies it (its margin included)."""
    out = []
    for lg in store.cds_lodgings(states_in=["unresolved"]):
        attempts = [{"started_at": a.started_at, "outcome": a.outcome,
                     "http_status": a.http_status, "conversation_id": a.conversation_id}
                    for a in store.cds_attempts(lg.seq)]
        said = [{"function_code": n["function_code"], "status": n["status"], "mrn": n["mrn"],
                 "issued_at": n["issued_at"] or n["received_at"]}
                for n in store.cds_notifications(lg.seq)]
        age_h = _age_when_set_aside(store, lg.declaration_id)
        protected = lg.endpoint == "submit" and age_h is not None and age_h * 3600 < window_s
        out.append(Unresolved(lg.declaration_id, lg.seq, lg.lrn, lg.endpoint, attempts,
                              len(said), said, age_h, protected))
    return out


def decide_lodging(store: Store, declaration_ref: str, decision: str, actor: str, *,
                   mrn: str | None = None) -> Changes:
    """Record the user's decision on the unresolved lodging of a declaration."""
    if decision not in DECISIONS:
        raise ComptoirError("cds.bad_decision", 2, decision=decision)
    if decision == "lodged":
        if not mrn:
            raise ComptoirError("cds.decision_needs_mrn", 2)
        problem = mrn_problem(mrn)
        if problem is not None:
            raise ComptoirError("cds.decision_bad_mrn", 1, problem=problem)
    decl_id = store.resolve_id(declaration_ref)
    open_ = _unresolved_of(store, decl_id)
    if not open_:
        raise ComptoirError("cds.not_unresolved", 2, seq=decl_id)
    return store.cds_decide(open_[-1].seq, decision, actor, mrn=mrn)


def is_unresolved(store: Store, decl_id: str) -> bool:
    """Whether ``decl_id`` has a lodging with CDS waiting for the user's decision."""
    return bool(_unresolved_of(store, decl_id))


def _unresolved_of(store: Store, decl_id: str) -> list[Any]:
    """``decl_id``'s lodgings set aside as unresolved, oldest first."""
    return [lg for lg in store.cds_lodgings(states_in=["unresolved"])
            if lg.declaration_id == decl_id]
