"""Issue #16 acceptance: receipts as a transparency log, end to end.

A trader drains through ``comptoir sync`` (real processes, real HTTPS, the sandbox
single window in this process); every stored receipt is a standalone proof that
``comptoir verify`` checks offline; a tampered proof, a tree head that is not
consistent with one seen before, and an entry the single window dropped from its log
are each caught with a clear message in English and French; an officer's trust
material carries the latest head.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from client.seal import translog as tl
from client.seal.jws import b64u_encode
from client.seal.profile import load_profile, open_store
from sync.sandbox.server import SandboxHandle, start_in_thread
from sync.sandbox.translog import MerkleLog

from .helpers import TRADER, comptoir, ok

OFFICER = "GBOFFICER00001"


def _profile(home: Path, h: SandboxHandle, trader: str = TRADER, role: str = "trader") -> None:
    ok(comptoir(home, "init", "--declarant", trader, *(["--role", role] if role != "trader"
                                                       else [])))
    ok(comptoir(home, "enrol", "--server", h.url, "--code", h.new_enrolment_code(trader, role),
                "--ca", str(h.ca_pem_path)))


def _seal(home: Path, n: int, seed: int) -> None:
    ok(comptoir(home, "demo", "seed", "--count", str(n), "--seed", str(seed)))
    ok(comptoir(home, "seal", "--all-ready"))


def _receipts(home: Path) -> list[str]:
    with open_store(load_profile(home)) as store:
        return [rs[0]["token"] for e in store.journal()
                if (rs := store.receipts(e.declaration_id))]


def _queued(home: Path) -> int:
    with open_store(load_profile(home)) as store:
        return store.outbox_stats()[0]


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    h = start_in_thread(tmp_path / "sbx", lane="green")
    home = tmp_path / "trader"
    _profile(home, h)
    _seal(home, 7, seed=3)
    ok(comptoir(home, "sync", "--once", "--batch", "3"))  # three batches: three heads
    yield {"handle": h, "home": home, "tmp": tmp_path}
    h.stop()


def test_every_stored_receipt_verifies_offline_with_comptoir_verify(world) -> None:
    home, tmp = world["home"], world["tmp"]
    receipts = _receipts(home)
    assert len(receipts) == 7
    heads = {json.loads(r)["head"] for r in receipts}
    assert len(heads) == 3  # one signed tree head per batch, shared by its receipts
    kept = tl.load_head(home / "trust")
    assert kept is not None and kept.size == 7
    assert [h["size"] for h in tl.seen_heads(home / "trust")] == [3, 6, 7]
    path = tmp / "receipt.json"
    with open_store(load_profile(home)) as store:
        fifth = [e.declaration_id for e in store.journal()][4]
    assert "Receipt written to" in ok(comptoir(home, "receipt", fifth, "--out", str(path))).stdout
    assert path.read_text().strip() == receipts[4]
    assert ok(comptoir(home, "receipt", fifth)).stdout.strip() == receipts[4]
    p = ok(comptoir(home, "verify", str(path)))
    assert "VALID receipt: entry 4 of the single window's receipts log" in p.stdout
    assert "one this profile checked" in p.stdout and "matches #5 of this device's journal" in p.stdout
    p = ok(comptoir(home, "verify", str(path), env={"COMPTOIR_LANG": "fr"}))
    assert "Accusé de réception VALABLE" in p.stdout
    # Pasted rather than a file, and on another machine (no journal, no history): valid.
    other = tmp / "elsewhere"
    (other / "trust").mkdir(parents=True)
    (other / "trust" / "receipt.pem").write_bytes((home / "trust" / "receipt.pem").read_bytes())
    p = ok(comptoir(other, "verify", receipts[0]))
    assert "VALID receipt" in p.stdout and "no tree head" in p.stdout


def test_a_tampered_proof_or_entry_is_refused_with_a_clear_message(world) -> None:
    home, tmp = world["home"], world["tmp"]
    good = json.loads(_receipts(home)[2])
    flipped = list(good["path"])
    flipped[0] = b64u_encode(bytes(32))
    cases = {"proof": dict(good, path=flipped), "position": dict(good, index=good["index"] + 1),
             "entry": dict(good, leaf=dict(good["leaf"], mrn="26GB0000000000999"))}
    for name, doc in cases.items():
        path = tmp / f"{name}.json"
        path.write_text(json.dumps(doc))
        p = comptoir(home, "verify", str(path))
        assert p.returncode == 1, (name, p.stdout, p.stderr)
        assert "INVALID receipt: The inclusion proof of entry" in p.stderr, (name, p.stderr)
        assert "Traceback" not in p.stderr
    p = comptoir(home, "verify", str(tmp / "proof.json"), env={"COMPTOIR_LANG": "fr"})
    assert p.returncode == 1 and "Accusé de réception NON VALABLE" in p.stderr
    assert "preuve d'inclusion" in p.stderr


def test_a_tree_head_not_consistent_with_one_seen_before_is_refused_offline(world) -> None:
    """The single window signs a second, different tree of a size this profile already
    checked (a rewritten log) and hands out a receipt in it."""
    home, tmp, h = world["home"], world["tmp"], world["handle"]
    real = json.loads(_receipts(home)[0])
    leaves = [tl.leaf_hash(f"rewritten {i}".encode()) for i in range(5)]
    leaves.append(tl.leaf_hash(tl.leaf_data(real["leaf"])))
    head = tl.sign_tree_head(6, tl.root_of(leaves), "2030-01-01T00:00:00.000000Z",
                             tl.load_head(home / "trust").log, h.state.pki.receipt_private_jwk)
    path = tl.inclusion_path(5, 6, lambda lo, hi: tl.root_of(leaves[lo:hi]))
    forged = tmp / "forged.json"
    forged.write_text(tl.make_receipt(real["leaf"], 5, path, head))
    p = comptoir(home, "verify", str(forged))
    assert p.returncode == 1, p.stdout
    assert "differs from the one of the same size this profile checked" in p.stderr
    assert "rewrote its log" in p.stderr


def _drop_entry(db: Path, index: int, log: MerkleLog) -> int:
    """What a dishonest single window would do: remove one lodging from its log and
    rebuild the tree and a signed head over the rest."""
    con = sqlite3.connect(db)
    try:
        leaves = [bytes(r[0]) for r in con.execute(
            "SELECT hash FROM log_nodes WHERE level = 0 ORDER BY idx")]
        del leaves[index]
        nodes = log.append(0, leaves, lambda keys: {})
        head = log.sign(len(leaves), log.root(len(leaves), lambda keys: {}, nodes), "rebuilt")
        con.execute("DELETE FROM log_nodes")
        con.execute("DELETE FROM tree_heads")
        con.executemany("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)",
                        [(lv, i, hh) for (lv, i), hh in nodes.items()])
        con.execute("INSERT INTO tree_heads (size, root, token, time) VALUES (?, ?, ?, ?)",
                    (head.size, head.root, head.token, head.time))
        con.execute("UPDATE counters SET value = ? WHERE name = 'log_size'", (len(leaves),))
        con.commit()
        return len(leaves)
    finally:
        con.close()


def test_an_entry_dropped_from_the_log_is_caught_at_the_next_sync(world) -> None:
    home, tmp, h = world["home"], world["tmp"], world["handle"]
    sandbox_home = h.state.settings.home
    jwk = h.state.pki.receipt_private_jwk
    log_id = h.state.log.log_id
    h.stop()
    _drop_entry(sandbox_home / "sandbox.db", 2, MerkleLog(log_id, jwk))
    h2 = start_in_thread(sandbox_home, lane="green", port=h.port)
    world["handle"] = h2
    _seal(home, 2, seed=4)
    for lang, text in (("en", "not consistent with the one seen before"),
                       ("fr", "n'est pas cohérent avec celui vu auparavant")):
        p = comptoir(home, "sync", "--once", env={"COMPTOIR_LANG": lang})
        assert p.returncode == 3, p.stdout
        assert text in p.stderr, p.stderr
        assert "Traceback" not in p.stderr
    assert _queued(home) == 2  # nothing recorded on the strength of the rewritten log
    # The receipt of the dropped entry still proves its lodging, offline.
    path = tmp / "dropped.json"
    path.write_text(_receipts(home)[2])
    assert "VALID receipt" in ok(comptoir(home, "verify", str(path))).stdout


def test_the_officers_trust_material_carries_the_latest_tree_head(world) -> None:
    home, tmp, h = world["home"], world["tmp"], world["handle"]
    officer = tmp / "officer"
    _profile(officer, h, OFFICER, role="officer")
    ok(comptoir(officer, "sync", "--once"))
    head = tl.load_head(officer / "trust")
    assert head is not None and head.size == 7
    material = json.loads((officer / "trust" / "trust.json").read_text())["material"]
    assert material["tree_head"] == head.token
    # The trader's receipts are in that head's log: verified against it offline.
    path = tmp / "r.json"
    path.write_text(_receipts(home)[6])
    p = ok(comptoir(officer, "verify", str(path)))
    assert "VALID receipt" in p.stdout and "one this profile checked" in p.stdout
