"""Re-seal at enrolment: what was sealed before the device was enrolled still goes through.

Before enrolment the device signs under its own self-signed certificate (the outage case:
Comptoir must work with no link from the first minute).  The single window trusts only
certificates its CA issued, and a certificate vouches only for signatures made inside its
validity, so those envelopes cannot simply be sent later.  At enrolment each undelivered one
is signed again under the new certificate, appended to the same journal chain, and carries
in its protected header the hash and signing time of the pre-enrolment envelope it replaces
(``orig``/``origT``).  The originals stay in the journal; their outbox rows close as
``superseded``.  See ARCHITECTURE.md, "Sealed before enrolment".
"""

from __future__ import annotations

from typing import Any

from client.common.b64 import b64u_decode_lenient
from client.seal.envelope import GENESIS, envelope_hash, seal_envelope
from client.store import Store
from client.store.types import ChainLink, JournalEntry


def reseal_pending(store: Store, private_jwk: dict[str, Any], x5c: list[str],
                   actor: str) -> list[JournalEntry]:
    """Sign every undelivered envelope not made under ``x5c`` again, under ``x5c``."""

    def resign(old: JournalEntry, seq: int, prev: str | None) -> ChainLink | None:
        if _x5c(old.envelope) == x5c:
            return None
        header = _protected(old.envelope)
        link = prev or GENESIS
        env = seal_envelope(b64u_decode_lenient(old.envelope["payload"]), private_jwk, x5c,
                            kind=old.kind, declaration_id=old.declaration_id,
                            version=old.version, device_id=str(header["dev"]), seq=seq,
                            prev=link, original=(old.envelope_hash, str(header.get("sigT"))))
        return ChainLink(env, envelope_hash(env), link)

    return store.supersede_pending(resign, actor)


def _protected(env: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(b64u_decode_lenient(env["protected"]))


def _x5c(env: dict[str, Any]) -> list[str]:
    return list(_protected(env).get("x5c") or [])
