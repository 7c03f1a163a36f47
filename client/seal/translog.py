"""Receipts as a transparency log: RFC 9162's Merkle tree, signed tree heads, proofs.

The single window appends every lodged envelope's receipt claims to an append-only
Merkle tree (RFC 9162 section 2.1: leaf hash ``SHA-256(0x00 || leaf)``, node hash
``SHA-256(0x01 || left || right)``) and answers a batch with one *signed tree head*
(its size and root, signed with the receipt key) and the proofs that tie each
envelope's leaf to that root.  A receipt is then standalone: the leaf (what was
lodged, when, with which MRN), its position, its inclusion path and the signed head —
anyone holding the single window's receipt certificate can check it offline, and the
single window cannot later deny it.  Because the tree is append-only, two heads of the
same log are linked by a *consistency proof*; the client checks one between every new
head and the last it accepted, so entries cannot be dropped or rewritten unnoticed.

Only the proof algorithms are here (no storage): the sandbox computes proofs from its
stored nodes through a subtree-hash oracle, the client verifies them and builds the
standalone receipts of a batch from one range proof.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.files import atomic_write
from client.common.i18n import ComptoirError, Message
from client.seal.canonical import canonicalize
from client.seal.jws import (
    SignatureError,
    b64u_decode,
    b64u_encode,
    jwk_from_public_key,
    sign_compact,
    verify_compact_header,
)

TREE_HEAD_TYP = "comptoir-tree-head+jws"
RECEIPT_TYP = "comptoir-receipt+merkle"
MAX_PATH = 64  # a tree of 2**64 leaves needs no more
MAX_RECEIPT_BYTES = 64 * 1024

Subtree = Callable[[int, int], bytes]  # MTH(D[lo:hi]) of the log


class LogError(ComptoirError):
    """A proof, tree head or receipt of the log does not hold (code says which)."""

    exit_code = 2


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_data(claims: dict[str, Any]) -> bytes:
    """A leaf is the RFC 8785 canonical JSON of the receipt claims."""
    return canonicalize(claims)


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): RFC 9162's k."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (the empty tree's root is SHA-256 of nothing)."""
    if not leaves:
        return hashlib.sha256(b"").digest()

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaves[lo]
        k = split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, len(leaves))


# --------------------------------------------------------------------------- proofs


def inclusion_path(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1), leaf first."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    out: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            out.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            out.append(subtree(lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_proof(first: int, second: int, subtree: Subtree) -> list[bytes]:
    """PROOF(first, D[second]) (RFC 9162 2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError("sizes out of order")
    if first == second:
        return []
    out: list[bytes] = []

    def sub(m: int, lo: int, hi: int, whole: bool) -> None:
        n = hi - lo
        if m == n:
            if not whole:
                out.append(subtree(lo, hi))
            return
        k = split(n)
        if m <= k:
            sub(m, lo, lo + k, whole)
            out.append(subtree(lo + k, hi))
        else:
            sub(m - k, lo + k, hi, False)
            out.append(subtree(lo, lo + k))

    sub(first, 0, second, True)
    return out


def range_proof(first: int, end: int, size: int, subtree: Subtree) -> list[bytes]:
    """The hashes of the largest subtrees outside ``[first, end)`` that, with the
    leaves inside, give the root of ``D[size]`` (in the order :func:`range_root` reads
    them).  One proof for a batch's contiguous leaves instead of one path each."""
    if not 0 <= first < end <= size:
        raise ValueError("range outside the tree")
    out: list[bytes] = []

    def walk(lo: int, hi: int) -> None:
        if hi <= first or lo >= end:
            out.append(subtree(lo, hi))
        elif not (first <= lo and hi <= end):
            k = split(hi - lo)
            walk(lo, lo + k)
            walk(lo + k, hi)

    walk(0, size)
    return out


@dataclass
class RangeTree:
    """The tree rebuilt from a range's leaves and its proof: its root and every node
    the rebuild computed, from which each leaf's own inclusion path is read."""

    root: bytes
    nodes: dict[tuple[int, int], bytes]
    size: int

    def path(self, index: int) -> list[bytes]:
        return inclusion_path(index, self.size, lambda lo, hi: self.nodes[(lo, hi)])


def range_root(first: int, leaves: Sequence[bytes], size: int,
               proof: Sequence[bytes]) -> RangeTree:
    """Rebuild the root of ``D[size]`` from the leaf hashes at ``first..`` and a
    :func:`range_proof`; raises LogError when the proof does not fit the shape."""
    end = first + len(leaves)
    if not leaves or not 0 <= first < end <= size or len(proof) > 2 * MAX_PATH:
        raise LogError("log.proof_malformed")
    nodes: dict[tuple[int, int], bytes] = {}
    feed = iter(proof)

    def walk(lo: int, hi: int) -> bytes:
        if hi <= first or lo >= end:
            try:
                h = next(feed)
            except StopIteration:
                raise LogError("log.proof_malformed") from None
        elif hi - lo == 1:
            h = leaves[lo - first]
        else:
            k = split(hi - lo)
            h = node_hash(walk(lo, lo + k), walk(lo + k, hi))
        nodes[(lo, hi)] = h
        return h

    root = walk(0, size)
    if next(feed, None) is not None:
        raise LogError("log.proof_malformed")
    return RangeTree(root, nodes, size)


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does ``path`` lead from the leaf hash at ``index`` to ``root``?"""
    if not 0 <= index < size or len(path) > MAX_PATH:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree of ``second`` leaves an append-only extension of the
    one of ``first``?"""
    if not 0 < first <= second or len(proof) > 2 * MAX_PATH:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: its root is a node of the new tree
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# --------------------------------------------------------------------------- tree heads


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head: the log had ``size`` entries with this root at ``time``."""

    size: int
    root: bytes
    time: str
    log: str
    token: str

    @property
    def root_text(self) -> str:
        return b64u_encode(self.root)


def encode_hashes(hashes: Iterable[bytes]) -> list[str]:
    return [b64u_encode(h) for h in hashes]


def decode_hashes(values: Any) -> list[bytes]:
    if not isinstance(values, list) or len(values) > 2 * MAX_PATH:
        raise LogError("log.proof_malformed")
    out = []
    for v in values:
        try:
            h = b64u_decode(v, "hash")
        except SignatureError as exc:
            raise LogError("log.proof_malformed") from exc
        if len(h) != 32:
            raise LogError("log.proof_malformed")
        out.append(h)
    return out


def sign_tree_head(size: int, root: bytes, time: str, log: str,
                   private_jwk: dict[str, Any]) -> TreeHead:
    """The single window's signature over (log, size, root, time): one per batch."""
    body = {"log": log, "root": b64u_encode(root), "size": size, "time": time}
    token = sign_compact(canonicalize(body), private_jwk, {"typ": TREE_HEAD_TYP})
    return TreeHead(size, root, time, log, token)


_verified_heads: dict[tuple[str, str], TreeHead] = {}


def verify_tree_head(token: Any, key: Any) -> TreeHead:
    """A tree head after checking its signature with the single window's receipt
    certificate (or public JWK).  Verified heads are remembered: a batch's results all
    share one, and a replayed answer repeats it."""
    if not isinstance(token, str) or len(token) > 8192:
        raise LogError("log.head_invalid", detail=Message("log.head_malformed"))
    jwk = jwk_from_public_key(key.public_key()) if hasattr(key, "public_key") else key
    ck = (token, json.dumps(jwk, sort_keys=True))
    got = _verified_heads.get(ck)
    if got is not None:
        return got
    try:
        header, payload = verify_compact_header(token, jwk)
    except SignatureError as exc:
        raise LogError("log.head_invalid", detail=exc.message) from exc
    if header.get("typ") != TREE_HEAD_TYP:
        raise LogError("log.head_invalid", detail=Message("log.head_malformed"))
    try:
        body = json.loads(payload)
        size, root, time, log = body["size"], body["root"], body["time"], body["log"]
        if type(size) is not int or size < 0 or not isinstance(time, str) \
                or not isinstance(log, str):
            raise ValueError
        root_bytes = b64u_decode(root, "root")
        if len(root_bytes) != 32:
            raise ValueError
    except (ValueError, KeyError, TypeError, SignatureError) as exc:
        raise LogError("log.head_invalid", detail=Message("log.head_malformed")) from exc
    head = TreeHead(size, root_bytes, time, log, token)
    if len(_verified_heads) > 256:
        _verified_heads.clear()
    _verified_heads[ck] = head
    return head


def check_consistent(old: TreeHead, new: TreeHead, proof: Sequence[bytes]) -> None:
    """Raise LogError unless one of the two heads extends the other (``proof`` links the
    smaller to the larger)."""
    if old.log != new.log:
        raise LogError("log.other_log", old=old.log, new=new.log)
    small, large = (old, new) if old.size <= new.size else (new, old)
    if small.size == 0:
        return
    if not verify_consistency(small.size, large.size, small.root, large.root, proof):
        raise LogError("log.inconsistent", old=old.size, new=new.size)


# --------------------------------------------------------------------------- receipts


def make_receipt(claims: dict[str, Any], index: int, path: Sequence[bytes],
                 head: TreeHead, leaf: bytes | None = None) -> str:
    """A standalone receipt: the leaf, its position and path, and the signed head — the
    RFC 8785 form of ``{"head", "index", "leaf", "path", "typ"}``, written out directly
    (``leaf``: the claims' canonical bytes when already at hand)."""
    leaf_text = (leaf if leaf is not None else leaf_data(claims)).decode("utf-8")
    hashes = ",".join(f'"{h}"' for h in encode_hashes(path))  # base64url: no escaping
    return (f'{{"head":"{head.token}","index":{int(index)},"leaf":{leaf_text},'
            f'"path":[{hashes}],"typ":"{RECEIPT_TYP}"}}')


def is_merkle_receipt(text: Any) -> bool:
    return isinstance(text, str) and text.lstrip().startswith("{")


@dataclass(frozen=True)
class CheckedReceipt:
    claims: dict[str, Any]
    index: int
    head: TreeHead


def parse_receipt(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or len(text) > MAX_RECEIPT_BYTES:
        raise LogError("log.receipt_malformed")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise LogError("log.receipt_malformed") from exc
    if not isinstance(data, dict) or data.get("typ") != RECEIPT_TYP \
            or not isinstance(data.get("leaf"), dict) or type(data.get("index")) is not int:
        raise LogError("log.receipt_malformed")
    return data


def verify_receipt(text: Any, key: Any) -> CheckedReceipt:
    """A standalone receipt after checking its head's signature and that its inclusion
    path leads from its leaf to that head's root."""
    data = parse_receipt(text)
    head = verify_tree_head(data.get("head"), key)
    path = decode_hashes(data.get("path"))
    try:
        leaf = leaf_hash(leaf_data(data["leaf"]))
    except ComptoirError as exc:
        raise LogError("log.receipt_malformed") from exc
    if not verify_inclusion(leaf, data["index"], head.size, path, head.root):
        raise LogError("log.not_included", index=data["index"], size=head.size)
    return CheckedReceipt(data["leaf"], data["index"], head)


@dataclass(frozen=True)
class BatchLeaf:
    """One result of a batch as the client reads it: its leaf and position, and its path
    when it was appended before this batch (a duplicate)."""

    claims: dict[str, Any]
    index: int
    path: list[bytes] | None = None


def batch_receipts(head: TreeHead, first: int, count: int, proof: Sequence[bytes],
                   leaves: Sequence[BatchLeaf]) -> list[str]:
    """The standalone receipts of one batch's results, every one checked against the
    signed head: the leaves appended by this batch (``first .. first+count``) through
    the range proof, the earlier ones through their own paths."""
    new = {b.index: b for b in leaves if first <= b.index < first + count and b.path is None}
    data = [leaf_data(b.claims) for b in leaves]
    by_index = {b.index: d for b, d in zip(leaves, data, strict=True)}
    tree: RangeTree | None = None
    if count:
        if len(new) != count:
            raise LogError("log.proof_malformed")
        hashes = [leaf_hash(by_index[i]) for i in range(first, first + count)]
        tree = range_root(first, hashes, head.size, proof)
        if tree.root != head.root:
            raise LogError("log.not_included", index=first, size=head.size)
    out = []
    for b, d in zip(leaves, data, strict=True):
        if b.path is None:
            if tree is None or b.index not in new:
                raise LogError("log.proof_malformed")
            path = tree.path(b.index)
        else:
            path = b.path
            if not verify_inclusion(leaf_hash(d), b.index, head.size, path, head.root):
                raise LogError("log.not_included", index=b.index, size=head.size)
        out.append(make_receipt(b.claims, b.index, path, head, d))
    return out


# --------------------------------------------------------------------------- kept heads

HEAD_FILE = "tree_head.json"
HEADS_FILE = "tree_heads.jsonl"


def head_to_json(head: TreeHead) -> dict[str, Any]:
    return {"size": head.size, "root": head.root_text, "time": head.time, "log": head.log,
            "token": head.token}


def head_from_json(data: Any) -> TreeHead:
    try:
        root = b64u_decode(data["root"], "root")
        if type(data["size"]) is not int or len(root) != 32:
            raise ValueError
        return TreeHead(data["size"], root, str(data["time"]), str(data["log"]),
                        str(data["token"]))
    except (KeyError, TypeError, ValueError, SignatureError) as exc:
        raise LogError("log.head_invalid", detail=Message("log.head_malformed")) from exc


def load_head(folder: Path) -> TreeHead | None:
    """The latest tree head this profile verified (``trust/tree_head.json``)."""
    try:
        data = json.loads((folder / HEAD_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LogError("log.head_invalid", detail=Message("log.head_malformed")) from exc
    return head_from_json(data)


def save_head(folder: Path, head: TreeHead, seen_at: str) -> None:
    """Keep a newly verified head: the latest (replaced atomically, fsynced) and a line
    in the history of every head this profile checked, for offline comparisons."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / HEAD_FILE, json.dumps(head_to_json(head)).encode("utf-8"))
    with open(folder / HEADS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"size": head.size, "root": head.root_text, "log": head.log,
                             "time": head.time, "seen_at": seen_at}) + "\n")


def seen_heads(folder: Path) -> list[dict[str, Any]]:
    """Every head this profile checked (size, root, log, time, seen_at), oldest first."""
    try:
        lines = (folder / HEADS_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines[-100_000:]:
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash
        if isinstance(item, dict) and type(item.get("size")) is int:
            out.append(item)
    return out


@dataclass(frozen=True)
class ReceiptVerdict:
    """``comptoir verify`` of a receipt: valid or not, and what is known of its head."""

    ok: bool
    lines: list[Message]
    receipt: CheckedReceipt | None = None
    reason: Message | None = None


def verify_receipt_offline(text: str, certificate: Any, trust_folder: Path) -> ReceiptVerdict:
    """A receipt checked with no link: its head's signature, its inclusion path, and its
    head against every head this profile checked before (same size, other root: the
    single window rewrote its log)."""
    try:
        got = verify_receipt(text, certificate)
    except LogError as exc:
        return ReceiptVerdict(False, [Message("verify.receipt_invalid", {"reason": exc.message})],
                              reason=exc.message)
    head, claims = got.head, got.claims
    lines = [Message("verify.receipt_valid", {"index": got.index, "size": head.size,
                                              "time": head.time}),
             Message("verify.receipt_content", {
                 "id": claims.get("declaration_id") or "-", "version": claims.get("version"),
                 "mrn": claims.get("mrn") or "-", "received_at": claims.get("received_at"),
                 "hash": str(claims.get("envelope_hash") or "")[:16],
                 "trader": claims.get("trader_id") or "-"})]
    seen = [h for h in seen_heads(trust_folder) if h.get("log") == head.log]
    same = [h for h in seen if h["size"] == head.size]
    for h in same:
        if h.get("root") != head.root_text:
            reason = Message("verify.receipt_head_forked", {"size": head.size,
                                                            "date": h.get("seen_at", "")})
            return ReceiptVerdict(False, [Message("verify.receipt_invalid", {"reason": reason})],
                                  got, reason)
    if same:
        lines.append(Message("verify.receipt_head_seen", {"date": same[0].get("seen_at", "")}))
    else:
        latest = max((h["size"] for h in seen), default=None)
        if latest is None:
            lines.append(Message("verify.receipt_head_no_history", {}))
        elif head.size > latest:
            lines.append(Message("verify.receipt_head_newer", {"size": latest}))
        else:
            lines.append(Message("verify.receipt_head_unchecked", {"size": latest}))
    return ReceiptVerdict(True, lines, got)
