"""Reading untrusted files with a hard size bound.

Every importer (JSON, DMS XML, CSV/XLSX) refuses an oversized file from its size
alone, before reading it, and never reads more than the bound even when the file
grows meanwhile or is a special file.  The message codes are the caller's, so each
importer keeps speaking its own words.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError
from client.common.jsonguard import MAX_JSON_DEPTH, too_deep

MAX_INPUT_BYTES = 10 << 20  # a JSON declaration file; XML has its own bound


def check_size(path: Path, max_bytes: int, *, unreadable: str, too_large: str) -> int:
    """The file's size, or a clear error when it cannot be read or is too large."""
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ComptoirError(unreadable, 2, path=str(path),
                            reason=exc.strerror or str(exc)) from exc
    if size > max_bytes:
        raise ComptoirError(too_large, 2, path=str(path), size=size, limit=max_bytes)
    return size


def read_bounded(path: Path, max_bytes: int, *, unreadable: str, too_large: str) -> bytes:
    """The bytes of ``path``: refused from its size alone (no read) when too large."""
    check_size(path, max_bytes, unreadable=unreadable, too_large=too_large)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ComptoirError(unreadable, 2, path=str(path),
                            reason=exc.strerror or str(exc)) from exc
    if len(data) > max_bytes:  # grew while we looked (or a special file)
        raise ComptoirError(too_large, 2, path=str(path), size=len(data), limit=max_bytes)
    return data


def read_json_file(path: Path) -> Any:
    """Read untrusted JSON: bounded in size and depth, one clear error otherwise."""
    raw = read_bounded(path, MAX_INPUT_BYTES, unreadable="error.file_unreadable",
                       too_large="error.input_too_large")
    try:
        text = raw.decode("utf-8-sig")
        value = json.loads(text)
    except UnicodeDecodeError as exc:
        raise ComptoirError("error.json_malformed", 2, path=str(path), line=1,
                            column=exc.start + 1, reason="not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise ComptoirError("error.json_malformed", 2, path=str(path), line=exc.lineno,
                            column=exc.colno, reason=exc.msg) from exc
    except RecursionError as exc:
        raise ComptoirError("error.json_too_deep", 2, path=str(path), limit=MAX_JSON_DEPTH) from exc
    if too_deep(value):
        raise ComptoirError("error.json_too_deep", 2, path=str(path), limit=MAX_JSON_DEPTH)
    return value


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new, never half.

    A private temporary file beside the target, written and fsynced, renamed over the
    target, then the folder fsynced so the rename itself survives a power cut.  ``mode``
    (e.g. 0o600 for secrets) is set before the rename; without it the usual umask applies.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (a no-op where folders can't sync)."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
