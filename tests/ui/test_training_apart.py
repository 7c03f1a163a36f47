"""Training mode next to an enrolled real profile leaves that profile untouched (#12).

The real profile is enrolled with a real sandbox process; the desktop app then runs a
whole training session (its own profile, the in-process training single window,
enrolled and synced) with the real profile's folder given as ``--home``.  Every file of
the real profile, and its API token in the secret store, are the same bytes afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client.seal.profile import load_profile, secret_store, training_home
from tests.sync.helpers import SandboxProcess, enrolled_profile

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("sync.engine")


def _snapshot(home: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(home)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                       p.stat().st_mode)
            for p in sorted(home.rglob("*")) if p.is_file()}


def test_training_session_leaves_enrolled_profile_byte_identical(tmp_path: Path) -> None:
    home = tmp_path / "real"
    sb = SandboxProcess(tmp_path / "sw").start()
    try:
        enrolled_profile(home, sb)
    finally:
        sb.stop()
    before = _snapshot(home)
    token_before = secret_store(load_profile(home)).get("api-token")
    assert token_before and "profile.json" in before
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", COMPTOIR_UI_NO_PROMPT="1",
               COMPTOIR_UI_TEST_HOOK="training-ready", PYTHONPATH=str(REPO),
               COMPTOIR_LANG="en")
    out = subprocess.run([sys.executable, "-m", "ui.app", "--home", str(home), "--training"],
                         env=env, capture_output=True, text=True, cwd=REPO, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "training https://127.0.0.1:" in out.stdout
    assert "title=Comptoir — TRAINING" in out.stdout  # the title and the status bar say so
    assert "badge=TRAINING:" in out.stdout
    assert _snapshot(home) == before
    assert secret_store(load_profile(home)).get("api-token") == token_before
    trained = json.loads((training_home(home) / "profile.json").read_text())
    assert trained["training"] is True
    assert trained["profile_id"] != json.loads((home / "profile.json").read_text())["profile_id"]
    sandbox = training_home(home) / "training-sandbox"
    assert not (sandbox / "sandbox.db").read_bytes().startswith(b"SQLite format 3")
    assert b"ENCRYPTED PRIVATE KEY" in (sandbox / "ca.key").read_bytes()
