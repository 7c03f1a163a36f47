"""SIGKILL at a named step of the CDS connector, in a child process only.

Armed by ``tests/cds/hook/sitecustomize.py`` when ``COMPTOIR_CDS_CRASH_POINT`` is set
(``COMPTOIR_CDS_CRASH_AT``: on the n-th pass, default 1).  Nothing of this exists in
product code.

- ``cds.before_send``  the attempt is committed; the request has not left
- ``cds.after_send``   CDS answered a submission; nothing of the answer is recorded
- ``cds.after_fetch``  a notification was fetched (CDS moved it to "pulled"); not recorded
"""

from __future__ import annotations

import functools
import os
import signal
from typing import Any

POINTS = ("cds.before_send", "cds.after_send", "cds.after_fetch")
_hits: dict[str, int] = {}


def hit(point: str) -> None:
    if os.environ.get("COMPTOIR_CDS_CRASH_POINT") != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] >= int(os.environ.get("COMPTOIR_CDS_CRASH_AT", "1")):
        os.kill(os.getpid(), signal.SIGKILL)


def install() -> None:
    point = os.environ.get("COMPTOIR_CDS_CRASH_POINT")
    if point not in POINTS:
        raise SystemExit(f"unknown crash point {point}")
    from sync.cds.http import CdsHttp

    request = CdsHttp.request

    @functools.wraps(request)
    def request_hooked(self: CdsHttp, method: str, path: str, **kw: Any) -> Any:
        if method == "POST":
            hit("cds.before_send")
        out = request(self, method, path, **kw)
        if method == "POST":
            hit("cds.after_send")
        elif path.startswith("/notifications/unpulled/"):
            hit("cds.after_fetch")
        return out

    CdsHttp.request = request_hooked  # type: ignore[method-assign]
