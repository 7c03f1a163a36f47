"""Shared test fixtures: a fresh profile per test, the conformance material in place."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:  # CI runs the property tests on a fixed sequence of examples: red means a change
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass

REPO = Path(__file__).resolve().parent.parent

_stop_keyring: Callable[[], None] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """A test process of a parallel run gets its own Secret Service (tests/keyring_session)."""
    global _stop_keyring
    if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("COMPTOIR_KEYRING_PER_WORKER") != "0":
        from tests.keyring_session import start_private_secret_service

        _stop_keyring = start_private_secret_service()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _stop_keyring
    if _stop_keyring is not None:
        _stop_keyring()
        _stop_keyring = None


def conformance_dir() -> Path | None:
    """../shared/conformance (or $COMPTOIR_CONFORMANCE_DIR), None where absent."""
    env = os.environ.get("COMPTOIR_CONFORMANCE_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "conformance")
    candidates.append(REPO.parent.parent / "shared" / "conformance")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture
def conformance() -> Path:
    d = conformance_dir()
    if d is None:
        pytest.skip("conformance material absent: set COMPTOIR_CONFORMANCE_DIR or provide ../shared/conformance")
    return d


@pytest.fixture(autouse=True)
def _forget_env_passphrase() -> None:
    """COMPTOIR_PASSPHRASE is read once per process: each test starts from none read."""
    from client.seal import secrets

    secrets._env_passphrase = None


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty profile folder for this test only."""
    h = tmp_path / "home"
    monkeypatch.setenv("COMPTOIR_HOME", str(h))
    monkeypatch.setenv("COMPTOIR_LANG", "en")
    return h


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A real PostgreSQL server for this test session (``tests/pgserver.py``).

    Absent binaries skip with the reason — except in CI, where ``.ci/run`` installs
    PostgreSQL and a missing server is a failure, not a skip.
    """
    from tests.pgserver import PostgresServer, find_bin

    bindir = find_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries not found (./dev.sh installs postgresql)")
        pytest.skip("PostgreSQL binaries not found: apt-get install postgresql")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()
def _rchar() -> int | None:
    try:
        with open("/proc/self/io", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


@pytest.fixture
def bytes_read() -> Callable[[], int]:
    """Bytes this process has read since the call began (Linux ``/proc/self/io``).

    Proves without a clock that a refusal did not read a huge file: refused on its
    size, the bytes read stay far below the file's.
    """
    start = _rchar()
    if start is None:
        pytest.skip("/proc/self/io absent: cannot count the bytes read")
    return lambda: (_rchar() or 0) - start
