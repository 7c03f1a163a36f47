"""What is known about an unresolved lodging, and the user's decision on it.

Past CDS12003's window an attempt whose answer was lost is never resent on its own: the
user is told what is known (when it was sent, how often, what CDS answered, which
notifications came) and decides — lodge it again (they checked it is not in CDS), record
it as lodged (they know its MRN), or withdraw it.  The decision is kept in the lodging
and in the declaration's history, with who took it and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.common.i18n import ComptoirError
from client.declaration.mrn import mrn_problem
from client.store import Changes, Store

DECISIONS = ("resend", "lodged", "withdraw")


@dataclass(frozen=True)
class Unresolved:
    declaration_id: str
    seq: int
    lrn: str
    endpoint: str
    attempts: list[dict[str, Any]]
    notifications: int

    def to_json(self) -> dict[str, Any]:
        return {"declaration_id": self.declaration_id, "seq": self.seq, "lrn": self.lrn,
                "endpoint": self.endpoint, "attempts": self.attempts,
                "notifications": self.notifications, "options": list(DECISIONS)}


def unresolved(store: Store) -> list[Unresolved]:
    out = []
    for lg in store.cds_lodgings(states_in=["unresolved"]):
        attempts = [{"started_at": a.started_at, "outcome": a.outcome,
                     "http_status": a.http_status, "conversation_id": a.conversation_id}
                    for a in store.cds_attempts(lg.seq)]
        out.append(Unresolved(lg.declaration_id, lg.seq, lg.lrn, lg.endpoint, attempts,
                              len(store.cds_notifications(lg.seq))))
    return out


def decide(store: Store, declaration_ref: str, decision: str, actor: str, *,
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
    open_ = [lg for lg in store.cds_lodgings(states_in=["unresolved"])
             if lg.declaration_id == decl_id]
    if not open_:
        raise ComptoirError("cds.not_unresolved", 2, seq=decl_id)
    return store.cds_decide(open_[-1].seq, decision, actor, mrn=mrn)
