"""The chaos benchmark, outside pytest: randomised fault schedules against a real
sandbox process behind the fault proxy, each ending with a clean sync and the
invariant checks (:func:`tests.chaos.common.check_invariants`).

``python -m tests.chaos.runner --count 2000`` runs the long version by itself;
``bench/run.py`` calls :func:`run_schedules` and :func:`drain_at_rate`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from client.common.b64 import b64u_decode
from tests.chaos.common import Client, World, check_invariants, final_sync, kill_sync_child, reopen

SCHEDULES_PER_CLIENT = 10
FAST_TIMEOUT = (1.0, 2.0)

# (fault, weight): cheap faults dominate so that 200 schedules fit in a few minutes;
# every schedule still meets several of them, and real SIGKILLs of `comptoir sync`
# and of the server happen in a steady share of schedules.
FAULTS: list[tuple[str, int]] = [
    ("sync", 10), ("seal_more", 8), ("drop_response", 10), ("reset", 8), ("reset_mid", 6),
    ("latency", 5), ("duplicate", 6), ("reorder", 6), ("server_restart", 4),
    ("server_down_sync", 3), ("client_kill", 3), ("half_open", 2), ("blackhole", 1),
    # #12/#14: the lifecycle and the faults that see inside a run (tests/chaos/lifecycle.py)
    ("amend", 6), ("cancel", 4), ("transit_paper", 2), ("transit_withdraw", 2), ("server_crash_in_commit", 3),
    ("client_kill_point", 3), ("old_build_resend", 3),
]

# Mixed risk lanes on a compressed clock: control and documents-requested timelines
# (up to 420 sandbox seconds) pass in well under a second.
CLOCK_SPEED = 3000.0
SETTLE_S = 0.6
# Every SLOW_EVERY-th client runs against a second sandbox on a real-time clock: what it
# lodges stays registered (green releases after 45 s), so the Code allows amendments and
# invalidations before release and the single window decides them (#14).
SLOW_CLOCK = 1.0
SLOW_EVERY = 3


def _pick(rng: random.Random) -> str:
    names, weights = zip(*FAULTS, strict=True)
    return rng.choices(names, weights=weights)[0]


def _sync(client: Client, *, batch: int = 2) -> Any:
    eng = client.engine(batch_size=batch, timeout=FAST_TIMEOUT)
    try:
        return eng.sync_once()
    finally:
        eng.close()


def apply_fault(world: World, client: Client, fault: str, rng: random.Random) -> Client:
    """One step of a schedule; returns the client (reopened after a SIGKILL)."""
    from tests.chaos import lifecycle

    proxy = world.proxy
    stepped = lifecycle.step(world, client, fault, rng)
    if stepped is not None:
        return stepped
    if fault == "sync":
        _sync(client, batch=rng.randint(1, 4))
    elif fault == "seal_more":
        for decl_id in client.create(rng.randint(1, 2)):
            client.seal(decl_id)
    elif fault in ("drop_response", "reset", "reset_mid", "half_open", "blackhole"):
        proxy.set_fault(fault, count=rng.randint(1, 2))
        _sync(client, batch=rng.randint(1, 3))
        proxy.clear()
    elif fault == "latency":
        proxy.set_link(latency_s=rng.choice((0.005, 0.02, 0.05)))
        _sync(client, batch=rng.randint(1, 3))
        proxy.clear()
    elif fault == "duplicate":
        duplicate_last_batch(client)
    elif fault == "reorder":
        reorder(client, rng)
    elif fault == "server_restart":
        world.kill_server()
        world.start_server()
    elif fault == "server_down_sync":
        world.kill_server()
        report = _sync(client)
        assert report.error is not None, "a sync with the server down reported success"
        world.start_server()
    elif fault == "client_kill":
        code, err = kill_sync_child(client, after_s=rng.uniform(0.8, 2.5))
        if "Traceback" in err:
            raise AssertionError(f"comptoir sync printed a traceback: {err[-2000:]}")
        client = reopen(client)
    else:  # pragma: no cover - a typo in FAULTS
        raise ValueError(fault)
    return client


def duplicate_last_batch(client: Client) -> None:
    """Replay already delivered envelopes under a fresh Idempotency-Key (a middlebox
    resending the request): the server must answer "duplicate", never register twice."""
    from sync.transport import TransportError

    # Receipted envelopes themselves (by seq): with amendments an id has several versions,
    # and a later one may still be held while the first has its receipt.
    entries = [e for e in client.store.journal()
               if any(r["seq"] == e.seq for r in client.store.receipts(e.declaration_id))][-2:]
    if not entries:
        return
    eng = client.engine(timeout=FAST_TIMEOUT)
    try:
        resp = eng.client().submit([e.envelope for e in entries], "replay-" + uuid.uuid4().hex)
    except TransportError:
        return
    finally:
        eng.close()
    bad = [r.status for r in resp.results if r.status != "duplicate"]
    if bad:
        raise AssertionError(f"replayed envelopes answered {bad}, not duplicate")


def reorder(client: Client, rng: random.Random, *, own_key: bool = False) -> None:
    """A second engine with a stale outbox view submits a later batch before the earlier
    one: the server holds it, then applies it in device order.

    ``own_key``: the stale batch goes under a key this engine never derives (a client of
    another build); by default it is the engine's own key, as a second engine would use.
    """
    from sync.engine import batch_key
    from sync.transport import TransportError

    items = client.store.outbox_pending(50)
    if len(items) < 2:
        return
    cut = rng.randint(1, len(items) - 1)
    eng = client.engine(timeout=FAST_TIMEOUT)
    try:
        later = items[cut:]  # the later part first
        if own_key:
            resp = eng.client().submit([it.envelope for it in later],
                                       "stale-" + batch_key(later))
            results = [eng._check_result(it, r) for it, r in zip(later, resp.results,
                                                                  strict=True)]
        else:
            results = eng._submit(later)
        client.store.record_deliveries(results)
        eng.sync_once()  # then the engine's own pass, from the start of the outbox
    except TransportError:
        pass
    finally:
        eng.close()


def run_one(world: World, client: Client, rng: random.Random, *, steps: int,
            spent: dict[str, list[float]] | None = None) -> tuple[Client, Any]:
    for decl_id in client.create(rng.randint(1, 3)):
        client.seal(decl_id)
    for _ in range(steps):
        fault = _pick(rng)
        t = time.perf_counter()
        client = apply_fault(world, client, fault, rng)
        if spent is not None:
            spent.setdefault(fault, []).append(time.perf_counter() - t)
    world.proxy.clear()
    world.start_server()
    fast = world.lane == "auto" and (world.clock_speed or 0) >= 100
    report = final_sync(client, settle_s=SETTLE_S if fast else 0.0)
    verdict = check_invariants(world, client, final=True)
    if not verdict.ok and report is not None and report.error is not None:
        verdict.problems.append(f"final sync: {report.error.render()}")
    return client, verdict


def run_schedules(workdir: Path, *, count: int, quick: bool, seed: int = 7,
                  verbose: bool = False, db_url: str | None = None,
                  workers: int = 1, until: float | None = None) -> dict[str, Any]:
    """``count`` randomised fault schedules; the totals of lost, duplicated and broken.
    The sandbox on SQLite, or on ``db_url`` (PostgreSQL) with ``workers`` processes.

    ``until`` (a ``time.time()``): start no schedule after it; ``chaos_schedules`` then
    says how many ran, ``chaos_asked`` how many were asked for.
    """
    rng = random.Random(seed)
    t0 = time.perf_counter()
    lost = duplicated = broken = errors = mismatches = 0
    problems: list[str] = []
    spent: dict[str, list[float]] = {}
    fast = World(workdir, seed=seed, db_url=db_url, workers=workers, lane="auto",
                 clock_speed=CLOCK_SPEED)
    # The slow world runs on SQLite (a second PostgreSQL database is not set up here).
    slow = World(workdir / "slow", seed=seed + 1, lane="auto", clock_speed=SLOW_CLOCK)
    world = fast
    client: Client | None = None
    ran = on_slow = 0
    try:
        for i in range(count):
            if until is not None and time.time() >= until:
                break
            ran += 1
            try:
                if client is None or i % SCHEDULES_PER_CLIENT == 0:
                    if client is not None:
                        client.close()
                        client = None
                    block = i // SCHEDULES_PER_CLIENT
                    world = slow if block % SLOW_EVERY == SLOW_EVERY - 1 else fast
                    client = world.new_client(seed=rng.randrange(1 << 30))
                on_slow += world is slow
                client, verdict = run_one(world, client, rng,
                                          steps=rng.randint(2, 4 if quick else 6),
                                          spent=spent)
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                errors += 1
                problems.append(f"schedule {i}: {type(exc).__name__}: {exc}"[:500])
                if verbose:
                    print(problems[-1], file=sys.stderr, flush=True)
                world.proxy.clear()
                world.start_server()
                if client is not None:
                    client.close()
                client = None
                continue
            lost += verdict.lost
            duplicated += verdict.duplicated
            broken += verdict.broken_chains
            mismatches += verdict.status_mismatches
            problems.extend(f"schedule {i}: {p}" for p in verdict.problems)
            if verbose and (i + 1) % 10 == 0:
                print(f"{i + 1} schedules, {time.perf_counter() - t0:.0f} s: lost {lost}, "
                      f"duplicated {duplicated}, broken {broken}, errors {errors}, "
                      f"mismatches {mismatches}", file=sys.stderr, flush=True)
            if verbose and verdict.problems:
                print(f"schedule {i}: {verdict.problems[:5]}"[:2000],
                      file=sys.stderr, flush=True)
    finally:
        if client is not None:
            client.close()
        fast.close()
        slow.close()
    # A schedule that raised is a failed schedule: always printed, and in the verdict.
    out: dict[str, Any] = {"chaos_schedules": ran, "chaos_asked": count,
                           "chaos_slow_clock_schedules": on_slow, "chaos_lost": lost,
                           "chaos_duplicated": duplicated, "chaos_broken_chains": broken,
                           "chaos_errored": errors, "chaos_status_mismatches": mismatches,
                           "chaos_seconds": round(time.perf_counter() - t0, 1)}
    out["chaos_verdict"] = "fail" if (lost or duplicated or broken or errors
                                      or mismatches) else "pass"
    out["chaos_faults"] = {k: len(v) for k, v in sorted(spent.items())}
    if verbose:
        print(json.dumps({k: round(sum(v), 1) for k, v in sorted(spent.items())}),
              file=sys.stderr)
    if problems:
        out["chaos_problems"] = problems[:20]
    return out


def drain_at_rate(workdir: Path, *, kbit: int = 64, count: int = 100) -> dict[str, Any]:
    """Declarations per second through a ``kbit`` link (each direction), with the bytes
    that crossed it per declaration (TLS, HTTP, the feed of their statuses included)."""
    world = World(workdir)
    try:
        client = world.new_client(seed=64)
        eng = client.engine(batch_size=50, timeout=(10, 60))
        eng.sync_once()  # reference data and feed brought up to date at full speed
        for decl_id in client.create(count):
            client.seal(decl_id)
        # What the link carries for: the signed declarations' canonical JSON.
        canonical = sum(len(b64u_decode(e.envelope["payload"]))
                        for e in client.store.journal())
        world.proxy.set_link(kbit=kbit)
        up0 = world.proxy.stats.bytes_up
        before = up0 + world.proxy.stats.bytes_down
        t = time.perf_counter()
        report = eng.sync_once()
        elapsed = time.perf_counter() - t
        moved = world.proxy.stats.bytes_up + world.proxy.stats.bytes_down - before
        sent = world.proxy.stats.bytes_up - up0
        eng.close()
        if report.error is not None or report.remaining:
            raise RuntimeError(f"drain at {kbit} kbit/s did not finish: {report.error}")
        world.proxy.clear()
        verdict = check_invariants(world, client, final=True)
        client.close()
        if not verdict.ok:
            raise RuntimeError(f"drain at {kbit} kbit/s broke an invariant: {verdict.problems}")
    finally:
        world.close()
    return {f"drain_{kbit}kbit_per_s": round(count / elapsed, 2),
            f"drain_{kbit}kbit_bytes_per_declaration": round(moved / count, 1),
            f"drain_{kbit}kbit_sent_bytes_per_declaration": round(sent / count, 1),
            f"drain_{kbit}kbit_canonical_bytes_per_declaration": round(canonical / count, 1),
            # bytes sent on the wire (TLS, HTTP, headers) per byte of canonical JSON
            f"drain_{kbit}kbit_wire_bytes_ratio": round(sent / canonical, 3),
            # the upload direction is the busy one: bits sent over what the link could carry
            f"drain_{kbit}kbit_link_use": round(sent * 8 / (kbit * 1000 * elapsed), 3)}


FAULT_MODES = ("reset", "reset_mid", "drop_response", "half_open", "blackhole")


def giveup_times(workdir: Path, *, timeout: tuple[float, float] = (2.0, 5.0)) -> dict[str, Any]:
    """How long one sync round takes to give up under each connection fault, against
    the engine's timeout budget (connect + read): a figure, where the tests prove only
    that it gives up, and how (tests/chaos/test_network_faults.py)."""
    world = World(workdir)
    out: dict[str, Any] = {}
    try:
        for i, mode in enumerate(FAULT_MODES):
            client = world.new_client(seed=100 + i)
            for decl_id in client.create(2):
                client.seal(decl_id)
            world.proxy.set_fault(mode)
            eng = client.engine(batch_size=2, timeout=timeout)
            t = time.perf_counter()
            try:
                eng.sync_once()
            finally:
                elapsed = time.perf_counter() - t
                eng.close()
                world.proxy.clear()
                client.close()
            out[f"fault_{mode}_giveup_s"] = round(elapsed, 2)
    finally:
        world.close()
    worst = max(v for k, v in out.items() if k.endswith("_giveup_s"))
    out["fault_giveup_budget_s"] = sum(timeout)
    out["fault_giveup_vs_budget_ratio"] = round(worst / sum(timeout), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    import tempfile

    ap = argparse.ArgumentParser(description="Comptoir chaos schedules")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--drain", action="store_true", help="also the 64 kbit/s drain figure")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--minutes", type=float, help="start no schedule after this long")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="comptoir-chaos-"))
    until = time.time() + args.minutes * 60 if args.minutes else None
    result = run_schedules(work / "chaos", count=args.count, quick=args.count <= 200,
                           seed=args.seed, verbose=True, until=until)
    if args.drain:
        result.update(drain_at_rate(work / "drain", count=60))
    print(json.dumps(result, indent=2))
    return 1 if result["chaos_verdict"] != "pass" else 0


if __name__ == "__main__":
    raise SystemExit(main())
