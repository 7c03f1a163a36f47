"""The sandbox suite again, on a real PostgreSQL server (#16).

Every test of ``test_sandbox.py``, ``test_sandbox_intake.py`` (but the two that read the
SQLite file itself), ``test_load_shedding.py``, the hostile-trader suite of #12 and the
requests of #14 runs here with its sandbox on a fresh PostgreSQL database: the module's
``sandbox``/``green_sandbox``/``slow_sandbox`` fixtures are replaced, and so is the
``start_in_thread`` the tests call themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from sync.sandbox import server as sandbox_server
from sync.sandbox.server import SandboxHandle
from tests.sync import (
    test_load_shedding,
    test_requests,
    test_sandbox,
    test_sandbox_intake,
)
from tests.sync.test_hostile_trader import *  # noqa: F403 - the same tests, collected here
from tests.sync.test_load_shedding import *  # noqa: F403
from tests.sync.test_requests import *  # noqa: F403
from tests.sync.test_sandbox import *  # noqa: F403
from tests.sync.test_sandbox_intake import *  # noqa: F403

pytestmark = pytest.mark.postgresql

# These read the SQLite file the sandbox writes: nothing to read on PostgreSQL.
del test_held_envelopes_are_found_through_their_partial_index  # noqa: F405, F821
del test_lrn_claims_of_a_database_from_before_are_carried_over  # noqa: F405, F821


def _on_postgres(postgres, real):  # type: ignore[no-untyped-def]
    databases: dict[str, str] = {}  # a sandbox home keeps its database across restarts

    @functools.wraps(real)
    def start(home, **kw):  # type: ignore[no-untyped-def]
        key = str(home)
        if key not in databases:
            databases[key] = postgres.new_database()
        kw.setdefault("db_url", databases[key])
        return real(home, **kw)

    return start


@pytest.fixture(autouse=True)
def _sandboxes_on_postgres(postgres, monkeypatch):  # type: ignore[no-untyped-def]
    start = _on_postgres(postgres, sandbox_server.start_in_thread)
    for module in (test_sandbox, test_sandbox_intake, test_load_shedding, test_requests):
        monkeypatch.setattr(module, "start_in_thread", start)


@pytest.fixture(scope="module")
def sandbox(postgres, tmp_path_factory) -> Iterator[SandboxHandle]:  # type: ignore[no-untyped-def]
    handle = sandbox_server.start_in_thread(tmp_path_factory.mktemp("pg-sandbox"), seed=0,
                                            lane="auto", db_url=postgres.new_database())
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def green_sandbox(postgres, tmp_path_factory) -> Iterator[SandboxHandle]:  # type: ignore[no-untyped-def]
    handle = sandbox_server.start_in_thread(tmp_path_factory.mktemp("pg-green"), seed=0,
                                            lane="green", db_url=postgres.new_database())
    yield handle
    handle.stop()


def test_the_store_really_is_on_postgresql(green_sandbox) -> None:
    assert green_sandbox.state.store.kind == "postgresql"
    assert green_sandbox.state.store.engine.dialect.name == "postgresql"


@pytest.fixture(scope="module")
def slow_sandbox(postgres, tmp_path_factory) -> Iterator[SandboxHandle]:  # type: ignore[no-untyped-def]
    handle = sandbox_server.start_in_thread(tmp_path_factory.mktemp("pg-slow"), seed=0,
                                            lane="auto", clock_speed=1e-6,
                                            db_url=postgres.new_database())
    yield handle
    handle.stop()
