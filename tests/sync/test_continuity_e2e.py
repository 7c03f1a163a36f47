"""Issue #14 acceptance, end to end: continuity per procedure over a real outage.

The sandbox single window runs as its own process over HTTPS on loopback (its clock so
slow that an accepted declaration stays registered); the client is ``comptoir`` run as a
user would.  Before the outage a transit is lodged; during it a second transit and an
import are sealed and queued.  ``comptoir fallback`` sends the queued transit to the
paper procedure, queues the withdrawal of the lodged one, and prints the import's
fallback document.  When the link returns the sandbox's own record shows the paper
transit was never lodged nor delivered (the single window got only its place in the
device chain and its hash, so that the envelopes after it are not held behind a gap:
nothing of its content is in the sandbox's database), the lodged transit was
invalidated, and the import was lodged once, linked locally to its paper copy.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from client.declaration import states
from client.declaration.mrn import is_valid_mrn, procedure_letter
from client.declaration.samples import sample_declaration
from client.seal.profile import load_profile, open_store
from client.services import declarations, sealing
from client.services.session import Session
from sync.sandbox.app import open_store as open_sandbox_store
from sync.sandbox.pipeline import lane_for

from .helpers import (
    TRADER,
    DropProxy,
    SandboxProcess,
    comptoir,
    enrolled_profile,
    list_json,
    ok,
    sandbox_db_text,
)

pytestmark = pytest.mark.slow


def _green(seed: int, *, transit: bool) -> object:
    """A declaration the sandbox assesses green (accepted, left registered here)."""
    rng = random.Random(seed)
    while True:
        d = sample_declaration(rng, n_items=2, declarant_id=TRADER)
        if lane_for(0, d.id) == "green":
            break
    if transit:
        d.type, d.transit_type, d.importer, d.additional_type = "IM", "T1", None, "A"
        d.goods_items[0].description = f"{MARK} {seed}"
    return d


MARK = "Transit goods: antique brass astrolabes"


def _seal(home: Path, *decls: object) -> None:
    s = Session(home)
    try:
        for d in decls:
            s.store.create(d, s.actor())
            declarations.mark_ready(s.store, s.actor(), [d.id])
        report = sealing.seal_declarations(s.sealer(), [d.id for d in decls])
        assert len(report.sealed) == len(decls), [
            o.refused.message.render("en") for o in report.refused]
    finally:
        s.close()


def _sync_until_done(home: Path, attempts: int = 20) -> None:
    for _ in range(attempts):
        p = comptoir(home, "sync", "--once")
        assert "Traceback" not in p.stderr, p.stderr
        if p.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"sync never finished: {p.returncode} {p.stdout[-1500:]} {p.stderr[-1500:]}")


def test_transit_to_paper_is_never_delivered_a_lodged_one_is_withdrawn_an_import_lodged_once(
        tmp_path: Path) -> None:
    home = tmp_path / "trader"
    sandbox = SandboxProcess(tmp_path / "sw", lane="auto", clock_speed=1e-6).start()
    lodged, paper, imp = _green(1, transit=True), _green(2, transit=True), _green(3,
                                                                               transit=False)
    try:
        enrolled_profile(home, sandbox)
        _seal(home, lodged)
        _sync_until_done(home)
        rows = {r["id"]: r for r in list_json(home)}
        mrn = rows[lodged.id]["mrn"]
        assert rows[lodged.id]["status"] == states.REGISTERED and is_valid_mrn(mrn)
        # the 17th character: transit only (UCC-IA Annex B)
        assert mrn[16] == procedure_letter(lodged.to_json_dict()) == "J"

        sandbox.stop()  # the outage
        _seal(home, paper, imp)
        p = ok(comptoir(home, "fallback", lodged.id, "-o", str(tmp_path / "lodged-tad.pdf")))
        assert "withdrawal (invalidation request) is queued" in p.stdout
        p = ok(comptoir(home, "fallback", "--all-queued", "-o", str(tmp_path / "paper"),
                        "--json"))
        printed = {r["id"]: r for r in json.loads(p.stdout)}
        assert set(printed) == {paper.id, imp.id}
        assert printed[paper.id]["paper_procedure"] and not printed[imp.id]["paper_procedure"]
        assert all(Path(r["path"]).read_bytes().startswith(b"%PDF") for r in printed.values())
        during = {r["id"]: r for r in list_json(home)}
        assert during[paper.id]["status"] == states.PAPER_PROCEDURE
        assert during[imp.id]["lodge_by"] and during[paper.id]["lodge_by"] is None
        assert "lodge within 7 day(s)" in ok(comptoir(home, "status")).stdout

        sandbox.start()  # the link returns
        _sync_until_done(home)
        for _ in range(20):  # the invalidation is answered through the feed
            after = {r["id"]: r for r in list_json(home)}
            if after[lodged.id]["status"] == states.INVALIDATED:
                break
            _sync_until_done(home)
            time.sleep(0.2)
        assert after[lodged.id]["status"] == states.INVALIDATED
        assert after[lodged.id]["mrn"] == mrn
        assert after[paper.id]["status"] == states.PAPER_PROCEDURE and not after[paper.id]["mrn"]
        assert after[imp.id]["status"] == states.REGISTERED and after[imp.id]["lodge_by"] is None
        assert after[imp.id]["mrn"][16] == procedure_letter(imp.to_json_dict())
        assert procedure_letter(imp.to_json_dict()) in "RA"  # import only / export only
        _sync_until_done(home)  # a second round sends nothing more
    finally:
        sandbox.stop()

    # the sandbox's own record: the paper transit only ever reached it as a position of
    # the device chain (no envelope, no MRN, no receipt, nothing in the feed); the
    # import is lodged once; the lodged transit's withdrawal is its version 2
    record = open_sandbox_store(tmp_path / "sw")
    try:
        with record.batch() as tx:
            def envelope(decl_id: str, version: int) -> Any:
                """The one trader's envelope under (id, version), if any."""
                found = tx.envelopes_of(decl_id, version)
                assert len(found) <= 1
                return found[0] if found else None

            assert envelope(paper.id, 1) is None and envelope(paper.id, 2) is None
            assert envelope(imp.id, 1).status == "accepted"
            assert envelope(imp.id, 2) is None
            assert envelope(lodged.id, 2).status == "accepted"
        assert record.stats()["by_status"] == {"accepted": 3, "withdrawn": 1}
        feed = record.notifications(TRADER, 0, 1000)
        assert [n["status"] for n in feed if n["declaration_id"] == lodged.id
                and n["version"] == 2][-1] == "invalidated"
        assert not [n for n in feed if n["declaration_id"] == paper.id]
        assert len([n for n in feed if n["declaration_id"] == imp.id
                    and n["status"] == "accepted"]) == 1
    finally:
        record.close()
    # the database itself: the paper transit's hash holds its chain position, and
    # nothing of the declaration is there (its id, LRN, goods, envelope members)
    cells = sandbox_db_text(tmp_path / "sw" / "sandbox.db")
    with open_store(load_profile(home)) as store:
        entry = store.journal_entry(declaration_id=paper.id)
        assert entry is not None
        assert any(entry.envelope_hash in c for c in cells)
        assert any(imp.lrn in c for c in cells)  # what was lodged is found by the scan
        for needle in (paper.id, paper.lrn, f"{MARK} 2", *entry.envelope.values()):
            assert not [c for c in cells if needle in c], needle
        assert store.receipts(paper.id) == []
        st = store.get(imp.id)
        assert st.fallback_printed_at and st.lodged_after_fallback_at
        assert [h.note for h in store.history(imp.id)].count("history.note.fallback_linked") == 1
        notes = [h.note for h in store.history(lodged.id)]
        assert "history.note.withdrawal_queued" in notes
        assert "history.note.paper_procedure" in [h.note for h in store.history(paper.id)]


def _engine_sync(home: Path) -> None:
    """One sync the way the desktop runs it: the engine in process, no CLI around it."""
    from client.seal.profile import secret_store
    from sync.engine import SyncEngine

    profile = load_profile(home)
    secrets = secret_store(profile)
    with open_store(profile, secrets=secrets) as store:
        engine = SyncEngine(profile, store, secrets)
        try:
            report = engine.sync_once()
        finally:
            engine.close()
    assert report.error is None or report.remaining, report.error


@pytest.mark.parametrize("via", ["cli", "engine"])
def test_a_transit_lodged_before_its_answer_came_back_then_sent_to_paper_is_withdrawn(
        tmp_path: Path, via: str) -> None:
    """The single window lodged the transit, but its answer was lost; the trader, seeing
    it still queued, sends it to the paper procedure.  When the link returns the single
    window answers the link as the lodged envelope it is: the declaration is registered
    after all and its withdrawal (an invalidation request) is queued and granted."""
    home = tmp_path / "trader"
    sandbox = SandboxProcess(tmp_path / "sw", lane="auto", clock_speed=1e-6).start()
    proxy = DropProxy(sandbox.port, drops=0, batch_bytes=1500)
    transit = _green(4, transit=True)
    try:
        enrolled_profile(home, sandbox, url=proxy.url)
        _seal(home, transit)
        proxy.drops = 1  # the single window commits, the answer never arrives
        p = comptoir(home, "sync", "--once")
        assert p.returncode != 0 and "Traceback" not in p.stderr and proxy.dropped == 1
        ok(comptoir(home, "fallback", transit.id, "-o", str(tmp_path / "tad.pdf")))
        assert {r["id"]: r for r in list_json(home)}[transit.id]["status"] == \
            states.PAPER_PROCEDURE
        for _ in range(20):
            # The withdrawal is queued by the sync itself, whichever front end runs it.
            _sync_until_done(home) if via == "cli" else _engine_sync(home)
            row = {r["id"]: r for r in list_json(home)}[transit.id]
            if row["status"] == states.INVALIDATED:
                break
            time.sleep(0.2)
        assert row["status"] == states.INVALIDATED and is_valid_mrn(row["mrn"])
    finally:
        proxy.close()
        sandbox.stop()
    record = open_sandbox_store(tmp_path / "sw")
    try:
        with record.batch() as tx:
            (lodged,) = tx.envelopes_of(transit.id, 1)
            (withdrawal,) = tx.envelopes_of(transit.id, 2)
            assert lodged.status == withdrawal.status == "accepted"
            assert withdrawal.mrn == lodged.mrn == row["mrn"]
        feed = record.notifications(TRADER, 0, 1000)
        assert [n["status"] for n in feed if n["declaration_id"] == transit.id
                and n["version"] == 2][-1] == "invalidated"
    finally:
        record.close()
    with open_store(load_profile(home)) as store:
        notes = [h.note for h in store.history(transit.id)]
        assert notes.count("history.note.lodged_before_paper") == 1
        assert notes.count("history.note.withdrawal_queued") == 1
        assert notes.index("history.note.paper_procedure") < notes.index(
            "history.note.lodged_before_paper") < notes.index("history.note.withdrawal_queued")
        assert len(store.receipts(transit.id)) == 2
