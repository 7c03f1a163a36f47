"""``python -m tests.sync.older_build ARGS``: ``comptoir ARGS`` as a build before #12 ran it,
signing ES256 with whichever S the signer drew (here always the high one, n - s).

Tests only: the product signs low-S (client.seal.jws.raw_sign); this stands in for the
copy of Comptoir that queued envelopes before the upgrade."""

from __future__ import annotations

import sys

from client.seal import jws


def _high_s(key: jws.PrivateKey, alg: str, signing_input: bytes) -> bytes:
    sig = _low_s(key, alg, signing_input)
    if alg != jws.ES256:
        return sig
    s = int.from_bytes(sig[32:], "big")
    return sig[:32] + (jws.P256_ORDER - s).to_bytes(32, "big")


_low_s = jws.raw_sign
jws.raw_sign = _high_s  # type: ignore[assignment]

if __name__ == "__main__":
    from client.cli.main import main

    sys.exit(main(sys.argv[1:]))
