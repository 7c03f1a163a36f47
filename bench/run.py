#!/usr/bin/env python3
"""Comptoir's one benchmark entry point: ``bench/run.py [--quick] [NAME...]``.

Prints one JSON object of figures.  Each figure that has a target in DESIGN.md is
also measured against a baseline in the same run (a ratio), so that the result does
not depend on how fast this particular machine is.  Benchmarks: save, validate, seal,
drain, herd, ui, chaos.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def _ensure_secrets() -> None:
    """Benchmarks run with a real keyring when there is one, else the passphrase files."""
    from client.seal.secrets import keyring_available

    if not keyring_available():
        os.environ.setdefault("COMPTOIR_PASSPHRASE", "bench-passphrase")


def _profile(tmp: Path, name: str) -> tuple[Any, Any, Any]:
    from client.seal.keys import create_key
    from client.seal.profile import init_profile, open_store, secret_store

    profile = init_profile(tmp / name, declarant_id="GB123456789000")
    secrets = secret_store(profile)
    create_key(profile.home, secrets)
    return profile, secrets, open_store(profile, secrets=secrets)


# --------------------------------------------------------------------------- save

def bench_save(quick: bool, tmp: Path) -> dict[str, Any]:
    from client.declaration.model import Declaration
    from client.declaration.samples import sample_declaration

    _, _, store = _profile(tmp, "save")
    rng = random.Random(1)
    decl: Declaration = sample_declaration(rng, n_items=20, declarant_id="GB123456789000")
    store.create(decl, "bench")
    n = 200 if quick else 1000
    times = []
    for i in range(n):
        decl.goods_items[i % 20].description = f"edited {i}"
        t = time.perf_counter()
        store.save_draft(decl, "bench")
        times.append((time.perf_counter() - t) * 1000)
    store.close()
    return {"save_median_ms": round(statistics.median(times), 3),
            "save_p99_ms": round(_pct(times, 99), 3)}


# --------------------------------------------------------------------------- validate

def bench_validate(quick: bool, tmp: Path) -> dict[str, Any]:
    from client.declaration.refdata import default_reference_data
    from client.declaration.samples import sample_declaration, validate

    default_reference_data()
    rng = random.Random(2)
    decl = sample_declaration(rng, n_items=50, declarant_id="GB123456789000")
    validate(decl)
    n = 100 if quick else 500
    times = []
    for _ in range(n):
        t = time.perf_counter()
        validate(decl)
        times.append((time.perf_counter() - t) * 1000)
    return {"validate_50_items_ms": round(statistics.median(times), 3)}


# --------------------------------------------------------------------------- seal

def bench_seal(quick: bool, tmp: Path) -> dict[str, Any]:
    from client.declaration import states
    from client.declaration.samples import sample_declaration
    from client.seal.sealing import Sealer

    profile, secrets, store = _profile(tmp, "seal")
    rng = random.Random(3)
    n = 300 if quick else 2000
    decls = []
    for i in range(n):
        d = sample_declaration(rng, n_items=rng.randint(1, 6), declarant_id="GB123456789000")
        d.lrn = f"BENCH{i:08d}"
        decls.append(d)
    store.create_many(decls, "bench", status=states.READY)
    sealer = Sealer(profile, store, secrets)
    sealer.seal(decls[0].id)  # warm caches (key, refdata)
    times = []
    sizes = []
    for d in decls[1:]:
        t = time.perf_counter()
        entry = sealer.seal(d.id)
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(json.dumps(entry.envelope).encode())
    store.close()

    # Baseline: a bare sqlite3 insert + commit (WAL, synchronous=FULL) of the same bytes.
    db = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    base = []
    for body in sizes:
        t = time.perf_counter()
        db.execute("BEGIN")
        db.execute("INSERT INTO t (body) VALUES (?)", (body,))
        db.execute("COMMIT")
        base.append((time.perf_counter() - t) * 1000)
    db.close()
    med = statistics.median(times)
    return {"seal_median_ms": round(med, 3), "seal_p99_ms": round(_pct(times, 99), 3),
            "seal_sqlite_baseline_median_ms": round(statistics.median(base), 3),
            "seal_vs_sqlite_ratio": round(med / statistics.median(base), 2)}


# --------------------------------------------------------------------------- drain

class Sandbox:
    """The sandbox single window as a real separate process on loopback."""

    def __init__(self, home: Path, *, lane: str = "green", db_url: str | None = None,
                 workers: int = 1) -> None:
        self.home = home
        self.db_args = ["--db", db_url] if db_url else []
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "client.cli", "sandbox", "serve", "--home", str(home),
             "--port", "0", "--lane", lane, "--workers", str(workers), *self.db_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("https://"):
            raise RuntimeError(f"sandbox did not start: {self.proc.stderr.read()[-2000:]}")
        self.banner = self.proc.stdout.readline().strip()
        self.ca = home / "ca.pem"

    def enrolment_code(self, trader: str) -> str:
        out = subprocess.run([sys.executable, "-m", "client.cli", "sandbox", "enrolment",
                              "--home", str(self.home), "--trader", trader, "--json",
                              *self.db_args],
                             capture_output=True, text=True, cwd=REPO, check=True)
        return json.loads(out.stdout)["code"]

    def cpu_seconds(self) -> float:
        """CPU time of the server process and every process under it (workers, pool)."""
        return _tree_cpu(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _tree_cpu(pid: int) -> float:
    """utime + stime of a process and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += times.get(p, 0.0)
        todo.extend(c for c, pp in parents.items() if pp == p)
    return total


TRADER_ID = "GB123456789000"


def _sealed_profile(tmp: Path, name: str, n: int, sandbox: Sandbox,
                    n_items: tuple[int, int] = (1, 4)) -> tuple[Any, Any, Any]:
    from client.declaration import states
    from client.declaration.samples import sample_declaration
    from client.seal.sealing import Sealer
    from sync.enrolment import enrol

    profile, secrets, store = _profile(tmp, name)
    enrol(profile, secrets, server_url=sandbox.url, code=sandbox.enrolment_code(TRADER_ID),
          ca_pem_path=sandbox.ca, trader_id=TRADER_ID)
    rng = random.Random(hash(name) & 0xFFFF)
    decls = []
    for i in range(n):
        d = sample_declaration(rng, n_items=rng.randint(*n_items), declarant_id=TRADER_ID)
        d.lrn = f"{name[:6].upper()}{i:09d}"
        decls.append(d)
    for i in range(0, n, 1000):
        store.create_many(decls[i:i + 1000], "bench", status=states.READY)
    sealer = Sealer(profile, store, secrets)
    for d in decls:
        sealer.seal(d.id)
    return profile, secrets, store


def _drain_once(tmp: Path, name: str, n: int, sandbox: Sandbox) -> dict[str, float]:
    """One profile with ``n`` sealed declarations drained in one pass (sync_once: the
    batches, then the feed of their statuses); rate, server CPU, wire bytes."""
    from sync.engine import SyncEngine

    profile, secrets, store = _sealed_profile(tmp, name, n, sandbox)
    engine = SyncEngine(profile, store, secrets, batch_size=250)
    cpu0 = sandbox.cpu_seconds()
    t = time.perf_counter()
    report = engine.sync_once()
    elapsed = time.perf_counter() - t
    cpu = sandbox.cpu_seconds() - cpu0
    engine.close()
    assert report.error is None, report.error.render() if report.error else None
    assert report.remaining == 0 and report.accepted == n, report
    wire = engine.bytes_sent / n
    store.close()
    return {"per_s": n / elapsed, "server_us": cpu / n * 1e6, "wire": wire}


def _ecdsa_verify_us() -> float:
    """One ES256 verification on this machine now: the floor of a server's per-envelope
    cost, measured in the same run as the drain."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    data = b"x" * 3000
    sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    t = time.process_time()
    for _ in range(2000):
        pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    return (time.process_time() - t) / 2000 * 1e6


def peers_dir() -> Path | None:
    for base in (REPO.parent, REPO.parent.parent):
        d = base / "shared" / "peers"
        if d.is_dir():
            return d
    return None


def pouchdb_push_per_s(n: int) -> dict[str, Any]:
    """The PouchDB peer's push rate for ``n`` documents, run here and now."""
    peers = peers_dir()
    if peers is None:
        return {"pouchdb_error": "shared/peers not found"}
    try:
        out = subprocess.run(["bash", str(peers / "pouchdb" / "run.sh"), str(n)],
                             capture_output=True, text=True, timeout=1800)
        line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
        doc = json.loads(line)
    except (subprocess.TimeoutExpired, IndexError, ValueError, OSError) as exc:
        return {"pouchdb_error": f"{type(exc).__name__}: {exc}"[:300]}
    if "push_per_s" not in doc:
        return {"pouchdb_error": str(doc)[:300]}
    return {"pouchdb_push_per_s": float(doc["push_per_s"]), "pouchdb_docs": n}


def bench_drain(quick: bool, tmp: Path) -> dict[str, Any]:
    """10,000 sealed declarations (2,000 with --quick) drained to the sandbox on SQLite,
    every signature verified and every receipt proven; the PouchDB peer beside it; then
    the same drain to the sandbox on PostgreSQL with 2 worker processes."""
    from client.seal.canonical import canonicalize
    from client.seal.jws import b64u_decode

    n = 2000 if quick else 10_000
    n_naive = 300 if quick else 1000
    out: dict[str, Any] = {"drain_declarations": n}
    sandbox = Sandbox(tmp / "sandbox")
    try:
        got = _drain_once(tmp, "drain", n, sandbox)
        out["drain_per_s"] = round(got["per_s"], 1)
        out["server_us_per_envelope"] = round(got["server_us"], 1)
        out["wire_bytes_per_declaration"] = round(got["wire"], 1)
        # The bytes on the wire against the declarations' canonical JSON.
        from client.seal.profile import load_profile, open_store

        with open_store(load_profile(tmp / "drain")) as store:
            canonical = sum(len(canonicalize(json.loads(b64u_decode(e.envelope["payload"]))))
                            for e in store.journal())
        out["wire_bytes_ratio"] = round(got["wire"] / (canonical / n), 3)
        from sync.engine import SyncEngine

        nprofile, nsecrets, nstore = _sealed_profile(tmp, "naive", n_naive, sandbox)
        naive = SyncEngine(nprofile, nstore, nsecrets, batch_size=1)
        t = time.perf_counter()
        nreport = naive.sync_once()
        nelapsed = time.perf_counter() - t
        naive.close()
        nstore.close()
        assert nreport.remaining == 0, nreport
        out["drain_naive_per_s"] = round(n_naive / nelapsed, 1)
        out["drain_vs_naive_ratio"] = round(got["per_s"] / (n_naive / nelapsed), 2)
    finally:
        sandbox.stop()
    floor = _ecdsa_verify_us()
    out["ecdsa_verify_us"] = round(floor, 1)
    out["server_vs_signature_ratio"] = round(out["server_us_per_envelope"] / floor, 2)
    peer = pouchdb_push_per_s(n)
    out.update(peer)
    if "pouchdb_push_per_s" in peer:
        out["drain_vs_pouchdb"] = round(out["drain_per_s"] / peer["pouchdb_push_per_s"], 2)
    out.update(_drain_postgresql(quick, tmp, n))
    return out


def _drain_postgresql(quick: bool, tmp: Path, n: int) -> dict[str, Any]:
    from tests.pgserver import PostgresServer, find_bin

    bindir = find_bin()
    if bindir is None:
        return {"drain_pg_error": "PostgreSQL binaries not found (./dev.sh installs them)"}
    pg = PostgresServer(bindir).start()
    try:
        sandbox = Sandbox(tmp / "sandbox-pg", db_url=pg.new_database("bench"), workers=2)
        try:
            got = _drain_once(tmp, "drainpg", n, sandbox)
        finally:
            sandbox.stop()
    finally:
        pg.stop()
    return {"drain_pg_per_s": round(got["per_s"], 1),
            "drain_pg_server_us_per_envelope": round(got["server_us"], 1)}


# --------------------------------------------------------------------------- herd

HERD_DEVICES, HERD_QUEUED, SMALL_QUEUED = 50, 200, 3


def _herd_child(homes: list[str], start_at: float, delay_small: float,
                results: Any) -> None:
    """One client process of the herd: its devices drain at once from ``start_at``, each
    in its own thread, as the desktop app's engine does (sync passes, waiting what the
    single window's Retry-After says)."""
    import threading

    from client.seal.profile import load_profile, open_store, secret_store
    from sync.engine import SyncEngine, SyncListener, backoff_delay

    _ensure_secrets()

    def device(home: str) -> None:
        profile = load_profile(Path(home))
        secrets = secret_store(profile)
        store = open_store(profile, secrets=secrets)
        small = Path(home).name.startswith("small")
        batches: list[float] = []
        done_at: list[float] = []
        shed = errors = 0

        class Clock(SyncListener):
            def on_progress(self, done: int, total: int) -> None:
                if total and done >= total and not done_at:
                    done_at.append(time.time())

        engine = SyncEngine(profile, store, secrets, listener=Clock(), batch_size=250,
                            timeout=(10, 120))
        real_submit = engine._submit

        def timed(items: Any) -> Any:
            t = time.perf_counter()
            try:
                return real_submit(items)
            finally:
                batches.append((time.perf_counter() - t) * 1000)

        engine._submit = timed  # type: ignore[method-assign]
        begin = start_at + (delay_small if small else 0.0)
        time.sleep(max(0.0, begin - time.time()))
        failures = 0
        while True:
            report = engine.sync_once()
            if report.error is None and report.remaining == 0:
                break
            if report.error is not None:
                failures += 1
                if report.retry_after is not None:
                    shed += 1
                else:
                    errors += 1
                if errors > 20:
                    break
                time.sleep(backoff_delay(failures, report.retry_after))
            else:
                failures = 0
        engine.close()
        store.close()
        finished = done_at[0] if done_at else time.time()
        results.put({"small": small, "seconds": finished - begin, "batches_ms": batches,
                     "shed": shed, "errors": errors, "remaining": report.remaining})

    threads = [threading.Thread(target=device, args=(h,)) for h in homes]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def bench_herd(quick: bool, tmp: Path) -> dict[str, Any]:
    """After a national outage: 50 devices with 200 sealed declarations each reconnect at
    the same instant (five client processes of ten devices), and a post with 3 queued
    joins one second later; time until every device holds its receipts, the batches'
    round trips, and how long the small post waited.  The same with --quick."""
    import multiprocessing

    sandbox = Sandbox(tmp / "sandbox-herd")
    try:
        homes: list[str] = []
        for i in range(HERD_DEVICES):
            name = f"herd{i:02d}"
            _profile_store = _sealed_profile(tmp, name, HERD_QUEUED, sandbox, n_items=(1, 2))
            _profile_store[2].close()
            homes.append(str(tmp / name))
        _sealed_profile(tmp, "small", SMALL_QUEUED, sandbox)[2].close()
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        procs_n = 5
        groups = [homes[i::procs_n] for i in range(procs_n)]
        groups[0].append(str(tmp / "small"))
        start_at = time.time() + 8.0  # every client process ready, then all at once
        procs = [ctx.Process(target=_herd_child, args=(g, start_at, 1.0, results))
                 for g in groups]
        for p in procs:
            p.start()
        got = [results.get(timeout=1800) for _ in range(HERD_DEVICES + 1)]
        for p in procs:
            p.join(60)
    finally:
        sandbox.stop()
    herd = [g for g in got if not g["small"]]
    small = [g for g in got if g["small"]][0]
    batches = [ms for g in herd for ms in g["batches_ms"]]
    return {"herd_devices": HERD_DEVICES, "herd_queued_per_device": HERD_QUEUED,
            "herd_50x200_s": round(max(g["seconds"] for g in herd), 2),
            "herd_p99_batch_ms": round(_pct(batches, 99), 1),
            "herd_median_batch_ms": round(statistics.median(batches), 1),
            "herd_max_wait_small_s": round(small["seconds"], 2),
            "herd_shed_503": sum(g["shed"] for g in got),
            "herd_errors": sum(g["errors"] for g in got),
            "herd_remaining": sum(g["remaining"] for g in got)}


# --------------------------------------------------------------------------- ui

def bench_ui(quick: bool, tmp: Path) -> dict[str, Any]:
    """The desktop app over 100,000 stored declarations (also with --quick: the target
    is about that size), measured in a child process by ui.bench."""
    from ui.bench import measure

    home = tmp / "ui"
    env = dict(os.environ, COMPTOIR_HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "client.cli", "init", "--declarant", "GB123456789000"],
                   env=env, cwd=REPO, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "client.cli", "demo", "seed", "--count", "100000",
                    "--seed", "1"], env=env, cwd=REPO, check=True, capture_output=True)
    seeded = time.perf_counter() - t
    out = measure(home)
    out["ui_seed_100k_s"] = round(seeded, 1)
    return out


# --------------------------------------------------------------------------- chaos

def bench_chaos(quick: bool, tmp: Path) -> dict[str, Any]:
    """Randomised fault schedules (tests/chaos/runner.py), then the drain through a
    64 kbit/s link (a border post's)."""
    from tests.chaos.runner import drain_at_rate, run_schedules

    out = run_schedules(tmp / "chaos", count=200 if quick else 2000, quick=quick)
    out.update(drain_at_rate(tmp / "drain64", kbit=64, count=60 if quick else 200))
    return out


BENCHES: dict[str, Callable[[bool, Path], dict[str, Any]]] = {
    "save": bench_save, "validate": bench_validate, "seal": bench_seal,
    "drain": bench_drain, "herd": bench_herd, "ui": bench_ui, "chaos": bench_chaos,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (CI, < 10 min)")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHES))
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    names = args.names or list(BENCHES)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _ensure_secrets()
    out: dict[str, Any] = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="comptoir-bench-") as d:
        for name in names:
            t = time.perf_counter()
            try:
                out.update(BENCHES[name](args.quick, Path(d)))
            except Exception as exc:  # noqa: BLE001 - one figure failing must not hide the others
                out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
            out[f"{name}_bench_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
