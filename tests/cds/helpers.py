"""Real processes for the CDS tests: the emulator as ``comptoir cds-emulator serve`` and
the client as ``comptoir`` subprocesses (optionally armed with a crash point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.servers import REPO, ServerProcess, ok

HOOK = Path(__file__).resolve().parent / "hook"


def comptoir(home: Path | None, *args: str, timeout: float = 600,
             env: dict[str, str] | None = None, crash: str | None = None,
             crash_at: int = 1) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, COMPTOIR_LANG="en", PYTHONDONTWRITEBYTECODE="1")
    if home is not None:
        e["COMPTOIR_HOME"] = str(home)
    if crash:
        e["PYTHONPATH"] = os.pathsep.join([str(HOOK), str(REPO), e.get("PYTHONPATH", "")])
        e["COMPTOIR_CDS_CRASH_POINT"] = crash
        e["COMPTOIR_CDS_CRASH_AT"] = str(crash_at)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "client.cli", *args], capture_output=True,
                          text=True, env=e, cwd=REPO, timeout=timeout)


class EmulatorProcess(ServerProcess):
    """``comptoir cds-emulator serve`` in its own process; restartable on the same port."""

    name = "emulator"

    def __init__(self, home: Path, schema_dir: Path, *, port: int = 0,
                 options: tuple[str, ...] = ("--auto-consent", "--no-rate-limit",
                                             "--delay-scale", "0")) -> None:
        super().__init__(home, port=port)
        self.schema_dir = schema_dir
        self.options = options

    def start(self, *extra: str) -> EmulatorProcess:
        self._launch(["cds-emulator", "serve", "--home", str(self.home), "--schemas",
                      str(self.schema_dir), *self.options, *extra])
        return self

    @property
    def ca_pem_path(self) -> Path:
        return self.ca

    def admin(self, path: str, doc: dict[str, Any] | None = None) -> Any:
        from sync.cds_emulator.server import admin_call

        return admin_call(self.home, path, doc, url=self.url)

    def stats(self) -> dict[str, Any]:
        return json.loads(ok(comptoir(None, "cds-emulator", "stats", "--home", str(self.home),
                                      "--json")).stdout)

    def requests(self) -> list[dict[str, Any]]:
        return json.loads(ok(comptoir(None, "cds-emulator", "requests", "--home",
                                      str(self.home), "--json")).stdout)


TRADER = "GB123456789000"


def connect(home: Path, emu: Any, *extra: str, client_id: str = "comptoir-app",
            rate: str = "0", drive: bool = True) -> subprocess.CompletedProcess[str]:
    """``comptoir connect cds --no-browser`` with the test as the user's browser: it
    opens the printed URL (the emulator consents) and follows the loopback redirect."""
    import requests

    e = dict(os.environ, COMPTOIR_HOME=str(home), COMPTOIR_LANG="en",
             PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "connect", "cds", "--environment", emu.url,
         "--client-id", client_id, "--ca", str(emu.ca_pem_path), "--no-browser",
         "--schemas", str(emu_schema_dir(emu)), "--rate", rate, "--wait", "60", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=REPO)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("https://") and drive:
            r = requests.get(line.strip(), verify=str(emu.ca_pem_path), timeout=20)
            assert r.status_code == 200, r.text
            break
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + out, err)


def emu_schema_dir(emu: Any) -> Path:
    return Path(emu.schema_dir)


def cds_profile(home: Path, emu: Any, *extra: str, rate: str = "0") -> None:
    ok(comptoir(home, "init", "--declarant", TRADER))
    ok(connect(home, emu, *extra, rate=rate))


def seal_offline(home: Path, n: int, seed: int = 11, *, ready_before: int = 0) -> None:
    """``n`` demo declarations, then every ready one sealed (with no link needed)."""
    ok(comptoir(home, "demo", "seed", "--count", str(n), "--seed", str(seed)))
    p = ok(comptoir(home, "seal", "--all-ready"))
    assert f"{n + ready_before} sealed" in p.stdout, p.stdout


def list_json(home: Path) -> list[dict[str, Any]]:
    return json.loads(ok(comptoir(home, "list", "--json")).stdout)
