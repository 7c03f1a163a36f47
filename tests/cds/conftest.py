"""Fixtures for the CDS connector tests: the emulator over HTTPS on loopback.

``emulator`` runs :mod:`sync.cds_emulator` in a thread of the test process (its own
home, its own CA, schema validation with the published WCO schemas); tests that need a
separate process (SIGKILL, restarts) use :class:`tests.cds.helpers.EmulatorProcess`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import conformance_dir

ACCEPT = "application/vnd.hmrc.1.0+xml"
REDIRECT = "http://127.0.0.1:5555/callback"


def schema_dir() -> Path:
    d = conformance_dir()
    if d is None:
        pytest.skip("conformance material absent: set COMPTOIR_CONFORMANCE_DIR or provide "
                    "../shared/conformance (the CDS emulator validates with the WCO schemas)")
    return d / "hmrc-dms" / "schemas" / "declaration"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Any]:
    """A fresh emulator: auto consent, no rate limit, no notification delays."""
    from sync.cds_emulator.server import start_in_thread

    handle = start_in_thread(tmp_path / "cds", schema_dir=schema_dir(), auto_consent=True,
                             rate_limit=0.0, delay_scale=0.0)
    yield handle
    handle.stop()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def user_token(emu: Any, client_id: str = "comptoir-test") -> dict[str, Any]:
    """Authorization code + PKCE against the emulator (auto consent), as a client would."""
    verifier, challenge = pkce()
    r = requests.get(f"{emu.url}/oauth/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "scope": "write:customs-declaration", "state": "st", "code_challenge": challenge,
        "code_challenge_method": "S256"}, verify=str(emu.ca_pem_path), allow_redirects=False,
        timeout=10)
    assert r.status_code == 302, r.text
    code = parse_qs(urlsplit(r.headers["Location"]).query)["code"][0]
    t = requests.post(f"{emu.url}/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "client_id": client_id, "code_verifier": verifier}, verify=str(emu.ca_pem_path),
        timeout=10)
    assert t.status_code == 200, t.text
    return t.json()


def api_headers(token: str, **extra: str) -> dict[str, str]:
    h = {"Accept": ACCEPT, "Content-Type": "application/xml; charset=UTF-8",
         "Authorization": f"Bearer {token}", "X-Submitter-Identifier": "GB123456789000"}
    h.update(extra)
    return h
