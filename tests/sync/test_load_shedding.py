"""Load shedding and fairness (#16): the sandbox's fair gate, the client's backoff, and a
light post served ahead of a neighbour's backlog over real HTTPS."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time

import requests

from sync.engine import backoff_delay
from sync.sandbox.app import FairGate
from sync.sandbox.server import start_in_thread


def test_the_gate_serves_a_light_post_before_a_heavy_backlog_and_sheds_past_its_bound():
    async def scenario() -> tuple[list[str], list[bool], bool]:
        gate = FairGate(capacity=1, queue_max=3)
        assert await gate.acquire("heavy", 250)  # running
        heavy = [asyncio.create_task(gate.acquire("heavy", 250)) for _ in range(3)]
        await asyncio.sleep(0)
        # The queue is full: one more batch of that backlog is refused at once ...
        refused = [await gate.acquire("heavy", 250)]
        # ... but a light post takes the place of the latest heavy one.
        light = asyncio.create_task(gate.acquire("light", 3))
        for _ in range(3):
            await asyncio.sleep(0)
        evicted = heavy[-1].done() and heavy[-1].result() is False
        names = {t: n for t, n in zip(heavy[:2] + [light], ["heavy", "heavy", "light"],
                                      strict=True)}
        order: list[str] = []
        for _ in range(3):
            gate.release(0.1)
            await asyncio.sleep(0)
            for t in [t for t in names if t.done()]:
                assert t.result() is True
                order.append(names.pop(t))
        assert gate.retry_after() >= 1
        return order, refused, evicted

    order, refused, evicted = asyncio.run(scenario())
    assert order == ["light", "heavy", "heavy"]
    assert refused == [False] and evicted


def test_backoff_honours_retry_after_with_jitter_and_does_not_grow_with_failures():
    rng = random.Random(5)
    for failures in (1, 5, 12):
        delays = [backoff_delay(failures, 3.0, rng=rng) for _ in range(200)]
        assert min(delays) >= 3.0 and max(delays) <= 6.0
        assert max(delays) - min(delays) > 1.0  # spread out, not all back at once
    assert backoff_delay(3, None, rng=rng) <= 8.0  # unreachable: exponential, full jitter
    assert backoff_delay(3, 0.0, rng=rng) >= 0.25


def test_a_light_post_goes_ahead_of_a_herd_that_fills_the_single_window(tmp_path, Traders):
    handle = start_in_thread(tmp_path / "herd", lane="green", max_pending_batches=4)
    gate = handle.state.gate
    try:
        herd = [Traders(handle) for _ in range(5)]
        light = Traders(handle)
        heavy_batches = [[t.seal() for _ in range(40)] for t in herd]
        answers: dict[str, requests.Response] = {}
        done: list[str] = []
        admitted: list[str] = []
        names = {hashlib.sha256(f"Bearer {t.token}".encode()).hexdigest()[:24]: f"heavy{i}"
                 for i, t in enumerate(herd)}
        names[hashlib.sha256(f"Bearer {light.token}".encode()).hexdigest()[:24]] = "light"
        real_acquire = gate.acquire

        async def recording(device: str, cost: float) -> bool:
            ok = await real_acquire(device, cost)
            if ok:
                admitted.append(names.get(device, device))
            return ok

        gate.acquire = recording  # type: ignore[method-assign]

        def post(name: str, t, envs) -> None:  # type: ignore[no-untyped-def]
            answers[name] = t.post(envs)
            done.append(name)

        threads = []
        with handle.state.store.write_lock:  # the intake is busy: the gate fills up
            for i, (t, envs) in enumerate(zip(herd, heavy_batches, strict=True)):
                threads.append(threading.Thread(target=post, args=(f"heavy{i}", t, envs)))
                threads[-1].start()
                deadline = time.monotonic() + 10
                while gate.running + len(gate.waiting) + gate.shed < i + 1 \
                        and time.monotonic() < deadline:
                    time.sleep(0.01)
            assert gate.shed == 1  # 2 running + 2 waiting: the fifth is refused at once
            threads.append(threading.Thread(target=post, args=("light", light,
                                                               [light.seal()])))
            threads[-1].start()
            deadline = time.monotonic() + 10
            while gate.shed < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert gate.shed == 2  # the light post took the latest heavy batch's place
        for th in threads:
            th.join(60)
        assert answers["light"].status_code == 200
        assert answers["light"].json()["results"][0]["status"] == "accepted"
        refused = [n for n, r in answers.items() if r.status_code == 503]
        assert len(refused) == 2 and "light" not in refused
        for n in refused:
            assert int(answers[n].headers["retry-after"]) >= 1
            assert answers[n].json()["code"] == "sandbox.overloaded"
        assert admitted.index("light") == 2  # right after the two already running
        # What was refused was refused whole: resent later, it is lodged once.
        for n in refused:
            i = int(n.removeprefix("heavy"))
            res = herd[i].post(heavy_batches[i]).json()["results"]
            assert [r["status"] for r in res] == ["accepted"] * 40
    finally:
        handle.stop()


def test_a_batch_that_would_wait_too_long_is_told_when_to_come_back():
    async def scenario() -> tuple[bool, bool, int]:
        gate = FairGate(capacity=1, queue_max=100, max_wait_s=0.5)
        gate.s_per_cost = 0.01  # 10 ms per KB, as measured by earlier batches
        assert await gate.acquire("a", 40)
        queued = [asyncio.create_task(gate.acquire(f"d{i}", 40)) for i in range(2)]
        await asyncio.sleep(0)  # 0.8 s of work queued
        late_heavy = await gate.acquire("late", 200)  # would wait 0.8 s + the running one
        light = asyncio.create_task(gate.acquire("small", 1))
        await asyncio.sleep(0)
        retry = gate.retry_after()
        for _ in range(4):
            gate.release(0.4, 40)
            await asyncio.sleep(0)
        assert all(q.done() and q.result() for q in queued)
        return late_heavy, light.done() and light.result(), retry

    late_heavy, light_ok, retry = asyncio.run(scenario())
    assert late_heavy is False and light_ok is True and retry >= 1
