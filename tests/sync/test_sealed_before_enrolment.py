"""The outage case: sealed on a device that was never enrolled, delivered after enrolment.

Real processes: the sandbox over HTTPS, ``comptoir`` subprocesses for the client.
"""

from __future__ import annotations

import json
from pathlib import Path

from client.common.b64 import b64u_decode_lenient
from client.declaration.mrn import is_valid_mrn
from tests.sync.helpers import TRADER, SandboxProcess, comptoir, list_json, ok


def _header(env: dict) -> dict:
    return json.loads(b64u_decode_lenient(env["protected"]))


def test_twenty_sealed_before_enrolment_are_all_registered(tmp_path: Path) -> None:
    home = tmp_path / "trader"
    ok(comptoir(home, "init"))
    ok(comptoir(home, "demo", "seed", "--count", "20"))
    ok(comptoir(home, "seal", "--all-ready"))
    ok(comptoir(home, "journal", "verify"))
    st = json.loads(ok(comptoir(home, "status", "--json")).stdout)
    assert st["enrolled"] is False and st["queued"] == 20
    assert st["to_reseal_at_enrolment"] == 20
    text = ok(comptoir(home, "status")).stdout
    assert "not enrolled" in text and "sealed again" in text
    fr = ok(comptoir(home, "status", env={"COMPTOIR_LANG": "fr"})).stdout
    assert "pas encore enrôlé" in fr
    # Without a link the outbox keeps them: sync says so, nothing is lost.
    assert comptoir(home, "sync", "--once").returncode == 2

    sandbox = SandboxProcess(tmp_path / "SB").start()
    try:
        ok(comptoir(home, "enrol", "--server", sandbox.url, "--code", sandbox.code(TRADER),
                    "--ca", str(sandbox.ca)))
        st = json.loads(ok(comptoir(home, "status", "--json")).stdout)
        assert st["enrolled"] is True and st["queued"] == 20
        ok(comptoir(home, "sync", "--once"))
        rows = list_json(home)
        assert len(rows) == 20
        assert [r for r in rows if r["status"] == "rejected"] == []
        assert all(is_valid_mrn(r["mrn"]) for r in rows), rows[:2]
        assert sandbox.stats()["declarations"] == 20
        ok(comptoir(home, "journal", "verify"))
    finally:
        sandbox.stop()

    # The journal keeps both: 20 originals, then 20 re-seals naming them.
    from client.seal.profile import load_or_init, open_store, secret_store

    profile = load_or_init(home)
    store = open_store(profile, secrets=secret_store(profile))
    try:
        entries = list(store.journal())
    finally:
        store.close()
    assert [e.seq for e in entries] == list(range(1, 41))
    originals, reseals = entries[:20], entries[20:]
    by_hash = {e.envelope_hash: e for e in originals}
    for e in reseals:
        h = _header(e.envelope)
        orig = by_hash[h["orig"]]
        assert (orig.declaration_id, orig.version) == (e.declaration_id, e.version)
        assert h["origT"] == _header(orig.envelope)["sigT"]
        assert orig.envelope["payload"] == e.envelope["payload"]
        assert h["x5c"] != _header(orig.envelope)["x5c"]
