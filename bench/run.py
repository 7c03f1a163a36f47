#!/usr/bin/env python3
"""Comptoir's one benchmark entry point: ``bench/run.py [--quick] [NAME...]``.

Prints one JSON object of figures.  Each figure that has a target in DESIGN.md is
also measured against a baseline in the same run (a ratio), so that the result does
not depend on how fast this particular machine is.  Benchmarks: save, validate, dms,
seal, drain, herd, ui, chaos, cds, wire, interchange.  Timings live here and only here: tests
prove behaviour, never speed.
"""

from __future__ import annotations

import argparse
import base64
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


# --------------------------------------------------------------------------- dms

def bench_dms(quick: bool, tmp: Path) -> dict[str, Any]:
    """Importing the published DMS samples, against a bare lxml parse of the same bytes."""
    from lxml import etree

    from client.common.i18n import ComptoirError
    from client.interchange.dms import import_dms_bytes
    from tests.conftest import conformance_dir

    folder = conformance_dir()
    if folder is None:
        return {"dms_skipped": "conformance material absent (COMPTOIR_CONFORMANCE_DIR)"}
    samples = [(f.name, f.read_bytes())
               for f in sorted((folder / "hmrc-dms" / "samples").glob("*.xml"))]
    times, base = [], []
    for _ in range(3 if quick else 10):
        for name, data in samples:
            t = time.perf_counter()
            try:
                import_dms_bytes(data, name)
            except ComptoirError:
                continue
            times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            etree.fromstring(data)
            base.append((time.perf_counter() - t) * 1000)
    med, bmed = statistics.median(times), statistics.median(base)
    return {"dms_import_median_ms": round(med, 3), "dms_parse_baseline_median_ms": round(bmed, 3),
            "dms_import_vs_parse_ratio": round(med / bmed, 1), "dms_samples": len(samples)}


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
    times, cpu = [], []
    sizes = []
    for d in decls[1:]:
        c = time.thread_time()
        t = time.perf_counter()
        entry = sealer.seal(d.id)
        times.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
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
    # The CPU time of a seal (this thread) does not depend on how busy the disk is: on a
    # shared machine the fsync alone can swing from 0.3 to 5 ms between runs.
    return {"seal_median_ms": round(med, 3), "seal_p99_ms": round(_pct(times, 99), 3),
            "seal_cpu_median_ms": round(statistics.median(cpu), 3),
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


def _check_breakdown(envelopes: list[dict[str, str]], ca_pem: bytes) -> dict[str, float]:
    """Where the single window's per-envelope checks go (CPU microseconds, in this
    process, on envelopes of the drain): each stage alone, as the sandbox runs it."""
    from cryptography import x509

    from client.declaration.validation import validate
    from client.seal.canonical import parse_canonical
    from client.seal.envelope import verify_envelope
    from client.seal.jws import b64u_decode, decode_protected
    from sync.protocol import wire_envelope
    from sync.sandbox.checks import check_prepared, prepare

    ca = x509.load_pem_x509_certificate(ca_pem)
    wires = [wire_envelope(e) for e in envelopes]
    prepared = [prepare(w) for w in wires]
    payloads = [b64u_decode(e["payload"]) for e in envelopes]
    docs = [parse_canonical(b) for b in payloads]
    verify_envelope(envelopes[0], trust_roots=[ca])  # the chain, checked once per device
    stages: dict[str, Any] = {
        "prepare": lambda: [prepare(w) for w in wires],
        "header": lambda: [decode_protected(e["protected"]) for e in envelopes],
        "canonical": lambda: [parse_canonical(b) for b in payloads],
        "rules": lambda: [validate(d, errors_only=True) for d in docs],
        "verify_envelope": lambda: [verify_envelope(p.envelope, trust_roots=[ca],
                                                    payload_bytes=p.payload_bytes)
                                    for p in prepared],
        "check": lambda: [check_prepared(p, ca, set()) for p in prepared],
    }
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(5):  # the least of five: the machine is shared with the drain's client
        for name, run in stages.items():
            t = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - t)
    us = {k: v / len(envelopes) * 1e6 for k, v in best.items()}
    floor = _ecdsa_verify_us()
    return {"prepare": us["prepare"], "header": us["header"], "signature": floor,
            "canonical": us["canonical"],
            "verify_other": us["verify_envelope"] - us["header"] - floor - us["canonical"],
            "rules": us["rules"], "check_other": us["check"] - us["verify_envelope"] - us["rules"],
            "check_total": us["check"]}


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
        with open_store(load_profile(tmp / "drain")) as store:
            sample = [e.envelope for e in store.journal()][:300]
        parts = _check_breakdown(sample, sandbox.ca.read_bytes())
        # the rest: HTTP, TLS, the request's parsing, the intake's decisions, the store
        parts["intake_http_store"] = out["server_us_per_envelope"] - parts["prepare"] \
            - parts["check_total"]
        out["server_us_breakdown"] = {k: round(v, 1) for k, v in parts.items()}
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
        real_send = engine._send

        def timed(items: Any, log_size: int) -> Any:  # a batch sent until its answer is in
            t = time.perf_counter()
            try:
                return real_send(items, log_size)
            finally:
                batches.append((time.perf_counter() - t) * 1000)

        engine._send = timed  # type: ignore[method-assign]
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


# --------------------------------------------------------------------------- cds

class CdsEmulator:
    """The CDS emulator as a real separate process on loopback (its own CA)."""

    def __init__(self, home: Path, schemas: Path) -> None:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "client.cli", "cds-emulator", "serve", "--home", str(home),
             "--port", "0", "--schemas", str(schemas), "--auto-consent", "--no-rate-limit",
             "--delay-scale", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=REPO)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("https://"):
            raise RuntimeError(f"emulator did not start: {self.proc.stderr.read()[-2000:]}")
        self.ca = home / "ca.pem"

    def config(self, **values: Any) -> None:
        from sync.cds_emulator.server import admin_call

        admin_call(self.home, "config", values, url=self.url)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _cds_drain(tmp: Path, name: str, n: int, emu: CdsEmulator, schemas: Path,
               rate: float | None) -> tuple[float, int]:
    """Seal ``n`` declarations, sign in, then time the drain until every one has its MRN.
    Returns (declarations per second, requests sent)."""
    import threading

    import requests

    from client.declaration import states
    from client.declaration.samples import sample_declaration
    from client.seal.sealing import Sealer
    from sync.cds.config import CdsConfig
    from sync.cds.oauth import sign_in
    from sync.engine import SyncEngine

    profile, secrets, store = _profile(tmp, name)
    rng = random.Random(hash(name) & 0xFFFF)
    decls = []
    for i in range(n):
        d = sample_declaration(rng, n_items=rng.randint(1, 4), declarant_id="GB123456789000")
        d.lrn = f"G0{name.upper()}{i:07d}"  # distinct per run: CDS12003 otherwise
        decls.append(d)
    store.create_many(decls, "bench", status=states.READY)
    sealer = Sealer(profile, store, secrets)
    for d in decls:
        sealer.seal(d.id)
    settings = {"environment": "custom", "url": emu.url, "client_id": "bench",
                "ca_pem_path": str(emu.ca), "submitter": "GB123456789000",
                "schema_dir": str(schemas), "rate": rate}
    profile.server = {"connector": "cds", "cds": settings}
    profile.save()

    def browser(url: str) -> None:  # the emulator consents at once
        threading.Thread(target=requests.get, args=(url,),
                         kwargs={"verify": str(emu.ca), "timeout": 20}, daemon=True).start()

    sign_in(CdsConfig.from_profile(profile), secrets, open_browser=False, show_url=browser)
    engine = SyncEngine(profile, store, secrets)
    t = time.perf_counter()
    for _ in range(20):
        report = engine.sync_once()
        assert report.error is None, report.error.render()
        if report.remaining == 0 and store.count(statuses=[states.REGISTERED]) == n:
            break
    elapsed = time.perf_counter() - t
    sent = engine.connector.http.requests_sent  # type: ignore[attr-defined]
    engine.close()
    assert store.count(statuses=[states.REGISTERED]) == n
    store.close()
    return n / elapsed, sent


def bench_cds(quick: bool, tmp: Path) -> dict[str, Any]:
    """Declarations lodged per second against the CDS emulator (a separate process, schema
    validation of every body on both sides) with its 3/s limit off and on, and what a
    2,000-declaration backlog takes at the published rate."""
    from sync.cds.limits import PUBLISHED_RATE
    from sync.cds.wco import find_schema_dir

    schemas = find_schema_dir(base=REPO)
    emu = CdsEmulator(tmp / "cds-emulator", schemas)
    try:
        n_off, n_on = (200, 15) if quick else (1000, 45)
        off_per_s, off_sent = _cds_drain(tmp, "cdsoff", n_off, emu, schemas, None)
        emu.config(rate_limit=PUBLISHED_RATE)
        on_per_s, on_sent = _cds_drain(tmp, "cdson", n_on, emu, schemas, PUBLISHED_RATE)
    finally:
        emu.stop()
    per_decl = on_sent / n_on
    return {"cds_limit_off_declarations": n_off, "cds_limit_off_per_s": round(off_per_s, 1),
            "cds_limit_off_requests_per_declaration": round(off_sent / n_off, 2),
            "cds_limit_on_declarations": n_on, "cds_limit_on_per_s": round(on_per_s, 2),
            "cds_limit_on_requests_per_declaration": round(per_decl, 2),
            "cds_backlog_2000_at_published_rate_min": round(2000 / on_per_s / 60, 1),
            "cds_backlog_2000_floor_min": round(2000 / PUBLISHED_RATE / 60, 1)}


# --------------------------------------------------------------------------- ui

def _ui_drain(quick: bool, tmp: Path, home: Path) -> dict[str, Any]:
    """Enrol ``home`` with the sandbox, seal some of its declarations, then let the app
    drain them while its GUI thread's gaps are measured (ui.bench.measure_drain)."""
    from client.declaration import states
    from client.seal.profile import load_or_init, open_store, secret_store
    from client.seal.sealing import Sealer
    from sync.enrolment import enrol
    from ui.bench import measure_drain

    n = 2000 if quick else 10_000
    sandbox = Sandbox(tmp / "ui-sandbox")
    try:
        profile = load_or_init(home)
        secrets = secret_store(profile)
        store = open_store(profile, secrets=secrets)
        try:
            enrol(profile, secrets, server_url=sandbox.url,
                  code=sandbox.enrolment_code("GB123456789000"), ca_pem_path=sandbox.ca,
                  trader_id="GB123456789000")
            sealer = Sealer(profile, store, secrets)
            for decl_id in store.list_ids(statuses=[states.READY], limit=n):
                sealer.seal(decl_id)
        finally:
            store.close()
        return measure_drain(home)
    finally:
        sandbox.stop()


def bench_ui(quick: bool, tmp: Path) -> dict[str, Any]:
    """The desktop app over 100,000 stored declarations (also with --quick: the target
    is about that size), measured in a child process by ui.bench: first paint, filter,
    memory, then the GUI thread's gaps while 2,000 (10,000) of them drain."""
    from scripts.compile_bytecode import compile_packages
    from ui.bench import measure

    # Timed as a user launches it: with the app's bytecode compiled, as pip and the
    # packaged build leave it (this machine never writes bytecode at run time).
    compile_packages()
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
    floor = _qt_floor()
    out.update({f"floor_{k}": v for k, v in floor.items()})
    if floor.get("first_paint_s"):
        out["ui_first_paint_vs_floor"] = round(out["ui_first_paint_s"] / floor["first_paint_s"], 2)
    if floor.get("rss_mb"):  # the floor's peak after its filter; ours once the window ran its
        out["ui_rss_vs_floor"] = round(out["ui_rss_mb"] / floor["rss_mb"], 2)  # filters
        out["ui_rss_first_paint_vs_floor"] = round(
            out["ui_rss_first_paint_mb"] / floor["rss_mb"], 2)
    out.update(_ui_drain(quick, tmp, home))
    return out


FLOOR = REPO.parent / "shared" / "peers" / "qt-floor" / "run.sh"


def _qt_floor() -> dict[str, float]:
    """The bare QTableView-over-QSqlQueryModel floor (../shared/peers/qt-floor), this run."""
    floor = FLOOR if FLOOR.exists() else Path("/work/shared/peers/qt-floor/run.sh")
    if not floor.exists():
        return {}
    out = subprocess.run(["bash", str(floor), sys.executable], capture_output=True, text=True,
                         timeout=600, check=True)
    figures: dict[str, float] = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("first_paint_s", "filter_ms", "rss_mb"):
            figures[parts[0]] = float(parts[1])
    return figures


# --------------------------------------------------------------------------- chaos

def bench_chaos(quick: bool, tmp: Path) -> dict[str, Any]:
    """Randomised fault schedules (tests/chaos/runner.py), the drain through a 64 kbit/s
    link (a border post's), and how long a round takes to give up under each fault."""
    from tests.chaos.runner import drain_at_rate, giveup_times, run_schedules

    out = run_schedules(tmp / "chaos", count=200 if quick else 2000, quick=quick)
    out.update(drain_at_rate(tmp / "drain64", kbit=64, count=60 if quick else 200))
    out.update(giveup_times(tmp / "giveup"))
    return out


def bench_wire(quick: bool, tmp: Path) -> dict[str, Any]:
    """Bytes on the wire per byte of canonical JSON, and how full a 64 kbit/s link is
    kept, for a drain through the shaping proxy of tests/chaos (TLS and HTTP included)."""
    from tests.chaos.runner import drain_at_rate

    got = drain_at_rate(tmp / "wire64", kbit=64, count=60 if quick else 200)
    out = {"wire_bytes_ratio": got["drain_64kbit_wire_bytes_ratio"],
           "drain_64kbit_link_use": got["drain_64kbit_link_use"]}
    out.update({f"wire_{k}": v for k, v in got.items()
                if k not in ("drain_64kbit_wire_bytes_ratio", "drain_64kbit_link_use")})
    out.update(_wire_codecs(tmp / "codecs", 100 if quick else 400))
    return out


def _wire_codecs(home: Path, count: int, batch: int = 50) -> dict[str, Any]:
    """Batch bodies of ``count`` sealed declarations (batches of ``batch``) under each
    wire form and coding: bytes per declaration and per byte of canonical JSON, the
    measurement behind the choice in sync/wire.py.  Real envelopes: a sandbox CA issues
    the device's certificate, the client's sealing signs."""
    import gzip
    import uuid

    import zstandard
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from client.common.b64 import b64u_decode
    from client.declaration.samples import sample_declaration
    from client.seal.canonical import canonicalize
    from client.seal.envelope import GENESIS, envelope_hash, seal_envelope
    from client.seal.jws import jwk_from_private_key
    from sync.protocol import thin_batch, wire_envelope
    from sync.sandbox.ca import SandboxPKI
    from sync.wire import DICTIONARY_ID, dictionary

    pki = SandboxPKI(home).ensure()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")]))
           .sign(key, hashes.SHA256()))
    device = str(uuid.uuid4())
    _, pem = pki.issue_leaf(csr.public_bytes(serialization.Encoding.PEM).decode(),
                            trader_id="GB123456789000", role="trader", device_id=device)
    x5c = [base64.b64encode(x509.load_pem_x509_certificate(p.encode()).public_bytes(
        serialization.Encoding.DER)).decode() for p in (pem, pki.ca_pem)]
    jwk, rng, prev = jwk_from_private_key(key), random.Random(15), GENESIS
    envs = []
    for seq in range(1, count + 1):
        doc = sample_declaration(rng, n_items=rng.randint(1, 2),
                                 declarant_id="GB123456789000").to_json_dict()
        env = seal_envelope(canonicalize(doc), jwk, x5c, kind="declaration",
                            declaration_id=doc["id"], version=1, device_id=device, seq=seq,
                            prev=prev)
        prev = envelope_hash(env)
        envs.append(env)
    canonical = sum(len(b64u_decode(e["payload"])) for e in envs)

    def dumps(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    full = [dumps({"envelopes": [wire_envelope(e) for e in envs[i:i + batch]]})
            for i in range(0, count, batch)]
    thin = [dumps(thin_batch([wire_envelope(e) for e in envs[i:i + batch]]))
            for i in range(0, count, batch)]
    zdict = dictionary(DICTIONARY_ID)
    codecs: dict[str, tuple[list[bytes], Callable[[bytes], bytes]]] = {
        "gzip6_full": (full, lambda b: gzip.compress(b, 6, mtime=0)),  # before #15
        "gzip9_thin": (thin, lambda b: gzip.compress(b, 9, mtime=0)),
        "gzip6_thin": (thin, lambda b: gzip.compress(b, 6, mtime=0)),
        "zstd19_thin": (thin, zstandard.ZstdCompressor(level=19).compress),
        "zstd9_thin_dict": (thin, zstandard.ZstdCompressor(level=9, dict_data=zdict).compress),
        "zstd19_thin_dict": (thin, zstandard.ZstdCompressor(level=19,
                                                            dict_data=zdict).compress),
    }
    out: dict[str, Any] = {"wire_codec_canonical_bytes_per_declaration":
                           round(canonical / count, 1)}
    for name, (bodies, compress) in codecs.items():
        sent = sum(len(compress(b)) for b in bodies)
        out[f"wire_codec_{name}_bytes_per_declaration"] = round(sent / count, 1)
        out[f"wire_codec_{name}_ratio"] = round(sent / canonical, 3)
    out.update(_published_codecs(zdict))
    return out


def _published_codecs(zdict: Any) -> dict[str, Any]:
    """The same codings over the published DMS declarations (conformance material): the
    dictionary was trained on client/declaration/samples.py, which the drain above also
    seals, so this is its gain on declarations it has never seen."""
    import gzip

    import zstandard

    from client.common.i18n import ComptoirError
    from client.interchange.dms import import_dms_bytes
    from client.seal.canonical import canonicalize
    from tests.conftest import conformance_dir

    conf = conformance_dir()
    if conf is None:
        return {"wire_codec_published_skipped": "conformance material absent"}
    texts = []
    for f in sorted((conf / "hmrc-dms" / "samples").glob("*.xml")):
        try:
            got = import_dms_bytes(f.read_bytes(), f.name)
        except ComptoirError:
            continue
        if got.kind == "declaration":
            texts.append(canonicalize(got.declaration.to_json_dict()).decode("utf-8"))
    if not texts:
        return {"wire_codec_published_skipped": "no published declaration imports"}
    body = json.dumps({"envelopes": [{"payload_json": t} for t in texts]},
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    canonical = sum(len(t.encode("utf-8")) for t in texts)
    sizes = {"gzip6": len(gzip.compress(body, 6, mtime=0)),
             "zstd19": len(zstandard.ZstdCompressor(level=19).compress(body)),
             "zstd19_dict": len(zstandard.ZstdCompressor(level=19, dict_data=zdict)
                                .compress(body))}
    out: dict[str, Any] = {"wire_codec_published_declarations": len(texts)}
    out.update({f"wire_codec_published_{k}_ratio": round(v / canonical, 3)
                for k, v in sizes.items()})
    return out

# --------------------------------------------------------------------------- interchange

def bench_interchange(quick: bool, tmp: Path) -> dict[str, Any]:
    """WCO DEC-DMS import + export of the published original declarations: the median per
    declaration, and what each import leaves unmapped."""
    from client.common.i18n import ComptoirError
    from client.interchange.dms import export_dms, import_dms_bytes
    from tests.conftest import conformance_dir

    conf = conformance_dir()
    if conf is None:
        return {"interchange_skipped": "conformance material absent (COMPTOIR_CONFORMANCE_DIR)"}
    originals: dict[str, bytes] = {}
    for f in sorted((conf / "hmrc-dms" / "samples").glob("*.xml")):
        data = f.read_bytes()
        try:
            if import_dms_bytes(data, f.name).kind == "declaration":
                originals[f.name] = data
        except ComptoirError:
            continue
    rounds = 20 if quick else 100
    times: list[float] = []
    for _ in range(rounds):
        for name, data in originals.items():
            t = time.perf_counter()
            export_dms(import_dms_bytes(data, name).declaration)
            times.append((time.perf_counter() - t) * 1000)
    from client.interchange.dms.canonical import canonical

    unmapped = {name: len(import_dms_bytes(data, name).unmapped)
                for name, data in originals.items()}
    equal = sum(canonical(export_dms(import_dms_bytes(data, name).declaration))
                == canonical(data) for name, data in originals.items())
    counts = list(unmapped.values())
    return {"interchange_originals": len(originals),
            "interchange_roundtrip_equal_after_c14n": equal,
            "interchange_import_export_median_ms": round(statistics.median(times), 3),
            "interchange_import_export_p99_ms": round(_pct(times, 99), 3),
            "interchange_unmapped_median": statistics.median(counts) if counts else None,
            "interchange_unmapped_total": sum(counts),
            "interchange_unmapped_per_sample": unmapped}


BENCHES: dict[str, Callable[[bool, Path], dict[str, Any]]] = {
    "save": bench_save, "validate": bench_validate, "dms": bench_dms, "seal": bench_seal,
    "drain": bench_drain, "herd": bench_herd, "ui": bench_ui, "chaos": bench_chaos,
    "cds": bench_cds, "wire": bench_wire, "interchange": bench_interchange,
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
