"""Train the zstd dictionary shipped in resources/wire/ (issue #15, the thin link).

The samples are batch items in their wire form (``protected_json`` with the chain
reference and ``prev`` elided as in a batch, ``payload_json``, a signature) built from
client/declaration/samples.py, as ``json.dumps`` writes them into a batch body, so the
dictionary holds the field names, code lists and escaping the link really carries.  Deterministic for one seed and id:
``python scripts/train_wire_dictionary.py`` rewrites the file only when it changed.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid

import zstandard

from client.common.b64 import b64u_encode
from client.declaration.samples import sample_declaration
from client.seal.canonical import canonicalize
from sync.wire import DICTIONARY_ID, DICTIONARY_SIZE, dictionary_path


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def training_samples(count: int, seed: int) -> list[bytes]:
    """Wire items of sample declarations (their random parts from ``seed``)."""
    rng = random.Random(seed)

    def hexbytes(n: int) -> bytes:
        return rng.getrandbits(8 * n).to_bytes(n, "big")

    def uuid7(ms: int) -> str:  # the shape of the ids the client makes (time first)
        return str(uuid.UUID(int=(ms << 80) | (7 << 76) | (rng.getrandbits(12) << 64)
                             | (2 << 62) | rng.getrandbits(62)))

    out = []
    start_ms = 1_796_000_000_000
    for k in range(count):
        decl = sample_declaration(rng, n_items=rng.randint(1, 3),
                                  declarant_id=f"GB{rng.randrange(10**12):012d}")
        decl.id = uuid7(start_ms + 1000 * k)
        decl.lrn = "XX" + uuid.UUID(int=rng.getrandbits(128)).hex[:18].upper()
        header = {"alg": "ES256", "kid": b64u_encode(hexbytes(32)), "x5c": 0,
                  "sigT": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                          f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
                  "typ": "comptoir-envelope+jws", "knd": "declaration", "did": decl.id,
                  "ver": decl.version, "dev": uuid7(start_ms),
                  "seq": k + 1, "prev": "-" if k % 50 else hexbytes(32).hex(),
                  "crit": ["sigT", "knd", "did", "ver", "dev", "seq", "prev"]}
        item = {"protected_json": _dumps(header),
                "payload_json": canonicalize(decl.to_json_dict()).decode("utf-8"),
                "signature": b64u_encode(hexbytes(64))}
        out.append(_dumps(item).encode("utf-8"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1501)
    args = ap.parse_args(argv)
    trained = zstandard.train_dictionary(DICTIONARY_SIZE, training_samples(args.count, args.seed),
                                         dict_id=DICTIONARY_ID, level=19, threads=1)
    path = dictionary_path(DICTIONARY_ID)
    data = trained.as_bytes()
    if path.exists() and path.read_bytes() == data:
        print(f"{path}: unchanged")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"{path}: {len(data)} bytes, dictionary id {DICTIONARY_ID}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
