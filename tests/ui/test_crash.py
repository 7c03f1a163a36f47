"""Killing the app while editing loses nothing typed: a real process, a real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from client.declaration import states

REPO = Path(__file__).resolve().parents[2]


def _env(hook: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", COMPTOIR_UI_NO_PROMPT="1",
               COMPTOIR_UI_TEST_HOOK=hook, PYTHONPATH=str(REPO))
    return env


def _draft_ucr(home: Path) -> str | None:
    from client.seal.profile import load_profile, open_store

    if not (home / "profile.json").exists():
        return None
    try:
        store = open_store(load_profile(home))
    except Exception:  # noqa: BLE001 - the app may still be creating the profile
        return None
    try:
        ids = store.list_ids(statuses=[states.DRAFT])
        return store.get(ids[0]).declaration.ucr if ids else None
    finally:
        store.close()


def test_sigkill_while_editing_keeps_last_keystrokes(home: Path) -> None:
    typed = "UCR-KILL-9-ÉTÉ"
    proc = subprocess.Popen([sys.executable, "-m", "ui.app", "--home", str(home)],
                            env=_env(f"type:{typed}"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = ""
        deadline = time.monotonic() + 90
        while not line.startswith("typed") and time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line and proc.poll() is not None:
                raise AssertionError(proc.stderr.read() if proc.stderr else "app died")
        assert line.startswith("typed"), "the app never typed"
        # the autosave (≤ 1 s after the last keystroke) commits through the writer
        deadline = time.monotonic() + 30
        while _draft_ucr(home) != typed and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _draft_ucr(home) == typed
        assert proc.poll() is None, "the app must still be running when killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    again = subprocess.run([sys.executable, "-m", "ui.app", "--home", str(home)],
                           env=_env("show-draft"), capture_output=True, text=True, cwd=REPO,
                           timeout=120)
    assert f"ucr={typed}" in again.stdout, again.stderr[-2000:]
