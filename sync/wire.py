"""Request-body codings of protocol v1: gzip, and zstd with the shipped dictionary.

Measured on sample batches (#15): zstd with a dictionary trained on declarations' wire
form sends about a fifth fewer bytes than gzip level 6.  The dictionary ships in
``resources/wire/`` named by its id (the zstd frame header carries that id, so a body
says itself which dictionary it needs); a server lists the ids it accepts in
``/v1/health`` and a client uses zstd only when its own dictionary is among them, gzip
otherwise.  Inflating is always bounded: a bomb stops at the limit, never inflated in
full.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

import zstandard

# "CT" 0x0001: a private id (the zstd format reserves 0-32767 and >= 2**31 for public use).
DICTIONARY_ID = 0x43540001
DICTIONARY_SIZE = 32 << 10
ZSTD_MAX_WINDOW = 8 << 20  # memory a zstd frame may ask of the receiver
GZIP_LEVEL = 6
ZSTD_LEVEL_SLOW_LINK = 19  # ~60 ms per 130 KB batch: pays for itself below ~256 kbit/s
ZSTD_LEVEL_FAST_LINK = 9  # ~3 ms per batch, a few per cent larger
FAST_LINK_BPS = 256_000


class BodyError(ValueError):
    """A request body that cannot be inflated: ``reason`` is ``too_large``, ``corrupt``
    or ``unsupported``; ``detail`` says which coding (never the body)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def dictionary_path(dict_id: int) -> Path:
    return Path(str(resources.files("resources"))) / "wire" / f"zstd-{dict_id}.dict"


@lru_cache(maxsize=8)
def dictionary(dict_id: int) -> zstandard.ZstdCompressionDict | None:
    """The shipped dictionary with this id, None when this build has none."""
    path = dictionary_path(dict_id)
    if not path.is_file():
        return None
    loaded = zstandard.ZstdCompressionDict(path.read_bytes())
    return loaded if loaded.dict_id() == dict_id else None


def shipped_dictionaries() -> list[int]:
    return [DICTIONARY_ID] if dictionary(DICTIONARY_ID) is not None else []


def encode_body(raw: bytes, accepted: list[str], dictionaries: list[int],
                link_bps: float | None = None) -> tuple[bytes, str]:
    """(body, Content-Encoding): zstd with the shared dictionary when the server takes
    both, else gzip.  Harder zstd on a slow (or not yet measured) link."""
    zdict = dictionary(DICTIONARY_ID) if DICTIONARY_ID in dictionaries else None
    if "zstd" in accepted and zdict is not None:
        fast = link_bps is not None and link_bps > FAST_LINK_BPS
        level = ZSTD_LEVEL_FAST_LINK if fast else ZSTD_LEVEL_SLOW_LINK
        return _compressor(level).compress(raw), "zstd"
    return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0), "gzip"


_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    """This thread's compressor at ``level``: a ZstdCompressor holds one compression
    context, and two threads using it at once (each sync engine compresses on its own)
    corrupt it — an error at best, a segmentation fault at worst."""
    made: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("compressors", {})
    got = made.get(level)
    if got is None:
        got = made[level] = zstandard.ZstdCompressor(
            level=level, dict_data=dictionary(DICTIONARY_ID), write_content_size=True,
            write_checksum=False)
    return got


# Answers and feed pages to a client on a thin link (it asks with ``Accept-Encoding:
# zstd``): measured on a feed page of 180 statuses, gzip-5 2,620 bytes, zstd-15 1,897
# (3.6 ms), zstd-19 1,865 (15 ms); a batch answer of 50, gzip-5 1,196, zstd-15 928.
# No dictionary: the shipped one is trained on declarations, not on answers.
ZSTD_RESPONSE_LEVEL = 15
ZSTD_RESPONSE_MIN_BYTES = 512


def accepts_zstd(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value admits zstd (``zstd;q=0`` refuses it)."""
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() != "zstd":
            continue
        q = params.strip()
        return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def encode_response(raw: bytes) -> bytes:
    """A response body in zstd for a client on a thin link (no dictionary)."""
    made: dict[str, zstandard.ZstdCompressor] = _local.__dict__.setdefault("responders", {})
    got = made.get("zstd")
    if got is None:
        got = made["zstd"] = zstandard.ZstdCompressor(
            level=ZSTD_RESPONSE_LEVEL, write_content_size=True, write_checksum=False)
    return got.compress(raw)


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """The decoded body, at most ``limit`` bytes; :class:`BodyError` otherwise."""
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise BodyError("corrupt", "gzip") from exc
        if len(out) > limit or inflater.unconsumed_tail:
            raise BodyError("too_large", "gzip")
        return out
    if encoding == "zstd":
        return _inflate_zstd(body, limit)
    raise BodyError("unsupported", encoding[:40])


def _inflate_zstd(body: bytes, limit: int) -> bytes:
    try:
        params = zstandard.get_frame_parameters(body)
    except zstandard.ZstdError as exc:
        raise BodyError("corrupt", "zstd") from exc
    if params.content_size != zstandard.CONTENTSIZE_UNKNOWN and params.content_size > limit:
        raise BodyError("too_large", "zstd")  # said so in its own header
    zdict = None
    if params.dict_id:
        zdict = dictionary(params.dict_id)
        if zdict is None:
            raise BodyError("unsupported", f"zstd dictionary {params.dict_id}")
    dctx = zstandard.ZstdDecompressor(dict_data=zdict, max_window_size=ZSTD_MAX_WINDOW)
    size = 0
    try:
        with dctx.stream_reader(body, read_across_frames=False) as reader:
            while True:
                chunk = reader.read(min(1 << 20, limit + 1 - size))
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise BodyError("too_large", "zstd")
        # Bounded above, so this second pass is too: it says whether the frame was whole
        # (the stream reader ends quietly at a truncated one).
        whole = dctx.decompressobj(write_size=1 << 20)
        out = whole.decompress(body)
    except zstandard.ZstdError as exc:
        raise BodyError("corrupt", "zstd") from exc
    if not whole.eof or len(out) != size:
        raise BodyError("corrupt", "zstd")
    return out


def server_offer() -> tuple[list[str], list[int]]:
    """What this build's server accepts: (codings preferred first, dictionary ids)."""
    ids = shipped_dictionaries()
    return (["zstd", "gzip"], ids)
