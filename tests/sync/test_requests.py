"""The sandbox single window applies the Code's rules to requests (issue #14): amendment
(UCC Art. 173), post-release amendment, invalidation (Art. 174), answered with the DMS
response types; and every MRN it allocates has the Annex B procedure letter and a good
check digit.  A real sandbox over HTTPS on loopback; real sealed envelopes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from client.declaration.mrn import is_valid_mrn, procedure_letter
from client.declaration.samples import sample_declaration
from sync.sandbox.pipeline import lane_for
from sync.sandbox.server import SandboxHandle, start_in_thread


@pytest.fixture(scope="module")
def slow_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """Auto lanes on a clock so slow that an accepted declaration stays registered."""
    handle = start_in_thread(tmp_path_factory.mktemp("slow"), seed=0, lane="auto",
                             clock_speed=1e-6)
    yield handle
    handle.stop()


def _green(t: Any, **overrides: Any) -> dict[str, Any]:
    """A declaration whose risk lane is green (accepted and left registered here)."""
    while True:
        doc = t.declaration(**overrides)
        if lane_for(0, doc["id"]) == "green":
            return doc


def _statuses(t: Any, decl_id: str, version: int) -> list[str]:
    return [n["status"] for n in t.feed()["notifications"]
            if n["declaration_id"] == decl_id and n["version"] == version]


def _request(doc: dict[str, Any], function: str, mrn: str | None, version: int = 2
             ) -> dict[str, Any]:
    out = dict(doc, version=version, function=function, amends=doc["id"])
    if mrn is not None:
        out["mrn"] = mrn
    return out


def test_an_accepted_amendment_keeps_the_mrn_and_is_answered_amended(slow_sandbox, Traders):
    t = Traders(slow_sandbox)
    doc = _green(t)
    first = t.post([t.seal(doc)]).json()["results"][0]
    assert first["status"] == "accepted"
    second = t.post([t.seal(_request(doc, "amendment", first["mrn"]))]).json()["results"][0]
    assert second["status"] == "accepted" and second["mrn"] == first["mrn"]
    # its own entry in the receipts log (#16), naming the same MRN
    assert second["log_index"] > first["log_index"] and second["leaf"]["version"] == 2
    assert second["leaf"]["mrn"] == first["mrn"]
    assert _statuses(t, doc["id"], 2) == ["received", "amended"]
    assert _statuses(t, doc["id"], 1) == ["received", "accepted"]  # no new risk lanes


def test_an_invalidation_is_granted_then_invalidated(slow_sandbox, Traders):
    t = Traders(slow_sandbox)
    doc = _green(t)
    first = t.post([t.seal(doc)]).json()["results"][0]
    res = t.post([t.seal(_request(doc, "cancellation", first["mrn"]))]).json()["results"][0]
    assert res["status"] == "accepted"
    assert _statuses(t, doc["id"], 2) == ["received", "cancellation_granted", "invalidated"]
    # invalidated: nothing more is accepted about it
    again = t.post([t.seal(_request(doc, "amendment", first["mrn"], 3))]).json()["results"][0]
    assert again["status"] == "rejected" and again["errors"][0]["code"] == "AMENDMENT_REFUSED"


def test_requests_the_code_forbids_are_refused_when_forced_through(green_sandbox, Traders):
    """On the green sandbox a declaration is released at once: a plain amendment and an
    invalidation are forbidden; a post-release amendment is allowed."""
    t = Traders(green_sandbox)
    doc = t.declaration()
    first = t.post([t.seal(doc)]).json()["results"][0]
    assert _statuses(t, doc["id"], 1)[-1] == "released"
    amend = t.post([t.seal(_request(doc, "amendment", first["mrn"]))]).json()["results"][0]
    assert amend["status"] == "rejected" and amend["errors"][0]["code"] == "AMENDMENT_REFUSED"
    assert "Art. 173(1)(c)" in amend["errors"][0]["detail"]
    assert _statuses(t, doc["id"], 2) == ["received", "rejected"]
    inval = t.post([t.seal(_request(doc, "cancellation", first["mrn"], 3))]).json()["results"][0]
    assert inval["status"] == "rejected" and inval["errors"][0]["code"] == "INVALIDATION_DENIED"
    assert _statuses(t, doc["id"], 3) == ["received", "cancellation_denied"]
    post = t.post([t.seal(_request(doc, "post_release_amendment", first["mrn"], 4))]
                  ).json()["results"][0]
    assert post["status"] == "accepted" and post["mrn"] == first["mrn"]
    assert _statuses(t, doc["id"], 4) == ["received", "amended"]
    assert _statuses(t, doc["id"], 1)[-1] == "released"  # the declaration is unchanged


def test_a_request_must_name_the_declarations_mrn(slow_sandbox, Traders):
    t = Traders(slow_sandbox)
    doc = _green(t)
    first = t.post([t.seal(doc)]).json()["results"][0]
    wrong = t.post([t.seal(_request(doc, "amendment", "24GB34F7Y1O2CX8PT2"))]).json()
    assert wrong["results"][0]["errors"][0]["code"] == "REQUEST_MRN_MISMATCH"
    missing = t.post([t.seal(_request(doc, "amendment", None, 3))]).json()["results"][0]
    assert missing["status"] == "rejected"
    assert "V-REQUEST-MRN" in [e["code"] for e in missing["errors"]]
    orphan = t.declaration()  # never lodged
    res = t.post([t.seal(_request(orphan, "cancellation", first["mrn"]))]).json()
    assert res["results"][0]["errors"][0]["code"] == "REQUEST_NOT_LODGED"


def test_an_original_is_never_lodged_twice_under_one_id(slow_sandbox, Traders):
    t = Traders(slow_sandbox)
    doc = _green(t)
    first = t.post([t.seal(doc)]).json()["results"][0]
    again = t.post([t.seal(dict(doc, version=2))]).json()["results"][0]
    assert again["status"] == "rejected" and again["errors"][0]["code"] == "ALREADY_LODGED"
    assert again["mrn"] is None and first["mrn"]


def test_every_allocated_mrn_has_its_procedure_letter_and_check_digit(green_sandbox, Traders):
    """1,000 mixed declarations (import, export, transit, special fiscal territories)."""
    t = Traders(green_sandbox)
    rng = random.Random(14)
    docs = []
    for n in range(1000):
        d = sample_declaration(rng, n_items=1, declarant_id=t.trader_id).to_json_dict()
        if n % 4 == 3:  # a transit declaration (DE 1/3)
            d["transit_type"] = "T1"
            d.pop("importer", None)
        docs.append(d)
    results = []
    for i in range(0, len(docs), 250):
        results += t.post([t.seal(d) for d in docs[i:i + 250]]).json()["results"]
    accepted = {r["declaration_id"]: r["mrn"] for r in results if r["status"] == "accepted"}
    letters: dict[str, set[str]] = {}
    for d in docs:
        mrn = accepted.get(d["id"])
        if mrn is None:
            continue
        assert is_valid_mrn(mrn), mrn
        assert mrn[16] == procedure_letter(d), (mrn, d["type"], d.get("transit_type"))
        letters.setdefault(d.get("transit_type") and "transit" or d["type"], set()).add(mrn[16])
    assert letters == {"IM": {"R"}, "EX": {"A"}, "transit": {"J"}, "CO": {"V"}}
    assert len(accepted) >= 900, len(accepted)  # the rest refused by validation, not lost
    assert len(set(accepted.values())) == len(accepted)


@pytest.mark.parametrize(("outcome", "status", "amend_reason", "invalidate_reason"), [
    ("hold", "under_control", "Art. 173(1)(a)", "Art. 174(2)"),
    ("documents_checked", "under_control", "Art. 173(1)(a)", "Art. 174(2)"),
    ("refuse", "release_refused", "Art. 173(1)(b)", "incorrect"),
])
def test_after_an_officers_outcome_forced_requests_are_refused_with_the_article(
        slow_sandbox, Traders, outcome, status, amend_reason, invalidate_reason):
    """An officer's outcome moves the declaration (named as DMS does); an amendment or
    invalidation the Code then forbids, forced through past the client's own check, is
    refused by the single window with the article, and the declaration keeps its state."""
    import uuid

    from client.seal.envelope import envelope_hash

    t = Traders(slow_sandbox)
    doc = _green(t)
    env = t.seal(doc)
    first = t.post([env]).json()["results"][0]
    assert first["status"] == "accepted"
    officer = Traders(slow_sandbox, role="officer")
    decision = {"id": str(uuid.uuid4()), "version": 1, "kind": "control_decision",
                "declaration_id": doc["id"], "declaration_version": 1,
                "declaration_envelope_hash": envelope_hash(env), "outcome": outcome,
                "reason": "seal broken on arrival", "decided_at": "2026-12-01T10:00:00Z"}
    res = officer.post([officer.seal(decision, kind="decision")]).json()["results"][0]
    assert res["status"] == "accepted", res
    assert _statuses(t, doc["id"], 1)[-1] == status
    amend = t.post([t.seal(_request(doc, "amendment", first["mrn"]))]).json()["results"][0]
    assert amend["status"] == "rejected" and amend["errors"][0]["code"] == "AMENDMENT_REFUSED"
    assert amend_reason in amend["errors"][0]["detail"], amend["errors"][0]["detail"]
    inval = t.post([t.seal(_request(doc, "cancellation", first["mrn"], 3))]).json()["results"][0]
    assert inval["status"] == "rejected" and inval["errors"][0]["code"] == "INVALIDATION_DENIED"
    assert invalidate_reason in inval["errors"][0]["detail"], inval["errors"][0]["detail"]
    assert _statuses(t, doc["id"], 1)[-1] == status  # the declaration is unchanged
