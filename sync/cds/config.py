"""A profile's CDS connection: environment, client, identifiers, as published by HMRC.

Stored in ``profile.json`` under ``server["cds"]`` (public facts only); tokens and the
client secret live in the keyring (:mod:`sync.cds.oauth`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.connectors.base import ConnectorError

ENVIRONMENTS = {"sandbox": "https://test-api.service.hmrc.gov.uk",
                "production": "https://api.service.hmrc.gov.uk"}
ACCEPT = "application/vnd.hmrc.1.0+xml"
CONTENT_TYPE = "application/xml; charset=UTF-8"
SCOPE = "write:customs-declaration"
# From the OpenAPI document's header descriptions: "Must be 6 to 12 characters, consisting
# of any combination of numeric digits and/or upper-case letters" (X-Badge-Identifier);
# "a maximum length of 17 characters, consisting of any combination of numeric digits
# and/or letters" (X-Submitter-Identifier).
BADGE = re.compile(r"[0-9A-Z]{6,12}")
SUBMITTER = re.compile(r"[0-9A-Za-z]{1,17}")
# Declaration function (model) -> (endpoint name, path).
ENDPOINTS = {"original": ("submit", "/customs/declarations/"),
             "amendment": ("amend", "/customs/declarations/amend"),
             "cancellation": ("cancel", "/customs/declarations/cancellation-requests")}
WINDOW_S = 47 * 3600  # CDS12003 protects 48 h; one hour kept back for the clocks


class CdsConfigError(ConnectorError):
    """The profile's CDS settings are missing or wrong."""


def resolve_environment(value: str) -> tuple[str, str]:
    """``sandbox`` / ``production`` / an https URL -> (environment name, base URL)."""
    if value in ENVIRONMENTS:
        return value, ENVIRONMENTS[value]
    if not value.startswith("https://"):
        raise CdsConfigError("cds.bad_environment", 2, value=value)
    return "custom", value.rstrip("/")


def check_identifiers(badge: str | None, submitter: str | None) -> None:
    """The OpenAPI document's rules for X-Badge-Identifier / X-Submitter-Identifier."""
    if badge is None and submitter is None:
        raise CdsConfigError("cds.identifier_missing", 2)
    if badge is not None and not BADGE.fullmatch(badge):
        raise CdsConfigError("cds.bad_badge", 2, value=badge)
    if submitter is not None and not SUBMITTER.fullmatch(submitter):
        raise CdsConfigError("cds.bad_submitter", 2, value=submitter)


@dataclass(frozen=True)
class CdsConfig:
    environment: str
    url: str
    client_id: str
    ca_pem_path: Path | None = None
    badge: str | None = None
    submitter: str | None = None
    schema_dir: str | None = None
    rate: float | None = 3.0
    window_s: float = WINDOW_S
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    confidential: bool = False

    @classmethod
    def from_profile(cls, profile: Any) -> CdsConfig:
        raw = dict((getattr(profile, "server", None) or {}).get("cds") or {})
        if not raw.get("url") or not raw.get("client_id"):
            raise CdsConfigError("cds.not_connected", 2, home=str(profile.home))
        ca = raw.get("ca_pem_path")
        ca_path = None
        if ca:
            ca_path = Path(ca)
            if not ca_path.is_absolute():
                ca_path = profile.home / ca_path
        submitter = raw.get("submitter")
        if submitter is None and raw.get("badge") is None:
            submitter = getattr(profile, "declarant_id", None)
        rate = raw.get("rate", 3.0)
        cfg = cls(environment=str(raw.get("environment") or "custom"), url=str(raw["url"]),
                  client_id=str(raw["client_id"]), ca_pem_path=ca_path,
                  badge=raw.get("badge"), submitter=submitter,
                  schema_dir=raw.get("schema_dir"),
                  rate=float(rate) if rate else None,
                  window_s=float(raw.get("window_s", WINDOW_S)),
                  connect_timeout=float(raw.get("connect_timeout", 5.0)),
                  read_timeout=float(raw.get("read_timeout", 30.0)),
                  confidential=bool(raw.get("confidential", False)))
        check_identifiers(cfg.badge, cfg.submitter)
        return cfg

    def identity_headers(self) -> dict[str, str]:
        """X-Badge-Identifier and/or X-Submitter-Identifier, checked before every send."""
        check_identifiers(self.badge, self.submitter)
        h = {}
        if self.badge is not None:
            h["X-Badge-Identifier"] = self.badge
        if self.submitter is not None:
            h["X-Submitter-Identifier"] = self.submitter
        return h


def window_of(profile: Any) -> float:
    """CDS12003's window as the connector applies it for ``profile`` (connected or not)."""
    raw = (getattr(profile, "server", None) or {}).get("cds") or {}
    return float(raw.get("window_s", WINDOW_S))
