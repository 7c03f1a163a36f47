"""The lifecycle the Union Customs Code allows (issue #14): amendment (Art. 173),
post-release amendment, invalidation (Art. 174), officers' outcomes named as DMS does.

A real profile (SQLCipher store, keys in the real keyring); the single window's answers
are recorded exactly as the sync engine records them (``record_deliveries`` for the
batch results, ``apply_notifications`` for the feed).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from client.common.i18n import ComptoirError
from client.declaration import states
from client.declaration.mrn import allocate_mrn
from client.declaration.samples import sample_declaration
from client.officer import records
from client.seal.profile import init_profile
from client.services import declarations, sealing
from client.services.session import Session
from client.store import DeliveryResult
from sync.sandbox import officer as sandbox_officer

DECLARANT = "GB123456789000"
MRN = allocate_mrn("GB", 2026, 4242, "R")


@pytest.fixture
def session(home: Path):
    init_profile(home, declarant_id=DECLARANT, key_alg="ES256")
    s = Session(home)
    yield s
    s.close()


_cursor = iter(range(1, 10_000))


def _feed(s: Session, decl_id: str, version: int, status: str, **extra: Any) -> None:
    n = next(_cursor)
    s.store.apply_notifications([dict(cursor=n, declaration_id=decl_id, version=version,
                                      status=status, **extra)], n)


def _seal(s: Session, decl_id: str) -> int:
    declarations.mark_ready(s.store, s.actor(), [decl_id])
    report = sealing.seal_declarations(s.sealer(), [decl_id])
    assert report.sealed, [o.refused.message.render("en") for o in report.refused]
    return report.sealed[0].entry.seq


def _registered(s: Session, seed: int = 1) -> str:
    """A declaration lodged and accepted: MRN allocated, status registered."""
    d = sample_declaration(random.Random(seed), n_items=2, declarant_id=DECLARANT)
    s.store.create(d, s.actor())
    seq = _seal(s, d.id)
    s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=MRN, receipt="r1")])
    assert s.store.get(d.id).status == states.REGISTERED
    return d.id


def _in(s: Session, status: str, seed: int = 1) -> str:
    decl_id = _registered(s, seed)
    if status != states.REGISTERED:
        _feed(s, decl_id, 1, status)
    assert s.store.get(decl_id).status == status
    return decl_id


def _refused(s: Session, decl_id: str, function: str | None) -> ComptoirError:
    before = (s.store.get(decl_id).status, s.store.get(decl_id).declaration.version,
              len(s.store.history(decl_id)))
    with pytest.raises(ComptoirError) as e:
        s.store.new_version(decl_id, s.actor(), function=function)
    after = (s.store.get(decl_id).status, s.store.get(decl_id).declaration.version,
             len(s.store.history(decl_id)))
    assert after == before, "a refused request changed the store"
    assert e.value.code == "store.request_refused"
    return e.value


# --------------------------------------------------------------------------- Art. 173

@pytest.mark.parametrize(("status", "article_en", "article_fr"), [
    (states.UNDER_CONTROL, "Art. 173(1)(a)", "art. 173, paragraphe 1, point a)"),
    (states.DOCUMENTS_REQUESTED, "Art. 173(1)(a)", "art. 173, paragraphe 1, point a)"),
    (states.RELEASE_REFUSED, "Art. 173(1)(b)", "art. 173, paragraphe 1, point b)"),
    (states.RELEASED, "Art. 173(1)(c)", "art. 173, paragraphe 1, point c)"),
    (states.INVALIDATED, "invalidated", "invalidée"),
])
def test_a_forbidden_amendment_is_refused_with_its_reason_in_both_languages(
        session: Session, status: str, article_en: str, article_fr: str) -> None:
    decl_id = _in(session, status)
    err = _refused(session, decl_id, None)  # a plain "amend"
    assert article_en in err.render("en"), err.render("en")
    assert article_fr in err.render("fr"), err.render("fr")


def test_no_amendment_while_submitted_without_an_mrn(session: Session) -> None:
    s = session
    d = sample_declaration(random.Random(3), n_items=1, declarant_id=DECLARANT)
    s.store.create(d, s.actor())
    _seal(s, d.id)
    _feed(s, d.id, 1, "received")
    assert s.store.get(d.id).status == states.SUBMITTED and s.store.get(d.id).mrn is None
    for function in (None, states.INVALIDATION):
        err = _refused(s, d.id, function)
        assert "MRN" in err.render("en") and "MRN" in err.render("fr")


def test_a_post_release_amendment_is_its_own_request_only_after_release(session: Session
                                                                         ) -> None:
    s = session
    registered = _in(s, states.REGISTERED, seed=4)
    err = _refused(s, registered, states.POST_RELEASE_AMENDMENT)
    assert "Art. 173(3)" in err.render("en") and "art. 173, paragraphe 3" in err.render("fr")
    released = _in(s, states.RELEASED, seed=5)
    decl = s.store.new_version(released, s.actor(), function=states.POST_RELEASE_AMENDMENT)
    assert decl.function == "post_release_amendment" and decl.version == 2
    assert decl.mrn == MRN and decl.amends == released


# --------------------------------------------------------------------------- Art. 174

@pytest.mark.parametrize(("status", "needle_en", "needle_fr"), [
    (states.UNDER_CONTROL, "Art. 174(2)", "art. 174, paragraphe 2"),
    (states.DOCUMENTS_REQUESTED, "Art. 174(2)", "art. 174, paragraphe 2"),
    (states.RELEASED, "after release", "après la mainlevée"),
    (states.INVALIDATED, "invalidated", "invalidée"),
])
def test_a_forbidden_invalidation_is_refused_with_its_reason(
        session: Session, status: str, needle_en: str, needle_fr: str) -> None:
    decl_id = _in(session, status)
    err = _refused(session, decl_id, states.INVALIDATION)
    assert needle_en in err.render("en") and needle_fr in err.render("fr")


def test_a_rejected_lodging_is_corrected_by_a_new_original_not_a_request(session: Session
                                                                         ) -> None:
    s = session
    d = sample_declaration(random.Random(6), n_items=1, declarant_id=DECLARANT)
    s.store.create(d, s.actor())
    seq = _seal(s, d.id)
    s.store.record_deliveries([DeliveryResult(seq, "rejected", errors=[{"code": "CDS12056"}])])
    for function in (states.AMENDMENT, states.INVALIDATION):
        _refused(s, d.id, function)
    nxt = s.store.new_version(d.id, s.actor())
    assert nxt.function == "original" and nxt.mrn is None and nxt.version == 2
    assert s.store.get(d.id).mrn is None


# --------------------------------------------------------------------------- assessment

def test_an_amendment_keeps_the_mrn_and_status_while_assessed_and_when_accepted(
        session: Session) -> None:
    s = session
    decl_id = _registered(s, seed=7)
    decl = s.store.new_version(decl_id, s.actor())
    assert decl.function == "amendment" and decl.mrn == MRN and decl.amends == decl_id
    decl.ucr = "AMENDED-UCR"
    s.store.save_draft(decl, s.actor())
    seq = _seal(s, decl_id)
    st = s.store.get(decl_id)
    assert (st.status, st.mrn, st.declaration.version) == (states.REGISTERED, MRN, 2)
    s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=MRN, receipt="r2")])
    _feed(s, decl_id, 2, "amended", mrn=MRN)
    st = s.store.get(decl_id)
    assert (st.status, st.mrn) == (states.REGISTERED, MRN)
    notes = [h.note for h in s.store.history(decl_id)]
    assert "history.note.request_accepted" in notes
    # the lodged declaration's own processing goes on and still applies
    _feed(s, decl_id, 1, "released", mrn=MRN)
    assert s.store.get(decl_id).status == states.RELEASED


@pytest.mark.parametrize("how", ["receipt", "feed"])
def test_a_rejected_amendment_leaves_the_declaration_registered(session: Session, how: str
                                                                ) -> None:
    s = session
    decl_id = _registered(s, seed=8)
    s.store.new_version(decl_id, s.actor())
    seq = _seal(s, decl_id)
    errors = [{"code": "CDS12119", "pointer": "/goods_items/0/documents", "detail": "x"}]
    if how == "receipt":
        s.store.record_deliveries([DeliveryResult(seq, "rejected", errors=errors)])
    else:  # a single window that acknowledges first and answers in its feed (CDS)
        s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=MRN, receipt="r2")])
        _feed(s, decl_id, 2, "rejected", errors=errors)
    st = s.store.get(decl_id)
    assert (st.status, st.mrn) == (states.REGISTERED, MRN)
    last = s.store.history(decl_id)[-1]
    assert last.note == "history.note.request_refused" and last.to_status == states.REGISTERED
    assert last.detail["errors"] == errors
    # the declaration may be amended again, from the state it kept
    assert s.store.new_version(decl_id, s.actor()).version == 3


def test_a_post_release_amendment_keeps_released(session: Session) -> None:
    s = session
    decl_id = _in(s, states.RELEASED, seed=9)
    s.store.new_version(decl_id, s.actor(), function=states.POST_RELEASE_AMENDMENT)
    seq = _seal(s, decl_id)
    assert s.store.get(decl_id).status == states.RELEASED
    s.store.record_deliveries([DeliveryResult(seq, "rejected", errors=[{"code": "X"}])])
    assert s.store.get(decl_id).status == states.RELEASED


def test_an_invalidation_request_ends_invalidated_or_leaves_it_registered(session: Session
                                                                          ) -> None:
    s = session
    granted = _registered(s, seed=10)
    s.store.new_version(granted, s.actor(), function=states.INVALIDATION)
    seq = _seal(s, granted)
    assert s.store.get(granted).status == states.REGISTERED
    s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=MRN, receipt="r3")])
    _feed(s, granted, 2, "cancellation_granted", mrn=MRN)
    assert s.store.get(granted).status == states.REGISTERED
    _feed(s, granted, 2, "invalidated", mrn=MRN)
    assert s.store.get(granted).status == states.INVALIDATED
    _feed(s, granted, 1, "released", mrn=MRN)  # a late step of the pipeline changes nothing
    assert s.store.get(granted).status == states.INVALIDATED

    denied = _registered(s, seed=11)
    s.store.new_version(denied, s.actor(), function=states.INVALIDATION)
    _seal(s, denied)
    _feed(s, denied, 2, "cancellation_denied", mrn=MRN)
    assert s.store.get(denied).status == states.REGISTERED
    assert s.store.history(denied)[-1].note == "history.note.request_refused"


def test_no_second_request_while_one_is_queued(session: Session) -> None:
    s = session
    decl_id = _registered(s, seed=12)
    s.store.new_version(decl_id, s.actor())
    _seal(s, decl_id)
    with pytest.raises(ComptoirError) as e:
        s.store.new_version(decl_id, s.actor(), function=states.INVALIDATION)
    assert e.value.code == "store.still_queued"


# --------------------------------------------------------------------------- officers

def test_an_officers_refusal_is_release_refused_not_a_lodging_rejection(session: Session
                                                                        ) -> None:
    assert records.OUTCOME_STATUS["refuse"] == states.RELEASE_REFUSED
    assert sandbox_officer.OUTCOME_STATUS == records.OUTCOME_STATUS
    assert set(records.OUTCOMES) >= {"release", "hold", "refuse", "documents_checked",
                                     "physical_inspection"}
    s = session
    decl_id = _registered(s, seed=13)
    _feed(s, decl_id, 1, "release_refused", mrn=MRN)
    st = s.store.get(decl_id)
    assert st.status == states.RELEASE_REFUSED and st.mrn == MRN
    assert states.RELEASE_REFUSED in states.FINAL and states.RELEASE_REFUSED != states.REJECTED


# --------------------------------------------------------------------------- MRNs received

@pytest.mark.parametrize("how", ["receipt", "feed"])
def test_a_received_mrn_with_a_wrong_check_digit_is_never_stored(session: Session, how: str
                                                                 ) -> None:
    s = session
    d = sample_declaration(random.Random(20), n_items=1, declarant_id=DECLARANT)
    s.store.create(d, s.actor())
    seq = _seal(s, d.id)
    bad = MRN[:17] + str((int(MRN[17]) + 1) % 10)
    if how == "receipt":
        s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=bad, receipt="r")])
    else:
        _feed(s, d.id, 1, "accepted", mrn=bad)
    st = s.store.get(d.id)
    assert st.mrn is None and st.status == states.REGISTERED
    notes = [(h.note, (h.detail or {}).get("mrn")) for h in s.store.history(d.id)]
    assert ("history.note.mrn_invalid", bad) in notes
    _feed(s, d.id, 1, "accepted", mrn=MRN)  # the good one, when it comes, is kept
    assert s.store.get(d.id).mrn == MRN


# --------------------------------------------------------------------------- requests' data

def test_the_dms_amendment_and_cancellation_samples_name_their_mrn(conformance: Path) -> None:
    """Every amendment and cancellation among the published DMS samples names the MRN it
    changes (and passes the request rules); the same request without it is refused."""
    from client.declaration.validation import validate
    from client.interchange.dms import import_dms_file

    samples = sorted((conformance / "hmrc-dms" / "samples").glob("*.xml"))
    requests = [p for p in samples if "Amendment" in p.name or "Cancellation" in p.name]
    assert len(requests) >= 8, [p.name for p in requests]
    for path in requests:
        decl = import_dms_file(path).declaration
        assert decl.function in states.REQUESTS, path.name
        codes = {f.code for f in validate(decl.to_json_dict())}
        assert not codes & {"V-REQUEST-MRN", "V-REQUEST-VERSION"}, (path.name, codes)
        stripped = decl.to_json_dict()
        stripped.pop("mrn", None)
        assert "V-REQUEST-MRN" in {f.code for f in validate(stripped)}, path.name
