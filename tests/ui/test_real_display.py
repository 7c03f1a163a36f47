"""The desktop starts on a real X server through Qt's xcb plugin, not only offscreen.

The offscreen platform hides missing system libraries (libxcb-cursor0 and friends): the app
would pass every other test and still stop on a trader's desktop with "Could not load the Qt
platform plugin xcb".  Here Xvfb is a real X server and xdotool asks it whether the main
window was mapped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def xvfb_display() -> Iterator[str]:
    """A fresh Xvfb server; its display name (``:N``)."""
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (./dev.sh setup installs xvfb and xdotool)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                             "1280x800x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:
            number = f.readline().strip()
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def start_on_display(display: str, argv: list[str], home: Path,
                     env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    e.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", COMPTOIR_UI_NO_PROMPT="1",
             COMPTOIR_PASSPHRASE="real-display-passphrase", COMPTOIR_HOME=str(home),
             PYTHONPATH=str(REPO), QT_DEBUG_PLUGINS="0")
    e.pop("WAYLAND_DISPLAY", None)
    e.update(env or {})
    return subprocess.Popen(argv, env=e, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for_mapped_window(display: str, name: str, proc: subprocess.Popen[str],
                           timeout: float = 90) -> list[str]:
    """Window ids of visible (mapped) windows whose title matches ``name``."""
    env = dict(os.environ, DISPLAY=display)
    try:
        out = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", name],
                             env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        log = proc.communicate()[0]
        pytest.fail(f"no mapped window named {name!r} within {timeout}s; app output:\n{log}")
    return out.stdout.split()


def geometry(display: str, wid: str) -> tuple[int, int]:
    env = dict(os.environ, DISPLAY=display)
    out = subprocess.run(["xdotool", "getwindowgeometry", "--shell", wid], env=env,
                         capture_output=True, text=True, check=True, timeout=30).stdout
    vals = dict(line.split("=", 1) for line in out.split() if "=" in line)
    return int(vals["WIDTH"]), int(vals["HEIGHT"])


def main_window_maps(display: str, proc: subprocess.Popen[str], what: str = "the app") -> str:
    """Wait for the main window to be mapped at a usable size with ``proc`` still running;
    then kill it and return its output (for the caller's checks of the log)."""
    try:
        wids = wait_for_mapped_window(display, "Comptoir", proc)
        assert wids, f"{what} mapped no main window"
        width, height = geometry(display, wids[0])
        assert width > 200 and height > 200
        assert proc.poll() is None, f"{what} exited after mapping its window"
    finally:
        proc.send_signal(signal.SIGKILL)
        log = proc.communicate()[0]
    return log


def test_main_window_maps_on_a_real_x_server(xvfb_display: str, tmp_path: Path) -> None:
    proc = start_on_display(xvfb_display, [sys.executable, "-m", "ui.app"], tmp_path / "home")
    log = main_window_maps(xvfb_display, proc)
    assert "Could not load the Qt platform plugin" not in log, log
