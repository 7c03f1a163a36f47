"""A test server in its own process (the sandbox, the CDS emulator): started from the
``comptoir`` command line, its URL read from the first line it prints, restartable on the
same port, stopped with SIGTERM or killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def restartable_port() -> int:
    """A free loopback port below the kernel's ephemeral range.  A server restarted on
    its port after a SIGKILL must find it free: a port from the ephemeral range (what
    port 0 gives) can meanwhile be the local end of any outgoing connection on the
    machine (a database client's, a proxy's), and the restart then fails for as long
    as that connection lives."""
    floor = _ephemeral_floor()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, floor - 20000), floor)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return 0


def ok(p: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """The finished command, after checking it exited 0 (its output is in the failure)."""
    assert p.returncode == 0, f"exit {p.returncode}: {p.stdout[-1500:]} {p.stderr[-3000:]}"
    return p


class ServerProcess:
    """One ``comptoir … serve`` process; ``home`` holds its CA and database."""

    name = "server"

    def __init__(self, home: Path, *, port: int = 0) -> None:
        self.home = home
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def _launch(self, argv: list[str], extra_env: dict[str, str] | None = None,
                *, attempts: int = 1) -> str:
        """Start ``comptoir ARGV``; its first line is the URL. A killed server's workers may
        hold the port a moment, so "cannot listen" is retried ``attempts`` times."""
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra_env or {}))
        fresh = self.port == 0  # first start: a port of its own, another if it is taken
        if fresh:
            attempts = max(attempts, 5)
        for attempt in range(attempts):
            if fresh:
                self.port = restartable_port()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "client.cli", *argv, "--port", str(self.port)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline().strip()
            if line.startswith("https://"):
                break
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.proc.wait(timeout=30)
            if "cannot listen" not in err.lower() or attempt == attempts - 1:
                if fresh:
                    self.port = 0
                raise RuntimeError(f"{self.name} did not start: {line} {err[-2000:]}")
            time.sleep(0 if fresh else 0.25)
        self.url = line
        self.port = int(line.rsplit(":", 1)[1].strip("/"))
        return line

    @property
    def ca(self) -> Path:
        return self.home / "ca.pem"

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
