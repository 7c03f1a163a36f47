"""Chaos fixtures: one sandbox process behind a fault proxy per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.chaos.common import World


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("chaos-world"))
    yield w
    w.close()


@pytest.fixture(autouse=True)
def _link_back(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test did to the link, the next one starts with it clean and the server up."""
    yield
    if "world" in request.fixturenames:
        w: World = request.getfixturevalue("world")
        w.proxy.clear()
        w.start_server()
