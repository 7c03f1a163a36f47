"""The harness's lifecycle steps and its new faults (#12, #14), against real parts: the
sandbox process on mixed lanes, killed inside its own COMMIT; transit declarations sent to
the paper procedure; amendments and invalidations; and what the checks see of each."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator

import pytest

from tests.chaos import lifecycle
from tests.chaos.common import Client, World, check_invariants, final_sync
from tests.chaos.runner import CLOCK_SPEED, SETTLE_S, _sync


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("chaos-mixed"), seed=11, lane="auto",
              clock_speed=CLOCK_SPEED)
    yield w
    w.close()


def _rows(world: World) -> int:
    with sqlite3.connect(world.sandbox.home / "sandbox.db") as db:
        return int(db.execute("SELECT count(*) FROM envelopes").fetchone()[0])


def test_server_killed_inside_its_commit_loses_nothing(mixed: World) -> None:
    from sync.sandbox.store import CRASH_IN_COMMIT_ENV

    client = mixed.new_client(seed=21)
    for decl_id in client.create(3):
        client.seal(decl_id)
    before = _rows(mixed)
    mixed.kill_server()
    mixed.sandbox.start({CRASH_IN_COMMIT_ENV: "1"})
    report = _sync(client, batch=3)
    assert report.error is not None  # the answer never came: the server died
    assert not mixed.up
    assert _rows(mixed) == before  # everything of that batch rolled back with the process
    mixed.start_server()
    assert final_sync(client, settle_s=SETTLE_S).error is None
    v = check_invariants(mixed, client, final=True)
    assert v.ok, v.problems
    assert _rows(mixed) == before + 3


def test_requests_and_paper_go_through_the_checks(mixed: World) -> None:
    client = mixed.new_client(seed=22)
    rng = random.Random(5)
    for decl_id in client.create(6):
        client.seal(decl_id)
    assert final_sync(client, settle_s=SETTLE_S).error is None
    outcomes = [lifecycle.request(client, rng, cancel=i % 2 == 1) for i in range(6)]
    assert "sealed" in outcomes, outcomes
    lifecycle.transit_paper(client, rng)
    assert lifecycle.transit_withdraw(client, rng) in ("withdrawal", "refused")
    assert final_sync(client, settle_s=SETTLE_S).error is None
    v = check_invariants(mixed, client, final=True)
    assert v.ok, v.problems
    assert client.amended or client.cancelled
    assert client.paper


def test_a_paper_declaration_lodged_online_is_seen(mixed: World) -> None:
    """Damage by hand: the transit declaration sent to paper also appears on the server."""
    client = mixed.new_client(seed=23)
    for decl_id in client.create(1):
        client.seal(decl_id)
    assert final_sync(client, settle_s=SETTLE_S).error is None
    client.paper.add(next(iter(client.acknowledged)))
    v = check_invariants(mixed, client, final=True)
    assert v.duplicated >= 1 and any("paper" in p for p in v.problems), v.problems


def test_a_request_never_decided_is_seen(mixed: World) -> None:
    client: Client = mixed.new_client(seed=24)
    for decl_id in client.create(1):
        client.seal(decl_id)
    assert final_sync(client, settle_s=SETTLE_S).error is None
    did = next(iter(client.acknowledged))
    client.amended.add((did, 9))  # the schedule believes it sealed a v9 request
    v = check_invariants(mixed, client, final=True)
    assert v.lost >= 1 and any("request v9" in p for p in v.problems), v.problems


def test_sealing_goes_on_after_a_transit_went_on_paper(mixed: World) -> None:
    """A queued transit envelope withdrawn to the paper procedure leaves its seq unsent:
    the declarations sealed after it must still be lodged, not held behind the gap."""
    client = mixed.new_client(seed=25)
    rng = random.Random(6)
    for decl_id in client.create(1):
        client.seal(decl_id)
    lifecycle.transit_paper(client, rng, sealed=True)
    for decl_id in client.create(2):
        client.seal(decl_id)
    report = final_sync(client, settle_s=SETTLE_S)
    v = check_invariants(mixed, client, final=True)
    assert report.error is None and v.ok, v.problems


def test_a_high_s_envelope_of_an_older_build_is_migrated(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from client.seal import jws

    client = world.new_client(seed=26)
    (old,) = client.create(1)
    original = jws.raw_sign

    def high_s(key: object, alg: str, signing_input: bytes) -> bytes:  # the older build
        sig = original(key, alg, signing_input)  # type: ignore[arg-type]
        s = int.from_bytes(sig[32:], "big")
        return sig[:32] + (jws.P256_ORDER - s).to_bytes(32, "big")

    monkeypatch.setattr(jws, "raw_sign", high_s)
    client.seal(old)
    monkeypatch.setattr(jws, "raw_sign", original)
    for decl_id in client.create(1):
        client.seal(decl_id)
    report = final_sync(client)
    v = check_invariants(world, client, final=True)
    assert report.remaining == 0 and v.ok, v.problems


def test_amendments_and_invalidations_are_decided_and_seen(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """On a slow clock a lodged declaration stays registered (green: released only after
    45 s), so the Code allows both requests: the server decides them, the harness checks
    them (every version lodged, the invalidated status the same at both ends)."""
    w = World(tmp_path_factory.mktemp("chaos-slow"), seed=12, lane="auto", clock_speed=1.0)
    try:
        client = w.new_client(seed=27)
        for decl_id in client.create(4):
            client.seal(decl_id)
        assert final_sync(client).error is None
        rng = random.Random(8)
        outcomes = [lifecycle.request(client, rng, cancel=cancel)
                    for cancel in (False, True, True)]
        assert final_sync(client).error is None
        v = check_invariants(w, client, final=True)
        assert v.ok, v.problems
        assert outcomes.count("sealed") >= 2, outcomes
        assert client.cancelled, outcomes
        invalidated = {did for did, _ in client.cancelled}
        assert {client.store.get(d).status for d in invalidated} == {"invalidated"}
    finally:
        w.close()
