"""Re-seal at enrolment: what was sealed before the device was enrolled still goes through.

Before enrolment the device signs under its own self-signed certificate (the outage case:
Comptoir must work with no link from the first minute).  The single window trusts only
certificates its CA issued, and a certificate vouches only for signatures made inside its
validity, so those envelopes cannot simply be sent later.  At enrolment each undelivered one
is signed again under the new certificate, appended to the same journal chain, and carries
in its protected header the hash and signing time of the pre-enrolment envelope it replaces
(``orig``/``origT``).  The originals stay in the journal; their outbox rows close as
``superseded``.  See ARCHITECTURE.md, "Sealed before enrolment".

The same re-seal migrates what an older build left queued (#12): an ES256 signature with a
high S, which the single window now refuses (one content, two envelope hashes).  Turning S
into n - S is not enough: the envelope's hash changes, and the next one's ``prev`` names
the old hash.  So the undelivered tail from the first high-S envelope is re-sealed onto the
end of the journal, each new envelope naming its original (``orig``), and the first one
carries ``sup`` (the first sequence number of the tail it replaces) so that the single
window, whose chain stops just before that tail, skips it: none of it was lodged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client.common.b64 import b64u_decode_lenient
from client.seal.envelope import GENESIS, envelope_hash, seal_envelope
from client.seal.jws import ES256, P256_ORDER
from client.store import Store
from client.store.types import ChainLink, JournalEntry


def reseal_pending(store: Store, private_jwk: dict[str, Any], x5c: list[str],
                   actor: str) -> list[JournalEntry]:
    """Sign every undelivered envelope not made under ``x5c`` again, under ``x5c``."""

    def resign(old: JournalEntry, seq: int, prev: str | None) -> ChainLink | None:
        if _x5c(old.envelope) == x5c:
            return None
        return _resealed(old, seq, prev, private_jwk, x5c)

    return store.supersede_pending(resign, actor)


def first_high_s(store: Store, after: int = 0) -> tuple[int | None, int]:
    """(the seq of the first undelivered ES256 envelope after ``after`` signed with a high
    S, or None; the last seq looked at): a caller may start after the latter next time."""
    last = after
    for seq, protected, signature in store.pending_signatures(after):
        if is_high_s(protected, signature):
            return seq, last
        last = seq
    return None, last


def is_high_s(protected: str, signature: str) -> bool:
    """An ES256 signature whose S is in the upper half (what builds before #12 made)."""
    import json

    try:
        sig = b64u_decode_lenient(signature)
        if len(sig) != 64 or int.from_bytes(sig[32:], "big") <= P256_ORDER // 2:
            return False  # the usual case, decided without reading the header
        return bool(json.loads(b64u_decode_lenient(protected)).get("alg") == ES256)
    except (ValueError, AttributeError):
        return False  # not this check's business: the single window refuses it as invalid


def migrate_high_s(store: Store, signing_key: Callable[[], tuple[dict[str, Any], list[str]]],
                   actor: str, *, start: int | None = None) -> list[JournalEntry]:
    """Re-seal the undelivered tail from the first high-S envelope, low-S, in one store
    transaction (a crash leaves the old tail or the new one).  ``signing_key`` returns the
    active key's private JWK and ``x5c``; it is called only when there is a tail to
    migrate.  ``start``: the first high-S seq when the caller has scanned already.
    Returns the new envelopes (none when nothing was signed high-S)."""
    if start is None:  # the caller's scan found it already, or this one looks
        start, _ = first_high_s(store)
    if start is None:
        return []
    private_jwk, chain = signing_key()
    marked: list[int] = []

    def resign(old: JournalEntry, seq: int, prev: str | None) -> ChainLink:
        sup = None if marked else start  # the first new envelope says where the skip starts
        marked.append(seq)
        return _resealed(old, seq, prev, private_jwk, chain, superseded_from=sup)

    return store.supersede_pending(resign, actor, from_seq=start)


def _resealed(old: JournalEntry, seq: int, prev: str | None, private_jwk: dict[str, Any],
              chain: list[str], *, superseded_from: int | None = None) -> ChainLink:
    """``old``'s payload signed again at ``seq`` after ``prev``, naming ``old`` (orig)."""
    header = _protected(old.envelope)
    link = prev or GENESIS
    env = seal_envelope(b64u_decode_lenient(old.envelope["payload"]), private_jwk, chain,
                        kind=old.kind, declaration_id=old.declaration_id,
                        version=old.version, device_id=str(header["dev"]), seq=seq,
                        prev=link, original=(old.envelope_hash, str(header.get("sigT"))),
                        superseded_from=superseded_from)
    return ChainLink(env, envelope_hash(env), link)


def _protected(env: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(b64u_decode_lenient(env["protected"]))


def _x5c(env: dict[str, Any]) -> list[str]:
    return list(_protected(env).get("x5c") or [])
