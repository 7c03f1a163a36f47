"""Shared by the chaos tests and the chaos benchmark: a world of one sandbox process
behind a fault proxy and enrolled client profiles, the faults, and the invariants.

The invariants are the promise of issue #4 checked from both ends: what the server
holds for a device equals what the device sealed (by declaration id, version and
envelope hash), each declaration version is there once, every stored receipt verifies
against the receipt certificate and matches its journal entry, the device journal is
an intact chain, and no outbox entry is marked done without a receipt or a rejection.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.faultproxy import FaultProxy
from tests.sync.helpers import REPO, TRADER, SandboxProcess

CHAOS_PASSPHRASE = "chaos harness passphrase lantern"


def ensure_secrets() -> None:
    """A real keyring when there is one, else the passphrase files (for plain runs).

    In CI (CI set) the Secret Service must be there: the harness fails rather than
    quietly testing the passphrase fallback instead of the keyring.
    """
    from client.seal.secrets import PASSPHRASE_ENV, keyring_available

    if not keyring_available():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run under .ci/with-keyring (no Secret Service found)")
        os.environ.setdefault(PASSPHRASE_ENV, CHAOS_PASSPHRASE)


def child_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, COMPTOIR_HOME=str(home), COMPTOIR_LANG="en",
               PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def new_enrolment_code(sandbox_home: Path, trader: str = TRADER,
                       db_url: str | None = None) -> str:
    """A one-time code written straight into the sandbox's store (what the CLI does)."""
    from sync.sandbox.app import new_enrolment_code as make_code
    from sync.sandbox.app import open_store

    store = open_store(sandbox_home, db_url)
    try:
        return make_code(store, trader, "trader")
    finally:
        store.close()


@dataclass
class Client:
    """One enrolled device: its profile, secrets, open store and sealer."""

    profile: Any
    secrets: Any
    store: Any
    sealer: Any
    rng: random.Random
    created: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)  # declaration ids told "sealed"
    amended: set[tuple[str, int]] = field(default_factory=set)  # (id, version) requests
    cancelled: set[tuple[str, int]] = field(default_factory=set)  # invalidation requests
    paper: set[str] = field(default_factory=set)  # transit: paper procedure, never online
    refused: int = 0  # requests the Code refused locally (the product working)

    @property
    def home(self) -> Path:
        return Path(self.profile.home)

    def engine(self, *, batch_size: int = 3, timeout: tuple[float, float] = (2, 5)) -> Any:
        from sync.engine import SyncEngine

        return SyncEngine(self.profile, self.store, self.secrets, batch_size=batch_size,
                          timeout=timeout)

    def create(self, n: int = 1) -> list[str]:
        """New ready declarations (small: one or two goods items)."""
        from client.declaration import states
        from client.declaration.samples import sample_declaration

        decls = []
        for _ in range(n):
            d = sample_declaration(self.rng, n_items=self.rng.randint(1, 2), declarant_id=TRADER)
            d.lrn = "CH" + uuid.uuid4().hex[:18].upper()
            decls.append(d)
        self.store.create_many(decls, "chaos", status=states.READY)
        ids = [d.id for d in decls]
        self.created.extend(ids)
        return ids

    def editable(self) -> list[str]:
        from client.declaration import states

        return self.store.list_ids(statuses=list(states.EDITABLE))

    def edit(self, decl_id: str) -> None:
        """Change the working copy (goes back to draft), then mark it ready again."""
        from client.declaration import states

        decl = self.store.get(decl_id).declaration
        decl.lrn = "CH" + uuid.uuid4().hex[:18].upper()
        self.store.save_draft(decl, "chaos")
        self.store.transition(decl_id, states.READY, "chaos")

    def seal(self, decl_id: str) -> Any:
        entry = self.sealer.seal(decl_id)
        self.acknowledged.add(decl_id)
        return entry

    def seal_all_ready(self) -> int:
        from client.declaration import states

        ids = self.store.list_ids(statuses=[states.READY])
        for i in ids:
            self.seal(i)
        return len(ids)

    def close(self) -> None:
        self.store.close()


def make_client(home: Path, *, server_url: str, sandbox_home: Path, ca: Path,
                seed: int = 0, db_url: str | None = None) -> Client:
    """A fresh profile with a key, enrolled (through ``server_url``, the proxy)."""
    from client.seal.keys import create_key
    from client.seal.profile import init_profile, open_store, secret_store
    from client.seal.sealing import Sealer
    from sync.enrolment import enrol

    profile = init_profile(home, declarant_id=TRADER)
    secrets = secret_store(profile)
    create_key(profile.home, secrets)
    enrol(profile, secrets, server_url=server_url,
          code=new_enrolment_code(sandbox_home, db_url=db_url), ca_pem_path=ca, trader_id=TRADER)
    store = open_store(profile, secrets=secrets)
    return Client(profile, secrets, store, Sealer(profile, store, secrets), random.Random(seed))


def reopen(client: Client) -> Client:
    """Close and reopen the store (after a child process was killed on it)."""
    from client.seal.profile import load_profile, open_store
    from client.seal.sealing import Sealer

    client.store.close()
    profile = load_profile(client.home)
    store = open_store(profile, secrets=client.secrets)
    return Client(profile, client.secrets, store, Sealer(profile, store, client.secrets),
                  client.rng, client.created, client.acknowledged, client.amended,
                  client.cancelled, client.paper, client.refused)


class World:
    """One sandbox process (restartable on its port) behind one fault proxy; on SQLite
    by default, or on the database ``db_url`` with ``workers`` processes."""

    def __init__(self, workdir: Path, *, seed: int = 0, db_url: str | None = None,
                 workers: int = 1, lane: str = "green",
                 clock_speed: float | None = None) -> None:
        """``lane="auto"`` mixes the risk lanes (green, control, documents requested,
        rejected); ``clock_speed`` compresses their timelines (sandbox s per real s)."""
        ensure_secrets()
        self.workdir = workdir
        self.seed = seed
        self.lane = lane
        self.clock_speed = clock_speed
        workdir.mkdir(parents=True, exist_ok=True)
        self.db_url = db_url
        self.sandbox = SandboxProcess(workdir / "sandbox", lane=lane, seed=seed,
                                      db_url=db_url, workers=workers,
                                      clock_speed=clock_speed).start()
        self.proxy = FaultProxy(self.sandbox.port)
        self._server_db: Any = None
        self.clients = 0

    @property
    def up(self) -> bool:
        p = self.sandbox.proc
        return p is not None and p.poll() is None

    def new_client(self, seed: int = 0) -> Client:
        self.clients += 1
        return make_client(self.workdir / f"client{self.clients:05d}", server_url=self.proxy.url,
                           sandbox_home=self.sandbox.home, ca=self.sandbox.ca, seed=seed,
                           db_url=self.db_url)

    def kill_server(self) -> None:
        self.sandbox.kill()

    def start_server(self) -> None:
        if not self.up:
            self.sandbox.start()

    def close(self) -> None:
        self.proxy.close()
        self.sandbox.stop()
        if self._server_db is not None:
            self._server_db.close()

    # -- what the single window holds ----------------------------------------------
    def _db(self) -> Any:
        from sync.sandbox.store import SandboxStore

        if self._server_db is None:
            self._server_db = SandboxStore(self.db_url or
                                           f"sqlite:///{self.sandbox.home / 'sandbox.db'}")
        return self._server_db

    def server_head(self, device_id: str) -> tuple[int, str] | None:
        """The server's last (seq, hash) of one device chain."""
        from sqlmodel import Session, select

        from sync.sandbox.store import Device

        with Session(self._db().engine) as s:
            row = s.exec(select(Device).where(Device.device_id == device_id)).first()
            return None if row is None else (row.last_seq, row.last_hash)

    def business_duplicates(self) -> list[str]:
        """Across every device: an LRN of one declarant registered for two declarations
        (DE 2/5 is unique per declarant), or two MRNs for one declaration id."""
        from sqlmodel import Session, select

        from sync.sandbox.store import EnvelopeRow

        lrns: dict[tuple[str, str], set[str]] = {}
        mrns: dict[tuple[str, str], set[str]] = {}  # ids are per trader (#12)
        with Session(self._db().engine) as s:
            for trader, did, declarant, lrn, mrn in s.exec(select(
                    EnvelopeRow.trader_id, EnvelopeRow.declaration_id, EnvelopeRow.declarant_id,
                    EnvelopeRow.lrn, EnvelopeRow.mrn)
                    .where(EnvelopeRow.status == "accepted")).all():
                if declarant and lrn:
                    lrns.setdefault((declarant, lrn), set()).add(f"{trader}/{did}")
                if mrn:
                    mrns.setdefault((trader, did), set()).add(mrn)
        out = [f"LRN {k} registered for {len(v)} declarations" for k, v in lrns.items()
               if len(v) > 1]
        out += [f"{did} has {len(v)} MRNs" for did, v in mrns.items() if len(v) > 1]
        return out

    def feed(self, trader_id: str) -> list[tuple[str, int, str]]:
        """A trader's feed in order: (declaration id, version, status)."""
        from sqlmodel import Session, select

        from sync.sandbox.store import NotificationRow

        with Session(self._db().engine) as s:
            return [tuple(r) for r in s.exec(select(  # type: ignore[misc]
                NotificationRow.declaration_id, NotificationRow.version,
                NotificationRow.status).where(NotificationRow.trader_id == trader_id)
                .order_by(NotificationRow.id)).all()]  # type: ignore[arg-type]

    def final_statuses(self, trader_id: str) -> dict[tuple[str, int], str]:
        """The server's last status of each (declaration id, version) of a trader's feed."""
        from sqlmodel import Session, select

        from sync.sandbox.store import NotificationRow

        out: dict[tuple[str, int], str] = {}
        with Session(self._db().engine) as s:
            for did, ver, status in s.exec(select(
                    NotificationRow.declaration_id, NotificationRow.version,
                    NotificationRow.status).where(NotificationRow.trader_id == trader_id)
                    .order_by(NotificationRow.id)).all():  # type: ignore[arg-type]
                out[(did, ver)] = status
        return out

    def server_rows(self, device_id: str) -> list[dict[str, Any]]:
        """The sandbox's envelope rows of one device, read from its database."""
        from sqlmodel import Session, select

        from sync.sandbox.store import EnvelopeRow

        with Session(self._db().engine) as s:
            rows = s.exec(select(EnvelopeRow).where(EnvelopeRow.device_id == device_id)).all()
            return [{"declaration_id": r.declaration_id, "version": r.version,
                     "envelope_hash": r.envelope_hash, "seq": r.seq, "prev": r.prev,
                     "status": r.status, "receipt": r.receipt,
                     "errors": json.loads(r.errors or "[]")} for r in rows]


def kill_sync_child(client: Client, *, after_s: float, extra_env: dict[str, str] | None = None,
                    timeout: float = 60) -> tuple[int | None, str]:
    """Run ``comptoir sync --once`` as a real process and SIGKILL it after ``after_s``
    (unless it finished first).  Returns (exit code or None when killed, stderr)."""
    p = subprocess.Popen([sys.executable, "-m", "client.cli", "sync", "--once", "--batch", "2"],
                         env=child_env(client.home, extra_env), cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=after_s)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate(timeout=timeout)
        return None, err


# Codes that mean an envelope was not lodged (refused at the door, or its chain broke):
# an envelope that ends with one of these is lost.  Any other rejection is the single
# window deciding on a lodged declaration (a risk rule, a refused request), which the
# schedule's mixed lanes and requests are meant to produce.
NOT_LODGED = frozenset({
    "CHAIN_FORK", "IDEMPOTENCY_CONFLICT", "HELD_LIMIT", "SIG_TIME_BACKDATED",
    "SIGNATURE_INVALID", "SIGNATURE_HIGH_S", "CERT_NOT_OWNED", "CERT_NOT_BOUND",
    "DEVICE_NOT_BOUND", "CERT_EXPIRED", "HEADER_MISMATCH", "KIND_NOT_SUPPORTED"})


def lodged_row(r: dict[str, Any]) -> bool:
    """The server decided on this envelope: accepted, or rejected on its merits."""
    if r["status"] == "accepted":
        return True
    codes = {e.get("code") for e in r.get("errors") or []}
    return r["status"] == "rejected" and bool(codes) and not codes & NOT_LODGED


@dataclass
class Verdict:
    lost: int = 0
    duplicated: int = 0
    broken_chains: int = 0
    status_mismatches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.broken_chains
                    or self.status_mismatches)

    def add(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(f"{kind}: {what}")


def check_invariants(world: World, client: Client, *, final: bool) -> Verdict:
    """Compare the device's journal, outbox and receipts with the server's rows.

    ``final``: after a clean sync everything sealed must be on the server, accepted;
    otherwise the server may lag behind but never hold anything the device did not seal.
    """
    from cryptography import x509

    from client.seal.envelope import verify_receipt
    from client.seal.journal import verify_journal

    v = Verdict()
    store = client.store
    check = verify_journal(store)
    if not check.ok:
        v.add("broken_chains", f"journal: {check.problem.render() if check.problem else '?'}")
    entries = list(store.journal())
    replaced = replaced_originals(entries)  # re-sealed (#12, #17): delivered through orig
    sealed = {(e.declaration_id, e.version, e.envelope_hash): e for e in entries
              if e.envelope_hash not in replaced}
    journal_ids = {e.declaration_id for e in sealed.values()}
    for decl_id in client.acknowledged:
        if decl_id not in journal_ids:
            v.add("lost", f"acknowledged seal of {decl_id} not in the journal")
    rows = world.server_rows(client.profile.device_id)
    seen: dict[tuple[str, int], int] = {}
    for r in rows:
        key3 = (r["declaration_id"], r["version"], r["envelope_hash"])
        seen[key3[:2]] = seen.get(key3[:2], 0) + 1
        if key3 not in sealed:
            v.add("duplicated", f"server holds {key3} the device never sealed")
    for k, n in seen.items():
        if n > 1:
            v.add("duplicated", f"{k} held {n} times by the server")
    accepted_ids: dict[str, int] = {}
    for r in rows:
        if r["status"] == "accepted":
            accepted_ids[r["declaration_id"]] = accepted_ids.get(r["declaration_id"], 0) + 1
    for did, n in accepted_ids.items():
        versions = {e.version for e in sealed.values() if e.declaration_id == did}
        if n > len(versions):
            v.add("duplicated", f"{did} accepted {n} times")
    by_seq = sorted(rows, key=lambda r: r["seq"])
    journal_by_seq = {e.seq: e for e in sealed.values()}
    for r in by_seq:
        e = journal_by_seq.get(r["seq"])
        if e is None or e.envelope_hash != r["envelope_hash"] or e.prev_hash != r["prev"]:
            v.add("broken_chains", f"server chain at seq {r['seq']} differs from the journal")
    cert = x509.load_pem_x509_certificate((client.home / "trust" / "receipt.pem").read_bytes())
    receipts = 0
    outbox = {it.seq: it for it in store.outbox_pending(limit=1_000_000)}
    for e in sealed.values():
        rs = [r for r in store.receipts(e.declaration_id) if r["seq"] == e.seq]
        if rs:
            receipts += 1
            try:
                claims = verify_receipt(rs[0]["token"], cert)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                v.add("broken_chains", f"receipt of seq {e.seq} does not verify: {exc}")
                continue
            if (claims.get("envelope_hash"), claims.get("declaration_id"), claims.get("seq")) \
                    != (e.envelope_hash, e.declaration_id, e.seq):
                v.add("broken_chains", f"receipt of seq {e.seq} does not match the journal")
        elif e.seq not in outbox and e.declaration_id not in client.paper:
            st = store.get(e.declaration_id).status if store.exists(e.declaration_id) else "?"
            if st != "rejected" and not _rejected_request(store, e):
                v.add("lost", f"seq {e.seq} done without receipt or rejection (status {st})")
    if final:
        server = {(r["declaration_id"], r["version"], r["envelope_hash"]): r for r in rows}
        expected_receipts = 0
        for key3 in sealed:
            if key3[0] in client.paper:
                continue  # never to be sent: _final_truths checks it is not there
            r = server.get(key3)
            if r is None:
                v.add("lost", f"{key3} sealed but not on the server")
            elif not lodged_row(r):
                codes = [e.get("code") for e in r.get("errors") or []]
                v.add("lost", f"{key3} is {r['status']} {codes} on the server")
            elif r["status"] == "accepted":
                expected_receipts += 1
        if outbox:
            v.add("lost", f"{len(outbox)} still queued after the final sync")
        if receipts != expected_receipts:
            v.add("lost", f"{expected_receipts - receipts} receipts missing")
        _final_truths(world, client, sealed, rows, v)
    return v


def replaced_originals(entries: list[Any]) -> set[str]:
    """Hashes of journal entries a later re-seal names as its original (``orig``)."""
    import json

    from client.common.b64 import b64u_decode_lenient

    out: set[str] = set()
    for e in entries:
        orig = json.loads(b64u_decode_lenient(e.envelope["protected"])).get("orig")
        if isinstance(orig, str):
            out.add(orig)
    return out


def _final_truths(world: World, client: Client, sealed: dict[tuple[str, int, str], Any],
                  rows: list[dict[str, Any]], v: Verdict) -> None:
    """After a clean sync: the schedule's own record, the server's head and feed.

    Ground truth is what the schedule was told (``client.acknowledged``), not the
    journal alone: a journal that lost an entry with the server missing it too would
    otherwise look consistent.  Every version of every id counts.
    """
    from client.declaration import states
    from tests.chaos.lifecycle import payload_function

    lodged = {(r["declaration_id"], r["version"]) for r in rows if lodged_row(r)}
    for decl_id in client.acknowledged:
        if not any(did == decl_id for did, _ in lodged):
            v.add("lost", f"sealing of {decl_id} acknowledged, nothing lodged on the server")
    for did, ver, _h in sealed:
        if did not in client.paper and (did, ver) not in lodged:
            v.add("lost", f"version {ver} of {did} not lodged on the server")
    for did, ver in client.amended | client.cancelled:
        if (did, ver) not in lodged:
            v.add("lost", f"request v{ver} of {did} not decided by the server")
    for r in rows:
        # a sealed transit sent to paper reaches the server only as its chain position
        # and hash (no envelope row): any row of it is a delivery the Code forbids
        if r["declaration_id"] in client.paper:
            v.add("duplicated", f"{r['declaration_id']} went on paper and was also "
                                f"delivered ({r['status']})")
    head = world.server_head(client.profile.device_id)
    chain = list(sealed.values())  # paper links included: they hold their seq
    if chain:
        last = max(chain, key=lambda e: e.seq)
        if head != (last.seq, last.envelope_hash):
            v.add("broken_chains", f"server head {head} is not the journal head "
                                   f"({last.seq}, {last.envelope_hash[:12]}): truncated")
    for problem in world.business_duplicates():
        v.add("duplicated", problem)
    functions = {(e.declaration_id, e.version): payload_function(e) for e in sealed.values()}
    declaration_status: dict[str, str] = {}
    for did, ver, status in world.feed(TRADER):
        if functions.get((did, ver), "original") in states.REQUESTS \
                and status in ("rejected", "cancellation_denied"):
            continue  # a refused request leaves the declaration as it was (#14)
        if status in states.STATES:
            declaration_status[did] = status
    for did in {did for did, _, _ in sealed} - client.paper:
        if not client.store.exists(did):
            continue
        rec = client.store.get(did)
        if rec.status in states.EDITABLE:
            continue  # a local draft of a next version (a request refused locally)
        server_status = declaration_status.get(did)
        if server_status is not None and server_status != rec.status:
            v.add("status_mismatches",
                  f"{did} v{rec.declaration.version}: local {rec.status}, "
                  f"server {server_status}")


def _rejected_request(store: Any, entry: Any) -> bool:
    """A request (amendment, invalidation) the single window refused: done, no receipt."""
    from client.declaration import states
    from tests.chaos.lifecycle import payload_function

    return payload_function(entry) in states.REQUESTS


def final_sync(client: Client, *, attempts: int = 6, settle_s: float = 0.0) -> Any:
    """A clean link: sync until the outbox is empty (held ones resolve on a resend);
    then, after ``settle_s`` (the compressed lane timelines), once more to drain the feed."""
    eng = client.engine(batch_size=50, timeout=(5, 30))
    try:
        report = None
        for _ in range(attempts):
            report = eng.sync_once()
            if report.error is None and report.remaining == 0:
                break
            time.sleep(0.2)
        if settle_s and report is not None and report.error is None:
            time.sleep(settle_s)
            report = eng.sync_once()
        return report
    finally:
        eng.close()


def summary(v: Verdict) -> str:
    return json.dumps({"lost": v.lost, "duplicated": v.duplicated,
                       "broken_chains": v.broken_chains, "problems": v.problems[:10]})
