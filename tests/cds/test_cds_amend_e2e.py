"""Exactly once for amendments and cancellation requests, end to end over HTTPS.

They carry their original's LRN (the published samples do), so CDS12003 cannot catch a
second one: an ambiguous answer is settled only by the notifications of a conversation
no other lodging owns, or by the user once CDS stayed silent — never by a resend on its
own.  Faults real: the emulator drops its answer after accepting, the client is killed
with SIGKILL between sending and recording, the emulator's clock runs past the wait."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conformance_check import check_requests
from .conftest import schema_dir
from .helpers import EmulatorProcess, cds_profile, comptoir, list_json, ok
from .test_cds_e2e import _add, _sync

pytestmark = pytest.mark.slow
AMEND = "/customs/declarations/amend"
CANCEL = "/customs/declarations/cancellation-requests"


@pytest.fixture
def emu(tmp_path: Path) -> Any:
    e = EmulatorProcess(tmp_path / "emu", schema_dir()).start()
    yield e
    e.stop()


def _lodged_originals(home: Path, lrns: tuple[str, ...]) -> list[str]:
    ids = [_add(home, lrn, seed=n) for n, lrn in enumerate(lrns)]
    ok(comptoir(home, "seal", "--all-ready"))
    assert _sync(home).returncode == 0
    assert {r["status"] for r in list_json(home)} == {"registered"}
    return ids


def _amend_and_cancel(home: Path, amend: str | None, cancel: str | None) -> None:
    for decl, extra in ((amend, ()), (cancel, ("--cancel",))):
        if decl is None:
            continue
        ok(comptoir(home, "amend", decl, *extra))
        ok(comptoir(home, "ready", decl))
        ok(comptoir(home, "seal", decl))


def _posts(emu: EmulatorProcess, path: str) -> list[dict[str, Any]]:
    return [r for r in emu.requests() if r["method"] == "POST" and r["path"] == path]


def _rows(home: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in list_json(home)}


def test_dropped_answers_to_an_amendment_and_a_cancellation_are_found_not_resent(
        tmp_path: Path, emu: EmulatorProcess, conformance: Path) -> None:
    home = tmp_path / "trader"
    cds_profile(home, emu)
    amend, cancel = _lodged_originals(home, ("G0AMEND1", "G0SCANCEL1"))
    _amend_and_cancel(home, amend, cancel)
    emu.admin("faults", {"drop_after_accept": 2})  # CDS takes both, the answers are lost
    assert _sync(home).returncode == 0
    assert len(_posts(emu, AMEND)) == 1 and len(_posts(emu, CANCEL)) == 1
    assert all(r["status"] is None for r in _posts(emu, AMEND) + _posts(emu, CANCEL))
    rows = _rows(home)
    assert rows[cancel]["status"] == "invalidated" and rows[cancel]["version"] == 2
    assert rows[amend]["status"] == "registered" and rows[amend]["version"] == 2
    history = json.loads(ok(comptoir(home, "history", amend, "--json")).stdout)
    assert "CDS: customs_position_granted" in [h["message"] for h in history]
    # the originals' own lodgings are untouched: one accepted original per LRN
    assert emu.stats()["lrns"] == {"G0AMEND1": 1, "G0SCANCEL1": 1}
    # a second pass finds nothing to send again
    assert _sync(home).returncode == 0
    assert len(_posts(emu, AMEND)) == 1 and len(_posts(emu, CANCEL)) == 1
    counts = check_requests(emu.requests(), conformance)
    assert counts["submissions"] == 4


def test_sigkill_after_an_amendment_was_sent_then_recovered_once(
        tmp_path: Path, emu: EmulatorProcess, conformance: Path) -> None:
    home = tmp_path / "trader"
    cds_profile(home, emu)
    amend, cancel = _lodged_originals(home, ("G0KILLAM1", "G0SKILLCA1"))
    _amend_and_cancel(home, amend, cancel)
    killed = comptoir(home, "sync", "--once", crash="cds.after_send", crash_at=1)
    assert killed.returncode == -9, killed.stderr  # CDS answered; nothing recorded
    assert len(_posts(emu, AMEND)) == 1 and _posts(emu, AMEND)[0]["status"] == 202
    assert _sync(home).returncode == 0
    assert len(_posts(emu, AMEND)) == 1 and len(_posts(emu, CANCEL)) == 1
    rows = _rows(home)
    assert rows[amend]["status"] == "registered" and rows[amend]["version"] == 2
    assert rows[cancel]["status"] == "invalidated"
    ok(comptoir(home, "journal", "verify"))
    check_requests(emu.requests(), conformance)


def test_a_silent_amendment_whose_answer_was_lost_is_left_to_the_user(
        tmp_path: Path, emu: EmulatorProcess) -> None:
    home = tmp_path / "trader"
    cds_profile(home, emu)
    (amend,) = _lodged_originals(home, ("H0QUIET1",))  # 'H': no amendment notification
    _amend_and_cancel(home, amend, None)
    emu.admin("faults", {"drop_after_accept": 1})
    p = _sync(home)
    assert p.returncode == 3 and "1 still queued" in p.stdout, (p.stdout, p.stderr)
    # uncertain, not yet the user's to decide: still waiting for news from CDS
    assert json.loads(ok(comptoir(home, "cds", "unresolved", "--json")).stdout) == []
    assert _sync(home).returncode == 3  # nothing heard yet: waits, sends nothing again
    assert len(_posts(emu, AMEND)) == 1
    emu.admin("clock", {"advance_s": 3600})  # an hour of silence on CDS's clock
    p = _sync(home)
    assert p.returncode == 4, p.stderr
    assert "1 lodging(s) with CDS unresolved" in p.stderr
    (u,) = json.loads(ok(comptoir(home, "cds", "unresolved", "--json")).stdout)
    assert u["declaration_id"] == amend and u["endpoint"] == "amend"
    assert [a["outcome"] for a in u["attempts"]] == ["ambiguous"]
    assert len(_posts(emu, AMEND)) == 1  # never resent on its own
    ok(comptoir(home, "cds", "decide", amend, "--withdraw"))
    assert _sync(home).returncode == 0
    assert len(_posts(emu, AMEND)) == 1
    history = json.loads(ok(comptoir(home, "history", amend, "--json")).stdout)
    decided = [h for h in history if (h.get("detail") or {}).get("decision") == "withdraw"]
    assert decided and decided[0]["actor"] != "cds"
