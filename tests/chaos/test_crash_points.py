"""Crash points (issue #7, item 3): SIGKILL at every step of seal and sync, in a loop.

The child is ``comptoir`` as a user runs it; :mod:`tests.chaos.crashhook` (armed through
``sitecustomize`` on the child's PYTHONPATH only) kills it at the named step.  After
each kill: the store opens, the journal verifies, every seal the child acknowledged is
in the journal, nothing is registered twice; after a final clean sync the server holds
each declaration exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from client.declaration import states
from tests.chaos.common import Client, World, check_invariants, child_env, final_sync, reopen
from tests.chaos.common import summary as verdict_text
from tests.chaos.crashhook import POINTS
from tests.sync.helpers import REPO

pytestmark = pytest.mark.slow

HOOK = Path(__file__).resolve().parent / "hook"
SEAL_POINTS = [p for p in POINTS if p.startswith("seal.")]
SYNC_POINTS = [p for p in POINTS if p.startswith(("sync.", "feed."))]
# killed at the first, then the second … pass through the point (longer: set the env)
ROUNDS = tuple(range(1, 1 + int(os.environ.get("COMPTOIR_CHAOS_CRASH_ROUNDS", "2"))))


def run_child(c: Client, point: str, at: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env(c.home, {"COMPTOIR_CRASH_POINT": point, "COMPTOIR_CRASH_AT": str(at),
                             "PYTHONPATH": f"{HOOK}:{REPO}"})
    return subprocess.run([sys.executable, "-m", "client.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def _after_kill(world: World, c: Client) -> Client:
    c = reopen(c)  # the store opens after the kill
    v = check_invariants(world, c, final=False)
    assert v.ok, verdict_text(v)
    return c


@pytest.mark.parametrize("point", SEAL_POINTS)
def test_kill_while_sealing(world: World, point: str) -> None:
    c = world.new_client(seed=len(point))
    for at in ROUNDS:
        ids = c.create(at)
        # `seal --all-ready` passes the point once per declaration: the at-th one dies
        p = run_child(c, point, at, "seal", "--all-ready")
        assert p.returncode == -signal.SIGKILL, (point, at, p.returncode, p.stderr[-2000:])
        c = _after_kill(world, c)
        sealed_before = ids[:at - 1]  # committed by the same child before the kill
        for decl_id in sealed_before:
            assert c.store.get(decl_id).status == states.SEALED
            c.acknowledged.add(decl_id)
        victim = c.store.get(ids[at - 1])
        entry = c.store.journal_entry(declaration_id=ids[at - 1])
        if point == "seal.before_commit":  # nothing of it: still ready, not journaled
            assert victim.status == states.READY and entry is None
            for decl_id in c.editable():
                p = run_child(c, "", 0, "seal", decl_id)
                assert p.returncode == 0, p.stderr
                assert decl_id in p.stdout  # acknowledged
                c.acknowledged.add(decl_id)
        else:  # all of it: sealed, journaled, queued
            assert victim.status == states.SEALED and entry is not None
            c.acknowledged.add(victim.declaration.id)
    assert final_sync(c).remaining == 0
    v = check_invariants(world, c, final=True)
    assert v.ok, verdict_text(v)


@pytest.mark.parametrize("point", SYNC_POINTS)
def test_kill_while_syncing(world: World, point: str) -> None:
    c = world.new_client(seed=len(point) + 100)
    for at in ROUNDS:
        for decl_id in c.create(5):
            c.seal(decl_id)
        before = c.store.receipt_count()
        if point == "feed.after_apply":
            at = 1  # one page of feed per pass here: kill each pass at its page
        p = run_child(c, point, at, "sync", "--once", "--batch", "2")
        assert p.returncode == -signal.SIGKILL, (point, at, p.returncode, p.stderr[-2000:])
        c = _after_kill(world, c)
        receipts = c.store.receipt_count()
        if point in ("sync.before_send", "sync.after_send"):
            # the killed batch's receipts were never committed; the answer before it was
            # being stored behind it (the drain's pipeline) and may or may not have been
            low, high = 2 * max(at - 2, 0), 2 * (at - 1)
            assert low <= receipts - before <= high, (point, at, receipts - before)
        elif point == "sync.in_record":  # the answers are stored one after the other
            assert receipts - before == 2 * (at - 1), (point, at, receipts - before)
        elif point == "sync.after_record":
            assert receipts - before == 2 * at
        server = world.server_rows(c.profile.device_id)
        if point in ("sync.after_send", "sync.in_record"):
            # the server committed what the device never stored: the resend must replay
            assert len(server) > receipts
    report = final_sync(c)
    assert report.error is None and report.remaining == 0, report
    v = check_invariants(world, c, final=True)
    assert v.ok, verdict_text(v)
    assert len(world.server_rows(c.profile.device_id)) == len(c.acknowledged) == 5 * len(ROUNDS)
