"""Issue #4 acceptance: the outbox delivers exactly once, end to end, over real HTTPS.

The sandbox single window runs as its own process; the client is ``comptoir`` run as
a user would; faults are real (SIGKILL of the server mid-batch, answers swallowed by a
proxy after the server committed).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from client.declaration.mrn import is_valid_mrn
from client.seal.profile import load_profile, open_store

from .helpers import DropProxy, SandboxProcess, comptoir, enrolled_profile, list_json, ok

pytestmark = pytest.mark.slow


def _receipts_verified(home: Path) -> int:
    from cryptography import x509

    from client.seal.envelope import verify_receipt

    cert = x509.load_pem_x509_certificate((home / "trust" / "receipt.pem").read_bytes())
    n = 0
    with open_store(load_profile(home)) as store:
        for entry in store.journal():
            rs = store.receipts(entry.declaration_id)
            assert len(rs) == 1, entry.declaration_id
            claims = verify_receipt(rs[0]["token"], cert)
            assert claims["envelope_hash"] == entry.envelope_hash
            assert claims["declaration_id"] == entry.declaration_id
            n += 1
    return n


def _sync_until_done(home: Path, attempts: int = 20) -> list[int]:
    codes = []
    for _ in range(attempts):
        p = comptoir(home, "sync", "--once")
        codes.append(p.returncode)
        assert "Traceback" not in p.stderr, p.stderr
        if p.returncode == 0:
            return codes
        time.sleep(0.3)
    raise AssertionError(f"sync never finished: {codes}")


def _seal_offline(home: Path, n: int) -> None:
    ok(comptoir(home, "demo", "seed", "--count", str(n), "--seed", "11"))
    p = ok(comptoir(home, "seal", "--all-ready"))
    assert f"{n} sealed" in p.stdout


def _assert_exactly_once(home: Path, sandbox: SandboxProcess, n: int) -> list[dict]:
    rows = list_json(home)
    assert len(rows) == n
    assert all(r["status"] in ("registered", "released", "under_control",
                               "documents_requested") for r in rows), \
        {r["status"] for r in rows}
    assert all(r["mrn"] and is_valid_mrn(r["mrn"]) for r in rows)
    assert len({r["mrn"] for r in rows}) == n
    stats = sandbox.stats()
    assert stats["declarations"] == n and stats["distinct_ids"] == n, stats
    assert _receipts_verified(home) == n
    ok(comptoir(home, "journal", "verify"))
    return rows


def test_500_sealed_while_down_then_delivered_exactly_once(tmp_path: Path) -> None:
    home = tmp_path / "trader"
    sandbox = SandboxProcess(tmp_path / "sw").start()
    try:
        enrolled_profile(home, sandbox)
        sandbox.stop()  # the link goes down
        _seal_offline(home, 500)
        down = comptoir(home, "sync", "--once")
        assert down.returncode == 3, down.stderr  # unreachable, work stays queued
        assert all(r["status"] == "sealed" for r in list_json(home))

        sandbox.start()  # the link comes back (same port, same database)
        assert _sync_until_done(home) == [0]
        _assert_exactly_once(home, sandbox, 500)

        # statuses flow back: on the green lane each is released shortly after
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ok(comptoir(home, "sync", "--once"))
            if all(r["status"] == "released" for r in list_json(home)):
                break
            time.sleep(1)
        assert {r["status"] for r in list_json(home)} == {"released"}
        hist = ok(comptoir(home, "history", list_json(home)[0]["id"])).stdout
        assert "released" in hist and "registered" in hist
        assert sandbox.stats()["declarations"] == 500
    finally:
        sandbox.stop()


def test_server_killed_mid_batch_and_restarted(tmp_path: Path) -> None:
    home = tmp_path / "trader"
    sandbox = SandboxProcess(tmp_path / "sw").start()
    try:
        enrolled_profile(home, sandbox)
        _seal_offline(home, 400)
        import subprocess
        import sys

        from .helpers import REPO

        env = dict(__import__("os").environ, COMPTOIR_HOME=str(home))
        syncer = subprocess.Popen([sys.executable, "-m", "client.cli", "sync", "--once",
                                   "--batch", "20"], env=env, cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sandbox.stats()["submissions"] < 60:
            time.sleep(0.05)
        sandbox.kill()  # SIGKILL, mid-drain
        out, err = syncer.communicate(timeout=120)
        assert syncer.returncode in (0, 3), err
        assert "Traceback" not in err
        sandbox.start()
        _sync_until_done(home)
        _assert_exactly_once(home, sandbox, 400)
    finally:
        sandbox.stop()


def test_answers_dropped_after_the_server_committed(tmp_path: Path) -> None:
    home = tmp_path / "trader"
    sandbox = SandboxProcess(tmp_path / "sw").start()
    proxy = DropProxy(sandbox.port, drops=0)
    try:
        enrolled_profile(home, sandbox, url=proxy.url)
        _seal_offline(home, 300)
        proxy.drops = 4
        codes = _sync_until_done(home)
        assert proxy.dropped == 4
        assert codes[0] == 3 and codes[-1] == 0
        # the resent batches were answered from the idempotency record: nothing twice
        _assert_exactly_once(home, sandbox, 300)
    finally:
        proxy.close()
        sandbox.stop()


def test_a_transit_sent_to_paper_is_never_delivered_and_an_import_fallback_is_lodged_once(
        tmp_path: Path) -> None:
    """Issue #14: continuity per procedure, end to end.  The link goes down; a transit
    and an import are sealed and queued; the transit goes to the paper procedure, the
    import gets its fallback document; when the link returns only the import is lodged
    (the sandbox's count says so), once, linked to its paper copy."""
    home = tmp_path / "trader"
    sandbox = SandboxProcess(tmp_path / "sw").start()
    try:
        enrolled_profile(home, sandbox)
        sandbox.stop()
        ok(comptoir(home, "demo", "seed", "--count", "2", "--seed", "3"))
        ids = [r["id"] for r in list_json(home)]
        with open_store(load_profile(home)) as store:
            transit = store.get(ids[0]).declaration
            transit.type, transit.transit_type, transit.importer = "IM", "T1", None
            transit.additional_type = "A"
            store.save_draft(transit, "test")
        ok(comptoir(home, "ready", ids[0]))
        ok(comptoir(home, "seal", "--all-ready"))
        ok(comptoir(home, "fallback", ids[0], "-o", str(tmp_path / "tad.pdf")))
        ok(comptoir(home, "fallback", "--all-queued", "-o", str(tmp_path / "paper")))
        sandbox.start()
        assert _sync_until_done(home) == [0]
        rows = {r["id"]: r for r in list_json(home)}
        assert rows[ids[0]]["status"] == "paper_procedure" and not rows[ids[0]]["mrn"]
        assert rows[ids[1]]["mrn"] and is_valid_mrn(rows[ids[1]]["mrn"])
        # the transit reached the single window only as its place in the device chain
        # (its hash, never its envelope); the import is lodged once
        stats = sandbox.stats()
        assert stats["by_status"] == {"accepted": 1, "withdrawn": 1}, stats
        with open_store(load_profile(home)) as store:
            st = store.get(ids[1])
            assert st.fallback_printed_at and st.lodged_after_fallback_at
            assert store.receipts(ids[0]) == []
        assert _sync_until_done(home) == [0]  # a second round sends nothing more
        assert sandbox.stats()["by_status"] == {"accepted": 1, "withdrawn": 1}
    finally:
        sandbox.stop()
