"""#12: what an older build queued signed high-S is re-sealed, never lost, never doubled.

The single window refuses high-S ES256 signatures; an envelope an older Comptoir queued that
way is re-sealed at the start of the next sync together with the undelivered tail after it
(client.seal.reseal.migrate_high_s), each new envelope naming its original.  Real parts: the
sandbox over HTTPS, ``comptoir`` subprocesses (the older build is the same CLI with a signer
that keeps the high S, tests/sync/older_build.py), SIGKILL inside the migration.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.common.b64 import b64u_decode_lenient
from client.declaration.mrn import is_valid_mrn
from client.seal.reseal import is_high_s
from tests.sync.helpers import REPO, SandboxProcess, comptoir, enrolled_profile, list_json, ok

HOOK = REPO / "tests" / "chaos" / "hook"
LODGED = {"registered", "released"}  # the sandbox's green lane releases at once


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    sb = SandboxProcess(tmp_path_factory.mktemp("SB")).start()
    yield sb
    sb.stop()


def _older(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``comptoir ARGS`` as the build before #12 (high-S signatures)."""
    env = {"COMPTOIR_HOME": str(home), "COMPTOIR_LANG": "en", "PYTHONDONTWRITEBYTECODE": "1"}
    import os

    return subprocess.run([sys.executable, "-m", "tests.sync.older_build", *args],
                          capture_output=True, text=True, env=dict(os.environ, **env), cwd=REPO,
                          timeout=300)


def _header(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(b64u_decode_lenient(env["protected"]))


def _journal(home: Path) -> tuple[list[Any], dict[int, str]]:
    """The journal, and the outbox state per seq, read through the product's store."""
    from client.seal.profile import load_or_init, open_store, secret_store

    profile = load_or_init(home)
    store = open_store(profile, secrets=secret_store(profile))
    try:
        entries = list(store.journal())
        pending = {it.seq: it.state for it in store.outbox_pending(limit=10_000, links=True)}
    finally:
        store.close()
    return entries, pending


def _setting(home: Path, name: str) -> Any:
    from client.seal.profile import load_or_init, open_store, secret_store
    from client.store import settings_keys as keys

    profile = load_or_init(home)
    store = open_store(profile, secrets=secret_store(profile))
    try:
        return store.get_setting(getattr(keys, name))
    finally:
        store.close()


def _device(home: Path) -> str:
    return json.loads((home / "profile.json").read_text())["device_id"]


def _server_rows(sandbox: SandboxProcess, device_id: str) -> list[tuple[str, int, str, str]]:
    with sqlite3.connect(sandbox.home / "sandbox.db") as db:
        return [tuple(r) for r in db.execute(
            "SELECT declaration_id, version, envelope_hash, status FROM envelopes "
            "WHERE device_id = ? ORDER BY seq", (device_id,))]


def _drafts(home: Path, n: int) -> list[str]:
    ok(comptoir(home, "demo", "seed", "--count", str(n)))
    return [r["id"] for r in list_json(home) if r["status"] in ("draft", "ready")][-n:]


def test_the_high_s_tail_is_re_sealed_named_and_lodged_once(
        tmp_path: Path, sandbox: SandboxProcess) -> None:
    home = tmp_path / "trader"
    enrolled_profile(home, sandbox)
    a, b, c, d = _drafts(home, 4)
    ok(comptoir(home, "seal", a))
    ok(comptoir(home, "sync", "--once"))  # A delivered by this build
    assert _setting(home, "SIGNATURES_CHECKED") == 1  # A scanned: the next scan starts after
    ok(comptoir(home, "seal", b))  # B queued, low-S, before the older build's envelope
    ok(_older(home, "seal", c))  # C: the older build, high-S
    ok(comptoir(home, "seal", d))  # D: sealed after it, low-S, its prev names C
    before, _ = _journal(home)
    assert [is_high_s(e.envelope["protected"], e.envelope["signature"])
            for e in before] == [False, False, True, False]

    ok(comptoir(home, "sync", "--once"))
    ok(comptoir(home, "journal", "verify"))
    entries, pending = _journal(home)
    assert pending == {}
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[:4] == before  # append-only: the originals are kept as they were
    by_hash = {e.envelope_hash: e for e in entries}
    named = {}
    for e in entries[4:]:
        h = _header(e.envelope)
        orig = by_hash[h["orig"]]
        named[orig.declaration_id] = e
        assert (orig.declaration_id, orig.version) == (e.declaration_id, e.version)
        assert orig.envelope["payload"] == e.envelope["payload"]
        assert h["origT"] == _header(orig.envelope)["sigT"]
        assert not is_high_s(e.envelope["protected"], e.envelope["signature"])
    assert sorted(named) == sorted([c, d])  # neither delivered A nor low-S B re-sealed
    assert _header(entries[4].envelope)["sup"] == 3  # where the replaced tail starts
    assert "sup" not in _header(entries[5].envelope)

    rows = _server_rows(sandbox, _device(home))
    live = {entries[0].envelope_hash, entries[1].envelope_hash,
            named[c].envelope_hash, named[d].envelope_hash}
    assert {r[2] for r in rows} == live  # the originals of C and D never lodged
    assert len({(r[0], r[1]) for r in rows}) == len(rows) == 4  # nothing lodged twice
    assert {r[3] for r in rows} == {"accepted"}
    listed = {r["id"]: r for r in list_json(home)}
    assert {listed[x]["status"] for x in (a, b, c, d)} <= LODGED
    mrns = [listed[x]["mrn"] for x in (a, b, c, d)]
    assert all(is_valid_mrn(m) for m in mrns) and len(set(mrns)) == 4
    ok(comptoir(home, "sync", "--once"))  # a second pass migrates nothing more
    assert len(_journal(home)[0]) == 6


@pytest.mark.parametrize(("point", "new_tail"), [("reseal.in_migration", False),
                                                   ("sync.before_send", True)])
def test_kill_9_during_the_migration_leaves_one_tail(
        tmp_path: Path, sandbox: SandboxProcess, point: str, new_tail: bool) -> None:
    """SIGKILL inside the migration's transaction (second new envelope made, not committed)
    leaves the old tail queued; right after its commit (before sending), the new one."""
    home = tmp_path / "trader"
    enrolled_profile(home, sandbox)
    ids = _drafts(home, 3)
    for x in ids:
        ok(_older(home, "seal", x))
    before, _ = _journal(home)
    p = comptoir(home, "sync", "--once", env={"COMPTOIR_CRASH_POINT": point,
                                              "COMPTOIR_CRASH_AT": "2" if point.startswith(
                                                  "reseal") else "1",
                                              "PYTHONPATH": f"{HOOK}:{REPO}"})
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr[-2000:])
    entries, pending = _journal(home)
    ok(comptoir(home, "journal", "verify"))
    assert entries[:3] == before
    if new_tail:
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
        assert pending == {4: "queued", 5: "queued", 6: "queued"}
        assert [_header(e.envelope)["orig"] for e in entries[3:]] == [
            e.envelope_hash for e in before]
    else:
        assert entries == before
        assert pending == {1: "queued", 2: "queued", 3: "queued"}
    assert _server_rows(sandbox, _device(home)) == []  # nothing went out

    ok(comptoir(home, "sync", "--once"))
    ok(comptoir(home, "journal", "verify"))
    entries, pending = _journal(home)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6] and pending == {}
    rows = _server_rows(sandbox, _device(home))
    assert [r[2] for r in rows] == [e.envelope_hash for e in entries[3:]]
    assert {r["status"] for r in list_json(home)} <= LODGED
