"""The profile's settings, each declared once: its name, type, default and what it is for.

In the manner of Vorta's ``store/settings.py``: one table lists every setting, and the
code reads and writes them through these declarations, never through a name typed again
at the call site.  A misspelt name is then an error at once rather than a preference that
silently never sticks, and the default lives in one place instead of at every reader.
The store refuses a key that is not declared here and a value not of the declared type.

A *family* declares settings that share a prefix and differ by subject: one editor scratch
copy per declaration, one invoice column mapping per supplier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from client.store.types import StoreError

T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One setting: its stored name, its type (an annotation), its default, a short doc."""

    name: str
    kind: Any
    default: T
    doc: str
    family: str | None = None  # the prefix of the family it belongs to, if any
    _adapter: Any = field(default=None, init=False, repr=False, compare=False, hash=False)

    def check(self, value: Any) -> T:
        """``value`` if it has the declared type (no coercion but int -> float), else a
        StoreError naming the setting.  pydantic is imported on the first check, not with
        the declarations (the desktop's first screen reads one name from here, #15)."""
        from pydantic import TypeAdapter, ValidationError

        if self._adapter is None:
            object.__setattr__(self, "_adapter", TypeAdapter(self.kind))
        try:
            return self._adapter.validate_python(value, strict=True)
        except ValidationError:
            raise StoreError("settings.bad_value", 2, key=self.name, expected=self.type_name(),
                             value=repr(value)[:80]) from None

    def type_name(self) -> str:
        if isinstance(self.kind, type):
            return self.kind.__name__
        return str(self.kind).replace("typing.", "")


@dataclass(frozen=True)
class SettingFamily(Generic[T]):
    """Settings named ``prefix + subject``, all of one type and default."""

    prefix: str
    kind: Any
    default: T
    doc: str

    def __call__(self, subject: str) -> Setting[T]:
        """The family's setting for ``subject`` (a declaration id, a supplier)."""
        return Setting(self.prefix + subject, self.kind, self.default, self.doc, self.prefix)


# ---- sync -------------------------------------------------------------------------------

FEED_CURSOR: Setting[int] = Setting(
    "sync.feed_cursor", int, 0,
    "The single window's status feed is applied up to this cursor (moved with the page).")
LAST_SUCCESS: Setting[str | None] = Setting(
    "sync.last_success", str | None, None,
    "When a sync round last reached the single window without error (UTC, ISO 8601).")
REFDATA_VERSION: Setting[int] = Setting(
    "sync.refdata_version", int, 0,
    "The version of the reference data lists last fetched from the single window.")
DRAIN_RATE: Setting[float] = Setting(
    "sync.drain_rate", float, 2000.0,
    "Declarations per second the outbox last drained at (estimates catching up).")

SIGNATURES_CHECKED: Setting[int] = Setting(
    "sync.signatures_checked_through", int, 0,
    "Undelivered envelopes up to this seq were found low-S (#12): later syncs check after it.")

# ---- desktop ----------------------------------------------------------------------------

LANGUAGE: Setting[str | None] = Setting(
    "ui.language", Literal["en", "fr"] | None, None,
    "The desktop's language; none: the system's.")
WORK_OFFLINE: Setting[bool] = Setting(
    "ui.work_offline", bool, False,
    "The user's 'work offline' switch: nothing leaves the machine while it is on.")
SCRATCH: SettingFamily[dict[str, Any] | None] = SettingFamily(
    "ui.scratch.", dict[str, Any] | None, None,
    "An editor's unsaved input that is not yet a declaration, per declaration id.")

TEMPLATES: Setting[dict[str, dict[str, Any]]] = Setting(
    "declaration.templates", dict[str, dict[str, Any]], {},
    "Named declaration templates: parties, transport and usual goods to start from.")

# ---- continuity (outages) ---------------------------------------------------------------

OFFLINE_SINCE: Setting[str | None] = Setting(
    "continuity.offline_since", str | None, None,
    "When the single window was last found unreachable, while it still is (UTC).")
LAST_RECOVERY: Setting[dict[str, Any] | None] = Setting(
    "continuity.last_recovery", dict[str, Any] | None, None,
    "The last outage recovered from: its length, the declarations carried, time to drain.")
MAO_HOURS: Setting[int] = Setting(
    "continuity.mao_hours", int, 72,
    "Maximum allowable outage, in hours, before fallback documents are advised.")

# ---- UK CDS connector --------------------------------------------------------------------

CDS_FETCHING: Setting[bool] = Setting(
    "cds.fetching", bool, False,
    "Set while CDS notifications are fetched but not yet recorded (pull again on restart).")

# ---- interchange ------------------------------------------------------------------------

INVOICE_MAPPING: SettingFamily[dict[str, Any] | None] = SettingFamily(
    "invoice_mapping:", dict[str, Any] | None, None,
    "The invoice column mapping remembered per supplier (its normalised name).")

SETTINGS: dict[str, Setting[Any]] = {s.name: s for s in (
    FEED_CURSOR, LAST_SUCCESS, REFDATA_VERSION, DRAIN_RATE, LANGUAGE, WORK_OFFLINE,
    OFFLINE_SINCE, LAST_RECOVERY, MAO_HOURS, CDS_FETCHING, TEMPLATES, SIGNATURES_CHECKED)}
FAMILIES: dict[str, SettingFamily[Any]] = {f.prefix: f for f in (SCRATCH, INVOICE_MAPPING)}


def declared(key: Any) -> Setting[Any]:
    """``key`` itself when it is a setting declared here; anything else is refused."""
    if isinstance(key, Setting):
        if key.family is None and SETTINGS.get(key.name) == key:
            return key
        family = FAMILIES.get(key.family or "")
        if family is not None and key.name.startswith(family.prefix) \
                and family(key.name[len(family.prefix):]) == key:
            return key
    raise StoreError("settings.unknown_key", 2, key=getattr(key, "name", None) or str(key)[:80])
