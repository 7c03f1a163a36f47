"""The client swaps its API token before it expires (#12), over real HTTPS and processes."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import SandboxProcess, comptoir, enrolled_profile, ok


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxProcess]:
    sb = SandboxProcess(tmp_path / "sandbox").start()
    yield sb
    sb.stop()


def _tokens(sb: SandboxProcess) -> list[tuple[str, float]]:
    with sqlite3.connect(sb.home / "sandbox.db") as db:
        return list(db.execute("SELECT token_hash, expires_at FROM tokens"))


def test_token_refreshed_when_due(tmp_path: Path, server: SandboxProcess) -> None:
    home = tmp_path / "profile"
    enrolled_profile(home, server)
    profile_file = home / "profile.json"
    data = json.loads(profile_file.read_text())
    assert data["server"]["token_expires_at"]
    (before,) = _tokens(server)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    data["server"]["token_expires_at"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    profile_file.write_text(json.dumps(data))
    ok(comptoir(home, "sync", "--once"))
    after = json.loads(profile_file.read_text())["server"]["token_expires_at"]
    assert dt.datetime.fromisoformat(after.replace("Z", "+00:00")) > soon
    # The new token was used, so the old one is gone; a later sync still works.
    tokens = _tokens(server)
    assert len(tokens) == 1 and tokens[0][0] != before[0]
    ok(comptoir(home, "sync", "--once"))


def _queued(home: Path) -> int:
    return int(json.loads(ok(comptoir(home, "status", "--json")).stdout)["queued"])


def test_reenrolment_after_expiry_keeps_the_queue(tmp_path: Path, server: SandboxProcess) -> None:
    """The token ran out while envelopes waited (a long outage): sync says so, a new
    enrolment is made, and every queued envelope is then registered, none refused forever
    for having been sealed under the certificate of the dead token."""
    from client.declaration.mrn import is_valid_mrn

    from .helpers import list_json

    home = tmp_path / "profile"
    enrolled_profile(home, server)
    ok(comptoir(home, "demo", "seed", "--count", "2"))
    ok(comptoir(home, "seal", "--all-ready"))
    ok(comptoir(home, "sync", "--once"))  # two delivered under the first certificate
    ok(comptoir(home, "demo", "seed", "--count", "3"))
    ok(comptoir(home, "seal", "--all-ready"))
    assert _queued(home) == 3
    with sqlite3.connect(server.home / "sandbox.db") as db:
        db.execute("UPDATE tokens SET expires_at = 1")  # long gone
    failed = comptoir(home, "sync", "--once")
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "expired" in failed.stderr.lower(), failed.stderr
    assert _queued(home) == 3
    from .helpers import TRADER

    ok(comptoir(home, "enrol", "--server", server.url, "--code", server.code(TRADER),
                "--ca", str(server.ca)))
    ok(comptoir(home, "sync", "--once"))
    assert _queued(home) == 0
    ok(comptoir(home, "journal", "verify"))
    rows = list_json(home)
    assert len(rows) == 5
    assert all(r["mrn"] and is_valid_mrn(r["mrn"]) for r in rows), rows
