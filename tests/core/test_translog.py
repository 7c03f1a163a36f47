"""RFC 9162 Merkle tree proofs and standalone receipts (client.seal.translog).

Proofs are generated from the definitions (recursive, RFC 9162 2.1.3.1 / 2.1.4.1) and
verified with the RFC's iterative algorithms (2.1.3.2 / 2.1.4.2): two independent
readings of the RFC that must agree for every size and position, and disagree as soon
as one hash, one index or one size is changed.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from client.seal import translog as tl
from client.seal.jws import jwk_from_private_key, public_jwk


def _leaves(n: int) -> list[bytes]:
    return [tl.leaf_hash(f"leaf {i}".encode()) for i in range(n)]


def _oracle(leaves: list[bytes]):  # type: ignore[no-untyped-def]
    return lambda lo, hi: tl.root_of(leaves[lo:hi])


def test_hashing_is_rfc_9162s_domain_separated_sha256() -> None:
    assert tl.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert tl.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert tl.root_of([]) == hashlib.sha256(b"").digest()
    a, b, c = _leaves(3)
    assert tl.root_of([a, b, c]) == tl.node_hash(tl.node_hash(a, b), c)
    assert [tl.split(n) for n in (2, 3, 4, 5, 8, 9)] == [1, 2, 2, 4, 4, 8]


@pytest.mark.parametrize("size", list(range(1, 34)) + [64, 100])
def test_every_inclusion_proof_verifies_and_any_change_breaks_it(size: int) -> None:
    leaves = _leaves(size)
    root = tl.root_of(leaves)
    for m in range(size):
        path = tl.inclusion_path(m, size, _oracle(leaves))
        assert tl.verify_inclusion(leaves[m], m, size, path, root)
        assert not tl.verify_inclusion(leaves[m], m, size, path, tl.leaf_hash(b"other root"))
        if size > 1:
            assert not tl.verify_inclusion(leaves[(m + 1) % size], m, size, path, root)
            assert not tl.verify_inclusion(leaves[m], (m + 1) % size, size, path, root)
        for i in range(len(path)):
            bad = list(path)
            bad[i] = tl.leaf_hash(b"tampered")
            assert not tl.verify_inclusion(leaves[m], m, size, bad, root)
        assert not tl.verify_inclusion(leaves[m], m, size, path + [root], root)
        if path:
            assert not tl.verify_inclusion(leaves[m], m, size, path[:-1], root)
    assert not tl.verify_inclusion(leaves[0], size, size, [], root)


@pytest.mark.parametrize("second", list(range(1, 30)) + [64, 65])
def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not(second: int) -> None:
    leaves = _leaves(second)
    new_root = tl.root_of(leaves)
    for first in range(1, second + 1):
        old_root = tl.root_of(leaves[:first])
        proof = tl.consistency_proof(first, second, _oracle(leaves))
        assert tl.verify_consistency(first, second, old_root, new_root, proof)
        for i in range(len(proof)):
            bad = list(proof)
            bad[i] = tl.leaf_hash(b"tampered")
            assert not tl.verify_consistency(first, second, old_root, new_root, bad)
        # The same sizes, but one old entry changed (a dropped or rewritten lodging).
        rewritten = list(leaves)
        rewritten[first - 1] = tl.leaf_hash(b"rewritten")
        proof2 = tl.consistency_proof(first, second, _oracle(rewritten))
        assert not tl.verify_consistency(first, second, old_root, tl.root_of(rewritten), proof2)
        if first < second:
            assert not tl.verify_consistency(first, second, new_root, old_root, proof)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 32, 33])
def test_a_range_proof_rebuilds_the_root_and_every_leafs_own_path(size: int) -> None:
    leaves = _leaves(size)
    root = tl.root_of(leaves)
    for first in range(size):
        for end in range(first + 1, size + 1):
            proof = tl.range_proof(first, end, size, _oracle(leaves))
            tree = tl.range_root(first, leaves[first:end], size, proof)
            assert tree.root == root
            for m in range(first, end):
                assert tree.path(m) == tl.inclusion_path(m, size, _oracle(leaves))
            if proof:
                bad = [tl.leaf_hash(b"x")] + proof[1:]
                assert tl.range_root(first, leaves[first:end], size, bad).root != root
                with pytest.raises(tl.LogError):
                    tl.range_root(first, leaves[first:end], size, proof[:-1])
                with pytest.raises(tl.LogError):
                    tl.range_root(first, leaves[first:end], size, proof + proof[:1])


@pytest.fixture(scope="module")
def log_key() -> dict[str, str]:
    return jwk_from_private_key(ec.generate_private_key(ec.SECP256R1()))


def _claims(i: int) -> dict[str, object]:
    return {"declaration_id": f"d{i}", "version": 1, "envelope_hash": "ab" * 32,
            "received_at": "2026-01-01T00:00:00.000000Z", "mrn": None, "device_id": "dev",
            "seq": i + 1, "trader_id": "GB123456789000"}


def test_batch_receipts_are_standalone_and_verify_offline(log_key) -> None:
    claims = [_claims(i) for i in range(11)]
    hashes = [tl.leaf_hash(tl.leaf_data(c)) for c in claims]
    head = tl.sign_tree_head(11, tl.root_of(hashes), "2026-01-01T00:00:01Z", "log-a", log_key)
    proof = tl.range_proof(7, 11, 11, _oracle(hashes))
    batch = [tl.BatchLeaf(claims[i], i) for i in range(7, 11)]
    batch.append(tl.BatchLeaf(claims[2], 2, tl.inclusion_path(2, 11, _oracle(hashes))))
    receipts = tl.batch_receipts(head, 7, 4, proof, batch)
    pub = public_jwk(log_key)
    for b, text in zip(batch, receipts, strict=True):
        got = tl.verify_receipt(text, pub)
        assert got.claims == b.claims and got.index == b.index and got.head.size == 11
    # Tampering with the leaf, the position or the path is seen.
    data = json.loads(receipts[0])
    for change in ({"index": data["index"] + 1}, {"leaf": dict(data["leaf"], mrn="X")},
                   {"path": [data["path"][1], data["path"][0]] + data["path"][2:]}):
        with pytest.raises(tl.LogError) as info:
            tl.verify_receipt(json.dumps(dict(data, **change)), pub)
        assert info.value.code == "log.not_included"
    other = jwk_from_private_key(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(tl.LogError) as info:
        tl.verify_receipt(receipts[0], public_jwk(other))
    assert info.value.code == "log.head_invalid"
    # A result claimed as appended by this batch that is not is refused.
    with pytest.raises(tl.LogError):
        tl.batch_receipts(head, 7, 4, proof, batch[:3])
    forged = [tl.BatchLeaf(dict(claims[8], mrn="GB-FORGED"), 8) if b.index == 8 else b
              for b in batch]
    with pytest.raises(tl.LogError) as info:
        tl.batch_receipts(head, 7, 4, proof, forged)
    assert info.value.code == "log.not_included"


def test_heads_are_checked_for_consistency(log_key) -> None:
    hashes = _leaves(9)
    old = tl.sign_tree_head(5, tl.root_of(hashes[:5]), "t1", "log-a", log_key)
    new = tl.sign_tree_head(9, tl.root_of(hashes), "t2", "log-a", log_key)
    proof = tl.consistency_proof(5, 9, _oracle(hashes))
    tl.check_consistent(old, new, proof)
    tl.check_consistent(new, old, proof)  # a replayed older answer, proven the same way
    dropped = hashes[:2] + hashes[3:]  # entry 2 dropped, the rest shifted down
    fork = tl.sign_tree_head(8, tl.root_of(dropped), "t3", "log-a", log_key)
    with pytest.raises(tl.LogError) as info:
        tl.check_consistent(old, fork, tl.consistency_proof(5, 8, _oracle(dropped)))
    assert info.value.code == "log.inconsistent"
    with pytest.raises(tl.LogError) as info:
        tl.check_consistent(old, tl.sign_tree_head(9, new.root, "t4", "log-b", log_key), proof)
    assert info.value.code == "log.other_log"


def test_a_receipt_is_written_in_its_rfc_8785_form(log_key) -> None:
    from client.seal.canonical import canonicalize

    head = tl.sign_tree_head(4, bytes(32), "t", "log-a", log_key)
    claims = {"declaration_id": "d", "version": 2, "mrn": None, "note": 'é "quoted" \\ x'}
    for path in ([], [bytes(32), b"\x01" * 32]):
        text = tl.make_receipt(claims, 3, path, head)
        assert text == canonicalize({"typ": tl.RECEIPT_TYP, "leaf": claims, "index": 3,
                                     "path": tl.encode_hashes(path),
                                     "head": head.token}).decode("utf-8")
