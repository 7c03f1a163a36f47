"""Checking the device journal: the ``prev`` hash chain that makes it tamper-evident.

Each sealed envelope names the hash of the device's previous envelope; a deleted,
inserted, reordered or altered entry breaks the chain at a precise place, which
:func:`verify_journal` names.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.common.i18n import ComptoirError, Message
from client.store import Store


@dataclass(frozen=True)
class JournalCheck:
    ok: bool
    count: int
    head: str | None
    problem: Message | None = None


def verify_journal(store: Store, *, check_signatures: bool = True) -> JournalCheck:
    """Walk the chain from the first envelope; stop at the first break."""
    from client.seal.envelope import GENESIS, envelope_hash, verify_envelope

    expected_seq = 1
    prev = GENESIS
    count = 0
    for entry in store.journal():
        problem: tuple[str, dict[str, object]] | None = None
        actual = envelope_hash(entry.envelope)
        if entry.seq != expected_seq:
            problem = ("journal.gap", {"expected": expected_seq})
        elif actual != entry.envelope_hash:
            problem = ("journal.hash_mismatch", {})
        elif entry.prev_hash != prev:
            problem = ("journal.broken_link", {})
        elif check_signatures:
            try:
                header = verify_envelope(entry.envelope).header
            except ComptoirError as exc:
                problem = ("journal.bad_signature", {"reason": exc.render()})
            else:
                if (header.get("seq"), header.get("prev"), header.get("did"), header.get("ver")) \
                        != (entry.seq, prev, entry.declaration_id, entry.version):
                    problem = ("journal.header_mismatch", {})
        if problem is not None:
            code, params = problem
            return JournalCheck(False, count, prev, Message(code, {"seq": entry.seq, **params}))
        prev = actual
        expected_seq += 1
        count += 1
    return JournalCheck(True, count, prev if count else None)
