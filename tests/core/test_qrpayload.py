"""The fallback document's QR payload: RFC 9285 Base45, lossless, self-contained."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from client.common.i18n import ComptoirError
from client.interchange.qrpayload import (
    QR_ALNUM_CAPACITY,
    b45decode,
    b45encode,
    decode_envelope,
)

# RFC 9285 section 4.3 examples
VECTORS = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
           (b"ietf!", "QED8WEX0")]


@pytest.mark.parametrize("raw,text", VECTORS)
def test_rfc9285_vectors(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


def test_base45_roundtrip_random() -> None:
    rng = random.Random(3)
    for n in range(0, 300, 7):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert b45decode(b45encode(data)) == data


@pytest.mark.parametrize("bad", ["GGW", "A", "abc", "::::"])
def test_base45_refuses_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        b45decode(bad)


def test_sealed_envelope_fits_one_qr_and_verifies_offline(home: Path) -> None:
    import segno

    from client.declaration import states
    from client.declaration.samples import sample_declaration
    from client.officer.verify import verify_input
    from client.seal.profile import init_profile, open_store, secret_store
    from client.seal.sealing import Sealer, fallback_qr_payload

    profile = init_profile(home, key_alg="ES256", declarant_id="GB123456789000")
    secrets = secret_store(profile)
    with open_store(profile, secrets=secrets) as store:
        decl = sample_declaration(random.Random(4), n_items=6, declarant_id="GB123456789000")
        store.create(decl, "t", status=states.READY)
        entry = Sealer(profile, store, secrets).seal(decl.id)
    payload = fallback_qr_payload(entry.envelope)
    assert payload.startswith("CPT1:") and len(payload) <= QR_ALNUM_CAPACITY
    assert decode_envelope(payload) == entry.envelope  # lossless
    segno.make(payload, error="l", micro=False)  # one QR code holds it
    outcome = verify_input(home, payload)
    assert outcome.ok
    for cut in (3, 6, 9, 30):  # a QR code read only in part is refused, never half-read
        with pytest.raises(ComptoirError):
            decode_envelope(payload[:-cut])
    flipped = payload[:40] + ("A" if payload[40] != "A" else "B") + payload[41:]
    try:
        bad = verify_input(home, flipped)
    except ComptoirError:
        return
    assert not bad.ok
