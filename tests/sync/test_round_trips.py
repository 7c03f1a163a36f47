"""The requests a sync pass makes (#15, the thin link): at 64 kbit/s every round trip
that carries nothing the pass needs leaves the upload idle.  A pass that sent nothing
learns what the server takes, so that the next drain's first request is its batch; the
feed names the single window's reference-data version, so that an unchanged one is not
asked for; a server that stopped taking a coding the client kept is asked again and the
batch resent once, instead of every later pass failing with 415."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.store import settings_keys as keys
from sync.engine import SyncEngine
from sync.sandbox.server import SandboxHandle
from tests.sync.helpers import in_thread_world, seal_ready


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SandboxHandle, Any, Any, Any]]:
    with in_thread_world(tmp_path) as got:
        yield got


def _recorded(engine: SyncEngine) -> list[str]:
    """Every request the engine's connection makes from now on, as "METHOD /path",
    through requests' own response hook (the real requests, nothing replaced)."""
    seen: list[str] = []

    def hook(resp: Any, **_: Any) -> None:
        seen.append(f"{resp.request.method} {resp.request.path_url.split('?')[0]}")

    engine.client().session.hooks["response"].append(hook)
    return seen


def test_a_pass_that_sent_nothing_learns_the_offer_so_the_drain_starts_with_its_batch(
        world) -> None:
    handle, profile, secrets, store = world
    engine = SyncEngine(profile, store, secrets, batch_size=10)
    seen = _recorded(engine)
    assert engine.sync_once().error is None
    assert seen[-1] == "GET /v1/health", seen  # asked last, when nothing waited on it
    seal_ready(profile, secrets, store, 12, "IDLE")
    del seen[:]
    report = engine.sync_once()
    assert report.error is None and report.accepted == 12
    assert seen[:2] == ["POST /v1/envelopes"] * 2, seen
    assert "GET /v1/health" not in seen
    engine.close()


def test_an_unchanged_refdata_version_named_by_the_feed_is_not_asked_again(world) -> None:
    handle, profile, secrets, store = world
    engine = SyncEngine(profile, store, secrets)
    seen = _recorded(engine)
    first = engine.sync_once()
    assert first.error is None and first.refdata_version  # the first pass fetched it
    held = store.get_setting(keys.REFDATA_VERSION)
    del seen[:]
    assert engine.sync_once().error is None
    assert "GET /v1/refdata" not in seen and "GET /v1/notifications" in seen, seen
    # The single window moves a list on: the feed names a newer version, which is fetched.
    handle.state.versions["sandboxErrorCodes"] = held + 5
    del seen[:]
    again = engine.sync_once()
    assert again.error is None and "GET /v1/refdata" in seen
    assert store.get_setting(keys.REFDATA_VERSION) == held + 5
    engine.close()


def test_a_feed_without_the_version_still_gets_refdata_asked(world) -> None:
    """A single window of a build before this one: its page has no ``refdata``."""
    handle, profile, secrets, store = world
    engine = SyncEngine(profile, store, secrets)
    assert engine.sync_once().error is None
    client = engine.client()
    real = client.notifications

    def older(after: int, limit: int = 500) -> Any:
        page = real(after, limit)
        return page.model_copy(update={"refdata": None})

    client.notifications = older  # type: ignore[method-assign]
    seen = _recorded(engine)
    assert engine.sync_once().error is None
    assert "GET /v1/refdata" in seen
    engine.close()


def test_a_coding_the_server_dropped_is_asked_again_and_the_batch_resent_once(world) -> None:
    handle, profile, secrets, store = world
    engine = SyncEngine(profile, store, secrets, batch_size=10)
    assert engine.sync_once().error is None
    client = engine.client()
    assert client.offer is not None and client.offer.request_encodings[0] == "zstd"
    # The single window is redeployed without zstd (as a build before #15) while this
    # client keeps the offer it was given: the batch's coding is refused with 415.
    handle.state.settings.thin_link = False
    seal_ready(profile, secrets, store, 3, "STALE")
    seen = _recorded(engine)
    report = engine.sync_once()
    assert report.error is None and report.accepted == 3, report.error
    assert seen[:3] == ["POST /v1/envelopes", "GET /v1/health", "POST /v1/envelopes"], seen
    assert client.offer.request_encodings == ["gzip"] and client.last_coding == "gzip"
    assert store.outbox_stats()[0] == 0
    engine.close()


def test_a_refusal_of_a_freshly_asked_offer_is_not_retried(world) -> None:
    """Only a kept offer can be stale: a 415 right after asking is the server's answer."""
    handle, profile, secrets, store = world
    engine = SyncEngine(profile, store, secrets, batch_size=10)
    client = engine.client()
    client.offer = None
    seal_ready(profile, secrets, store, 2, "FRESH")
    real = client._call

    def refuse_envelopes(method: str, path: str, *a: Any, **kw: Any) -> Any:
        if path == "/envelopes":  # a server that refuses what it just offered
            handle.state.settings.thin_link = False
        return real(method, path, *a, **kw)

    client._call = refuse_envelopes  # type: ignore[method-assign]
    seen = _recorded(engine)
    report = engine.sync_once()
    assert report.error is not None
    assert report.error.params["problem_code"] == "sandbox.bad_encoding"
    assert seen.count("POST /v1/envelopes") == 1 and seen.count("GET /v1/health") == 1, seen
    assert store.outbox_stats()[0] == 2  # nothing lost: still queued
    engine.close()
