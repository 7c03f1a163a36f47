"""The CDS ledger in the real store (SQLCipher file): attempts, settlement, matching,
CDS12003, unresolved lodgings and decisions, durability, migration from 0001."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from client.declaration import states
from client.declaration.samples import sample_declaration
from client.seal.profile import init_profile, open_store, secret_store
from client.seal.sealing import Sealer
from client.store import SCHEMA_VERSION, Store, StoreError, history_message

TRADER = "GB123456789000"


@pytest.fixture
def sealed(home: Path) -> Any:
    profile = init_profile(home, declarant_id=TRADER, key_alg="ES256")
    secrets = secret_store(profile)
    store = open_store(profile, secrets=secrets)
    rng = random.Random(3)
    seqs = []
    for i in range(3):
        d = sample_declaration(rng, n_items=1, declarant_id=TRADER)
        d.lrn = f"G0STORE{i}"
        store.create(d, "t", status=states.READY)
        seqs.append((Sealer(profile, store, secrets).seal(d.id).seq, d.id, d.lrn))
    yield profile, secrets, store, seqs
    store.close()


def _begin(store: Store, seq: int, lrn: str) -> int:
    return store.cds_begin_attempt(seq, lrn=lrn, endpoint="submit", body_sha256="0" * 64,
                                   started_at="2026-12-01T10:00:00.000000Z",
                                   started_at_server=None)


def _note(nid: str, **kw: Any) -> dict[str, Any]:
    base = {"id": nid, "conversation_id": None, "lrn": None, "function_code": "01",
            "status": "accepted", "target": states.REGISTERED, "mrn": None, "detail": {},
            "duplicate_lrn": False, "issued_at": None, "payload": "<x/>"}
    return base | kw


def test_accepted_is_lodged_with_its_conversation_and_submitted(sealed: Any) -> None:
    _, _, store, seqs = sealed
    seq, did, lrn = seqs[0]
    a = _begin(store, seq, lrn)
    assert store.cds_attempts(seq)[0].outcome == "started"
    store.cds_settle_attempt(a, "accepted", http_status=202, conversation_id="conv-1")
    (lg,) = store.cds_lodgings([seq])
    assert (lg.state, lg.conversation_id) == ("lodged", "conv-1")
    assert store.get(did).status == states.SUBMITTED
    assert store.outbox_stats()[0] == 2
    store.cds_record_notifications([_note("n1", conversation_id="conv-1", lrn=lrn,
                                          mrn="24GBA4ZYBWXU1BSA00")])
    assert store.get(did).status == states.REGISTERED
    assert store.get(did).mrn == "24GBA4ZYBWXU1BSA00"
    # the same notification pulled twice changes nothing
    store.cds_record_notifications([_note("n1", conversation_id="conv-1", lrn=lrn)])
    assert len(store.cds_notifications(seq)) == 1


def test_refused_is_rejected_with_its_errors(sealed: Any) -> None:
    _, _, store, seqs = sealed
    seq, did, lrn = seqs[0]
    errors = [{"code": "BAD_REQUEST", "pointer": "", "detail": "no"}]
    store.cds_settle_attempt(_begin(store, seq, lrn), "refused", http_status=400, errors=errors)
    assert store.get(did).status == states.REJECTED
    hist = store.history(did)[-1]
    assert hist.to_status == states.REJECTED and hist.detail["errors"] == errors
    assert store.cds_lodgings([seq])[0].state == "refused"


def test_a_lost_answer_is_uncertain_until_a_notification_names_its_lrn(sealed: Any) -> None:
    _, _, store, seqs = sealed
    seq, did, lrn = seqs[1]
    store.cds_settle_attempt(_begin(store, seq, lrn), "ambiguous")
    assert store.cds_lodgings([seq])[0].state == "uncertain"
    assert store.outbox_stats()[0] == 3  # still queued
    store.cds_record_notifications([_note("n2", conversation_id="conv-x", lrn=lrn,
                                          mrn="24GBA4ZYBWXU1BSA00")])
    (lg,) = store.cds_lodgings([seq])
    assert (lg.state, lg.conversation_id) == ("lodged", "conv-x")
    assert store.get(did).status == states.REGISTERED
    assert store.outbox_stats()[0] == 2


def test_cds12003_on_our_resend_proves_the_first_and_rejects_nothing(sealed: Any) -> None:
    _, _, store, seqs = sealed
    seq, did, lrn = seqs[0]
    store.cds_settle_attempt(_begin(store, seq, lrn), "ambiguous")
    store.cds_settle_attempt(_begin(store, seq, lrn), "accepted", http_status=202,
                             conversation_id="conv-2")
    dup = _note("n3", conversation_id="conv-2", lrn=lrn, function_code="03",
                status="rejected", target=states.REJECTED, duplicate_lrn=True,
                detail={"errors": [{"code": "CDS12003", "pointer": "lrn"}]})
    store.cds_record_notifications([dup])
    assert store.get(did).status == states.SUBMITTED
    assert [a.outcome for a in store.cds_attempts(seq)] == ["ambiguous", "duplicate"]
    # a first and only attempt meeting CDS12003 is a real rejection (LRN used elsewhere)
    seq2, did2, lrn2 = seqs[2]
    store.cds_settle_attempt(_begin(store, seq2, lrn2), "accepted", http_status=202,
                             conversation_id="conv-9")
    store.cds_record_notifications([dup | {"id": "n4", "conversation_id": "conv-9",
                                           "lrn": lrn2}])
    assert store.get(did2).status == states.REJECTED


def test_an_uncertain_amendment_is_not_settled_by_its_originals_late_notifications(
        sealed: Any) -> None:
    """An amendment carries its original's LRN (the published samples do): a notification
    of the original's conversation, once known, is the original's, never proof that the
    amendment was taken; a notification of a conversation nobody knows is."""
    _, _, store, seqs = sealed
    (seq, did, lrn), (amend_seq, _, _) = seqs[0], seqs[1]
    store.cds_settle_attempt(_begin(store, seq, lrn), "ambiguous")
    store.cds_record_notifications([_note("n1", conversation_id="conv-orig", lrn=lrn,
                                          mrn="24GBA4ZYBWXU1BSA00")])
    assert store.cds_lodgings([seq])[0].conversation_id == "conv-orig"
    a = store.cds_begin_attempt(amend_seq, lrn=lrn, endpoint="amend", body_sha256="1" * 64,
                                started_at="2026-12-01T11:00:00.000000Z",
                                started_at_server=None)
    store.cds_settle_attempt(a, "ambiguous")
    store.cds_record_notifications([_note("n2", conversation_id="conv-orig", lrn=lrn,
                                          function_code="09", status="cleared",
                                          target=None)])
    assert store.cds_lodgings([amend_seq])[0].state == "uncertain"
    assert [n["id"] for n in store.cds_notifications(seq)] == ["n1", "n2"]
    store.cds_record_notifications([_note("n3", conversation_id="conv-amend", lrn=lrn,
                                          function_code="11", status="accepted",
                                          target=None)])
    (lg,) = store.cds_lodgings([amend_seq])
    assert (lg.state, lg.conversation_id) == ("lodged", "conv-amend")
    assert store.get(did).status == states.REGISTERED


def test_unresolved_is_set_aside_then_each_decision_recorded(sealed: Any) -> None:
    _, _, store, seqs = sealed
    for seq, _, lrn in seqs:
        store.cds_settle_attempt(_begin(store, seq, lrn), "ambiguous")
        store.cds_mark_unresolved(seq, {"age_h": 49})
    assert store.outbox_stats()[0] == 0
    assert store.cds_counts()["unresolved"] == 3
    (s1, d1, _), (s2, d2, _), (s3, d3, _) = seqs
    store.cds_decide(s1, "resend", "alice@dev")
    assert store.outbox_stats()[0] == 1 and store.cds_lodgings([s1])[0].state == "open"
    store.cds_decide(s2, "lodged", "alice@dev", mrn="24GBA4ZYBWXU1BSA00")
    assert store.get(d2).status == states.REGISTERED
    store.cds_decide(s3, "withdraw", "bob@dev")
    lg = store.cds_lodgings([s3])[0]
    assert (lg.state, lg.decision, lg.decided_by) == ("withdrawn", "withdraw", "bob@dev")
    notes = [history_message(h).render("en") for h in store.history(d3)]
    assert "CDS: unresolved, a decision is needed" in notes and "CDS: withdrawn, not lodged" \
        in notes
    with pytest.raises(StoreError):  # decided already
        store.cds_decide(s3, "resend", "bob@dev")


def test_an_attempt_survives_reopening(sealed: Any) -> None:
    profile, secrets, store, seqs = sealed
    seq, _, lrn = seqs[0]
    _begin(store, seq, lrn)
    store.close()
    again = open_store(profile, secrets=secrets)
    try:
        assert [a.outcome for a in again.cds_attempts(seq)] == ["started"]
        again.cds_mark_uncertain([seq])
        assert again.cds_lodgings([seq])[0].state == "uncertain"
    finally:
        again.close()


def test_a_0001_profile_migrates_to_the_cds_tables(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from client.store.migrations import upgrade

    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn, "0001")
    engine.dispose()
    store = Store.open(path)
    try:
        assert store.cds_counts() == {"orphan_notifications": 0}
        with store.engine.connect() as conn:
            head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert head == SCHEMA_VERSION  # the CDS tables (0002) and every later revision
    finally:
        store.close()


def test_what_is_known_of_an_unresolved_lodging(sealed: Any) -> None:
    """The age the connector judged when it set the lodging aside says whether CDS12003
    still protects a resend; the decision goes through the same function as the CLI."""
    from client.common.i18n import ComptoirError
    from client.services.lodgings import decide_lodging, is_unresolved, unresolved_lodgings

    _, _, store, seqs = sealed
    seq, decl_id, lrn = seqs[0]
    store.cds_settle_attempt(_begin(store, seq, lrn), "ambiguous")
    store.cds_mark_unresolved(seq, {"age_h": 49.2})
    (u,) = unresolved_lodgings(store, 47 * 3600)
    assert (u.lrn, u.age_h, u.protected, u.said) == (lrn, 49.2, False, [])
    assert u.first_attempt == u.last_attempt and u.attempts[0]["outcome"] == "ambiguous"
    assert unresolved_lodgings(store, 50 * 3600)[0].protected  # a wider window still holds
    assert is_unresolved(store, decl_id) and not is_unresolved(store, seqs[1][1])
    with pytest.raises(ComptoirError) as bad:
        decide_lodging(store, decl_id, "lodged", "alice@dev", mrn="24GB0YVJ3EXXES8AA1")
    assert bad.value.code == "cds.decision_bad_mrn"
    assert is_unresolved(store, decl_id)  # nothing changed
    decide_lodging(store, decl_id, "withdraw", "alice@dev")
    assert unresolved_lodgings(store, 47 * 3600) == [] and not is_unresolved(store, decl_id)
