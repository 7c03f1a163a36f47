"""Issue #13 acceptance, end to end over HTTPS: the client as ``comptoir`` subprocesses,
the CDS emulator as its own process, faults real (answers dropped after CDS accepted,
SIGKILL between sending and recording, the emulator down past its 48-hour clock)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from client.declaration.mrn import is_valid_mrn
from client.declaration.samples import sample_declaration

from .conformance_check import check_requests
from .conftest import schema_dir
from .helpers import (
    TRADER,
    EmulatorProcess,
    cds_profile,
    comptoir,
    list_json,
    ok,
    seal_offline,
)

pytestmark = pytest.mark.slow
LODGED = ("registered", "released", "under_control", "documents_requested", "submitted")


def _add(home: Path, lrn: str, seed: int = 5) -> str:
    """One declaration with a chosen LRN (the stub's letters), imported and made ready."""
    d = sample_declaration(random.Random(seed), n_items=2, declarant_id=TRADER)
    d.lrn = lrn
    f = home.parent / f"{lrn}.json"
    f.write_text(json.dumps(d.to_json_dict()))
    ok(comptoir(home, "import", str(f)))
    ok(comptoir(home, "ready", d.id))
    return d.id


def _sync(home: Path, **kw: Any) -> Any:
    p = comptoir(home, "sync", "--once", **kw)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def _sync_until(home: Path, done: Any, tries: int = 8) -> list[dict[str, Any]]:
    for _ in range(tries):
        _sync(home)
        rows = list_json(home)
        if done(rows):
            return rows
    raise AssertionError({r["status"] for r in list_json(home)})


def _once_each(emu: EmulatorProcess, lrns: set[str]) -> dict[str, Any]:
    stats = emu.stats()
    assert set(stats["lrns"]) == lrns, set(stats["lrns"]) ^ lrns
    assert all(n == 1 for n in stats["lrns"].values()), \
        {k: n for k, n in stats["lrns"].items() if n != 1}
    return stats


@pytest.fixture
def emu(tmp_path: Path) -> Any:
    e = EmulatorProcess(tmp_path / "emu", schema_dir()).start()
    yield e
    e.stop()


def test_200_sealed_offline_lodged_exactly_once_with_statuses_mrns_and_a_rejection(
        tmp_path: Path, emu: EmulatorProcess, conformance: Path) -> None:
    home = tmp_path / "trader"
    cds_profile(home, emu)
    emu.stop()  # no link while the declarant works
    rejected_id = _add(home, "BCDS10020REJ1")
    seal_offline(home, 199, ready_before=1)  # seals the imported one as well
    emu.start()
    p = _sync(home)
    assert p.returncode == 0, p.stderr
    rows = list_json(home)
    assert len(rows) == 200
    stats = _once_each(emu, {r["lrn"] for r in rows})
    assert stats["conversations"] == 200
    lodged = [r for r in rows if r["id"] != rejected_id]
    assert all(r["status"] == "registered" for r in lodged), {r["status"] for r in lodged}
    assert all(r["mrn"] and is_valid_mrn(r["mrn"]) for r in rows)
    assert len({r["mrn"] for r in rows}) == 200
    # the rejected one, explained in both languages with its field and DE number
    for lang, explanation, field in (
            ("en", "Data Error: Data Element contains invalid value",
             "Goods item 1 › Commodity code (DE 6/14)"),
            ("fr", "Erreur de données : l'élément de données contient une valeur non valide",
             "Article 1 › Code marchandise (DE 6/14)")):
        shown = json.loads(ok(comptoir(home, "show", rejected_id, "--json",
                                       env={"COMPTOIR_LANG": lang})).stdout)
        assert shown["status"] == "rejected"
        (reason,) = shown["rejection"]
        assert reason == {"code": "CDS10020", "pointer": "goods_items[0].commodity_code",
                          "de": "6/14", "explanation": explanation, "detail": ""}
        text = ok(comptoir(home, "show", rejected_id, env={"COMPTOIR_LANG": lang})).stdout
        assert "CDS10020" in text and field in text
    official = json.loads((conformance / "codelists" / "hmrc" / "dmsErrorCodes.json").read_text())
    assert next(e["en"] for e in official if e["code"] == "CDS10020") == \
        "Data Error: Data Element contains invalid value"
    counts = check_requests(emu.requests(), conformance)
    assert counts["submissions"] == 200 and counts["pulls"] >= 201
    ok(comptoir(home, "journal", "verify"))


def test_answers_dropped_after_cds_accepted_are_reconciled_not_lodged_twice(
        tmp_path: Path, emu: EmulatorProcess, conformance: Path) -> None:
    home = tmp_path / "trader"
    cds_profile(home, emu)
    seal_offline(home, 40)
    emu.admin("faults", {"drop_after_accept": 6})
    p = _sync(home)
    assert p.returncode == 0, p.stderr
    rows = list_json(home)
    assert all(r["status"] == "registered" and is_valid_mrn(r["mrn"]) for r in rows)
    stats = _once_each(emu, {r["lrn"] for r in rows})
    assert stats["conversations"] == 40  # found by their LRN: nothing was sent again
    dropped = [q for q in emu.requests() if q["method"] == "POST" and q["status"] is None]
    assert len(dropped) == 6
    check_requests(emu.requests(), conformance)


def test_dropped_answers_with_late_notifications_resend_and_cds12003_catches_them(
        tmp_path: Path, conformance: Path) -> None:
    emu = EmulatorProcess(tmp_path / "emu", schema_dir(),
                          options=("--auto-consent", "--no-rate-limit",
                                   "--delay-scale", "0.3")).start()
    try:
        home = tmp_path / "trader"
        cds_profile(home, emu)
        ids = [_add(home, f"G{d}LATE{d}", seed=d) for d in (4, 5, 6)]
        ok(comptoir(home, "seal", "--all-ready"))
        emu.admin("faults", {"drop_after_accept": 3})
        _sync(home)  # the three answers lost, notifications not out yet: resent within 48 h
        stats = emu.stats()
        assert stats["duplicates_caught"] >= 1
        rows = _sync_until(home, lambda rs: all(r["status"] == "registered" for r in rs))
        assert {r["id"] for r in rows} == set(ids)
        assert all(is_valid_mrn(r["mrn"]) for r in rows)
        _once_each(emu, {r["lrn"] for r in rows})
        # the CDS12003 rejections of the resends rejected nothing locally
        history = json.loads(ok(comptoir(home, "history", ids[0], "--json")).stdout)
        assert "rejected" not in {h["to_status"] for h in history}
    finally:
        emu.stop()


@pytest.mark.parametrize("point", ["cds.after_send", "cds.before_send", "cds.after_fetch"])
def test_sigkill_between_sending_and_recording(tmp_path: Path, emu: EmulatorProcess,
                                               point: str, conformance: Path) -> None:
    home = tmp_path / "trader"
    cds_profile(home, emu)
    seal_offline(home, 12)
    killed = comptoir(home, "sync", "--once", crash=point, crash_at=5)
    assert killed.returncode == -9, killed.stderr
    p = _sync(home)
    assert p.returncode == 0, p.stderr
    rows = list_json(home)
    assert all(r["status"] == "registered" and is_valid_mrn(r["mrn"]) for r in rows), \
        {r["status"] for r in rows}
    _once_each(emu, {r["lrn"] for r in rows})
    ok(comptoir(home, "journal", "verify"))
    check_requests(emu.requests(), conformance)


def test_emulator_down_past_its_48_hour_clock_unresolved_shown_and_decided(
        tmp_path: Path, emu: EmulatorProcess) -> None:
    home = tmp_path / "trader"
    cds_profile(home, emu)
    silent = _add(home, "P0SILENT1")  # the stub sends no notification for a 'P' LRN
    seal_offline(home, 9, ready_before=1)
    # CDS takes the first, then the client dies before recording the answer
    assert comptoir(home, "sync", "--once", crash="cds.after_send").returncode == -9
    emu.kill()
    emu.start("--advance-clock", "49h")  # down for longer than CDS12003's window
    # the next attempt is committed, then the client dies before sending it
    assert comptoir(home, "sync", "--once", crash="cds.before_send").returncode == -9
    emu.kill()
    emu.start("--advance-clock", "49h")
    p = _sync(home)
    assert p.returncode == 4, p.stderr
    assert "2 lodging(s) with CDS unresolved" in p.stderr
    unresolved = json.loads(ok(comptoir(home, "cds", "unresolved", "--json")).stdout)
    assert len(unresolved) == 2
    assert silent in {u["declaration_id"] for u in unresolved}
    assert all(u["attempts"] and u["options"] == ["resend", "lodged", "withdraw"]
               for u in unresolved)
    stats = emu.stats()
    assert stats["lrns"]["P0SILENT1"] == 1 and len(stats["lrns"]) == 9  # 8 sent, 1 never
    other = next(u for u in unresolved if u["declaration_id"] != silent)
    # the user knows: the silent one is in CDS (its MRN from CDS's service), the other is not
    from sync.cds_emulator.state import EmulatorState

    st = EmulatorState(emu.home)
    mrn = st.mrn_of("P0SILENT1")
    st.close()
    assert mrn and is_valid_mrn(mrn)
    ok(comptoir(home, "cds", "decide", silent, "--lodged", mrn))
    ok(comptoir(home, "cds", "decide", other["declaration_id"], "--resend"))
    p = _sync(home)
    assert p.returncode == 0, p.stderr
    rows = list_json(home)
    assert all(r["status"] == "registered" for r in rows), {r["status"] for r in rows}
    assert next(r for r in rows if r["id"] == silent)["mrn"] == mrn
    _once_each(emu, {r["lrn"] for r in rows})
    history = json.loads(ok(comptoir(home, "history", silent, "--json")).stdout)
    notes = [h["message"] for h in history]  # rendered in the user's language (English here)
    assert "CDS: unresolved, a decision is needed" in notes
    assert "CDS: known to be lodged" in notes
    decided = next(h for h in history if h["message"] == "CDS: known to be lodged")
    assert decided["actor"] != "cds" and decided["detail"]["decision"] == "lodged"
