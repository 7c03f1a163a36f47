"""Several worker processes sharing one PostgreSQL database (#16): MRN allocation,
device chains, idempotency, the receipts log and the feed cursor stay exact under
concurrency.  ``comptoir sandbox serve --workers 2`` as a real process; traders post
from many threads at once, resend, and read their feed while others write."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from sqlmodel import Session, select

from client.seal import translog as tl
from client.seal.envelope import verify_receipt
from sync.sandbox.store import Counter, EnvelopeRow, SandboxStore

from .conftest import batch_receipts
from .helpers import SandboxProcess

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]

TRADERS, BATCHES, PER_BATCH = 6, 6, 8


class _Remote:
    """What the Trader helper needs of a sandbox: its URL, CA and enrolment codes."""

    def __init__(self, sb: SandboxProcess) -> None:
        self.url, self.ca_pem_path, self._sb = sb.url, sb.ca, sb

    def new_enrolment_code(self, trader_id: str, role: str = "trader") -> str:
        return self._sb.code(trader_id, role)


def _post(t, envs: list[dict[str, str]], key: str | None = None) -> requests.Response:  # type: ignore[no-untyped-def]
    """Post as a client does: a shed batch (503) comes back after its Retry-After."""
    for _ in range(60):
        r = t.post(envs, key=key)
        if r.status_code != 503:
            return r
        time.sleep(float(r.headers.get("Retry-After", "1")))
    return r


@pytest.fixture
def workers(postgres, tmp_path: Path):  # type: ignore[no-untyped-def]
    sb = SandboxProcess(tmp_path / "sbx", lane="green", db_url=postgres.new_database(),
                        workers=2).start()
    yield sb
    sb.stop()


def test_two_workers_on_postgresql_keep_every_count_exact(workers, Traders) -> None:
    sb = workers
    assert sb.banner.startswith("database postgresql://postgres@127.0.0.1:")
    assert sb.banner.endswith(", 2 worker process(es)")
    assert len([p for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == sb.proc.pid]) == 2
    remote = _Remote(sb)
    traders = [Traders(remote) for _ in range(TRADERS)]
    sent: dict[str, list[list[dict[str, str]]]] = {}
    answers: dict[str, list[dict[str, Any]]] = {t.trader_id: [] for t in traders}
    feeds: dict[str, list[dict[str, Any]]] = {t.trader_id: [] for t in traders}
    errors: list[str] = []
    stop_reading = threading.Event()

    def lodge(t) -> None:  # type: ignore[no-untyped-def]
        batches = [[t.seal() for _ in range(PER_BATCH)] for _ in range(BATCHES)]
        sent[t.trader_id] = batches
        for i, envs in enumerate(batches):
            key = f"{t.trader_id}-{i}"
            for _ in range(2):  # the same request twice (a lost answer): one answer
                r = _post(t, envs, key=key)
                if r.status_code == 409:  # still in flight in the other worker
                    time.sleep(0.2)
                    continue
                if r.status_code != 200:
                    errors.append(f"{t.trader_id} batch {i}: {r.status_code} {r.text[:200]}")
                    return
                answers[t.trader_id].append(r.json())
            again = _post(t, envs[: PER_BATCH // 2])  # a resend under another key
            if again.status_code == 200:
                assert all(x["status"] == "duplicate" for x in again.json()["results"])

    def read_feed(t) -> None:  # type: ignore[no-untyped-def]
        after = 0
        while True:
            last_round = stop_reading.is_set()
            page = t.feed(after=after, limit=50)
            feeds[t.trader_id].extend(page["notifications"])
            after = page["next"]
            if last_round and not page["notifications"]:
                return
            time.sleep(0.01)

    writers = [threading.Thread(target=lodge, args=(t,)) for t in traders]
    readers = [threading.Thread(target=read_feed, args=(t,)) for t in traders]
    for th in writers + readers:
        th.start()
    for th in writers:
        th.join(300)
    stop_reading.set()
    for th in readers:
        th.join(120)
    assert not errors, errors

    n = TRADERS * BATCHES * PER_BATCH
    store = SandboxStore(sb.db_url)
    try:
        with Session(store.read_engine) as s:
            rows = s.exec(select(EnvelopeRow)).all()
            counters = {c.name: c.value for c in s.exec(select(Counter)).all()}
    finally:
        store.close()
    # Every envelope lodged once, accepted, with its own MRN; serials without gap.
    assert len(rows) == n and all(r.status == "accepted" for r in rows)
    mrns = [r.mrn for r in rows]
    assert len(set(mrns)) == n
    assert counters["mrn_serial"] == n
    # Each device's chain in order, linked by prev.
    for t in traders:
        chain = sorted((r for r in rows if r.trader_id == t.trader_id), key=lambda r: r.seq)
        assert [r.seq for r in chain] == list(range(1, BATCHES * PER_BATCH + 1))
        assert all(b.prev == a.envelope_hash for a, b in zip(chain, chain[1:], strict=False))
    # The receipts log: one position per envelope, every receipt proven.
    assert sorted(r.log_index for r in rows) == list(range(n))
    assert counters["log_size"] == n
    cert = x509.load_pem_x509_certificate(traders[0].enrolment["receipt_certificate_pem"]
                                          .encode())
    for t in traders:
        bodies = answers[t.trader_id]
        assert len(bodies) == 2 * BATCHES
        for first, second in zip(bodies[::2], bodies[1::2], strict=True):
            assert first == second  # the replayed answer is the original one
        for body in bodies[::2]:
            for rc in batch_receipts(body, cert):
                assert verify_receipt(rc, cert)["trader_id"] == t.trader_id
    # Consistent heads whatever worker gave them out: each later head extends the earlier.
    heads = sorted({tl.verify_tree_head(b["log"]["tree_head"], cert).size: b["log"]["tree_head"]
                    for bs in answers.values() for b in bs}.items())
    assert heads[-1][0] == n
    # The feed, read while others wrote: nothing skipped, nothing twice, cursors rising.
    for t in traders:
        got = feeds[t.trader_id]
        cursors = [x["cursor"] for x in got]
        assert cursors == sorted(set(cursors))
        full = t.feed(after=0, limit=1000)["notifications"]
        assert [x["cursor"] for x in full] == cursors
        assert len(full) == 3 * BATCHES * PER_BATCH  # received, accepted, released


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def test_workers_die_with_a_killed_server_and_the_port_is_free_again(workers) -> None:
    sb = workers
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == sb.proc.pid]
    assert len(children) == 2
    sb.proc.send_signal(signal.SIGKILL)
    sb.proc.wait(30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{c}").exists() and _ppid(c) not in (None, 0) and
              "zombie" not in _state(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [c for c in children if Path(f"/proc/{c}").exists() and "zombie" not in _state(c)]
    sb.start()  # same port
    r = requests.get(f"{sb.url}/v1/health", verify=str(sb.ca), timeout=10)
    assert r.status_code == 200


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (OSError, IndexError):
        return "gone"



def test_a_worker_whose_server_died_before_it_armed_ends_at_once() -> None:
    """A server killed between forking a worker and the worker arming the kernel's
    signal: the worker, reparented by then, must see it and end (it held the port for
    ever, and every restart of the server on that port failed)."""
    import subprocess
    import sys

    from .helpers import REPO

    out = subprocess.run([sys.executable, "-c", _ORPHAN_CHECK], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ended", out.stdout + out.stderr[-1000:]


# A "server" forks a "worker" and exits at once; the worker, reparented, then calls
# _die_with_parent with the server's pid and says on a pipe whether it lived past it
# (the pipe's end closes with it: nothing read means it ended).
_ORPHAN_CHECK = """
import os, time
from sync.sandbox.server import _die_with_parent
r, w = os.pipe()
server = os.fork()
if server == 0:
    me = os.getpid()
    if os.fork() == 0:
        while os.getppid() == me:
            time.sleep(0.01)
        try:
            _die_with_parent(me)
            os.write(w, b"survived")
        except BaseException as exc:
            os.write(w, repr(exc).encode()[:100])
        os._exit(0)
    os._exit(0)
os.close(w)
os.waitpid(server, 0)
print(os.read(r, 100).decode() or "ended", flush=True)
"""
