"""The packaged build (PyInstaller, one folder) starts and shows the main window.

The build is made once per run from packaging/comptoir.spec, exactly as ``./dev.sh package``
makes it (about a minute and a half on two cores), unless ``COMPTOIR_PACKAGED_BUILD`` names a
build already made (``dist/comptoir``).  The binary is then started on a real X server
(Xvfb, Qt's xcb platform), with no PYTHONPATH and from another folder, so that it can only
run on what it carries: a module, a translation, a migration script left out of the spec
stops it here instead of on a trader's desktop.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.test_real_display import main_window_maps, xvfb_display  # noqa: F401

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def packaged_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-folder build's executable (built here unless one is named)."""
    given = os.environ.get("COMPTOIR_PACKAGED_BUILD")
    if given:
        exe = Path(given) / "comptoir"
        assert exe.is_file(), f"COMPTOIR_PACKAGED_BUILD={given} has no comptoir executable"
        return exe
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (the 'packaging' extra: ./dev.sh setup)")
    out = tmp_path_factory.mktemp("package")
    proc = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level",
                           "WARN", "--distpath", str(out / "dist"), "--workpath",
                           str(out / "work"), str(REPO / "packaging" / "comptoir.spec")],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    exe = out / "dist" / "comptoir" / "comptoir"
    assert exe.is_file()
    return exe


def _clean_env(display: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QT_", "PYTHON", "VIRTUAL_ENV"))}
    env.pop("WAYLAND_DISPLAY", None)
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", COMPTOIR_UI_NO_PROMPT="1",
               COMPTOIR_PASSPHRASE="packaged-build-passphrase", COMPTOIR_HOME=str(home),
               COMPTOIR_LANG="en")
    return env


def test_packaged_build_shows_the_main_window(packaged_build: Path, xvfb_display: str,  # noqa: F811
                                              tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = subprocess.Popen([str(packaged_build)], env=_clean_env(xvfb_display, home),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    log = main_window_maps(xvfb_display, proc, "the packaged build")
    assert "Traceback" not in log, log
    assert (home / "profile.json").is_file(), "the build did not create its profile"


def test_packaged_command_line_runs_from_the_bundle(packaged_build: Path,
                                                    tmp_path: Path) -> None:
    """The command line in the same binary: profile, database (migrations), translations."""
    env = _clean_env(":0", tmp_path / "home")
    env["COMPTOIR_LANG"] = "fr"
    out = subprocess.run([str(packaged_build), "status"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "pas encore enrôlé" in out.stdout, out.stdout  # the French catalogue is bundled
    assert "Traceback" not in out.stderr


def test_packaged_training_mode_runs_its_single_window(packaged_build: Path, xvfb_display: str,  # noqa: F811
                                                      tmp_path: Path) -> None:
    """Training mode from the bundle: the in-process single window (FastAPI, uvicorn) serves
    HTTPS, the profile enrols, the examples are written and synced."""
    from client.services.training import KINDS

    env = _clean_env(xvfb_display, tmp_path / "home")
    env["COMPTOIR_UI_TEST_HOOK"] = "training-ready"
    out = subprocess.run([str(packaged_build), "--training"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "training https://127.0.0.1:" in out.stdout, out.stdout + out.stderr[-2000:]
    assert f"examples={len(KINDS)}" in out.stdout
