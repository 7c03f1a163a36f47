"""A transit ended on paper reaches the single window only as a chain position (#14).

Its envelope is never sent: the batch carries the link's device, seq, prev and hash,
and the single window records that position as withdrawn so that the device's later
envelopes are not held behind a gap.  The next envelope's signed ``prev`` must name the
link's hash (else CHAIN_FORK).  A real sandbox over HTTPS on loopback, real sealed
envelopes; its database is read directly to prove nothing of the declaration is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.common.b64 import b64u_decode_lenient
from client.seal.envelope import envelope_hash
from sync.protocol import MAX_BATCH
from sync.sandbox.server import SandboxHandle, start_in_thread

from .helpers import sandbox_db_text

MARK = "Withdrawn transit goods: antique brass astrolabes"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxHandle]:
    handle = start_in_thread(tmp_path / "sw", seed=0, lane="green")
    yield handle
    handle.stop()


def _link(env: dict[str, str]) -> dict[str, Any]:
    """What the client sends for a withdrawn envelope: its chain position, no content."""
    header = json.loads(b64u_decode_lenient(env["protected"]))
    return {"withdrawn": "paper_procedure", "device_id": header["dev"], "seq": header["seq"],
            "prev": header["prev"], "envelope_hash": envelope_hash(env)}


def _transit(t: Any) -> dict[str, Any]:
    doc = t.declaration()
    doc.update(type="IM", transit_type="T1", importer=None, additional_type="A")
    doc["goods_items"][0]["description"] = MARK
    return doc


def test_a_withdrawn_transit_leaves_no_content_in_the_single_window(sandbox, Traders,
                                                                     tmp_path):
    t = Traders(sandbox)
    before, paper, after = t.declaration(), _transit(t), t.declaration()
    first, withdrawn, last = t.seal(before), t.seal(paper), t.seal(after)
    res = t.post([first, _link(withdrawn), last]).json()["results"]
    assert [r["status"] for r in res] == ["accepted", "withdrawn", "accepted"]
    assert res[1]["mrn"] is None and res[1]["receipt"] is None and res[1]["leaf"] is None
    assert res[1]["declaration_id"] is None and res[1]["envelope_hash"] == envelope_hash(
        withdrawn)
    assert t.post([_link(withdrawn)]).json()["results"][0]["status"] == "withdrawn"  # resent
    feed = t.feed()["notifications"]
    assert {n["declaration_id"] for n in feed} == {before["id"], after["id"]}
    stats = sandbox.state.store.stats()
    assert stats["by_status"] == {"accepted": 2, "withdrawn": 1}
    # nothing of it in the database: not its id, LRN, goods, payload or signed header
    cells = sandbox_db_text(tmp_path / "sw" / "sandbox.db")
    assert any(envelope_hash(withdrawn) in c for c in cells)  # the link itself is kept
    assert any(after["lrn"] in c for c in cells)  # the decoded payloads are searched
    for needle in (paper["id"], paper["lrn"], MARK, withdrawn["payload"],
                   withdrawn["protected"], withdrawn["signature"]):
        assert not [c for c in cells if needle in c], needle
    # the officers' trust data still sees the position taken (a paper transit's printed
    # seal does not look like the chain jumping back), by its hash alone
    (device,) = [d for d in sandbox.state.store.trust_snapshot()[1]
                 if d["device_id"] == t.device_id]
    assert device["recent_hashes"][envelope_hash(withdrawn)] == 2
    # the chain runs on through the link: the device's head is the last envelope
    with sandbox.state.store.batch() as tx:
        head = tx.device(t.trader_id, t.device_id)
        assert (head.last_seq, head.last_hash) == (3, envelope_hash(last))


def test_a_forged_link_hash_forks_the_next_envelope(sandbox, Traders):
    """A hash-only link the next envelope does not name: that envelope is refused."""
    t = Traders(sandbox)
    withdrawn = t.seal(_transit(t))
    forged = dict(_link(withdrawn), envelope_hash="ab" * 32)
    nxt = t.seal()  # signed with prev = the real hash
    res = t.post([forged, nxt]).json()["results"]
    assert res[0]["status"] == "withdrawn"
    assert res[1]["status"] == "rejected" and res[1]["errors"][0]["code"] == "CHAIN_FORK"
    # the real link cannot replace the recorded one either
    res = t.post([_link(withdrawn)]).json()["results"][0]
    assert res["status"] == "rejected" and res["errors"][0]["code"] == "CHAIN_FORK"


def test_a_last_link_then_the_next_envelope_must_name_it(sandbox, Traders):
    t = Traders(sandbox)
    withdrawn = t.seal(_transit(t))
    assert t.post([_link(withdrawn)]).json()["results"][0]["status"] == "withdrawn"
    stray = t.seal(prev="cd" * 32, advance=False)  # seq 2, naming another hash
    res = t.post([stray]).json()["results"][0]
    assert res["status"] == "rejected" and res["errors"][0]["code"] == "CHAIN_FORK"
    assert t.post([t.seal()]).json()["results"][0]["status"] == "accepted"


def test_links_wait_behind_a_gap_like_envelopes(sandbox, Traders):
    t = Traders(sandbox)
    first, paper, after = t.seal(), t.seal(_transit(t)), t.seal()
    # the successor arrives first, then the link: both held until the gap fills
    assert t.post([after]).json()["results"][0]["status"] == "held"
    assert t.post([_link(paper)]).json()["results"][0]["status"] == "held"
    res = t.post([first]).json()["results"]
    assert res[0]["status"] == "accepted"
    assert t.post([_link(paper)]).json()["results"][0]["status"] == "withdrawn"
    assert t.post([after]).json()["results"][0]["status"] == "duplicate"
    # a held link that does not name its predecessor is refused when its turn comes
    gap, bad = t.seal(), dict(_link(t.seal(_transit(t))), prev="ef" * 32)
    assert t.post([bad]).json()["results"][0]["status"] == "held"
    assert t.post([gap]).json()["results"][0]["status"] == "accepted"
    res = t.post([bad]).json()["results"][0]
    assert res["status"] == "rejected" and res["errors"][0]["code"] == "CHAIN_FORK"


def test_links_are_bounded_and_bound_to_the_session(sandbox, Traders):
    t = Traders(sandbox)
    env = t.seal(_transit(t), advance=False)
    link = _link(env)
    # a withdrawal never carries the envelope: the old marked form is refused whole
    assert t.post([dict(env, withdrawn="paper_procedure")]).status_code == 422
    for bad in (dict(link, withdrawn="lost"), dict(link, envelope_hash="0" * 65),
                dict(link, prev="XY" * 32), dict(link, device_id="d" * 65),
                dict(link, seq=0), dict(link, seq=2**63), dict(link, payload="e30"),
                {k: v for k, v in link.items() if k != "envelope_hash"}):
        assert t.post([bad]).status_code == 422, bad
    assert t.post([link] * (MAX_BATCH + 1)).status_code == 422
    res = t.post([dict(link, device_id="another-device")]).json()["results"][0]
    assert res["status"] == "rejected" and res["errors"][0]["code"] == "DEVICE_NOT_BOUND"
    far = dict(link, seq=10**6)
    res = t.post([far]).json()["results"][0]
    assert res["status"] == "rejected" and res["errors"][0]["code"] == "HELD_LIMIT"
    assert sandbox.state.store.stats()["by_status"] == {}


def test_a_link_whose_envelope_was_lodged_after_all_is_answered_as_its_resend(sandbox,
                                                                             Traders):
    """Lodged, its answer lost, then sent to paper: the client must learn it was lodged
    (to queue its withdrawal), so the link is answered as the envelope's resend."""
    t = Traders(sandbox)
    paper = _transit(t)
    env = t.seal(paper)
    first = t.post([env]).json()["results"][0]
    assert first["status"] == "accepted"
    res = t.post([_link(env)]).json()["results"][0]
    assert res["status"] == "duplicate" and res["mrn"] == first["mrn"]
    assert (res["declaration_id"], res["version"]) == (paper["id"], 1)
    assert res["leaf"]["envelope_hash"] == envelope_hash(env)  # proven by the log
    # the same hash claimed at another position is not that envelope
    res = t.post([dict(_link(env), seq=2)]).json()["results"][0]
    assert res["status"] == "rejected" and res["errors"][0]["code"] == "CHAIN_FORK"


def test_a_held_envelope_withdrawn_before_its_turn_is_dropped(sandbox, Traders):
    """Sent while a gap was open, then sent to paper: the held envelope is deleted and its
    link takes its place, so that it is never lodged when the gap fills."""
    t = Traders(sandbox)
    gap, paper = t.seal(), _transit(t)
    env, after = t.seal(paper), t.seal()
    assert t.post([env]).json()["results"][0]["status"] == "held"
    assert t.post([_link(env)]).json()["results"][0]["status"] == "held"
    res = t.post([gap, after]).json()["results"]
    assert [r["status"] for r in res] == ["accepted", "accepted"]
    assert t.post([_link(env)]).json()["results"][0]["status"] == "withdrawn"
    with sandbox.state.store.batch() as tx:
        assert tx.envelopes_of(paper["id"], 1) == []
    assert sandbox.state.store.stats()["by_status"] == {"accepted": 2, "withdrawn": 1}
    assert not [n for n in t.feed()["notifications"] if n["declaration_id"] == paper["id"]]
