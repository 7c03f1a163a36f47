"""Network faults on real sockets (issue #7, item 2): the fault proxy sits between the
engine and the sandbox process on loopback; TLS stays end to end.

For each fault the engine gives up (never hangs), raises nothing, and once the link is
clean again everything sealed is delivered exactly once.  What is proven here needs no
clock: a stalled link ends in the engine's own timeout error after one connection, a
closed one in "unreachable"; the link's shaping is counted by the proxy.  How long the
engine takes to give up, and the rate through a 64 kbit/s link, are figures in
``bench/run.py chaos`` (a hang is still caught by the suite's per-test timeout).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.chaos.common import Client, World, check_invariants, child_env, final_sync, summary
from tests.sync.helpers import REPO, TRADER, SandboxProcess, ok

pytestmark = pytest.mark.slow

TIMEOUT = (2.0, 5.0)
STALLS = ("half_open", "blackhole")  # the link goes quiet: only a timeout ends the wait


def _sealed(world: World, n: int = 4) -> Client:
    c = world.new_client(seed=n)
    for decl_id in c.create(n):
        c.seal(decl_id)
    return c


def _sync(c: Client, *, batch: int = 2) -> object:
    eng = c.engine(batch_size=batch, timeout=TIMEOUT)
    try:
        return eng.sync_once()  # must not raise, whatever the link does
    finally:
        eng.close()


def _delivered_once(world: World, c: Client) -> None:
    report = final_sync(c)
    assert report is not None and report.error is None and report.remaining == 0, report
    v = check_invariants(world, c, final=True)
    assert v.ok, summary(v)
    assert len(world.server_rows(c.profile.device_id)) == len(c.acknowledged)


@pytest.mark.parametrize("mode", ["reset", "reset_mid", "drop_response", "half_open",
                                  "blackhole"])
def test_connection_fault_then_exactly_once(world: World, mode: str) -> None:
    c = _sealed(world)
    world.proxy.set_fault(mode)  # every connection, until the link is back
    before = world.proxy.stats.connections
    report = _sync(c)
    faulted = world.proxy.stats.faulted
    connections = world.proxy.stats.connections - before
    world.proxy.clear()
    assert faulted >= 1
    assert report.error is not None, f"{mode}: the sync claimed success"  # type: ignore[attr-defined]
    assert report.remaining > 0  # type: ignore[attr-defined]
    # one connection, then the round gives up: no retry loop inside a round; a quiet
    # link is ended by the engine's own timeout, a closed one is "unreachable"
    assert connections == 1, (mode, connections)
    want = "transport.timeout" if mode in STALLS else "transport.unreachable"
    assert report.error.code == want, (mode, report.error)  # type: ignore[attr-defined]
    _delivered_once(world, c)


def test_drop_response_means_the_server_committed(world: World) -> None:
    """The swallowed answer was to a batch the server stored: the resend is a replay."""
    c = _sealed(world, 2)
    world.proxy.set_fault("drop_response", count=1)
    report = _sync(c, batch=2)
    world.proxy.clear()
    assert report.error is not None  # type: ignore[attr-defined]
    assert len(world.server_rows(c.profile.device_id)) == 2  # committed, client unaware
    assert c.store.receipt_count() == 0
    _delivered_once(world, c)
    assert c.store.receipt_count() == 2


def test_latency_is_only_slower(world: World) -> None:
    c = _sealed(world, 3)
    world.proxy.set_link(latency_s=0.1)
    report = _sync(c, batch=1)
    delayed = world.proxy.stats.delayed_chunks
    world.proxy.clear()
    assert report.error is None and report.remaining == 0, report  # type: ignore[attr-defined]
    assert delayed >= 3  # the latency was really there: each batch's chunks held back
    _delivered_once(world, c)


def test_64kbit_link_drains(world: World) -> None:
    """A border-post link: 64 kbit/s each way. Slow, complete, exactly once."""
    c = world.new_client(seed=64)
    eng = c.engine(batch_size=3, timeout=(5, 30))
    assert eng.sync_once().error is None  # reference data pulled at full speed first
    for decl_id in c.create(6):
        c.seal(decl_id)
    world.proxy.set_link(kbit=64)
    before = world.proxy.stats.bytes_up + world.proxy.stats.bytes_down
    shaped_before = world.proxy.stats.shaped_bytes
    report = eng.sync_once()
    eng.close()
    moved = world.proxy.stats.bytes_up + world.proxy.stats.bytes_down - before
    shaped = world.proxy.stats.shaped_bytes - shaped_before
    world.proxy.clear()
    assert report.error is None and report.remaining == 0, report
    # the cap is real: every byte that crossed waited for the 64 kbit/s buckets
    assert moved > 0 and shaped == moved, (shaped, moved)
    _delivered_once(world, c)


def test_a_64kbit_link_pulls_the_feed_during_a_long_drain_only(world: World) -> None:
    """On a thin link the feed's own connection (its handshake costs upload bytes) opens
    during a drain only while two batches or more are still to go up (#15): a short
    backlog keeps one connection, a long one has its statuses come down meanwhile."""
    c = world.new_client(seed=65)
    eng = c.engine(batch_size=12, timeout=(5, 30))
    assert eng.sync_once().error is None
    counts = []
    for n in (20, 40):  # after the first batch: 8 left (one batch), then 28 (three)
        for decl_id in c.create(n):
            c.seal(decl_id)
        world.proxy.set_link(kbit=64)
        before = world.proxy.stats.connections
        report = eng.sync_once()
        counts.append(world.proxy.stats.connections - before)
        assert report.error is None and report.remaining == 0, report
        if n == 40:
            assert report.notifications >= n  # each counted once, ahead or after
    eng.close()
    world.proxy.clear()
    assert counts == [0, 1], counts  # the kept connection; then the feed's one
    _delivered_once(world, c)


def test_server_gone_then_back(world: World) -> None:
    c = _sealed(world, 3)
    world.kill_server()
    report = _sync(c)
    assert report.error is not None and not report.reachable  # type: ignore[attr-defined]
    # refused at once by the closed port, not waited out
    assert report.error.code == "transport.unreachable"  # type: ignore[attr-defined]
    world.start_server()
    _delivered_once(world, c)


def _netns_ok() -> str | None:
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "ip/tc not installed"
    name = "comptoir-probe"
    p = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if p.returncode != 0:
        return f"ip netns unavailable: {p.stderr.strip()[:200]}"
    try:
        q = subprocess.run(["ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo",
                            "root", "netem", "delay", "1ms"], capture_output=True, text=True)
        if q.returncode != 0:
            return f"tc netem unavailable: {q.stderr.strip()[:200]}"
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def test_netem_in_own_namespace(tmp_path: Path) -> None:
    """tc netem (delay, jitter, loss) on the loopback of a network namespace the test
    creates: the sandbox and the client both run inside it, as real processes."""
    reason = _netns_ok()
    if reason:
        pytest.skip(reason)
    ns = f"comptoir-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    sandbox: subprocess.Popen[str] | None = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root",
                        "netem", "delay", "40ms", "10ms", "loss", "2%"], check=True)
        sbx = tmp_path / "sbx"
        sandbox = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "client.cli", "sandbox", "serve",
             "--home", str(sbx), "--port", "0", "--lane", "green"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        assert sandbox.stdout is not None
        url = sandbox.stdout.readline().strip()
        assert url.startswith("https://"), sandbox.stderr.read() if sandbox.stderr else url
        home = tmp_path / "trader"
        # the namespace has its own abstract sockets: no D-Bus keyring in there, so the
        # profile uses the passphrase-sealed secret files
        env = child_env(home, {"COMPTOIR_PASSPHRASE": "netem-passphrase",
                               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})

        def inside(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m",
                                   "client.cli", *args], capture_output=True, text=True,
                                  env=env, cwd=REPO, timeout=300)

        code = SandboxProcess(sbx).code()  # written to the sandbox's database directly
        ok(inside("init", "--declarant", TRADER))
        ok(inside("enrol", "--server", url, "--code", code, "--ca", str(sbx / "ca.pem")))
        ok(inside("demo", "seed", "--count", "5", "--seed", "3"))
        ok(inside("seal", "--all-ready"))
        codes = []
        for _ in range(5):
            p = inside("sync", "--once", "--batch", "2")
            assert "Traceback" not in p.stderr, p.stderr
            codes.append(p.returncode)
            if p.returncode == 0:
                break
        assert codes[-1] == 0, codes
        ok(inside("journal", "verify"))
        stats = SandboxProcess(sbx).stats()
        assert stats["declarations"] == 5 and stats["distinct_ids"] == 5, stats
    finally:
        if sandbox is not None:
            sandbox.kill()
            sandbox.wait(timeout=30)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.mark.parametrize("mode", ["reset", "drop_response"])
def test_cli_sync_under_fault_exits_3_without_traceback(world: World, mode: str) -> None:
    """``comptoir sync --once`` as a user runs it: a clear message, exit 3, work queued."""
    c = _sealed(world, 2)
    world.proxy.set_fault(mode)
    p = subprocess.run([sys.executable, "-m", "client.cli", "sync", "--once"],
                       env=child_env(c.home), cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    world.proxy.clear()
    assert p.returncode == 3, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr and p.stderr.strip()
    _delivered_once(world, c)
