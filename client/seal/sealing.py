"""Sealing a declaration: validate, canonicalise, sign, journal and queue — one commit.

Shared by the CLI and the desktop app.  The private key is loaded once per
:class:`Sealer` and the signing runs inside the store's seal transaction, so the
sequence number and chain link in the signed header are exactly the committed ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from client.common.b64 import b64u_decode_lenient
from client.common.i18n import ComptoirError
from client.declaration.model import Declaration
from client.seal.envelope import GENESIS, envelope_hash
from client.seal.profile import Profile
from client.store import ChainLink, JournalEntry, Store
from client.store.types import LrnLookup


class SealRefused(ComptoirError):
    """Validation found errors: nothing was signed or queued."""

    exit_code = 1

    def __init__(self, findings: list[Any], decl_id: str) -> None:
        super().__init__("seal.refused", 1, id=decl_id,
                         count=sum(1 for f in findings if f.severity == "error"))
        self.findings = findings


def validation_findings(decl: Declaration | dict[str, Any], store: Store | None,
                        exclude_id: str | None = None, home: Path | None = None,
                        lookup: LrnLookup | None = None) -> list[Any]:
    """Validate offline against the reference data held (the built-in seed plus the
    deltas the last sync brought into ``home/refdata``), LRN uniqueness from the store
    (through ``lookup`` when given: the seal's, on the cursor it read the snapshot with)."""
    from client.declaration.refdata import default_reference_data, profile_reference_data
    from client.declaration.validation import validate

    refdata = profile_reference_data(home / "refdata") if home else default_reference_data()
    ask = lookup if lookup is not None else store.lrn_taken if store is not None else None
    lrn_taken = None
    if ask is not None:
        def lrn_taken(declarant_id: str | None, lrn: str, exclude: str | None = None) -> bool:
            return ask(declarant_id, lrn, exclude or exclude_id)
    return validate(decl, refdata=refdata, lrn_taken=lrn_taken)


class Sealer:
    """Seals declarations of one profile with its active key."""

    def __init__(self, profile: Profile, store: Store, secrets: Any) -> None:
        from client.seal.keys import load_private_jwk, require_active_key, x5c

        self.profile = profile
        self.store = store
        info = require_active_key(profile.home)
        self._jwk = load_private_jwk(secrets, info)
        self._x5c = x5c(info)
        # (seq, sigT) of the last envelope this sealer signed: the journal is append-only,
        # so the next seal's floor needs no read of the previous envelope (#15).
        self._last_sig: tuple[int, dt.datetime] | None = None
        self._pending_sig: tuple[int, dt.datetime] | None = None
        self._actor = profile.actor()  # the OS user: looked up once, not per seal

    def _sig_time(self, seq: int) -> dt.datetime:
        last = self._last_sig
        if last is not None and last[0] == seq - 1:
            t = max(dt.datetime.now(dt.UTC), last[1])
        else:
            t = chain_sig_time(self.store, seq)
        # sigT is signed at a one-second resolution: the floor is what the header says.
        self._pending_sig = (seq, t.replace(microsecond=0))
        return t

    def seal(self, decl_id: str) -> JournalEntry:
        from client.declaration.validation import has_errors
        from client.seal.canonical import canonicalize
        from client.seal.envelope import seal_envelope

        store = self.store
        device = self.profile.device_id

        # ``decl``: the declaration as the store read it (read_declaration), model or plain
        def check(decl: Any, lookup: LrnLookup) -> None:
            findings = validation_findings(decl, None, exclude_id=decl.id,
                                           home=self.profile.home, lookup=lookup)
            if has_errors(findings):
                raise SealRefused(findings, decl.id)

        def sign(decl: Any, document: dict[str, Any], seq: int,
                 prev: str | None) -> ChainLink:
            link = prev or GENESIS
            return _link(seal_envelope(canonicalize(document), self._jwk, self._x5c,
                                       kind="declaration", declaration_id=decl.id,
                                       version=decl.version, device_id=device, seq=seq,
                                       prev=link, sig_time=self._sig_time(seq)),
                         link)

        entry = store.seal(decl_id, self._actor, sign, check)
        self._last_sig = self._pending_sig
        return entry

    def seal_document(self, kind: str, subject_id: str, version: int,
                      document: dict[str, Any]) -> JournalEntry:
        """Seal another kind of document (an officer's control decision) on the same chain."""
        from client.seal.canonical import canonicalize
        from client.seal.envelope import seal_envelope

        def make(seq: int, prev: str | None) -> ChainLink:
            link = prev or GENESIS
            return _link(seal_envelope(canonicalize(document), self._jwk, self._x5c, kind=kind,
                                       declaration_id=subject_id, version=version,
                                       device_id=self.profile.device_id, seq=seq,
                                       prev=link, sig_time=self._sig_time(seq)),
                         link)

        entry = self.store.append_journal(kind, subject_id, version, make)
        self._last_sig = self._pending_sig
        return entry


def chain_sig_time(store: Store, seq: int) -> dt.datetime:
    """Now, but never earlier than the previous envelope's ``sigT``.

    The single window refuses a device chain that goes back in time (SIG_TIME_BACKDATED,
    #12); a clock stepped back by NTP or by hand must not turn into rejections.
    """
    from client.seal.envelope import parse_sig_time
    from client.seal.jws import decode_protected

    now = dt.datetime.now(dt.UTC)
    protected = store.journal_protected(seq - 1) if seq > 1 else None
    if protected is None:
        return now
    try:
        last = parse_sig_time(decode_protected(protected).get("sigT"))
    except Exception:  # noqa: BLE001 - an unreadable previous header: the clock decides
        return now
    return max(now, last)


def _link(env: dict[str, Any], prev: str) -> ChainLink:
    """The journal's record of a fresh envelope: itself, its hash, the link it signed."""
    return ChainLink(env, envelope_hash(env), prev)


def signature_fingerprint(envelope: dict[str, Any]) -> str:
    """A short, human-comparable fingerprint of the signature (SHA-256, grouped hex)."""
    sig = b64u_decode_lenient(envelope["signature"])
    h = hashlib.sha256(sig).hexdigest()[:32].upper()
    return " ".join(h[i:i + 4] for i in range(0, len(h), 4))


def fallback_qr_payload(envelope: dict[str, Any]) -> str:
    """What the fallback document's QR code carries: the whole sealed envelope, packed
    (:mod:`client.interchange.qrpayload`), which an officer's ``comptoir verify`` reads offline.

    A declaration too large even so falls back to a reference
    (``comptoir-ref:<declaration id>:<envelope hash>``) that still lets the officer
    match the paper to the electronic lodging later.
    """
    from client.interchange.qrpayload import encode_envelope, fits_qr
    from client.seal.envelope import envelope_hash

    packed = encode_envelope(envelope)
    if fits_qr(packed):
        return packed
    header = json.loads(b64u_decode_lenient(envelope["protected"]))
    return f"comptoir-ref:{header.get('did')}:{envelope_hash(envelope)}"
