"""The connector interface the outbox engine delivers through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from client.common.i18n import ComptoirError

CONNECTORS = ("comptoir", "cds")


class ConnectorError(ComptoirError):
    """A problem retrying will not fix (not enrolled, not signed in, bad configuration)."""


@dataclass(frozen=True)
class ConnectorInfo:
    """What the window and ``comptoir connect`` show about a profile's connector."""

    name: str
    environment: str | None = None
    url: str | None = None
    credentials: str = "none"  # none | enrolled | signed_in | sign_in_again | expired
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"connector": self.name, "environment": self.environment, "url": self.url,
                "credentials": self.credentials, **self.details}


class Connector(Protocol):
    """One single window's way of taking envelopes and giving status back."""

    name: str

    def deliver(self, report: Any) -> None:
        """Send what the outbox holds; fill ``report`` (a :class:`sync.engine.SyncReport`)."""

    def pull(self, report: Any) -> None:
        """Bring status (and reference data where the single window has it) back."""

    def probe(self) -> None:
        """A cheap request; raises :class:`sync.transport.TransportError` when unreachable."""

    def info(self) -> ConnectorInfo:
        """Connector, environment and credentials, for the window and the CLI."""

    def close(self) -> None:
        """Release connections."""
