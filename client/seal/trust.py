"""Offline trust material: what a field officer knows of the single window without a link.

Pulled at each sync (``sync/trust.py``) and kept under ``home/trust/``: ``trust.json``
(when it was fetched, revoked certificates, enrolled devices with their role and the
last known position of their journal chain, the hashes of their recent envelopes) and
the CA certificates in ``ca.pem``.  Verification (``client.officer.verify``) reads only these
files, so it never needs the network; its age is always shown, because a revocation or
a lodging that happened after the last sync cannot be known.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.common.files import atomic_write
from client.common.i18n import ComptoirError, Message

TRUST_DIR = "trust"
TRUST_FILE = "trust.json"
CA_FILE = "ca.pem"
STALE_AFTER_DAYS = 1  # older trust data is said so in the outcome


@dataclass(frozen=True)
class DeviceInfo:
    """An enrolled device as the single window knew it at ``fetched_at``."""

    device_id: str
    trader_id: str
    role: str
    serials: tuple[str, ...]
    last_seq: int
    last_hash: str
    recent_hashes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkVerdict:
    """Where an envelope sits against the device chain known to the single window."""

    code: str  # trust.link.* message code
    params: dict[str, Any]
    refused: bool = False
    lodged: str = "unknown"  # already_lodged | not_yet_lodged | unknown

    @property
    def message(self) -> Message:
        return Message(self.code, self.params)


@dataclass
class TrustMaterial:
    fetched_at: str
    generated_at: str
    ca_pems: list[str]
    revoked: dict[str, str]  # hex serial (lower case) -> revoked_at
    devices: dict[str, DeviceInfo]
    home: Path | None = None

    # ---- age --------------------------------------------------------------------------
    @property
    def fetched(self) -> dt.datetime:
        return parse_time(self.fetched_at)

    def age(self, now: dt.datetime | None = None) -> dt.timedelta:
        now = now or dt.datetime.now(dt.UTC)
        return max(dt.timedelta(0), now - self.fetched)

    def age_days(self, now: dt.datetime | None = None) -> int:
        return self.age(now).days

    def stale(self, now: dt.datetime | None = None) -> bool:
        return self.age_days(now) >= STALE_AFTER_DAYS

    # ---- certificates -------------------------------------------------------------------
    def ca_certificates(self) -> list[Any]:
        from cryptography import x509

        certs: list[Any] = []
        for pem in self.ca_pems:
            try:
                certs.extend(x509.load_pem_x509_certificates(pem.encode("ascii")))
            except ValueError:
                continue
        return certs

    def revoked_at(self, serial: int) -> str | None:
        return self.revoked.get(format(serial, "x"))

    # ---- chain position -------------------------------------------------------------------
    def check_link(self, device_id: str, seq: int, prev: str, env_hash: str) -> LinkVerdict:
        """The envelope against the device's last known chain position.

        A hash the single window already holds: already lodged.  A position at or
        before the last known one with a hash it does not hold: the device chain jumps
        back (a second, different envelope for a position already taken), refused.  The
        very next position must link to the last known hash.  Further ahead: not yet
        lodged, which is what an outage produces.
        """
        dev = self.devices.get(device_id)
        date = self.fetched_at
        if dev is None:
            return LinkVerdict("trust.link.device_unknown", {"device": device_id, "date": date})
        if env_hash in dev.recent_hashes or env_hash == dev.last_hash:
            return LinkVerdict("trust.link.already_lodged",
                               {"seq": seq, "device": device_id, "date": date},
                               lodged="already_lodged")
        if seq <= dev.last_seq:
            window_start = min(dev.recent_hashes.values(), default=dev.last_seq)
            if seq < window_start:
                return LinkVerdict("trust.link.too_old",
                                   {"seq": seq, "oldest": window_start, "date": date})
            return LinkVerdict("trust.link.jumps_back",
                               {"seq": seq, "last": dev.last_seq, "device": device_id,
                                "date": date}, refused=True)
        if seq == dev.last_seq + 1 and prev != dev.last_hash:
            return LinkVerdict("trust.link.fork", {"seq": seq, "device": device_id,
                                                   "date": date}, refused=True)
        return LinkVerdict("trust.link.not_yet_lodged",
                           {"seq": seq, "last": dev.last_seq, "date": date},
                           lodged="not_yet_lodged")

    def find_hash(self, env_hash: str) -> tuple[DeviceInfo, int] | None:
        """The device and position of an envelope the single window already holds."""
        for dev in self.devices.values():
            if env_hash in dev.recent_hashes:
                return dev, dev.recent_hashes[env_hash]
            if env_hash == dev.last_hash:
                return dev, dev.last_seq
        return None

    # ---- serialisation ----------------------------------------------------------------------
    def summary(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """What ``comptoir trust show --json`` prints."""
        return {"fetched_at": self.fetched_at, "generated_at": self.generated_at,
                "age_days": self.age_days(now), "stale": self.stale(now),
                "age_seconds": int(self.age(now).total_seconds()),
                "ca_certificates": [_subject(c) for c in self.ca_certificates()],
                "revoked": [{"serial": s, "revoked_at": t} for s, t in sorted(self.revoked.items())],
                "devices": {"total": len(self.devices),
                            "officers": sum(d.role == "officer" for d in self.devices.values()),
                            "traders": sum(d.role == "trader" for d in self.devices.values())}}


def _subject(cert: Any) -> str:
    return str(cert.subject.rfc4514_string())


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 UTC (with or without fraction, ``Z`` or an offset)."""
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise ComptoirError("trust.unreadable", 2, path=TRUST_FILE, reason=str(text)[:40]) from exc
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def trust_dir(home: Path) -> Path:
    return home / TRUST_DIR


def from_wire(data: dict[str, Any], fetched_at: str, home: Path | None = None) -> TrustMaterial:
    """Build from the ``GET /v1/trust`` document (already schema-checked) plus fetch time."""
    devices = {}
    for d in data.get("devices") or []:
        devices[str(d["device_id"])] = DeviceInfo(
            device_id=str(d["device_id"]), trader_id=str(d["trader_id"]), role=str(d["role"]),
            serials=tuple(str(s).lower() for s in d.get("serials") or ()),
            last_seq=int(d.get("last_seq") or 0), last_hash=str(d.get("last_hash") or ""),
            recent_hashes={str(k): int(v) for k, v in (d.get("recent_hashes") or {}).items()})
    revoked = {str(r["serial"]).lower(): str(r["revoked_at"]) for r in data.get("revoked") or []}
    return TrustMaterial(fetched_at=fetched_at, generated_at=str(data.get("generated_at", "")),
                         ca_pems=[str(p) for p in data.get("ca_pems") or []], revoked=revoked,
                         devices=devices, home=home)


def load_trust(home: Path) -> TrustMaterial | None:
    """The trust material of the last sync, or None where there is none yet."""
    path = trust_dir(home) / TRUST_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ComptoirError("trust.unreadable", 2, path=str(path), reason=str(exc)[:200]) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("material"), dict):
        raise ComptoirError("trust.unreadable", 2, path=str(path), reason="format")
    try:
        return from_wire(raw["material"], str(raw["fetched_at"]), home)
    except (KeyError, TypeError, ValueError) as exc:
        raise ComptoirError("trust.unreadable", 2, path=str(path), reason=str(exc)[:200]) from exc


def save_trust(home: Path, material: dict[str, Any], fetched_at: str) -> TrustMaterial:
    """Keep a freshly pulled snapshot: ``trust.json`` and the CA file, each replaced
    atomically (a crash leaves the previous snapshot whole)."""
    tm = from_wire(material, fetched_at, home)  # refuse what cannot be read back
    folder = trust_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    if tm.ca_pems:
        _atomic(folder / CA_FILE, "".join(p if p.endswith("\n") else p + "\n"
                                          for p in tm.ca_pems))
    _atomic(folder / TRUST_FILE, json.dumps({"fetched_at": fetched_at, "material": material},
                                            ensure_ascii=False))
    return tm


def _atomic(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))


def age_message(tm: TrustMaterial, now: dt.datetime | None = None) -> Message:
    """"trust data of DATE (N days old)" in words."""
    return Message("trust.age", {"date": tm.fetched_at, "days": tm.age_days(now)})
