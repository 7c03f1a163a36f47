"""Connecting a profile to CDS: check the settings, sign in, then switch the profile's
connector — the one action behind ``comptoir connect cds`` and the desktop's settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError
from sync.cds.config import CdsConfig, check_identifiers, resolve_environment
from sync.cds.oauth import CLIENT_SECRET, sign_in


def connect_cds(profile: Any, secrets: Any, *, environment: str, client_id: str,
                ca: Path | None = None, badge: str | None = None, submitter: str | None = None,
                schemas: Path | None = None, rate: float | None = 3.0,
                confidential: bool = False, client_secret: str | None = None,
                open_browser: bool = True, show_url: Callable[[str], None] = print,
                timeout: float = 300.0) -> dict[str, Any]:
    """Sign in (RFC 8252) and make CDS the profile's connector; returns the kept token.

    Nothing about the profile changes unless the sign-in succeeds."""
    env_name, url = resolve_environment(environment)
    if not client_id:
        raise ComptoirError("cds.client_id_missing", 2)
    submitter = submitter or (None if badge else profile.declarant_id)
    check_identifiers(badge, submitter)
    ca_path = Path(ca).expanduser().resolve() if ca else None
    if ca_path is not None and not ca_path.is_file():
        raise ComptoirError("cds.ca_missing", 2, path=str(ca_path))
    schema_dir = str(Path(schemas).expanduser().resolve()) if schemas else None
    if schema_dir is not None:
        from sync.cds.wco import find_schema_dir

        find_schema_dir(schema_dir)
    if rate is not None and rate < 0:
        raise ComptoirError("error.usage", 2, detail="--rate must be 0 (off) or more")
    rate = rate or None
    if confidential:
        client_secret = client_secret or secrets.get(CLIENT_SECRET)
        if client_secret is None:
            raise ComptoirError("cds.client_secret_missing", 2)
        secrets.set(CLIENT_SECRET, client_secret)
    cfg = CdsConfig(environment=env_name, url=url, client_id=client_id, ca_pem_path=ca_path,
                    badge=badge, submitter=submitter, schema_dir=schema_dir, rate=rate,
                    confidential=confidential)
    token = sign_in(cfg, secrets, client_secret=client_secret if confidential else None,
                    open_browser=open_browser, show_url=show_url, timeout=timeout)
    profile.server = dict(profile.server or {}, connector="cds", cds={
        "environment": env_name, "url": url, "client_id": client_id,
        "ca_pem_path": str(ca_path) if ca_path else None, "badge": badge,
        "submitter": submitter, "schema_dir": schema_dir, "rate": rate,
        "confidential": confidential})
    profile.save()
    return token
