"""A private Secret Service for one test process.

``.ci/with-keyring`` runs the suite inside one D-Bus session with one unlocked
gnome-keyring.  With two test processes (pytest-xdist) and their subprocesses all writing
to that one daemon, gnome-keyring was seen to mix up its item objects ("asked to register
item ... already registered") and once to drop off the bus in the middle of a call.  Each
worker therefore gets a bus and a keyring of its own, started the way ``with-keyring``
starts the shared one: still a real Secret Service, only not shared between processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

PASSWORD = "comptoir-test"
_SERVICE = """[D-BUS Service]
Name=org.freedesktop.secrets
Exec=/bin/sh -c 'printf %s {password} | exec gnome-keyring-daemon --unlock --foreground --components=secrets'
"""


def start_private_secret_service() -> Callable[[], None] | None:
    """Start a bus + unlocked keyring, point this process's environment at them.

    Returns the function that stops them, or None when the tools are missing or this
    process was not started under a keyring (then nothing changes).
    """
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    if not (shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon")):
        return None
    data = Path(tempfile.mkdtemp(prefix="comptoir-keyring-"))
    services = data / "dbus-1" / "services"
    services.mkdir(parents=True)
    (services / "org.freedesktop.secrets.service").write_text(_SERVICE.format(password=PASSWORD))
    env = dict(os.environ, XDG_DATA_HOME=str(data))
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True,
        start_new_session=True,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().strip()
    if not address:
        bus.kill()
        bus.wait()
        raise RuntimeError("private D-Bus session did not start")
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    started = subprocess.run(
        ["gnome-keyring-daemon", "--unlock", "--components=secrets"],
        input=PASSWORD, env=env, capture_output=True, text=True, timeout=30,
    )
    if started.returncode != 0:
        bus.kill()
        bus.wait()
        raise RuntimeError(f"private gnome-keyring did not start: {started.stderr.strip()}")
    os.environ["XDG_DATA_HOME"] = str(data)
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address

    def stop() -> None:
        # The keyring daemon leaves when its bus goes; the bus is ours to end.
        try:
            os.killpg(bus.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            bus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bus.kill()
            bus.wait()
        shutil.rmtree(data, ignore_errors=True)

    return stop
