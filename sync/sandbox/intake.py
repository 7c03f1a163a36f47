"""Lodging a batch of sealed envelopes: verify, order by device chain, decide, receipt.

First, with no lock held: a resend (an envelope of this trader already decided, found
by its hash) is answered from what was stored, unverified; the others get the
stateless checks (signature and certificate chain to the sandbox CA, not revoked;
business rules).  Then, under the intake lock, per envelope in this order: the signer
is the token's trader; (declaration id, version) idempotency
(same hash -> the original result, other hash -> IDEMPOTENCY_CONFLICT); the device
chain (seq = last + 1 and prev = hash of last -> apply; further ahead -> held until the
gap fills; behind or wrong prev -> CHAIN_FORK); then business validation and the risk
lane.  A rejected envelope still advances the chain: it was lodged.

A withdrawn link (a transit ended on paper, #14) comes as its chain position and hash
only, never the envelope: it takes its place in the device chain (or waits behind a gap
like an envelope) and lodges nothing; the next envelope's signed ``prev`` must name its
hash, else that envelope is refused with CHAIN_FORK.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from client.common.i18n import tr
from client.declaration import states
from client.declaration.mrn import allocate_mrn, procedure_letter
from client.seal import translog as tl
from sync.protocol import JwsEnvelope, WithdrawnLink
from sync.sandbox import authz
from sync.sandbox.checks import (
    Checked,
    Checker,
    Prepared,
    Refused,
    check_one,
    check_prepared,
    prepare,
)
from sync.sandbox.officer import apply_pending, lodge_decision
from sync.sandbox.pipeline import Clock, LaneMode, lane_for, rejection_rule, schedule
from sync.sandbox.requests import decide_request, lodged
from sync.sandbox.store import BatchTx, Principal, SandboxStore, StoredEnvelope, StoredLink
from sync.sandbox.translog import MerkleLog


def now_iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def _err(code: str, pointer: str = "", **params: Any) -> dict[str, str]:
    return {"code": code, "pointer": pointer, "detail": tr(f"sandbox.code.{code}", "en", **params)}


def _business_errors(tx: BatchTx, se: StoredEnvelope, checked: Checked) -> list[dict[str, str]]:
    """Server-side validation: the client's rules (checked earlier) plus DMS uniqueness."""
    document = checked.document
    if not authz.declarant_allowed(tx, se.trader_id, document):
        # Nothing else is said: whether that declarant used an LRN is none of the signer's.
        return [_err("DECLARANT_NOT_REPRESENTED", "/declarant/id")]
    errors = list(checked.rule_errors)
    declarant = document.get("declarant") if isinstance(document.get("declarant"), dict) else {}
    declarant_id, lrn = declarant.get("id"), document.get("lrn")
    if isinstance(declarant_id, str) and isinstance(lrn, str) and declarant_id and lrn:
        se.declarant_id, se.lrn = declarant_id[:35], lrn[:35]
        owner = tx.lrn_owner(se.declarant_id, se.lrn)
        if owner is not None and owner != se.declaration_id:
            errors.append({"code": "CDS12003", "pointer": "lrn",
                           "detail": tr("sandbox.lrn_reused", "en", lrn=lrn)})
    return errors


def _claims(se: StoredEnvelope) -> dict[str, Any]:
    """The receipt's claims for an accepted envelope."""
    return {"declaration_id": se.declaration_id, "version": se.version,
            "envelope_hash": se.envelope_hash, "received_at": se.received_at,
            "mrn": se.mrn, "device_id": se.device_id, "seq": se.seq,
            "trader_id": se.trader_id}


@dataclass
class IntakeContext:
    """What the intake needs from the running sandbox."""

    ca_cert: x509.Certificate
    receipt_jwk: dict[str, Any]
    country: str
    seed: int
    lane_mode: LaneMode
    clock: Clock
    revoked: set[int]
    checker: Checker | None = None
    max_held: int = 256  # envelopes held per device waiting for a gap (look-ahead: 4x)
    log: MerkleLog | None = None
    known_log_size: int = 0  # the tree size the client last verified (Comptoir-Log-Size)


@dataclass
class Incoming:
    """One envelope of a batch before the intake lock: as received, and either checked
    (signature, chain, rules) or already known (this trader's decided envelope with the
    same hash: a resend, answered without verifying it again)."""

    index: int
    prepared: Prepared | None  # None: a withdrawn link (``link``), no envelope
    check: Checked | Refused | None = None
    known: StoredEnvelope | None = None
    link: WithdrawnLink | None = None


def prepare_item(item: JwsEnvelope | WithdrawnLink, chains: list[str] | None = None,
                 index: int = 0, prev: str | None = None) -> Prepared | WithdrawnLink:
    """A batch item as the intake takes it: an envelope as signed (its header's chain
    restored from the batch's ``chains``, an elided ``prev`` from ``prev``), or a
    withdrawn link.  A reference that cannot be restored raises
    :class:`sync.protocol.WireFormError`."""
    if isinstance(item, WithdrawnLink):
        return item
    wire = item.model_dump(exclude_none=True)
    if "protected_json" in wire:
        del wire["protected_json"]
        wire["protected"] = item.protected_b64(chains, prev,
                                               f"/envelopes/{index}/protected_json")
    return prepare(wire)


def prepare_batch(items: Sequence[JwsEnvelope | WithdrawnLink],
                  chains: list[str]) -> list[Prepared | WithdrawnLink]:
    """Every item of a batch as :func:`prepare_item` takes it, in order (an elided
    ``prev`` is the hash of the item before)."""
    out: list[Prepared | WithdrawnLink] = []
    prev: str | None = None
    for i, item in enumerate(items):
        p = prepare_item(item, chains, i, prev)
        prev = p.envelope_hash if isinstance(p, WithdrawnLink) else p.hash
        out.append(p)
    return out


def check_batch(store: SandboxStore, ctx: IntakeContext, principal: Principal,
                items: Sequence[Prepared | WithdrawnLink]) -> list[Incoming]:
    """Everything that needs no lock: resends recognised by their stored hash, then the
    stateless checks of the rest (inline or across the checker's processes).  A
    withdrawn link has nothing to verify: it is decided under the lock."""
    known = store.lodged_by_hash(principal.trader_id, [
        p.envelope_hash if isinstance(p, WithdrawnLink) else p.hash for p in items])
    incoming = [Incoming(i, None, link=p, known=known.get(p.envelope_hash))
                if isinstance(p, WithdrawnLink) else Incoming(i, p, known=known.get(p.hash))
                for i, p in enumerate(items)]
    fresh = [x for x in incoming if x.known is None and x.prepared is not None]
    if ctx.checker is not None:
        checks = ctx.checker.check([x.prepared for x in fresh], ctx.revoked)
    else:
        checks = [check_prepared(x.prepared, ctx.ca_cert, ctx.revoked) for x in fresh]
    for x, c in zip(fresh, checks, strict=True):
        x.check = c
    return incoming


def process_batch(tx: BatchTx, ctx: IntakeContext, principal: Principal,
                  incoming: list[Incoming]) -> dict[str, Any]:
    """Decide every envelope of one batch inside one store transaction (intake lock held).

    Withdrawn links (``Incoming.link``) take their chain position and lodge nothing (no
    MRN, no receipt, no notification).  Returns the BatchResponse document (plain JSON
    values).
    """
    results: list[dict[str, Any]] = []
    to_log: list[StoredEnvelope] = []  # lodged by this batch: their receipts join the log
    seen: dict[tuple[str, int], StoredEnvelope] = {}  # what the results refer to
    by_key: dict[tuple[str, int], int] = {}
    link_index: dict[tuple[str, int], int] = {}  # (device, seq) of a held link -> result
    now = time.time()
    at = now_iso(now)
    reception = datetime.fromtimestamp(now, UTC)
    verified = [x.check for x in incoming if isinstance(x.check, Checked)]
    tx.preload([(str(v.header.get("did")), int(v.header.get("ver") or 0)) for v in verified])
    lrns = []
    for v in verified:
        doc = v.document
        if isinstance(doc.get("declarant"), dict):
            declarant, lrn = doc["declarant"].get("id"), doc.get("lrn")
            if isinstance(declarant, str) and isinstance(lrn, str):
                lrns.append((declarant[:35], lrn[:35]))
    tx.preload_lrns(lrns)
    tx.bump_counter("submissions", len(incoming))

    def result(index: int, status: str, h: str, did: str | None, ver: int | None, *,
               mrn: str | None = None, receipt: str | None = None,
               errors: list[dict[str, str]] | None = None) -> None:
        results.append({"index": index, "declaration_id": did, "version": ver,
                        "envelope_hash": h, "status": status, "mrn": mrn, "receipt": receipt,
                        "errors": errors or [], "log_index": None, "leaf": None, "path": None})

    def apply(se: StoredEnvelope, checked: Checked) -> None:
        """Decide a lodged envelope that is next in its device chain."""
        sig_time = str(checked.header.get("sigT", ""))
        state = tx.device(se.trader_id, se.device_id)
        if authz.backdated(state.last_sig_time, sig_time):
            # Lodged and rejected (the chain goes on); the bound stays where it was.
            se.status, se.errors = "rejected", [_err("SIG_TIME_BACKDATED", "/protected/sigT")]
            tx.notify(principal.trader_id, se.declaration_id, se.version, "rejected", at,
                      errors=se.errors)
            tx.advance_device(se.trader_id, se.device_id, se.seq, se.envelope_hash)
            return
        if checked.header.get("knd") == "decision":  # an officer's control decision (#8)
            lodge_decision(tx, ctx.receipt_jwk, principal, se, checked, json.loads(se.raw), at)
            if se.status == "accepted" and se.claims is not None:
                to_log.append(se)
            tx.advance_device(se.trader_id, se.device_id, se.seq, se.envelope_hash, sig_time)
            return
        document = checked.document
        errors = _business_errors(tx, se, checked)
        if document.get("function") in states.REQUESTS:  # amendment, invalidation (#14)
            tx.notify(principal.trader_id, se.declaration_id, se.version, "received", at)
            answers = ([("cancellation_denied" if document["function"] == states.INVALIDATION
                         else "rejected", {"errors": errors})] if errors else [])
            if errors:
                se.status, se.errors = "rejected", errors
            else:
                answers = decide_request(tx, se, document, at)
            for status, extra in answers:
                tx.notify(principal.trader_id, se.declaration_id, se.version, status, at,
                          **extra)
            if se.status == "accepted":
                se.claims = _claims(se)
                to_log.append(se)
            tx.advance_device(se.trader_id, se.device_id, se.seq, se.envelope_hash)
            return
        if lodged(tx, se.trader_id, se.declaration_id, se.version) is not None:
            # an original for a declaration that has its MRN: never lodged twice
            errors = [_err("ALREADY_LODGED", "/payload/function")]
        lane = lane_for(ctx.seed, se.declaration_id, ctx.lane_mode, se.version)
        if not errors and lane == "rejected":
            code, pointer = rejection_rule(ctx.seed, se.declaration_id)
            errors = [{"code": code, "pointer": pointer,
                       "detail": tr("sandbox.risk_rejected", "en", code=code)}]
        tx.notify(principal.trader_id, se.declaration_id, se.version, "received", at)
        if errors:
            se.status, se.errors, se.lane = "rejected", errors, lane
            tx.notify(principal.trader_id, se.declaration_id, se.version, "rejected", at,
                      errors=errors)
            apply_pending(tx, se, at)  # decisions that waited for it (#8)
        else:
            serial = tx.next_counter("mrn_serial")
            se.mrn = allocate_mrn(ctx.country, datetime.now(UTC).year, serial,
                                  procedure_letter(document))
            se.status, se.lane = "accepted", lane
            if se.declarant_id and se.lrn:
                tx.claim_lrn(se.declarant_id, se.lrn, se.declaration_id)
            se.claims = _claims(se)
            to_log.append(se)
            tx.notify(principal.trader_id, se.declaration_id, se.version, "accepted", at,
                      mrn=se.mrn)
            for due, status in ([] if apply_pending(tx, se, at)
                                else schedule(lane, now, ctx.clock)):
                if due <= now:
                    tx.notify(principal.trader_id, se.declaration_id, se.version, status, at,
                              mrn=se.mrn)
                else:
                    tx.schedule(due, principal.trader_id, se.declaration_id, se.version,
                                status, mrn=se.mrn)
        tx.advance_device(se.trader_id, se.device_id, se.seq, se.envelope_hash, sig_time)

    def held_check(nxt: StoredEnvelope) -> Checked | Refused:
        """A held envelope's checks, kept from when it was received (no second verify);
        a row from before they were kept is verified again."""
        if nxt.checked is not None:
            return Checked.from_json(nxt.checked)
        return check_one(json.loads(nxt.raw), ctx.ca_cert, ctx.revoked)

    def apply_and_release(se: StoredEnvelope, checked: Checked) -> None:
        """Apply, then every held successor whose turn has come."""
        apply(se, checked)
        release(se)

    def release_link(lk: StoredLink, last: StoredEnvelope | StoredLink) -> bool:
        """A held link whose turn has come: withdrawn if it names its predecessor."""
        fits = lk.prev == last.envelope_hash
        lk.status = "withdrawn" if fits else "rejected"
        tx.save_link(lk, was="held")
        if fits:
            tx.advance_device(lk.trader_id, lk.device_id, lk.seq, lk.envelope_hash)
        idx = link_index.get((lk.device_id, lk.seq))
        if idx is not None:
            results[idx].update(status=lk.status, errors=[] if fits else [
                _err("CHAIN_FORK", f"/envelopes/{idx}/prev")])
        return fits

    def release(last: StoredEnvelope | StoredLink) -> None:
        """Every held envelope or link whose turn has come after ``last`` (iteratively).
        A device with nothing waiting (the usual case) is not looked up position by
        position: its held count is read once per batch."""
        while tx.held_count(last.trader_id, last.device_id):
            lk = tx.link(last.trader_id, last.device_id, last.seq + 1)
            if lk is not None and lk.status == "held":
                if not release_link(lk, last):
                    break
                last = lk
                continue
            nxt = tx.held(last.trader_id, last.device_id, last.seq + 1)
            if nxt is None:
                break
            tx.resolve_held(nxt)
            nv = held_check(nxt)
            if not isinstance(nv, Checked) or nxt.prev != last.envelope_hash:
                nxt.status = "rejected"
                nxt.errors = [_err("CHAIN_FORK", "/protected/prev")]
                tx.notify(principal.trader_id, nxt.declaration_id, nxt.version, "rejected",
                          at, errors=nxt.errors)
            else:
                apply(nxt, nv)
            nxt.checked = None
            idx = by_key.get((nxt.declaration_id, nxt.version))
            if idx is not None:
                results[idx].update(status=nxt.status, mrn=nxt.mrn, receipt=nxt.receipt,
                                    errors=nxt.errors)
            if nxt.status == "rejected" and nxt.errors and nxt.errors[0]["code"] == "CHAIN_FORK":
                break
            last = nxt

    def take_link(index: int, link: WithdrawnLink) -> None:
        """A withdrawn link: its chain position, in order, held, or refused."""
        h, dev, seq = link.envelope_hash, link.device_id, link.seq
        pointer = f"/envelopes/{index}"
        if principal.role != "trader":
            result(index, "rejected", h, None, None,
                   errors=[_err("NOT_A_TRADER", pointer + "/withdrawn")])
            return
        if dev != principal.device_id:  # the session vouches for its own device only
            result(index, "rejected", h, None, None,
                   errors=[_err("DEVICE_NOT_BOUND", pointer + "/device_id")])
            return
        known = tx.link(principal.trader_id, dev, seq)
        if known is not None and known.status != "rejected":
            if known.envelope_hash == h and known.prev == link.prev:  # a resend
                result(index, known.status, h, None, None)
                if known.status == "held":
                    link_index[(dev, seq)] = index
            else:
                result(index, "rejected", h, None, None,
                       errors=[_err("CHAIN_FORK", pointer + "/seq")])
            return
        state = tx.device(principal.trader_id, dev)
        lk = StoredLink(principal.trader_id, dev, seq, link.prev, h, "held", at,
                        new=known is None)
        was = None if known is None else known.status
        if seq == state.last_seq + 1 and link.prev == state.last_hash:
            lk.status = "withdrawn"
            tx.save_link(lk, was=was)
            tx.advance_device(principal.trader_id, dev, seq, h)
            result(index, "withdrawn", h, None, None)
            release(lk)
        elif seq > state.last_seq + 1 + 4 * ctx.max_held or (
                seq > state.last_seq + 1
                and tx.held_count(principal.trader_id, dev) >= ctx.max_held):
            result(index, "rejected", h, None, None,
                   errors=[_err("HELD_LIMIT", pointer + "/seq")])
        elif seq > state.last_seq + 1 and _held_free(tx, principal, dev, seq, h):
            tx.save_link(lk, was=was)
            link_index[(dev, seq)] = index
            result(index, "held", h, None, None)
        else:
            result(index, "rejected", h, None, None,
                   errors=[_err("CHAIN_FORK", pointer + "/seq")])

    for x in incoming:
        index, v = x.index, x.check
        if x.link is not None and not _lodged_there(x.known, x.link):
            take_link(index, x.link)
            continue
        # a link whose envelope was lodged after all (its answer lost before it went on
        # paper): answered as the resend it is, so that the client learns of the lodging
        # and queues its withdrawal
        if x.known is not None:  # a resend of an envelope already decided
            k = x.known
            seen[(k.declaration_id, k.version)] = k
            if k.status == "accepted":
                result(index, "duplicate", k.envelope_hash, k.declaration_id, k.version,
                       mrn=k.mrn, receipt=k.receipt)
            else:
                result(index, k.status, k.envelope_hash, k.declaration_id, k.version,
                       mrn=k.mrn, receipt=k.receipt, errors=k.errors)
            continue
        if not isinstance(v, Checked):
            assert isinstance(v, Refused)
            result(index, "rejected", v.hash, None, None,
                   errors=[{"code": v.code, "pointer": f"/envelopes/{index}",
                            "detail": v.detail}])
            continue
        header, h = v.header, v.hash
        did, ver = str(header.get("did")), int(header.get("ver") or 0)
        kind = str(header.get("knd", "declaration"))
        refused = authz.refusal(v, principal, kind, reception)
        if refused is not None:
            result(index, "rejected", h, did, ver, errors=[_err(*refused)])
            continue
        if kind not in ("declaration", "decision"):
            result(index, "rejected", h, did, ver,
                   errors=[_err("KIND_NOT_SUPPORTED", "/protected/knd")])
            continue
        document = v.document
        if document.get("id", did) != did or int(document.get("version", ver)) != ver:
            result(index, "rejected", h, did, ver,
                   errors=[_err("HEADER_MISMATCH", "/payload/id")])
            continue
        jump = _supersedes(tx, principal, header)
        existing = tx.envelope(principal.trader_id, did, ver)  # ids are per trader
        if existing is not None:
            if existing.envelope_hash == h:
                seen[(did, ver)] = existing
            if existing.envelope_hash != h:
                result(index, "rejected", h, did, ver,
                       errors=[_err("IDEMPOTENCY_CONFLICT", "/protected/did")])
            elif existing.status == "accepted":
                result(index, "duplicate", h, did, ver, mrn=existing.mrn,
                       receipt=existing.receipt)
            else:
                result(index, existing.status, h, did, ver, mrn=existing.mrn,
                       receipt=existing.receipt, errors=existing.errors)
                by_key[(did, ver)] = index
            continue
        dev, seq, prev = str(header.get("dev")), int(header.get("seq") or 0), str(header.get("prev"))
        assert x.prepared is not None
        state = tx.device(principal.trader_id, dev)
        se = StoredEnvelope(
            declaration_id=did, version=ver, envelope_hash=h, trader_id=principal.trader_id,
            device_id=dev, seq=seq, prev=prev, status="held", mrn=None, receipt=None,
            errors=[], received_at=at, raw=x.prepared.raw)
        seen[(did, ver)] = se
        if (seq == state.last_seq + 1 and prev == state.last_hash) or jump:
            tx.add_envelope(se)
            tx.resolve_held(se)  # decided now: it waits for nothing (nor counts as held)
            apply_and_release(se, v)
            result(index, se.status, h, did, ver, mrn=se.mrn, receipt=se.receipt,
                   errors=se.errors)
        elif seq > state.last_seq + 1 + 4 * ctx.max_held or (
                seq > state.last_seq + 1
                and tx.held_count(principal.trader_id, dev) >= ctx.max_held):
            result(index, "rejected", h, did, ver,
                   errors=[_err("HELD_LIMIT", "/protected/seq")])
        elif seq > state.last_seq + 1 and tx.held(principal.trader_id, dev, seq) is None \
                and _free(tx.link(principal.trader_id, dev, seq)):
            se.checked = v.to_json()
            tx.add_envelope(se)
            by_key[(did, ver)] = index
            result(index, "held", h, did, ver)
        else:
            result(index, "rejected", h, did, ver,
                   errors=[_err("CHAIN_FORK", "/protected/seq")])
    log = _append_to_log(tx, ctx, to_log, at) if ctx.log is not None else None
    if log is not None:
        head_size, mth = log["size"], log.pop("_mth")
        for r in results:
            se = seen.get((r["declaration_id"], r["version"]))
            if r["status"] not in ("accepted", "duplicate") or se is None \
                    or se.log_index is None or not se.receipt:
                continue
            r["log_index"], r["leaf"], r["receipt"] = se.log_index, json.loads(se.receipt), None
            if not log["first"] <= se.log_index < log["first"] + log["count"]:
                r["path"] = tl.encode_hashes(tl.inclusion_path(se.log_index, head_size, mth))
    out: dict[str, Any] = {"results": results}
    if log is not None and any(r["log_index"] is not None for r in results):
        out["log"] = log
    return out


def _lodged_there(known: StoredEnvelope | None, link: WithdrawnLink) -> bool:
    """The envelope a link stands for was lodged, at the link's own position."""
    return known is not None and (known.device_id, known.seq, known.prev) == (
        link.device_id, link.seq, link.prev)


def _held_free(tx: BatchTx, principal: Principal, dev: str, seq: int, h: str) -> bool:
    """Nothing else waits at this position.  The withdrawn envelope itself, held there
    from before it went on paper, is dropped: it must never be lodged, nor kept."""
    held = tx.held(principal.trader_id, dev, seq)
    if held is not None and held.envelope_hash == h:
        tx.drop_held(held)
        return True
    return held is None


def _free(link: StoredLink | None) -> bool:
    """No link holds this chain position (a rejected one does not)."""
    return link is None or link.status == "rejected"


def _supersedes(tx: BatchTx, principal: Principal, header: dict[str, Any]) -> bool:
    """A migration re-seal (#12) that starts a device's new tail: ``sup`` names the first
    seq of the undelivered tail it replaces, which must be the device chain's next one
    (nothing lodged is ever skipped).  The chain then goes on from this envelope, and the
    replaced envelopes this window held are forgotten (never lodged)."""
    sup, seq, dev = header.get("sup"), header.get("seq"), str(header.get("dev"))
    if type(sup) is not int or type(seq) is not int or not header.get("orig") or sup >= seq:
        return False
    if sup != tx.device(principal.trader_id, dev).last_seq + 1:
        return False
    tx.drop_superseded(principal.trader_id, dev, sup, seq)
    return True


def _append_to_log(tx: BatchTx, ctx: IntakeContext, to_log: list[StoredEnvelope],
                   at: str) -> dict[str, Any] | None:
    """Append this batch's receipts to the Merkle log and sign one tree head; the
    proofs that tie every result to it (the ``log`` member of the answer)."""
    assert ctx.log is not None
    log = ctx.log
    size = tx.log_size()
    new: dict[tuple[int, int], bytes] = {}
    if to_log:
        leaves = []
        for j, se in enumerate(to_log):
            assert se.claims is not None
            data = tl.leaf_data(se.claims)
            se.receipt, se.log_index = data.decode("utf-8"), size + j
            leaves.append(tl.leaf_hash(data))
        new = log.append(size, leaves, tx.fetch_log_nodes)
        head_size = size + len(to_log)
        head = log.sign(head_size, log.root(head_size, tx.fetch_log_nodes, new), at)
        tx.add_log_nodes(new, head_size)
        tx.add_tree_head(head_size, head.root, head.token, at)
        tx.after_commit.append(lambda: log.committed(new))
        token = head.token
    else:
        head_size = size
        stored = tx.tree_head(size) if size else None
        if stored is None:
            return None
        token = stored[1]
    mth = log.subtree(tx.fetch_log_nodes, new)
    first, count = size, len(to_log)
    known = ctx.known_log_size
    consistency: list[str] | None = None
    if 0 < known <= head_size:
        consistency = tl.encode_hashes(tl.consistency_proof(known, head_size, mth))
    return {"tree_head": token, "size": head_size, "first": first, "count": count,
            "range": tl.encode_hashes(tl.range_proof(first, first + count, head_size, mth))
            if count else [],
            "consistency_from": known if consistency is not None else None,
            "consistency": consistency or [], "_mth": mth}
